//! The worker's call slots.
//!
//! Attach reservations with one-time tokens that expire, calls in progress, and drain.
//!
//! A slot is either free, reserved (an attach said a call is coming; its media must connect with
//! the token before the reservation expires) or busy (a call runs). Reserved plus busy never
//! exceeds `max`; a draining worker reserves nothing.

use contracts::CallId;
use contracts::attach::AttachRequest;
use contracts::runtime_config::RuntimeConfig;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// An answered call waiting for its media, with the runtime config fetched before the attach
/// was answered.
#[derive(Debug)]
pub struct Reservation {
    pub request: AttachRequest,
    pub expires: Instant,
    pub config: Box<RuntimeConfig>,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("every call slot of this worker is taken")]
    Full,
    #[error("the worker is draining and takes no new calls")]
    Draining,
    #[error("call {0} is already reserved or running on this worker")]
    Duplicate(CallId),
}

#[derive(Debug, Default)]
struct Inner {
    reservations: HashMap<String, Reservation>,
    busy: HashMap<CallId, Instant>,
    /// Reservations whose media never connected, until the worker reports them.
    expired: Vec<AttachRequest>,
    draining: bool,
}

impl Inner {
    fn prune(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .reservations
            .iter()
            .filter(|(_, r)| r.expires <= now)
            .map(|(token, _)| token.clone())
            .collect();
        for token in expired {
            if let Some(r) = self.reservations.remove(&token) {
                self.expired.push(r.request);
            }
        }
    }
}

/// A snapshot for health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub reserved: u32,
    pub busy: u32,
    pub max: u32,
    pub draining: bool,
}

impl Counts {
    /// Slots a new attach could take now.
    pub fn available(&self) -> u32 {
        if self.draining {
            0
        } else {
            self.max.saturating_sub(self.reserved + self.busy)
        }
    }
}

/// The slots of one worker. Cloning shares them.
#[derive(Debug, Clone)]
pub struct Slots {
    inner: Arc<Mutex<Inner>>,
    max: u32,
    ttl: Duration,
}

impl Slots {
    pub fn new(max: u32, ttl: Duration) -> Self {
        Self {
            inner: Arc::default(),
            max: max.max(1),
            ttl,
        }
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    fn admits(&self, inner: &Inner) -> Result<(), Refusal> {
        if inner.draining {
            Err(Refusal::Draining)
        } else if (inner.reservations.len() + inner.busy.len()) as u32 >= self.max {
            Err(Refusal::Full)
        } else {
            Ok(())
        }
    }

    /// Whether a new call would be taken now (a hint: `reserve` decides).
    pub fn admission(&self) -> Result<(), Refusal> {
        let mut inner = self.lock();
        inner.prune(Instant::now());
        self.admits(&inner)
    }

    /// Reserves a slot for `request`; returns the one-time token and when it expires.
    pub fn reserve(
        &self,
        request: AttachRequest,
        config: RuntimeConfig,
    ) -> Result<(String, Instant), Refusal> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.prune(now);
        if inner.draining {
            return Err(Refusal::Draining);
        }
        let call_id = request.call_id;
        if inner.busy.contains_key(&call_id)
            || inner
                .reservations
                .values()
                .any(|r| r.request.call_id == call_id)
        {
            return Err(Refusal::Duplicate(call_id));
        }
        self.admits(&inner)?;
        let token = hex::encode(rand::random::<[u8; 24]>());
        let expires = now + self.ttl;
        inner.reservations.insert(
            token.clone(),
            Reservation {
                request,
                expires,
                config: Box::new(config),
            },
        );
        Ok((token, expires))
    }

    /// Whether this worker holds `call_id`, reserved or live (nothing changes).
    pub fn holds(&self, call_id: CallId) -> bool {
        let mut inner = self.lock();
        inner.prune(Instant::now());
        inner.busy.contains_key(&call_id)
            || inner
                .reservations
                .values()
                .any(|r| r.request.call_id == call_id)
    }

    /// Whether `token` names a live reservation (nothing changes).
    pub fn peek(&self, token: &str) -> Option<AttachRequest> {
        let mut inner = self.lock();
        inner.prune(Instant::now());
        inner.reservations.get(token).map(|r| r.request.clone())
    }

