//! What a worker's bot asks of its live call's carrier: a transfer, keys pressed.
//!
//! `POST /api/v1/calls/{id}/transfer` and `POST /api/v1/calls/{id}/digits`, with the fleet secret.
//! Both find the call's carrier account and the carrier's id for the call, refuse a call that did
//! not come through a carrier or is over, and keep what was done as a telephony event.

use super::{config, public_base};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use contracts::CallId;
use std::sync::Arc;
use store::CarrierAccount;
use telephony::AccountCarrier;

/// A live call's carrier: its account, the carrier's id for the call and a client following it.
struct LiveCall {
    account: CarrierAccount,
    sid: String,
    client: Arc<dyn AccountCarrier>,
    from: Option<String>,
}

/// The carrier of `call_id`, which must have come through a carrier account and not be over.
async fn live_call(state: &AppState, headers: &HeaderMap, call_id: CallId) -> ApiResult<LiveCall> {
    let call = state.store.call(call_id).await?;
    let (Some(sid), Some(account)) = (
        call.carrier_call_id.clone(),
        state.store.carrier_account_of_call(call_id).await?,
    ) else {
        return Err(ApiError::refused(
            "call_id",
            format!("call {call_id} did not come through a carrier account"),
        ));
    };
    if call.state.is_terminal() {
        return Err(ApiError::conflict(
            "conflict.call",
            format!("call {call_id} is over ({})", call.state),
        ));
    }
    let account = state.store.carrier_account(account).await?;
    // A carrier that fetches new instructions (Plivo's `aleg_url`) is sent to `VOX_PUBLIC_URL`,
    // else to the base the worker reached this Backend at.
    let secret = state.store.carrier_account_secret(account.id).await?;
    let mut config = config(state, &account, secret);
    config.public_url = public_base(state, headers);
    let client = telephony::client(config)
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "not_found.carrier", e))?;
    client.follow(call_id, &sid);
    Ok(LiveCall {
        account,
        sid,
        client,
        from: call.from.map(|f| f.as_str().to_owned()),
    })
}

/// A carrier's refusal as the API's answer: a verb it lacks is the call's state (422), anything
/// else the carrier's failure (502).
fn carrier_error(call_id: CallId, error: carrier::CarrierError) -> ApiError {
    match error {
        carrier::CarrierError::Unsupported(why) => {
            ApiError::refused("call_id", format!("call {call_id}: {why}"))
        }
        other => ApiError::new(StatusCode::BAD_GATEWAY, "carrier.failed", other.to_string()),
    }
}

/// Keeps what was done to the call at its carrier.
async fn record(
    state: &AppState,
    live: LiveCall,
    call_id: CallId,
    event: &str,
    payload: serde_json::Value,
) -> ApiResult<()> {
    state
        .store
        .record_telephony_event(
            store::NewTelephonyEvent {
                carrier: live.account.carrier,
                account_id: live.account.id,
                call_id: Some(call_id),
                carrier_call_id: live.sid,
                event: event.into(),
                sequence: 0,
                payload,
                received_at: Utc::now(),
            },
            None,
        )
        .await?;
    Ok(())
}

/// `POST /api/v1/calls/{id}/transfer` (the fleet secret): a worker's bot transfers its caller.
pub(crate) async fn transfer(
    State(state): State<AppState>,
    _fleet: crate::auth::Fleet,
    headers: HeaderMap,
    crate::error::ApiPath(id): crate::error::ApiPath<i64>,
    crate::error::ApiJson(body): crate::error::ApiJson<TransferBody>,
) -> ApiResult<StatusCode> {
    let call_id = CallId(id);
    let to = contracts::E164Number::parse(&body.to)
        .map_err(|e| ApiError::invalid("to", e.to_string()))?;
    let live = live_call(&state, &headers, call_id).await?;
    live.client
        .transfer(call_id, to.as_str(), live.from.as_deref())
        .await
        .map_err(|e| carrier_error(call_id, e))?;
    record(
        &state,
        live,
        call_id,
        "transfer",
        serde_json::json!({ "to": to.as_str() }),
    )
    .await?;
    tracing::info!(%call_id, to = to.as_str(), "transferred at the carrier");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/calls/{id}/digits` (the fleet secret): a worker's bot presses keys on its call
/// with the carrier's own verb (Telnyx `send_dtmf`, Vonage's `dtmf`, Plivo's `DTMF`). A carrier
/// without one answers 422 `call_id`, and the worker plays the tones in its audio instead.
pub(crate) async fn send_digits(
    State(state): State<AppState>,
    _fleet: crate::auth::Fleet,
    headers: HeaderMap,
    crate::error::ApiPath(id): crate::error::ApiPath<i64>,
    crate::error::ApiJson(body): crate::error::ApiJson<DigitsBody>,
) -> ApiResult<StatusCode> {
    let call_id = CallId(id);
    if !contracts::runtime_config::keypad_keys(&body.digits) {
        return Err(ApiError::invalid(
            "digits",
            "must be 1 to 32 keys: 0-9, *, # and A-D",
        ));
    }
    let digits = body.digits.to_uppercase();
    let live = live_call(&state, &headers, call_id).await?;
    live.client
        .send_digits(call_id, &digits)
        .await
        .map_err(|e| carrier_error(call_id, e))?;
    record(
        &state,
        live,
        call_id,
        "digits",
        serde_json::json!({ "digits": digits }),
    )
    .await?;
    tracing::info!(%call_id, %digits, "keys pressed at the carrier");
    Ok(StatusCode::NO_CONTENT)
}

/// Where a bot moves its caller.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferBody {
    /// The target number, E.164.
    #[schemars(schema_with = "contracts::shape::phone")]
    pub to: String,
}

/// The keys a bot presses.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DigitsBody {
    /// Keypad keys in order: 0-9, `*`, `#` and A-D.
    #[schemars(regex(pattern = r"^[0-9*#A-Da-d]{1,32}$"))]
    pub digits: String,
}
