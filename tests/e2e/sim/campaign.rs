//! A campaign of simulated contacts end to end, on SQLite and on PostgreSQL.
//!
//! It runs through the real Backend, the dialler engine, a real fleet worker and the PSTN simulator.
//!
//! The simulated population answers (a person who says hello, then asks to book), is voicemail
//! (a greeting and a beep; the carrier has no machine detection, so the bot tells and leaves its
//! message) or is busy; the bot is a flow that books on "appointment". The test runs until every
//! contact is done or waiting for a later retry and every call is final, then checks the records:
//! conversations with transcripts, machines and busy lines with retries scheduled, and no contact
//! ever dialled twice at once. Two more runs kill the dialler mid-campaign.

use super::{assert_no_overlapping_attempts, campaign_calls};
use contracts::attach::AmdVerdict;
use contracts::call_result::{CallResult, Speaker};
use contracts::{CallOutcomeCode, CallState};
use dialler::engine::{Engine, EngineConfig};
use dialler::fleet::FleetClient;
use sim::{Population, SimCarrier};
use std::sync::Arc;
use std::time::Duration;
use store::{ContactStatus, Page, Store};
use test_support::bots::booking_bot;
use test_support::platform::{SECRET, platform};

async fn seed(store: &dyn Store, contacts: usize) -> contracts::CampaignId {
    store::testing::running_campaign(store, "Clinic", booking_bot(), contacts, 2, 10).await
}

/// The four runs (a whole campaign, then a dialler killed mid-campaign, on SQLite and on
/// PostgreSQL) take turns in one test: each is real-time audio through whisper on a small machine,
/// and a test waiting for its turn would hold one of the test harness's threads idle, where the
/// other end-to-end tests now run beside this one. A failure's output names the run that failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simulated_campaigns_finish_and_survive_a_killed_dialler_on_sqlite_and_postgresql() {
    eprintln!(
        "run 1 of 4: a simulated campaign is dialled, talked, recorded and finished on SQLite"
    );
    let db = store::testing::sqlite().await;
    campaign_end_to_end(db.store.clone()).await;
    eprintln!("run 2 of 4: the same on PostgreSQL");
    let db = store::testing::postgres().await;
    campaign_end_to_end(db.store.clone()).await;
    eprintln!("run 3 of 4: a dialler killed mid-campaign is replaced, nothing lost, on SQLite");
    let db = store::testing::sqlite().await;
    dialler_killed_mid_campaign(db.store.clone()).await;
    eprintln!("run 4 of 4: the same on PostgreSQL");
    let db = store::testing::postgres().await;
    dialler_killed_mid_campaign(db.store.clone()).await;
}

/// A running `vox dialler` engine with its own simulated carrier.
struct Dialler {
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
    carrier: Arc<SimCarrier>,
}

fn start_dialler(
    store: Arc<dyn Store>,
    worker_url: &str,
    population: Population,
    seed: u64,
    owner: &str,
) -> Dialler {
    population.validate().unwrap();
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let carrier = Arc::new(SimCarrier::new(population, seed, events_tx));
    let fleet = Arc::new(FleetClient::new(
        vec![worker_url.to_owned()],
        SECRET.to_owned(),
        Duration::from_secs(5),
    ));
    let mut engine_config = EngineConfig::new(owner);
    engine_config.tick = Duration::from_millis(500);
    engine_config.leader_ttl = Duration::from_secs(2);
    let engine = Engine::new(store, carrier.clone(), fleet, engine_config);
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(engine.run(
        events_rx,
        async {
            let _ = stop_rx.await;
        },
        |_, _| {},
    ));
    Dialler {
        task,
        stop,
        carrier,
    }
}

