//! One call on demand (`POST /api/v1/calls`): a number, a bot and a carrier account, dialled now.
//!
//! The same checks as a campaign's dial come first (the do-not-call list, the calling windows in
//! the number's local time); the call record is created and placed through the account's REST
//! API, and from there it is followed like any other: the carrier's webhooks reach the telephony
//! edge, which attaches the answer to a worker.

use super::audit;
use super::telephony::account_client;
use crate::auth::{Authorized, role};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::{AppState, phone};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use carrier::{CarrierError, Dial};
use chrono::Utc;
use contracts::calling_window::CallingWindows;
use contracts::runtime_config::CallDirection;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{BotId, CallId, CallState, TimeZoneName};
use serde_json::{Map, Value, json};
use std::time::Duration;
use store::{NewCall, Transition};

pub fn router() -> Router<AppState> {
    Router::new().route("/calls", post(dial))
}

/// How long a carrier that is rate-limiting is asked again before the request gives up.
const PLACE_WITHIN: Duration = Duration::from_secs(3);

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("dependentRequired" = { "calling_windows": ["timezone"] }))]
pub(crate) struct DialBody {
    bot_id: i64,
    /// The number to call.
    #[schemars(schema_with = "contracts::shape::phone")]
    to: String,
    carrier_account: i64,
    /// The caller ID; the account's first number when absent.
    #[serde(default)]
    #[schemars(schema_with = "contracts::shape::optional_phone")]
    from: Option<String>,
    /// Refuse the call outside these windows in the number's local time.
    #[serde(default)]
    calling_windows: Option<CallingWindows>,
    /// The number's IANA time zone, which `calling_windows` are read in (required with them).
    #[serde(default)]
    #[schemars(with = "Option<contracts::TimeZoneName>")]
    timezone: Option<String>,
    /// Ask the carrier for machine detection (default true).
    #[serde(default)]
    detect_machine: Option<bool>,
    /// Values for the bot's declared `{{variables}}` (strings, numbers or booleans).
    #[serde(default)]
    #[schemars(schema_with = "variable_values")]
    variables: Map<String, Value>,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Dialled {
    call_id: CallId,
    state: CallState,
    carrier_call_id: String,
}

/// Only the bot's declared variables, each a plain value: anything else would never be rendered.
fn variable_values(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "propertyNames": { "pattern": contracts::shape::VARIABLE_NAME },
        "additionalProperties": { "type": ["string", "number", "boolean"] },
        "description": "Each a variable the bot declares (409 otherwise)"
    })
}

fn check_variables(declared: &[String], given: &Map<String, Value>) -> ApiResult<()> {
    for (name, value) in given {
        let field = format!("variables.{name}");
        if !declared.iter().any(|d| d == name) {
            let known = if declared.is_empty() {
                "the bot declares none".to_owned()
            } else {
                format!("the bot declares {}", declared.join(", "))
            };
            return Err(ApiError::refused(
                field,
                format!("{name:?} is not one of the bot's variables; {known}"),
            ));
        }
        if matches!(value, Value::Object(_) | Value::Array(_) | Value::Null) {
            return Err(ApiError::invalid(
                field,
                "must be a string, a number or a boolean",
            ));
        }
    }
    Ok(())
}

