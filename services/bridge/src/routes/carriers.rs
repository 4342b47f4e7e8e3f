//! Carrier accounts: several per carrier, secrets write-only, their numbers and webhook URLs.

use super::{audit, snapshot};
use crate::AppState;
use crate::auth::{Authorized, role};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use contracts::telephony::{CarrierAccountId, CarrierKind};
use serde::{Deserialize, Serialize};
use store::{CarrierAccount, NewCarrierAccount};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/carrier-accounts", get(list).post(create))
        .route("/carrier-accounts/{id}", put(update))
}

/// A carrier account as an operator saves it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountBody {
    carrier: CarrierKind,
    name: String,
    /// The carrier's account id (Twilio's `AC…` Account SID).
    account_sid: String,
    /// What signs requests and webhooks (Twilio's Auth Token): required on create, kept when
    /// left out of an update, never shown.
    #[serde(default)]
    secret: Option<String>,
    /// The carrier's REST API base, for an emulator; the carrier's own when absent.
    #[serde(default)]
    api_url: Option<String>,
    /// Numbers this account owns, as typed (E.164, or national with `region`).
    #[serde(default)]
    numbers: Vec<String>,
    /// The region national numbers are read in (`US`, `GB`, …).
    #[serde(default)]
    region: Option<String>,
}

/// A saved account, without its secret, with the URLs to give the carrier.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct AccountView {
    id: i64,
    carrier: CarrierKind,
    name: String,
    account_sid: String,
    api_url: Option<String>,
    numbers: Vec<String>,
    /// Always true: the secret is saved and never shown.
    secret_set: bool,
    /// The voice URL to set on the account's inbound numbers (`VOX_PUBLIC_URL` based; `null`
    /// until it is set).
    inbound_voice_url: Option<String>,
    /// The status callback URL for inbound numbers.
    inbound_status_url: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

fn view(state: &AppState, account: &CarrierAccount) -> AccountView {
    let base = state.config.public_url.as_deref().map(|base| {
        format!(
            "{}/api/v1/telephony/{}/{}",
            base.trim_end_matches('/'),
            account.carrier,
            account.id
        )
    });
    AccountView {
        id: account.id.0,
        carrier: account.carrier,
        name: account.name.clone(),
        account_sid: account.account_sid.clone(),
        api_url: account.api_url.clone(),
        numbers: account
            .numbers
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect(),
        secret_set: true,
        inbound_voice_url: base.as_ref().map(|b| format!("{b}/voice")),
        inbound_status_url: base.map(|b| format!("{b}/status")),
        created_at: account.created_at,
        updated_at: account.updated_at,
    }
}

fn account(body: AccountBody) -> ApiResult<NewCarrierAccount> {
    let numbers = body
        .numbers
        .iter()
        .enumerate()
        .map(|(i, text)| {
            crate::phone::normalise(&format!("numbers[{i}]"), text, body.region.as_deref())
        })
        .collect::<ApiResult<Vec<_>>>()?;
    if body.carrier != CarrierKind::Twilio {
        return Err(ApiError::invalid(
            "carrier",
            format!(
                "{} accounts are not supported yet (twilio is)",
                body.carrier
            ),
        ));
    }
    let sid = &body.account_sid;
    let twilio_sid =
        sid.len() == 34 && sid.starts_with("AC") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !twilio_sid {
        return Err(ApiError::invalid(
            "account_sid",
            "a Twilio Account SID is AC followed by 32 hex digits (the console's account page)",
        ));
    }
    Ok(NewCarrierAccount {
        carrier: body.carrier,
        name: body.name,
        account_sid: body.account_sid,
        secret: body.secret,
        api_url: body.api_url,
        numbers,
    })
}

async fn list(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
) -> ApiResult<Json<Vec<AccountView>>> {
    let accounts = state.store.list_carrier_accounts().await?;
    Ok(Json(accounts.iter().map(|a| view(&state, a)).collect()))
}

async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiJson(body): ApiJson<AccountBody>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let saved = state.store.create_carrier_account(account(body)?).await?;
    let shown = view(&state, &saved);
    audit(
        &state,
        &principal,
        "carrier_accounts.create",
        "carrier_accounts",
        saved.id,
        None,
        snapshot(&shown),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(shown)))
}

async fn update(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AccountBody>,
) -> ApiResult<Json<AccountView>> {
    let id = CarrierAccountId(id);
    let before = view(&state, &state.store.carrier_account(id).await?);
    let saved = state
        .store
        .update_carrier_account(id, account(body)?)
        .await?;
    let shown = view(&state, &saved);
    audit(
        &state,
        &principal,
        "carrier_accounts.update",
        "carrier_accounts",
        id,
        snapshot(&before),
        snapshot(&shown),
    )
    .await?;
    Ok(Json(shown))
}
