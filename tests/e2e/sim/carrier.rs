//! What the carrier suites share: a callee population, a dialler over account carriers, the wait.

use super::campaign_calls;
use dialler::engine::{AccountCarriers, Engine, EngineConfig};
use sim::{Population, SimCarrier};
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use test_support::platform::Platform;

/// Callees who answer after `ring` seconds, a share of voicemail and busy lines, each asking to
/// book and hanging up after 40 s; the carrier runs machine detection.
pub fn population(voicemail: f64, busy: f64, ring: f64) -> Population {
    Population {
        answer: 1.0 - voicemail - busy,
        voicemail,
        busy,
        failed: 0.0,
        ring_median_secs: ring,
        ring_sigma: 0.2,
        voicemail_after_secs: ring,
        carrier_amd: true,
        answer_with: "Hello?".to_owned(),
        script: vec!["Yes, I would like to book an appointment.".to_owned()],
        hang_up_after_secs: 40.0,
        ..Population::default()
    }
}

/// A dialler engine run as a task, and how to stop it.
pub struct Dialler {
    pub task: tokio::task::JoinHandle<()>,
    pub stop: tokio::sync::oneshot::Sender<()>,
}

/// A dialler leading as `owner`, dialling campaigns' carrier accounts (edge at the platform's
/// Backend); a campaign without one would dial the simulator.
pub fn start_dialler(store: Arc<dyn Store>, platform: &Platform, owner: &str) -> Dialler {
    // The default carrier is the simulator; the campaign's account makes its calls the carrier's.
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let default = Arc::new(SimCarrier::new(Population::default(), 1, events_tx));
    let mut config = EngineConfig::new(owner);
    config.tick = Duration::from_millis(500);
    config.leader_ttl = Duration::from_secs(2);
    let engine = Engine::new(store, default, platform.fleet(), config).with_accounts(Arc::new(
        AccountCarriers {
            public_url: Some(platform.bridge_url.clone()),
        },
    ));
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(engine.run(
        events_rx,
        async {
            let _ = stop_rx.await;
        },
        |_, _| {},
    ));
    Dialler { task, stop }
}

/// Waits until `contacts` contacts have had a call and every call is final.
pub async fn finished(
    store: &dyn Store,
    campaign: contracts::CampaignId,
    contacts: usize,
    within: Duration,
) -> Vec<store::Call> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let calls = campaign_calls(store, campaign).await;
        let tried = calls
            .iter()
            .filter_map(|c| c.contact_id)
            .collect::<std::collections::HashSet<_>>()
            .len();
        if tried == contacts && calls.iter().all(|c| c.state.is_terminal()) {
            return calls;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the campaign did not finish: {:?}",
            calls.iter().map(|c| (c.id.0, c.state)).collect::<Vec<_>>()
        );
    }
}

/// A running campaign of `contacts` contacts for `bot`, dialling through carrier `account`.
pub async fn campaign_through(
    store: &Arc<dyn Store>,
    account: contracts::telephony::CarrierAccountId,
    bot: contracts::runtime_config::BotSpec,
    contacts: usize,
) -> contracts::CampaignId {
    let campaign = store::testing::running_campaign(&**store, "Clinic", bot, contacts, 2, 10).await;
    let mut config = store.campaign(campaign).await.unwrap().config;
    config.settings = serde_json::json!({ "dialler": { "carrier_account": account.0 } });
    store.update_campaign(campaign, config).await.unwrap();
    campaign
}

/// Each call was talked through to a booking, recorded at the carrier's rate (8 kHz μ-law, or
/// Vonage's 16 kHz PCM), and the caller's words reached the transcript (whisper may mishear
/// 8 kHz words).
pub fn assert_booked_and_recorded_at(hz: u32, calls: &[&store::Call]) {
    use contracts::call_result::{CallResult, Speaker};
    for call in calls {
        let result: CallResult = serde_json::from_value(call.result.clone().unwrap()).unwrap();
        assert_eq!(
            result.recording.as_ref().map(|r| r.sample_rate),
            Some(hz),
            "{result:?}"
        );
        assert!(
            result
                .transcript
                .iter()
                .any(|t| t.speaker == Speaker::User && t.text.split_whitespace().count() >= 3),
            "{result:?}"
        );
        assert_eq!(call.disposition.as_deref(), Some("booked"));
    }
}
