//! Carrier events: answers attached, the 2-second rule, machines, failures, next attempts.
//!
//! Answers go to workers (the next worker on 429); unanswered calls and refused numbers end with
//! the contact's next attempt.

use crate::support::{both_backends, campaign, engine, engine_over, named_campaign, secs, worker};
use contracts::attach::AmdVerdict;
use contracts::{CallId, CallOutcomeCode, CallState};
use dialler::carrier::CarrierEvent;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use store::{ContactStatus, Store};

async fn placed(carrier: &crate::support::ScriptedCarrier) -> Vec<CallId> {
    placed_if(carrier, |_| true)
}

/// The calls `carrier` placed that `keep` keeps.
fn placed_if(
    carrier: &crate::support::ScriptedCarrier,
    keep: impl Fn(&dialler::carrier::Dial) -> bool,
) -> Vec<CallId> {
    let log = carrier.log.lock();
    log.placed
        .iter()
        .filter(|d| keep(d))
        .map(|d| d.call_id)
        .collect()
}

async fn an_answered_call_goes_to_a_worker_and_its_media_is_connected(store: Arc<dyn Store>) {
    let id = campaign(&*store, 5).await;
    // Made for a client: the attach says so, for the registry's client quotas.
    let mut config = store.campaign(id).await.unwrap().config;
    config.settings["client"] = serde_json::json!("acme");
    store.update_campaign(id, config).await.unwrap();
    let (w, url) = worker("w1", 1).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    engine.tick(secs(0)).await.unwrap();
    let call = placed(&carrier).await[0];
    engine
        .on_event(CarrierEvent::Ringing {
            call_id: call,
            at: secs(1),
        })
        .await;
    engine
        .on_event(CarrierEvent::Answered {
            call_id: call,
            at: secs(9),
            amd: Some(AmdVerdict::Human),
        })
        .await;
    let attached = w.attached.lock().clone();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0].call_id, call);
    assert_eq!(attached[0].carrier, "sim");
    assert_eq!(attached[0].amd, Some(AmdVerdict::Human));
    assert_eq!(attached[0].client.as_deref(), Some("acme"));
    let connected = carrier.log.lock().connected.clone();
    assert_eq!(
        connected,
        vec![(call, format!("ws://w1/ws/vox/token-{}", call.0))]
    );
    let stored = store.call(call).await.unwrap();
    assert_eq!(stored.state, CallState::Attaching);
    assert_eq!(stored.worker_id.as_deref(), Some("w1"));
}

async fn with_a_registry_the_call_goes_to_the_worker_it_reserves(store: Arc<dyn Store>) {
    use registry::{InProcess, Registry, WorkerInfo};
    campaign(&*store, 5).await;
    let (unregistered, _) = worker("unregistered", 1).await;
    let (registered, url) = worker("registered", 1).await;
    let registry: Arc<dyn Registry> = Arc::new(InProcess::new());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let info = WorkerInfo {
        worker_id: "registered".into(),
        url,
        host: "host-a".into(),
        slots: 1,
        busy: 0,
    };
    registry.heartbeat(&info, 600_000, now).await.unwrap();
    let client = dialler::fleet::FleetClient::new(vec![], "secret".into(), Duration::from_secs(5))
        .with_registry(registry.clone());
    let (mut engine, carrier, _) = engine_over(store.clone(), "dialler-a", client);
    let report = engine.tick(secs(0)).await.unwrap();
    assert_eq!((report.fleet_free, report.dials), (1, 1));
    let call = placed(&carrier).await[0];
    engine
        .on_event(CarrierEvent::Answered {
            call_id: call,
            at: secs(9),
            amd: None,
        })
        .await;
    assert_eq!(registered.attached.lock().len(), 1);
    assert!(unregistered.attached.lock().is_empty());
    // The slot stays taken (confirmed) until the worker's own heartbeat counts the call.
    let capacity = registry.capacity(now + 1_000).await.unwrap();
    assert_eq!(capacity.free, 0);
}

