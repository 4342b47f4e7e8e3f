//! The telephony edge: every carrier's webhooks, verified, kept, then answered.
//!
//! `POST /api/v1/telephony/{carrier}/{account}/{hook}`. Each request is checked the way its vendor
//! signs it (a bad or missing signature is 403 and changes nothing), kept in the store with the
//! call's move before the carrier gets its 2xx (a redelivery is recognised and changes nothing),
//! and answered in the carrier's own verbs. An answered or inbound call is attached here: a worker
//! is reserved within the 2-second rule and the carrier is told to stream to it; with none free
//! the caller hears the abandon message and the call ends `dial.abandoned`. The dialler follows
//! these moves from the store. One file per carrier (`twilio.rs`, `telnyx.rs`, `plivo.rs`,
//! `vonage.rs`, `exotel.rs`, and `sip.rs` for vox's own SIP gateway); Exotel's URLs carry the
//! account's key, as Exotel signs nothing, and `vox sip` presents the fleet secret. What a
//! worker's bot asks of a live call's carrier (transfer, keys) is in `verbs.rs`.

mod exotel;

pub(crate) use exotel::StreamUrl;
mod plivo;
mod sip;
mod telnyx;
mod twilio;
mod verbs;
mod vonage;

pub(crate) use verbs::{DigitsBody, TransferBody};

use super::test_call::fleet_client;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use contracts::attach::{AttachAccepted, AttachRequest};
use contracts::telephony::{CarrierAccountId, CarrierKind};
use fleet_client::{AttachError, FleetClient};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::time::Duration;
use store::CarrierAccount;

/// How long an answered call may wait for a worker before it is abandoned (the 2-second rule).
pub(crate) const GRACE: Duration = Duration::from_secs(2);
/// How often a full fleet is asked again within the grace period.
const RETRY: Duration = Duration::from_millis(100);
/// Said to an answered outbound call nobody can take.
pub(crate) const ABANDON_MESSAGE: &str =
    "Sorry, we called you by mistake. We will not call again today.";
/// Said to an inbound call on a number that routes nowhere.
pub(crate) const UNROUTED_MESSAGE: &str = "Sorry, this number is not in service.";
/// Said to an inbound call when every line is busy.
pub(crate) const BUSY_MESSAGE: &str = "Sorry, all our lines are busy. Please call again later.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/telephony/{carrier}/{account}/{hook}", post(webhook))
        .route(
            "/telephony/exotel/{account}/{key}/{hook}",
            get(exotel::hook).post(exotel::hook),
        )
        .route("/calls/{id}/transfer", post(verbs::transfer))
        .route("/calls/{id}/digits", post(verbs::send_digits))
}

/// One webhook as it arrived: the URL the carrier called, its headers and its body.
#[derive(Debug)]
pub(crate) struct Webhook {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

async fn webhook(
    State(state): State<AppState>,
    Path((carrier, account, hook)): Path<(String, String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let kind: CarrierKind =
        carrier
            .parse()
            .map_err(|e: contracts::telephony::UnknownCarrier| {
                ApiError::new(StatusCode::NOT_FOUND, "not_found.carrier", e.to_string())
            })?;
    let id = account.parse::<i64>().map(CarrierAccountId).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found.carrier_account",
            format!("{account:?} is not a carrier account id"),
        )
    })?;
    let account = state.store.carrier_account(id).await.map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found.carrier_account",
            format!("there is no carrier account {id}"),
        )
    })?;
    if account.carrier != kind {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found.carrier_account",
            format!("carrier account {id} is a {} account", account.carrier),
        ));
    }
    let url = public_url(&state, &headers, &uri);
    let webhook = Webhook { url, headers, body };
    match kind {
        CarrierKind::Twilio => twilio::handle(&state, &account, &hook, webhook).await,
        CarrierKind::Telnyx => telnyx::handle(&state, &account, &hook, webhook).await,
        CarrierKind::Plivo => plivo::handle(&state, &account, &hook, webhook).await,
        CarrierKind::Vonage => vonage::handle(&state, &account, &hook, webhook).await,
        CarrierKind::Sip => sip::handle(&state, &account, &hook, webhook).await,
        // Exotel signs nothing: its URLs carry the account's key (`…/{account}/{key}/{hook}`).
        CarrierKind::Exotel => Err(bad_signature(
            &account,
            "an Exotel URL carries the account's key before its hook",
        )),
    }
}

