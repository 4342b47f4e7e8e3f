//! Plivo at the edge: the answer URL (outbound answer or inbound), ring, hang-up and AMD callbacks.
//!
//! References: <https://www.plivo.com/docs/voice/api/call/make-a-call> (the callbacks'
//! parameters: `CallUUID`, `RequestUUID`, `From`, `To`, `Direction`, `CallStatus`, and on the
//! hang-up URL `HangupCauseCode`, `HangupCauseName`, `Duration`), <https://www.plivo.com/docs/voice/xml/audio-streaming>
//! (the `<Stream>` answer), <https://www.plivo.com/docs/voice/concepts/signature-validation>
//! (`X-Plivo-Signature-V3` with its nonce, keyed by the Auth Token). Outbound callbacks carry our
//! call id in the URL (`?call=ID`, signed with the rest); an inbound call's answer request has
//! none and is routed by its `To` number. A transfer or a last message moves the caller to this
//! edge's `transfer` or `farewell` XML, which Plivo fetches signed like every other request.

use super::{
    Leg, Params, UNROUTED_MESSAGE, Webhook, bad_signature, call_param, connect_to_worker,
    edge_move, placed_call, query_param,
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
use serde_json::json;
use store::{Call, CarrierAccount, NewTelephonyEvent};
use telephony::number::e164;
use telephony::plivo::{signature, status, xml};

pub(super) async fn handle(
    state: &AppState,
    account: &CarrierAccount,
    hook: &str,
    webhook: Webhook,
) -> ApiResult<Response> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&webhook.body)
        .map_err(|e| ApiError::invalid("body", format!("is not a form body: {e}")))?;
    let header = |name: &str| {
        webhook
            .headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(given), Some(nonce)) = (
        header(signature::SIGNATURE_HEADER),
        header(signature::NONCE_HEADER),
    ) else {
        return Err(bad_signature(
            account,
            "the X-Plivo-Signature-V3 or X-Plivo-Signature-V3-Nonce header is missing",
        ));
    };
    let secret = state.store.carrier_account_secret(account.id).await?;
    if !signature::verify(&secret, &webhook.url, &params, &nonce, &given) {
        return Err(bad_signature(
            account,
            &format!("X-Plivo-Signature-V3 does not sign {}", webhook.url),
        ));
    }
    let params = Params(params);
    let call_uuid = params.required("CallUUID")?.to_owned();
    if let "transfer" | "farewell" = hook {
        return moved(state, hook, &webhook.url, &call_uuid).await;
    }
    let request_uuid = params.get("RequestUUID").unwrap_or("").to_owned();
    let call = match call_param(&webhook.url)? {
        Some(id) => {
            let legs = [call_uuid.as_str(), request_uuid.as_str()];
            Some(placed_call(state, id, CarrierKind::Plivo, &legs).await?)
        }
        None => None,
    };
    match (hook, call) {
        ("answer", Some(call)) => answered(state, account, &params, call, call_uuid).await,
        ("answer", None) => inbound(state, account, &params, call_uuid).await,
        ("ring" | "hangup", call) => progress(state, account, &params, call, call_uuid).await,
        ("amd", Some(call)) => machine(state, account, &params, call, call_uuid).await,
        ("amd", None) => Err(ApiError::invalid("call", "is missing from the URL")),
        (other, _) => Err(ApiError::not_found(format!("no Plivo webhook {other:?}"))),
    }
}

/// The XML a live call was moved to (a transfer's `<Dial>`, a last message), for the call and
/// leg its URL names: the URL is the edge's own, and Plivo's signature vouches for it.
async fn moved(state: &AppState, hook: &str, url: &str, call_uuid: &str) -> ApiResult<Response> {
    let id =
        call_param(url)?.ok_or_else(|| ApiError::invalid("call", "is missing from the URL"))?;
    let call = state.store.call(id).await?;
    if call.carrier_call_id.as_deref() != Some(call_uuid) {
        return Err(ApiError::conflict(
            "conflict.carrier_call",
            format!("call {id} is not Plivo call {call_uuid}"),
        ));
    }
    Ok(answer(if hook == "transfer" {
        let to = query_param(url, "to")
            .ok_or_else(|| ApiError::invalid("to", "is missing from the URL"))?;
        let caller = query_param(url, "caller_id");
        xml::dial(&to, caller.as_deref())
    } else {
        xml::speak_and_hang_up(&query_param(url, "say").unwrap_or_default())
    }))
}

fn answer(body: String) -> Response {
    ([(header::CONTENT_TYPE, xml::CONTENT_TYPE)], body).into_response()
}

fn event(
    account: &CarrierAccount,
    call: Option<CallId>,
    call_uuid: &str,
    name: String,
    params: &Params,
) -> NewTelephonyEvent {
    NewTelephonyEvent {
        carrier: CarrierKind::Plivo,
        account_id: account.id,
        call_id: call,
        carrier_call_id: call_uuid.to_owned(),
        event: name,
        sequence: 0,
        payload: params.json(),
        received_at: Utc::now(),
    }
}

/// The Plivo leg a callback is about.
fn leg<'a>(account: &'a CarrierAccount, call_uuid: &'a str) -> Leg<'a> {
    Leg {
        account,
        call_sid: call_uuid,
        media_protocol: MediaProtocol::Plivo,
    }
}

