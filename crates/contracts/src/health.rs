//! Health payloads: a fleet worker's `GET /health`, the host's `GET /health/fleet`, and the dialler's `GET /health`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One worker's own health (`GET /health` on its socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WorkerHealth {
    pub status: HealthStatus,
    pub worker_id: String,
    /// Build version of the running binary.
    pub version: String,
    /// Live calls on this worker now.
    pub worker_calls: u32,
    /// `MAX_CONCURRENT_CALLS`.
    pub worker_max: u32,
    /// Free slots this worker offers: 0 while draining.
    pub fleet_available: u32,
    pub draining: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Draining,
    /// The dialler's tick has not run within `HEALTH_STALE_SECONDS`.
    Stale,
    /// A dialler that is not the leader and waits as a hot standby.
    Standby,
    Down,
}

/// `GET /health/fleet`: every worker on the host, including the ones that are down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetHealth {
    pub workers: Vec<FleetWorker>,
    pub workers_up: u32,
    pub workers_down: u32,
    pub worker_calls: u32,
    pub worker_max: u32,
    /// Free call slots across the whole host.
    pub fleet_available: u32,
}

/// One worker as the aggregate saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetWorker {
    /// Socket path or URL the worker was asked on.
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<WorkerHealth>,
    /// Why the worker could not be asked, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The dialler's `GET /health` on `HEALTH_PORT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiallerHealth {
    pub status: HealthStatus,
    pub version: String,
    /// True when this instance holds the leader lease and dials.
    pub leader: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing_token: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tick_at: Option<DateTime<Utc>>,
    pub stale_after_seconds: u32,
    pub campaigns_running: u32,
    pub active_dials: u32,
}