async fn campaign_end_to_end(store: Arc<dyn Store>) {
    let platform = platform(store.clone()).await;
    let campaign = seed(&*store, 6).await;
    let population = Population {
        answer: 0.5,
        voicemail: 0.25,
        busy: 0.25,
        failed: 0.0,
        ring_median_secs: 1.0,
        ring_sigma: 0.2,
        voicemail_after_secs: 1.5,
        // The carrier has no machine detection: the bot tells people ("Hello?") from voicemail.
        carrier_amd: false,
        answer_with: "Hello?".to_owned(),
        script: vec!["Yes, I would like to book an appointment.".to_owned()],
        hang_up_after_secs: 40.0,
        ..Population::default()
    };
    let Dialler {
        task: dialler,
        stop: stop_tx,
        carrier,
    } = start_dialler(
        store.clone(),
        &platform.worker_url,
        population,
        42,
        "dialler-test",
    );

    // Run until every contact has had its first attempt and every call is final.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    let calls = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let calls = campaign_calls(&*store, campaign).await;
        let contacts_tried = calls
            .iter()
            .filter_map(|c| c.contact_id)
            .collect::<std::collections::HashSet<_>>()
            .len();
        if contacts_tried == 6 && calls.iter().all(|c| c.state.is_terminal()) {
            break calls;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the campaign did not finish: {:?}",
            calls.iter().map(|c| (c.id, c.state)).collect::<Vec<_>>()
        );
    };
    let _ = stop_tx.send(());
    dialler.await.unwrap();

    let stats = carrier.stats.lock().clone();
    eprintln!("simulator: {stats:?}");
    eprintln!(
        "calls: {:?}",
        calls
            .iter()
            .map(|c| (c.id.0, c.state, c.outcome))
            .collect::<Vec<_>>()
    );
    assert!(stats.answered >= 1, "{stats:?}");
    // Every answered person talked to the bot and the call was recorded, with a transcript.
    let completed: Vec<_> = calls
        .iter()
        .filter(|c| c.state == CallState::Completed)
        .collect();
    assert_eq!(
        completed.len() as u64,
        stats.answered,
        "{stats:?} {calls:?}"
    );
    for call in &completed {
        let result: CallResult = serde_json::from_value(call.result.clone().unwrap()).unwrap();
        assert!(result.recording.is_some(), "{result:?}");
        let user: Vec<&str> = result
            .transcript
            .iter()
            .filter(|t| t.speaker == Speaker::User)
            .map(|t| t.text.as_str())
            .collect();
        assert!(
            user.iter()
                .any(|t| t.to_lowercase().contains("appointment")),
            "{user:?}"
        );
        assert_eq!(call.disposition.as_deref(), Some("booked"));
        // The bot listened first and let the person through ("Hello?" then silence).
        let check = result.amd.clone().unwrap();
        assert_eq!(check.bot, Some(AmdVerdict::Human), "{check:?}");
        assert_eq!(check.evidence, None);
    }
    // Machines and busy lines ended with their codes and come back later (max 2 attempts).
    for call in calls.iter().filter(|c| {
        matches!(
            c.outcome,
            Some(CallOutcomeCode::DialMachine | CallOutcomeCode::DialBusy)
        )
    }) {
        let contact = store.contact(call.contact_id.unwrap()).await.unwrap();
        if contact.attempts < 2 {
            assert_eq!(contact.status, ContactStatus::Pending, "{contact:?}");
            assert!(contact.next_attempt_at > call.created_at, "{contact:?}");
        }
    }
    // Voicemail was told from people by the bot itself, which left its message after the beep.
    let machines: Vec<_> = calls
        .iter()
        .filter(|c| c.outcome == Some(CallOutcomeCode::DialMachine))
        .collect();
    assert!(!machines.is_empty(), "{calls:?}");
    for call in &machines {
        let result: CallResult = serde_json::from_value(call.result.clone().unwrap()).unwrap();
        assert!(result.machine_detected, "{result:?}");
        let check = result.amd.clone().unwrap();
        assert_eq!(check.bot, Some(AmdVerdict::Machine), "{check:?}");
        assert_eq!(check.carrier, None);
        assert_eq!(call.disposition.as_deref(), Some("voicemail_left"));
        assert!(result.recording.is_some());
        assert!(
            result
                .transcript
                .iter()
                .any(|t| t.speaker == Speaker::Assistant && t.text.contains("call us back")),
            "{result:?}"
        );
    }
    assert_eq!(stats.voicemail_messages, machines.len() as u64, "{stats:?}");
    assert_no_overlapping_attempts(&calls);
}

