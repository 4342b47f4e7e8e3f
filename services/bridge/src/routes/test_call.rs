//! A test call from the console.
//!
//! The Backend opens a web call for a bot, attaches it to a free fleet worker (a slot reserved in
//! the capacity registry when there is one, else the saved fleets in turn, the next on a 429) and
//! hands the browser the worker's `vox` media URL.

use super::audit;
use super::settings::reachable_fleets;
use crate::AppState;
use crate::auth::{Authorized, role};
use crate::error::{ApiError, ApiPath, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use contracts::attach::{AttachAccepted, AttachRequest, MediaProtocol};
use contracts::runtime_config::CallDirection;
use contracts::{BotId, CallOutcomeCode, CallState};
use fleet_client::{AttachError, FleetClient};
use secrecy::ExposeSecret;
use serde_json::json;
use store::{NewCall, Transition};

pub fn router() -> Router<AppState> {
    Router::new().route("/bots/{id}/test-call", post(test_call))
}

pub(crate) const ATTACH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// What a 429 for a busy fleet asks the caller to wait: a registry reservation lapses in 10 s.
const BUSY_RETRY_AFTER_SECS: u64 = 10;

/// The fleet as the Backend reaches it: the capacity registry when there is one, else the saved
/// fleets with an http(s) URL (a browser or a carrier cannot reach a Unix socket).
pub(crate) async fn fleet_client(
    state: &AppState,
    timeout: std::time::Duration,
) -> ApiResult<FleetClient> {
    let urls: Vec<String> = reachable_fleets(state)
        .await?
        .into_iter()
        .filter(|url| !url.starts_with("unix:"))
        .collect();
    let registry = state.config.registry.clone();
    if urls.is_empty() && registry.is_none() {
        return Err(ApiError::conflict(
            "fleet.none",
            "no fleet with an http(s) URL is configured: add one under Settings → Fleets",
        ));
    }
    // With a capacity registry the saved fleets are not polled: the registry names the worker.
    let mut fleet = FleetClient::new(
        urls,
        state.config.voxcore_secret.expose_secret().to_owned(),
        timeout,
    );
    if let Some(registry) = registry {
        fleet = fleet.with_registry(registry);
    }
    Ok(fleet)
}

async fn test_call(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<AttachAccepted>)> {
    if let Err(wait) = state
        .test_calls
        .take(&principal.actor, std::time::Instant::now())
    {
        return Err(ApiError::too_many(
            "test_call.rate_limited",
            format!("at most 10 test calls a minute each; try again in {wait} s"),
            wait,
        ));
    }
    let bot = state.store.bot(BotId(id)).await?;
    if bot.archived {
        return Err(ApiError::refused("bot_id", "the bot is archived"));
    }
    let fleet = fleet_client(&state, ATTACH_TIMEOUT).await?;
    let call = open_web_call(&state, bot.id, None).await?;
    let accepted = attach_web_call(
        &state,
        &fleet,
        &call,
        format!("console-{}", call.id),
        "test_call",
    )
    .await?;
    audit(
        &state,
        &principal,
        "bots.test_call",
        "calls",
        call.id,
        None,
        Some(json!({ "bot_id": bot.id, "worker_id": accepted.worker_id })),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(accepted)))
}

/// A web call for `bot`, answered now (a browser is on the line), with its channel id when known.
pub(crate) async fn open_web_call(
    state: &AppState,
    bot: BotId,
    channel_id: Option<String>,
) -> ApiResult<store::Call> {
    Ok(state
        .store
        .create_call(NewCall {
            direction: CallDirection::Web,
            bot_id: bot,
            campaign_id: None,
            contact_id: None,
            from: None,
            to: None,
            state: CallState::Answered,
            variables: Default::default(),
            carrier_call_id: channel_id,
            now: Utc::now(),
        })
        .await?)
}

/// Attaches a web call just created (`answered`) to a free worker for the browser; when no
/// worker takes it, the call ends `failed` (its event says `source` and why) and the answer is
/// 429 when every worker is busy, 503 otherwise.
pub(crate) async fn attach_web_call(
    state: &AppState,
    fleet: &FleetClient,
    call: &store::Call,
    channel_id: String,
    source: &str,
) -> ApiResult<AttachAccepted> {
    let request = AttachRequest {
        call_id: call.id,
        direction: CallDirection::Web,
        campaign_id: None,
        carrier: "browser".into(),
        carrier_call_id: channel_id,
        media_protocol: MediaProtocol::Vox,
        from: None,
        to: None,
        answered_at: call.answered_at.unwrap_or(call.created_at),
        amd: None,
        client: None,
    };
    let (all_full, reasons) = match fleet.attach(&request).await {
        Ok(accepted) => return Ok(accepted),
        Err(AttachError::NoCapacity {
            failed, reasons, ..
        }) => (failed == 0, reasons),
        Err(AttachError::Refused { status, body }) => (
            false,
            vec![format!("a worker refused the call: {status} {body}")],
        ),
    };
    end_unattached(state, call, source, reasons.clone()).await?;
    let reasons = reasons.join("; ");
    if all_full {
        // Busy is the caller's to wait out: 429 with the time a slot takes to come back.
        return Err(ApiError::too_many(
            "fleet.capacity_exhausted",
            format!("every worker is busy; try again shortly ({reasons})"),
            BUSY_RETRY_AFTER_SECS,
        ));
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "fleet.attach_failed",
        format!("no worker took the call ({reasons})"),
    ))
}

/// Nobody took the call: it ends here instead of waiting for the stale reaper.
async fn end_unattached(
    state: &AppState,
    call: &store::Call,
    source: &str,
    reasons: Vec<String>,
) -> ApiResult<()> {
    let mut end = Transition::new(call.id, CallState::Answered, CallState::Failed, Utc::now())
        .with_outcome(CallOutcomeCode::FleetAttachFailed);
    end.detail = Some(json!({ "source": source, "reasons": reasons }));
    super::move_unless_stale(&*state.store, end).await?;
    Ok(())
}
