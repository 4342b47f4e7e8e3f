//! Carrier accounts: several per carrier, secrets write-only, their numbers and webhook URLs.

use super::{audit, snapshot};
use crate::AppState;
use crate::auth::{Authorized, role};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use contracts::telephony::{CarrierAccountId, CarrierKind, SipTrunk};
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
#[schemars(transform = per_carrier_rules)]
pub(crate) struct AccountBody {
    #[schemars(schema_with = "supported_carriers")]
    carrier: CarrierKind,
    #[schemars(schema_with = "contracts::shape::non_blank")]
    name: String,
    /// The carrier's account id: Twilio's `AC…` Account SID, Telnyx's Call Control application
    /// id (its `connection_id`, digits), Plivo's Auth ID (`MA…` or a subaccount's `SA…`), the
    /// Vonage application's id (a UUID), Exotel's Account SID and Voicebot flow (`SID/APP_ID`),
    /// a SIP trunk's address (`host[:port]`: its registrar, or where its calls go).
    account_sid: String,
    /// What signs requests (Twilio's and Plivo's Auth Token, Telnyx's V2 API key, the Vonage
    /// application's private key in PEM, Exotel's `API_KEY:API_TOKEN`, a SIP trunk's digest
    /// password): required on create, kept when left out of an update, never shown. A trunk that
    /// authenticates vox by its IP address has no password: any placeholder.
    #[serde(default)]
    #[schemars(schema_with = "contracts::shape::optional_non_blank")]
    secret: Option<String>,
    /// The carrier's REST API base, for an emulator; the carrier's own when absent. For a SIP
    /// trunk, its `vox sip` call control (`VOX_SIP_CONTROL_LISTEN`), `http://127.0.0.1:8093` when
    /// absent.
    #[serde(default)]
    #[schemars(regex(pattern = contracts::shape::HTTP_URL))]
    api_url: Option<String>,
    /// Numbers this account owns, E.164.
    #[serde(default)]
    #[schemars(schema_with = "contracts::shape::phone_numbers")]
    numbers: Vec<String>,
    /// What the carrier's webhooks are verified with when it is not the secret: Telnyx's public
    /// key (base64, Mission Control's "Keys & Credentials"), Vonage's signature secret; required
    /// on a Telnyx or Vonage account's create. Kept when left out of an update, never shown.
    #[serde(default)]
    #[schemars(schema_with = "contracts::shape::optional_non_blank")]
    webhook_key: Option<String>,
    /// A SIP trunk's settings (`sip` accounts only): its digest username, whether vox registers
    /// with it, an outbound proxy, the transport. Absent: an IP-authenticated trunk over UDP.
    #[serde(default)]
    trunk: Option<SipTrunk>,
}

/// The carriers an account may be saved for now.
const SUPPORTED: &[CarrierKind] = &[
    CarrierKind::Twilio,
    CarrierKind::Telnyx,
    CarrierKind::Plivo,
    CarrierKind::Vonage,
    CarrierKind::Exotel,
    CarrierKind::Sip,
];

/// A Twilio Account SID.
const TWILIO_SID: &str = r"^AC[0-9a-fA-F]{32}$";
/// A Plivo Auth ID: an account's `MA…` or a subaccount's `SA…`, 20 characters (the SDK's check).
const PLIVO_AUTH_ID: &str = r"^[MS]A[A-Z0-9]{18}$";
/// A Vonage application id: a UUID.
const VONAGE_APPLICATION: &str =
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// A Vonage application's private key, in PEM (that it is an RSA key no pattern states).
const VONAGE_KEY: &str = r"^\s*-----BEGIN (RSA )?PRIVATE KEY-----";
/// An Exotel Account SID and the app id of the flow with the Voicebot applet.
const EXOTEL_ACCOUNT: &str = r"^[A-Za-z0-9_-]{1,64}/[0-9]{1,20}$";
/// Exotel's API key and token.
const EXOTEL_SECRET: &str = r"^[^:]+:[^:]+$";
/// A SIP trunk's `host[:port]`: a name or an IPv6 address in brackets, a port from 1 to 65535.
const SIP_HOST: &str = r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?$";
/// A Telnyx Call Control application id.
const TELNYX_CONNECTION: &str = r"^[0-9]{1,32}$";
/// A Telnyx public key: 32 bytes in base64 (and a point of Ed25519's curve, which no pattern
/// states).
const TELNYX_KEY: &str = r"^[A-Za-z0-9+/]{43}=$";

