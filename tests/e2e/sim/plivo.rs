//! Plivo's path end to end: the dialler's REST client, the Plivo emulator, the edge's XML.
//!
//! The real Backend (its telephony edge), the dialler engine dialling through a Plivo carrier
//! account, a real fleet worker and the Plivo emulator. Calls are fired over Plivo's Call API;
//! ring and hang-up callbacks come back V3-signed; an answer is attached by the edge and
//! streamed with `<Stream bidirectional>` over Plivo's audio stream protocol into the worker; a
//! voicemail is ended by Plivo's machine detection and hung up through the REST API. The first
//! two placements meet a 429 and a 503, which hold the calls back. Then a new dialler leader
//! follows ringing calls, a bot transfers its caller (the A leg moved to the edge's `<Dial>`),
//! and callers ring a routed number and an unrouted one (told so in words); last, the Backend
//! restarts mid-call between the answer and the hang-up callback, and nothing is lost.

use super::assert_no_overlapping_attempts;
use super::carrier::{
    assert_booked_and_recorded_at, campaign_through, finished, population, start_dialler,
};
use contracts::runtime_config::CallDirection;
use contracts::telephony::CarrierKind;
use contracts::{CallOutcomeCode, CallState, E164Number};
use sim::load::Route;
use sim::{Faults, PlivoConfig, PlivoEmulator, PlivoInbound, Population};
use std::sync::Arc;
use std::time::Duration;
use store::{CallFilter, NewCarrierAccount, Page, Store};
use test_support::bots::{booking_bot, route_booking_bot, transfer_bot};
use test_support::platform::{Platform, platform};

const AUTH_ID: &str = "MAZDJHMTIXNTFHMWYWZM";
const TOKEN: &str = "emulated-plivo-auth-token";
const NUMBER: &str = "+14155550100";

