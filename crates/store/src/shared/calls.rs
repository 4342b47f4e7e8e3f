//! Calls: creation, conditional transitions with their events, the log, the stale-call reaper.

use super::{Db, Pool};
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::rows::{CallEventRow, CallRow, StateCountRow, paged, to_json};
use crate::validate;
use chrono::{DateTime, Utc};
use contracts::{CallId, CallOutcomeCode, CallState, CampaignId};
use sqlx::QueryBuilder;

pub(super) const CALL_COLUMNS: &str = "id, direction, campaign_id, contact_id, bot_id, bot_version, attempt, \
     state, outcome, from_number, to_number, carrier_call_id, worker_id, created_at, \
     state_changed_at, answered_at, ended_at, result, disposition";
pub(super) const EVENT_COLUMNS: &str = "id, call_id, from_state, to_state, outcome, detail, at";

async fn append_event(
    tx: &mut sqlx::Transaction<'static, Db>,
    call_id: CallId,
    from: Option<CallState>,
    to: CallState,
    outcome: Option<CallOutcomeCode>,
    detail: Option<&serde_json::Value>,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO call_events (call_id, from_state, to_state, outcome, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(call_id.0)
    .bind(from.map(CallState::as_str))
    .bind(to.as_str())
    .bind(outcome.map(CallOutcomeCode::as_str))
    .bind(detail.map(to_json))
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn create_call(pool: &Pool, call: NewCall) -> Result<Call> {
    if !matches!(call.state, CallState::Queued | CallState::Answered) {
        return Err(StoreError::invalid(
            "state",
            format!("a call starts queued or answered, not {}", call.state),
        ));
    }
    let bot = super::catalog::bot(pool, call.bot_id)
        .await
        .map_err(|error| match error {
            StoreError::NotFound { .. } => {
                StoreError::unknown("bot_id", format!("there is no bot {}", call.bot_id))
            }
            other => other,
        })?;
    let now = to_ms(call.now);
    let answered_at = (call.state == CallState::Answered).then_some(now);
    let mut tx = super::super::begin_write(pool).await?;
    let sql = format!(
        "INSERT INTO calls (direction, campaign_id, contact_id, bot_id, bot_version, attempt, state, \
         from_number, to_number, created_at, state_changed_at, answered_at, variables, carrier_call_id) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $9, $10, $11, $12) RETURNING {CALL_COLUMNS}"
    );
    let row: CallRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(call.direction.as_str())
        .bind(call.campaign_id.map(|id| id.0))
        .bind(call.contact_id.map(|id| id.0))
        .bind(bot.id.0)
        .bind(bot.current_version)
        .bind(call.state.as_str())
        .bind(call.from.map(String::from))
        .bind(call.to.map(String::from))
        .bind(now)
        .bind(answered_at)
        .bind(
            (!call.variables.is_empty())
                .then(|| to_json(&serde_json::Value::Object(call.variables))),
        )
        .bind(call.carrier_call_id)
        .fetch_one(&mut *tx)
        .await?;
    let created = Call::try_from(row)?;
    append_event(&mut tx, created.id, None, created.state, None, None, now).await?;
    tx.commit().await?;
    Ok(created)
}

pub(super) async fn call(pool: &Pool, id: CallId) -> Result<Call> {
    let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
    let row: Option<CallRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("call", id))?
        .try_into()
}

pub(super) async fn list_calls(pool: &Pool, filter: CallFilter, page: Page) -> Result<Paged<Call>> {
    let page = validate::page(page)?;
    let mut query =
        QueryBuilder::<Db>::new(format!("SELECT {CALL_COLUMNS} FROM calls WHERE id < "));
    query.push_bind(page.after.unwrap_or(i64::MAX));
    if let Some(campaign) = filter.campaign_id {
        query.push(" AND campaign_id = ").push_bind(campaign.0);
    }
    if let Some(contact) = filter.contact_id {
        query.push(" AND contact_id = ").push_bind(contact.0);
    }
    if let Some(state) = filter.state {
        query.push(" AND state = ").push_bind(state.as_str());
    }
    if let Some(direction) = filter.direction {
        query
            .push(" AND direction = ")
            .push_bind(direction.as_str());
    }
    if let Some(since) = filter.since {
        query.push(" AND created_at >= ").push_bind(to_ms(since));
    }
    if let Some(until) = filter.until {
        query.push(" AND created_at < ").push_bind(to_ms(until));
    }
    if let Some(bot) = filter.bot_id {
        query.push(" AND bot_id = ").push_bind(bot.0);
    }
    if let Some(outcome) = filter.outcome {
        query.push(" AND outcome = ").push_bind(outcome.as_str());
    }
    if let Some(disposition) = filter.disposition {
        query.push(" AND disposition = ").push_bind(disposition);
    }
    if let Some(phone) = filter.phone {
        query.push(" AND (to_number = ").push_bind(phone.clone());
        query.push(" OR from_number = ").push_bind(phone).push(")");
    }
    if let Some(text) = filter.text {
        // The transcript lives in the result document; a substring match, case-insensitive.
        let pattern = format!("%{}%", text.to_lowercase().replace(['%', '_'], ""));
        query.push(" AND LOWER(result) LIKE ").push_bind(pattern);
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(page.limit) + 1);
    let rows: Vec<CallRow> = query.build_query_as().fetch_all(pool).await?;
    paged(rows, page.limit, CallRow::row_id)
}

fn check_transition(transition: &Transition) -> Result<()> {
    let (from, to) = (transition.from, transition.to);
    if !from.can_move_to(to) {
        return Err(StoreError::IllegalTransition { from, to });
    }
    if let Some(code) = transition.outcome
        && to.is_terminal()
        && code.end_state() != to
    {
        return Err(StoreError::invalid(
            "outcome",
            format!("{code} ends a call as {}, not {to}", code.end_state()),
        ));
    }
    Ok(())
}

/// The conditional update and its event, inside the caller's transaction; `None` when the call
/// was not in the expected state (nothing written).
pub(super) async fn apply_transition(
    tx: &mut sqlx::Transaction<'static, Db>,
    transition: Transition,
) -> Result<Option<Call>> {
    let Transition {
        call_id,
        from,
        to,
        outcome,
        detail,
        at,
        carrier_call_id,
        worker_id,
    } = transition;
    let at = to_ms(at);
    let answered_at = (to == CallState::Answered).then_some(at);
    let ended_at = to.is_terminal().then_some(at);
    let sql = format!(
        "UPDATE calls SET state = $3, state_changed_at = $4, outcome = COALESCE($5, outcome), \
         carrier_call_id = COALESCE($6, carrier_call_id), worker_id = COALESCE($7, worker_id), \
         answered_at = COALESCE(answered_at, $8), ended_at = COALESCE(ended_at, $9) \
         WHERE id = $1 AND state = $2 RETURNING {CALL_COLUMNS}"
    );
    let row: Option<CallRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(call_id.0)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(at)
        .bind(outcome.map(CallOutcomeCode::as_str))
        .bind(carrier_call_id)
        .bind(worker_id)
        .bind(answered_at)
        .bind(ended_at)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let moved = Call::try_from(row)?;
    append_event(tx, call_id, Some(from), to, outcome, detail.as_ref(), at).await?;
    Ok(Some(moved))
}

async fn stale(pool: &Pool, call_id: CallId, expected: CallState) -> StoreError {
    match call(pool, call_id).await {
        Ok(current) => StoreError::StaleTransition {
            call_id,
            expected,
            actual: current.state,
        },
        Err(error) => error,
    }
}

pub(super) async fn transition(pool: &Pool, transition: Transition) -> Result<Call> {
    check_transition(&transition)?;
    let (call_id, from) = (transition.call_id, transition.from);
    let mut tx = super::super::begin_write(pool).await?;
    match apply_transition(&mut tx, transition).await? {
        Some(moved) => {
            tx.commit().await?;
            Ok(moved)
        }
        None => {
            tx.rollback().await?;
            Err(stale(pool, call_id, from).await)
        }
    }
}

/// The dialler's last word before it asks the carrier to place a call: `leased → dialing` (or a
/// held-back call still `dialing`), only while `fence` leads until `until`. The leader's row is
/// locked for the transaction, so a new leader cannot take over in between.
pub(super) async fn claim_dial(
    pool: &Pool,
    fence: &Fence,
    call_id: CallId,
    from: CallState,
    at: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Call> {
    if !matches!(from, CallState::Leased | CallState::Dialing) {
        return Err(StoreError::IllegalTransition {
            from,
            to: CallState::Dialing,
        });
    }
    let mut tx = super::super::begin_write(pool).await?;
    super::contacts::check_fence(&mut tx, fence, until, super::super::LOCK_ROW).await?;
    let claimed = if from == CallState::Leased {
        let moved = Transition::new(call_id, from, CallState::Dialing, at);
        apply_transition(&mut tx, moved).await?
    } else {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1 AND state = $2");
        let row: Option<CallRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(call_id.0)
            .bind(from.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        row.map(Call::try_from).transpose()?
    };
    match claimed {
        Some(call) => {
            tx.commit().await?;
            Ok(call)
        }
        None => {
            tx.rollback().await?;
            Err(stale(pool, call_id, from).await)
        }
    }
}

pub(super) async fn correct_attach_failed(
    pool: &Pool,
    call_id: CallId,
    result: &serde_json::Value,
    to: CallState,
    outcome: CallOutcomeCode,
    at: DateTime<Utc>,
) -> Result<Call> {
    let mut tx = super::super::begin_write(pool).await?;
    let before = call(pool, call_id).await?;
    let disposition = result
        .get("disposition")
        .and_then(serde_json::Value::as_str);
    let at = to_ms(at);
    let sql = format!(
        "UPDATE calls SET result = $2, disposition = $3, state = $4, outcome = $5, \
         state_changed_at = $6, ended_at = COALESCE(ended_at, $6) \
         WHERE id = $1 AND outcome IN ('fleet.attach_failed', 'fleet.worker_lost') \
         AND state = $7 \
         RETURNING {CALL_COLUMNS}"
    );
    let row: Option<CallRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(call_id.0)
        .bind(to_json(result))
        .bind(disposition)
        .bind(to.as_str())
        .bind(outcome.as_str())
        .bind(at)
        .bind(before.state.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(StoreError::Conflict {
            entity: "call result",
            detail: format!("call {call_id} has a result that is not fleet.attach_failed"),
        });
    };
    let corrected = Call::try_from(row)?;
    let detail = serde_json::json!({ "source": "call_result", "corrects": "fleet.attach_failed" });
    append_event(
        &mut tx,
        call_id,
        Some(before.state),
        to,
        Some(outcome),
        Some(&detail),
        at,
    )
    .await?;
    tx.commit().await?;
    Ok(corrected)
}

pub(super) async fn record_call_result(
    pool: &Pool,
    call_id: CallId,
    result: &serde_json::Value,
    transition: Option<Transition>,
) -> Result<Call> {
    if let Some(transition) = &transition {
        check_transition(transition)?;
    }
    let mut tx = super::super::begin_write(pool).await?;
    let disposition = result
        .get("disposition")
        .and_then(serde_json::Value::as_str);
    let stored = sqlx::query(
        "UPDATE calls SET result = $2, disposition = $3 WHERE id = $1 AND result IS NULL",
    )
    .bind(call_id.0)
    .bind(to_json(result))
    .bind(disposition)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if stored == 0 {
        tx.rollback().await?;
        call(pool, call_id).await?;
        return Err(StoreError::Conflict {
            entity: "call result",
            detail: format!("call {call_id} already has a result"),
        });
    }
    if let Some(transition) = transition {
        let from = transition.from;
        if apply_transition(&mut tx, transition).await?.is_none() {
            tx.rollback().await?;
            return Err(stale(pool, call_id, from).await);
        }
    }
    tx.commit().await?;
    call(pool, call_id).await
}

pub(super) async fn call_events(pool: &Pool, id: CallId) -> Result<Vec<CallEvent>> {
    call(pool, id).await?;
    let sql = format!("SELECT {EVENT_COLUMNS} FROM call_events WHERE call_id = $1 ORDER BY id");
    let rows: Vec<CallEventRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(CallEvent::try_from).collect()
}

pub(super) async fn reap_stale_calls(pool: &Pool, policy: ReapPolicy) -> Result<ReapReport> {
    let mut report = ReapReport::default();
    let now = to_ms(policy.now);
    let outcome = CallOutcomeCode::CleanupStale;
    let mut tx = super::super::begin_write(pool).await?;
    for (state, deadline) in &policy.deadlines {
        if !CallState::REAPABLE.contains(state) {
            return Err(StoreError::invalid(
                "deadlines",
                format!("{state} is not a live state the reaper may end"),
            ));
        }
        let cutoff = now - i64::try_from(deadline.as_millis()).unwrap_or(i64::MAX / 2);
        let mut reaped: Vec<i64> = Vec::new();
        for id in past_deadline(&mut tx, *state, cutoff, now).await? {
            let ended: Option<i64> = sqlx::query_scalar(
                "UPDATE calls SET state = $1, outcome = $2, state_changed_at = $3, ended_at = $3 \
                 WHERE id = $4 AND state = $5 RETURNING id",
            )
            .bind(outcome.end_state().as_str())
            .bind(outcome.as_str())
            .bind(now)
            .bind(id)
            .bind(state.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            reaped.extend(ended);
        }
        if reaped.is_empty() {
            continue;
        }
        let detail =
            to_json(&serde_json::json!({ "stuck_in": state, "deadline_secs": deadline.as_secs() }));
        for ids in reaped.chunks(500) {
            let mut events = QueryBuilder::<Db>::new(
                "INSERT INTO call_events (call_id, from_state, to_state, outcome, detail, at) ",
            );
            events.push_values(ids, |mut row, id| {
                row.push_bind(*id)
                    .push_bind(state.as_str())
                    .push_bind(outcome.end_state().as_str())
                    .push_bind(outcome.as_str())
                    .push_bind(detail.clone())
                    .push_bind(now);
            });
            events.build().execute(&mut *tx).await?;
        }
        report.reaped.insert(state.as_str(), reaped.len() as u64);
    }
    tx.commit().await?;
    Ok(report)
}

/// Room past a bot's own `max_duration_secs` before a call in progress counts as stuck: the
/// worker's hang-up, its result's delivery.
const PAST_BOT_LIMIT_MS: i64 = 5 * 60 * 1000;

/// The calls in `state` since before `cutoff`; a call in progress only once its bot's own
/// `max_duration_secs` (bots may run up to 4 hours) and a margin are over too (M2).
async fn past_deadline(
    tx: &mut sqlx::Transaction<'static, Db>,
    state: CallState,
    cutoff: i64,
    now: i64,
) -> Result<Vec<i64>> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT c.id, c.state_changed_at, v.spec FROM calls c \
         JOIN bot_versions v ON v.bot_id = c.bot_id AND v.version = c.bot_version \
         WHERE c.state = $1 AND c.state_changed_at < $2",
    )
    .bind(state.as_str())
    .bind(cutoff)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, since, spec)| {
            if state != CallState::InProgress {
                return true;
            }
            let limit_ms = serde_json::from_str::<serde_json::Value>(spec)
                .ok()
                .and_then(|spec| spec["limits"]["max_duration_secs"].as_i64())
                .map_or(0, |secs| secs.saturating_mul(1000));
            now - since > limit_ms.saturating_add(PAST_BOT_LIMIT_MS)
        })
        .map(|(id, ..)| id)
        .collect())
}

