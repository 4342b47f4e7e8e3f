//! Bots: create, read, save a new version, version history, archive; the providers on offer.

use super::{audit, snapshot};
use crate::auth::{Authorized, role};
use crate::convert;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::{AppState, bot_rules};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use contracts::BotId;
use contracts::api::{BotVersionView, BotView, Page, SaveBot};
use store::NewBot;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/bots", get(list).post(create))
        .route("/bots/{id}", get(read).put(save))
        .route("/bots/{id}/archive", post(archive))
        .route("/bots/{id}/restore", post(restore))
        .route("/bots/{id}/versions", get(versions))
        .route("/bots/{id}/versions/{version}", get(version))
        .route("/providers", get(providers))
}

/// The providers of each voice slot, and whether this deployment can run them: the console
/// offers only those that can.
async fn providers(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
) -> Json<contracts::local_services::ProviderOffers> {
    Json(contracts::local_services::ProviderOffers::new(
        &state.config.local_services,
    ))
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ListQuery {
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<i64>,
    #[serde(default)]
    include_archived: bool,
}

async fn view(state: &AppState, id: BotId) -> ApiResult<BotView> {
    let bot = state.store.bot(id).await?;
    let current = state.store.bot_version(id, bot.current_version).await?;
    Ok(convert::bot(&bot, &current))
}

async fn list(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<BotView>>> {
    let bots = state
        .store
        .list_bots(
            super::page(query.limit, query.cursor)?,
            query.include_archived,
        )
        .await?;
    let mut items = Vec::with_capacity(bots.items.len());
    for bot in &bots.items {
        items.push(view(&state, bot.id).await?);
    }
    Ok(Json(Page {
        items,
        next_cursor: bots.next_after.map(|id| id.to_string()),
    }))
}

async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiJson(body): ApiJson<SaveBot>,
) -> ApiResult<(StatusCode, Json<BotView>)> {
    bot_rules::check(&body.spec, &state.config)?;
    knowledge_bases_exist(&state, &body.spec).await?;
    let (bot, version) = state
        .store
        .create_bot(NewBot {
            name: body.name,
            spec: body.spec,
            created_by: principal.user_id,
        })
        .await?;
    let created = convert::bot(&bot, &version);
    audit(
        &state,
        &principal,
        "bot.create",
        "bot",
        bot.id,
        None,
        snapshot(&created),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn read(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<BotView>> {
    Ok(Json(view(&state, BotId(id)).await?))
}

/// Every save is a new version; calls keep the version they ran.
async fn save(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SaveBot>,
) -> ApiResult<Json<BotView>> {
    bot_rules::check(&body.spec, &state.config)?;
    knowledge_bases_exist(&state, &body.spec).await?;
    let before = view(&state, BotId(id)).await?;
    if body.name.trim() != before.name {
        return Err(crate::error::ApiError::refused(
            "name",
            "renaming a bot is not supported; create a new bot",
        ));
    }
    state
        .store
        .save_bot_version(BotId(id), body.spec, principal.user_id)
        .await?;
    let after = view(&state, BotId(id)).await?;
    audit(
        &state,
        &principal,
        "bot.update",
        "bot",
        id,
        snapshot(&before),
        snapshot(&after),
    )
    .await?;
    Ok(Json(after))
}

async fn archive(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<BotView>> {
    set_archived(&state, &principal, id, true).await
}

/// Puts an archived bot back in use.
async fn restore(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<BotView>> {
    set_archived(&state, &principal, id, false).await
}

/// Archives or restores a bot, audited as `bot.archive` or `bot.restore`.
async fn set_archived(
    state: &AppState,
    principal: &crate::auth::Principal,
    id: i64,
    archived: bool,
) -> ApiResult<Json<BotView>> {
    state.store.set_bot_archived(BotId(id), archived).await?;
    let after = view(state, BotId(id)).await?;
    let action = if archived {
        "bot.archive"
    } else {
        "bot.restore"
    };
    audit(state, principal, action, "bot", id, None, None).await?;
    Ok(Json(after))
}

async fn versions(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<BotVersionView>>> {
    let versions = state.store.list_bot_versions(BotId(id)).await?;
    Ok(Json(versions.iter().map(convert::bot_version).collect()))
}

async fn version(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath((id, version)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<BotVersionView>> {
    Ok(Json(convert::bot_version(
        &state.store.bot_version(BotId(id), version).await?,
    )))
}

/// A `search_knowledge` tool may only name knowledge bases that exist.
async fn knowledge_bases_exist(
    state: &AppState,
    spec: &contracts::runtime_config::BotSpec,
) -> ApiResult<()> {
    for (index, tool) in spec.tools.iter().enumerate() {
        let contracts::runtime_config::ToolSpec::SearchKnowledge {
            knowledge_base_ids, ..
        } = tool
        else {
            continue;
        };
        for (position, id) in knowledge_base_ids.iter().enumerate() {
            match state.store.knowledge_base(*id).await {
                Ok(_) => {}
                Err(store::StoreError::NotFound { .. }) => {
                    return Err(ApiError::unknown(
                        format!("spec.tools[{index}].knowledge_base_ids[{position}]"),
                        format!("there is no knowledge base {id}"),
                    ));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(())
}