/// The URL the carrier requested, as it signed it: `VOX_PUBLIC_URL` (else this request's
/// `Host`) with the path and query.
fn public_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    format!("{}{path}", public_base(state, headers))
}

/// `VOX_PUBLIC_URL`, else the base this request was sent to (its `Host`).
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    match &state.config.public_url {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// A webhook the signature does not vouch for: 403, logged with what the carrier sent.
pub(crate) fn bad_signature(account: &CarrierAccount, what: &str) -> ApiError {
    tracing::warn!(account = %account.id, carrier = %account.carrier, "refused a webhook: {what}");
    ApiError::new(StatusCode::FORBIDDEN, "auth.signature", what.to_owned())
}

/// How attaching an answered call went.
pub(crate) enum Attached {
    Worker(AttachAccepted),
    /// No worker within the grace period (or none configured): why.
    Nobody(String),
}

/// Reserves a worker for the call, asking again while the fleet is full, up to the grace period;
/// with `own_fleet` (an inbound number's), only that saved fleet is asked.
pub(crate) async fn attach(
    state: &AppState,
    request: &AttachRequest,
    own_fleet: Option<&str>,
) -> Attached {
    let fleet = match own_fleet {
        Some(url) => match own_fleet_client(state, url).await {
            Ok(fleet) => fleet,
            Err(why) => return Attached::Nobody(why),
        },
        None => match fleet_client(state, GRACE).await {
            Ok(fleet) => fleet,
            Err(error) => return Attached::Nobody(error.message),
        },
    };
    let deadline = tokio::time::Instant::now() + GRACE;
    loop {
        match fleet.attach(request).await {
            Ok(accepted) => return Attached::Worker(accepted),
            Err(AttachError::NoCapacity { reasons, .. }) => {
                if tokio::time::Instant::now() + RETRY >= deadline {
                    return Attached::Nobody(format!(
                        "no worker was free within {} s ({})",
                        GRACE.as_secs(),
                        reasons.join("; ")
                    ));
                }
                tokio::time::sleep(RETRY).await;
            }
            Err(refused @ AttachError::Refused { .. }) => {
                return Attached::Nobody(refused.to_string());
            }
        }
    }
}

/// The one saved fleet an inbound number names. It is asked directly, not through the capacity
/// registry: the registry picks among all workers, and a worker refuses a call it has no slot
/// for, so the registry's next reservation on it just goes elsewhere.
async fn own_fleet_client(state: &AppState, url: &str) -> Result<FleetClient, String> {
    let saved = super::settings::reachable_fleets(state)
        .await
        .map_err(|error| error.message)?;
    if !saved.iter().any(|fleet| fleet == url) {
        return Err(format!(
            "the number's fleet {url} is no longer a saved fleet within FLEET_NETWORKS"
        ));
    }
    Ok(FleetClient::new(
        vec![url.to_owned()],
        state.config.voxcore_secret.expose_secret().to_owned(),
        GRACE,
    ))
}

/// Which fleet takes `call` (an inbound number's own) and whom it is made for (the number's or
/// the campaign's client).
async fn placement(
    state: &AppState,
    call: &store::Call,
) -> ApiResult<(Option<String>, Option<String>)> {
    if let Some(campaign) = call.campaign_id {
        let campaign = state.store.campaign(campaign).await?;
        return Ok((
            None,
            store::dialler_settings::client(&campaign.config.settings),
        ));
    }
    let route = match &call.to {
        Some(number) => super::settings::route_for_number(state, number).await?,
        None => None,
    };
    Ok(route.map_or((None, None), |route| (route.fleet, route.client)))
}

/// A verified request's parameters.
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn required(&self, name: &str) -> ApiResult<&str> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid(name, "is missing"))
    }

    pub fn json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// `?call=ID` of an outbound webhook's URL (signed with the rest of the URL).
