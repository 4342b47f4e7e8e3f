//! The in-process registry (the all-in-one default).
//!
//! The same rules as the Redis one, under one lock.

use crate::{
    Capacity, Claimant, QuotaScope, Refusal, Registry, Reservation, Result, WorkerInfo, check,
};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug)]
struct Worker {
    info: WorkerInfo,
    expires: u64,
    draining: bool,
    /// Reservation id → the moment it lapses, and whether it was confirmed (a call started).
    held: HashMap<String, (u64, bool)>,
}

#[derive(Debug)]
struct Held {
    worker: String,
    claimant: Claimant,
}

#[derive(Debug, Default)]
struct State {
    /// Ordered, so ties go the same way every time.
    workers: BTreeMap<String, Worker>,
    reservations: HashMap<String, Held>,
    drained_hosts: HashSet<String>,
    campaign_quota: HashMap<String, u32>,
    client_quota: HashMap<String, u32>,
}

impl State {
    fn prune(&mut self, now: u64) {
        let dead: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| w.expires <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in dead {
            if let Some(worker) = self.workers.remove(&id) {
                for rid in worker.held.keys() {
                    self.reservations.remove(rid);
                }
            }
        }
        let mut lapsed = Vec::new();
        for worker in self.workers.values_mut() {
            worker.held.retain(|rid, (deadline, _)| {
                let keep = *deadline > now;
                if !keep {
                    lapsed.push(rid.clone());
                }
                keep
            });
        }
        for rid in lapsed {
            self.reservations.remove(&rid);
        }
    }

    fn free(&self, worker: &Worker) -> Option<u32> {
        if worker.draining || self.drained_hosts.contains(&worker.info.host) {
            return None;
        }
        // The worker's own count of its calls covers the confirmed reservations once it has
        // heard of them; reservations not yet confirmed come on top.
        let confirmed = worker.held.values().filter(|(_, c)| *c).count() as u32;
        let unconfirmed = worker.held.len() as u32 - confirmed;
        let used = confirmed.max(worker.info.busy) + unconfirmed;
        Some(worker.info.slots.saturating_sub(used))
    }

    fn held_by(&self, pick: impl Fn(&Claimant) -> bool) -> u32 {
        self.reservations
            .values()
            .filter(|h| pick(&h.claimant))
            .count() as u32
    }
}

/// The registry in this process's memory.
#[derive(Debug, Default)]
pub struct InProcess {
    state: Mutex<State>,
}

impl InProcess {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Registry for InProcess {
    async fn heartbeat(&self, worker: &WorkerInfo, ttl_ms: u64, now_ms: u64) -> Result<()> {
        check(worker)?;
        let mut state = self.state.lock();
        state.prune(now_ms);
        let expires = now_ms.saturating_add(ttl_ms);
        match state.workers.get_mut(&worker.worker_id) {
            Some(known) => {
                known.info = worker.clone();
                known.expires = expires;
            }
            None => {
                state.workers.insert(
                    worker.worker_id.clone(),
                    Worker {
                        info: worker.clone(),
                        expires,
                        draining: false,
                        held: HashMap::new(),
                    },
                );
            }
        }
        Ok(())
    }

    async fn deregister(&self, worker_id: &str) -> Result<()> {
        let mut state = self.state.lock();
        if let Some(worker) = state.workers.remove(worker_id) {
            for rid in worker.held.keys() {
                state.reservations.remove(rid);
            }
        }
        Ok(())
    }

    async fn reserve(
        &self,
        id: &str,
        claimant: &Claimant,
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<std::result::Result<Reservation, Refusal>> {
        let mut state = self.state.lock();
        state.prune(now_ms);
        if state.reservations.contains_key(id) {
            return Err(crate::RegistryError::Invalid {
                field: "id",
                message: format!("reservation {id} exists already"),
            });
        }
        if let Some(campaign) = &claimant.campaign
            && let Some(quota) = state.campaign_quota.get(campaign)
            && state.held_by(|c| c.campaign.as_ref() == Some(campaign)) >= *quota
        {
            return Ok(Err(Refusal::CampaignQuota));
        }
        if let Some(client) = &claimant.client
            && let Some(quota) = state.client_quota.get(client)
            && state.held_by(|c| c.client.as_ref() == Some(client)) >= *quota
        {
            return Ok(Err(Refusal::ClientQuota));
        }
        // The most free slots; between equals the greatest id (as Redis's reverse range orders them).
        let best = state
            .workers
            .iter()
            .filter_map(|(wid, w)| state.free(w).filter(|f| *f > 0).map(|f| (f, wid.clone())))
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let Some((_, wid)) = best else {
            return Ok(Err(Refusal::NoCapacity));
        };
        let worker = state.workers.get_mut(&wid).expect("chosen from the map");
        worker
            .held
            .insert(id.to_owned(), (now_ms.saturating_add(ttl_ms), false));
        let url = worker.info.url.clone();
        state.reservations.insert(
            id.to_owned(),
            Held {
                worker: wid.clone(),
                claimant: claimant.clone(),
            },
        );
        Ok(Ok(Reservation {
            id: id.to_owned(),
            worker_id: wid,
            url,
        }))
    }

    async fn confirm(&self, id: &str, until_ms: u64, now_ms: u64) -> Result<bool> {
        let mut state = self.state.lock();
        state.prune(now_ms);
        let Some(worker) = state.reservations.get(id).map(|h| h.worker.clone()) else {
            return Ok(false);
        };
        if let Some(w) = state.workers.get_mut(&worker) {
            w.held.insert(id.to_owned(), (until_ms, true));
        }
        Ok(true)
    }

    async fn release(&self, id: &str) -> Result<bool> {
        let mut state = self.state.lock();
        let Some(held) = state.reservations.remove(id) else {
            return Ok(false);
        };
        if let Some(w) = state.workers.get_mut(&held.worker) {
            w.held.remove(id);
        }
        Ok(true)
    }

    async fn drain_worker(&self, worker_id: &str, draining: bool) -> Result<()> {
        if let Some(w) = self.state.lock().workers.get_mut(worker_id) {
            w.draining = draining;
        }
        Ok(())
    }

    async fn drain_host(&self, host: &str, draining: bool) -> Result<()> {
        let mut state = self.state.lock();
        if draining {
            state.drained_hosts.insert(host.to_owned());
        } else {
            state.drained_hosts.remove(host);
        }
        Ok(())
    }

    async fn set_quota(&self, scope: &QuotaScope, slots: Option<u32>) -> Result<()> {
        let mut state = self.state.lock();
        let (map, key) = match scope {
            QuotaScope::Campaign(id) => (&mut state.campaign_quota, id),
            QuotaScope::Client(id) => (&mut state.client_quota, id),
        };
        match slots {
            Some(n) => map.insert(key.clone(), n),
            None => map.remove(key),
        };
        Ok(())
    }

    async fn capacity(&self, now_ms: u64) -> Result<Capacity> {
        let mut state = self.state.lock();
        state.prune(now_ms);
        let mut capacity = Capacity::default();
        for worker in state.workers.values() {
            capacity.workers += 1;
            capacity.slots += worker.info.slots;
            match state.free(worker) {
                Some(free) => capacity.free += free,
                None => capacity.draining += 1,
            }
        }
        Ok(capacity)
    }
}
