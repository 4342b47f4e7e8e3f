//! Exotel's path end to end: the dialler's Connect-to-flow client, the Exotel emulator, the edge.
//!
//! The real Backend (its telephony edge), the dialler engine dialling through an Exotel carrier
//! account, a real fleet worker and the Exotel emulator running the account's flow (Voicebot →
//! Greeting → Hangup) on the edge's keyed URLs. Calls are connected over Exotel's API; the
//! Voicebot applet asks the edge where to stream and gets the worker's URL, 8 kHz PCM over
//! Exotel's Voicebot protocol; Exotel has no machine detection on this API, so the bot tells
//! voicemail from people itself; status callbacks come back as forms. The first two connections
//! meet a 429 and a 503, which hold the calls back. Then a new dialler leader follows ringing
//! calls, callers ring a routed ExoPhone and an unrouted one (the Greeting says why), and the
//! Backend restarts mid-call, and nothing is lost.

use super::assert_no_overlapping_attempts;
use super::carrier::{
    assert_booked_and_recorded_at, campaign_through, finished, population, start_dialler,
};
use contracts::attach::AmdVerdict;
use contracts::call_result::CallResult;
use contracts::runtime_config::CallDirection;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{CallOutcomeCode, CallState, E164Number};
use sim::load::Route;
use sim::{ExotelConfig, ExotelEmulator, ExotelFlow, ExotelInbound, Faults, Population};
use std::sync::Arc;
use std::time::Duration;
use store::{CallFilter, NewCarrierAccount, Page, Store};
use test_support::bots::{booking_bot, route_booking_bot};
use test_support::platform::{Platform, platform};

const SID: &str = "voxtest1";
const APP: &str = "313131";
const SECRET: &str = "emulated-exotel-key:emulated-exotel-token";
const NUMBER: &str = "+918047491899";