pub(crate) fn call_param(url: &str) -> ApiResult<Option<contracts::CallId>> {
    query_param(url, "call")
        .map(|v| {
            v.parse::<i64>()
                .map(contracts::CallId)
                .map_err(|_| ApiError::invalid("call", "is not a call id"))
        })
        .transpose()
}

/// A query parameter of a webhook's URL.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The outbound call a webhook names, refused unless we placed it as one of `legs` (the
/// carrier's ids for the call: Plivo has a request id before its call id).
pub(crate) async fn placed_call(
    state: &AppState,
    id: contracts::CallId,
    carrier: CarrierKind,
    legs: &[&str],
) -> ApiResult<store::Call> {
    let call = state.store.call(id).await.map_err(|_| {
        tracing::warn!(%id, %carrier, ?legs, "a webhook for a call we never placed");
        ApiError::not_found(format!("there is no call {id}"))
    })?;
    if call.direction != contracts::runtime_config::CallDirection::Outbound
        || call
            .carrier_call_id
            .as_deref()
            .is_some_and(|leg| !legs.contains(&leg))
    {
        tracing::warn!(%id, %carrier, ?legs, "a webhook whose call is not the call's leg");
        return Err(ApiError::conflict(
            "conflict.carrier_call",
            format!(
                "call {id} is not {carrier} call {}",
                legs.first().unwrap_or(&"")
            ),
        ));
    }
    Ok(call)
}

/// An inbound call to `to` opened for the bot the number routes to, answered, with its carrier
/// leg noted (so the leg's later webhooks find it); `None` when the number routes nowhere.
pub(crate) async fn open_inbound(
    state: &AppState,
    carrier: CarrierKind,
    leg: &str,
    to: contracts::E164Number,
    from: Option<contracts::E164Number>,
) -> ApiResult<Option<store::Call>> {
    let Some(bot) = super::settings::bot_for_number(state, &to).await? else {
        return Ok(None);
    };
    let call = state
        .store
        .create_call(store::NewCall {
            direction: contracts::runtime_config::CallDirection::Inbound,
            bot_id: bot,
            campaign_id: None,
            contact_id: None,
            from,
            to: Some(to),
            state: contracts::CallState::Answered,
            variables: Default::default(),
            carrier_call_id: None,
            now: Utc::now(),
        })
        .await?;
    state
        .store
        .note_call_leg(call.id, carrier, leg, None)
        .await?;
    Ok(Some(call))
}

/// An answered call's leg at its carrier.
#[derive(Clone, Copy)]
pub(crate) struct Leg<'a> {
    pub account: &'a CarrierAccount,
    pub call_sid: &'a str,
    pub media_protocol: contracts::attach::MediaProtocol,
}

/// A move the edge makes, marked as the edge's and the carrier's.
pub(crate) fn edge_move(
    call: contracts::CallId,
    to: contracts::CallState,
    leg: Leg<'_>,
    detail: Value,
) -> store::Transition {
    let mut transition = store::Transition::new(call, to, to, Utc::now());
    let mut detail = detail;
    detail["source"] = serde_json::json!("edge");
    detail["carrier"] = serde_json::json!(leg.account.carrier);
    transition.detail = Some(detail);
    transition.carrier_call_id = Some(leg.call_sid.to_owned());
    transition
}

