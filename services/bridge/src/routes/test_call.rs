//! A test call from the console: the Backend opens a web call for a bot, attaches it to a free fleet worker (the next fleet on a 429) and hands the browser the worker's `vox` media URL.

use super::audit;
use super::settings::stored_fleets;
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
use secrecy::ExposeSecret;
use serde_json::json;
use store::{NewCall, Transition};

pub fn router() -> Router<AppState> {
    Router::new().route("/bots/{id}/test-call", post(test_call))
}

const ATTACH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why one fleet did not take the call.
enum Refused {
    Full,
    Other(String),
}

async fn test_call(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<AttachAccepted>)> {
    let bot = state.store.bot(BotId(id)).await?;
    if bot.archived {
        return Err(ApiError::invalid("bot_id", "the bot is archived"));
    }
    let urls: Vec<String> = stored_fleets(&state)
        .await?
        .urls
        .into_iter()
        .filter(|url| !url.starts_with("unix:"))
        .collect();
    if urls.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "fleet.none",
            "no fleet with an http(s) URL is configured: add one under Settings → Fleets",
        ));
    }
    let now = Utc::now();
    let call = state
        .store
        .create_call(NewCall {
            direction: CallDirection::Web,
            bot_id: bot.id,
            campaign_id: None,
            contact_id: None,
            from: None,
            to: None,
            state: CallState::Answered,
            now,
        })
        .await?;
    let request = AttachRequest {
        call_id: call.id,
        direction: CallDirection::Web,
        campaign_id: None,
        carrier: "browser".into(),
        carrier_call_id: format!("console-{}", call.id),
        media_protocol: MediaProtocol::Vox,
        from: None,
        to: None,
        answered_at: now,
        amd: None,
    };
    let mut reasons = Vec::new();
    let mut all_full = true;
    for url in &urls {
        match attach(&state, url, &request).await {
            Ok(accepted) => {
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
                return Ok((StatusCode::CREATED, Json(accepted)));
            }
            Err(Refused::Full) => reasons.push(format!("{url}: no free slot")),
            Err(Refused::Other(reason)) => {
                all_full = false;
                reasons.push(format!("{url}: {reason}"));
            }
        }
    }
    // Nobody took it: the call ends here instead of waiting for the stale reaper.
    let mut end = Transition::new(call.id, CallState::Answered, CallState::Failed, Utc::now())
        .with_outcome(CallOutcomeCode::FleetAttachFailed);
    end.detail = Some(json!({ "source": "test_call", "reasons": reasons }));
    match state.store.transition(end).await {
        Ok(_) | Err(store::StoreError::StaleTransition { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    let (code, what) = if all_full {
        (
            "fleet.capacity_exhausted",
            "every worker is busy; try again shortly",
        )
    } else {
        ("fleet.attach_failed", "no worker took the call")
    };
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        code,
        format!("{what} ({})", reasons.join("; ")),
    ))
}

async fn attach(
    state: &AppState,
    url: &str,
    request: &AttachRequest,
) -> Result<AttachAccepted, Refused> {
    let response = state
        .http
        .post(format!("{}/attach", url.trim_end_matches('/')))
        .bearer_auth(state.config.voxcore_secret.expose_secret())
        .json(request)
        .timeout(ATTACH_TIMEOUT)
        .send()
        .await
        .map_err(|e| Refused::Other(format!("unreachable: {e}")))?;
    match response.status() {
        StatusCode::ACCEPTED | StatusCode::OK => response
            .json::<AttachAccepted>()
            .await
            .map_err(|e| Refused::Other(format!("a malformed attach reply: {e}"))),
        StatusCode::TOO_MANY_REQUESTS => Err(Refused::Full),
        status => Err(Refused::Other(format!("answered {status}"))),
    }
}
