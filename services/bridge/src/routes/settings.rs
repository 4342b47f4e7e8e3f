//! System settings (secrets are write-only), the fleet list, and inbound number → bot routing.

use super::{audit, snapshot};
use crate::auth::{Authorized, role};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::{AppState, phone};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use contracts::BotId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::Setting;

/// Settings under this prefix are secrets (provider API keys): stored, never shown.
pub const SECRET_PREFIX: &str = "secrets.";
/// Settings other routes own, hidden from and refused by the generic routes.
const RESERVED: &[&str] = &["crm.", "fleet.", "inbound."];
const FLEET_KEY: &str = "fleet.urls";
const INBOUND_PREFIX: &str = "inbound.number.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings", get(list))
        .route("/settings/{key}", put(save).delete(remove))
        .route("/fleets", get(fleets).put(save_fleets))
        .route("/inbound-numbers", get(inbound))
        .route(
            "/inbound-numbers/{number}",
            put(route_number).delete(unroute_number),
        )
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct SettingView {
    key: String,
    /// `null` for secrets.
    value: Value,
    secret: bool,
    updated_at: chrono::DateTime<chrono::Utc>,
}

fn view(setting: &Setting) -> SettingView {
    let secret = setting.key.starts_with(SECRET_PREFIX);
    SettingView {
        key: setting.key.clone(),
        value: if secret {
            Value::Null
        } else {
            setting.value.clone()
        },
        secret,
        updated_at: setting.updated_at,
    }
}

/// The `{key}` of `/settings/{key}`, as a schema: what `Store::put_setting` accepts, less the
/// prefixes other routes manage (`RESERVED`).
pub(crate) struct SettingKey;

impl schemars::JsonSchema for SettingKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SettingKey".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let reserved: Vec<String> = RESERVED.iter().map(|p| p.replace('.', "\\.")).collect();
        schemars::json_schema!({
            "type": "string",
            "pattern": format!("^(?!{})[a-z0-9._-]{{1,128}}$", reserved.join("|")),
            "description": "1-128 characters of a-z, 0-9, '.', '_', '-'; keys under secrets. are write-only and hold a non-empty string"
        })
    }
}

fn reserved(key: &str) -> bool {
    RESERVED.iter().any(|prefix| key.starts_with(prefix))
}