/// The rules that depend on the carrier, as JSON Schema `if`/`then`: each carrier's account id,
/// and a webhook key only where the carrier has one (elsewhere it may be left out or null).
fn per_carrier_rules(schema: &mut schemars::Schema) {
    let rule = |carrier: &str, then: serde_json::Value| {
        serde_json::json!({
            "if": {"properties": {"carrier": {"const": carrier}}, "required": ["carrier"]},
            "then": then,
        })
    };
    schema.insert(
        "allOf".into(),
        serde_json::json!([
            // Twilio verifies webhooks with the Auth Token: no separate key.
            rule(
                "twilio",
                serde_json::json!({
                    "properties": {"account_sid": {"pattern": TWILIO_SID}, "webhook_key": {"type": "null"}},
                })
            ),
            // Plivo verifies webhooks with the Auth Token too.
            rule(
                "plivo",
                serde_json::json!({
                    "properties": {"account_sid": {"pattern": PLIVO_AUTH_ID}, "webhook_key": {"type": "null"}},
                })
            ),
            // Vonage signs the REST API's tokens with the private key (the secret) and webhooks
            // with the account's signature secret (the webhook key).
            rule(
                "vonage",
                serde_json::json!({
                    "properties": {
                        "account_sid": {"pattern": VONAGE_APPLICATION},
                        "secret": {"pattern": VONAGE_KEY},
                    },
                })
            ),
            // Exotel signs nothing: the edge's URLs carry a key derived from the secret.
            rule(
                "exotel",
                serde_json::json!({
                    "properties": {
                        "account_sid": {"pattern": EXOTEL_ACCOUNT},
                        "secret": {"pattern": EXOTEL_SECRET},
                        "webhook_key": {"type": "null"},
                    },
                })
            ),
            // A SIP trunk: its address, a proxy like it, a username to register; no webhooks.
            rule(
                "sip",
                serde_json::json!({
                    "properties": {
                        "account_sid": {"pattern": SIP_HOST},
                        "trunk": {
                            "properties": {"outbound_proxy": {"pattern": SIP_HOST}},
                            "if": {"properties": {"register": {"const": true}}, "required": ["register"]},
                            "then": {"required": ["username"], "properties": {"username": {"type": "string"}}},
                        },
                        "webhook_key": {"type": "null"},
                    },
                })
            ),
            // Trunk settings are a SIP trunk's only.
            serde_json::json!({
                "if": {"properties": {"carrier": {"const": "sip"}}, "required": ["carrier"]},
                "else": {"properties": {"trunk": {"type": "null"}}},
            }),
            rule(
                "telnyx",
                serde_json::json!({
                    "properties": {
                        "account_sid": {"pattern": TELNYX_CONNECTION},
                        "webhook_key": {"pattern": TELNYX_KEY},
                    },
                })
            ),
        ]),
    );
}

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
        // A new Telnyx or Vonage account needs the key its webhooks are verified with.
        if let Some(serde_json::Value::Array(rules)) = schema.get_mut("allOf") {
            for carrier in ["telnyx", "vonage"] {
                rules.push(serde_json::json!({
                    "if": {"properties": {"carrier": {"const": carrier}}, "required": ["carrier"]},
                    "then": {"required": ["webhook_key"],
                        "properties": {"webhook_key": {"type": "string"}}},
                }));
            }
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
    /// Whether a webhook key is saved (never shown).
    webhook_key_set: bool,
    /// The URL to give the carrier for inbound calls (`VOX_PUBLIC_URL` based; `null` until it is
    /// set): Twilio's voice URL on each number, Telnyx's Call Control application webhook URL,
    /// the Plivo application's answer URL, the Vonage application's answer URL, the Exotel
    /// flow's Voicebot applet URL (it carries the account's key: shown to admins only).
    inbound_voice_url: Option<String>,
    /// The status callback URL for inbound numbers (Twilio's status callback, the Plivo
    /// application's hang-up URL, the Vonage event URL; Telnyx sends everything to the webhook
    /// URL).
    inbound_status_url: Option<String>,
    /// Exotel only: the text URL of the Greeting applet after the Voicebot applet, which says
    /// why a call was refused (shown to admins only).
    greeting_url: Option<String>,
    /// A SIP trunk's settings (its password is the secret, never shown).
    trunk: Option<SipTrunk>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

/// An account as shown; `exotel_key` is an Exotel account's edge key, for an admin.
fn view(state: &AppState, account: &CarrierAccount, exotel_key: Option<&str>) -> AccountView {
    let base = state.config.public_url.as_deref().map(|base| {
        format!(
            "{}/api/v1/telephony/{}/{}",
            base.trim_end_matches('/'),
            account.carrier,
            account.id
        )
    });
    let exotel = match (account.carrier, &state.config.public_url, exotel_key) {
        (CarrierKind::Exotel, Some(public), Some(key)) => {
            Some(telephony::exotel::Webhooks::new(public, account.id, key))
        }
        _ => None,
    };
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
        webhook_key_set: account.webhook_key_set,
        inbound_voice_url: base.as_ref().and_then(|b| match account.carrier {
            CarrierKind::Telnyx => Some(format!("{b}/call")),
            CarrierKind::Plivo | CarrierKind::Vonage => Some(format!("{b}/answer")),
            CarrierKind::Exotel => exotel.as_ref().map(|hooks| hooks.voicebot()),
            CarrierKind::Twilio => Some(format!("{b}/voice")),
            // A trunk's calls reach vox sip, not this Backend.
            CarrierKind::Sip => None,
        }),
        greeting_url: exotel.as_ref().map(|hooks| hooks.greeting()),
        trunk: account.trunk.clone(),
        inbound_status_url: base.and_then(|b| match account.carrier {
            CarrierKind::Twilio => Some(format!("{b}/status")),
            CarrierKind::Plivo => Some(format!("{b}/hangup")),
            CarrierKind::Vonage => Some(format!("{b}/event")),
            _ => None,
        }),
        created_at: account.created_at,
        updated_at: account.updated_at,
    }
}

