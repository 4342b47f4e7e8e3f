//! Exotel at the edge: the Voicebot applet's URL, the Greeting applet's text and status callbacks.
//!
//! References: <https://docs.exotel.com/exotel-agentstream/stream-applet> (an applet's HTTPS URL
//! answers `{"url": "wss://…"}` and Exotel streams there), <https://developer.exotel.com/docs/agentstream/stream-voicebot-applet>
//! (`?sample-rate=` on the stream's URL), <https://support.exotel.com/support/solutions/articles/3000096873>
//! (a dynamic URL's GET parameters: `CallSid`, `CallFrom`, `CallTo`, `Direction`, `CustomField`),
//! <http://support.exotel.in/solution/articles/48285-greeting-using-text-from-url> (a Greeting
//! reads `text/plain`, after a `HEAD`) and <https://developer.exotel.com/docs/voice-v1/api-reference/status-callback>
//! (`CallSid`, `Status`, `EventType`, `CustomField`, …, posted as a form).
//!
//! The account's flow is `Voicebot (this edge's voicebot URL) → Greeting (its greeting URL) →
//! Hangup`. Exotel signs nothing, so every URL carries the account's key
//! (`telephony::exotel::edge_key`); a request without it is 403 and changes nothing. An outbound
//! call is known by the `CustomField` vox set; an inbound one is routed by `CallTo`. When nobody
//! can take a call the Voicebot URL is refused, the flow moves on, and the Greeting says why.

use super::{
    ABANDON_MESSAGE, BUSY_MESSAGE, Leg, Params, UNROUTED_MESSAGE, bad_signature, connect_to_worker,
    edge_move, placed_call,
};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use contracts::attach::MediaProtocol;
use contracts::runtime_config::CallDirection;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{CallOutcomeCode, CallState, E164Number};
use serde_json::{Value, json};
use store::{Call, CarrierAccount, NewTelephonyEvent};
use telephony::exotel::{self, status};

/// Where the Voicebot applet streams the call.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct StreamUrl {
    /// The worker's WebSocket, with `?sample-rate=8000`.
    pub url: String,
}

/// `GET|POST /api/v1/telephony/exotel/{account}/{key}/{hook}`.
pub(super) async fn hook(
    State(state): State<AppState>,
    Path((account, key, hook)): Path<(String, String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = account.parse::<i64>().map(CarrierAccountId).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found.carrier_account",
            format!("{account:?} is not a carrier account id"),
        )
    })?;
    let account = state
        .store
        .carrier_account(id)
        .await
        .ok()
        .filter(|a| a.carrier == CarrierKind::Exotel)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found.carrier_account",
                format!("there is no Exotel account {id}"),
            )
        })?;
    let secret = state.store.carrier_account_secret(account.id).await?;
    let expected = exotel::edge_key(&secret, account.id);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        key.as_bytes(),
        expected.as_bytes(),
    )) {
        return Err(bad_signature(
            &account,
            "the URL's key is not this account's",
        ));
    }
    let params = params(&uri, &headers, body).await?;
    let call_sid = params.required("CallSid")?.to_owned();
    match hook.as_str() {
        "voicebot" => voicebot(&state, &account, &params, call_sid).await,
        "greeting" => greeting(&state, &params, &call_sid).await,
        "status" => progress(&state, &account, &params, call_sid).await,
        other => Err(ApiError::not_found(format!("no Exotel webhook {other:?}"))),
    }
}

/// The request's parameters: its query, and a posted form, multipart form or JSON object.
async fn params(uri: &Uri, headers: &HeaderMap, body: Bytes) -> ApiResult<Params> {
    let mut params: Vec<(String, String)> = uri
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    if body.is_empty() {
        return Ok(Params(params));
    }
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded")
        .to_ascii_lowercase();
    if kind.starts_with("application/json") {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid("body", format!("is not JSON: {e}")))?;
        let Value::Object(fields) = value else {
            return Err(ApiError::invalid("body", "is not a JSON object"));
        };
        params.extend(fields.into_iter().map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        }));
    } else if kind.starts_with("multipart/form-data") {
        let request = axum::http::Request::builder()
            .header(header::CONTENT_TYPE, kind.as_str())
            .body(axum::body::Body::from(body))
            .map_err(|e| ApiError::invalid("body", e.to_string()))?;
        let mut form = axum::extract::Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::invalid("body", format!("is not a multipart form: {e}")))?;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::invalid("body", format!("is not a multipart form: {e}")))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let text = field
                .text()
                .await
                .map_err(|e| ApiError::invalid(name.clone(), e.to_string()))?;
            params.push((name, text));
        }
    } else {
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::invalid("body", format!("is not a form body: {e}")))?;
        params.extend(form);
    }
    Ok(Params(params))
}

