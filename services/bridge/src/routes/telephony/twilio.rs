//! Twilio at the edge: the voice webhook (answer or inbound), status callbacks and async AMD.
//!
//! References: <https://www.twilio.com/docs/voice/twiml> (the voice request's parameters and the
//! TwiML answer), <https://www.twilio.com/docs/voice/api/call-resource#statuscallback> (status
//! callbacks: `CallStatus`, `SequenceNumber`, `SipResponseCode`, possibly out of order),
//! <https://www.twilio.com/docs/voice/answering-machine-detection> (`AnsweredBy`),
//! <https://www.twilio.com/docs/usage/webhooks/webhooks-security> (`X-Twilio-Signature`).
//! Outbound webhooks carry our call id in the URL (`?call=ID`, signed with the rest); an inbound
//! call's voice request has none and is routed by its `To` number.

use super::{
    Leg, Params, UNROUTED_MESSAGE, Webhook, bad_signature, call_param, connect_to_worker,
    edge_move, placed_call,
};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use contracts::attach::MediaProtocol;
use contracts::runtime_config::CallDirection;
use contracts::telephony::CarrierKind;
use contracts::{CallId, CallOutcomeCode, CallState, E164Number};
use serde_json::json;
use store::{Call, CarrierAccount, NewTelephonyEvent};
use telephony::twilio::{SIGNATURE_HEADER, signature, status, twiml};

pub(super) async fn handle(
    state: &AppState,
    account: &CarrierAccount,
    hook: &str,
    webhook: Webhook,
) -> ApiResult<Response> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&webhook.body)
        .map_err(|e| ApiError::invalid("body", format!("is not a form body: {e}")))?;
    let Some(given) = webhook
        .headers
        .get(SIGNATURE_HEADER)
        .and_then(|h| h.to_str().ok())
    else {
        return Err(bad_signature(
            account,
            "the X-Twilio-Signature header is missing",
        ));
    };
    let secret = state.store.carrier_account_secret(account.id).await?;
    if !signature::verify(&secret, &webhook.url, &params, given) {
        return Err(bad_signature(
            account,
            &format!("X-Twilio-Signature does not sign {}", webhook.url),
        ));
    }
    let params = Params(params);
    if params.required("AccountSid")? != account.account_sid {
        return Err(bad_signature(
            account,
            "the AccountSid is not this account's",
        ));
    }
    let call_sid = params.required("CallSid")?.to_owned();
    let call = match call_param(&webhook.url)? {
        Some(id) => Some(placed_call(state, id, CarrierKind::Twilio, &[&call_sid]).await?),
        None => None,
    };
    match (hook, call) {
        ("voice", Some(call)) => answered(state, account, &params, call, call_sid).await,
        ("voice", None) => inbound(state, account, &params, call_sid).await,
        ("status", call) => progress(state, account, &params, call, call_sid).await,
        ("amd", Some(call)) => machine(state, account, &params, call, call_sid).await,
        ("amd", None) => Err(ApiError::invalid("call", "is missing from the URL")),
        (other, _) => Err(ApiError::not_found(format!("no Twilio webhook {other:?}"))),
    }
}

fn twiml(body: String) -> Response {
    ([(header::CONTENT_TYPE, twiml::CONTENT_TYPE)], body).into_response()
}

fn event(
    account: &CarrierAccount,
    call: Option<CallId>,
    call_sid: &str,
    name: String,
    sequence: i64,
    params: &Params,
) -> NewTelephonyEvent {
    NewTelephonyEvent {
        carrier: CarrierKind::Twilio,
        account_id: account.id,
        call_id: call,
        carrier_call_id: call_sid.to_owned(),
        event: name,
        sequence,
        payload: params.json(),
        received_at: Utc::now(),
    }
}

/// The Twilio leg a webhook is about.
fn leg<'a>(account: &'a CarrierAccount, call_sid: &'a str) -> Leg<'a> {
    Leg {
        account,
        call_sid,
        media_protocol: MediaProtocol::Twilio,
    }
}

/// Twilio asks what to do with an answered outbound call: attach it or abandon it.
async fn answered(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call: Call,
    call_sid: String,
) -> ApiResult<Response> {
    let answer = edge_move(
        call.id,
        CallState::Answered,
        leg(account, &call_sid),
        json!({}),
    );
    let kept = state
        .store
        .record_telephony_event(
            event(account, Some(call.id), &call_sid, "voice".into(), 0, params),
            Some(answer),
        )
        .await?;
    if kept.moved.is_none() {
        // A redelivery, or a call that ended meanwhile (canceled by the dialler): hang up.
        tracing::info!(call_id = %call.id, new = kept.new, "a voice request for a call that is not dialling; hanging up");
        return Ok(twiml(twiml::say_and_hang_up("")));
    }
    connect(state, account, call, call_sid, CallDirection::Outbound).await
}

