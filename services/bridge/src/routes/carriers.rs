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
    #[schemars(schema_with = "supported_carriers")]
    carrier: CarrierKind,
    #[schemars(schema_with = "contracts::shape::non_blank")]
    name: String,
    /// The carrier's account id (Twilio's `AC…` Account SID).
    #[schemars(regex(pattern = r"^AC[0-9a-fA-F]{32}$"))]
    account_sid: String,
    /// What signs requests and webhooks (Twilio's Auth Token): required on create, kept when
    /// left out of an update, never shown.
    #[serde(default)]
    #[schemars(schema_with = "contracts::shape::optional_non_blank")]
    secret: Option<String>,
    /// The carrier's REST API base, for an emulator; the carrier's own when absent.
    #[serde(default)]
    #[schemars(regex(pattern = contracts::shape::HTTP_URL))]
    api_url: Option<String>,
    /// Numbers this account owns, E.164.
    #[serde(default)]
    #[schemars(schema_with = "contracts::shape::phone_numbers")]
    numbers: Vec<String>,
}

/// The carriers an account may be saved for now.
const SUPPORTED: &[CarrierKind] = &[CarrierKind::Twilio];

fn supported_carriers(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<String> = SUPPORTED.iter().map(ToString::to_string).collect();
    schemars::json_schema!({ "type": "string", "enum": names })
}

/// A new account's body: an [`AccountBody`] with its secret.
pub(crate) struct NewAccountBody;

impl schemars::JsonSchema for NewAccountBody {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NewAccountBody".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = AccountBody::json_schema(generator);
        if let Some(serde_json::Value::Array(required)) = schema.get_mut("required") {
            required.push("secret".into());
        }
        if let Some(secret) = schema
            .get_mut("properties")
            .and_then(|p| p.get_mut("secret"))
        {
            secret["type"] = "string".into();
        }
        schema
    }
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
        .map(|(i, text)| crate::phone::e164(&format!("numbers[{i}]"), text))
        .collect::<ApiResult<Vec<_>>>()?;
    if !SUPPORTED.contains(&body.carrier) {
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
