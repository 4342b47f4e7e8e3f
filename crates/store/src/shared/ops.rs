//! Do-not-call list, settings, the CRM outbox, the audit log and the dialler's leader lease.

use super::{Pool, expiry_ms, now_ms, simple_page};
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::rows::{AuditRow, CrmDeliveryRow, DncRow, LeaderRow, PacingRow, SettingRow, to_json};
use crate::validate;
use chrono::{DateTime, Utc};
use contracts::{CampaignId, UserId};
use serde_json::Value;
use std::time::Duration;

const CRM_COLUMNS: &str = "id, call_id, target, payload, status, attempts, next_attempt_at, \
     last_error, created_at, delivered_at";
const AUDIT_COLUMNS: &str = "id, actor, action, entity, entity_id, detail, at";
const LEADER: &str = "dialler";

pub(super) async fn add_dnc(pool: &Pool, phone: &str, reason: &str) -> Result<DncEntry> {
    let phone = validate::phone("phone", phone)?;
    let row: DncRow = sqlx::query_as(
        "INSERT INTO dnc (phone, reason, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (phone) DO UPDATE SET reason = excluded.reason \
         RETURNING id, phone, reason, created_at",
    )
    .bind(phone.as_str())
    .bind(reason)
    .bind(now_ms())
    .fetch_one(pool)
    .await?;
    row.try_into()
}

pub(super) async fn add_dnc_batch(
    pool: &Pool,
    entries: Vec<(String, String)>,
) -> Result<Vec<bool>> {
    let phones = entries
        .iter()
        .enumerate()
        .map(|(index, (phone, _))| validate::phone(&format!("entries[{index}].phone"), phone))
        .collect::<Result<Vec<_>>>()?;
    let now = now_ms();
    let mut listed = std::collections::HashSet::with_capacity(entries.len());
    let mut tx = super::super::begin_write(pool).await?;
    for chunk in phones.iter().zip(&entries).collect::<Vec<_>>().chunks(500) {
        let mut insert =
            sqlx::QueryBuilder::<super::Db>::new("INSERT INTO dnc (phone, reason, created_at) ");
        insert.push_values(chunk, |mut row, (phone, (_, reason))| {
            row.push_bind(phone.as_str().to_owned())
                .push_bind(reason.clone())
                .push_bind(now);
        });
        insert.push(" ON CONFLICT (phone) DO NOTHING RETURNING phone");
        let inserted: Vec<String> = insert.build_query_scalar().fetch_all(&mut *tx).await?;
        listed.extend(inserted);
    }
    tx.commit().await?;
    Ok(phones
        .iter()
        .map(|phone| listed.contains(phone.as_str()))
        .collect())
}

pub(super) async fn remove_dnc(pool: &Pool, phone: &str) -> Result<bool> {
    let phone = validate::phone("phone", phone)?;
    let removed = sqlx::query("DELETE FROM dnc WHERE phone = $1")
        .bind(phone.as_str())
        .execute(pool)
        .await?
        .rows_affected();
    Ok(removed > 0)
}

