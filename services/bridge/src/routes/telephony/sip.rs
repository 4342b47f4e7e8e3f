//! `vox sip` at the edge: the gateway asks where an INVITE goes and says how its media ended.
//!
//! The gateway is vox's own process, so it presents the fleet secret (a bearer token) rather than
//! a carrier's signature; without it a request is 401 and changes nothing. `invite` routes a call
//! by its dialled number exactly as a carrier's inbound webhook is routed (the call opened for its
//! bot, a worker reserved within the 2-second rule) and answers the worker's `vox` media URL;
//! an unrouted number is 404 and a full fleet 503, which the gateway turns into SIP statuses.
//! `ended` keeps how the media ended; the worker's result ends the call itself. `trunk` gives the
//! gateway its trunk's settings, the password with them (the fleet secret guards it as it guards
//! the attach), and the control token the dialler presents to the gateway. `progress` follows a
//! call vox placed: ringing moves it, a final failure ends it with its SIP status's outcome
//! (`telephony::sip::outcome`), and the answer attaches a worker within the 2-second rule and
//! answers its media URL (none free: the call ends `dial.abandoned` and the gateway hangs up); a
//! transfer's NOTIFYs are kept as `transfer.{code}`.

use super::{Leg, Webhook, connect_to_worker, edge_move};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use contracts::attach::MediaProtocol;
use contracts::runtime_config::CallDirection;
use contracts::telephony::CarrierKind;
use contracts::{CallId, CallOutcomeCode, CallState, E164Number};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use store::{CarrierAccount, NewTelephonyEvent};
use subtle::ConstantTimeEq;

/// An INVITE the gateway received.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Invite {
    /// The INVITE's Call-ID: the call's leg.
    pub sip_call_id: String,
    /// The caller's user part (a number, with or without `+`).
    pub from: String,
    /// The dialled user part.
    pub to: String,
}

/// Where the gateway bridges an answered INVITE.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Answer {
    pub call_id: CallId,
    /// The worker's `vox` media WebSocket.
    pub media_url: String,
}

/// Why a call's media ended, as the gateway saw it.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EndReason {
    /// The caller hung up (a BYE or CANCEL).
    HungUp,
    /// The worker ended the call.
    Worker,
    /// No RTP from the caller for the gateway's timeout.
    RtpTimeout,
    /// The worker's socket failed.
    WorkerLost,
    /// The session timer ran out with no refresh from the trunk (RFC 4028).
    SessionExpired,
    /// The Backend or the dialler asked the gateway to hang up.
    HungUpByVox,
    /// A transfer (REFER) took the caller to its target.
    Transferred,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            EndReason::HungUp => "hung_up",
            EndReason::Worker => "worker",
            EndReason::RtpTimeout => "rtp_timeout",
            EndReason::WorkerLost => "worker_lost",
            EndReason::SessionExpired => "session_expired",
            EndReason::HungUpByVox => "hung_up_by_vox",
            EndReason::Transferred => "transferred",
        }
    }
}

/// How a call's media ended.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MediaEnded {
    pub sip_call_id: String,
    pub reason: EndReason,
    #[serde(default)]
    pub detail: Option<String>,
}

pub(super) async fn handle(
    state: &AppState,
    account: &CarrierAccount,
    hook: &str,
    webhook: Webhook,
) -> ApiResult<Response> {
    let presented = webhook
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    let expected = state.config.voxcore_secret.expose_secret();
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ApiError::unauthorized("vox sip presents the fleet secret"));
    }
    match hook {
        "invite" => invite(state, account, body(&webhook)?).await,
        "ended" => ended(state, account, body(&webhook)?).await,
        "progress" => progress(state, account, body(&webhook)?).await,
        "trunk" => trunk(state, account).await,
        other => Err(ApiError::not_found(format!("no SIP hook {other:?}"))),
    }
}

/// What `vox sip` needs of its trunk.
#[derive(Debug, Serialize)]
pub(crate) struct TrunkView {
    /// `host[:port]`: the registrar, or where the trunk's calls go.
    address: String,
    username: Option<String>,
    /// The digest password (the account's secret).
    password: String,
    register: bool,
    outbound_proxy: Option<String>,
    transport: contracts::telephony::SipTransport,
    numbers: Vec<String>,
    /// What the dialler and the edge present to the gateway's call control.
    control_token: String,
    /// Challenge the trunk's INVITEs for `username` and `password`.
    authenticate_callers: bool,
}

