//! The call log: filtered, paginated list and one call with its result and events.

use crate::convert;
use crate::error::{ApiError, ApiQuery, ApiResult};
use crate::{AppState, auth::Principal};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use contracts::api::{CallDetail, CallSummary, Page};
use contracts::runtime_config::CallDirection;
use contracts::{CallId, CallState, CampaignId, ContactId};
use store::{CallFilter, Role};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calls", get(list))
        .route("/calls/{id}", get(read))
}

#[derive(Debug, serde::Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    campaign_id: Option<i64>,
    contact_id: Option<i64>,
    state: Option<CallState>,
    direction: Option<CallDirection>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<CallSummary>>> {
    principal.require(Role::Viewer)?;
    if let (Some(since), Some(until)) = (query.since, query.until)
        && until < since
    {
        return Err(ApiError::invalid("until", "is before since"));
    }
    let filter = CallFilter {
        campaign_id: query.campaign_id.map(CampaignId),
        contact_id: query.contact_id.map(ContactId),
        state: query.state,
        direction: query.direction,
        since: query.since,
        until: query.until,
    };
    let calls = state
        .store
        .list_calls(filter, super::page(query.limit, query.cursor.as_deref())?)
        .await?;
    Ok(Json(convert::page(calls, convert::call_summary)))
}

async fn read(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<CallDetail>> {
    principal.require(Role::Viewer)?;
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
