//! The telephony edge: every carrier's webhooks, verified, kept, then answered.
//!
//! `POST /api/v1/telephony/{carrier}/{account}/{hook}`. Each request is checked the way its vendor
//! signs it (a bad or missing signature is 403 and changes nothing), kept in the store with the
//! call's move before the carrier gets its 2xx (a redelivery is recognised and changes nothing),
//! and answered in the carrier's own verbs. An answered or inbound call is attached here: a worker
//! is reserved within the 2-second rule and the carrier is told to stream to it; with none free
//! the caller hears the abandon message and the call ends `dial.abandoned`. The dialler follows
//! these moves from the store. `twilio.rs` is Twilio's; the other carriers come beside it.

mod twilio;

use super::test_call::fleet_client;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use chrono::Utc;
use contracts::attach::{AttachAccepted, AttachRequest};
use contracts::telephony::{CarrierAccountId, CarrierKind};
use fleet_client::AttachError;
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
        .route("/calls/{id}/transfer", post(transfer))
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
        other => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found.carrier",
            format!("the {other} edge is not built yet"),
        )),
    }
}

/// The URL the carrier requested, as it signed it: `VOX_PUBLIC_URL` (else this request's
/// `Host`) with the path and query.
fn public_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    let base = match &state.config.public_url {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    format!("{base}{path}")
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

/// Reserves a worker for the call, asking again while the fleet is full, up to the grace period.
pub(crate) async fn attach(state: &AppState, request: &AttachRequest) -> Attached {
    let fleet = match fleet_client(state, GRACE).await {
        Ok(fleet) => fleet,
        Err(error) => return Attached::Nobody(error.message),
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

/// The REST client of a Twilio account, for the edge's own verbs (hang up, transfer).
pub(crate) async fn twilio_client(
    state: &AppState,
    account: &CarrierAccount,
) -> ApiResult<telephony::twilio::TwilioCarrier> {
    let secret = state.store.carrier_account_secret(account.id).await?;
    Ok(telephony::twilio::TwilioCarrier::new(
        telephony::twilio::TwilioConfig {
            account: account.id,
            account_sid: account.account_sid.clone(),
            auth_token: secret,
            api_url: account.api_url.clone(),
            public_url: state.config.public_url.clone().unwrap_or_default(),
            calls_per_second: 1.0,
            numbers: account
                .numbers
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
        },
    ))
}

/// Ends the call at its carrier (best effort: logged when the carrier refuses).
pub(crate) async fn hang_up(
    state: &AppState,
    account: &CarrierAccount,
    call: contracts::CallId,
    carrier_call_id: &str,
) {
    use carrier::Carrier as _;
    let result = match twilio_client(state, account).await {
        Ok(client) => {
            client.follow(call, carrier_call_id);
            client.hang_up(call).await.map_err(|e| e.to_string())
        }
        Err(error) => Err(error.message),
    };
    if let Err(error) = result {
        tracing::warn!(%call, carrier_call_id, %error, "hanging up at the carrier failed");
    }
}

/// `POST /api/v1/calls/{id}/transfer` (the fleet secret): a worker's bot transfers its caller.
pub(crate) async fn transfer(
    State(state): State<AppState>,
    _fleet: crate::auth::Fleet,
    crate::error::ApiPath(id): crate::error::ApiPath<i64>,
    crate::error::ApiJson(body): crate::error::ApiJson<TransferBody>,
) -> ApiResult<StatusCode> {
    let call_id = contracts::CallId(id);
    let call = state.store.call(call_id).await?;
    let to = contracts::E164Number::parse(&body.to)
        .map_err(|e| ApiError::invalid("to", e.to_string()))?;
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
    let client = twilio_client(&state, &account).await?;
    carrier::Carrier::follow(&client, call_id, &sid);
    client
        .transfer(call_id, to.as_str(), call.from.as_ref().map(|f| f.as_str()))
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "carrier.failed", e.to_string()))?;
    state
        .store
        .record_telephony_event(
            store::NewTelephonyEvent {
                carrier: account.carrier,
                account_id: account.id,
                call_id: Some(call_id),
                carrier_call_id: sid,
                event: "transfer".into(),
                sequence: 0,
                payload: serde_json::json!({ "to": to.as_str() }),
                received_at: Utc::now(),
            },
            None,
        )
        .await?;
    tracing::info!(%call_id, to = to.as_str(), "transferred at the carrier");
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
