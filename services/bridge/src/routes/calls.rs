//! The call log: filtered, paginated list and one call with its result and events.

use crate::AppState;
use crate::auth::{Authorized, role};
use crate::convert;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use contracts::api::{CallDetail, CallSummary, Page};
use contracts::runtime_config::CallDirection;
use contracts::{CallId, CallState, CampaignId, ContactId};
use store::CallFilter;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calls", get(list))
        .route("/calls/{id}", get(read))
        .route("/calls/{id}/recording", get(recording))
        .route("/calls/{id}/recording/link", get(recording_link))
        .route("/recordings/{id}", get(signed_recording))
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ListQuery {
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<i64>,
    campaign_id: Option<i64>,
    contact_id: Option<i64>,
    state: Option<CallState>,
    direction: Option<CallDirection>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    bot_id: Option<i64>,
    outcome: Option<contracts::CallOutcomeCode>,
    disposition: Option<String>,
    /// The other party's number, E.164.
    #[schemars(regex(pattern = contracts::phone::E164_PATTERN))]
    phone: Option<String>,
    /// Free text searched in the transcript and analysis.
    q: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<CallSummary>>> {
    // A window that ends before it starts holds no call: the list is empty, as for any filter.
    let filter = CallFilter {
        campaign_id: query.campaign_id.map(CampaignId),
        contact_id: query.contact_id.map(ContactId),
        state: query.state,
        direction: query.direction,
        since: query.since,
        until: query.until,
        bot_id: query.bot_id.map(contracts::BotId),
        outcome: query.outcome,
        disposition: query.disposition,
        phone: query
            .phone
            .as_deref()
            .map(|p| crate::phone::e164("phone", p).map(|n| n.to_string()))
            .transpose()?,
        text: query.q.filter(|q| !q.trim().is_empty()),
    };
    let calls = state
        .store
        .list_calls(filter, super::page(query.limit, query.cursor)?)
        .await?;
    Ok(Json(convert::page(calls, convert::call_summary)))
}

async fn read(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CallDetail>> {
    let call = state.store.call(CallId(id)).await?;
    let events = state.store.call_events(call.id).await?;
    let result = call
        .result
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(ApiError::internal)?;
    Ok(Json(CallDetail {
        summary: convert::call_summary(&call),
        result,
        events: events.iter().map(convert::call_event).collect(),
    }))
}

/// Seconds a signed recording link stays valid.
const LINK_TTL_SECS: i64 = 300;

/// The recording reference of a call's result.
async fn recording_uri(state: &AppState, id: i64) -> ApiResult<String> {
    let call = state.store.call(CallId(id)).await?;
    call.result
        .as_ref()
        .and_then(|result| result.pointer("/recording/uri"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::not_found(format!("call {id} has no recording")))
}

/// Serves a recording from the bucket (`s3://…`) or the local directory, with range support.
async fn serve_recording(
    state: &AppState,
    id: i64,
    request: axum::extract::Request,
) -> ApiResult<axum::response::Response> {
    let uri = recording_uri(state, id).await?;
    if uri.starts_with("s3://") {
        let bucket = state
            .config
            .s3_recordings
            .as_deref()
            .ok_or_else(|| ApiError::not_found("no S3 object store is configured"))?;
        let range = request
            .headers()
            .get(axum::http::header::RANGE)
            .and_then(|v| v.to_str().ok());
        return bucket.serve(&uri, range).await;
    }
    let root = state
        .config
        .recordings_dir
        .as_deref()
        .ok_or_else(|| ApiError::not_found("no recordings directory is configured"))?;
    serve(crate::recordings::resolve(root, &uri)?, request).await
}

/// Streams the file with `Range` support (206 partial content), so players can seek.
async fn serve(
    path: std::path::PathBuf,
    request: axum::extract::Request,
) -> ApiResult<axum::response::Response> {
    use tower::ServiceExt;
    let response = tower_http::services::ServeFile::new(path)
        .oneshot(request)
        .await
        .map_err(ApiError::internal)?;
    Ok(response.map(axum::body::Body::new))
}

async fn recording(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
    request: axum::extract::Request,
) -> ApiResult<axum::response::Response> {
    serve_recording(&state, id, request).await
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct RecordingLink {
    url: String,
    expires_at: DateTime<Utc>,
}

/// A link that plays without a token for a few minutes (for `<audio src>`).
async fn recording_link(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RecordingLink>> {
    use secrecy::ExposeSecret;
    recording_uri(&state, id).await?;
    let secret = state.config.jwt_secret.expose_secret().as_bytes();
    let (expires, signature) = crate::recordings::sign(secret, id, LINK_TTL_SECS);
    Ok(Json(RecordingLink {
        url: format!("/api/v1/recordings/{id}?expires={expires}&signature={signature}"),
        expires_at: DateTime::from_timestamp(expires, 0).unwrap_or_default(),
    }))
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct SignedQuery {
    expires: i64,
    signature: String,
}

async fn signed_recording(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<SignedQuery>,
    request: axum::extract::Request,
) -> ApiResult<axum::response::Response> {
    use secrecy::ExposeSecret;
    let secret = state.config.jwt_secret.expose_secret().as_bytes();
    crate::recordings::verify(secret, id, query.expires, &query.signature)?;
    serve_recording(&state, id, request).await
}