async fn a_busy_worker_is_skipped_for_the_next_one(store: Arc<dyn Store>) {
    campaign(&*store, 5).await;
    let (full, full_url) = worker("full", 0).await;
    let (free, free_url) = worker("free", 1).await;
    // Two fleets: the first has no free slot, the second one.
    let (mut engine, carrier, fleet) = engine(store.clone(), "dialler-a", vec![full_url, free_url]);
    engine.tick(secs(0)).await.unwrap();
    let call = placed(&carrier).await[0];
    engine
        .on_event(CarrierEvent::Answered {
            call_id: call,
            at: secs(9),
            amd: None,
        })
        .await;
    assert!(full.attached.lock().is_empty());
    assert_eq!(free.attached.lock().len(), 1);
    assert_eq!(fleet.counters.attach_retries.load(Ordering::Relaxed), 1);
}

async fn an_answered_call_with_no_free_worker_hears_the_message_and_is_abandoned_after_two_seconds(
    store: Arc<dyn Store>,
) {
    let campaign_id = campaign(&*store, 5).await;
    let (w, url) = worker("w1", 1).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    engine.tick(secs(0)).await.unwrap();
    let call = placed(&carrier).await[0];
    // The slot goes elsewhere before the answer.
    *w.free.lock() = 0;
    engine
        .on_event(CarrierEvent::Answered {
            call_id: call,
            at: secs(9),
            amd: None,
        })
        .await;
    engine.tick(secs(10)).await.unwrap();
    assert_eq!(store.call(call).await.unwrap().state, CallState::Answered);
    engine.tick(secs(11)).await.unwrap();
    let stored = store.call(call).await.unwrap();
    assert_eq!(stored.state, CallState::Abandoned);
    assert_eq!(stored.outcome, Some(CallOutcomeCode::DialAbandoned));
    let played = carrier.log.lock().played.clone();
    assert_eq!(played.len(), 1);
    assert!(
        played[0].1.contains("will not call again today"),
        "{played:?}"
    );
    // The contact comes back after the 72-hour abandon lockout (less at most 10 % jitter), not now.
    let contact = store.contact(stored.contact_id.unwrap()).await.unwrap();
    assert_eq!(contact.status, ContactStatus::Pending);
    assert!(
        contact.next_attempt_at >= secs(11) + chrono::Duration::hours(64),
        "{contact:?}"
    );
    assert_eq!(engine.stats.abandoned, 1);
    let _ = campaign_id;
}

async fn a_carrier_machine_verdict_ends_the_call_as_a_machine_and_schedules_a_retry(
    store: Arc<dyn Store>,
) {
    campaign(&*store, 5).await;
    let (w, url) = worker("w1", 1).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    engine.tick(secs(0)).await.unwrap();
    let call = placed(&carrier).await[0];
    engine
        .on_event(CarrierEvent::Ringing {
            call_id: call,
            at: secs(1),
        })
        .await;
    engine
        .on_event(CarrierEvent::Answered {
            call_id: call,
            at: secs(20),
            amd: Some(AmdVerdict::Machine),
        })
        .await;
    assert!(w.attached.lock().is_empty());
    let stored = store.call(call).await.unwrap();
    assert_eq!(stored.state, CallState::Machine);
    assert_eq!(stored.outcome, Some(CallOutcomeCode::DialMachine));
    let contact = store.contact(stored.contact_id.unwrap()).await.unwrap();
    assert_eq!(contact.status, ContactStatus::Pending);
    // The machine lockout (a day, less at most 10 % jitter) is the floor under the 4-hour retry.
    assert!(contact.next_attempt_at >= secs(20) + chrono::Duration::hours(21));
}

