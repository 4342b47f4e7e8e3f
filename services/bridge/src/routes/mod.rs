//! The route table: `/health`, `/api/v1/…`, a JSON 404, the body limit and request tracing.

pub(crate) mod auth;
pub(crate) mod bots;
pub(crate) mod calls;
pub(crate) mod campaigns;
pub(crate) mod capacity;
pub(crate) mod carriers;
pub(crate) mod crm;
pub(crate) mod dial;
pub(crate) mod fleet;
pub(crate) mod health;
pub(crate) mod knowledge_bases;
pub(crate) mod live;
pub(crate) mod ops;
pub(crate) mod reports;
pub(crate) mod settings;
pub(crate) mod telephony;
pub(crate) mod test_call;
pub(crate) mod users;
pub(crate) mod widget;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use serde_json::Value;
use store::NewAuditEntry;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(bots::router())
        .merge(campaigns::router())
        .merge(carriers::router())
        .merge(crm::router())
        .merge(calls::router())
        .merge(dial::router())
        .merge(fleet::router())
        .merge(ops::router())
        .merge(settings::router())
        .merge(reports::router())
        .merge(live::router())
        .merge(capacity::router())
        .merge(test_call::router())
        .merge(widget::router())
        .merge(knowledge_bases::router())
        .merge(telephony::router())
        .fallback(|| async { ApiError::not_found("no such route") });
    let router = Router::new()
        .merge(health::router())
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(|| async { axum::Json(crate::openapi::document()) }),
        )
        .nest("/api/v1", api);
    // The console's files, and its index for a client-side route (`/bots/3`); the API's unknown
    // paths stay JSON 404s.
    let router = match &state.config.console_dir {
        Some(dir) => {
            use axum::http::{HeaderValue, header};
            use tower_http::set_header::SetResponseHeaderLayer;
            let files = tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(dir.join("index.html")));
            let files = tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CONSOLE_CSP),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ))
                .service(files);
            router.fallback_service(files)
        }
        None => router.fallback(|| async { ApiError::not_found("no such route") }),
    };
    router
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The console's Content-Security-Policy (M10): its own scripts only (and the blob the test
/// call's audio worklet is loaded from), so injected markup cannot run script or send the
/// session's tokens elsewhere; WebSockets may reach the fleet's media URLs; no framing.
pub(crate) const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self' blob:; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
     connect-src 'self' ws: wss:; media-src 'self' blob:; worker-src 'self' blob:; \
     object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Records an operator change: who, what, and the entity before and after.
pub(crate) async fn audit(
    state: &AppState,
    principal: &Principal,
    action: &str,
    entity: &str,
    entity_id: impl ToString,
    before: Option<Value>,
    after: Option<Value>,
) -> ApiResult<()> {
    state
        .store
        .append_audit(NewAuditEntry {
            actor: principal.actor.clone(),
            action: action.to_owned(),
            entity: entity.to_owned(),
            entity_id: Some(entity_id.to_string()),
            detail: Some(serde_json::json!({ "before": before, "after": after })),
        })
        .await?;
    Ok(())
}

/// Moves a call unless it has moved on already (a worker, the edge or the reaper came first):
/// a stale move changes nothing and is not an error here.
pub(crate) async fn move_unless_stale(
    store: &dyn store::Store,
    transition: store::Transition,
) -> ApiResult<()> {
    match store.transition(transition).await {
        Ok(_) | Err(store::StoreError::StaleTransition { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// `?limit=…&cursor=…` of every list route.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct PageQuery {
    /// Items per page (50 when absent).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> ApiResult<store::Page> {
        page(self.limit, self.cursor)
    }
}

/// The store page for `?limit=…&cursor=…` (default 50 items); the store checks the limit.
pub(crate) fn page(limit: Option<u32>, cursor: Option<i64>) -> ApiResult<store::Page> {
    Ok(store::Page {
        limit: limit.unwrap_or(50),
        after: cursor,
    })
}

/// Serialises a body for the audit log.
pub(crate) fn snapshot<T: serde::Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok()
}
