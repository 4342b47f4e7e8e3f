//! Shared fixtures of the simulator's end-to-end tests: the booking bot (a flow, the local STT sidecar, espeak-ng) and the platform (the real Backend and one fleet worker on loopback).

#![allow(dead_code)]

use bridge::{App, BridgeConfig};
use contracts::runtime_config::{
    BotSpec, Flow, FlowBranch, FlowStep, ProviderSettings, VoicemailBehaviour,
};
use fleet::{Listen, RecordingStore, Worker, WorkerConfig};
use secrecy::SecretString;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use store::Store;

#[path = "../../../whisper/src/testing.rs"]
pub mod sidecar;

pub const SECRET: &str = "fleet-secret-for-tests-0123";

pub fn booking_bot() -> BotSpec {
    let mut steps = BTreeMap::new();
    steps.insert(
        "ask".to_owned(),
        FlowStep::Ask {
            prompt: "Hello, this is the clinic. How can I help?".to_owned(),
            field: Some("request".to_owned()),
            branches: vec![FlowBranch {
                keywords: vec!["appointment".to_owned(), "book".to_owned()],
                dtmf: None,
                next: "bye".to_owned(),
            }],
            otherwise: "bye".to_owned(),
        },
    );
    steps.insert(
        "bye".to_owned(),
        FlowStep::End {
            text: Some("Booked. Goodbye.".to_owned()),
            disposition: Some("booked".to_owned()),
        },
    );
    let mut stt = ProviderSettings::named("whisper");
    stt.options
        .insert("base_url".to_owned(), json!(sidecar::sidecar_url()));
    let mut spec = BotSpec::new(
        "en-US",
        "A scripted booking line.",
        stt,
        ProviderSettings::named("openai"),
        ProviderSettings::named("espeak"),
    );
    spec.flow = Some(Flow {
        start: "ask".to_owned(),
        steps,
    });
    spec.limits.max_duration_secs = 60;
    spec.voicemail = VoicemailBehaviour::LeaveMessage {
        message: "Hello, this is the clinic. Please call us back to book.".to_owned(),
    };
    spec
}

/// The Backend and one fleet worker (two calls at a time), spawned on loopback over `store`.
pub struct Platform {
    pub _dir: tempfile::TempDir,
    pub bridge_url: String,
    pub worker_url: String,
}

pub async fn platform(store: Arc<dyn Store>) -> Platform {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();

    let mut config = BridgeConfig::new(
        [127, 0, 0, 1].into(),
        0,
        SecretString::from("jwt-secret-for-tests-0123456789"),
        SecretString::from(SECRET),
    );
    config.crm_interval = None;
    config.recordings_dir = Some(recordings.clone());
    let app = App::build(config, store.clone()).await.unwrap();
    let bridge_url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let mut worker_config = WorkerConfig::new(
        "worker-1",
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        SecretString::from(SECRET),
        &bridge_url,
        dir.path().join("outbox"),
        RecordingStore::local(&recordings),
    );
    worker_config.max_calls = 2;
    let worker = Worker::bind(worker_config).await.unwrap();
    let worker_url = worker.http_address().unwrap();
    tokio::spawn(worker.serve(std::future::pending()));
    Platform {
        _dir: dir,
        bridge_url,
        worker_url,
    }
}

impl Platform {
    /// A fleet client for the platform's worker.
    pub fn fleet(&self) -> Arc<dialler::fleet::FleetClient> {
        Arc::new(dialler::fleet::FleetClient::new(
            vec![self.worker_url.clone()],
            SECRET.to_owned(),
            std::time::Duration::from_secs(5),
        ))
    }
}

/// The booking bot, answering calls to `number` (E.164).
pub async fn route_booking_bot(store: &dyn Store, number: &str) {
    let (bot, _) = store
        .create_bot(store::NewBot {
            name: "Clinic".into(),
            spec: booking_bot(),
            created_by: None,
        })
        .await
        .unwrap();
    let key = format!("inbound.number.{}", number.trim_start_matches('+'));
    store
        .put_setting(&key, json!(bot.id.0), None)
        .await
        .unwrap();
}
