//! The website widget: a bot's widget settings (`/bots/{id}/widget`) and the public call start
//! (`POST /widget/calls`) the embedded script asks, from the operator's site.
//!
//! The public route answers any origin's preflight and echoes the `Origin` on every answer
//! (no credentials are ever allowed), so the script can read why a call was refused; the refusal
//! itself is the key's: an origin it does not list gets 403 and no call.

use super::audit;
use super::test_call::{ATTACH_TIMEOUT, attach_web_call, fleet_client, open_web_call};
use crate::AppState;
use crate::auth::{Authorized, role};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::widget::{self, SaveWidget, Widget};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use contracts::{BotId, CallId};
use serde_json::json;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    let public = Router::new()
        .route("/widget/calls", post(start_call).options(preflight))
        .layer(axum::middleware::from_fn(echo_origin));
    Router::new()
        .route(
            "/bots/{id}/widget",
            get(read).put(save_widget).delete(remove_widget),
        )
        .merge(public)
}

async fn read(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Widget>> {
    state.store.bot(BotId(id)).await?;
    widget::of_bot(&*state.store, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("the bot has no website widget"))
}

async fn save_widget(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SaveWidget>,
) -> ApiResult<Json<Widget>> {
    let before = widget::of_bot(&*state.store, id).await?;
    let key = before
        .as_ref()
        .map_or_else(widget::new_key, |old| old.key.clone());
    let saved = body.widget(id, key)?;
    let bot = state.store.bot(BotId(id)).await?;
    if bot.archived {
        return Err(ApiError::refused("id", "the bot is archived"));
    }
    widget::save(&*state.store, &saved, principal.user_id).await?;
    audit(
        &state,
        &principal,
        "bots.widget.save",
        "bots",
        id,
        before.map(|w| json!(w)),
        Some(json!(saved)),
    )
    .await?;
    Ok(Json(saved))
}

async fn remove_widget(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let before = widget::of_bot(&*state.store, id)
        .await?
        .ok_or_else(|| ApiError::not_found("the bot has no website widget"))?;
    widget::remove(&*state.store, &before, principal.user_id).await?;
    audit(
        &state,
        &principal,
        "bots.widget.remove",
        "bots",
        id,
        Some(json!(before)),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A visitor's call request: the key the page's script carries.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WidgetCallRequest {
    #[schemars(length(min = 1, max = 64))]
    key: String,
}

/// A call opened for a visitor: the worker's media URL (the `vox` media protocol), with its
/// one-time token.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct WidgetCall {
    call_id: CallId,
    media_url: String,
    expires_at: DateTime<Utc>,
}

fn origin_refused(message: impl Into<String>) -> ApiError {
    ApiError {
        field: Some("Origin".into()),
        ..ApiError::new(StatusCode::FORBIDDEN, "widget.origin_refused", message)
    }
}

async fn start_call(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<WidgetCallRequest>,
) -> ApiResult<(StatusCode, Json<WidgetCall>)> {
    let widget = widget::by_key(&*state.store, &body.key).await?;
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| origin_refused("a widget call comes from a web page: no Origin was sent"))?;
    let allowed = widget::origin(origin)
        .ok()
        .is_some_and(|origin| widget.allowed_origins.contains(&origin));
    if !allowed {
        return Err(origin_refused(format!(
            "this widget may not be used on {origin}: add the site to the widget's allowed origins"
        )));
    }
    let now = std::time::Instant::now();
    let visitor = super::auth::client_address(peer.ip(), &headers, &state.config.trusted_proxies);
    let limit = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    if let Err(wait) = state.widgets.visitors.take_up_to(
        &format!("{}|{visitor}", widget.key),
        limit(widget.visitor_calls_per_minute),
        now,
    ) {
        return Err(ApiError::too_many(
            "widget.visitor_rate_limited",
            format!(
                "at most {} calls a minute from one visitor; try again in {wait} s",
                widget.visitor_calls_per_minute
            ),
            wait,
        ));
    }
    if let Err(wait) =
        state
            .widgets
            .keys
            .take_up_to(&widget.key, limit(widget.key_calls_per_minute), now)
    {
        return Err(ApiError::too_many(
            "widget.key_rate_limited",
            format!(
                "this widget takes at most {} calls a minute; try again in {wait} s",
                widget.key_calls_per_minute
            ),
            wait,
        ));
    }
    let bot = state.store.bot(BotId(widget.bot_id)).await?;
    if bot.archived {
        return Err(ApiError::refused("key", "the widget's bot is archived"));
    }
    let fleet = fleet_client(&state, ATTACH_TIMEOUT).await?;
    let prefix = widget::channel_prefix(&widget.key);
    let call = {
        let _opening = state.widgets.opening.lock().await;
        let live = state.store.live_calls_with_carrier_prefix(&prefix).await?;
        if live >= i64::from(widget.max_concurrent_calls) {
            return Err(ApiError::too_many(
                "widget.busy",
                format!(
                    "all {} of this widget's lines are in use; try again shortly",
                    widget.max_concurrent_calls
                ),
                widget::BUSY_RETRY_AFTER_SECS,
            ));
        }
        let channel = format!("{prefix}{}", hex::encode(rand::random::<[u8; 8]>()));
        open_web_call(&state, bot.id, Some(channel)).await?
    };
    let channel = call.carrier_call_id.clone().unwrap_or_default();
    let accepted = attach_web_call(&state, &fleet, &call, channel, "widget").await?;
    tracing::info!(call_id = %call.id, bot_id = widget.bot_id, origin, "widget call");
    Ok((
        StatusCode::CREATED,
        Json(WidgetCall {
            call_id: accepted.call_id,
            media_url: accepted.media_url,
            expires_at: accepted.expires_at,
        }),
    ))
}

/// Any page may ask; what it may do is decided by its key and origin in [`start_call`].
async fn preflight() -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

/// Lets the page that asked read the answer, refusals included: no credentials are allowed.
async fn echo_origin(request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}