async fn dial(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiJson(body): ApiJson<DialBody>,
) -> ApiResult<(StatusCode, Json<Dialled>)> {
    let to = phone::e164("to", &body.to)?;
    let bot = state
        .store
        .bot(BotId(body.bot_id))
        .await
        .map_err(|_| ApiError::unknown("bot_id", format!("there is no bot {}", body.bot_id)))?;
    if bot.archived {
        return Err(ApiError::refused("bot_id", "the bot is archived"));
    }
    let spec = state
        .store
        .bot_version(bot.id, bot.current_version)
        .await?
        .spec;
    check_variables(&spec.variables, &body.variables)?;
    let account = state
        .store
        .carrier_account(CarrierAccountId(body.carrier_account))
        .await
        .map_err(|_| {
            ApiError::unknown(
                "carrier_account",
                format!("there is no carrier account {}", body.carrier_account),
            )
        })?;
    let from = match &body.from {
        Some(text) => phone::e164("from", text)?,
        None => account.numbers.first().cloned().ok_or_else(|| {
            ApiError::refused("from", "is required: the carrier account owns no number")
        })?,
    };
    if state.store.is_dnc(to.as_str()).await? {
        return Err(ApiError::refused(
            "to",
            "the number is on the do-not-call list",
        ));
    }
    let now = Utc::now();
    if let Some(windows) = &body.calling_windows {
        let zone = body
            .timezone
            .as_deref()
            .ok_or_else(|| ApiError::invalid("timezone", "is required with calling_windows"))?;
        let zone =
            TimeZoneName::parse(zone).map_err(|e| ApiError::invalid("timezone", e.to_string()))?;
        if !windows.allows(zone, now) {
            return Err(ApiError::refused(
                "calling_windows",
                format!("it is outside the calling windows in {zone} now"),
            ));
        }
    }
    // A SIP trunk's gateway reaches the edge by VOXBRIDGE_URL; a carrier needs the public URL.
    if state.config.public_url.is_none() && account.carrier != CarrierKind::Sip {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "telephony.public_url",
            "VOX_PUBLIC_URL is not set, so the carrier cannot reach the telephony edge",
        ));
    }
    let client = account_client(&state, &account).await?;
    let call = state
        .store
        .create_call(NewCall {
            direction: CallDirection::Outbound,
            bot_id: bot.id,
            campaign_id: None,
            contact_id: None,
            from: Some(from.clone()),
            to: Some(to.clone()),
            state: CallState::Queued,
            variables: body.variables.clone(),
            carrier_call_id: None,
            now,
        })
        .await?;
    let mut dialling = Transition::new(call.id, CallState::Queued, CallState::Dialing, now);
    dialling.detail = Some(json!({ "source": "api", "carrier_account": account.id }));
    state.store.transition(dialling).await?;
    let request = Dial {
        call_id: call.id,
        campaign_id: None,
        to,
        from: Some(from),
        ring_timeout: Duration::from_secs(30),
        detect_machine: body.detect_machine.unwrap_or(true),
    };
    let deadline = tokio::time::Instant::now() + PLACE_WITHIN;
    let placed = loop {
        match client.place(request.clone()).await {
            Err(CarrierError::RateLimited(_) | CarrierError::Unavailable(_))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => break other,
        }
    };
    match placed {
        Ok(carrier_call_id) => {
            // Kept now, where no webhook kept it first: Exotel says nothing before the answer.
            state
                .store
                .note_call_leg(call.id, account.carrier, &carrier_call_id, None)
                .await?;
            audit(
                &state,
                &principal,
                "calls.dial",
                "calls",
                call.id,
                None,
                Some(json!({
                    "bot_id": bot.id, "to": request.to.as_str(), "carrier_account": account.id,
                })),
            )
            .await?;
            Ok((
                StatusCode::CREATED,
                Json(Dialled {
                    call_id: call.id,
                    state: CallState::Dialing,
                    carrier_call_id,
                }),
            ))
        }
        Err(error) => {
            let mut end =
                Transition::new(call.id, CallState::Dialing, CallState::Failed, Utc::now());
            end.outcome = Some(match error.outcome().end_state() {
                CallState::Failed => error.outcome(),
                _ => contracts::CallOutcomeCode::DialFailed,
            });
            end.detail = Some(json!({ "source": "api", "detail": error.to_string() }));
            super::move_unless_stale(&*state.store, end).await?;
            Err(match error {
                CarrierError::InvalidNumber(detail) => ApiError::invalid("to", detail),
                CarrierError::RateLimited(detail) | CarrierError::Unavailable(detail) => {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "carrier.unavailable",
                        detail,
                    )
                }
                other => {
                    ApiError::new(StatusCode::BAD_GATEWAY, "carrier.failed", other.to_string())
                }
            })
        }
    }
}
