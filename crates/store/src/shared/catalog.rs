//! Versioned bots and campaigns.

use super::{Pool, now_ms, simple_page};
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::rows::{BotRow, BotVersionRow, CampaignRow, to_json};
use crate::validate;
use contracts::runtime_config::BotSpec;
use contracts::{BotId, CampaignId, UserId};

const BOT_COLUMNS: &str = "id, name, current_version, archived, created_at, updated_at";
const VERSION_COLUMNS: &str = "bot_id, version, spec, created_by, created_at";
const CAMPAIGN_COLUMNS: &str = "id, name, bot_id, state, calling_windows, max_attempts, \
     concurrency_cap, weight, abandon_target, caller_id, settings, created_at, updated_at";

async fn insert_version(
    tx: &mut sqlx::Transaction<'static, super::Db>,
    bot_id: BotId,
    version: i64,
    spec: &BotSpec,
    by: Option<UserId>,
    now: i64,
) -> Result<BotVersion> {
    let sql = format!(
        "INSERT INTO bot_versions (bot_id, version, spec, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {VERSION_COLUMNS}"
    );
    let row: BotVersionRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(bot_id.0)
        .bind(version)
        .bind(to_json(spec))
        .bind(by.map(|id| id.0))
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
    row.try_into()
}

pub(super) async fn create_bot(pool: &Pool, bot: NewBot) -> Result<(Bot, BotVersion)> {
    if bot.name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    let now = now_ms();
    let mut tx = super::super::begin_write(pool).await?;
    let sql = format!(
        "INSERT INTO bots (name, current_version, archived, created_at, updated_at) \
         VALUES ($1, 1, FALSE, $2, $2) RETURNING {BOT_COLUMNS}"
    );
    let row: BotRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(bot.name.trim())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let created = Bot::try_from(row)?;
    let version = insert_version(&mut tx, created.id, 1, &bot.spec, bot.created_by, now).await?;
    tx.commit().await?;
    Ok((created, version))
}

pub(super) async fn save_bot_version(
    pool: &Pool,
    bot_id: BotId,
    spec: BotSpec,
    by: Option<UserId>,
) -> Result<BotVersion> {
    let now = now_ms();
    let mut tx = super::super::begin_write(pool).await?;
    let version: Option<i64> = sqlx::query_scalar(
        "UPDATE bots SET current_version = current_version + 1, updated_at = $2 \
         WHERE id = $1 RETURNING current_version",
    )
    .bind(bot_id.0)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let version = version.ok_or_else(|| StoreError::not_found("bot", bot_id))?;
    let saved = insert_version(&mut tx, bot_id, version, &spec, by, now).await?;
    tx.commit().await?;
    Ok(saved)
}

pub(super) async fn bot(pool: &Pool, id: BotId) -> Result<Bot> {
    let sql = format!("SELECT {BOT_COLUMNS} FROM bots WHERE id = $1");
    let row: Option<BotRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("bot", id))?
        .try_into()
}

pub(super) async fn bot_version(pool: &Pool, id: BotId, version: i64) -> Result<BotVersion> {
    let sql =
        format!("SELECT {VERSION_COLUMNS} FROM bot_versions WHERE bot_id = $1 AND version = $2");
    let row: Option<BotVersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(version)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("bot version", format!("{id}/{version}")))?
        .try_into()
}

pub(super) async fn list_bot_versions(pool: &Pool, id: BotId) -> Result<Vec<BotVersion>> {
    bot(pool, id).await?;
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM bot_versions WHERE bot_id = $1 ORDER BY version DESC"
    );
    let rows: Vec<BotVersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(BotVersion::try_from).collect()
}

pub(super) async fn list_bots(
    pool: &Pool,
    page: Page,
    include_archived: bool,
) -> Result<Paged<Bot>> {
    let filter = (!include_archived).then_some("archived = FALSE");
    simple_page(pool, BOT_COLUMNS, "bots", filter, page, BotRow::row_id).await
}

pub(super) async fn set_bot_archived(pool: &Pool, id: BotId, archived: bool) -> Result<Bot> {
    let sql = format!(
        "UPDATE bots SET archived = $2, updated_at = $3 WHERE id = $1 RETURNING {BOT_COLUMNS}"
    );
    let row: Option<BotRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(archived)
        .bind(now_ms())
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("bot", id))?
        .try_into()
}