async fn a_busy_line_ends_as_busy_and_frees_its_place_for_the_next_tick(store: Arc<dyn Store>) {
    campaign(&*store, 5).await;
    let (_w, url) = worker("w1", 1).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    engine.tick(secs(0)).await.unwrap();
    let call = placed(&carrier).await[0];
    engine
        .on_event(CarrierEvent::Ended {
            call_id: call,
            at: secs(4),
            outcome: CallOutcomeCode::DialBusy,
            detail: "busy".into(),
        })
        .await;
    let stored = store.call(call).await.unwrap();
    assert_eq!(stored.state, CallState::Busy);
    assert_eq!(engine.active_calls(), 0);
    let report = engine.tick(secs(6)).await.unwrap();
    assert_eq!(report.dials, 1);
    let second = placed(&carrier).await[1];
    assert_ne!(
        store.call(second).await.unwrap().contact_id,
        stored.contact_id
    );
}

async fn a_number_the_carrier_refuses_is_never_retried(store: Arc<dyn Store>) {
    campaign(&*store, 1).await;
    let (_w, url) = worker("w1", 1).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    carrier.invalid.lock().insert("+14155550000".into());
    engine.tick(secs(0)).await.unwrap();
    assert!(placed(&carrier).await.is_empty());
    assert_eq!(engine.active_calls(), 0);
    let calls = store
        .list_calls(Default::default(), store::Page::first(10))
        .await
        .unwrap();
    assert_eq!(calls.items.len(), 1);
    assert_eq!(
        calls.items[0].outcome,
        Some(CallOutcomeCode::DialInvalidNumber)
    );
    let contact = store
        .contact(calls.items[0].contact_id.unwrap())
        .await
        .unwrap();
    assert_eq!(contact.status, ContactStatus::Done);
}

async fn a_rate_limited_call_is_placed_next_tick_after_the_compliance_checks_again(
    store: Arc<dyn Store>,
) {
    campaign(&*store, 2).await;
    let (_w, url) = worker("w1", 2).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    *carrier.rate_limited.lock() = 2;
    let report = engine.tick(secs(0)).await.unwrap();
    assert_eq!(report.dials, 2, "both contacts leased");
    assert!(
        placed(&carrier).await.is_empty(),
        "the carrier held both back"
    );
    assert_eq!(engine.active_calls(), 2);
    assert_eq!(engine.stats.rate_limited, 2);
    let calls = store
        .list_calls(Default::default(), store::Page::first(10))
        .await
        .unwrap()
        .items;
    // Claimed (fenced) before the carrier was asked, they stay dialling until it takes them.
    assert!(
        calls.iter().all(|c| c.state == CallState::Dialing),
        "{calls:?}"
    );
    // One number joins the DNC list before the carrier takes calls again.
    store
        .add_dnc("+14155550000", "asked not to be called")
        .await
        .unwrap();
    engine.tick(secs(2)).await.unwrap();
    let placed_now = placed(&carrier).await;
    assert_eq!(placed_now.len(), 1);
    let placed_call = store.call(placed_now[0]).await.unwrap();
    assert_eq!(placed_call.state, CallState::Dialing);
    assert_eq!(placed_call.to.unwrap().as_str(), "+14155550001");
    let blocked = calls
        .iter()
        .find(|c| c.to.as_ref().unwrap().as_str() == "+14155550000")
        .unwrap();
    let blocked = store.call(blocked.id).await.unwrap();
    assert_eq!(blocked.state, CallState::Canceled);
    assert_eq!(blocked.outcome, Some(CallOutcomeCode::ComplianceDnc));
    let contact = store.contact(blocked.contact_id.unwrap()).await.unwrap();
    assert_eq!(
        contact.status,
        ContactStatus::Done,
        "a DNC number is never retried"
    );
}

