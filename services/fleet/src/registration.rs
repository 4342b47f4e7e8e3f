//! The worker in the capacity registry.
//!
//! It heartbeats its slots and its calls (reserved or running) while it serves, says when it
//! drains, and leaves when it stops.

use crate::Shared;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where and how a worker registers (`REDIS_URL`).
#[derive(Clone)]
pub struct RegistryLink {
    pub registry: Arc<dyn registry::Registry>,
    /// The host the worker runs on, for draining a host.
    pub host: String,
    /// How often it heartbeats; its registration lapses after three missed beats.
    pub every: Duration,
}

impl std::fmt::Debug for RegistryLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLink")
            .field("host", &self.host)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn info(shared: &Shared, host: &str) -> registry::WorkerInfo {
    let counts = shared.slots.counts();
    registry::WorkerInfo {
        worker_id: shared.config.worker_id.clone(),
        url: shared.public_base(),
        host: host.to_owned(),
        slots: counts.max,
        // A worker refusing calls (no outbox, no Backend) offers no slot.
        busy: if shared.refusing_calls() {
            counts.max
        } else {
            (counts.busy + counts.reserved).min(counts.max)
        },
    }
}

/// Heartbeats until aborted; a failed beat is logged and the next one tries again.
pub(crate) async fn heartbeat(shared: Arc<Shared>, link: RegistryLink) {
    let ttl = link.every.as_millis() as u64 * 3;
    let mut tick = tokio::time::interval(link.every);
    let mut draining = false;
    loop {
        tick.tick().await;
        let worker = info(&shared, &link.host);
        if let Err(error) = link.registry.heartbeat(&worker, ttl, now_ms()).await {
            tracing::warn!(%error, "the capacity registry did not take the heartbeat");
            continue;
        }
        let now_draining = shared.slots.counts().draining;
        if now_draining != draining {
            match link
                .registry
                .drain_worker(&shared.config.worker_id, now_draining)
                .await
            {
                Ok(()) => draining = now_draining,
                Err(error) => tracing::warn!(%error, "could not tell the registry about the drain"),
            }
        }
    }
}

/// Leaves the registry (a clean stop).
pub(crate) async fn leave(shared: &Shared, link: &RegistryLink) {
    if let Err(error) = link.registry.deregister(&shared.config.worker_id).await {
        tracing::warn!(%error, "could not leave the capacity registry; the registration lapses by itself");
    }
}