/// The platform, an Exotel emulator whose flow is on the edge, and the account pointing at it.
async fn exotel_account(
    store: &Arc<dyn Store>,
    population: Population,
) -> (Platform, ExotelEmulator, CarrierAccountId, ExotelFlow) {
    let platform = platform(store.clone()).await;
    store
        .put_setting("fleet.urls", serde_json::json!([platform.worker_url]), None)
        .await
        .unwrap();
    population.validate().unwrap();
    let (key, token) = SECRET.split_once(':').unwrap();
    let emulator = ExotelEmulator::start(
        ExotelConfig {
            sid: SID.into(),
            api_key: key.into(),
            api_token: token.into(),
            population,
            seed: 2,
        },
        0,
    )
    .await
    .unwrap();
    let account = store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Exotel,
            name: "emulated exotel".into(),
            account_sid: format!("{SID}/{APP}"),
            secret: Some(SECRET.into()),
            api_url: Some(emulator.api_url().to_owned()),
            numbers: vec![E164Number::parse(NUMBER).unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap();
    let flow = ExotelFlow::at_edge(&platform.bridge_url, account.id, SECRET, APP);
    emulator.set_flow(flow.clone());
    (platform, emulator, account.id, flow)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_through_exotel_is_dialled_screened_by_the_bot_recorded_and_followed() {
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    eprintln!("part 1 of 2: a campaign through the Exotel emulator");
    // Seed 2 gives, in the order calls are created: three people, a voicemail and a busy line.
    let (platform, emulator, account, _) =
        exotel_account(&store, population(0.25, 0.25, 1.0)).await;
    let campaign = campaign_through(&store, account, booking_bot(), 5).await;
    emulator.inject(Faults {
        rate_limited: 1,
        unavailable: 1,
    });
    let dialler = start_dialler(store.clone(), &platform, "dialler-exotel");
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
            kept.iter()
                .any(|(event, _)| event.starts_with("status.terminal.")),
            "{kept:?}"
        );
    }
    let completed: Vec<_> = calls
        .iter()
        .filter(|c| c.state == CallState::Completed)
        .collect();
    assert!(!completed.is_empty(), "{calls:?}");
    assert_booked_and_recorded_at(8000, &completed);
    // Exotel screens nothing here: the bot told the voicemail from people itself.
    let machines: Vec<_> = calls
        .iter()
        .filter(|c| c.outcome == Some(CallOutcomeCode::DialMachine))
        .collect();
    assert!(!machines.is_empty(), "{summary:?}");
    for call in &machines {
        let result: CallResult = serde_json::from_value(call.result.clone().unwrap()).unwrap();
        let check = result.amd.clone().unwrap();
        assert_eq!(
            (check.bot, check.carrier),
            (Some(AmdVerdict::Machine), None),
            "{check:?}"
        );
    }
    assert_eq!(
        stats.conversations,
        (completed.len() + machines.len()) as u64,
        "{stats:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.outcome == Some(CallOutcomeCode::DialBusy)),
        "{summary:?}"
    );
    assert!(stats.greetings.is_empty(), "nobody was refused: {stats:?}");
    assert_no_overlapping_attempts(&calls);
    drop(platform);
    drop(emulator);

    eprintln!("part 2 of 2: the dialler stops while its calls ring; a new leader follows them");
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let (platform, emulator, account, _) = exotel_account(&store, population(0.0, 0.0, 6.0)).await;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_ring_an_exotel_number_and_are_streamed_or_told_why_not() {
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let callers = Population {
        script: vec!["Yes, I would like to book an appointment.".to_owned()],
        hang_up_after_secs: 40.0,
        ..Population::default()
    };
    let (mut platform, emulator, _, flow) = exotel_account(&store, callers.clone()).await;
    route_booking_bot(&*store, NUMBER).await;
    let emulator = Arc::new(emulator);
    // Two callers at once through `vox sim`'s load generator, as `--carrier exotel` runs it.
    let config = sim::LoadConfig {
        bridge_url: platform.bridge_url.clone(),
        secret: String::new(),
        number: E164Number::parse(NUMBER).unwrap(),
        calls: 2,
        concurrency: 2,
        population: callers.clone(),
    };
    let route = Route::Exotel {
        emulator: emulator.clone(),
        flow: flow.clone(),
    };
    let report = sim::load::run(config, route, |_| {}).await.unwrap();
    assert_eq!((report.connected, report.failed), (2, 0), "{report:?}");
    // An ExoPhone that routes nowhere: the Voicebot URL refuses, the Greeting says why.
    let stranger = ExotelInbound {
        from: "09876543210".into(),
        to: "08047491800".into(),
        flow: flow.clone(),
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
        assert_eq!(call.to.as_ref().map(|n| n.as_str()), Some(NUMBER));
        let kept = store.telephony_events(call.id).await.unwrap();
        assert!(kept.iter().any(|(e, _)| e == "voicebot"), "{kept:?}");
    }
    // The Backend restarts while a caller talks (national numbers, as Exotel writes them): the
    // call still ends completed with its transcript, and the Greeting after it is answered by
    // the restarted Backend.
    let ringing = {
        let (emulator, flow) = (emulator.clone(), flow.clone());
        let part = callers.person_part(None, 0.5);
        tokio::spawn(async move {
            let caller = ExotelInbound {
                from: "09876543211".into(),
                to: "08047491899".into(),
                flow,
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
        if call.state.is_terminal() {
            assert_eq!(call.state, CallState::Completed, "{call:?}");
            assert_eq!(
                call.from.as_ref().map(|n| n.as_str()),
                Some("+919876543211")
            );
            let result: CallResult = serde_json::from_value(call.result.clone().unwrap()).unwrap();
            assert!(!result.transcript.is_empty(), "{result:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{call:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    assert_eq!(
        (stats.streamed, stats.webhook_failures),
        (3, 0),
        "{stats:?}"
    );
    assert_eq!(stats.greetings.len(), 1, "{stats:?}");
    drop(platform);
}
