//! A running platform on loopback for end-to-end tests.
//!
//! The real Backend on a SQLite file, fleet workers, or both.

use bridge::{App, BridgeConfig};
use fleet::{Listen, RecordingStore, Worker, WorkerConfig};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use store::Store;

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
    // The tests' provider servers (the STT sidecar, fakes) and tools listen on loopback.
    config.outbound_allowed = loopback();
    config
}

/// Loopback, where the tests' provider servers and tools listen: a private network a guarded
/// request reaches only where it is allowed.
pub fn loopback() -> egress::Allowed {
    egress::Allowed::parse("127.0.0.0/8, ::1").expect("loopback parses")
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

/// A Backend that can be restarted on its port over the same store, the way a deploy restarts it.
pub struct RunningBridge {
    pub url: String,
    port: u16,
    store: Arc<dyn Store>,
    recordings: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningBridge {
    pub async fn start(store: Arc<dyn Store>, port: u16, recordings: &Path) -> Self {
        let app = App::build(bridge_config(port, recordings), store.clone())
            .await
            .expect("build the Backend");
        let port = app.port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            store,
            recordings: recordings.to_path_buf(),
            stop: Some(stop),
            done: Some(done),
        }
    }

    /// Stops the Backend (it drains what it was serving), then starts a new one on the same port.
    pub async fn restart(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await
                .expect("the Backend task")
                .expect("the Backend stopped cleanly");
        }
        *self = Self::start(self.store.clone(), self.port, &self.recordings).await;
    }
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

/// A Backend on a fresh SQLite database, with its recordings folder.
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
    config.outbound.allowed = loopback();
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

/// A worker (one call at a time) that also runs Smart Turn, Silero VAD and a Piper voice
/// (`turn.mode: smart`, `turn.vad: silero`, TTS `piper`).
pub async fn smart_turn_worker(backend: &Backend) -> RunningWorker {
    use crate::paths::{ONNXRUNTIME_LIB, PIPER_ONNX, SILERO_ONNX, SMART_TURN_ONNX, model};
    let dir = tempfile::tempdir().unwrap();
    let mut config = worker_config(
        &backend.url,
        dir.path().join("outbox"),
        &backend.recordings,
        1,
    );
    config.models = fleet::config::NeuralModels {
        onnxruntime: Some(model(ONNXRUNTIME_LIB)),
        smart_turn: Some(model(SMART_TURN_ONNX)),
        silero: Some(model(SILERO_ONNX)),
        piper: Some(model(PIPER_ONNX)),
    };
    let mut running = start_worker(config).await;
    running._dir = Some(dir);
    running
}

/// The Backend and one fleet worker (two calls at a time), spawned on loopback over `store`.
pub struct Platform {
    pub bridge_url: String,
    pub worker_url: String,
    bridge: RunningBridge,
    _worker: RunningWorker,
    _dir: tempfile::TempDir,
}

pub async fn platform(store: Arc<dyn Store>) -> Platform {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    let bridge = RunningBridge::start(store, 0, &recordings).await;
    let worker = start_worker(worker_config(
        &bridge.url,
        dir.path().join("outbox"),
        &recordings,
        2,
    ))
    .await;
    Platform {
        bridge_url: bridge.url.clone(),
        worker_url: worker.url.clone(),
        bridge,
        _worker: worker,
        _dir: dir,
    }
}

impl Platform {
    /// Restarts the Backend on its port; the worker and the store stay.
    pub async fn restart_bridge(&mut self) {
        self.bridge.restart().await;
    }

    /// A fleet client for the platform's worker.
    pub fn fleet(&self) -> Arc<fleet_client::FleetClient> {
        Arc::new(fleet_client::FleetClient::new(
            vec![self.worker_url.clone()],
            SECRET.to_owned(),
            Duration::from_secs(5),
        ))
    }
}
