//! Health payloads: a worker's `GET /health`, the host's `/health/fleet`, the dialler's `/health`.

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

/// A campaign's last pacing decision, kept in the store by the leading dialler every tick and
/// shown by the Backend's live view of the campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PacingDecision {
    /// The rule that decided: `progressive`, `warming_up`, `legal_guard`, `hour_guard`,
    /// `fixed_ratio` or `predictive`.
    pub applied: String,
    /// Calls this decision placed.
    pub dials: u32,
    /// The campaign's fair share of the fleet's call slots.
    pub slots: f64,
    /// Its calls dialling, ringing, waiting or talking before this decision.
    pub in_flight: u32,
    /// Calls on their way or talking per slot after this decision (the dial level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dial_level: Option<f64>,
    /// The campaign's abandon-rate target and the rate the pacer aimed at this time.
    pub abandon_target: f64,
    pub aimed_abandon_rate: f64,
    /// The measured abandon rate over the last 30 minutes and over the legal window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandon_recent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandon_legal: Option<f64>,
    /// Human answers per dial and the average handle time the pacer has learnt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aht_seconds: Option<f64>,
}
