//! Call reports: buckets by hour and day, talk time, machine and abandon counts, dispositions.

use crate::support::*;
use contracts::{CallOutcomeCode, CallState};
use std::sync::Arc;
use store::{Bucket, ReportFilter, Store, StoreError, Transition};

/// A web call created at `at` and walked through `path`, each move a minute apart.
async fn call_through(
    store: &dyn Store,
    bot_id: contracts::BotId,
    at: chrono::DateTime<chrono::Utc>,
    path: &[(CallState, Option<CallOutcomeCode>)],
) {
    let call = web_call(store, bot_id, at).await;
    let mut from = CallState::Queued;
    for (step, (to, outcome)) in path.iter().enumerate() {
        let mut transition = Transition::new(
            call.id,
            from,
            *to,
            at + chrono::Duration::minutes(step as i64 + 1),
        );
        transition.outcome = *outcome;
        store.transition(transition).await.unwrap();
        from = *to;
    }
}

async fn a_report_counts_calls_per_hour_with_talk_time_and_dispositions(store: Arc<dyn Store>) {
    let bot_id = bot(&*store).await;
    let nine = at(2026, 11, 23, 9, 0);
    let ten = at(2026, 11, 23, 10, 15);
    // 09:00: a completed conversation (answered at +1 min, ended at +3 min: 2 minutes of talk).
    call_through(
        &*store,
        bot_id,
        nine,
        &[
            (CallState::Answered, None),
            (CallState::InProgress, None),
            (CallState::Completed, Some(CallOutcomeCode::CallCompleted)),
        ],
    )
    .await;
    // 09:00: a machine.
    call_through(
        &*store,
        bot_id,
        nine,
        &[
            (CallState::Answered, None),
            (CallState::Machine, Some(CallOutcomeCode::DialMachine)),
        ],
    )
    .await;
    // 10:15: abandoned, and one never answered.
    call_through(
        &*store,
        bot_id,
        ten,
        &[
            (CallState::Answered, None),
            (CallState::Abandoned, Some(CallOutcomeCode::DialAbandoned)),
        ],
    )
    .await;
    call_through(
        &*store,
        bot_id,
        ten,
        &[
            (CallState::Leased, None),
            (CallState::Dialing, None),
            (CallState::NoAnswer, Some(CallOutcomeCode::DialNoAnswer)),
        ],
    )
    .await;
    let filter = ReportFilter {
        since: at(2026, 11, 23, 0, 0),
        until: at(2026, 11, 24, 0, 0),
        campaign_id: None,
        bot_id: Some(bot_id),
        bucket: Bucket::Hour,
    };
    let report = store.call_report(filter.clone()).await.unwrap();
    assert_eq!(report.buckets.len(), 2);
    assert_eq!(report.buckets[0].start, nine);
    assert_eq!(report.buckets[1].start, at(2026, 11, 23, 10, 0));
    let totals = report.totals;
    assert_eq!(
        (
            totals.calls,
            totals.answered,
            totals.machine,
            totals.abandoned,
            totals.completed
        ),
        (4, 3, 1, 1, 1)
    );
    assert_eq!(totals.talk_ms, 2 * 60_000);
    let daily = store
        .call_report(ReportFilter {
            bucket: Bucket::Day,
            ..filter.clone()
        })
        .await
        .unwrap();
    assert_eq!(daily.buckets.len(), 1);
    assert_eq!(daily.totals, totals);
    let empty = store
        .call_report(ReportFilter {
            since: at(2026, 11, 25, 0, 0),
            until: at(2026, 11, 26, 0, 0),
            ..filter.clone()
        })
        .await
        .unwrap();
    assert_eq!((empty.totals.calls, empty.buckets.len()), (0, 0));
    let backwards = store
        .call_report(ReportFilter {
            until: filter.since,
            ..filter
        })
        .await
        .unwrap_err();
    assert!(
        matches!(backwards, StoreError::Invalid { ref field, .. } if field == "until"),
        "{backwards}"
    );
}

both_backends!(a_report_counts_calls_per_hour_with_talk_time_and_dispositions);
