//! Inbound calls through Twilio's path: callers ring a number, the edge routes, attaches, restarts.
//!
//! The Twilio emulator rings the account's numbers the way Twilio does (a signed voice webhook
//! with `Direction=inbound`, then the number's status callback) into the real Backend's
//! telephony edge, which routes by the dialled number and streams the caller into a real fleet
//! worker. This is the load generator's Twilio route (`vox sim --carrier twilio`). An unrouted
//! number is refused in words. Then the Backend is restarted while a call is in progress,
//! between its answer and its status callback: the call still ends completed with its
//! transcript, and every webhook is kept.

use contracts::E164Number;
use contracts::call_result::CallResult;
use contracts::runtime_config::CallDirection;
use contracts::telephony::CarrierKind;
use contracts::{CallId, CallState};
use sim::load::Route;
use sim::{EmulatorConfig, Inbound, LoadConfig, Population, TwilioEmulator};
use std::sync::Arc;
use std::time::Duration;
use store::{CallFilter, NewCarrierAccount, Page, Store};
use test_support::bots::route_booking_bot;
use test_support::platform::platform;

const SID: &str = "AC00000000000000000000000000000a11";
const TOKEN: &str = "emulated-inbound-auth-token";
const ROUTED: &str = "+14155550160";
const UNROUTED: &str = "+14155550161";

fn callers() -> Population {
    Population {
        script: vec!["Yes, I would like to book an appointment.".to_owned()],
        hang_up_after_secs: 40.0,
        ..Population::default()
    }
}

/// The store's inbound calls, once `count` of them are over.
async fn ended_inbound(store: &dyn Store, count: usize) -> Vec<store::Call> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let filter = CallFilter {
            direction: Some(CallDirection::Inbound),
            ..CallFilter::default()
        };
        let calls = store
            .list_calls(filter, Page::first(20))
            .await
            .unwrap()
            .items;
        if calls.len() >= count && calls.iter().all(|c| c.state.is_terminal()) {
            return calls;
        }
        assert!(tokio::time::Instant::now() < deadline, "{calls:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until a call Twilio knows as `sid` has its status callback kept.
async fn status_kept(store: &dyn Store, call: CallId) -> Vec<(String, i64)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let kept = store.telephony_events(call).await.unwrap();
        if kept.iter().any(|(event, _)| event == "status.completed") {
            return kept;
        }
        assert!(tokio::time::Instant::now() < deadline, "{kept:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_ring_a_twilio_number_and_a_backend_restart_mid_call_loses_nothing() {
    let db = store::testing::sqlite().await;
    let store: Arc<dyn Store> = db.store.clone();
    let mut platform = platform(store.clone()).await;
    store
        .put_setting("fleet.urls", serde_json::json!([platform.worker_url]), None)
        .await
        .unwrap();
    route_booking_bot(&*store, ROUTED).await;
    let emulator = Arc::new(
        TwilioEmulator::start(
            EmulatorConfig {
                account_sid: SID.into(),
                auth_token: TOKEN.into(),
                population: callers(),
                seed: 11,
            },
            0,
        )
        .await
        .unwrap(),
    );
    let account = store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Twilio,
            name: "inbound".into(),
            account_sid: SID.into(),
            secret: Some(TOKEN.into()),
            api_url: Some(emulator.api_url().to_owned()),
            numbers: vec![
                E164Number::parse(ROUTED).unwrap(),
                E164Number::parse(UNROUTED).unwrap(),
            ],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap();
    let hooks = format!(
        "{}/api/v1/telephony/twilio/{}",
        platform.bridge_url, account.id
    );
    let route = Route::Twilio {
        emulator: emulator.clone(),
        voice_url: format!("{hooks}/voice"),
        status_callback: format!("{hooks}/status"),
    };

    eprintln!("part 1 of 3: two callers ring the routed number through the emulator");
    let config = LoadConfig {
        bridge_url: platform.bridge_url.clone(),
        secret: String::new(),
        number: E164Number::parse(ROUTED).unwrap(),
        calls: 2,
        concurrency: 2,
        population: callers(),
    };
    let report = sim::load::run(config.clone(), route.clone(), |_| {})
        .await
        .unwrap();
    eprintln!("{report:?}");
    assert_eq!((report.connected, report.failed), (2, 0), "{report:?}");
    assert_eq!(report.ended_by_bot, 2, "the bot booked and said goodbye");
    assert_eq!(report.first_audio_secs.len(), 2, "{report:?}");
    let calls = ended_inbound(&*store, 2).await;
    for call in &calls {
        assert_eq!(call.state, CallState::Completed, "{call:?}");
        assert_eq!(call.disposition.as_deref(), Some("booked"), "{call:?}");
        assert!(
            call.carrier_call_id
                .as_deref()
                .is_some_and(|sid| sid.starts_with("CA")),
            "{call:?}"
        );
        let kept = status_kept(&*store, call.id).await;
        assert!(kept.iter().any(|(event, _)| event == "voice"), "{kept:?}");
    }

    eprintln!("part 2 of 3: a number routed nowhere is refused in words, with no call record");
    let refused = emulator
        .ring(
            Inbound {
                from: "+12025550199".into(),
                to: UNROUTED.into(),
                voice_url: format!("{hooks}/voice"),
                status_callback: Some(format!("{hooks}/status")),
            },
            callers().person_part(None, 0.5),
        )
        .await
        .unwrap_err();
    assert!(
        refused.starts_with("refused: Sorry, this number is not in service."),
        "{refused}"
    );
    assert_eq!(ended_inbound(&*store, 2).await.len(), 2);

    eprintln!("part 3 of 3: the Backend restarts between a call's answer and its status callback");
    let ringing = {
        let emulator = emulator.clone();
        let hooks = hooks.clone();
        tokio::spawn(async move {
            emulator
                .ring(
                    Inbound {
                        from: "+12025550142".into(),
                        to: ROUTED.into(),
                        voice_url: format!("{hooks}/voice"),
                        status_callback: Some(format!("{hooks}/status")),
                    },
                    callers().person_part(None, 0.5),
                )
                .await
        })
    };
    // The third call is answered and streaming: the edge's part is done until its status.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let third = loop {
        let filter = CallFilter {
            direction: Some(CallDirection::Inbound),
            ..CallFilter::default()
        };
        let calls = store
            .list_calls(filter, Page::first(20))
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
    let kept = status_kept(&*store, third).await;
    eprintln!("kept for the restarted call: {kept:?}");
    // The worker's result reaches the restarted Backend (its outbox keeps it until taken).
    let calls = ended_inbound(&*store, 3).await;
    let call = calls.into_iter().find(|c| c.id == third).unwrap();
    assert_eq!(call.state, CallState::Completed, "{call:?}");
    let result: CallResult = serde_json::from_value(call.result.clone().unwrap()).unwrap();
    assert!(!result.transcript.is_empty(), "{result:?}");
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    assert_eq!(
        stats.webhook_failures, 0,
        "every webhook was taken: {stats:?}"
    );
    assert_eq!(stats.conversations, 3, "{stats:?}");
}
