//! Carrier accounts and carrier events: kept with the call's move in one transaction.

use super::{Pool, now_ms};
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::rows::{CallEventRow, CallRow, CarrierAccountRow, to_json};
use crate::validate;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{CallId, CallState};

const ACCOUNT_COLUMNS: &str = "id, carrier, name, account_sid, api_url, numbers, \
     webhook_key IS NOT NULL AS webhook_key_set, sip_trunk, created_at, updated_at";

pub(super) async fn create_carrier_account(
    pool: &Pool,
    account: NewCarrierAccount,
) -> Result<CarrierAccount> {
    validate::carrier_account(&account, true)?;
    let now = now_ms();
    let sql = format!(
        "INSERT INTO carrier_accounts (carrier, name, account_sid, secret, api_url, numbers, \
         webhook_key, sip_trunk, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $8, $9, $7, $7) \
         RETURNING {ACCOUNT_COLUMNS}"
    );
    let row: CarrierAccountRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(account.carrier.as_str())
        .bind(account.name.trim())
        .bind(account.account_sid.trim())
        .bind(account.secret.unwrap_or_default())
        .bind(account.api_url)
        .bind(to_json(&account.numbers))
        .bind(now)
        .bind(account.webhook_key.as_deref().map(str::trim))
        .bind(account.trunk.as_ref().map(to_json))
        .fetch_one(pool)
        .await
        .map_err(StoreError::conflict_on("carrier account"))?;
    row.try_into()
}

pub(super) async fn update_carrier_account(
    pool: &Pool,
    id: CarrierAccountId,
    account: NewCarrierAccount,
) -> Result<CarrierAccount> {
    validate::carrier_account(&account, false)?;
    let before = carrier_account(pool, id).await?;
    if before.carrier != account.carrier {
        // Its webhooks, numbers and calls are that carrier's: a different carrier is a new
        // account, not an edit.
        return Err(StoreError::WrongState {
            entity: "carrier account",
            id: id.to_string(),
            actual: format!("a {} account", before.carrier),
            message: format!(
                "its carrier cannot change; save a new account for {}",
                account.carrier
            ),
        });
    }
    let sql = format!(
        "UPDATE carrier_accounts SET name = $2, account_sid = $3, secret = COALESCE($4, secret), \
         api_url = $5, numbers = $6, updated_at = $7, webhook_key = COALESCE($8, webhook_key), \
         sip_trunk = $9 \
         WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}"
    );
    let row: CarrierAccountRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(account.name.trim())
        .bind(account.account_sid.trim())
        .bind(account.secret)
        .bind(account.api_url)
        .bind(to_json(&account.numbers))
        .bind(now_ms())
        .bind(account.webhook_key.as_deref().map(str::trim))
        .bind(account.trunk.as_ref().map(to_json))
        .fetch_one(pool)
        .await
        .map_err(StoreError::conflict_on("carrier account"))?;
    row.try_into()
}

pub(super) async fn carrier_account(pool: &Pool, id: CarrierAccountId) -> Result<CarrierAccount> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM carrier_accounts WHERE id = $1");
    let row: Option<CarrierAccountRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("carrier account", id))?
        .try_into()
}

pub(super) async fn carrier_account_secret(pool: &Pool, id: CarrierAccountId) -> Result<String> {
    let secret: Option<String> =
        sqlx::query_scalar("SELECT secret FROM carrier_accounts WHERE id = $1")
            .bind(id.0)
            .fetch_optional(pool)
            .await?;
    secret.ok_or_else(|| StoreError::not_found("carrier account", id))
}

pub(super) async fn carrier_account_webhook_key(
    pool: &Pool,
    id: CarrierAccountId,
) -> Result<Option<String>> {
    let key: Option<Option<String>> =
        sqlx::query_scalar("SELECT webhook_key FROM carrier_accounts WHERE id = $1")
            .bind(id.0)
            .fetch_optional(pool)
            .await?;
    key.ok_or_else(|| StoreError::not_found("carrier account", id))
}

pub(super) async fn list_carrier_accounts(pool: &Pool) -> Result<Vec<CarrierAccount>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM carrier_accounts ORDER BY id");
    let rows: Vec<CarrierAccountRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(CarrierAccount::try_from).collect()
}

