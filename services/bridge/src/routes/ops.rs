//! The do-not-call list and the audit log.

use super::{PageQuery, audit};
use crate::auth::{Authorized, role};
use crate::convert;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::{AppState, phone};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use contracts::api::{AuditView, DncInput, DncView, Page};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dnc", get(list_dnc).post(add_dnc))
        .route(
            "/dnc/import",
            post(import_dnc).layer(axum::extract::DefaultBodyLimit::max(
                super::campaigns::IMPORT_LIMIT,
            )),
        )
        .route("/dnc/{phone}", get(check_dnc).delete(remove_dnc))
        .route("/audit", get(list_audit))
}

fn view(entry: &store::DncEntry) -> DncView {
    DncView {
        phone: entry.phone.clone(),
        reason: entry.reason.clone(),
        created_at: entry.created_at,
    }
}

async fn list_dnc(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<DncView>>> {
    Ok(Json(convert::page(
        state.store.list_dnc(query.page()?).await?,
        view,
    )))
}

async fn add_dnc(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiJson(body): ApiJson<DncInput>,
) -> ApiResult<(StatusCode, Json<DncView>)> {
    let number = phone::e164("phone", &body.phone)?;
    let entry = state
        .store
        .add_dnc(number.as_str(), body.reason.trim())
        .await?;
    audit(
        &state,
        &principal,
        "dnc.add",
        "dnc",
        number.as_str(),
        None,
        Some(json!({"reason": entry.reason})),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&entry))))
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct DncCheck {
    phone: String,
    listed: bool,
}

async fn check_dnc(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<DncCheck>> {
    let number = phone::e164("phone", &number)?;
    let listed = state.store.is_dnc(number.as_str()).await?;
    Ok(Json(DncCheck {
        phone: number.to_string(),
        listed,
    }))
}

async fn remove_dnc(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let number = phone::e164("phone", &number)?;
    if !state.store.remove_dnc(number.as_str()).await? {
        return Err(ApiError::not_found(format!(
            "{number} is not on the do-not-call list"
        )));
    }
    audit(
        &state,
        &principal,
        "dnc.remove",
        "dnc",
        number.as_str(),
        None,
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_audit(
    State(state): State<AppState>,
    _: Authorized<role::Admin>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AuditView>>> {
    Ok(Json(convert::page(
        state.store.list_audit(query.page()?).await?,
        convert::audit,
    )))
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct DncImportQuery {
    /// Region (e.g. `US`) for numbers without a country code.
    #[serde(default)]
    #[schemars(schema_with = "contracts::shape::optional_region")]
    default_region: Option<String>,
}

/// `text/csv` with a `phone` column and an optional `reason` column, streamed.
async fn import_dnc(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiQuery(query): ApiQuery<DncImportQuery>,
    request: axum::extract::Request,
) -> ApiResult<Json<crate::import::ImportReport>> {
    super::campaigns::require_csv(&request)?;
    if let Some(region) = &query.default_region {
        phone::check_region("default_region", region)?;
    }
    let report =
        crate::import::import_dnc(&*state.store, request.into_body(), query.default_region).await?;
    audit(&state, &principal, "dnc.import", "dnc", "import", None, Some(json!({"listed": report.imported, "rejected": report.rejected, "duplicates": report.duplicates}))).await?;
    Ok(Json(report))
}