/// Attaches an answered call to a worker and moves it to `attaching`; with none free within the
/// grace period, ends it (`dial.abandoned`, or fleet capacity for an inbound call) and gives the
/// message to say before hanging up.
pub(crate) async fn connect_to_worker(
    state: &AppState,
    leg: Leg<'_>,
    call: &store::Call,
    direction: contracts::runtime_config::CallDirection,
) -> ApiResult<Result<AttachAccepted, &'static str>> {
    use contracts::{CallOutcomeCode, CallState};
    let (own_fleet, client) = placement(state, call).await?;
    let request = AttachRequest {
        call_id: call.id,
        direction,
        campaign_id: call.campaign_id,
        carrier: leg.account.carrier.as_str().to_owned(),
        carrier_call_id: leg.call_sid.to_owned(),
        media_protocol: leg.media_protocol,
        from: call.from.clone(),
        to: call.to.clone(),
        answered_at: Utc::now(),
        amd: None,
        client,
    };
    match attach(state, &request, own_fleet.as_deref()).await {
        Attached::Worker(accepted) => {
            // The worker may have taken the call (in progress) before this move lands: its leg
            // and worker are kept either way.
            state
                .store
                .note_call_leg(
                    call.id,
                    leg.account.carrier,
                    leg.call_sid,
                    Some(&accepted.worker_id),
                )
                .await?;
            let mut moved = edge_move(call.id, CallState::Attaching, leg, serde_json::json!({}));
            moved.from = CallState::Answered;
            moved.worker_id = Some(accepted.worker_id.clone());
            super::move_unless_stale(&*state.store, moved).await?;
            tracing::info!(call_id = %call.id, worker = %accepted.worker_id, account = %leg.account.id, "streaming the call to a worker");
            Ok(Ok(accepted))
        }
        Attached::Nobody(reason) => {
            let (outcome, message) = match direction {
                contracts::runtime_config::CallDirection::Outbound => {
                    (CallOutcomeCode::DialAbandoned, ABANDON_MESSAGE)
                }
                _ => (CallOutcomeCode::FleetCapacityExhausted, BUSY_MESSAGE),
            };
            let mut end = edge_move(
                call.id,
                outcome.end_state(),
                leg,
                serde_json::json!({ "detail": reason }),
            );
            end.from = CallState::Answered;
            end.outcome = Some(outcome);
            super::move_unless_stale(&*state.store, end).await?;
            tracing::warn!(call_id = %call.id, %reason, "no worker for an answered call: {outcome}");
            Ok(Err(message))
        }
    }
}

/// The REST client of a carrier account, for the edge's own verbs (hang up, transfer, answer).
pub(crate) async fn account_client(
    state: &AppState,
    account: &CarrierAccount,
) -> ApiResult<std::sync::Arc<dyn telephony::AccountCarrier>> {
    let secret = state.store.carrier_account_secret(account.id).await?;
    telephony::client(config(state, account, secret))
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "not_found.carrier", e))
}

/// A carrier account's client configuration, with its secret.
pub(crate) fn config(
    state: &AppState,
    account: &CarrierAccount,
    secret: String,
) -> telephony::AccountConfig {
    telephony::AccountConfig {
        account: account.id,
        carrier: account.carrier,
        account_sid: account.account_sid.clone(),
        secret,
        api_url: account.api_url.clone(),
        public_url: state.config.public_url.clone().unwrap_or_default(),
        numbers: account
            .numbers
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect(),
        calls_per_second: 1.0,
    }
}

/// Ends the call at its carrier (best effort: logged when the carrier refuses).
pub(crate) async fn hang_up(
    state: &AppState,
    account: &CarrierAccount,
    call: contracts::CallId,
    carrier_call_id: &str,
) {
    let client = match account_client(state, account).await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%call, carrier_call_id, error = %error.message, "no client to hang up with");
            return;
        }
    };
    client.follow(call, carrier_call_id);
    match client.hang_up(call).await {
        Ok(()) => {}
        Err(carrier::CarrierError::UnknownCall(_)) => {
            tracing::info!(%call, carrier_call_id, "the call was over at the carrier already");
        }
        Err(error) => {
            tracing::warn!(%call, carrier_call_id, %error, "hanging up at the carrier failed");
        }
    }
}

/// A worker is done with the call: where the carrier's call outlives its media stream (Telnyx:
/// closing the stream leaves the caller in silence), it is hung up at the carrier, in the
/// background. Twilio's `<Connect><Stream>` ends the call with the stream.
pub(crate) async fn end_at_carrier(state: &AppState, call: &store::Call) {
    let Some(leg) = call.carrier_call_id.clone() else {
        return;
    };
    let account = match state.store.carrier_account_of_call(call.id).await {
        Ok(Some(id)) => state.store.carrier_account(id).await.ok(),
        _ => None,
    };
    let Some(account) = account.filter(|a| a.carrier == CarrierKind::Telnyx) else {
        return;
    };
    let (state, call) = (state.clone(), call.id);
    tokio::spawn(async move { hang_up(&state, &account, call, &leg).await });
}
