//! Call transitions (conditional, with events in the same transaction), the log, the reaper.

use crate::support::*;
use contracts::runtime_config::CallDirection;
use contracts::{CallOutcomeCode, CallState};
use std::sync::Arc;
use std::time::Duration;
use store::{CallFilter, NewCall, Page, ReapPolicy, Store, StoreError, Transition};

async fn inbound_call(store: &dyn Store, now: chrono::DateTime<chrono::Utc>) -> store::Call {
    let bot_id = bot(store).await;
    store
        .create_call(NewCall {
            direction: CallDirection::Inbound,
            bot_id,
            campaign_id: None,
            contact_id: None,
            from: Some(contracts::E164Number::parse("+14155550123").unwrap()),
            to: None,
            state: CallState::Answered,
            variables: Default::default(),
            carrier_call_id: None,
            now,
        })
        .await
        .unwrap()
}

async fn a_transition_moves_the_call_and_appends_its_event(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let call = inbound_call(&*store, now).await;
    assert_eq!(call.answered_at, Some(now));
    let later = now + chrono::Duration::seconds(1);
    let mut attach = Transition::new(call.id, CallState::Answered, CallState::Attaching, later);
    attach.worker_id = Some("host-a/3".into());
    let moved = store.transition(attach).await.unwrap();
    assert_eq!(moved.state, CallState::Attaching);
    assert_eq!(moved.worker_id.as_deref(), Some("host-a/3"));
    let end = now + chrono::Duration::seconds(90);
    store
        .transition(Transition::new(
            call.id,
            CallState::Attaching,
            CallState::InProgress,
            later,
        ))
        .await
        .unwrap();
    let ended = store
        .transition(
            Transition::new(call.id, CallState::InProgress, CallState::Completed, end)
                .with_outcome(CallOutcomeCode::CallCallerHangup),
        )
        .await
        .unwrap();
    assert_eq!(ended.ended_at, Some(end));
    assert_eq!(ended.outcome, Some(CallOutcomeCode::CallCallerHangup));
    let events = store.call_events(call.id).await.unwrap();
    let path: Vec<_> = events.iter().map(|e| (e.from_state, e.to_state)).collect();
    assert_eq!(
        path,
        vec![
            (None, CallState::Answered),
            (Some(CallState::Answered), CallState::Attaching),
            (Some(CallState::Attaching), CallState::InProgress),
            (Some(CallState::InProgress), CallState::Completed),
        ]
    );
}

async fn a_late_or_duplicate_event_is_rejected_and_changes_nothing(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let call = inbound_call(&*store, now).await;
    let attach = Transition::new(call.id, CallState::Answered, CallState::Attaching, now);
    store.transition(attach.clone()).await.unwrap();
    let error = store.transition(attach).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::StaleTransition {
                expected: CallState::Answered,
                actual: CallState::Attaching,
                ..
            }
        ),
        "{error}"
    );
    let backwards = store
        .transition(Transition::new(
            call.id,
            CallState::Attaching,
            CallState::Answered,
            now,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(backwards, StoreError::IllegalTransition { .. }),
        "{backwards}"
    );
    assert_eq!(store.call_events(call.id).await.unwrap().len(), 2);
    assert_eq!(
        store.call(call.id).await.unwrap().state,
        CallState::Attaching
    );
}

async fn an_outcome_that_contradicts_the_end_state_is_rejected(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let call = inbound_call(&*store, now).await;
    let error = store
        .transition(
            Transition::new(call.id, CallState::Answered, CallState::Abandoned, now)
                .with_outcome(CallOutcomeCode::DialBusy),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Invalid { ref field, .. } if field == "outcome"),
        "{error}"
    );
    assert_eq!(
        store.call(call.id).await.unwrap().state,
        CallState::Answered
    );
}

