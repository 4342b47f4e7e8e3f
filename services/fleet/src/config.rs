//! A worker's settings: where it listens, its calls, the Backend, the object store, providers.

use providers::factory::ProviderEnv;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the worker listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A Unix socket (`VOXCORE_SOCKET`), one per worker behind nginx.
    Unix(PathBuf),
    /// A TCP address (`VOXCORE_LISTEN`).
    Tcp(SocketAddr),
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Unix(path) => write!(f, "unix:{}", path.display()),
            Listen::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

/// Everything a worker needs to run.
#[derive(Clone)]
pub struct WorkerConfig {
    /// `VOXCORE_WORKER_ID`: names the worker in health, attach replies and logs.
    pub worker_id: String,
    pub listen: Listen,
    /// `VOXCORE_PUBLIC_URL`: the base carriers reach this worker by (`wss://host/w/3`); media URLs
    /// are `{public_url}/ws/{protocol}/{token}`. When absent, the TCP address is used.
    pub public_url: Option<String>,
    /// `MAX_CONCURRENT_CALLS`.
    pub max_calls: u32,
    /// `VOXCORE_SECRET`: attach callers present it; the worker presents it to the Backend.
    pub secret: SecretString,
    /// `VOXBRIDGE_CONFIG_URL`, e.g. `http://127.0.0.1:8080/api/v1/config`.
    pub config_url: String,
    /// `VOXBRIDGE_URL`, e.g. `http://127.0.0.1:8080`; results go to `{url}/api/v1/calls/{id}/result`.
    pub bridge_url: String,
    /// How long an attach reservation waits for its media to connect.
    pub attach_ttl: Duration,
    /// Where results and recordings wait until the Backend and the object store have them.
    pub outbox_dir: PathBuf,
    /// Where recordings go.
    pub recordings: Arc<crate::outbox::RecordingStore>,
    /// Worker endpoints `GET /health/fleet` asks: socket paths, globs of them, or `http://` URLs.
    pub fleet_endpoints: Vec<String>,
    /// How long a drain waits for calls in progress.
    pub drain_timeout: Duration,
    /// Keys, base URLs and local models for the speech providers.
    pub providers: ProviderEnv,
    /// What webhook tools may reach (`OUTBOUND_ALLOWED_NETWORKS`), and their reply's limits.
    pub outbound: egress::Policy,
    /// The capacity registry the worker heartbeats into (`REDIS_URL`), when there is one.
    pub registry: Option<crate::registration::RegistryLink>,
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("worker_id", &self.worker_id)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("max_calls", &self.max_calls)
            .field("config_url", &self.config_url)
            .field("bridge_url", &self.bridge_url)
            .field("outbox_dir", &self.outbox_dir)
            .field("fleet_endpoints", &self.fleet_endpoints)
            .finish_non_exhaustive()
    }
}

impl WorkerConfig {
    /// A worker on `listen` with defaults for the rest: one call, a 10 s attach window, a five
    /// minute drain, results kept under `outbox_dir`.
    pub fn new(
        worker_id: &str,
        listen: Listen,
        secret: SecretString,
        bridge_url: &str,
        outbox_dir: PathBuf,
        recordings: crate::outbox::RecordingStore,
    ) -> Self {
        let bridge_url = bridge_url.trim_end_matches('/').to_owned();
        Self {
            worker_id: worker_id.to_owned(),
            listen,
            public_url: None,
            max_calls: 1,
            secret,
            config_url: format!("{bridge_url}/api/v1/config"),
            bridge_url,
            attach_ttl: Duration::from_secs(10),
            outbox_dir,
            recordings: Arc::new(recordings),
            fleet_endpoints: Vec::new(),
            drain_timeout: Duration::from_secs(300),
            providers: ProviderEnv::default(),
            outbound: egress::Policy::default(),
            registry: None,
        }
    }
}