/// Keeps the event unless it was kept before; a new one moves the call to `transition.to` in the
/// same transaction from whatever state it is in (`transition.from` is not used) when that state
/// may move there, so a late or out-of-order event leaves the call as it is.
pub(super) async fn record_telephony_event(
    pool: &Pool,
    event: NewTelephonyEvent,
    transition: Option<Transition>,
) -> Result<TelephonyRecord> {
    if event.carrier_call_id.trim().is_empty() {
        return Err(StoreError::invalid("carrier_call_id", "must not be empty"));
    }
    if let Some(transition) = &transition
        && let Some(code) = transition.outcome
        && transition.to.is_terminal()
        && code.end_state() != transition.to
    {
        return Err(StoreError::invalid(
            "outcome",
            format!(
                "{code} ends a call as {}, not {}",
                code.end_state(),
                transition.to
            ),
        ));
    }
    let mut tx = super::super::begin_write(pool).await?;
    let kept = sqlx::query(
        "INSERT INTO telephony_events (carrier, account_id, call_id, carrier_call_id, event, \
         sequence, payload, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (carrier, carrier_call_id, event, sequence) DO NOTHING",
    )
    .bind(event.carrier.as_str())
    .bind(event.account_id.0)
    .bind(event.call_id.map(|id| id.0))
    .bind(&event.carrier_call_id)
    .bind(&event.event)
    .bind(event.sequence)
    .bind(to_json(&event.payload))
    .bind(to_ms(event.received_at))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if kept == 0 {
        tx.rollback().await?;
        return Ok(TelephonyRecord {
            new: false,
            moved: None,
        });
    }
    let moved = match transition {
        Some(mut transition) => {
            // From wherever the call is now, when that may move there: carriers deliver out of
            // order, and a stale event must not undo a later one.
            let sql = format!(
                "SELECT state FROM calls WHERE id = $1{}",
                super::super::LOCK_ROW
            );
            let state: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(transition.call_id.0)
                .fetch_optional(&mut *tx)
                .await?;
            let state = state
                .ok_or_else(|| StoreError::not_found("call", transition.call_id))?
                .parse::<CallState>()
                .map_err(|e| StoreError::corrupt("calls.state", e))?;
            if state.can_move_to(transition.to) {
                transition.from = state;
                super::calls::apply_transition(&mut tx, transition).await?
            } else {
                None
            }
        }
        None => None,
    };
    tx.commit().await?;
    Ok(TelephonyRecord { new: true, moved })
}

pub(super) async fn call_by_carrier_call_id(
    pool: &Pool,
    carrier_call_id: &str,
) -> Result<Option<Call>> {
    let sql = format!(
        "SELECT {} FROM calls WHERE carrier_call_id = $1 ORDER BY id DESC LIMIT 1",
        super::calls::CALL_COLUMNS
    );
    let row: Option<CallRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(carrier_call_id)
        .fetch_optional(pool)
        .await?;
    row.map(Call::try_from).transpose()
}

/// Every call's events after `after`, oldest first: the dialler follows the edge's moves with it.
pub(super) async fn call_events_after(
    pool: &Pool,
    after: i64,
    limit: u32,
) -> Result<Vec<CallEvent>> {
    let sql = format!(
        "SELECT {} FROM call_events WHERE id > $1 ORDER BY id LIMIT $2",
        super::calls::EVENT_COLUMNS
    );
    let rows: Vec<CallEventRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(i64::from(limit.clamp(1, Page::MAX_LIMIT)))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(CallEvent::try_from).collect()
}

pub(super) async fn last_call_event_id(pool: &Pool) -> Result<i64> {
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM call_events")
        .fetch_one(pool)
        .await?;
    Ok(last.unwrap_or(0))
}

pub(super) async fn carrier_account_of_call(
    pool: &Pool,
    call_id: CallId,
) -> Result<Option<CarrierAccountId>> {
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT account_id FROM telephony_events WHERE call_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(call_id.0)
    .fetch_optional(pool)
    .await?;
    Ok(id.map(CarrierAccountId))
}

/// The carrier events kept for one call, oldest first.
pub(super) async fn telephony_events(pool: &Pool, call_id: CallId) -> Result<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event, sequence FROM telephony_events WHERE call_id = $1 ORDER BY id",
    )
    .bind(call_id.0)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// Whether any event of the carrier call was kept.
pub(super) async fn carrier_call_known(
    pool: &Pool,
    carrier: CarrierKind,
    carrier_call_id: &str,
) -> Result<bool> {
    let found: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM telephony_events WHERE carrier = $1 AND carrier_call_id = $2 LIMIT 1",
    )
    .bind(carrier.as_str())
    .bind(carrier_call_id)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}

/// Sets the call's carrier leg and worker where unset, and links the leg's unlinked events.
pub(super) async fn note_call_leg(
    pool: &Pool,
    call_id: CallId,
    carrier: CarrierKind,
    carrier_call_id: &str,
    worker_id: Option<&str>,
) -> Result<()> {
    let mut tx = super::super::begin_write(pool).await?;
    let updated = sqlx::query(
        "UPDATE calls SET carrier_call_id = COALESCE(carrier_call_id, $2), \
         worker_id = COALESCE(worker_id, $3) WHERE id = $1",
    )
    .bind(call_id.0)
    .bind(carrier_call_id)
    .bind(worker_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        tx.rollback().await?;
        return Err(StoreError::not_found("call", call_id));
    }
    sqlx::query(
        "UPDATE telephony_events SET call_id = $1 \
         WHERE carrier = $2 AND carrier_call_id = $3 AND call_id IS NULL",
    )
    .bind(call_id.0)
    .bind(carrier.as_str())
    .bind(carrier_call_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