async fn concurrent_conflicting_transitions_leave_exactly_one_winner(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    for _ in 0..5 {
        let call = inbound_call(&*store, now).await;
        let targets = [
            (CallState::Attaching, None),
            (CallState::Abandoned, Some(CallOutcomeCode::DialAbandoned)),
            (CallState::Machine, Some(CallOutcomeCode::DialMachine)),
            (CallState::Failed, Some(CallOutcomeCode::FleetAttachFailed)),
        ];
        let mut racers = tokio::task::JoinSet::new();
        for (to, outcome) in targets {
            let store = store.clone();
            let mut transition = Transition::new(call.id, CallState::Answered, to, now);
            transition.outcome = outcome;
            racers.spawn(async move { store.transition(transition).await });
        }
        let mut winners = Vec::new();
        while let Some(result) = racers.join_next().await {
            match result.unwrap() {
                Ok(call) => winners.push(call.state),
                Err(StoreError::StaleTransition { .. }) => {}
                Err(other) => panic!("unexpected error {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "winners: {winners:?}");
        assert_eq!(store.call(call.id).await.unwrap().state, winners[0]);
        assert_eq!(store.call_events(call.id).await.unwrap().len(), 2);
    }
}

async fn stale_calls_are_reaped_with_a_reason_and_counted(store: Arc<dyn Store>) {
    let start = at(2026, 11, 23, 9, 0);
    let old = inbound_call(&*store, start).await;
    store
        .transition(Transition::new(
            old.id,
            CallState::Answered,
            CallState::InProgress,
            start,
        ))
        .await
        .unwrap();
    let fresh_at = start + chrono::Duration::minutes(50);
    let fresh = inbound_call(&*store, fresh_at).await;
    store
        .transition(Transition::new(
            fresh.id,
            CallState::Answered,
            CallState::InProgress,
            fresh_at,
        ))
        .await
        .unwrap();
    let now = start + chrono::Duration::minutes(61);
    let report = store
        .reap_stale_calls(ReapPolicy::standard(now, Duration::from_secs(60 * 60)))
        .await
        .unwrap();
    assert_eq!(report.total(), 1);
    assert_eq!(report.reaped.get("in_progress"), Some(&1));
    let reaped = store.call(old.id).await.unwrap();
    assert_eq!(reaped.state, CallState::Failed);
    assert_eq!(reaped.outcome, Some(CallOutcomeCode::CleanupStale));
    let last = store.call_events(old.id).await.unwrap().pop().unwrap();
    assert_eq!(last.from_state, Some(CallState::InProgress));
    assert_eq!(last.outcome, Some(CallOutcomeCode::CleanupStale));
    assert_eq!(
        store.call(fresh.id).await.unwrap().state,
        CallState::InProgress
    );
    let again = store
        .reap_stale_calls(ReapPolicy::standard(now, Duration::from_secs(60 * 60)))
        .await
        .unwrap();
    assert_eq!(again.total(), 0);
}

async fn the_call_log_filters_and_pages_newest_first(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let mut ids = Vec::new();
    for minute in 0..5 {
        ids.push(
            inbound_call(&*store, now + chrono::Duration::minutes(minute))
                .await
                .id,
        );
    }
    let first = store
        .list_calls(CallFilter::default(), Page::first(2))
        .await
        .unwrap();
    assert_eq!(
        first.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ids[4], ids[3]]
    );
    let second = store
        .list_calls(
            CallFilter::default(),
            Page {
                limit: 2,
                after: first.next_after,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        second.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    let since = store
        .list_calls(
            CallFilter {
                since: Some(now + chrono::Duration::minutes(3)),
                ..Default::default()
            },
            Page::first(10),
        )
        .await
        .unwrap();
    assert_eq!(since.items.len(), 2);
    assert!(since.next_after.is_none());
    let none = store
        .list_calls(
            CallFilter {
                state: Some(CallState::Busy),
                ..Default::default()
            },
            Page::first(10),
        )
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let error = store
        .list_calls(CallFilter::default(), Page::first(0))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { ref field, .. } if field == "limit"));
}

async fn a_result_is_recorded_once_with_its_end_move(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let call = inbound_call(&*store, now).await;
    store
        .transition(Transition::new(
            call.id,
            CallState::Answered,
            CallState::InProgress,
            now,
        ))
        .await
        .unwrap();
    let result = serde_json::json!({"outcome": "call.completed"});
    let end = Transition::new(call.id, CallState::InProgress, CallState::Completed, now)
        .with_outcome(CallOutcomeCode::CallCompleted);
    let done = store
        .record_call_result(call.id, &result, Some(end.clone()))
        .await
        .unwrap();
    assert_eq!(done.state, CallState::Completed);
    assert_eq!(done.result, Some(result.clone()));
    let again = store
        .record_call_result(call.id, &serde_json::json!({"other": 1}), None)
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict { .. }), "{again}");
    assert_eq!(store.call(call.id).await.unwrap().result, Some(result));

    // A stale move leaves no result behind.
    let other = inbound_call(&*store, now).await;
    let stale = store
        .record_call_result(
            other.id,
            &serde_json::json!({}),
            Some(end_of(other.id, now)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::StaleTransition { .. }),
        "{stale}"
    );
    assert!(store.call(other.id).await.unwrap().result.is_none());
}

fn end_of(call_id: contracts::CallId, now: chrono::DateTime<chrono::Utc>) -> Transition {
    Transition::new(call_id, CallState::InProgress, CallState::Completed, now)
        .with_outcome(CallOutcomeCode::CallCompleted)
}

