//! Call reports: counts, talk time and dispositions per hour or day (UTC), in one pass.
//!
//! The answering-machine report comes with its evidence counts.

use super::{Db, Pool};
use crate::error::Result;
use crate::model::*;
use sqlx::QueryBuilder;

#[derive(sqlx::FromRow)]
struct BucketRow {
    bucket: i64,
    calls: i64,
    answered: i64,
    machine: i64,
    abandoned: i64,
    completed: i64,
    talk_ms: i64,
}

fn push_filter(query: &mut QueryBuilder<Db>, filter: &ReportFilter) {
    query
        .push(" WHERE created_at >= ")
        .push_bind(to_ms(filter.since));
    query
        .push(" AND created_at < ")
        .push_bind(to_ms(filter.until));
    if let Some(campaign) = filter.campaign_id {
        query.push(" AND campaign_id = ").push_bind(campaign.0);
    }
    if let Some(bot) = filter.bot_id {
        query.push(" AND bot_id = ").push_bind(bot.0);
    }
}

pub(super) async fn call_report(pool: &Pool, filter: ReportFilter) -> Result<CallReport> {
    crate::validate::report(&filter)?;
    let width = filter.bucket.millis();
    let mut query = QueryBuilder::<Db>::new("SELECT (created_at / ");
    query.push_bind(width).push(") * ").push_bind(width).push(
        " AS bucket, COUNT(*) AS calls, \
         COUNT(answered_at) AS answered, \
         CAST(SUM(CASE WHEN state = 'machine' THEN 1 ELSE 0 END) AS BIGINT) AS machine, \
         CAST(SUM(CASE WHEN state = 'abandoned' THEN 1 ELSE 0 END) AS BIGINT) AS abandoned, \
         CAST(SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END) AS BIGINT) AS completed, \
         CAST(COALESCE(SUM(CASE WHEN state = 'completed' AND answered_at IS NOT NULL \
           AND ended_at IS NOT NULL THEN ended_at - answered_at ELSE 0 END), 0) AS BIGINT) AS talk_ms \
         FROM calls",
    );
    push_filter(&mut query, &filter);
    query.push(" GROUP BY 1 ORDER BY 1");
    let rows: Vec<BucketRow> = query.build_query_as().fetch_all(pool).await?;

    let mut dispositions = QueryBuilder::<Db>::new("SELECT disposition, COUNT(*) FROM calls");
    push_filter(&mut dispositions, &filter);
    dispositions.push(" AND disposition IS NOT NULL GROUP BY disposition ORDER BY 2 DESC, 1");
    let dispositions: Vec<(String, i64)> = dispositions.build_query_as().fetch_all(pool).await?;

    let buckets: Vec<ReportBucket> = rows
        .into_iter()
        .map(|row| ReportBucket {
            start: from_ms(row.bucket),
            counts: ReportCounts {
                calls: row.calls,
                answered: row.answered,
                machine: row.machine,
                abandoned: row.abandoned,
                completed: row.completed,
                talk_ms: row.talk_ms,
            },
        })
        .collect();
    let totals = buckets
        .iter()
        .fold(ReportCounts::default(), |sum, b| sum + &b.counts);
    Ok(CallReport {
        totals,
        buckets,
        dispositions,
    })
}

#[derive(sqlx::FromRow)]
struct AmdRow {
    people: i64,
    carrier_machines: i64,
    bot_machines: i64,
    machine_taken_for_person: i64,
    callbacks_after_machine: i64,
}

/// Machine verdicts and the evidence against them over the calls of `filter`'s range.
pub(super) async fn amd_report(pool: &Pool, filter: ReportFilter) -> Result<AmdCounts> {
    crate::validate::report(&filter)?;
    let mut query = QueryBuilder::<Db>::new(
        "SELECT \
         CAST(COALESCE(SUM(CASE WHEN answered_at IS NOT NULL AND state <> 'machine' THEN 1 ELSE 0 END), 0) AS BIGINT) AS people, \
         CAST(COALESCE(SUM(CASE WHEN state = 'machine' AND worker_id IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS carrier_machines, \
         CAST(COALESCE(SUM(CASE WHEN state = 'machine' AND worker_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS bot_machines, \
         CAST(COALESCE(SUM(CASE WHEN result LIKE ",
    );
    query.push_bind("%\"evidence\":\"machine_taken_for_person\"%");
    query.push(
        " THEN 1 ELSE 0 END), 0) AS BIGINT) AS machine_taken_for_person, \
         CAST(COALESCE(SUM(CASE WHEN state = 'machine' \
           AND (disposition IS NULL OR disposition <> 'voicemail_left') \
           AND EXISTS (SELECT 1 FROM calls i WHERE i.direction = 'inbound' \
             AND i.from_number = calls.to_number AND i.created_at >= calls.state_changed_at \
             AND i.created_at < calls.state_changed_at + 86400000) \
           THEN 1 ELSE 0 END), 0) AS BIGINT) AS callbacks_after_machine \
         FROM calls",
    );
    push_filter(&mut query, &filter);
    let row: AmdRow = query.build_query_as().fetch_one(pool).await?;
    Ok(AmdCounts {
        people: row.people,
        carrier_machines: row.carrier_machines,
        bot_machines: row.bot_machines,
        machine_taken_for_person: row.machine_taken_for_person,
        callbacks_after_machine: row.callbacks_after_machine,
    })
}