/// Attaches an answered call and answers with its stream, or abandons it.
async fn connect(
    state: &AppState,
    account: &CarrierAccount,
    call: Call,
    call_sid: String,
    direction: CallDirection,
) -> ApiResult<Response> {
    Ok(
        match connect_to_worker(state, leg(account, &call_sid), &call, direction).await? {
            Ok(accepted) => {
                let id = call.id.to_string();
                twiml(twiml::connect_stream(
                    &accepted.media_url,
                    &[("call_id", &id)],
                ))
            }
            Err(message) => twiml(twiml::say_and_hang_up(message)),
        },
    )
}

/// An inbound call to one of the account's numbers: routed by `To`, recorded, attached.
async fn inbound(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call_sid: String,
) -> ApiResult<Response> {
    let to = E164Number::parse(params.required("To")?)
        .map_err(|e| ApiError::invalid("To", e.to_string()))?;
    let from = params.get("From").and_then(|f| E164Number::parse(f).ok());
    let kept = state
        .store
        .record_telephony_event(
            event(account, None, &call_sid, "voice".into(), 0, params),
            None,
        )
        .await?;
    if !kept.new {
        return Ok(twiml(twiml::say_and_hang_up("")));
    }
    let Some(call) =
        super::open_inbound(state, CarrierKind::Twilio, &call_sid, to.clone(), from).await?
    else {
        tracing::warn!(%to, call_sid, "an inbound call to a number that routes nowhere");
        return Ok(twiml(twiml::say_and_hang_up(UNROUTED_MESSAGE)));
    };
    connect(state, account, call, call_sid, CallDirection::Inbound).await
}

/// A status callback: kept once, and the call moved when the status ends or advances it.
async fn progress(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call: Option<Call>,
    call_sid: String,
) -> ApiResult<Response> {
    let status: status::CallStatus = params
        .required("CallStatus")?
        .parse()
        .map_err(|e: status::UnknownStatus| ApiError::invalid("CallStatus", e.to_string()))?;
    let sequence = params
        .get("SequenceNumber")
        .map(|n| {
            n.parse::<i64>()
                .map_err(|_| ApiError::invalid("SequenceNumber", "is not a number"))
        })
        .transpose()?
        .unwrap_or(0);
    let sip = params
        .get("SipResponseCode")
        .and_then(|c| c.parse::<u16>().ok());
    let call = match call {
        Some(call) => Some(call),
        None => state.store.call_by_carrier_call_id(&call_sid).await?,
    };
    let Some(call) = call else {
        // A call the edge refused (an unrouted number) has no record, but its voice webhook was
        // kept: its end is kept beside it, and Twilio is not shown an error for it.
        if state
            .store
            .carrier_call_known(CarrierKind::Twilio, &call_sid)
            .await?
        {
            state
                .store
                .record_telephony_event(
                    event(
                        account,
                        None,
                        &call_sid,
                        format!("status.{}", status.as_str()),
                        sequence,
                        params,
                    ),
                    None,
                )
                .await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        tracing::warn!(
            call_sid,
            "a Twilio status callback for a call we do not know"
        );
        return Err(ApiError::not_found(format!(
            "no call is Twilio call {call_sid}"
        )));
    };
    let detail = json!({ "detail": format!("Twilio: {}", status.as_str()), "sip": sip });
    let transition = match (status.moves_to(), status.outcome(sip)) {
        (Some(to), outcome) => {
            let mut moved = edge_move(call.id, to, leg(account, &call_sid), detail);
            moved.outcome = outcome;
            Some(moved)
        }
        // Hung up after the answer but before a worker had it: the caller was abandoned.
        (None, _)
            if status == status::CallStatus::Completed && call.state == CallState::Answered =>
        {
            let mut moved = edge_move(
                call.id,
                CallState::Abandoned,
                leg(account, &call_sid),
                detail,
            );
            moved.outcome = Some(CallOutcomeCode::DialAbandoned);
            Some(moved)
        }
        _ => None,
    };
    let name = format!("status.{}", status.as_str());
    state
        .store
        .record_telephony_event(
            event(account, Some(call.id), &call_sid, name, sequence, params),
            transition,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The asynchronous machine-detection verdict: a machine is hung up on and ends `dial.machine`.
async fn machine(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call: Call,
    call_sid: String,
) -> ApiResult<Response> {
    let answered_by = params.required("AnsweredBy")?;
    let verdict = status::answered_by(answered_by).ok_or_else(|| {
        ApiError::invalid(
            "AnsweredBy",
            format!("{answered_by:?} is not a Twilio verdict"),
        )
    })?;
    let is_machine = verdict == contracts::attach::AmdVerdict::Machine;
    let transition = is_machine.then(|| {
        let mut moved = edge_move(
            call.id,
            CallState::Machine,
            leg(account, &call_sid),
            json!({ "detail": format!("Twilio AMD: {answered_by}"), "amd": verdict }),
        );
        moved.outcome = Some(CallOutcomeCode::DialMachine);
        moved
    });
    let kept = state
        .store
        .record_telephony_event(
            event(account, Some(call.id), &call_sid, "amd".into(), 0, params),
            transition,
        )
        .await?;
    if kept.moved.is_some() {
        super::hang_up(state, account, call.id, &call_sid).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