async fn a_freed_slot_goes_to_a_waiting_call_at_once(store: Arc<dyn Store>) {
    campaign(&*store, 5).await;
    let (w, url) = worker("w1", 2).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    engine.tick(secs(0)).await.unwrap();
    let calls = placed(&carrier).await;
    let (first, second) = (calls[0], calls[1]);
    *w.free.lock() = 1;
    engine
        .on_event(CarrierEvent::Answered {
            call_id: first,
            at: secs(9),
            amd: None,
        })
        .await;
    engine
        .on_event(CarrierEvent::Answered {
            call_id: second,
            at: secs(9),
            amd: None,
        })
        .await;
    assert_eq!(store.call(second).await.unwrap().state, CallState::Answered);
    // The first conversation ends at the carrier: its worker is free again, and the waiting
    // call gets it within the same event, long before the next tick.
    *w.free.lock() = 1;
    engine
        .on_event(CarrierEvent::Ended {
            call_id: first,
            at: secs(10),
            outcome: CallOutcomeCode::CallCallerHangup,
            detail: "hung up".into(),
        })
        .await;
    assert_eq!(
        store.call(second).await.unwrap().state,
        CallState::Attaching
    );
}

async fn a_machine_the_bot_finds_after_attach_needed_its_slot_but_held_it_for_no_conversation(
    store: Arc<dyn Store>,
) {
    let id = campaign(&*store, 5).await;
    let (_w, url) = worker("w1", 2).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    engine.tick(secs(0)).await.unwrap();
    let calls = placed(&carrier).await;
    for (call, outcome) in [
        (calls[0], CallOutcomeCode::DialMachine),
        (calls[1], CallOutcomeCode::CallCompleted),
    ] {
        // No carrier verdict: the bot screens once it has the call.
        engine
            .on_event(CarrierEvent::Answered {
                call_id: call,
                at: secs(9),
                amd: None,
            })
            .await;
        engine
            .on_event(CarrierEvent::Ended {
                call_id: call,
                at: secs(30),
                outcome,
                detail: "the worker's result".into(),
            })
            .await;
    }
    let history = &engine.pacer(id).unwrap().history;
    // Both needed a slot when they were answered (the pacer predicts that demand); the machine's
    // 21 s on its slot is kept as a found machine's, not as a conversation.
    assert_eq!(history.humans(), 2);
    assert_eq!(history.answer_rate(), Some(1.0));
    assert_eq!(history.mean_handle(), Some(21.0));
    assert_eq!(history.found_machines(), 1);
    assert_eq!(engine.stats.machines, 1);
}

/// Runs `seconds` of a campaign: a tick every 2 s, and every placed call answered by a person
/// 4 s after it was placed; `placed_at` gathers each call with its second.
async fn run_answering(
    engine: &mut dialler::engine::Engine,
    carrier: &crate::support::ScriptedCarrier,
    placed_at: &mut Vec<(CallId, i64)>,
    seconds: std::ops::RangeInclusive<i64>,
) {
    for s in seconds {
        if s % 2 == 0 {
            engine.tick(secs(s)).await.unwrap();
            let known = placed_at.len();
            placed_at.extend(placed(carrier).await[known..].iter().map(|id| (*id, s)));
        }
        for (call_id, _) in placed_at.iter().filter(|(_, at)| at + 4 == s) {
            engine
                .on_event(CarrierEvent::Answered {
                    call_id: *call_id,
                    at: secs(s),
                    amd: Some(AmdVerdict::Human),
                })
                .await;
        }
    }
}

/// M5: workers that cannot reach the Backend report free slots but refuse every attach. The
/// dialler stops dialling instead of abandoning everyone who answers.
async fn a_fleet_that_fails_every_attach_stops_the_dials_instead_of_abandoning_everyone(
    store: Arc<dyn Store>,
) {
    campaign(&*store, 100).await;
    let (w, url) = worker("w1", 4).await;
    *w.failing.lock() = true;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    // A tick every 2 s for a minute; every call is answered 4 s after it was placed.
    let mut placed_at: Vec<(CallId, i64)> = Vec::new();
    run_answering(&mut engine, &carrier, &mut placed_at, 0..=60).await;
    // The first round (one call per free slot) is lost; then one probe per 30 s.
    assert!(
        engine.stats.abandoned <= 4 + 2,
        "abandoned {}",
        engine.stats.abandoned
    );
    assert!(placed_at.len() <= 4 + 2, "dialled {}", placed_at.len());
    assert!(engine.stats.breaker_trips >= 1);
    // The Backend is back: the probe attaches and dialling resumes.
    *w.failing.lock() = false;
    run_answering(&mut engine, &carrier, &mut placed_at, 62..=130).await;
    assert!(engine.stats.attached >= 2, "{:?}", engine.stats);
}