    /// Turns a live reservation into a busy slot; `None` for an unknown or expired token.
    pub fn claim(&self, token: &str) -> Option<Reservation> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.prune(now);
        let reservation = inner.reservations.remove(token)?;
        inner.busy.insert(reservation.request.call_id, now);
        Some(reservation)
    }

    /// Reservations that expired unused since the last call (each reported once).
    pub fn take_expired(&self) -> Vec<AttachRequest> {
        let mut inner = self.lock();
        inner.prune(Instant::now());
        std::mem::take(&mut inner.expired)
    }

    /// Frees the slot of a finished call.
    pub fn release(&self, call_id: CallId) {
        self.lock().busy.remove(&call_id);
    }

    /// Stops taking calls; reservations already made still connect.
    pub fn drain(&self) {
        self.lock().draining = true;
    }

    pub fn counts(&self) -> Counts {
        let mut inner = self.lock();
        inner.prune(Instant::now());
        Counts {
            reserved: inner.reservations.len() as u32,
            busy: inner.busy.len() as u32,
            max: self.max,
            draining: inner.draining,
        }
    }

    /// Waits until no call runs and no reservation is pending, or `deadline` passes.
    pub async fn idle(&self, deadline: Instant) -> bool {
        loop {
            let counts = self.counts();
            if counts.busy == 0 && counts.reserved == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use contracts::attach::MediaProtocol;
    use contracts::runtime_config::CallDirection;

    fn request(id: i64) -> AttachRequest {
        AttachRequest {
            call_id: CallId(id),
            direction: CallDirection::Outbound,
            campaign_id: None,
            carrier: "sim".into(),
            carrier_call_id: format!("sim-{id}"),
            media_protocol: MediaProtocol::Vox,
            from: None,
            to: None,
            answered_at: Utc::now(),
            amd: None,
            client: None,
        }
    }

    fn config(id: i64) -> RuntimeConfig {
        use contracts::runtime_config::{BotRef, BotSpec, CallInfo, ProviderSettings};
        let named = ProviderSettings::named;
        RuntimeConfig {
            call_id: CallId(id),
            bot: BotRef {
                bot_id: contracts::BotId(1),
                version: 1,
                name: "bot".into(),
            },
            spec: BotSpec::new(
                "en-US",
                "",
                named("whisper"),
                named("openai"),
                named("espeak"),
            ),
            call: CallInfo {
                direction: CallDirection::Outbound,
                campaign_id: None,
                from: None,
                to: None,
                attempt: 1,
                created_at: Utc::now(),
            },
            contact: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_worker_refuses_until_a_call_ends() {
        let slots = Slots::new(2, Duration::from_secs(10));
        let (a, _) = slots.reserve(request(1), config(1)).unwrap();
        slots.reserve(request(2), config(2)).unwrap();
        assert_eq!(slots.reserve(request(3), config(3)), Err(Refusal::Full));
        assert!(slots.claim(&a).is_some());
        assert_eq!(slots.counts().available(), 0);
        slots.release(CallId(1));
        assert_eq!(slots.counts().available(), 1);
        slots.reserve(request(3), config(3)).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_unused_reservation_expires_and_frees_its_slot() {
        let slots = Slots::new(1, Duration::from_secs(10));
        let (token, _) = slots.reserve(request(1), config(1)).unwrap();
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(slots.counts().reserved, 0);
        assert!(slots.claim(&token).is_none(), "an expired token is refused");
        slots.reserve(request(2), config(2)).unwrap();
        let expired = slots.take_expired();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].call_id, CallId(1));
        assert!(slots.take_expired().is_empty(), "reported once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_works_once() {
        let slots = Slots::new(1, Duration::from_secs(10));
        let (token, _) = slots.reserve(request(1), config(1)).unwrap();
        assert!(slots.claim(&token).is_some());
        assert!(slots.claim(&token).is_none());
        assert!(slots.claim("not-a-token").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_draining_worker_reserves_nothing_and_a_call_is_reserved_once() {
        let slots = Slots::new(3, Duration::from_secs(10));
        slots.reserve(request(1), config(1)).unwrap();
        assert_eq!(
            slots.reserve(request(1), config(1)),
            Err(Refusal::Duplicate(CallId(1)))
        );
        slots.drain();
        assert_eq!(slots.reserve(request(2), config(2)), Err(Refusal::Draining));
        assert_eq!(slots.counts().available(), 0);
    }
}
