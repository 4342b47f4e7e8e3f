//! Ticks: leadership, leases up to the supply, fencing, and a new leader's takeover.
//!
//! A new leader ends the calls the old one left.

use crate::support::{both_backends, campaign, engine, engine_configured, secs, worker};
use contracts::attach::AmdVerdict;
use contracts::health::PacingDecision;
use contracts::{CallOutcomeCode, CallState};
use dialler::carrier::CarrierEvent;
use dialler::engine::EngineConfig;
use dialler::fleet::FleetClient;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{CallFilter, ContactStatus, Page, Store};

async fn a_tick_dials_one_call_per_free_slot_while_the_pacer_warms_up(store: Arc<dyn Store>) {
    let campaign = campaign(&*store, 10).await;
    let (_w, url) = worker("w1", 3).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    let report = engine.tick(secs(0)).await.unwrap();
    assert!(report.leader);
    assert_eq!((report.fleet_free, report.dials), (3, 3));
    let placed = carrier.log.lock().placed.clone();
    assert_eq!(placed.len(), 3);
    assert!(placed.iter().all(|d| d.ring_timeout.as_secs() >= 15));
    let calls = store
        .list_calls(
            CallFilter {
                campaign_id: Some(campaign),
                ..CallFilter::default()
            },
            Page::first(100),
        )
        .await
        .unwrap();
    assert_eq!(calls.items.len(), 3);
    assert!(calls.items.iter().all(|c| c.state == CallState::Dialing));
    // The decision is kept where the Backend's live view reads it.
    let kept = store.pacing(campaign).await.unwrap().expect("a decision");
    let decision: PacingDecision = serde_json::from_value(kept.decision).unwrap();
    assert_eq!(
        (decision.applied.as_str(), decision.dials),
        ("warming_up", 3)
    );
    assert_eq!(
        (kept.holder.as_str(), decision.dial_level),
        ("dialler-a", Some(1.0))
    );
    // The next tick counts the three ringing calls: no free slot is left for new dials.
    let report = engine.tick(secs(2)).await.unwrap();
    assert_eq!(report.dials, 0);
    let kept = store.pacing(campaign).await.unwrap().expect("a decision");
    let decision: PacingDecision = serde_json::from_value(kept.decision).unwrap();
    assert_eq!((decision.dials, decision.in_flight), (0, 3));
}

async fn a_second_dialler_stands_by_takes_over_when_the_first_stops_and_ends_what_it_left(
    store: Arc<dyn Store>,
) {
    campaign(&*store, 2).await;
    let (w, url) = worker("w1", 2).await;
    let (mut leader, first, _) = engine(store.clone(), "dialler-a", vec![url.clone()]);
    let (mut standby, second, _) = engine(store.clone(), "dialler-b", vec![url]);
    assert!(leader.tick(secs(0)).await.unwrap().leader);
    let placed: Vec<_> = first.log.lock().placed.iter().map(|d| d.call_id).collect();
    assert_eq!(placed.len(), 2);
    // One call is answered while the fleet is full: it waits for a worker; the other rings.
    *w.free.lock() = 0;
    leader
        .on_event(CarrierEvent::Answered {
            call_id: placed[0],
            at: secs(5),
            amd: Some(AmdVerdict::Human),
        })
        .await;
    let report = standby.tick(secs(1)).await.unwrap();
    assert!(!report.leader);
    assert!(second.log.lock().placed.is_empty());
    // The leader stops (its events go nowhere now); after the leader TTL (10 s) the standby
    // leads, with a higher fence, and ends the calls the old leader left.
    let report = standby.tick(secs(12)).await.unwrap();
    assert!(report.leader);
    assert!(standby.fence().unwrap().token > 0);
    assert_eq!(standby.stats.adopted, 2);
    let answered = store.call(placed[0]).await.unwrap();
    assert_eq!(answered.outcome, Some(CallOutcomeCode::DialAbandoned));
    let rang = store.call(placed[1]).await.unwrap();
    assert_eq!(rang.state, CallState::Canceled);
    assert_eq!(rang.outcome, Some(CallOutcomeCode::DialCanceled));
    let abandoned_contact = store.contact(answered.contact_id.unwrap()).await.unwrap();
    assert_eq!(abandoned_contact.status, ContactStatus::Pending);
    assert!(abandoned_contact.next_attempt_at > secs(12) + chrono::Duration::hours(60));
    let freed = store.contact(rang.contact_id.unwrap()).await.unwrap();
    assert_eq!(freed.status, ContactStatus::Pending);
    assert!(freed.next_attempt_at <= secs(12), "{freed:?}");
    // The old leader's next tick finds the lease gone: it hangs up what it was following and
    // dials nothing more.
    let before = first.log.lock().placed.len();
    let report = leader.tick(secs(13)).await.unwrap();
    assert!(!report.leader);
    assert_eq!(first.log.lock().placed.len(), before);
    assert_eq!(first.log.lock().canceled, vec![placed[1]]);
    assert_eq!(first.log.lock().played.len(), 1);
    assert_eq!(leader.active_calls(), 0);
    // With the fleet free again the new leader redials the freed contact at once.
    *w.free.lock() = 2;
    standby.tick(secs(14)).await.unwrap();
    let redialled: Vec<_> = second.log.lock().placed.iter().map(|d| d.call_id).collect();
    let mut contacts = Vec::new();
    for call in redialled {
        contacts.push(store.call(call).await.unwrap().contact_id.unwrap());
    }
    assert_eq!(contacts, vec![freed.id], "the abandoned one is locked out");
}