/// The calls `carrier` placed for `campaign`.
async fn placed_for(
    carrier: &crate::support::ScriptedCarrier,
    campaign: contracts::CampaignId,
) -> Vec<CallId> {
    placed_if(carrier, |d| d.campaign_id == Some(campaign))
}

async fn a_person_beyond_her_campaigns_share_waits_while_a_thin_campaign_holds_the_free_slots(
    store: Arc<dyn Store>,
) {
    // The first campaign dials four alone; then a second starts, and the pool of four is shared
    // two and two. Both are new, their hours thin: each holds the unused slots of its share.
    let first = campaign(&*store, 6).await;
    let (w, url) = worker("w1", 4).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    engine.tick(secs(0)).await.unwrap();
    let firsts = placed_for(&carrier, first).await;
    assert_eq!(firsts.len(), 4);
    let second = named_campaign(&*store, "Renewals", 6).await;
    engine.tick(secs(1)).await.unwrap();
    let seconds = placed_for(&carrier, second).await;
    assert_eq!(seconds.len(), 2, "the second campaign dials its share");
    let answer = |call_id, at| CarrierEvent::Answered {
        call_id,
        at: secs(at),
        amd: None,
    };
    // Two people of the first campaign take its share.
    engine.on_event(answer(firsts[0], 5)).await;
    engine.on_event(answer(firsts[1], 5)).await;
    assert_eq!(*w.free.lock(), 2);
    // A third is beyond it: the two free slots are the second campaign's, for its two dials.
    engine.on_event(answer(firsts[2], 6)).await;
    assert_eq!(
        store.call(firsts[2]).await.unwrap().state,
        CallState::Answered
    );
    assert_eq!(*w.free.lock(), 2);
    // One of those dials goes unanswered: it held a slot no longer, and she takes it at once.
    engine
        .on_event(CarrierEvent::Ended {
            call_id: seconds[0],
            at: secs(7),
            outcome: CallOutcomeCode::DialNoAnswer,
            detail: "no answer".into(),
        })
        .await;
    assert_eq!(
        store.call(firsts[2]).await.unwrap().state,
        CallState::Attaching
    );
    // The other's person finds the slot held for her.
    engine.on_event(answer(seconds[1], 8)).await;
    assert_eq!(
        store.call(seconds[1]).await.unwrap().state,
        CallState::Attaching
    );
    assert_eq!(*w.free.lock(), 0);
}

both_backends!(
    a_person_beyond_her_campaigns_share_waits_while_a_thin_campaign_holds_the_free_slots,
    a_fleet_that_fails_every_attach_stops_the_dials_instead_of_abandoning_everyone,
    with_a_registry_the_call_goes_to_the_worker_it_reserves,
    an_answered_call_goes_to_a_worker_and_its_media_is_connected,
    a_busy_worker_is_skipped_for_the_next_one,
    an_answered_call_with_no_free_worker_hears_the_message_and_is_abandoned_after_two_seconds,
    a_carrier_machine_verdict_ends_the_call_as_a_machine_and_schedules_a_retry,
    a_busy_line_ends_as_busy_and_frees_its_place_for_the_next_tick,
    a_number_the_carrier_refuses_is_never_retried,
    a_rate_limited_call_is_placed_next_tick_after_the_compliance_checks_again,
    a_freed_slot_goes_to_a_waiting_call_at_once,
    a_machine_the_bot_finds_after_attach_needed_its_slot_but_held_it_for_no_conversation,
);
