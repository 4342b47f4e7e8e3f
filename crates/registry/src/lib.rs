//! The capacity registry (seed phase 4).
//!
//! Fleet workers register their call slots with a TTL and heartbeat them; diallers and inbound
//! routing reserve a slot atomically, a reservation frees itself unless confirmed, draining workers
//! and hosts get nothing new, and quotas cap what a campaign or a client holds.
//!
//! One interface ([`Registry`]), two implementations: [`InProcess`] (the all-in-one default) and
//! [`RedisRegistry`] (many hosts; every operation is one Lua script run by the server, never a
//! read-modify-write from the client). Time is passed in (`now_ms`), so tests need no sleeps and
//! both implementations decide by the same clock.

#![forbid(unsafe_code)]

mod in_process;
mod redis_registry;
#[cfg(feature = "test-util")]
pub mod testing;

pub use in_process::InProcess;
pub use redis_registry::RedisRegistry;

use async_trait::async_trait;

/// What a worker says about itself on registration and on every heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    pub worker_id: String,
    /// Where attaches go (`http://host:port` or the host's nginx with the worker's route).
    pub url: String,
    /// The host the worker runs on, for draining a whole host.
    pub host: String,
    /// Call slots the worker has.
    pub slots: u32,
    /// Calls the worker is running now (after a registry restart, these stay taken).
    pub busy: u32,
}

/// A reserved slot: the worker to attach to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: String,
    pub worker_id: String,
    pub url: String,
}

/// Who asks for a slot, for quotas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claimant {
    pub campaign: Option<String>,
    pub client: Option<String>,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No live, undrained worker has a free slot.
    NoCapacity,
    /// The campaign holds its quota.
    CampaignQuota,
    /// The client holds its quota.
    ClientQuota,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoCapacity => "no live, undrained worker has a free slot",
            Self::CampaignQuota => "the campaign holds its quota of slots",
            Self::ClientQuota => "the client holds its quota of slots",
        })
    }
}

/// Where the platform keeps the registry's keys in Redis (`REDIS_URL`): the same for every service.
pub const DEFAULT_PREFIX: &str = "vox:reg:";

/// What a quota applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaScope {
    Campaign(String),
    Client(String),
}

/// The registry's totals, for health pages and the dialler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capacity {
    /// Live workers (registered, TTL not lapsed).
    pub workers: u32,
    pub slots: u32,
    /// Free slots on live workers that are not draining.
    pub free: u32,
    pub draining: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the registry is unreachable: {0}")]
    Unavailable(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

pub type Result<T> = std::result::Result<T, RegistryError>;

/// The capacity registry. Every method is atomic; `now_ms` is the caller's clock (milliseconds
/// since the epoch).
#[async_trait]
pub trait Registry: Send + Sync + std::fmt::Debug {
    /// Registers or refreshes a worker until `now_ms + ttl_ms`; a worker that stops heartbeating
    /// disappears then, with whatever it held.
    async fn heartbeat(&self, worker: &WorkerInfo, ttl_ms: u64, now_ms: u64) -> Result<()>;
    /// Removes a worker at once (a clean stop).
    async fn deregister(&self, worker_id: &str) -> Result<()>;
    /// Reserves one slot until `now_ms + ttl_ms` on the live, undrained worker with the most free
    /// slots, within the claimant's quotas. Two callers never get the same slot.
    async fn reserve(
        &self,
        id: &str,
        claimant: &Claimant,
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<std::result::Result<Reservation, Refusal>>;
    /// Keeps a reservation (the call started) until `until_ms`; false when it had already lapsed.
    async fn confirm(&self, id: &str, until_ms: u64, now_ms: u64) -> Result<bool>;
    /// Frees a reservation or a confirmed call; false when there was nothing to free.
    async fn release(&self, id: &str) -> Result<bool>;
    /// Drains (or undrains) one worker: it keeps its calls and gets no new reservation.
    async fn drain_worker(&self, worker_id: &str, draining: bool) -> Result<()>;
    /// Drains (or undrains) every worker of a host, those registering later included.
    async fn drain_host(&self, host: &str, draining: bool) -> Result<()>;
    /// Sets (`Some`) or lifts (`None`) a quota on slots held at once.
    async fn set_quota(&self, scope: &QuotaScope, slots: Option<u32>) -> Result<()>;
    /// The totals at `now_ms`.
    async fn capacity(&self, now_ms: u64) -> Result<Capacity>;
}

fn check(worker: &WorkerInfo) -> Result<()> {
    let bad = |field, message: &str| {
        Err(RegistryError::Invalid {
            field,
            message: message.to_owned(),
        })
    };
    if worker.worker_id.is_empty() || worker.worker_id.contains(['\t', '\n']) {
        return bad("worker_id", "must be non-empty, without tabs or newlines");
    }
    if worker.url.is_empty() {
        return bad("url", "must be the worker's attach URL");
    }
    if worker.busy > worker.slots {
        return bad("busy", "cannot exceed slots");
    }
    Ok(())
}
