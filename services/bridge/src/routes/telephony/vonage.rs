//! Vonage at the edge: the answer URL (an NCCO for an outbound answer or an inbound call), events.
//!
//! References: <https://developer.vonage.com/en/voice/voice-api/webhook-reference> (the answer
//! webhook's JSON body: `uuid`, `conversation_uuid`, `from`, `to`; the event webhook's `status`,
//! `detail`, `timestamp`), <https://developer.vonage.com/en/voice/voice-api/ncco-reference> (the
//! NCCO answer), <https://developer.vonage.com/en/voice/voice-api/guides/signed-webhooks> (a
//! Bearer JWT signed with the account's signature secret, its `payload_hash` the body's
//! SHA-256). Outbound webhooks carry our call id in the URL (`?call=ID`); an inbound call's answer
//! request has none and is routed by its `to` number.

use super::{
    Leg, UNROUTED_MESSAGE, Webhook, bad_signature, call_param, connect_to_worker, edge_move,
    placed_call,
};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use contracts::attach::{AmdVerdict, MediaProtocol};
use contracts::runtime_config::CallDirection;
use contracts::telephony::CarrierKind;
use contracts::{CallId, CallOutcomeCode, CallState, E164Number};
use serde_json::{Value, json};
use store::{Call, CarrierAccount, NewTelephonyEvent};
use telephony::number::e164;
use telephony::vonage::{ncco, signature, status};

pub(super) async fn handle(
    state: &AppState,
    account: &CarrierAccount,
    hook: &str,
    webhook: Webhook,
) -> ApiResult<Response> {
    let Some(given) = webhook
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
    else {
        return Err(bad_signature(
            account,
            "the Authorization header is missing",
        ));
    };
    let Some(secret) = state.store.carrier_account_webhook_key(account.id).await? else {
        return Err(bad_signature(
            account,
            "the account has no signature secret",
        ));
    };
    signature::verify(&secret, given, &webhook.body, Utc::now().timestamp())
        .map_err(|e| bad_signature(account, &e.to_string()))?;
    let body: Value = serde_json::from_slice(&webhook.body)
        .map_err(|e| ApiError::invalid("body", format!("is not JSON: {e}")))?;
    let uuid = body
        .get("uuid")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::invalid("uuid", "is missing"))?
        .to_owned();
    let call = match call_param(&webhook.url)? {
        Some(id) => Some(placed_call(state, id, CarrierKind::Vonage, &[&uuid]).await?),
        None => None,
    };
    match (hook, call) {
        ("answer", Some(call)) => answered(state, account, &body, call, uuid).await,
        ("answer", None) => inbound(state, account, &body, uuid).await,
        ("event", call) => progress(state, account, &body, call, uuid).await,
        (other, _) => Err(ApiError::not_found(format!("no Vonage webhook {other:?}"))),
    }
}

fn answer(ncco: Value) -> Response {
    (
        [(header::CONTENT_TYPE, ncco::CONTENT_TYPE)],
        ncco.to_string(),
    )
        .into_response()
}

fn event(
    account: &CarrierAccount,
    call: Option<CallId>,
    uuid: &str,
    name: String,
    body: &Value,
) -> NewTelephonyEvent {
    NewTelephonyEvent {
        carrier: CarrierKind::Vonage,
        account_id: account.id,
        call_id: call,
        carrier_call_id: uuid.to_owned(),
        event: name,
        sequence: 0,
        payload: body.clone(),
        received_at: Utc::now(),
    }
}

/// The Vonage leg a webhook is about.
fn leg<'a>(account: &'a CarrierAccount, uuid: &'a str) -> Leg<'a> {
    Leg {
        account,
        call_sid: uuid,
        media_protocol: MediaProtocol::Vonage,
    }
}

/// Vonage asks for an answered outbound call's NCCO: attach it or abandon it.
async fn answered(
    state: &AppState,
    account: &CarrierAccount,
    body: &Value,
    call: Call,
    uuid: String,
) -> ApiResult<Response> {
    let moved = edge_move(call.id, CallState::Answered, leg(account, &uuid), json!({}));
    let kept = state
        .store
        .record_telephony_event(
            event(account, Some(call.id), &uuid, "answer".into(), body),
            Some(moved),
        )
        .await?;
    if kept.moved.is_none() {
        tracing::info!(call_id = %call.id, new = kept.new, "an answer request for a call that is not dialling; hanging up");
        return Ok(answer(ncco::talk_and_hang_up("")));
    }
    connect(state, account, call, uuid, CallDirection::Outbound).await
}