fn leg<'a>(account: &'a CarrierAccount, call_sid: &'a str) -> Leg<'a> {
    Leg {
        account,
        call_sid,
        media_protocol: MediaProtocol::Exotel,
    }
}

fn event(
    account: &CarrierAccount,
    call: Option<contracts::CallId>,
    call_sid: &str,
    name: String,
    params: &Params,
) -> NewTelephonyEvent {
    NewTelephonyEvent {
        carrier: CarrierKind::Exotel,
        account_id: account.id,
        call_id: call,
        carrier_call_id: call_sid.to_owned(),
        event: name,
        sequence: 0,
        payload: params.json(),
        received_at: Utc::now(),
    }
}

/// The Voicebot applet asks where to stream: an outbound call vox placed (its `CustomField`) or
/// an inbound one (routed by `CallTo`) is attached to a worker and streamed there.
async fn voicebot(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call_sid: String,
) -> ApiResult<Response> {
    let placed = params.get("CustomField").and_then(exotel::call_of);
    let Some(id) = placed else {
        return inbound(state, account, params, call_sid).await;
    };
    let call = placed_call(state, id, CarrierKind::Exotel, &[call_sid.as_str()]).await?;
    let moved = edge_move(
        call.id,
        CallState::Answered,
        leg(account, &call_sid),
        json!({}),
    );
    let kept = state
        .store
        .record_telephony_event(
            event(account, Some(call.id), &call_sid, "voicebot".into(), params),
            Some(moved),
        )
        .await?;
    if kept.moved.is_none() {
        // A redelivery, or a call that ended meanwhile (canceled by the dialler): no stream.
        tracing::info!(call_id = %call.id, new = kept.new, "a Voicebot request for a call that is not dialling");
        return Err(ApiError::conflict(
            "conflict.call",
            format!(
                "call {} is not waiting for its stream ({})",
                call.id, call.state
            ),
        ));
    }
    connect(state, account, call, call_sid, CallDirection::Outbound).await
}

/// Attaches an answered call: the worker's stream URL, or a refusal the Greeting explains.
async fn connect(
    state: &AppState,
    account: &CarrierAccount,
    call: Call,
    call_sid: String,
    direction: CallDirection,
) -> ApiResult<Response> {
    match connect_to_worker(state, leg(account, &call_sid), &call, direction).await? {
        Ok(accepted) => {
            let url = format!("{}?sample-rate=8000", accepted.media_url);
            Ok(Json(StreamUrl { url }).into_response())
        }
        Err(message) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "fleet.capacity_exhausted",
            message,
        )),
    }
}

/// The account's number `given` is (Exotel may write it nationally: `080…`), as E.164.
fn account_number(account: &CarrierAccount, given: &str) -> String {
    account
        .numbers
        .iter()
        .map(|n| n.as_str())
        .find(|n| exotel::e164_like(given, Some(n)) == *n)
        .map(str::to_owned)
        .unwrap_or_else(|| exotel::e164_like(given, account.numbers.first().map(|n| n.as_str())))
}

/// A caller rang one of the account's ExoPhones: routed by `CallTo`, recorded, attached.
async fn inbound(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call_sid: String,
) -> ApiResult<Response> {
    let to = E164Number::parse(&account_number(account, params.required("CallTo")?))
        .map_err(|e| ApiError::invalid("CallTo", e.to_string()))?;
    let from = params
        .get("CallFrom")
        .and_then(|f| E164Number::parse(&exotel::e164_like(f, Some(to.as_str()))).ok());
    let kept = state
        .store
        .record_telephony_event(
            event(account, None, &call_sid, "voicebot".into(), params),
            None,
        )
        .await?;
    if !kept.new {
        return Err(ApiError::conflict(
            "conflict.call",
            format!("Exotel call {call_sid} was answered already"),
        ));
    }
    let Some(call) =
        super::open_inbound(state, CarrierKind::Exotel, &call_sid, to.clone(), from).await?
    else {
        tracing::warn!(%to, call_sid, "an inbound Exotel call to a number that routes nowhere");
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found.number",
            format!("{to} routes to no bot"),
        ));
    };
    connect(state, account, call, call_sid, CallDirection::Inbound).await
}