async fn trunk(state: &AppState, account: &CarrierAccount) -> ApiResult<Response> {
    let settings = account.trunk.clone().unwrap_or_default();
    let password = state.store.carrier_account_secret(account.id).await?;
    Ok(Json(TrunkView {
        address: account.account_sid.clone(),
        username: settings.username,
        control_token: telephony::sip::control_token(&password),
        authenticate_callers: settings.authenticate_callers,
        password,
        register: settings.register,
        outbound_proxy: settings.outbound_proxy,
        transport: settings.transport,
        numbers: account
            .numbers
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect(),
    })
    .into_response())
}

/// The body as `T`: 422 naming what does not fit (`error::typed`).
fn body<T: serde::de::DeserializeOwned>(webhook: &Webhook) -> ApiResult<T> {
    let value = serde_json::from_slice(&webhook.body)
        .map_err(|e| ApiError::invalid("body", format!("is not JSON: {e}")))?;
    crate::error::typed(value)
}

fn event(
    account: &CarrierAccount,
    call: Option<CallId>,
    sip_call_id: &str,
    name: String,
    payload: serde_json::Value,
) -> NewTelephonyEvent {
    NewTelephonyEvent {
        carrier: CarrierKind::Sip,
        account_id: account.id,
        call_id: call,
        carrier_call_id: sip_call_id.to_owned(),
        event: name,
        sequence: 0,
        payload,
        received_at: Utc::now(),
    }
}

/// A SIP user part as E.164: digits gain their `+`, `00` an international prefix's.
fn number(field: &str, user: &str) -> ApiResult<E164Number> {
    let user = user.trim();
    let user = user
        .strip_prefix("00")
        .map_or(user.to_owned(), |rest| format!("+{rest}"));
    E164Number::parse(&telephony::number::e164(&user))
        .map_err(|e| ApiError::invalid(field, e.to_string()))
}

async fn invite(state: &AppState, account: &CarrierAccount, invite: Invite) -> ApiResult<Response> {
    if invite.sip_call_id.trim().is_empty() {
        return Err(ApiError::invalid("sip_call_id", "is empty"));
    }
    let to = number("to", &invite.to)?;
    let from = number("from", &invite.from).ok();
    let payload = serde_json::json!({"from": invite.from, "to": invite.to});
    let kept = state
        .store
        .record_telephony_event(
            event(account, None, &invite.sip_call_id, "invite".into(), payload),
            None,
        )
        .await?;
    if !kept.new {
        return Err(ApiError::conflict(
            "conflict.call",
            format!("SIP call {} was routed already", invite.sip_call_id),
        ));
    }
    let Some(call) = super::open_inbound(
        state,
        CarrierKind::Sip,
        &invite.sip_call_id,
        to.clone(),
        from,
    )
    .await?
    else {
        tracing::warn!(%to, sip_call_id = %invite.sip_call_id, "a SIP call to a number that routes nowhere");
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found.number",
            format!("{to} routes to no bot"),
        ));
    };
    let leg = Leg {
        account,
        call_sid: &invite.sip_call_id,
        media_protocol: MediaProtocol::Vox,
    };
    match connect_to_worker(state, leg, &call, CallDirection::Inbound).await? {
        Ok(accepted) => Ok(Json(Answer {
            call_id: call.id,
            media_url: accepted.media_url,
        })
        .into_response()),
        Err(message) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "fleet.capacity_exhausted",
            message,
        )),
    }
}

async fn ended(
    state: &AppState,
    account: &CarrierAccount,
    ended: MediaEnded,
) -> ApiResult<Response> {
    let call = state
        .store
        .call_by_carrier_call_id(&ended.sip_call_id)
        .await?;
    let payload = serde_json::json!({"reason": ended.reason.as_str(), "detail": ended.detail});
    let name = format!("ended.{}", ended.reason.as_str());
    let event = event(
        account,
        call.as_ref().map(|c| c.id),
        &ended.sip_call_id,
        name,
        payload,
    );
    if call.is_none()
        && !state
            .store
            .carrier_call_known(CarrierKind::Sip, &ended.sip_call_id)
            .await?
    {
        return Err(ApiError::not_found(format!(
            "no call is SIP call {}",
            ended.sip_call_id
        )));
    }
    // Over after the answer but before a worker had it: the callee was abandoned.
    let abandoned = call
        .as_ref()
        .filter(|c| c.state == CallState::Answered)
        .map(|c| {
            let leg = Leg {
                account,
                call_sid: &ended.sip_call_id,
                media_protocol: MediaProtocol::Vox,
            };
            let detail = serde_json::json!({"detail": ended.detail});
            let mut moved = edge_move(c.id, CallState::Abandoned, leg, detail);
            moved.outcome = Some(CallOutcomeCode::DialAbandoned);
            moved
        });
    state.store.record_telephony_event(event, abandoned).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What happened to a call vox placed, or to a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ProgressEvent {
    /// 180, or 183 with early media.
    Ringing,
    /// 200: the callee answered; the edge attaches a worker.
    Answered,
    /// A final failure before an answer (`code`: its SIP status).
    Failed,
    /// A NOTIFY of a transfer's progress (`code`: its sipfrag status; `last` when final).
    Transfer,
}

/// How a call vox placed is getting on.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Progress {
    pub sip_call_id: String,
    /// The call the dialler placed (all but `transfer`).
    #[serde(default)]
    pub call_id: Option<CallId>,
    pub event: ProgressEvent,
    #[serde(default)]
    pub early_media: Option<bool>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub last: Option<bool>,
}

