//! What is happening now.
//!
//! A campaign's live view (its calls by stage, the last hour's rates, the dialler's last pacing
//! decision) and the fleet's status (each fleet's workers, the dialler's leader lease).

use super::reports::{Figures, figures};
use super::settings::{fleet_reachable, stored_fleets};
use crate::AppState;
use crate::auth::{Authorized, role};
use crate::convert;
use crate::error::{ApiPath, ApiResult};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use contracts::api::CampaignState;
use contracts::health::{FleetHealth, PacingDecision};
use contracts::{CallState, CampaignId};
use serde::Serialize;
use store::{Bucket, ReportFilter};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns/{id}/live", get(campaign_live))
        .route("/fleet/status", get(fleet_status))
}

/// A decision older than this is shown as stale: the dialler has stopped deciding for the campaign.
const DECISION_STALE_SECONDS: i64 = 10;
/// How long the Backend waits for a fleet's health.
const FLEET_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// A campaign's calls by stage, now.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub(crate) struct Stages {
    /// Leased and being placed with the carrier.
    dialing: i64,
    ringing: i64,
    /// Answered and waiting for a worker (or being screened).
    answered: i64,
    /// A worker has the call.
    in_conversation: i64,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct LivePacing {
    decision: PacingDecision,
    decided_at: DateTime<Utc>,
    /// The dialler instance that decided.
    holder: String,
    /// True when no decision came for a while (paused campaign, dialler down).
    stale: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct CampaignLive {
    campaign_id: CampaignId,
    state: CampaignState,
    at: DateTime<Utc>,
    now: Stages,
    /// The last hour's calls and rates.
    last_hour: Figures,
    /// The campaign's abandon-rate target.
    abandon_target: f64,
    /// The dialler's last pacing decision for the campaign, when it made one.
    pacing: Option<LivePacing>,
}

async fn campaign_live(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CampaignLive>> {
    let campaign = state.store.campaign(CampaignId(id)).await?;
    let at = Utc::now();
    let mut now = Stages::default();
    for (call_state, count) in state.store.live_call_counts(campaign.id).await? {
        let stage = match call_state {
            CallState::Queued | CallState::Leased | CallState::Dialing => &mut now.dialing,
            CallState::Ringing => &mut now.ringing,
            CallState::Answered | CallState::Attaching => &mut now.answered,
            _ => &mut now.in_conversation,
        };
        *stage += count;
    }
    let report = state
        .store
        .call_report(ReportFilter {
            since: at - Duration::hours(1),
            until: at,
            campaign_id: Some(campaign.id),
            bot_id: None,
            bucket: Bucket::Hour,
        })
        .await?;
    let pacing = state.store.pacing(campaign.id).await?.and_then(|record| {
        let decision = serde_json::from_value(record.decision).ok()?;
        Some(LivePacing {
            decision,
            stale: (at - record.decided_at).num_seconds() > DECISION_STALE_SECONDS,
            decided_at: record.decided_at,
            holder: record.holder,
        })
    });
    Ok(Json(CampaignLive {
        campaign_id: campaign.id,
        state: convert::campaign_state_out(campaign.state),
        at,
        now,
        last_hour: figures(&report.totals),
        abandon_target: campaign.config.abandon_target,
        pacing,
    }))
}

/// One fleet as the Backend reached it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct FleetEntry {
    url: String,
    health: Option<FleetHealth>,
    /// Why the fleet could not be read.
    error: Option<String>,
}

/// The dialler as its leader lease in the store shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct DiallerLease {
    holder: String,
    fencing_token: i64,
    expires_at: DateTime<Utc>,
    /// A leader holds a lease that has not expired: the dialler is alive and dialling.
    healthy: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct FleetStatus {
    fleets: Vec<FleetEntry>,
    /// Over every fleet that answered.
    workers_up: u32,
    workers_down: u32,
    calls_in_progress: u32,
    free_slots: u32,
    draining: u32,
    /// `None` when no dialler has ever run against this database.
    dialler: Option<DiallerLease>,
    /// The capacity registry's view, when the platform runs one (`REDIS_URL`, or `vox up`'s).
    registry: Option<RegistryStatus>,
}

/// What the capacity registry holds: the workers heartbeating within their TTL and their slots.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub(crate) struct RegistryStatus {
    workers: u32,
    slots: u32,
    /// Slots neither busy nor reserved on workers that are not draining.
    free: u32,
    /// Workers draining (by themselves or their host).
    draining: u32,
    /// Why the registry could not be read, when it could not.
    error: Option<String>,
}

async fn fleet_status(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
) -> ApiResult<Json<FleetStatus>> {
    let urls = stored_fleets(&state).await?.urls;
    let asked = urls.iter().map(|url| fleet_health(&state, url));
    let answers = futures_util::future::join_all(asked).await;
    let mut status = FleetStatus {
        fleets: Vec::with_capacity(urls.len()),
        workers_up: 0,
        workers_down: 0,
        calls_in_progress: 0,
        free_slots: 0,
        draining: 0,
        dialler: None,
        registry: None,
    };
    if let Some(registry) = &state.config.registry {
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default();
        status.registry = Some(match registry.capacity(now_ms).await {
            Ok(capacity) => RegistryStatus {
                workers: capacity.workers,
                slots: capacity.slots,
                free: capacity.free,
                draining: capacity.draining,
                error: None,
            },
            Err(error) => RegistryStatus {
                error: Some(error.to_string()),
                ..RegistryStatus::default()
            },
        });
    }
    for (url, answer) in urls.into_iter().zip(answers) {
        let (health, error) = match answer {
            Ok(health) => {
                status.workers_up += health.workers_up;
                status.workers_down += health.workers_down;
                status.calls_in_progress += health.worker_calls;
                status.free_slots += health.fleet_available;
                status.draining += health
                    .workers
                    .iter()
                    .filter(|w| w.health.as_ref().is_some_and(|h| h.draining))
                    .count() as u32;
                (Some(health), None)
            }
            Err(error) => (None, Some(error)),
        };
        status.fleets.push(FleetEntry { url, health, error });
    }
    let now = Utc::now();
    status.dialler = state.store.leader().await?.map(|lease| DiallerLease {
        healthy: lease.expires_at > now,
        holder: lease.holder,
        fencing_token: lease.fencing_token,
        expires_at: lease.expires_at,
    });
    Ok(Json(status))
}

async fn fleet_health(state: &AppState, url: &str) -> Result<FleetHealth, String> {
    if url.starts_with("unix:") {
        return Err("a Unix socket is local to its host: its nginx answers /health/fleet".into());
    }
    fleet_reachable(state, url).await?;
    let response = state
        .http
        .get(format!("{}/health/fleet", url.trim_end_matches('/')))
        .timeout(FLEET_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("unreachable: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("answered {}", response.status()));
    }
    response
        .json::<FleetHealth>()
        .await
        .map_err(|e| format!("not a fleet health document: {e}"))
}