/// H3: the real result of a call another worker took replaces `fleet.attach_failed`, once; any
/// other stored result is never replaced.
async fn a_real_result_replaces_fleet_attach_failed_and_nothing_else(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let call = inbound_call(&*store, now).await;
    let minimal = serde_json::json!({"outcome": "fleet.attach_failed"});
    let lapsed = Transition::new(call.id, CallState::Answered, CallState::Failed, now)
        .with_outcome(CallOutcomeCode::FleetAttachFailed);
    store
        .record_call_result(call.id, &minimal, Some(lapsed))
        .await
        .unwrap();
    let real = serde_json::json!({"outcome": "call.completed", "disposition": "booked"});
    let later = now + chrono::Duration::seconds(30);
    let corrected = store
        .correct_attach_failed(
            call.id,
            &real,
            CallState::Completed,
            CallOutcomeCode::CallCompleted,
            later,
        )
        .await
        .unwrap();
    assert_eq!(corrected.state, CallState::Completed);
    assert_eq!(corrected.outcome, Some(CallOutcomeCode::CallCompleted));
    assert_eq!(corrected.disposition.as_deref(), Some("booked"));
    assert_eq!(corrected.result, Some(real.clone()));
    let events = store.call_events(call.id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (last.from_state, last.to_state),
        (Some(CallState::Failed), CallState::Completed)
    );
    // Once corrected, the result is the real one: a second correction is a conflict.
    let again = store
        .correct_attach_failed(
            call.id,
            &minimal,
            CallState::Failed,
            CallOutcomeCode::FleetAttachFailed,
            later,
        )
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict { .. }), "{again}");
    assert_eq!(store.call(call.id).await.unwrap().result, Some(real));
}

/// M2: a bot may run up to 4 hours; its call in progress is not reaped before its own limit
/// (and a margin) is over, whatever the reaper's general deadline.
async fn a_long_bots_call_in_progress_is_reaped_only_after_its_own_limit(store: Arc<dyn Store>) {
    let start = at(2026, 11, 23, 9, 0);
    let mut long = spec("You take long surveys.");
    long.limits.max_duration_secs = 3600;
    let (bot, _) = store
        .create_bot(store::NewBot {
            name: "Survey".into(),
            spec: long,
            created_by: None,
        })
        .await
        .unwrap();
    let call = store
        .create_call(NewCall {
            direction: CallDirection::Inbound,
            bot_id: bot.id,
            campaign_id: None,
            contact_id: None,
            from: None,
            to: None,
            state: CallState::Answered,
            variables: Default::default(),
            carrier_call_id: None,
            now: start,
        })
        .await
        .unwrap();
    let talking = Transition::new(call.id, CallState::Answered, CallState::InProgress, start);
    store.transition(talking).await.unwrap();
    let policy = |minutes: i64| {
        ReapPolicy::standard(
            start + chrono::Duration::minutes(minutes),
            Duration::from_secs(30 * 60),
        )
    };
    let report = store.reap_stale_calls(policy(31)).await.unwrap();
    assert_eq!(
        report.total(),
        0,
        "a live 31-minute call of a 1-hour bot was reaped"
    );
    assert_eq!(
        store.call(call.id).await.unwrap().state,
        CallState::InProgress
    );
    let report = store.reap_stale_calls(policy(66)).await.unwrap();
    assert_eq!(report.reaped.get("in_progress"), Some(&1));
    assert_eq!(
        store.call(call.id).await.unwrap().outcome,
        Some(CallOutcomeCode::CleanupStale)
    );
}

async fn live_calls_are_counted_by_their_channel_ids_prefix_taken_literally(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let bot_id = bot(&*store).await;
    let web = |id: &str| NewCall {
        direction: CallDirection::Web,
        bot_id,
        campaign_id: None,
        contact_id: None,
        from: None,
        to: None,
        state: CallState::Answered,
        variables: Default::default(),
        carrier_call_id: Some(id.to_owned()),
        now,
    };
    let first = store.create_call(web("widget:wk_a:1")).await.unwrap();
    assert_eq!(first.carrier_call_id.as_deref(), Some("widget:wk_a:1"));
    store.create_call(web("widget:wk_a:2")).await.unwrap();
    store.create_call(web("widget:wk_b:1")).await.unwrap();
    store.create_call(web("widget:wk_a_1")).await.unwrap();
    assert_eq!(
        store
            .live_calls_with_carrier_prefix("widget:wk_a:")
            .await
            .unwrap(),
        2
    );
    // `_` and `%` are the prefix's own characters, not patterns.
    assert_eq!(
        store
            .live_calls_with_carrier_prefix("widget:wk_%")
            .await
            .unwrap(),
        0
    );
    // An ended call no longer counts.
    store
        .transition(
            Transition::new(first.id, CallState::Answered, CallState::Failed, now)
                .with_outcome(CallOutcomeCode::FleetAttachFailed),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .live_calls_with_carrier_prefix("widget:wk_a:")
            .await
            .unwrap(),
        1
    );
}

both_backends!(
    live_calls_are_counted_by_their_channel_ids_prefix_taken_literally,
    a_long_bots_call_in_progress_is_reaped_only_after_its_own_limit,
    a_real_result_replaces_fleet_attach_failed_and_nothing_else,
    a_result_is_recorded_once_with_its_end_move,
    a_transition_moves_the_call_and_appends_its_event,
    a_late_or_duplicate_event_is_rejected_and_changes_nothing,
    an_outcome_that_contradicts_the_end_state_is_rejected,
    concurrent_conflicting_transitions_leave_exactly_one_winner,
    stale_calls_are_reaped_with_a_reason_and_counted,
    the_call_log_filters_and_pages_newest_first,
);