async fn check_bot_exists(pool: &Pool, id: BotId) -> Result<()> {
    match bot(pool, id).await {
        Err(StoreError::NotFound { .. }) => Err(StoreError::unknown(
            "bot_id",
            format!("there is no bot {id}"),
        )),
        other => other.map(drop),
    }
}

pub(super) async fn create_campaign(pool: &Pool, campaign: NewCampaign) -> Result<Campaign> {
    validate::campaign(&campaign)?;
    check_bot_exists(pool, campaign.bot_id).await?;
    let sql = format!(
        "INSERT INTO campaigns (name, bot_id, state, calling_windows, max_attempts, concurrency_cap, \
         weight, abandon_target, caller_id, settings, created_at, updated_at) \
         VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {CAMPAIGN_COLUMNS}"
    );
    let row: CampaignRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(campaign.name.trim())
        .bind(campaign.bot_id.0)
        .bind(to_json(&campaign.calling_windows))
        .bind(campaign.max_attempts)
        .bind(campaign.concurrency_cap)
        .bind(campaign.weight)
        .bind(campaign.abandon_target)
        .bind(campaign.caller_id.as_ref().map(|n| n.as_str().to_owned()))
        .bind(to_json(&campaign.settings))
        .bind(now_ms())
        .fetch_one(pool)
        .await
        .map_err(StoreError::conflict_on("campaign"))?;
    row.try_into()
}

pub(super) async fn campaign(pool: &Pool, id: CampaignId) -> Result<Campaign> {
    let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1");
    let row: Option<CampaignRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("campaign", id))?
        .try_into()
}

pub(super) async fn list_campaigns(
    pool: &Pool,
    page: Page,
    state: Option<CampaignState>,
) -> Result<Paged<Campaign>> {
    // The state names are constants of this crate, never caller text.
    let filter = state.map(|state| format!("state = '{}'", state.as_str()));
    simple_page(
        pool,
        CAMPAIGN_COLUMNS,
        "campaigns",
        filter.as_deref(),
        page,
        CampaignRow::row_id,
    )
    .await
}

pub(super) async fn update_campaign(
    pool: &Pool,
    id: CampaignId,
    campaign: NewCampaign,
) -> Result<Campaign> {
    validate::campaign(&campaign)?;
    check_bot_exists(pool, campaign.bot_id).await?;
    let sql = format!(
        "UPDATE campaigns SET name = $2, bot_id = $3, calling_windows = $4, max_attempts = $5, \
         concurrency_cap = $6, weight = $7, abandon_target = $8, caller_id = $9, settings = $10, \
         updated_at = $11 WHERE id = $1 AND state <> 'completed' RETURNING {CAMPAIGN_COLUMNS}"
    );
    let row: Option<CampaignRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(campaign.name.trim())
        .bind(campaign.bot_id.0)
        .bind(to_json(&campaign.calling_windows))
        .bind(campaign.max_attempts)
        .bind(campaign.concurrency_cap)
        .bind(campaign.weight)
        .bind(campaign.abandon_target)
        .bind(campaign.caller_id.as_ref().map(|n| n.as_str().to_owned()))
        .bind(to_json(&campaign.settings))
        .bind(now_ms())
        .fetch_optional(pool)
        .await
        .map_err(StoreError::conflict_on("campaign"))?;
    match row {
        Some(row) => row.try_into(),
        None => Err(wrong_state(pool, id, "a completed campaign cannot be edited").await),
    }
}

pub(super) async fn set_campaign_state(
    pool: &Pool,
    id: CampaignId,
    from: CampaignState,
    to: CampaignState,
) -> Result<Campaign> {
    if !from.can_move_to(to) {
        return Err(StoreError::invalid(
            "state",
            format!("a campaign cannot move from {from} to {to}"),
        ));
    }
    let sql = format!(
        "UPDATE campaigns SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2 \
         RETURNING {CAMPAIGN_COLUMNS}"
    );
    let row: Option<CampaignRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(now_ms())
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => row.try_into(),
        None => Err(wrong_state(pool, id, &format!("expected {from}")).await),
    }
}

/// Why a conditional campaign update matched no row: it is missing, or in another state.
async fn wrong_state(pool: &Pool, id: CampaignId, message: &str) -> StoreError {
    match campaign(pool, id).await {
        Ok(existing) => StoreError::WrongState {
            entity: "campaign",
            id: id.to_string(),
            actual: existing.state.to_string(),
            message: message.to_owned(),
        },
        Err(error) => error,
    }
}