/// Attaches an answered call and answers with its stream, or abandons it.
async fn connect(
    state: &AppState,
    account: &CarrierAccount,
    call: Call,
    uuid: String,
    direction: CallDirection,
) -> ApiResult<Response> {
    Ok(
        match connect_to_worker(state, leg(account, &uuid), &call, direction).await? {
            Ok(accepted) => {
                let id = call.id.to_string();
                answer(ncco::stream(&accepted.media_url, &[("call_id", &id)]))
            }
            Err(message) => answer(ncco::talk_and_hang_up(message)),
        },
    )
}

/// An inbound call to one of the application's numbers: routed by `to`, recorded, attached.
async fn inbound(
    state: &AppState,
    account: &CarrierAccount,
    body: &Value,
    uuid: String,
) -> ApiResult<Response> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or("");
    let to =
        E164Number::parse(&e164(text("to"))).map_err(|e| ApiError::invalid("to", e.to_string()))?;
    let from = E164Number::parse(&e164(text("from"))).ok();
    let kept = state
        .store
        .record_telephony_event(event(account, None, &uuid, "answer".into(), body), None)
        .await?;
    if !kept.new {
        return Ok(answer(ncco::talk_and_hang_up("")));
    }
    let Some(call) =
        super::open_inbound(state, CarrierKind::Vonage, &uuid, to.clone(), from).await?
    else {
        tracing::warn!(%to, uuid, "an inbound Vonage call to a number that routes nowhere");
        return Ok(answer(ncco::talk_and_hang_up(UNROUTED_MESSAGE)));
    };
    connect(state, account, call, uuid, CallDirection::Inbound).await
}

/// An event: kept once, and the call moved when it rings, ends or is a machine.
async fn progress(
    state: &AppState,
    account: &CarrierAccount,
    body: &Value,
    call: Option<Call>,
    uuid: String,
) -> ApiResult<Response> {
    let given = body
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("status", "is missing"))?;
    let status: status::CallStatus = given
        .parse()
        .map_err(|e: status::UnknownStatus| ApiError::invalid("status", e.to_string()))?;
    let detail = body.get("detail").and_then(Value::as_str);
    let name = format!("status.{}", status.as_str());
    let call = match call {
        Some(call) => Some(call),
        None => state.store.call_by_carrier_call_id(&uuid).await?,
    };
    let Some(call) = call else {
        if state
            .store
            .carrier_call_known(CarrierKind::Vonage, &uuid)
            .await?
        {
            state
                .store
                .record_telephony_event(event(account, None, &uuid, name, body), None)
                .await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        tracing::warn!(uuid, "a Vonage event for a call we do not know");
        return Err(ApiError::not_found(format!(
            "no call is Vonage call {uuid}"
        )));
    };
    let about = json!({
        "detail": format!("Vonage: {}{}", status.as_str(),
            detail.map(|d| format!(" ({d})")).unwrap_or_default()),
        "amd": status.verdict(),
    });
    let transition = match (status.moves_to(detail), status.outcome(detail)) {
        (Some(to), outcome) => {
            let mut moved = edge_move(call.id, to, leg(account, &uuid), about);
            moved.outcome = outcome;
            Some(moved)
        }
        (None, _)
            if status == status::CallStatus::Completed && call.state == CallState::Answered =>
        {
            let mut moved = edge_move(call.id, CallState::Abandoned, leg(account, &uuid), about);
            moved.outcome = Some(CallOutcomeCode::DialAbandoned);
            Some(moved)
        }
        _ => None,
    };
    let kept = state
        .store
        .record_telephony_event(event(account, Some(call.id), &uuid, name, body), transition)
        .await?;
    if kept.moved.is_some() && status.verdict() == Some(AmdVerdict::Machine) {
        super::hang_up(state, account, call.id, &uuid).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