/// The first dialler dies (its process, simulator included, is gone: no lease released, no event
/// delivered) while its calls ring; a second one started beside it takes over.
async fn dialler_killed_mid_campaign(store: Arc<dyn Store>) {
    let platform = platform(store.clone()).await;
    let campaign = seed(&*store, 6).await;
    let population = Population {
        answer: 0.5,
        voicemail: 0.0,
        busy: 0.5,
        failed: 0.0,
        // Long rings, so the first dialler dies with calls ringing.
        ring_median_secs: 4.0,
        ring_sigma: 0.2,
        answer_with: String::new(),
        script: vec!["Yes, I would like to book an appointment.".to_owned()],
        hang_up_after_secs: 40.0,
        ..Population::default()
    };
    let first = start_dialler(
        store.clone(),
        &platform.worker_url,
        population.clone(),
        7,
        "dialler-a",
    );
    // Wait until the first dialler has calls ringing, then kill it and its simulator.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let calls = campaign_calls(&*store, campaign).await;
        if calls
            .iter()
            .any(|c| matches!(c.state, CallState::Dialing | CallState::Ringing))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing was dialled"
        );
    }
    first.task.abort();
    first.carrier.crash();
    let _ = first.task.await;
    let left: Vec<_> = campaign_calls(&*store, campaign)
        .await
        .into_iter()
        .filter(|c| !c.state.is_terminal())
        .map(|c| c.id)
        .collect();
    assert!(!left.is_empty());

    let second = start_dialler(
        store.clone(),
        &platform.worker_url,
        population,
        8,
        "dialler-b",
    );
    // Run until every call is final and every contact is done or waiting for a later retry.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    let calls = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let calls = campaign_calls(&*store, campaign).await;
        let contacts = store
            .list_contacts(campaign, Default::default(), Page::first(100))
            .await
            .unwrap()
            .items;
        let now = chrono::Utc::now();
        let settled = contacts.iter().all(|c| {
            c.status == ContactStatus::Done
                || (c.status == ContactStatus::Pending && c.next_attempt_at > now)
        });
        if settled && calls.iter().all(|c| c.state.is_terminal()) {
            break calls;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the campaign did not settle: calls {:?} contacts {:?}",
            calls
                .iter()
                .map(|c| (c.id, c.state, c.outcome))
                .collect::<Vec<_>>(),
            contacts
                .iter()
                .map(|c| (c.id, c.status, c.next_attempt_at))
                .collect::<Vec<_>>()
        );
    };
    let _ = second.stop.send(());
    second.task.await.unwrap();
    eprintln!(
        "calls: {:?}",
        calls
            .iter()
            .map(|c| (c.id.0, c.contact_id, c.state, c.outcome))
            .collect::<Vec<_>>()
    );
    // What the first dialler left ringing was ended by the second, and those contacts were
    // dialled again: nothing was lost.
    let canceled: Vec<_> = calls
        .iter()
        .filter(|c| left.contains(&c.id) && c.outcome == Some(CallOutcomeCode::DialCanceled))
        .collect();
    assert!(!canceled.is_empty(), "{calls:?}");
    for call in canceled {
        assert!(
            calls
                .iter()
                .any(|later| later.contact_id == call.contact_id && later.id.0 > call.id.0),
            "contact {:?} was not dialled again after its call was orphaned",
            call.contact_id
        );
    }
    // Everyone the second dialler reached talked to the bot.
    assert!(
        calls
            .iter()
            .any(|c| c.state == CallState::Completed && c.disposition.as_deref() == Some("booked")),
        "{calls:?}"
    );
    assert_no_overlapping_attempts(&calls);
}