fn account(body: AccountBody, creating: bool) -> ApiResult<NewCarrierAccount> {
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
                "{} accounts are not supported yet (twilio, telnyx, plivo, vonage, exotel and sip are)",
                body.carrier
            ),
        ));
    }
    let sid = &body.account_sid;
    if body.trunk.is_some() && body.carrier != CarrierKind::Sip {
        return Err(ApiError::invalid(
            "trunk",
            format!(
                "only a sip account has trunk settings, not a {} one",
                body.carrier
            ),
        ));
    }
    match body.carrier {
        CarrierKind::Sip => sip_trunk(&body)?,
        CarrierKind::Telnyx => {
            if !(1..=32).contains(&sid.len()) || !sid.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::invalid(
                    "account_sid",
                    "a Telnyx connection id is the Call Control application's id, digits \
                     (Mission Control, Voice API Applications)",
                ));
            }
            match &body.webhook_key {
                Some(key) => {
                    let base64 = key.len() == 44
                        && key.ends_with('=')
                        && key[..43]
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
                    if !base64 {
                        return Err(ApiError::invalid(
                            "webhook_key",
                            "a Telnyx public key is 32 bytes in base64 (44 characters ending in =)",
                        ));
                    }
                    telephony::telnyx::signature::public_key(key).map_err(|e| {
                        ApiError::invalid("webhook_key", format!("not an Ed25519 public key: {e}"))
                    })?;
                }
                None if creating => {
                    return Err(ApiError::invalid(
                        "webhook_key",
                        "a Telnyx account needs its public key (Mission Control, Keys & \
                         Credentials) to verify webhooks",
                    ));
                }
                None => {}
            }
        }
        CarrierKind::Vonage => {
            let uuid = sid.len() == 36
                && sid.char_indices().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                });
            if !uuid {
                return Err(ApiError::invalid(
                    "account_sid",
                    "a Vonage application id is a UUID (the dashboard's Applications page)",
                ));
            }
            if let Some(key) = &body.secret {
                telephony::vonage::signature::private_key(key).map_err(|e| {
                    ApiError::invalid("secret", format!("the application's private key: {e}"))
                })?;
            }
            if creating && body.webhook_key.is_none() {
                return Err(ApiError::invalid(
                    "webhook_key",
                    "a Vonage account needs its signature secret (the dashboard's API settings) \
                     to verify webhooks",
                ));
            }
        }
        CarrierKind::Exotel => {
            telephony::exotel::Account::parse(sid)
                .map_err(|e| ApiError::invalid("account_sid", e))?;
            if let Some(secret) = &body.secret {
                telephony::exotel::credentials(secret)
                    .map_err(|e| ApiError::invalid("secret", e))?;
            }
            if body.webhook_key.is_some() {
                return Err(ApiError::invalid(
                    "webhook_key",
                    "Exotel signs nothing: the edge's URLs carry a key derived from the secret",
                ));
            }
        }
        CarrierKind::Plivo => {
            let auth_id = sid.len() == 20
                && (sid.starts_with("MA") || sid.starts_with("SA"))
                && sid[2..]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !auth_id {
                return Err(ApiError::invalid(
                    "account_sid",
                    "a Plivo Auth ID is MA (or a subaccount's SA) and 18 capital letters or \
                     digits (the console's overview page)",
                ));
            }
            if body.webhook_key.is_some() {
                return Err(ApiError::invalid(
                    "webhook_key",
                    "a Plivo account's webhooks are verified with its Auth Token (the secret)",
                ));
            }
        }
        _ => {
            let twilio_sid = sid.len() == 34
                && sid.starts_with("AC")
                && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
            if !twilio_sid {
                return Err(ApiError::invalid(
                    "account_sid",
                    "a Twilio Account SID is AC followed by 32 hex digits (the console's account \
                     page)",
                ));
            }
            if body.webhook_key.is_some() {
                return Err(ApiError::invalid(
                    "webhook_key",
                    "a Twilio account's webhooks are verified with its Auth Token (the secret)",
                ));
            }
        }
    }
    Ok(NewCarrierAccount {
        carrier: body.carrier,
        name: body.name,
        account_sid: body.account_sid,
        secret: body.secret,
        api_url: body.api_url,
        numbers,
        webhook_key: body.webhook_key,
        trunk: body.trunk,
    })
}