/// M12: a placing loop that outlasts the leader lease must not let a standby take over and dial
/// the same people. Both diallers run on the same clock (the test's start plus real time).
async fn a_long_placing_loop_keeps_its_lease_and_no_contact_is_dialled_twice(
    store: Arc<dyn Store>,
) {
    campaign(&*store, 5).await;
    let (_w, url) = worker("w1", 5).await;
    let mut config = EngineConfig::new("dialler-a");
    config.leader_ttl = Duration::from_secs(2);
    let fleet = FleetClient::new(vec![url.clone()], "secret".into(), Duration::from_secs(5));
    let (mut slow, first, _) = engine_configured(store.clone(), config, fleet);
    // Five placements of 600 ms: 3 s, past the 2 s lease.
    *first.place_delay.lock() = Duration::from_millis(600);
    let (mut standby, second, _) = engine(store.clone(), "dialler-b", vec![url]);
    let start = Instant::now();
    let clock = move || secs(0) + chrono::Duration::from_std(start.elapsed()).unwrap();
    let placing = tokio::spawn(async move {
        let report = slow.tick(secs(0)).await.unwrap();
        (slow, report)
    });
    // The leader is placing its first call; the standby ticks every 100 ms on the same clock
    // while the loop runs, and a while after.
    while first.log.lock().placed.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "nothing was placed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut finished = None;
    while finished.is_none_or(|at: Instant| at.elapsed() < Duration::from_millis(500)) {
        standby.tick(clock()).await.unwrap();
        if finished.is_none() && placing.is_finished() {
            finished = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_slow, report) = placing.await.unwrap();
    assert_eq!(report.dials, 5);
    assert_eq!(
        first.log.lock().placed.len(),
        5,
        "the leader placed its leases"
    );
    let mut dialled: HashMap<String, usize> = HashMap::new();
    let both = [
        first.log.lock().placed.clone(),
        second.log.lock().placed.clone(),
    ];
    for dial in both.iter().flatten() {
        *dialled.entry(dial.to.as_str().to_owned()).or_default() += 1;
    }
    assert_eq!(dialled.len(), 5);
    assert!(
        dialled.values().all(|n| *n == 1),
        "dialled twice: {dialled:?}"
    );
    assert_eq!(standby.stats.adopted, 0, "the standby never took over");
}

async fn a_campaign_that_is_not_running_is_not_dialled(store: Arc<dyn Store>) {
    let id = campaign(&*store, 5).await;
    store
        .set_campaign_state(
            id,
            store::CampaignState::Running,
            store::CampaignState::Paused,
        )
        .await
        .unwrap();
    let (_w, url) = worker("w1", 5).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    let report = engine.tick(secs(0)).await.unwrap();
    assert_eq!((report.campaigns, report.dials), (0, 0));
    assert!(carrier.log.lock().placed.is_empty());
}

async fn free_slots_are_added_up_over_every_fleet_and_a_silent_one_counts_as_full(
    store: Arc<dyn Store>,
) {
    campaign(&*store, 10).await;
    let (_a, first) = worker("a", 2).await;
    let (_b, second) = worker("b", 1).await;
    let silent = "http://127.0.0.1:9".to_owned();
    let (mut engine, _, _) = engine(store.clone(), "dialler-a", vec![first, silent, second]);
    let report = engine.tick(secs(0)).await.unwrap();
    assert_eq!((report.fleet_free, report.dials), (3, 3));
}

async fn an_unreachable_fleet_means_no_dials_not_a_failed_tick(store: Arc<dyn Store>) {
    campaign(&*store, 5).await;
    let (mut engine, carrier, _) = engine(
        store.clone(),
        "dialler-a",
        vec!["http://127.0.0.1:9".into()],
    );
    let report = engine.tick(secs(0)).await.unwrap();
    assert!(report.leader);
    assert_eq!((report.fleet_free, report.dials), (0, 0));
    assert!(carrier.log.lock().placed.is_empty());
}

async fn health_is_stale_without_a_recent_tick_and_metrics_show_the_pacing(store: Arc<dyn Store>) {
    campaign(&*store, 10).await;
    let (_w, url) = worker("w1", 3).await;
    let (mut engine, _carrier, fleet) = engine(store.clone(), "dialler-a", vec![url]);
    let monitor = dialler::health::Monitor::new(30, "test", fleet);
    let (code, body) = monitor.health(secs(0));
    assert_eq!(code.as_u16(), 503);
    assert_eq!(body.status, contracts::health::HealthStatus::Stale);
    let report = engine.tick(secs(0)).await.unwrap();
    monitor.update(&engine, &report);
    let (code, body) = monitor.health(secs(10));
    assert_eq!(code.as_u16(), 200);
    assert!(body.leader);
    assert_eq!((body.campaigns_running, body.active_dials), (1, 3));
    let (code, _) = monitor.health(secs(31));
    assert_eq!(code.as_u16(), 503);
    let metrics = monitor.metrics();
    assert!(metrics.contains("vox_dialler_dials_total 3"), "{metrics}");
    assert!(metrics.contains("vox_dialler_leader 1"), "{metrics}");
    assert!(metrics.contains("mode=\"warming_up\"} 3"), "{metrics}");
}

async fn a_new_dialler_restores_each_campaigns_pacing_history_from_the_store(
    store: Arc<dyn Store>,
) {
    let id = campaign(&*store, 10).await;
    let bot = store.campaign(id).await.unwrap().config.bot_id;
    // An hour ago: 61 calls answered 9 s after the dial that talked a minute, and 1 abandon,
    // left by an earlier dialler.
    for i in 0..62 {
        let at = secs(-3_600 + i * 20);
        let answered = at + chrono::Duration::seconds(9);
        let call = store
            .create_call(store::NewCall {
                direction: contracts::runtime_config::CallDirection::Outbound,
                bot_id: bot,
                campaign_id: Some(id),
                contact_id: None,
                from: None,
                to: None,
                state: CallState::Queued,
                variables: Default::default(),
                carrier_call_id: None,
                now: at,
            })
            .await
            .unwrap();
        let mut moves = vec![store::Transition::new(
            call.id,
            CallState::Queued,
            CallState::Answered,
            answered,
        )];
        if i >= 1 {
            moves.push(store::Transition::new(
                call.id,
                CallState::Answered,
                CallState::InProgress,
                answered,
            ));
            let mut end = store::Transition::new(
                call.id,
                CallState::InProgress,
                CallState::Completed,
                answered + chrono::Duration::seconds(60),
            );
            end.outcome = Some(contracts::CallOutcomeCode::CallCompleted);
            moves.push(end);
        } else {
            let mut end = store::Transition::new(
                call.id,
                CallState::Answered,
                CallState::Abandoned,
                answered,
            );
            end.outcome = Some(contracts::CallOutcomeCode::DialAbandoned);
            moves.push(end);
        }
        for m in moves {
            store.transition(m).await.unwrap();
        }
    }
    let (_w, url) = worker("w1", 3).await;
    let (mut engine, _carrier, _) = engine(store.clone(), "dialler-new", vec![url]);
    engine.tick(secs(0)).await.unwrap();
    let metrics = engine.campaign_metrics(secs(0));
    assert_eq!(metrics.len(), 1);
    let m = &metrics[0];
    // Enough history: it paces predictively at once instead of warming up again.
    assert_eq!(
        m.decision.map(|d| d.applied),
        Some(dialler::pacing::Applied::Predictive),
        "{m:?}"
    );
    let legal = m.abandon_legal.unwrap();
    assert!((legal - 1.0 / 62.0).abs() < 1e-9, "{legal}");
    assert!((m.aht_secs.unwrap() - 60.0).abs() < 1e-6, "{m:?}");
}

async fn a_restored_legal_window_near_its_cap_keeps_a_new_dialler_progressive(
    store: Arc<dyn Store>,
) {
    let id = campaign(&*store, 10).await;
    let bot = store.campaign(id).await.unwrap().config.bot_id;
    // Yesterday: 2 abandons in 60 answered calls (3.3 %), over the 2.7 % guard of the 3 % cap.
    for i in 0..60 {
        let at = secs(-86_400 + i * 20);
        let call = store
            .create_call(store::NewCall {
                direction: contracts::runtime_config::CallDirection::Outbound,
                bot_id: bot,
                campaign_id: Some(id),
                contact_id: None,
                from: None,
                to: None,
                state: CallState::Answered,
                variables: Default::default(),
                carrier_call_id: None,
                now: at,
            })
            .await
            .unwrap();
        let (to, outcome) = if i < 2 {
            (
                CallState::Abandoned,
                contracts::CallOutcomeCode::DialAbandoned,
            )
        } else {
            (CallState::Machine, contracts::CallOutcomeCode::DialMachine)
        };
        let mut end = store::Transition::new(call.id, CallState::Answered, to, at);
        end.outcome = Some(outcome);
        store.transition(end).await.unwrap();
    }
    let (_w, url) = worker("w1", 3).await;
    let (mut engine, _carrier, _) = engine(store.clone(), "dialler-new", vec![url]);
    engine.tick(secs(0)).await.unwrap();
    let m = &engine.campaign_metrics(secs(0))[0];
    // Machines are not humans: 2 abandons of 2 humans, a 100 % window, guarded.
    assert_eq!(m.abandon_legal, Some(1.0), "{m:?}");
    let d = m.decision.unwrap();
    assert_eq!(d.applied, dialler::pacing::Applied::LegalGuard, "{d:?}");
    assert_eq!(d.dials, 3);
}

both_backends!(
    a_long_placing_loop_keeps_its_lease_and_no_contact_is_dialled_twice,
    a_new_dialler_restores_each_campaigns_pacing_history_from_the_store,
    a_restored_legal_window_near_its_cap_keeps_a_new_dialler_progressive,
    health_is_stale_without_a_recent_tick_and_metrics_show_the_pacing,
    a_tick_dials_one_call_per_free_slot_while_the_pacer_warms_up,
    a_second_dialler_stands_by_takes_over_when_the_first_stops_and_ends_what_it_left,
    a_campaign_that_is_not_running_is_not_dialled,
    free_slots_are_added_up_over_every_fleet_and_a_silent_one_counts_as_full,
    an_unreachable_fleet_means_no_dials_not_a_failed_tick,
);