pub(super) async fn is_dnc(pool: &Pool, phone: &str) -> Result<bool> {
    let phone = validate::phone("phone", phone)?;
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM dnc WHERE phone = $1")
        .bind(phone.as_str())
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

pub(super) async fn list_dnc(pool: &Pool, page: Page) -> Result<Paged<DncEntry>> {
    simple_page(
        pool,
        "id, phone, reason, created_at",
        "dnc",
        None,
        page,
        DncRow::row_id,
    )
    .await
}

pub(super) async fn setting(pool: &Pool, key: &str) -> Result<Option<Setting>> {
    let row: Option<SettingRow> =
        sqlx::query_as("SELECT key, value, updated_by, updated_at FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?;
    row.map(Setting::try_from).transpose()
}

pub(super) async fn put_setting(
    pool: &Pool,
    key: &str,
    value: Value,
    by: Option<UserId>,
) -> Result<Setting> {
    let well_formed = !key.is_empty()
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !well_formed {
        return Err(StoreError::invalid(
            "key",
            "use 1-128 characters of a-z, 0-9, '.', '_', '-'",
        ));
    }
    let row: SettingRow = sqlx::query_as(
        "INSERT INTO settings (key, value, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at RETURNING key, value, updated_by, updated_at",
    )
    .bind(key)
    .bind(to_json(&value))
    .bind(by.map(|id| id.0))
    .bind(now_ms())
    .fetch_one(pool)
    .await?;
    row.try_into()
}

pub(super) async fn list_settings(pool: &Pool) -> Result<Vec<Setting>> {
    let rows: Vec<SettingRow> =
        sqlx::query_as("SELECT key, value, updated_by, updated_at FROM settings ORDER BY key")
            .fetch_all(pool)
            .await?;
    rows.into_iter().map(Setting::try_from).collect()
}

pub(super) async fn enqueue_crm_delivery(
    pool: &Pool,
    delivery: NewCrmDelivery,
    now: DateTime<Utc>,
) -> Result<CrmDelivery> {
    if delivery.target.trim().is_empty() {
        return Err(StoreError::invalid("target", "must not be empty"));
    }
    super::calls::call(pool, delivery.call_id).await?;
    sqlx::query(
        "INSERT INTO crm_deliveries (call_id, target, payload, status, attempts, next_attempt_at, \
         created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4) \
         ON CONFLICT (call_id, target) DO UPDATE SET payload = excluded.payload, \
         status = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at, \
         last_error = NULL, delivered_at = NULL \
         WHERE crm_deliveries.payload <> excluded.payload",
    )
    .bind(delivery.call_id.0)
    .bind(&delivery.target)
    .bind(to_json(&delivery.payload))
    .bind(to_ms(now))
    .execute(pool)
    .await?;
    let sql =
        format!("SELECT {CRM_COLUMNS} FROM crm_deliveries WHERE call_id = $1 AND target = $2");
    let row: CrmDeliveryRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(delivery.call_id.0)
        .bind(&delivery.target)
        .fetch_one(pool)
        .await?;
    row.try_into()
}

pub(super) async fn claim_crm_deliveries(
    pool: &Pool,
    now: DateTime<Utc>,
    limit: u32,
    lease: Duration,
) -> Result<Vec<CrmDelivery>> {
    // The outer `next_attempt_at <= $1` makes a concurrent claimer skip rows just claimed.
    let sql = format!(
        "UPDATE crm_deliveries SET next_attempt_at = $3 WHERE status = 'pending' \
         AND next_attempt_at <= $1 AND id IN (SELECT id FROM crm_deliveries \
         WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2) \
         RETURNING {CRM_COLUMNS}"
    );
    let mut rows: Vec<CrmDeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(to_ms(now))
        .bind(i64::from(limit))
        .bind(expiry_ms(now, lease))
        .fetch_all(pool)
        .await?;
    rows.sort_by_key(CrmDeliveryRow::row_id);
    rows.into_iter().map(CrmDelivery::try_from).collect()
}

pub(super) async fn list_crm_deliveries(
    pool: &Pool,
    status: Option<DeliveryStatus>,
    page: Page,
) -> Result<Paged<CrmDelivery>> {
    // Status names are constants of this crate, never caller text.
    let filter = status.map(|status| format!("status = '{}'", status.as_str()));
    simple_page(
        pool,
        CRM_COLUMNS,
        "crm_deliveries",
        filter.as_deref(),
        page,
        CrmDeliveryRow::row_id,
    )
    .await
}

pub(super) async fn requeue_crm_delivery(
    pool: &Pool,
    id: i64,
    now: DateTime<Utc>,
) -> Result<CrmDelivery> {
    let sql = format!(
        "UPDATE crm_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2 \
         WHERE id = $1 AND status = 'failed' RETURNING {CRM_COLUMNS}"
    );
    let row: Option<CrmDeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(to_ms(now))
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("failed crm delivery", id))?
        .try_into()
}

pub(super) async fn record_crm_attempt(
    pool: &Pool,
    id: i64,
    outcome: DeliveryOutcome,
    now: DateTime<Utc>,
) -> Result<CrmDelivery> {
    let now = to_ms(now);
    let (status, next_at, error, delivered_at) = match outcome {
        DeliveryOutcome::Delivered => (DeliveryStatus::Delivered, now, None, Some(now)),
        DeliveryOutcome::RetryAt { at, error } => {
            (DeliveryStatus::Pending, to_ms(at), Some(error), None)
        }
        DeliveryOutcome::Failed { error } => (DeliveryStatus::Failed, now, Some(error), None),
    };
    let sql = format!(
        "UPDATE crm_deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = $3, \
         last_error = COALESCE($4, last_error), delivered_at = $5 \
         WHERE id = $1 AND status = 'pending' RETURNING {CRM_COLUMNS}"
    );
    let row: Option<CrmDeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(status.as_str())
        .bind(next_at)
        .bind(error)
        .bind(delivered_at)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("pending crm delivery", id))?
        .try_into()
}