/// Plivo asks what to do with an answered outbound call: attach it or abandon it.
async fn answered(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call: Call,
    call_uuid: String,
) -> ApiResult<Response> {
    let moved = edge_move(
        call.id,
        CallState::Answered,
        leg(account, &call_uuid),
        json!({}),
    );
    let kept = state
        .store
        .record_telephony_event(
            event(account, Some(call.id), &call_uuid, "answer".into(), params),
            Some(moved),
        )
        .await?;
    if kept.moved.is_none() {
        // A redelivery, or a call that ended meanwhile (canceled by the dialler): hang up.
        tracing::info!(call_id = %call.id, new = kept.new, "an answer request for a call that is not dialling; hanging up");
        return Ok(answer(xml::speak_and_hang_up("")));
    }
    connect(state, account, call, call_uuid, CallDirection::Outbound).await
}

/// Attaches an answered call and answers with its stream, or abandons it.
async fn connect(
    state: &AppState,
    account: &CarrierAccount,
    call: Call,
    call_uuid: String,
    direction: CallDirection,
) -> ApiResult<Response> {
    Ok(
        match connect_to_worker(state, leg(account, &call_uuid), &call, direction).await? {
            Ok(accepted) => {
                let id = call.id.to_string();
                answer(xml::stream(&accepted.media_url, &[("call_id", &id)]))
            }
            Err(message) => answer(xml::speak_and_hang_up(message)),
        },
    )
}

/// An inbound call to one of the account's numbers: routed by `To`, recorded, attached.
async fn inbound(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call_uuid: String,
) -> ApiResult<Response> {
    let to = E164Number::parse(&e164(params.required("To")?))
        .map_err(|e| ApiError::invalid("To", e.to_string()))?;
    let from = params
        .get("From")
        .and_then(|f| E164Number::parse(&e164(f)).ok());
    let kept = state
        .store
        .record_telephony_event(
            event(account, None, &call_uuid, "answer".into(), params),
            None,
        )
        .await?;
    if !kept.new {
        return Ok(answer(xml::speak_and_hang_up("")));
    }
    let Some(call) =
        super::open_inbound(state, CarrierKind::Plivo, &call_uuid, to.clone(), from).await?
    else {
        tracing::warn!(%to, call_uuid, "an inbound Plivo call to a number that routes nowhere");
        return Ok(answer(xml::speak_and_hang_up(UNROUTED_MESSAGE)));
    };
    connect(state, account, call, call_uuid, CallDirection::Inbound).await
}

/// A ring or hang-up callback: kept once, and the call moved when it rings or ends.
async fn progress(
    state: &AppState,
    account: &CarrierAccount,
    params: &Params,
    call: Option<Call>,
    call_uuid: String,
) -> ApiResult<Response> {
    let status: status::CallStatus = params
        .required("CallStatus")?
        .parse()
        .map_err(|e: status::UnknownStatus| ApiError::invalid("CallStatus", e.to_string()))?;
    let cause = params
        .get("HangupCauseCode")
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<u32>()
                .map_err(|_| ApiError::invalid("HangupCauseCode", "is not a number"))
        })
        .transpose()?;
    let name = format!("status.{}", status.as_str());
    let call = match call {
        Some(call) => Some(call),
        None => state.store.call_by_carrier_call_id(&call_uuid).await?,
    };
    let Some(call) = call else {
        // A call the edge refused (an unrouted number) has no record, but its answer request
        // was kept: its end is kept beside it.
        if state
            .store
            .carrier_call_known(CarrierKind::Plivo, &call_uuid)
            .await?
        {
            state
                .store
                .record_telephony_event(event(account, None, &call_uuid, name, params), None)
                .await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        tracing::warn!(call_uuid, "a Plivo callback for a call we do not know");
        return Err(ApiError::not_found(format!(
            "no call is Plivo call {call_uuid}"
        )));
    };
    let detail = json!({
        "detail": format!(
            "Plivo: {}{}",
            status.as_str(),
            params.get("HangupCauseName").map(|n| format!(" ({n})")).unwrap_or_default()
        ),
        "hangup_cause_code": cause,
    });
    let transition = match (status.moves_to(cause), status.outcome(cause)) {
        (Some(to), outcome) => {
            let mut moved = edge_move(call.id, to, leg(account, &call_uuid), detail);
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
                leg(account, &call_uuid),
                detail,
            );
            moved.outcome = Some(CallOutcomeCode::DialAbandoned);
            Some(moved)
        }
        _ => None,
    };
    state
        .store
        .record_telephony_event(
            event(account, Some(call.id), &call_uuid, name, params),
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
    call_uuid: String,
) -> ApiResult<Response> {
    let given = params.required("Machine")?;
    let verdict = status::machine(given).ok_or_else(|| {
        ApiError::invalid("Machine", format!("{given:?} is neither true nor false"))
    })?;
    let transition = (verdict == AmdVerdict::Machine).then(|| {
        let mut moved = edge_move(
            call.id,
            CallState::Machine,
            leg(account, &call_uuid),
            json!({ "detail": "Plivo machine detection: a machine", "amd": verdict }),
        );
        moved.outcome = Some(CallOutcomeCode::DialMachine);
        moved
    });
    let kept = state
        .store
        .record_telephony_event(
            event(account, Some(call.id), &call_uuid, "amd".into(), params),
            transition,
        )
        .await?;
    if kept.moved.is_some() {
        super::hang_up(state, account, call.id, &call_uuid).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
