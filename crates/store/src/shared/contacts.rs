//! Contacts: all-or-nothing imports, listing, and the parts of a lease both backends share.

use super::{Db, Pool, expiry_ms, now_ms};
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::rows::{ContactRow, json, paged, to_json};
use crate::validate;
use chrono::{DateTime, Utc};
use contracts::calling_window::CallingWindows;
use contracts::{CallId, CallState, CampaignId, ContactId, E164Number, TimeZoneName};
use sqlx::QueryBuilder;
use std::collections::HashMap;
use std::time::Duration;

const CONTACT_COLUMNS: &str = "id, campaign_id, phone, timezone, variables, status, attempts, \
     next_attempt_at, lease_owner, lease_expires_at, last_outcome";

/// Rows per INSERT statement: well under both backends' bind-parameter limits.
const INSERT_CHUNK: usize = 500;

pub(super) async fn add_contacts(
    pool: &Pool,
    campaign_id: CampaignId,
    contacts: Vec<NewContact>,
) -> Result<u64> {
    let checked = validate::contacts(&contacts)?;
    super::catalog::campaign(pool, campaign_id).await?;
    let now = now_ms();
    let mut tx = super::super::begin_write(pool).await?;
    for chunk in checked.chunks(INSERT_CHUNK) {
        let mut insert = insert_contacts_sql(campaign_id, chunk, now);
        insert
            .build()
            .execute(&mut *tx)
            .await
            .map_err(StoreError::conflict_on("contact"))?;
    }
    tx.commit().await?;
    Ok(checked.len() as u64)
}

/// `INSERT INTO contacts … VALUES …` for one chunk of checked rows, as new pending contacts.
fn insert_contacts_sql<'a>(
    campaign_id: CampaignId,
    chunk: &'a [validate::CheckedContact<'a>],
    now: i64,
) -> QueryBuilder<Db> {
    let mut insert = QueryBuilder::<Db>::new(
        "INSERT INTO contacts (campaign_id, phone, timezone, variables, status, attempts, \
         next_attempt_at, created_at, updated_at) ",
    );
    insert.push_values(chunk, |mut row, contact| {
        row.push_bind(campaign_id.0)
            .push_bind(contact.phone.as_str().to_owned())
            .push_bind(contact.timezone.as_str())
            .push_bind(to_json(&contact.contact.variables))
            .push_bind("pending")
            .push_bind(0_i64)
            .push_bind(0_i64)
            .push_bind(now)
            .push_bind(now);
    });
    insert
}

/// Inserts the rows that are new to the campaign and skips numbers it already has (first one
/// wins); returns, per row, whether it was inserted. One transaction.
pub(super) async fn import_contacts(
    pool: &Pool,
    campaign_id: CampaignId,
    contacts: Vec<NewContact>,
) -> Result<Vec<bool>> {
    let checked = validate::contacts(&contacts)?;
    super::catalog::campaign(pool, campaign_id).await?;
    let now = now_ms();
    let mut inserted = std::collections::HashSet::with_capacity(checked.len());
    let mut tx = super::super::begin_write(pool).await?;
    for chunk in checked.chunks(INSERT_CHUNK) {
        let mut insert = insert_contacts_sql(campaign_id, chunk, now);
        insert.push(" ON CONFLICT (campaign_id, phone) DO NOTHING RETURNING phone");
        let phones: Vec<String> = insert.build_query_scalar().fetch_all(&mut *tx).await?;
        inserted.extend(phones);
    }
    tx.commit().await?;
    Ok(checked
        .iter()
        .map(|contact| inserted.contains(contact.phone.as_str()))
        .collect())
}

pub(super) async fn contact(pool: &Pool, id: ContactId) -> Result<Contact> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1");
    let row: Option<ContactRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("contact", id))?
        .try_into()
}

pub(super) async fn list_contacts(
    pool: &Pool,
    campaign_id: CampaignId,
    filter: ContactFilter,
    page: Page,
) -> Result<Paged<Contact>> {
    let page = validate::page(page)?;
    let mut query = QueryBuilder::<Db>::new(format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts WHERE campaign_id = "
    ));
    query.push_bind(campaign_id.0);
    query
        .push(" AND id < ")
        .push_bind(page.after.unwrap_or(i64::MAX));
    if let Some(status) = filter.status {
        query.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(phone) = filter.phone {
        query.push(" AND phone = ").push_bind(phone);
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(page.limit) + 1);
    let rows: Vec<ContactRow> = query.build_query_as().fetch_all(pool).await?;
    paged(rows, page.limit, ContactRow::row_id)
}