/// What the Greeting after the Voicebot says: why nobody took the call, or nothing. A call vox
/// placed is known by its `CustomField` (its leg may not be kept yet), any other by its leg.
async fn greeting(state: &AppState, params: &Params, call_sid: &str) -> ApiResult<Response> {
    let call = match params.get("CustomField").and_then(exotel::call_of) {
        Some(id) => Some(placed_call(state, id, CarrierKind::Exotel, &[call_sid]).await?),
        None => state.store.call_by_carrier_call_id(call_sid).await?,
    };
    let message = match call {
        Some(call) => match call.outcome {
            Some(CallOutcomeCode::FleetCapacityExhausted) => BUSY_MESSAGE,
            // An outbound call answered when nobody could take it (or no longer wanted it).
            _ if call.direction == CallDirection::Outbound
                && call.worker_id.is_none()
                && call.state.is_terminal() =>
            {
                ABANDON_MESSAGE
            }
            _ => "",
        },
        None if state
            .store
            .carrier_call_known(CarrierKind::Exotel, call_sid)
            .await? =>
        {
            UNROUTED_MESSAGE
        }
        None => {
            return Err(ApiError::not_found(format!(
                "no call is Exotel call {call_sid}"
            )));
        }
    };
    Ok(([(header::CONTENT_TYPE, "text/plain")], message).into_response())
}

/// A status callback: kept once, and the call moved when it ends.
async fn progress(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call_sid: String,
) -> ApiResult<Response> {
    let kind = status::EventType::parse(params.get("EventType"))
        .map_err(|e| ApiError::invalid("EventType", e.to_string()))?;
    let status: status::CallStatus = params
        .required("Status")?
        .parse()
        .map_err(|e: status::UnknownStatus| ApiError::invalid("Status", e.to_string()))?;
    let name = format!("status.{}.{}", kind.as_str(), status.as_str());
    let call = match params.get("CustomField").and_then(exotel::call_of) {
        Some(id) => Some(placed_call(state, id, CarrierKind::Exotel, &[call_sid.as_str()]).await?),
        None => state.store.call_by_carrier_call_id(&call_sid).await?,
    };
    let Some(call) = call else {
        if state
            .store
            .carrier_call_known(CarrierKind::Exotel, &call_sid)
            .await?
        {
            state
                .store
                .record_telephony_event(event(account, None, &call_sid, name, params), None)
                .await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        tracing::warn!(call_sid, "an Exotel callback for a call we do not know");
        return Err(ApiError::not_found(format!(
            "no call is Exotel call {call_sid}"
        )));
    };
    let detail = json!({ "detail": format!("Exotel: {}", status.as_str()) });
    let transition = match kind {
        // The answer itself is the Voicebot's request: that is where the call is attached.
        status::EventType::Answered => None,
        status::EventType::Terminal => terminal(account, &call, &call_sid, status, detail),
    };
    state
        .store
        .record_telephony_event(
            event(account, Some(call.id), &call_sid, name, params),
            transition,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Where the terminal status moves the call, if anywhere.
fn terminal(
    account: &CarrierAccount,
    call: &Call,
    call_sid: &str,
    status: status::CallStatus,
    detail: Value,
) -> Option<store::Transition> {
    let end = |to: CallState, outcome: CallOutcomeCode, detail: Value| {
        let mut moved = edge_move(call.id, to, leg(account, call_sid), detail);
        moved.outcome = Some(outcome);
        moved
    };
    match (status.outcome(), status, call.state) {
        (Some(outcome), _, _) => Some(end(outcome.end_state(), outcome, detail)),
        // Hung up after the answer but before a worker had it: the caller was abandoned.
        (None, status::CallStatus::Completed, CallState::Answered) => Some(end(
            CallState::Abandoned,
            CallOutcomeCode::DialAbandoned,
            detail,
        )),
        // Answered, but the flow never asked for the stream: a flow without the Voicebot.
        (None, status::CallStatus::Completed, CallState::Dialing | CallState::Ringing) => {
            Some(end(
                CallState::Failed,
                CallOutcomeCode::DialFailed,
                json!({ "detail": "Exotel: completed, but the flow never asked the Voicebot URL \
                    (is the account's app id the flow with the Voicebot applet?)" }),
            ))
        }
        _ => None,
    }
}