async fn progress(state: &AppState, account: &CarrierAccount, p: Progress) -> ApiResult<Response> {
    let payload = serde_json::json!({
        "early_media": p.early_media, "code": p.code, "reason": p.reason, "last": p.last,
    });
    let call = match (p.event, p.call_id) {
        // A transfer of any call the gateway carries, inbound ones too.
        (ProgressEvent::Transfer, _) => state
            .store
            .call_by_carrier_call_id(&p.sip_call_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no call is SIP call {}", p.sip_call_id)))?,
        (_, Some(id)) => super::placed_call(state, id, CarrierKind::Sip, &[&p.sip_call_id]).await?,
        (_, None) => {
            return Err(ApiError::invalid(
                "call_id",
                "is required: the call vox placed",
            ));
        }
    };
    let leg = Leg {
        account,
        call_sid: &p.sip_call_id,
        media_protocol: MediaProtocol::Vox,
    };
    let detail = |what: String| serde_json::json!({ "detail": what, "sip": p.code });
    match p.event {
        ProgressEvent::Transfer => {
            let code = p
                .code
                .ok_or_else(|| ApiError::invalid("code", "is required"))?;
            let name = format!("transfer.{code}");
            let kept = event(account, Some(call.id), &p.sip_call_id, name, payload);
            state.store.record_telephony_event(kept, None).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ProgressEvent::Ringing => {
            let moved = edge_move(call.id, CallState::Ringing, leg, detail("ringing".into()));
            let name = if p.early_media == Some(true) {
                "early_media"
            } else {
                "ringing"
            };
            let kept = event(account, Some(call.id), &p.sip_call_id, name.into(), payload);
            state
                .store
                .record_telephony_event(kept, Some(moved))
                .await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ProgressEvent::Failed => {
            let code = p
                .code
                .ok_or_else(|| ApiError::invalid("code", "is required"))?;
            let outcome = telephony::sip::outcome(code).ok_or_else(|| {
                ApiError::invalid("code", format!("{code} is not a final failure"))
            })?;
            let why = format!("SIP {code} {}", p.reason.as_deref().unwrap_or(""));
            let moved = match call.state {
                CallState::Answered => {
                    let mut moved = edge_move(call.id, CallState::Abandoned, leg, detail(why));
                    moved.outcome = Some(CallOutcomeCode::DialAbandoned);
                    Some(moved)
                }
                state if state.is_terminal() => None,
                _ => {
                    let mut moved = edge_move(call.id, outcome.end_state(), leg, detail(why));
                    moved.outcome = Some(outcome);
                    Some(moved)
                }
            };
            let name = format!("failed.{code}");
            let kept = event(account, Some(call.id), &p.sip_call_id, name, payload);
            state.store.record_telephony_event(kept, moved).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ProgressEvent::Answered => {
            let moved = edge_move(call.id, CallState::Answered, leg, detail("answered".into()));
            let kept = event(
                account,
                Some(call.id),
                &p.sip_call_id,
                "answered".into(),
                payload,
            );
            let kept = state
                .store
                .record_telephony_event(kept, Some(moved))
                .await?;
            let Some(answered) = kept.moved else {
                // Ended meanwhile (the dialler canceled it) or a redelivery: nobody takes it.
                return Err(ApiError::conflict(
                    "conflict.call",
                    format!("call {} is {}, not dialling", call.id, call.state),
                ));
            };
            match connect_to_worker(state, leg, &answered, CallDirection::Outbound).await? {
                Ok(accepted) => Ok(Json(Answer {
                    call_id: call.id,
                    media_url: accepted.media_url,
                })
                .into_response()),
                Err(message) => Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "fleet.capacity_exhausted",
                    message,
                )),
            }
        }
    }
}