pub(super) async fn renew_leases(
    pool: &Pool,
    owner: &str,
    contacts: &[ContactId],
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<u64> {
    if contacts.is_empty() {
        return Ok(0);
    }
    let mut query = QueryBuilder::<Db>::new("UPDATE contacts SET lease_expires_at = ");
    query.push_bind(expiry_ms(now, ttl));
    query
        .push(" WHERE status = 'leased' AND lease_owner = ")
        .push_bind(owner.to_owned());
    query.push(" AND lease_expires_at > ").push_bind(to_ms(now));
    query.push(" AND id IN (");
    let mut ids = query.separated(", ");
    for id in contacts {
        ids.push_bind(id.0);
    }
    query.push(")");
    Ok(query.build().execute(pool).await?.rows_affected())
}

pub(super) async fn finish_attempt(
    pool: &Pool,
    contact_id: ContactId,
    owner: &str,
    last_outcome: &str,
    next: ContactNext,
    now: DateTime<Utc>,
) -> Result<()> {
    let (status, next_at) = match next {
        ContactNext::RetryAt(at) => (ContactStatus::Pending, to_ms(at)),
        ContactNext::Done => (ContactStatus::Done, to_ms(now)),
    };
    let updated = sqlx::query(
        "UPDATE contacts SET status = $3, next_attempt_at = $4, last_outcome = $5, \
         lease_owner = NULL, lease_expires_at = NULL, updated_at = $6 \
         WHERE id = $1 AND status = 'leased' AND lease_owner = $2",
    )
    .bind(contact_id.0)
    .bind(owner)
    .bind(status.as_str())
    .bind(next_at)
    .bind(last_outcome)
    .bind(to_ms(now))
    .execute(pool)
    .await?
    .rows_affected();
    if updated == 1 {
        return Ok(());
    }
    let current = contact(pool, contact_id).await?;
    Err(StoreError::WrongState {
        entity: "contact",
        id: contact_id.to_string(),
        actual: current.status.as_str().to_owned(),
        message: format!("not leased by {owner}"),
    })
}

pub(super) async fn finish_call_attempt(
    pool: &Pool,
    call: CallId,
    last_outcome: &str,
    next: ContactNext,
    now: DateTime<Utc>,
) -> Result<bool> {
    let (status, next_at) = match next {
        ContactNext::RetryAt(at) => (ContactStatus::Pending, to_ms(at)),
        ContactNext::Done => (ContactStatus::Done, to_ms(now)),
    };
    let updated = sqlx::query(
        "UPDATE contacts SET \
         status = CASE WHEN status = 'done' THEN 'done' ELSE $2 END, \
         next_attempt_at = CASE WHEN status = 'done' THEN next_attempt_at ELSE $3 END, \
         last_outcome = $4, lease_owner = NULL, lease_expires_at = NULL, updated_at = $5 \
         WHERE id = (SELECT contact_id FROM calls WHERE id = $1) \
         AND NOT EXISTS (SELECT 1 FROM calls newer \
                         WHERE newer.contact_id = contacts.id AND newer.id > $1)",
    )
    .bind(call.0)
    .bind(status.as_str())
    .bind(next_at)
    .bind(last_outcome)
    .bind(to_ms(now))
    .execute(pool)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// What a lease needs to know about its campaign, read inside the lease transaction.
pub(crate) struct LeaseContext {
    pub bot_id: i64,
    pub bot_version: i64,
    pub max_attempts: i64,
    /// At most this many calls to one contact in any 24 hours (`dialler.max_attempts_per_day`).
    pub per_day: Option<i64>,
    pub caller_id: Option<String>,
    /// Zones whose local time is inside a calling window now; `None` when there are no windows.
    pub allowed_zones: Option<Vec<&'static str>>,
}

/// Zones (every IANA zone chrono-tz knows) in which `now` falls inside the campaign's windows.
fn allowed_zones(windows: &CallingWindows, now: DateTime<Utc>) -> Option<Vec<&'static str>> {
    if windows.0.is_empty() {
        return None;
    }
    let zones = chrono_tz::TZ_VARIANTS
        .iter()
        .filter(|tz| windows.allows(TimeZoneName::from(**tz), now))
        .map(|tz| tz.name())
        .collect();
    Some(zones)
}

#[derive(sqlx::FromRow)]
struct LeaseCampaignRow {
    state: String,
    calling_windows: String,
    max_attempts: i64,
    bot_id: i64,
    current_version: i64,
    caller_id: Option<String>,
    settings: String,
}

/// `Fenced` unless `fence` is the dialler leader's and its lease is valid past `until`. Inside a
/// write transaction, with `lock_suffix` locking the leader's row on PostgreSQL, so no new leader
/// can take over before the transaction ends.
pub(crate) async fn check_fence(
    tx: &mut sqlx::Transaction<'static, Db>,
    fence: &Fence,
    until: DateTime<Utc>,
    lock_suffix: &str,
) -> Result<()> {
    let sql = format!(
        "SELECT fencing_token FROM dialler_leader WHERE name = 'dialler' AND holder = $1 \
         AND fencing_token = $2 AND expires_at > $3{lock_suffix}"
    );
    let valid: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(&fence.holder)
        .bind(fence.token)
        .bind(to_ms(until))
        .fetch_optional(&mut **tx)
        .await?;
    match valid {
        Some(_) => Ok(()),
        None => Err(StoreError::Fenced {
            holder: fence.holder.clone(),
            token: fence.token,
        }),
    }
}

/// Checks the fence (when given) and the campaign, inside the lease transaction.
pub(crate) async fn lease_context(
    tx: &mut sqlx::Transaction<'static, Db>,
    request: &LeaseRequest,
    lock_suffix: &str,
) -> Result<LeaseContext> {
    if let Some(fence) = &request.fence {
        check_fence(tx, fence, request.now, lock_suffix).await?;
    }
    let row: Option<LeaseCampaignRow> = sqlx::query_as(
        "SELECT c.state, c.calling_windows, c.max_attempts, c.bot_id, b.current_version, c.caller_id, c.settings \
         FROM campaigns c JOIN bots b ON b.id = c.bot_id WHERE c.id = $1",
    )
    .bind(request.campaign_id.0)
    .fetch_optional(&mut **tx)
    .await?;
    let row = row.ok_or_else(|| StoreError::not_found("campaign", request.campaign_id))?;
    if row.state != CampaignState::Running.as_str() {
        return Err(StoreError::WrongState {
            entity: "campaign",
            id: request.campaign_id.to_string(),
            actual: row.state,
            message: "only a running campaign leases contacts".into(),
        });
    }
    let windows: CallingWindows = json("campaigns.calling_windows", &row.calling_windows)?;
    let settings: serde_json::Value = json("campaigns.settings", &row.settings)?;
    Ok(LeaseContext {
        per_day: crate::dialler_settings::max_attempts_per_day(&settings),
        bot_id: row.bot_id,
        bot_version: row.current_version,
        max_attempts: row.max_attempts,
        caller_id: row.caller_id,
        allowed_zones: allowed_zones(&windows, request.now),
    })
}

/// A contact row the lease update just took.
#[derive(sqlx::FromRow)]
pub(crate) struct LeasedRow {
    pub id: i64,
    pub phone: String,
    pub timezone: String,
    pub attempts: i64,
}

#[derive(sqlx::FromRow)]
struct CreatedCall {
    id: i64,
    contact_id: i64,
}

/// Creates one `leased` call (and its first event) per leased contact, in the lease transaction.
pub(crate) async fn insert_leased_calls(
    tx: &mut sqlx::Transaction<'static, Db>,
    request: &LeaseRequest,
    context: &LeaseContext,
    leased: Vec<LeasedRow>,
) -> Result<Vec<Lease>> {
    if leased.is_empty() {
        return Ok(Vec::new());
    }
    let now = to_ms(request.now);
    let mut insert = QueryBuilder::<Db>::new(
        "INSERT INTO calls (direction, campaign_id, contact_id, bot_id, bot_version, attempt, state, \
         from_number, to_number, lease_owner, created_at, state_changed_at) ",
    );
    insert.push_values(&leased, |mut row, contact| {
        row.push_bind("outbound")
            .push_bind(request.campaign_id.0)
            .push_bind(contact.id)
            .push_bind(context.bot_id)
            .push_bind(context.bot_version)
            .push_bind(contact.attempts)
            .push_bind("leased")
            .push_bind(context.caller_id.clone())
            .push_bind(contact.phone.clone())
            .push_bind(request.owner.clone())
            .push_bind(now)
            .push_bind(now);
    });
    insert.push(" RETURNING id, contact_id");
    let created: Vec<CreatedCall> = insert.build_query_as().fetch_all(&mut **tx).await?;
    let call_of: HashMap<i64, i64> = created.iter().map(|c| (c.contact_id, c.id)).collect();

    let mut events =
        QueryBuilder::<Db>::new("INSERT INTO call_events (call_id, to_state, detail, at) ");
    let detail = to_json(&serde_json::json!({ "lease_owner": request.owner }));
    events.push_values(&created, |mut row, call| {
        row.push_bind(call.id)
            .push_bind("leased")
            .push_bind(detail.clone())
            .push_bind(now);
    });
    events.build().execute(&mut **tx).await?;

    let expires_at = from_ms(expiry_ms(request.now, request.ttl));
    leased
        .into_iter()
        .map(|contact| {
            Ok(Lease {
                contact_id: ContactId(contact.id),
                call_id: CallId(call_of[&contact.id]),
                phone: E164Number::parse(&contact.phone)
                    .map_err(|e| StoreError::corrupt("contacts.phone", e))?,
                timezone: TimeZoneName::parse(&contact.timezone)
                    .map_err(|e| StoreError::corrupt("contacts.timezone", e))?,
                attempt: contact.attempts,
                expires_at,
            })
        })
        .collect()
}

/// Returns expired leases of the campaign to `pending`, inside the lease transaction.
pub(crate) async fn reclaim_expired(
    tx: &mut sqlx::Transaction<'static, Db>,
    request: &LeaseRequest,
) -> Result<()> {
    sqlx::query(
        "UPDATE contacts SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, \
         updated_at = $2 WHERE campaign_id = $1 AND status = 'leased' AND lease_expires_at <= $2",
    )
    .bind(request.campaign_id.0)
    .bind(to_ms(request.now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Pushes the conditions every backend's lease applies to a candidate contact: due, pending,
/// under the attempt cap, not on the DNC list. The zone filter is the backend's to add.
pub(crate) fn push_due_conditions(
    query: &mut QueryBuilder<Db>,
    request: &LeaseRequest,
    context: &LeaseContext,
) {
    query
        .push("campaign_id = ")
        .push_bind(request.campaign_id.0);
    query
        .push(" AND status = 'pending' AND next_attempt_at <= ")
        .push_bind(to_ms(request.now));
    query
        .push(" AND attempts < ")
        .push_bind(context.max_attempts);
    query.push(" AND NOT EXISTS (SELECT 1 FROM dnc WHERE dnc.phone = contacts.phone)");
    // A contact whose earlier call is still live (its lease lapsed while a worker talks to the
    // person, or a dialler died) is not dialled again until that call is over (M1).
    query.push(" AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.contact_id = contacts.id AND calls.state IN (");
    let live = CallState::ALL
        .into_iter()
        .filter(|state| !state.is_terminal());
    let mut separated = query.separated(", ");
    for state in live {
        separated.push_bind(state.as_str());
    }
    query.push("))");
    if let Some(cap) = context.per_day {
        let since = request.now - chrono::Duration::hours(24);
        query
            .push(" AND (SELECT COUNT(*) FROM calls WHERE calls.contact_id = contacts.id AND calls.created_at > ")
            .push_bind(to_ms(since))
            .push(") < ")
            .push_bind(cap);
    }
}

/// Rejects a malformed lease request before the transaction starts.
pub(crate) fn check_lease_request(request: &LeaseRequest) -> Result<()> {
    if request.owner.trim().is_empty() {
        return Err(StoreError::invalid("owner", "must not be empty"));
    }
    if request.limit == 0 || request.limit > Page::MAX_LIMIT {
        return Err(StoreError::invalid(
            "limit",
            format!("must be between 1 and {}", Page::MAX_LIMIT),
        ));
    }
    if request.ttl.is_zero() {
        return Err(StoreError::invalid("ttl", "must be positive"));
    }
    Ok(())
}
