//! Shared fixtures: a real Backend on SQLite, the local STT sidecar (vox-whisper with tiny.en), a worker on loopback, a flow bot, and caller audio from espeak-ng.

use audio::{Resampler, SampleRate, wav};
use bridge::{App, BridgeConfig};
use chrono::Utc;
use contracts::attach::{AmdVerdict, AttachAccepted, AttachRequest, MediaProtocol};
use contracts::call_result::CallResult;
use contracts::runtime_config::{
    BotSpec, CallDirection, Flow, FlowBranch, FlowStep, ProviderSettings,
};
use contracts::{BotId, CallId, CallState};
use fleet::{Listen, RecordingStore, Worker, WorkerConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use store::{NewBot, NewCall, Store};

pub const SECRET: &str = "fleet-secret-for-tests-0123";

/// A running Backend API on a SQLite file.
pub struct Backend {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub recordings: PathBuf,
    _db: store::testing::TestDb,
    _dir: tempfile::TempDir,
}

fn bridge_config(port: u16, recordings: &Path) -> BridgeConfig {
    let mut config = BridgeConfig::new(
        [127, 0, 0, 1].into(),
        port,
        SecretString::from("jwt-secret-for-tests-0123456789"),
        SecretString::from(SECRET),
    );
    config.crm_interval = None;
    config.recordings_dir = Some(recordings.to_path_buf());
    config.embedder = Some(Arc::new(knowledge::testing::WordsEmbedder));
    config
}

/// Starts the Backend on `port` (0 for any) over `store`; returns its URL.
pub async fn start_bridge(store: Arc<dyn Store>, port: u16, recordings: &Path) -> String {
    let app = App::build(bridge_config(port, recordings), store)
        .await
        .expect("build the Backend");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    url
}

/// Logs to the test's output, filtered by `RUST_LOG` (default: warnings).
pub fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

pub async fn backend() -> Backend {
    logs();
    let db = store::testing::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    let url = start_bridge(db.store.clone(), 0, &recordings).await;
    Backend {
        url,
        store: db.store.clone(),
        recordings,
        _db: db,
        _dir: dir,
    }
}

#[path = "../../../whisper/src/testing.rs"]
mod sidecar;

/// The local STT sidecar, once per test binary (`services/whisper/src/testing.rs`, included by
/// path: it only talks to the sidecar, so it need not link whisper.cpp).
pub fn whisper_url() -> String {
    sidecar::sidecar_url()
}

/// The appointment flow: greet, ask, branch on "appointment"/"book" or DTMF 1.
pub fn flow_bot(greeting: &str) -> BotSpec {
    let step = |s: FlowStep| s;
    let mut steps = std::collections::BTreeMap::new();
    steps.insert(
        "greet".to_owned(),
        step(FlowStep::Say {
            text: greeting.to_owned(),
            next: "ask".to_owned(),
        }),
    );
    steps.insert(
        "ask".to_owned(),
        FlowStep::Ask {
            prompt: "How can I help?".to_owned(),
            field: Some("request".to_owned()),
            branches: vec![FlowBranch {
                keywords: vec!["appointment".to_owned(), "book".to_owned()],
                dtmf: Some("1".to_owned()),
                next: "booked".to_owned(),
            }],
            otherwise: "fallback".to_owned(),
        },
    );
    steps.insert(
        "booked".to_owned(),
        FlowStep::SetField {
            field: "booked".to_owned(),
            value: json!(true),
            next: "bye".to_owned(),
        },
    );
    steps.insert(
        "bye".to_owned(),
        FlowStep::End {
            text: Some("Booked. Goodbye.".to_owned()),
            disposition: Some("booked".to_owned()),
        },
    );
    steps.insert(
        "fallback".to_owned(),
        FlowStep::End {
            text: Some("Sorry. Goodbye.".to_owned()),
            disposition: Some("unknown".to_owned()),
        },
    );
    let mut stt = ProviderSettings::named("whisper");
    stt.options
        .insert("base_url".to_owned(), json!(whisper_url()));
    let mut spec = BotSpec::new(
        "en-US",
        "A scripted booking line.",
        stt,
        ProviderSettings::named("openai"),
        ProviderSettings::named("espeak"),
    );
    spec.flow = Some(Flow {
        start: "greet".to_owned(),
        steps,
    });
    spec.limits.max_duration_secs = 90;
    spec.qc_rules.push(contracts::runtime_config::QcRule {
        name: "greeting".to_owned(),
        description: "must_say: test line".to_owned(),
        severity: Default::default(),
    });
    spec
}

/// A bot whose calls are only attached in the test, never spoken to.
pub fn silent_bot() -> BotSpec {
    let mut stt = ProviderSettings::named("whisper");
    stt.options
        .insert("base_url".to_owned(), json!("http://127.0.0.1:9/v1"));
    BotSpec::new(
        "en-US",
        "Unused.",
        stt,
        ProviderSettings::named("openai"),
        ProviderSettings::named("espeak"),
    )
}

/// A bot and an answered call for it; returns the call id.
pub async fn answered_call(store: &Arc<dyn Store>, spec: BotSpec) -> CallId {
    let (bot, _) = store
        .create_bot(NewBot {
            name: "Test line".to_owned(),
            spec,
            created_by: None,
        })
        .await
        .unwrap();
    new_call(store, bot.id).await
}

pub async fn new_call(store: &Arc<dyn Store>, bot_id: BotId) -> CallId {
    store
        .create_call(NewCall {
            direction: CallDirection::Outbound,
            bot_id,
            campaign_id: None,
            contact_id: None,
            from: None,
            to: None,
            state: CallState::Answered,
            now: Utc::now(),
        })
        .await
        .unwrap()
        .id
}

/// A worker on a loopback port; returns its URL, its shared state and a stop trigger.
pub struct RunningWorker {
    pub url: String,
    pub shared: Arc<fleet::Shared>,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

pub fn worker_config(
    bridge_url: &str,
    outbox: PathBuf,
    recordings: &Path,
    max_calls: u32,
) -> WorkerConfig {
    let mut config = WorkerConfig::new(
        "worker-test",
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        SecretString::from(SECRET),
        bridge_url,
        outbox,
        RecordingStore::local(recordings),
    );
    config.max_calls = max_calls;
    config.drain_timeout = Duration::from_secs(60);
    config
}

pub async fn start_worker(config: WorkerConfig) -> RunningWorker {
    let worker = Worker::bind(config).await.expect("bind the worker");
    let url = worker.http_address().unwrap_or_default();
    let shared = worker.shared();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(worker.serve(async {
        let _ = rx.await;
    }));
    RunningWorker {
        url,
        shared,
        stop: Some(tx),
        done,
        _dir: None,
    }
}

pub async fn worker(backend: &Backend, max_calls: u32) -> RunningWorker {
    let dir = tempfile::tempdir().unwrap();
    let config = worker_config(
        &backend.url,
        dir.path().join("outbox"),
        &backend.recordings,
        max_calls,
    );
    let mut running = start_worker(config).await;
    running._dir = Some(dir);
    running
}

pub fn attach_request(call_id: CallId, protocol: MediaProtocol) -> AttachRequest {
    AttachRequest {
        call_id,
        direction: CallDirection::Outbound,
        campaign_id: None,
        carrier: "sim".to_owned(),
        carrier_call_id: format!("carrier-{}", call_id.0),
        media_protocol: protocol,
        from: None,
        to: None,
        answered_at: Utc::now(),
        // The carrier screened the call: the bot's own machine check is tested on its own.
        amd: Some(AmdVerdict::Human),
    }
}

/// `POST /attach` with the secret; returns the status and body.
pub async fn attach(worker_url: &str, body: &Value, secret: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{worker_url}/attach"))
        .json(body);
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn attach_ok(
    worker_url: &str,
    call_id: CallId,
    protocol: MediaProtocol,
) -> AttachAccepted {
    let body = serde_json::to_value(attach_request(call_id, protocol)).unwrap();
    let (status, body) = attach(worker_url, &body, Some(SECRET)).await;
    assert_eq!(status, 202, "{body}");
    serde_json::from_value(body).unwrap()
}

/// The stored result of a call, once it arrives (polls the store).
pub async fn result_of(store: &Arc<dyn Store>, call_id: CallId, within: Duration) -> CallResult {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let call = store.call(call_id).await.unwrap();
        if let Some(document) = call.result {
            return serde_json::from_value(document).unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no result for call {call_id} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The spoken request at `rate` (espeak-ng's sentence from the audio crate's test data).
pub fn speech(rate: SampleRate) -> Vec<i16> {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/audio/tests/data/speech_16k.wav"
    ))
    .unwrap();
    let samples = wav::decode(&bytes).unwrap().samples;
    if rate == SampleRate::Hz16000 {
        return samples;
    }
    let mut resampler = Resampler::new(SampleRate::Hz16000, rate).unwrap();
    let mut out = resampler.process(&samples);
    out.extend(resampler.flush());
    out
}