pub(super) async fn append_audit(pool: &Pool, entry: NewAuditEntry) -> Result<AuditEntry> {
    for (field, value) in [
        ("actor", &entry.actor),
        ("action", &entry.action),
        ("entity", &entry.entity),
    ] {
        if value.trim().is_empty() {
            return Err(StoreError::invalid(field, "must not be empty"));
        }
    }
    let sql = format!(
        "INSERT INTO audit_log (actor, action, entity, entity_id, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {AUDIT_COLUMNS}"
    );
    let row: AuditRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.entity)
        .bind(&entry.entity_id)
        .bind(entry.detail.as_ref().map(to_json))
        .bind(now_ms())
        .fetch_one(pool)
        .await?;
    row.try_into()
}

pub(super) async fn list_audit(pool: &Pool, page: Page) -> Result<Paged<AuditEntry>> {
    simple_page(
        pool,
        AUDIT_COLUMNS,
        "audit_log",
        None,
        page,
        AuditRow::row_id,
    )
    .await
}

pub(super) async fn acquire_leader(
    pool: &Pool,
    holder: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<Option<LeaderLease>> {
    if holder.trim().is_empty() {
        return Err(StoreError::invalid("holder", "must not be empty"));
    }
    // The caller's own valid lease keeps its token; a free or expired one gets token + 1.
    let row: Option<LeaderRow> = sqlx::query_as(
        "INSERT INTO dialler_leader (name, holder, fencing_token, expires_at, acquired_at) \
         VALUES ($1, $2, 1, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET \
           fencing_token = CASE WHEN dialler_leader.holder = excluded.holder \
             AND dialler_leader.expires_at > $4 THEN dialler_leader.fencing_token \
             ELSE dialler_leader.fencing_token + 1 END, \
           acquired_at = CASE WHEN dialler_leader.holder = excluded.holder \
             AND dialler_leader.expires_at > $4 THEN dialler_leader.acquired_at \
             ELSE excluded.acquired_at END, \
           holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE dialler_leader.expires_at <= $4 OR dialler_leader.holder = excluded.holder \
         RETURNING holder, fencing_token, expires_at",
    )
    .bind(LEADER)
    .bind(holder)
    .bind(expiry_ms(now, ttl))
    .bind(to_ms(now))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(LeaderLease::from))
}

pub(super) async fn renew_leader(
    pool: &Pool,
    fence: &Fence,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<Option<LeaderLease>> {
    let row: Option<LeaderRow> = sqlx::query_as(
        "UPDATE dialler_leader SET expires_at = $4 WHERE name = $1 AND holder = $2 \
         AND fencing_token = $3 AND expires_at > $5 RETURNING holder, fencing_token, expires_at",
    )
    .bind(LEADER)
    .bind(&fence.holder)
    .bind(fence.token)
    .bind(expiry_ms(now, ttl))
    .bind(to_ms(now))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(LeaderLease::from))
}

pub(super) async fn release_leader(pool: &Pool, fence: &Fence) -> Result<()> {
    sqlx::query(
        "UPDATE dialler_leader SET expires_at = 0 WHERE name = $1 AND holder = $2 AND fencing_token = $3",
    )
    .bind(LEADER)
    .bind(&fence.holder)
    .bind(fence.token)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn leader(pool: &Pool) -> Result<Option<LeaderLease>> {
    let row: Option<LeaderRow> = sqlx::query_as(
        "SELECT holder, fencing_token, expires_at FROM dialler_leader WHERE name = $1",
    )
    .bind(LEADER)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(LeaderLease::from))
}

pub(super) async fn record_pacing(
    pool: &Pool,
    holder: &str,
    campaign: CampaignId,
    decision: &Value,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO campaign_pacing (campaign_id, holder, decision, decided_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (campaign_id) DO UPDATE SET \
         holder = excluded.holder, decision = excluded.decision, decided_at = excluded.decided_at",
    )
    .bind(campaign.0)
    .bind(holder)
    .bind(to_json(decision))
    .bind(to_ms(now))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn pacing(pool: &Pool, campaign: CampaignId) -> Result<Option<PacingRecord>> {
    let row: Option<PacingRow> = sqlx::query_as(
        "SELECT campaign_id, holder, decision, decided_at FROM campaign_pacing \
         WHERE campaign_id = $1",
    )
    .bind(campaign.0)
    .fetch_optional(pool)
    .await?;
    row.map(PacingRecord::try_from).transpose()
}
