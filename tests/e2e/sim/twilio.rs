//! A campaign through Twilio's path end to end: the dialler's REST client, the emulator, the edge.
//!
//! The real Backend (its telephony edge), the dialler engine dialling through a Twilio carrier
//! account, a real fleet worker and the Twilio emulator: calls are created over Twilio's REST API,
//! progress comes back as signed status callbacks, an answer is attached by the edge and streamed
//! over Twilio's Media Streams into the worker, and a voicemail is ended by Twilio's asynchronous
//! machine detection. The first two placements meet a 429 and a 503, which hold the calls back
//! rather than failing them. Then the dialler is stopped while calls ring and a new leader follows
//! them to their ends without dialling anyone twice. Last, a bot transfers its caller and the
//! emulator's REST API is told to `<Dial>` the target.

use super::assert_no_overlapping_attempts;
use super::carrier::{
    assert_booked_and_recorded_at, campaign_through, finished, population, start_dialler,
};
use contracts::telephony::CarrierKind;
use contracts::{CallOutcomeCode, CallState, E164Number};
use sim::{EmulatorConfig, Faults, Population, TwilioEmulator};
use std::sync::Arc;
use std::time::Duration;
use store::{NewCarrierAccount, Store};
use test_support::bots::{booking_bot, transfer_bot};
use test_support::platform::{Platform, platform};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "emulated-auth-token";

/// The platform, an emulator, a Twilio account pointing at it and a campaign dialling through it.
async fn twilio_campaign(
    store: &Arc<dyn Store>,
    population: Population,
    contacts: usize,
) -> (Platform, TwilioEmulator, contracts::CampaignId) {
    twilio_campaign_with(store, population, contacts, booking_bot()).await
}

async fn twilio_campaign_with(
    store: &Arc<dyn Store>,
    population: Population,
    contacts: usize,
    bot: contracts::runtime_config::BotSpec,
) -> (Platform, TwilioEmulator, contracts::CampaignId) {
    let platform = platform(store.clone()).await;
    store
        .put_setting("fleet.urls", serde_json::json!([platform.worker_url]), None)
        .await
        .unwrap();
    population.validate().unwrap();
    let emulator = TwilioEmulator::start(
        EmulatorConfig {
            account_sid: SID.into(),
            auth_token: TOKEN.into(),
            population,
            seed: 7,
        },
        0,
    )
    .await
    .unwrap();
    let account = store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Twilio,
            name: "emulated".into(),
            account_sid: SID.into(),
            secret: Some(TOKEN.into()),
            api_url: Some(emulator.api_url().to_owned()),
            numbers: vec![E164Number::parse("+14155550100").unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap();
    let campaign = campaign_through(store, account.id, bot, contacts).await;
    (platform, emulator, campaign)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_through_twilio_is_dialled_recorded_followed_by_a_new_leader_and_transferred() {
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    eprintln!("part 1 of 3: a campaign through the Twilio emulator");
    let (platform, emulator, campaign) =
        twilio_campaign(&store, population(0.25, 0.25, 1.0), 5).await;
    emulator.inject(Faults {
        rate_limited: 1,
        unavailable: 1,
    });
    let dialler = start_dialler(store.clone(), &platform, "dialler-twilio");
    let calls = finished(&*store, campaign, 5, Duration::from_secs(150)).await;
    let _ = dialler.stop.send(());
    dialler.task.await.unwrap();
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    eprintln!(
        "calls: {:?}",
        calls
            .iter()
            .map(|c| (c.id.0, c.state, c.outcome))
            .collect::<Vec<_>>()
    );
    assert_eq!(stats.refused, 2, "the 429 and the 503 were met: {stats:?}");
    assert_eq!(stats.created, calls.len() as u64, "{stats:?}");
    assert_eq!(stats.webhook_failures, 0, "{stats:?}");
    for call in &calls {
        assert!(
            call.carrier_call_id
                .as_deref()
                .is_some_and(|sid| sid.starts_with("CA")),
            "{call:?}"
        );
        let kept = store.telephony_events(call.id).await.unwrap();
        assert!(
            kept.iter().any(|(event, _)| event.starts_with("status.")),
            "{kept:?}"
        );
    }
    // People talked to the bot over Twilio's media protocol, and were recorded with transcripts.
    let completed: Vec<_> = calls
        .iter()
        .filter(|c| c.state == CallState::Completed)
        .collect();
    assert!(!completed.is_empty(), "{calls:?}");
    assert_eq!(stats.conversations, completed.len() as u64, "{stats:?}");
    assert_booked_and_recorded_at(8000, &completed);
    // Busy lines ended with their code, voicemail by Twilio's machine detection (hung up by the
    // edge through the REST API).
    for call in &calls {
        if let Some(code @ (CallOutcomeCode::DialBusy | CallOutcomeCode::DialMachine)) =
            call.outcome
        {
            let contact = store.contact(call.contact_id.unwrap()).await.unwrap();
            assert!(
                contact.attempts < 2
                    || code == CallOutcomeCode::DialMachine
                    || contact.next_attempt_at >= call.created_at
            );
        }
    }
    let machines = calls
        .iter()
        .filter(|c| c.outcome == Some(CallOutcomeCode::DialMachine))
        .count();
    assert_eq!(stats.hung_up as usize, machines, "{stats:?}");
    assert_no_overlapping_attempts(&calls);
    drop(platform);
    drop(emulator);

    eprintln!("part 2 of 3: the dialler stops while its calls ring; a new leader follows them");
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let (platform, emulator, campaign) =
        twilio_campaign(&store, population(0.0, 0.0, 6.0), 2).await;
    let first = start_dialler(store.clone(), &platform, "dialler-one");
    // Both calls placed and ringing (a 6 s ring), then the first dialler is gone.
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
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls.iter().all(|c| c.state == CallState::Completed),
        "{calls:?}"
    );
    assert_no_overlapping_attempts(&calls);
    drop(platform);
    drop(emulator);

    eprintln!("part 3 of 3: a bot transfers its caller, and Twilio is told to dial the target");
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let bot = transfer_bot("+14155550177");
    let (platform, emulator, campaign) =
        twilio_campaign_with(&store, population(0.0, 0.0, 1.0), 1, bot).await;
    let dialler = start_dialler(store.clone(), &platform, "dialler-transfer");
    let calls = finished(&*store, campaign, 1, Duration::from_secs(90)).await;
    let _ = dialler.stop.send(());
    dialler.task.await.unwrap();
    let stats = emulator.stats();
    eprintln!("emulator: {stats:?}");
    assert_eq!(
        stats.transferred_to,
        vec!["+14155550177".to_owned()],
        "{stats:?}"
    );
    assert_eq!(
        calls[0].outcome,
        Some(CallOutcomeCode::CallTransferred),
        "{calls:?}"
    );
    let kept = store.telephony_events(calls[0].id).await.unwrap();
    assert!(
        kept.iter().any(|(event, _)| event == "transfer"),
        "{kept:?}"
    );
}