/// The platform, a Plivo emulator and the account pointing at it.
async fn plivo_account(
    store: &Arc<dyn Store>,
    population: Population,
) -> (
    Platform,
    PlivoEmulator,
    contracts::telephony::CarrierAccountId,
) {
    let platform = platform(store.clone()).await;
    store
        .put_setting("fleet.urls", serde_json::json!([platform.worker_url]), None)
        .await
        .unwrap();
    population.validate().unwrap();
    let emulator = PlivoEmulator::start(
        PlivoConfig {
            auth_id: AUTH_ID.into(),
            auth_token: TOKEN.into(),
            population,
            seed: 2,
        },
        0,
    )
    .await
    .unwrap();
    let account = store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Plivo,
            name: "emulated plivo".into(),
            account_sid: AUTH_ID.into(),
            secret: Some(TOKEN.into()),
            api_url: Some(emulator.api_url().to_owned()),
            numbers: vec![E164Number::parse(NUMBER).unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap();
    (platform, emulator, account.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_through_plivo_is_dialled_recorded_followed_and_transferred() {
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    eprintln!("part 1 of 3: a campaign through the Plivo emulator");
    // Seed 2 gives, in the order calls are created: three people, a voicemail and a busy line.
    let (platform, emulator, account) = plivo_account(&store, population(0.25, 0.25, 1.0)).await;
    let campaign = campaign_through(&store, account, booking_bot(), 5).await;
    emulator.inject(Faults {
        rate_limited: 1,
        unavailable: 1,
    });
    let dialler = start_dialler(store.clone(), &platform, "dialler-plivo");
    let calls = finished(&*store, campaign, 5, Duration::from_secs(150)).await;
    let _ = dialler.stop.send(());
    dialler.task.await.unwrap();
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    let summary: Vec<_> = calls.iter().map(|c| (c.id.0, c.state, c.outcome)).collect();
    eprintln!("calls: {summary:?}");
    assert_eq!(stats.refused, 2, "the 429 and the 503 were met: {stats:?}");
    assert_eq!(stats.created, calls.len() as u64, "{stats:?}");
    assert_eq!(stats.webhook_failures, 0, "{stats:?}");
    for call in &calls {
        assert!(call.carrier_call_id.is_some(), "{call:?}");
        let kept = store.telephony_events(call.id).await.unwrap();
        assert!(
            kept.iter().any(|(event, _)| event.starts_with("status.")),
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
    // Voicemail ended by Plivo's machine detection, hung up by the edge through the REST API.
    let machines = calls
        .iter()
        .filter(|c| c.outcome == Some(CallOutcomeCode::DialMachine))
        .count();
    assert!(machines > 0 && stats.machine_verdicts > 0, "{stats:?}");
    assert_eq!(stats.hung_up as usize, machines, "{stats:?}");
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
    let (platform, emulator, account) = plivo_account(&store, population(0.0, 0.0, 6.0)).await;
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

    eprintln!("part 3 of 3: a bot transfers its caller, and Plivo moves the call to a <Dial>");
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let (platform, emulator, account) = plivo_account(&store, population(0.0, 0.0, 1.0)).await;
    let campaign = campaign_through(&store, account, transfer_bot("+14155550177"), 1).await;
    let dialler = start_dialler(store.clone(), &platform, "dialler-transfer");
    let calls = finished(&*store, campaign, 1, Duration::from_secs(90)).await;
    let _ = dialler.stop.send(());
    dialler.task.await.unwrap();
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    assert_eq!(stats.transferred_to, vec!["+14155550177".to_owned()]);
    // The bot pressed its keys first, with the carrier's own verb (`…/DTMF/`).
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
async fn callers_ring_a_plivo_number_and_are_streamed_or_refused_in_words() {
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let callers = Population {
        script: vec!["Yes, I would like to book an appointment.".to_owned()],
        hang_up_after_secs: 40.0,
        ..Population::default()
    };
    let (mut platform, emulator, account) = plivo_account(&store, callers.clone()).await;
    route_booking_bot(&*store, NUMBER).await;
    let emulator = Arc::new(emulator);
    let hooks = format!("{}/api/v1/telephony/plivo/{account}", platform.bridge_url);
    // Two callers at once through `vox sim`'s load generator, as `--carrier plivo` runs it.
    let config = sim::LoadConfig {
        bridge_url: platform.bridge_url.clone(),
        secret: String::new(),
        number: E164Number::parse(NUMBER).unwrap(),
        calls: 2,
        concurrency: 2,
        population: callers.clone(),
    };
    let route = Route::Plivo {
        emulator: emulator.clone(),
        answer_url: format!("{hooks}/answer"),
        hangup_url: format!("{hooks}/hangup"),
    };
    let report = sim::load::run(config, route, |_| {}).await.unwrap();
    assert_eq!((report.connected, report.failed), (2, 0), "{report:?}");
    // A number that routes nowhere hears so, and the call ends.
    let stranger = PlivoInbound {
        from: "14155550123".into(),
        to: "14155550111".into(),
        answer_url: format!("{hooks}/answer"),
        hangup_url: Some(format!("{hooks}/hangup")),
    };
    let said = emulator
        .ring(stranger, callers.person_part(None, 0.5))
        .await
        .expect_err("an unrouted number is refused");
    assert!(said.contains("this number is not in service"), "{said}");
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
        assert_eq!(
            call.from.as_ref().map(|f| &f.as_str()[..8]),
            Some("+1202555")
        );
        let kept = store.telephony_events(call.id).await.unwrap();
        let names: Vec<&str> = kept.iter().map(|(event, _)| event.as_str()).collect();
        assert!(
            ["answer", "status.completed"]
                .iter()
                .all(|e| names.contains(e)),
            "{names:?}"
        );
    }
    // The Backend restarts while a call is in progress, between its answer and its hang-up
    // callback: the call still ends completed with its transcript, and every callback is kept.
    let ringing = {
        let (emulator, hooks) = (emulator.clone(), hooks.clone());
        let part = callers.person_part(None, 0.5);
        tokio::spawn(async move {
            let caller = PlivoInbound {
                from: "12025550142".into(),
                to: NUMBER.trim_start_matches('+').into(),
                answer_url: format!("{hooks}/answer"),
                hangup_url: Some(format!("{hooks}/hangup")),
            };
            emulator.ring(caller, part).await
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let third = loop {
        let calls = store
            .list_calls(CallFilter::default(), Page::first(10))
            .await
            .unwrap()
            .items;
        if let Some(call) = calls.iter().find(|c| c.state == CallState::InProgress) {
            break call.id;
        }
        assert!(tokio::time::Instant::now() < deadline, "{calls:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    platform.restart_bridge().await;
    let talk = ringing
        .await
        .unwrap()
        .expect("the call went on over the restart");
    assert!(talk.ended_by_worker, "{talk:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let call = store.call(third).await.unwrap();
        let kept = store.telephony_events(third).await.unwrap();
        if call.state.is_terminal() && kept.iter().any(|(e, _)| e == "status.completed") {
            assert_eq!(call.state, CallState::Completed, "{call:?}");
            let result: contracts::call_result::CallResult =
                serde_json::from_value(call.result.clone().unwrap()).unwrap();
            assert!(!result.transcript.is_empty(), "{result:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{call:?} {kept:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    assert_eq!(
        (stats.streamed, stats.webhook_failures),
        (3, 0),
        "{stats:?}"
    );
    drop(platform);
}