async fn list(
    State(state): State<AppState>,
    _: Authorized<role::Admin>,
) -> ApiResult<Json<Vec<SettingView>>> {
    let settings = state.store.list_settings().await?;
    Ok(Json(
        settings
            .iter()
            .filter(|s| !reserved(&s.key) && !s.value.is_null())
            .map(view)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct SaveSetting {
    value: Value,
}

async fn save(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<SaveSetting>,
) -> ApiResult<Json<SettingView>> {
    if reserved(&key) {
        return Err(ApiError::invalid(
            "key",
            format!("{key} is managed by its own route"),
        ));
    }
    if key.starts_with(SECRET_PREFIX) && body.value.as_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid("value", "a secret is a non-empty string"));
    }
    let before = state.store.setting(&key).await?.map(|s| view(&s));
    let saved = view(
        &state
            .store
            .put_setting(&key, body.value, principal.user_id)
            .await?,
    );
    audit(
        &state,
        &principal,
        "setting.save",
        "setting",
        &key,
        before.as_ref().and_then(snapshot),
        snapshot(&saved),
    )
    .await?;
    Ok(Json(saved))
}

async fn remove(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if reserved(&key) {
        return Err(ApiError::invalid(
            "key",
            format!("{key} is managed by its own route"),
        ));
    }
    let before = state
        .store
        .setting(&key)
        .await?
        .filter(|s| !s.value.is_null());
    let Some(before) = before else {
        return Err(ApiError::not_found(format!("no setting {key}")));
    };
    state
        .store
        .put_setting(&key, Value::Null, principal.user_id)
        .await?;
    audit(
        &state,
        &principal,
        "setting.remove",
        "setting",
        &key,
        snapshot(&view(&before)),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Fleets {
    /// Worker URLs (`http(s)://…` or `unix:/path.sock`) the dialler and inbound routing use.
    #[schemars(schema_with = "fleet_urls")]
    pub(crate) urls: Vec<String>,
}

fn fleet_urls(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {
            "anyOf": [
                { "type": "string", "pattern": contracts::shape::HTTP_URL },
                { "type": "string", "pattern": "^unix:/." }
            ]
        }
    })
}

pub(crate) async fn stored_fleets(state: &AppState) -> ApiResult<Fleets> {
    let stored = state.store.setting(FLEET_KEY).await?;
    let urls = stored
        .and_then(|s| serde_json::from_value(s.value).ok())
        .unwrap_or_default();
    Ok(Fleets { urls })
}

/// Whether the Backend may talk to a fleet at `url` (it sends the fleet secret there): a Unix
/// socket on this host, or an http(s) URL resolving inside `FLEET_NETWORKS` only. Checked at
/// save and again at each use, so neither an older saved list nor a name that resolves elsewhere
/// later gets the secret.
pub(crate) async fn fleet_reachable(state: &AppState, url: &str) -> Result<(), String> {
    if url.starts_with("unix:/") {
        return Ok(());
    }
    egress::check_within(url, &state.config.fleet_networks)
        .await
        .map_err(|error| {
            format!("{error}; the Backend sends the fleet secret only inside FLEET_NETWORKS")
        })
}

/// The saved fleets the Backend may talk to now; the others are logged and left out.
pub(crate) async fn reachable_fleets(state: &AppState) -> ApiResult<Vec<String>> {
    let mut reachable = Vec::new();
    for url in stored_fleets(state).await?.urls {
        match fleet_reachable(state, &url).await {
            Ok(()) => reachable.push(url),
            Err(why) => tracing::warn!(%url, %why, "a saved fleet is left out"),
        }
    }
    Ok(reachable)
}

async fn fleets(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
) -> ApiResult<Json<Fleets>> {
    Ok(Json(stored_fleets(&state).await?))
}

async fn save_fleets(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiJson(body): ApiJson<Fleets>,
) -> ApiResult<Json<Fleets>> {
    for (index, url) in body.urls.iter().enumerate() {
        let ok = contracts::shape::is_http_url(url)
            || url.len() > "unix:/".len() && url.starts_with("unix:/");
        if !ok {
            return Err(ApiError::invalid(
                format!("urls[{index}]"),
                "must be http(s)://host:port or unix:/path.sock",
            ));
        }
        if let Err(why) = fleet_reachable(&state, url).await {
            return Err(ApiError::policy(format!("urls[{index}]"), why));
        }
    }
    let before = stored_fleets(&state).await?;
    state
        .store
        .put_setting(FLEET_KEY, json!(body.urls), principal.user_id)
        .await?;
    audit(
        &state,
        &principal,
        "fleets.save",
        "fleets",
        FLEET_KEY,
        snapshot(&before),
        snapshot(&body),
    )
    .await?;
    Ok(Json(body))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct InboundRoute {
    number: String,
    bot_id: BotId,
    /// The saved fleet (one of `/fleets`) that takes the number's calls; absent: any free worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fleet: Option<String>,
    /// Whom the number answers for: its calls count against that client's quota of slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client: Option<String>,
}

/// Where a routed number's calls go: its bot, and optionally its own fleet and client.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberRoute {
    pub bot: BotId,
    pub fleet: Option<String>,
    pub client: Option<String>,
}

fn number_key(number: &str) -> String {
    format!("{INBOUND_PREFIX}{}", number.trim_start_matches('+'))
}

/// A route as kept: the bot's id alone (as routes were first kept), or `{bot_id, fleet, client}`.
fn route_of(value: &Value) -> Option<NumberRoute> {
    if let Some(bot) = value.as_i64() {
        return Some(NumberRoute {
            bot: BotId(bot),
            fleet: None,
            client: None,
        });
    }
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    Some(NumberRoute {
        bot: BotId(value.get("bot_id")?.as_i64()?),
        fleet: text("fleet"),
        client: text("client"),
    })
}

/// How calls to `number` are routed, when they are.
pub async fn route_for_number(
    state: &AppState,
    number: &contracts::E164Number,
) -> ApiResult<Option<NumberRoute>> {
    let setting = state.store.setting(&number_key(number.as_str())).await?;
    Ok(setting.and_then(|s| route_of(&s.value)))
}

/// The bot that answers calls to `number`, when one is routed.
pub async fn bot_for_number(
    state: &AppState,
    number: &contracts::E164Number,
) -> ApiResult<Option<BotId>> {
    Ok(route_for_number(state, number)
        .await?
        .map(|route| route.bot))
}

async fn inbound(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
) -> ApiResult<Json<Vec<InboundRoute>>> {
    let settings = state.store.list_settings().await?;
    let routes = settings
        .iter()
        .filter_map(|s| {
            let digits = s.key.strip_prefix(INBOUND_PREFIX)?;
            let route = route_of(&s.value)?;
            Some(InboundRoute {
                number: format!("+{digits}"),
                bot_id: route.bot,
                fleet: route.fleet,
                client: route.client,
            })
        })
        .collect();
    Ok(Json(routes))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteBody {
    bot_id: BotId,
    /// One of the saved fleets' URLs: only that fleet takes the number's calls.
    #[serde(default)]
    fleet: Option<String>,
    /// Whom the number answers for (a client's name, as its quota names it).
    #[serde(default)]
    #[schemars(schema_with = "contracts::shape::optional_client")]
    client: Option<String>,
}

async fn route_number(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<RouteBody>,
) -> ApiResult<Json<InboundRoute>> {
    let number = phone::e164("number", &number)?;
    if let Some(client) = &body.client
        && !contracts::shape::is_client_name(client)
    {
        return Err(ApiError::invalid(
            "client",
            contracts::shape::CLIENT_NAME_RULE,
        ));
    }
    if let Some(fleet) = &body.fleet
        && !stored_fleets(&state).await?.urls.contains(fleet)
    {
        return Err(ApiError::unknown(
            "fleet",
            "is not one of the saved fleets (Settings → Fleets)",
        ));
    }
    match state.store.bot(body.bot_id).await {
        Err(store::StoreError::NotFound { .. }) => {
            return Err(ApiError::unknown(
                "bot_id",
                format!("there is no bot {}", body.bot_id),
            ));
        }
        other => other.map(drop)?,
    }
    let route = InboundRoute {
        number: number.to_string(),
        bot_id: body.bot_id,
        fleet: body.fleet,
        client: body.client,
    };
    // A plain route keeps the first form, which older binaries read.
    let value = if route.fleet.is_none() && route.client.is_none() {
        json!(body.bot_id.0)
    } else {
        json!({ "bot_id": route.bot_id.0, "fleet": route.fleet, "client": route.client })
    };
    state
        .store
        .put_setting(&number_key(number.as_str()), value, principal.user_id)
        .await?;
    audit(
        &state,
        &principal,
        "inbound.route",
        "inbound_number",
        number.as_str(),
        None,
        snapshot(&route),
    )
    .await?;
    Ok(Json(route))
}

async fn unroute_number(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let number = phone::e164("number", &number)?;
    if bot_for_number(&state, &number).await?.is_none() {
        return Err(ApiError::not_found(format!("{number} is not routed")));
    }
    state
        .store
        .put_setting(&number_key(number.as_str()), Value::Null, principal.user_id)
        .await?;
    audit(
        &state,
        &principal,
        "inbound.unroute",
        "inbound_number",
        number.as_str(),
        None,
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