#[derive(sqlx::FromRow)]
struct RuntimeRow {
    #[sqlx(flatten)]
    call: CallRow,
    bot_name: String,
    spec: String,
    contact_phone: Option<String>,
    contact_variables: Option<String>,
    call_variables: Option<String>,
}

pub(super) async fn call_runtime(pool: &Pool, id: CallId) -> Result<CallRuntime> {
    let columns = CALL_COLUMNS
        .split(',')
        .map(|column| format!("c.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns}, b.name AS bot_name, v.spec, k.phone AS contact_phone, \
         k.variables AS contact_variables, c.variables AS call_variables FROM calls c \
         JOIN bots b ON b.id = c.bot_id \
         JOIN bot_versions v ON v.bot_id = c.bot_id AND v.version = c.bot_version \
         LEFT JOIN contacts k ON k.id = c.contact_id WHERE c.id = $1"
    );
    let row: Option<RuntimeRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    let row = row.ok_or_else(|| StoreError::not_found("call", id))?;
    let spec = crate::rows::json("bot_versions.spec", &row.spec)?;
    let call = Call::try_from(row.call)?;
    let contact = match (call.contact_id, row.contact_phone, row.contact_variables) {
        (Some(contact_id), Some(phone), Some(variables)) => Some((
            contact_id,
            contracts::E164Number::parse(&phone)
                .map_err(|e| StoreError::corrupt("contacts.phone", e))?,
            crate::rows::json("contacts.variables", &variables)?,
        )),
        _ => None,
    };
    let variables = match row.call_variables {
        Some(text) => crate::rows::json("calls.variables", &text)?,
        None => serde_json::Map::new(),
    };
    Ok(CallRuntime {
        call,
        bot_name: row.bot_name,
        spec,
        contact,
        variables,
    })
}

/// Appends ` state IN (…)` with every live (not yet ended) state.
fn push_live_states(query: &mut QueryBuilder<Db>) {
    query.push(" state IN (");
    let mut states = query.separated(", ");
    for state in CallState::ALL.iter().filter(|state| !state.is_terminal()) {
        states.push_bind(state.as_str());
    }
    query.push(")");
}

/// How many calls not yet ended have a channel id starting with `prefix`.
pub(super) async fn live_calls_with_carrier_prefix(pool: &Pool, prefix: &str) -> Result<i64> {
    // `substr` rather than `LIKE`: a prefix's `%` or `_` are not patterns.
    let mut query = QueryBuilder::<Db>::new(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM calls WHERE substr(carrier_call_id, 1, ",
    );
    query
        .push_bind(i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX))
        .push(") = ")
        .push_bind(prefix)
        .push(" AND");
    push_live_states(&mut query);
    let (count,): (i64,) = query.build_query_as().fetch_one(pool).await?;
    Ok(count)
}

/// How many of a campaign's calls are in each live (not yet ended) state.
pub(super) async fn live_call_counts(
    pool: &Pool,
    campaign: CampaignId,
) -> Result<Vec<(CallState, i64)>> {
    let mut query = QueryBuilder::<Db>::new(
        "SELECT state, CAST(COUNT(*) AS BIGINT) AS count FROM calls WHERE campaign_id = ",
    );
    query.push_bind(campaign.0).push(" AND");
    push_live_states(&mut query);
    query.push(" GROUP BY state");
    let rows: Vec<StateCountRow> = query.build_query_as().fetch_all(pool).await?;
    rows.into_iter().map(TryFrom::try_from).collect()
}
