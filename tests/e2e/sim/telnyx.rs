//! Telnyx's path end to end: the dialler's Call Control client, the emulator, the edge's commands.
//!
//! The real Backend (its telephony edge), the dialler engine dialling through a Telnyx carrier
//! account, a real fleet worker and the Telnyx emulator. Calls are dialled over Call Control;
//! progress comes back as Ed25519-signed webhooks; an answer is attached by the edge, which
//! starts the media stream with `streaming_start`; a voicemail is ended by Telnyx's machine
//! detection; and since a Telnyx call outlives its stream, every call a bot ends is hung up at
//! Telnyx when its result arrives (none is left in silence). The first two dials meet a 429 and a
//! 503, which hold the calls back. Then a new dialler leader follows ringing calls, a bot
//! transfers its caller (`actions/transfer`), and callers ring a routed number, an unrouted one
//! (answered, told so in words, hung up) and a number whose bot has no free worker.

use super::assert_no_overlapping_attempts;
use super::carrier::{
    assert_booked_and_recorded_at, campaign_through, finished, population, start_dialler,
};
use contracts::runtime_config::CallDirection;
use contracts::telephony::CarrierKind;
use contracts::{CallOutcomeCode, CallState, E164Number};
use sim::load::Route;
use sim::{Faults, Population, TelnyxConfig, TelnyxEmulator, TelnyxInbound};
use std::sync::Arc;
use std::time::Duration;
use store::{CallFilter, NewCarrierAccount, Page, Store};
use test_support::bots::{booking_bot, route_booking_bot, transfer_bot};
use test_support::platform::{Platform, platform};

const CONNECTION: &str = "1494404757140276705";
const API_KEY: &str = "KEY01234567890ABCDEF";
const NUMBER: &str = "+14155550100";

