//! The load generator end to end.
//!
//! Simulated callers ring a routed inbound number through the real Backend and a real fleet worker,
//! and talk to the booking bot; an unrouted number fails every call with the Backend's reason.

use contracts::runtime_config::CallDirection;
use contracts::{CallState, E164Number};
use sim::{LoadConfig, Population};
use std::sync::Arc;
use std::time::Duration;
use store::{CallFilter, Page, Store};
use test_support::bots::route_booking_bot;
use test_support::platform::{SECRET, platform};

fn config(bridge_url: &str, number: &str, calls: usize) -> LoadConfig {
    LoadConfig {
        bridge_url: bridge_url.to_owned(),
        secret: SECRET.to_owned(),
        number: E164Number::parse(number).unwrap(),
        calls,
        concurrency: 2,
        population: Population {
            script: vec!["Yes, I would like to book an appointment.".to_owned()],
            hang_up_after_secs: 40.0,
            ..Population::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simulated_callers_ring_a_routed_number_and_book_with_the_bot() {
    let db = store::testing::sqlite().await;
    let store: Arc<dyn Store> = db.store.clone();
    let platform = platform(store.clone()).await;
    route_booking_bot(&*store, "+442071838750").await;
    let fleet = platform.fleet();
    let seen = Arc::new(parking_lot::Mutex::new(0usize));
    let counter = seen.clone();
    let report = sim::load::run(
        config(&platform.bridge_url, "+442071838750", 3),
        fleet.clone(),
        move |_| *counter.lock() += 1,
    )
    .await
    .unwrap();
    eprintln!("{report:?}");
    assert_eq!(*seen.lock(), 3, "progress after every call");
    assert_eq!((report.connected, report.failed), (3, 0), "{report:?}");
    assert_eq!(report.ended_by_bot, 3, "the bot booked and said goodbye");
    assert_eq!(report.first_audio_secs.len(), 3);
    // The Backend has the three inbound calls, finished with the bot's disposition.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let calls = store
            .list_calls(
                CallFilter {
                    direction: Some(CallDirection::Inbound),
                    ..CallFilter::default()
                },
                Page::first(10),
            )
            .await
            .unwrap()
            .items;
        if calls.len() == 3 && calls.iter().all(|c| c.state == CallState::Completed) {
            assert!(
                calls
                    .iter()
                    .all(|c| c.disposition.as_deref() == Some("booked"))
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{calls:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A number nobody routed: every call fails, with the Backend's reason, and nothing connects.
    let refused = sim::load::run(
        config(&platform.bridge_url, "+442071838799", 2),
        fleet.clone(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((refused.connected, refused.failed), (0, 2), "{refused:?}");
    assert!(refused.errors[0].contains("refused"), "{refused:?}");
    // Nonsense settings are refused before anything is dialled.
    let mut zero = config(&platform.bridge_url, "+442071838750", 0);
    assert!(matches!(
        sim::load::run(zero.clone(), fleet.clone(), |_| {}).await,
        Err(sim::LoadError::Zero { field: "calls" })
    ));
    zero.calls = 1;
    zero.population.patience_secs = 0.0;
    assert!(matches!(
        sim::load::run(zero, fleet, |_| {}).await,
        Err(sim::LoadError::Population(_))
    ));
}
