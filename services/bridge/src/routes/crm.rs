//! CRM webhooks and lookups per campaign or bot, and the delivery outbox with retry of dead
//! letters.
//!
//! A webhook (where finished calls are pushed) and a lookup (asked at call start,
//! `crm_lookup.rs`) have the same shape, `{url, secret}`, and the same rules; a secret is
//! write-only. The handlers take which one from their route (`LOOKUP`).

use super::audit;
use crate::AppState;
use crate::auth::{Authorized, role};
use crate::crm::{Scope, Webhook, setting_key};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use contracts::api::Page;
use contracts::{BotId, CallId, CampaignId};
use serde_json::{Value, json};
use store::{CrmDelivery, DeliveryStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/crm/webhooks/{scope}/{id}",
            get(read::<false>)
                .put(save::<false>)
                .delete(remove::<false>),
        )
        .route(
            "/crm/lookups/{scope}/{id}",
            get(read::<true>).put(save::<true>).delete(remove::<true>),
        )
        .route("/crm/deliveries", get(list))
        .route("/crm/deliveries/{id}/retry", post(retry))
}

/// A webhook as shown: the secret never leaves the Backend.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct WebhookView {
    url: String,
    secret_set: bool,
}

async fn check_owner(state: &AppState, scope: Scope, id: i64) -> ApiResult<()> {
    match scope {
        Scope::Campaign => state.store.campaign(CampaignId(id)).await.map(drop)?,
        Scope::Bot => state.store.bot(BotId(id)).await.map(drop)?,
    }
    Ok(())
}

/// The setting's key and the audit's names for a webhook or a lookup.
fn key(lookup: bool, scope: Scope, id: i64) -> String {
    if lookup {
        crate::crm_lookup::setting_key(scope, id)
    } else {
        setting_key(scope, id)
    }
}

fn kind(lookup: bool) -> &'static str {
    if lookup { "lookup" } else { "webhook" }
}

async fn stored(state: &AppState, lookup: bool, scope: Scope, id: i64) -> ApiResult<Webhook> {
    state
        .store
        .setting(&key(lookup, scope, id))
        .await?
        .and_then(|setting| serde_json::from_value(setting.value).ok())
        .ok_or_else(|| ApiError::not_found(format!("no {} is configured here", kind(lookup))))
}

async fn read<const LOOKUP: bool>(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath((scope, id)): ApiPath<(Scope, i64)>,
) -> ApiResult<Json<WebhookView>> {
    let webhook = stored(&state, LOOKUP, scope, id).await?;
    Ok(Json(WebhookView {
        url: webhook.url,
        secret_set: true,
    }))
}

async fn save<const LOOKUP: bool>(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath((scope, id)): ApiPath<(Scope, i64)>,
    ApiJson(body): ApiJson<Webhook>,
) -> ApiResult<Json<WebhookView>> {
    if !contracts::shape::is_http_url(&body.url) {
        return Err(ApiError::invalid("url", contracts::shape::HTTP_URL_RULE));
    }
    // The Backend will POST there: not a private address unless the platform allows it (M9).
    egress::check_saved_url(&body.url, &state.config.outbound_allowed)
        .map_err(|e| ApiError::egress("url", e))?;
    if body.secret.chars().count() < 16 {
        return Err(ApiError::invalid(
            "secret",
            "must be at least 16 characters",
        ));
    }
    check_owner(&state, scope, id).await?;
    let value = serde_json::to_value(&body).map_err(ApiError::internal)?;
    state
        .store
        .put_setting(&key(LOOKUP, scope, id), value, principal.user_id)
        .await?;
    audit(
        &state,
        &principal,
        if LOOKUP {
            "crm.lookup.save"
        } else {
            "crm.webhook.save"
        },
        if LOOKUP { "crm_lookup" } else { "crm_webhook" },
        key(LOOKUP, scope, id),
        None,
        Some(json!({"url": body.url})),
    )
    .await?;
    Ok(Json(WebhookView {
        url: body.url,
        secret_set: true,
    }))
}

async fn remove<const LOOKUP: bool>(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath((scope, id)): ApiPath<(Scope, i64)>,
) -> ApiResult<StatusCode> {
    let before = stored(&state, LOOKUP, scope, id).await?;
    state
        .store
        .put_setting(&key(LOOKUP, scope, id), Value::Null, principal.user_id)
        .await?;
    audit(
        &state,
        &principal,
        if LOOKUP {
            "crm.lookup.remove"
        } else {
            "crm.webhook.remove"
        },
        if LOOKUP { "crm_lookup" } else { "crm_webhook" },
        key(LOOKUP, scope, id),
        Some(json!({"url": before.url})),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct DeliveryView {
    id: i64,
    call_id: CallId,
    target: String,
    status: &'static str,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_at: Option<DateTime<Utc>>,
}

fn view(delivery: &CrmDelivery) -> DeliveryView {
    DeliveryView {
        id: delivery.id,
        call_id: delivery.call_id,
        target: delivery.target.clone(),
        status: delivery.status.as_str(),
        attempts: delivery.attempts,
        next_attempt_at: delivery.next_attempt_at,
        last_error: delivery.last_error.clone(),
        delivered_at: delivery.delivered_at,
    }
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ListQuery {
    #[schemars(extend("enum" = ["pending", "delivered", "failed"]))]
    status: Option<String>,
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<DeliveryView>>> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            DeliveryStatus::parse(s)
                .ok_or_else(|| ApiError::invalid("status", "use pending, delivered or failed"))
        })
        .transpose()?;
    let page = super::page(query.limit, query.cursor)?;
    Ok(Json(crate::convert::page(
        state.store.list_crm_deliveries(status, page).await?,
        view,
    )))
}

async fn retry(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DeliveryView>> {
    let delivery = state.store.requeue_crm_delivery(id, Utc::now()).await?;
    audit(
        &state,
        &principal,
        "crm.delivery.retry",
        "crm_delivery",
        id,
        None,
        None,
    )
    .await?;
    Ok(Json(view(&delivery)))
}
