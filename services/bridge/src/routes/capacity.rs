//! Capacity controls over the registry: draining a worker or a whole host, and a campaign's or a
//! client's quota of slots held at once; each one audited.
//!
//! A drained worker keeps its calls and gets no new one; a drained host's workers too, those that
//! register later included (the registry's own rules, `crates/registry`). Every control is kept in
//! the settings as well (`capacity.quota.<campaign|client>.<name>`,
//! `capacity.drain.<worker|host>.<name>`), so it can be read back, and `crate::capacity` puts it
//! back into a registry whose Redis lost it. A Backend without a registry (no `REDIS_URL`, and not
//! `vox up`'s in-process one) has nothing to control: 409.

use super::audit;
use crate::AppState;
use crate::auth::{Authorized, role};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use contracts::CampaignId;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/fleet/drain", post(drain))
        .route(
            "/fleet/quotas/campaign/{id}",
            get(read_quota::<false>).put(set_quota::<false>),
        )
        .route(
            "/fleet/quotas/client/{client}",
            get(read_quota::<true>).put(set_quota::<true>),
        )
}

/// Longest worker id or host name taken (in characters).
const MAX_NAME: usize = 200;
/// Most slots a quota may name.
pub const MAX_QUOTA: u32 = 100_000;

/// What a drain applies to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// One worker, by the id it registers with (`VOXCORE_WORKER_ID`).
    Worker,
    /// Every worker of a host, those registering later included.
    Host,
}

/// Drain (or undrain) one worker or every worker of a host.
#[derive(Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DrainRequest {
    target: Target,
    /// The worker's id or the host's name: 1 to 200 characters, no control characters.
    #[schemars(
        length(min = 1, max = 200),
        regex(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")
    )]
    name: String,
    /// `true` drains, `false` puts back into service.
    draining: bool,
}

/// A campaign's or a client's quota: `null` lifts it.
#[derive(Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuotaRequest {
    /// Slots the campaign's (or the client's) calls may hold at once across the platform (0 stops
    /// new calls).
    #[schemars(range(max = 100_000))]
    slots: Option<u32>,
}

fn registry(state: &AppState) -> ApiResult<Arc<dyn registry::Registry>> {
    state.config.registry.clone().ok_or_else(|| {
        ApiError::conflict(
            "capacity.no_registry",
            "the platform runs without a capacity registry (REDIS_URL): workers and quotas cannot be controlled",
        )
    })
}

fn unavailable(error: registry::RegistryError) -> ApiError {
    match error {
        registry::RegistryError::Invalid { field, message } => ApiError::invalid(field, message),
        other => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "capacity.registry_unavailable",
            other.to_string(),
        ),
    }
}

async fn drain(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiJson(body): ApiJson<DrainRequest>,
) -> ApiResult<Json<DrainRequest>> {
    let chars = body.name.chars().count();
    if chars == 0 || chars > MAX_NAME || body.name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            format!("must be 1 to {MAX_NAME} characters, none of them control characters"),
        ));
    }
    let registry = registry(&state)?;
    match body.target {
        Target::Worker => registry.drain_worker(&body.name, body.draining).await,
        Target::Host => registry.drain_host(&body.name, body.draining).await,
    }
    .map_err(unavailable)?;
    let value = if body.draining {
        json!(true)
    } else {
        Value::Null
    };
    state
        .store
        .put_setting(
            &crate::capacity::drain_key(body.target, &body.name),
            value,
            principal.user_id,
        )
        .await?;
    audit(
        &state,
        &principal,
        if body.draining {
            "fleet.drain"
        } else {
            "fleet.undrain"
        },
        match body.target {
            Target::Worker => "worker",
            Target::Host => "host",
        },
        &body.name,
        None,
        Some(json!({ "draining": body.draining })),
    )
    .await?;
    Ok(Json(body))
}

/// The registry's scope of a quota route's `name`, checked: a client's well-formed name
/// (`CLIENT`), else a campaign that exists.
async fn quota_scope<const CLIENT: bool>(
    state: &AppState,
    name: &str,
) -> ApiResult<registry::QuotaScope> {
    if CLIENT {
        if !contracts::shape::is_client_name(name) {
            return Err(ApiError::invalid(
                "client",
                contracts::shape::CLIENT_NAME_RULE,
            ));
        }
        return Ok(registry::QuotaScope::Client(name.to_owned()));
    }
    let id: i64 = name
        .parse()
        .map_err(|_| ApiError::invalid("id", "a campaign's id is a number"))?;
    state.store.campaign(CampaignId(id)).await?;
    Ok(registry::QuotaScope::Campaign(id.to_string()))
}

async fn stored_quota(state: &AppState, scope: &registry::QuotaScope) -> ApiResult<Option<u32>> {
    Ok(state
        .store
        .setting(&crate::capacity::quota_key(scope))
        .await?
        .and_then(|setting| setting.value.as_u64())
        .and_then(|slots| u32::try_from(slots).ok()))
}

async fn read_quota<const CLIENT: bool>(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<QuotaRequest>> {
    let scope = quota_scope::<CLIENT>(&state, &name).await?;
    Ok(Json(QuotaRequest {
        slots: stored_quota(&state, &scope).await?,
    }))
}

async fn set_quota<const CLIENT: bool>(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<QuotaRequest>,
) -> ApiResult<Json<QuotaRequest>> {
    if body.slots.is_some_and(|slots| slots > MAX_QUOTA) {
        return Err(ApiError::invalid(
            "slots",
            format!("must be at most {MAX_QUOTA}, or null to lift the quota"),
        ));
    }
    let scope = quota_scope::<CLIENT>(&state, &name).await?;
    let registry = registry(&state)?;
    let before = stored_quota(&state, &scope).await?;
    registry
        .set_quota(&scope, body.slots)
        .await
        .map_err(unavailable)?;
    let value = body.slots.map_or(Value::Null, |slots| json!(slots));
    state
        .store
        .put_setting(
            &crate::capacity::quota_key(&scope),
            value,
            principal.user_id,
        )
        .await?;
    let entity = if CLIENT { "client" } else { "campaign" };
    audit(
        &state,
        &principal,
        &format!("{entity}.quota"),
        entity,
        &name,
        Some(json!({ "slots": before })),
        Some(json!({ "slots": body.slots })),
    )
    .await?;
    Ok(Json(body))
}