/// Whether `text` is a SIP `host[:port]` (the rule `SIP_HOST` states).
fn is_sip_host(text: &str) -> bool {
    let port = if let Some(inside) = text.strip_prefix('[') {
        let Some((address, rest)) = inside.split_once(']') else {
            return false;
        };
        let v6 = !address.is_empty()
            && address
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !v6 {
            return false;
        }
        match rest {
            "" => None,
            rest => match rest.strip_prefix(':') {
                Some(port) => Some(port),
                None => return false,
            },
        }
    } else {
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let bytes = host.as_bytes();
        let name = (1..=253).contains(&bytes.len())
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-');
        if !name {
            return false;
        }
        port
    };
    port.is_none_or(|port| {
        (1..=5).contains(&port.len())
            && !port.starts_with('0')
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| p <= 65_535)
    })
}

/// A SIP trunk's address, proxy and registration.
fn sip_trunk(body: &AccountBody) -> ApiResult<()> {
    if !is_sip_host(&body.account_sid) {
        return Err(ApiError::invalid(
            "account_sid",
            "a SIP trunk's address is host[:port] (sip.example.com, 203.0.113.5:5060, \
             [2001:db8::1]:5080)",
        ));
    }
    if body.webhook_key.is_some() {
        return Err(ApiError::invalid(
            "webhook_key",
            "a SIP trunk has no webhooks: vox sip speaks SIP to it",
        ));
    }
    let Some(trunk) = &body.trunk else {
        return Ok(());
    };
    if let Some(proxy) = &trunk.outbound_proxy
        && !is_sip_host(proxy)
    {
        return Err(ApiError::invalid(
            "trunk.outbound_proxy",
            "an outbound proxy is host[:port] like the trunk's address",
        ));
    }
    if trunk.authenticate_callers && trunk.username.is_none() {
        return Err(ApiError::invalid(
            "trunk.username",
            "is required to challenge callers: the username they authenticate as",
        ));
    }
    if trunk.register && trunk.username.is_none() {
        return Err(ApiError::invalid(
            "trunk.username",
            "is required to register: the trunk's digest username",
        ));
    }
    Ok(())
}

/// An Exotel account's edge key, for an admin (the URLs that carry it let anyone post as Exotel).
async fn exotel_key(
    state: &AppState,
    principal: &crate::auth::Principal,
    account: &CarrierAccount,
) -> ApiResult<Option<String>> {
    if account.carrier != CarrierKind::Exotel || principal.require(store::Role::Admin).is_err() {
        return Ok(None);
    }
    let secret = state.store.carrier_account_secret(account.id).await?;
    Ok(Some(telephony::exotel::edge_key(&secret, account.id)))
}

async fn shown(
    state: &AppState,
    principal: &crate::auth::Principal,
    account: &CarrierAccount,
) -> ApiResult<AccountView> {
    let key = exotel_key(state, principal, account).await?;
    Ok(view(state, account, key.as_deref()))
}

async fn list(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Viewer>,
) -> ApiResult<Json<Vec<AccountView>>> {
    let accounts = state.store.list_carrier_accounts().await?;
    let mut views = Vec::with_capacity(accounts.len());
    for account in &accounts {
        views.push(shown(&state, &principal, account).await?);
    }
    Ok(Json(views))
}

async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiJson(body): ApiJson<AccountBody>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let saved = state
        .store
        .create_carrier_account(account(body, true)?)
        .await?;
    // The audit log keeps the view without an Exotel key.
    let audited = view(&state, &saved, None);
    let shown = shown(&state, &principal, &saved).await?;
    audit(
        &state,
        &principal,
        "carrier_accounts.create",
        "carrier_accounts",
        saved.id,
        None,
        snapshot(&audited),
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
    let before = view(&state, &state.store.carrier_account(id).await?, None);
    let saved = state
        .store
        .update_carrier_account(id, account(body, false)?)
        .await?;
    // The audit log keeps the view without an Exotel key.
    let audited = view(&state, &saved, None);
    let shown = shown(&state, &principal, &saved).await?;
    audit(
        &state,
        &principal,
        "carrier_accounts.update",
        "carrier_accounts",
        id,
        snapshot(&before),
        snapshot(&audited),
    )
    .await?;
    Ok(Json(shown))
}