/// The platform, a Telnyx emulator and the account pointing at it (its webhook URL the edge's).
async fn telnyx_account(
    store: &Arc<dyn Store>,
    population: Population,
) -> (
    Platform,
    TelnyxEmulator,
    contracts::telephony::CarrierAccountId,
) {
    let platform = platform(store.clone()).await;
    store
        .put_setting("fleet.urls", serde_json::json!([platform.worker_url]), None)
        .await
        .unwrap();
    population.validate().unwrap();
    let emulator = TelnyxEmulator::start(
        TelnyxConfig {
            connection_id: CONNECTION.into(),
            api_key: API_KEY.into(),
            webhook_url: String::new(),
            population,
            seed: 11,
            channel_limit: 10,
        },
        0,
    )
    .await
    .unwrap();
    let account = store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Telnyx,
            name: "emulated telnyx".into(),
            account_sid: CONNECTION.into(),
            secret: Some(API_KEY.into()),
            api_url: Some(emulator.api_url().to_owned()),
            numbers: vec![E164Number::parse(NUMBER).unwrap()],
            webhook_key: Some(emulator.public_key()),
            trunk: None,
        })
        .await
        .unwrap();
    emulator.set_webhook_url(&format!(
        "{}/api/v1/telephony/telnyx/{}/call",
        platform.bridge_url, account.id
    ));
    (platform, emulator, account.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_through_telnyx_is_dialled_recorded_hung_up_followed_and_transferred() {
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    eprintln!("part 1 of 3: a campaign through the Telnyx emulator");
    let (platform, emulator, account) = telnyx_account(&store, population(0.25, 0.25, 1.0)).await;
    let campaign = campaign_through(&store, account, booking_bot(), 5).await;
    emulator.inject(Faults {
        rate_limited: 1,
        unavailable: 1,
    });
    let dialler = start_dialler(store.clone(), &platform, "dialler-telnyx");
    let calls = finished(&*store, campaign, 5, Duration::from_secs(150)).await;
    let _ = dialler.stop.send(());
    dialler.task.await.unwrap();
    // The last hang-ups go out in the background once results land: let them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while emulator.live_calls() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    let summary: Vec<_> = calls.iter().map(|c| (c.id.0, c.state, c.outcome)).collect();
    eprintln!("calls: {summary:?}");
    assert_eq!(stats.refused, 2, "the 429 and the 503 were met: {stats:?}");
    assert_eq!(stats.created, calls.len() as u64, "{stats:?}");
    assert_eq!(stats.webhook_failures, 0, "{stats:?}");
    for call in &calls {
        let leg = call.carrier_call_id.as_deref().unwrap_or_default();
        assert!(leg.starts_with("v3:"), "{call:?}");
        let kept = store.telephony_events(call.id).await.unwrap();
        assert!(
            kept.iter().any(|(event, _)| event == "call.hangup"),
            "{kept:?}"
        );
    }
    let completed: Vec<_> = calls
        .iter()
        .filter(|c| c.state == CallState::Completed)
        .collect();
    assert!(!completed.is_empty(), "{calls:?}");
    assert_eq!(stats.conversations, completed.len() as u64, "{stats:?}");
    assert_booked_and_recorded_at(8000, &completed);
    // Machines were hung up by the edge on the verdict, and every call a bot ended was hung up
    // through Call Control once its result arrived: nobody was left in silence.
    let machines = calls
        .iter()
        .filter(|c| c.outcome == Some(CallOutcomeCode::DialMachine))
        .count();
    assert!(machines > 0 && stats.machine_verdicts > 0, "{stats:?}");
    assert_eq!(stats.left_in_silence, 0, "{stats:?}");
    assert_eq!(
        stats.hung_up as usize,
        machines + completed.len(),
        "{stats:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.outcome == Some(CallOutcomeCode::DialBusy)),
        "{summary:?}"
    );
    assert_no_overlapping_attempts(&calls);
    drop(platform);
    drop(emulator);

    eprintln!("part 2 of 3: the dialler stops while its calls ring; a new leader follows them");
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let (platform, emulator, account) = telnyx_account(&store, population(0.0, 0.0, 6.0)).await;
    let campaign = campaign_through(&store, account, booking_bot(), 2).await;
    let first = start_dialler(store.clone(), &platform, "dialler-one");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while emulator.stats().created < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            emulator.stats()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.task.abort();
    let _ = first.task.await;
    let second = start_dialler(store.clone(), &platform, "dialler-two");
    let calls = finished(&*store, campaign, 2, Duration::from_secs(120)).await;
    let _ = second.stop.send(());
    second.task.await.unwrap();
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    assert_eq!(stats.created, 2, "nobody was dialled twice: {stats:?}");
    assert!(
        calls.iter().all(|c| c.state == CallState::Completed),
        "{calls:?}"
    );
    assert_no_overlapping_attempts(&calls);
    drop(platform);
    drop(emulator);

    eprintln!("part 3 of 3: a bot transfers its caller, and Telnyx is told to transfer the call");
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let (platform, emulator, account) = telnyx_account(&store, population(0.0, 0.0, 1.0)).await;
    let campaign = campaign_through(&store, account, transfer_bot("+14155550177"), 1).await;
    let dialler = start_dialler(store.clone(), &platform, "dialler-transfer");
    let calls = finished(&*store, campaign, 1, Duration::from_secs(90)).await;
    let _ = dialler.stop.send(());
    dialler.task.await.unwrap();
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    assert_eq!(stats.transferred_to, vec!["+14155550177".to_owned()]);
    // The bot pressed its keys first, with the carrier's own verb (`actions/send_dtmf`).
    assert_eq!(
        stats.digits,
        vec![test_support::bots::TRANSFER_KEYS.to_owned()]
    );
    assert_eq!(calls[0].outcome, Some(CallOutcomeCode::CallTransferred));
    let kept = store.telephony_events(calls[0].id).await.unwrap();
    assert!(
        kept.iter().any(|(event, _)| event == "transfer"),
        "{kept:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_ring_a_telnyx_number_are_answered_streamed_or_refused_in_words() {
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let callers = Population {
        script: vec!["Yes, I would like to book an appointment.".to_owned()],
        hang_up_after_secs: 40.0,
        ..Population::default()
    };
    let (platform, emulator, _) = telnyx_account(&store, callers.clone()).await;
    route_booking_bot(&*store, NUMBER).await;
    let emulator = Arc::new(emulator);
    // Two callers at once through `vox sim`'s load generator, as `--carrier telnyx` runs it.
    let config = sim::LoadConfig {
        bridge_url: platform.bridge_url.clone(),
        secret: String::new(),
        number: E164Number::parse(NUMBER).unwrap(),
        calls: 2,
        concurrency: 2,
        population: callers.clone(),
    };
    let report = sim::load::run(config, Route::Telnyx(emulator.clone()), |_| {})
        .await
        .unwrap();
    assert_eq!((report.connected, report.failed), (2, 0), "{report:?}");
    // A number that routes nowhere is answered, told so, and hung up.
    let stranger = TelnyxInbound {
        from: "+14155550123".into(),
        to: "+14155550111".into(),
    };
    let said = emulator
        .ring(stranger, callers.person_part(None, 0.5))
        .await
        .expect_err("an unrouted number is refused");
    assert!(said.contains("this number is not in service"), "{said}");
    // Both routed calls end once their results land, hung up through Call Control.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let calls = loop {
        let calls = store
            .list_calls(CallFilter::default(), Page::first(10))
            .await
            .unwrap()
            .items;
        if calls.len() == 2 && calls.iter().all(|c| c.state.is_terminal()) {
            break calls;
        }
        assert!(tokio::time::Instant::now() < deadline, "{calls:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for call in &calls {
        assert_eq!(call.direction, CallDirection::Inbound);
        assert_eq!(call.state, CallState::Completed, "{call:?}");
        let kept = store.telephony_events(call.id).await.unwrap();
        let names: Vec<&str> = kept.iter().map(|(event, _)| event.as_str()).collect();
        assert!(
            ["call.initiated", "call.answered", "streaming.started"]
                .iter()
                .all(|e| names.contains(e)),
            "{names:?}"
        );
    }
    while emulator.live_calls() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    assert_eq!((stats.streamed, stats.left_in_silence), (2, 0), "{stats:?}");
    assert_eq!(stats.spoken.len(), 1, "{stats:?}");
    drop(platform);
}
