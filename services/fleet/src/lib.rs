//! The voice fleet worker (`vox core`).
//!
//! Takes answered calls by attach, runs each through a speech pipeline over the carrier's media
//! WebSocket, and delivers every result durably.
//!
//! `Worker::bind` listens (Unix socket or TCP) and starts the outbox delivery loop;
//! `Worker::serve` runs until the stop signal, then drains: no new calls (health says draining,
//! attach answers 429), calls in progress finish up to the drain deadline, results are delivered,
//! and it returns.

pub mod call;
pub mod client;
pub mod config;
pub mod fleet_health;
pub mod media;
pub mod models;
pub mod outbox;
pub mod post_call;
pub mod registration;
pub mod routes;
mod screen;
pub mod slots;

pub use config::{Listen, WorkerConfig};
pub use outbox::{Outbox, RecordingStore, S3Settings, Wav};
pub use registration::RegistryLink;

use anyhow::Context;
use client::BridgeClient;
use slots::Slots;
use std::sync::Arc;
use std::time::Duration;

/// What every request and call of one worker shares.
#[derive(Debug)]
pub struct Shared {
    pub config: WorkerConfig,
    pub slots: Slots,
    pub client: BridgeClient,
    pub outbox: Outbox,
    /// For webhook tools: URLs operators supply go through the guarded client.
    pub webhooks: egress::Egress,
    /// The outbox refused a write (a full or broken disk): the worker reports itself down and
    /// takes no call until a probe write succeeds again (M4).
    pub outbox_broken: std::sync::atomic::AtomicBool,
    /// The Backend did not answer a config request: the worker reports no free slot (so a
    /// dialler dials nobody it could not attach) until the Backend answers again (M5).
    pub backend_down: std::sync::atomic::AtomicBool,
    /// The address actually bound (a TCP port of 0 becomes the real one).
    local_http: Option<String>,
    /// Smart Turn, when the worker has it (`SMART_TURN_MODEL`), for bots in `turn.mode: smart`.
    pub turn_model: Option<Arc<dyn pipeline::processors::TurnModel>>,
    /// Silero VAD, when the worker has it (`SILERO_VAD_MODEL`), for bots with `turn.vad: silero`.
    pub voice_model: Option<Arc<dyn pipeline::processors::VoiceModel>>,
    /// The words check for bots in `turn.mode: smart`: the host's `vox-llm` (`LOCAL_LLM_URL`)
    /// when it has one, else the words rule alone.
    pub words: Option<Arc<dyn pipeline::processors::EndOfTurn>>,
}

impl Shared {
    /// Whether the worker takes no call now: its outbox refused a write (M4), or the Backend does
    /// not answer (M5). Its health and heartbeats then report no free slot.
    pub fn refusing_calls(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        self.outbox_broken.load(SeqCst) || self.backend_down.load(SeqCst)
    }
    /// A config request found the Backend unreachable: no free slot is reported from now on, and
    /// the Backend's health is asked every 2 s until it answers.
    pub fn backend_unreachable(self: &Arc<Self>) {
        use std::sync::atomic::Ordering::SeqCst;
        if self.backend_down.swap(true, SeqCst) {
            return;
        }
        tracing::warn!("the Backend is unreachable: no free slot until it answers");
        let shared = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if !shared.backend_down.load(SeqCst) || shared.client.backend_up().await {
                    shared.backend_down.store(false, SeqCst);
                    tracing::info!("the Backend answers again: taking calls");
                    return;
                }
            }
        });
    }

    /// Where this worker is reached over HTTP: `VOXCORE_PUBLIC_URL`, else the bound TCP address.
    pub fn public_base(&self) -> String {
        let base = match (&self.config.public_url, &self.local_http) {
            (Some(url), _) => url.as_str(),
            (None, Some(http)) => http.as_str(),
            (None, None) => "http://localhost",
        };
        base.trim_end_matches('/').to_owned()
    }

    /// The base of media URLs: [`Shared::public_base`] with a WebSocket scheme.
    pub fn media_base(&self) -> String {
        let base = self.public_base();
        if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base
        }
    }

    /// Puts a finished call's package in the outbox (logged loudly if even that fails).
    pub async fn store_result(&self, (result, recording): call::Packaged) {
        let call_id = result.call_id;
        let document = match serde_json::to_vec(&result) {
            Ok(document) => document,
            Err(error) => {
                tracing::error!(call_id = call_id.0, %error, "the call result does not serialize");
                return;
            }
        };
        let entry = outbox::Entry {
            call_id,
            result: document,
            recording,
        };
        let Err(error) = self.outbox.put(entry).await else {
            return;
        };
        // The outbox cannot keep it: stop taking calls, and hand the result to the Backend
        // directly (the recording, which needed the outbox, is lost; the record is not).
        self.outbox_broken
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tracing::error!(call_id = call_id.0, %error, outbox = %self.outbox.dir().display(), "writing the call result to the outbox failed; posting it directly");
        let _ = tokio::fs::remove_file(self.outbox.spool_path(call_id)).await;
        let mut result = result;
        result.recording = None;
        let Ok(document) = serde_json::to_vec(&result) else {
            return;
        };
        for attempt in 0..5u32 {
            match self.client.post_result(call_id, &document).await {
                Ok(()) => {
                    self.outbox.end(call_id).await;
                    return;
                }
                Err(error) => {
                    tracing::warn!(call_id = call_id.0, attempt, %error, "posting the result directly failed");
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                }
            }
        }
        tracing::error!(
            call_id = call_id.0,
            "the call result is lost: no outbox and no Backend"
        );
    }
}

enum Bound {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

/// A bound worker, ready to serve.
pub struct Worker {
    shared: Arc<Shared>,
    listener: Bound,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Binds the listener and opens the outbox (results left by an earlier run are delivered).
    pub async fn bind(mut config: WorkerConfig) -> anyhow::Result<Self> {
        if config.providers.http.is_none() {
            // One pool for every call's provider requests: no new connection or TLS setup per turn.
            config.providers.http = Some(
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .tcp_nodelay(true)
                    .pool_idle_timeout(Duration::from_secs(90))
                    .build()
                    .context("building the providers' HTTP client")?,
            );
        }
        // Bots' own provider servers are reached like webhook tools: guarded (deliverable 3).
        config.providers.outbound = config.outbound.allowed.clone();
        config.providers.guarded_http = Some(egress::streaming_client(&config.outbound.allowed));
        let outbox = Outbox::open(&config.outbox_dir)
            .with_context(|| format!("opening the outbox {}", config.outbox_dir.display()))?;
        // The calls an earlier run took and died during (killed, crashed) are reported lost, so
        // each ends and its contact is dialled again, instead of staying live until the reaper.
        for (call_id, started) in outbox.interrupted() {
            let (result, _) = call::minimal_result(
                call_id,
                started,
                contracts::CallOutcomeCode::FleetWorkerLost,
                "the worker stopped during the call (killed or crashed) and found it unfinished on restart",
            );
            let entry = outbox::Entry {
                call_id,
                result: serde_json::to_vec(&result).context("serializing a call result")?,
                recording: None,
            };
            outbox
                .put(entry)
                .await
                .with_context(|| format!("writing call {call_id}'s result to the outbox"))?;
            tracing::warn!(
                call_id = call_id.0,
                "a call the worker died during is reported lost"
            );
        }
        let (listener, local_http) = match &config.listen {
            Listen::Tcp(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                let local = listener.local_addr()?;
                (Bound::Tcp(listener), Some(format!("http://{local}")))
            }
            Listen::Unix(path) => {
                config::check_socket_folder(path).map_err(|why| anyhow::anyhow!(why))?;
                if path.exists() {
                    // A socket left by a worker that died; refuse if one still answers.
                    if std::os::unix::net::UnixStream::connect(path).is_ok() {
                        anyhow::bail!("another worker is listening on {}", path.display());
                    }
                    std::fs::remove_file(path)
                        .with_context(|| format!("removing the stale socket {}", path.display()))?;
                }
                let listener = tokio::net::UnixListener::bind(path)
                    .with_context(|| format!("binding {}", path.display()))?;
                (Bound::Unix(listener), None)
            }
        };
        let turn_model = models::turn_model(&config.models)?;
        let voice_model = models::voice_model(&config.models)?;
        let words = providers::words_check(&config.providers);
        if config.providers.piper.is_none() {
            config.providers.piper = models::piper_voice(&config.models)?;
        }
        let client = BridgeClient::new(
            &config.config_url,
            &config.bridge_url,
            config.secret.clone(),
        )
        .with_worker_id(&config.worker_id);
        let shared = Arc::new(Shared {
            slots: Slots::new(config.max_calls, config.attach_ttl),
            client,
            outbox,
            webhooks: egress::Egress::new(config.outbound.clone()),
            outbox_broken: std::sync::atomic::AtomicBool::new(false),
            backend_down: std::sync::atomic::AtomicBool::new(false),
            local_http,
            turn_model,
            voice_model,
            words,
            config,
        });
        Ok(Self { shared, listener })
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// The `http://` address of a TCP worker.
    pub fn http_address(&self) -> Option<String> {
        self.shared.local_http.clone()
    }

    /// Serves until `stop` resolves, then drains and returns once results are delivered or the
    /// drain deadline passes.
    pub async fn serve(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shared = self.shared.clone();
        let (outbox_stop_tx, outbox_stop_rx) = tokio::sync::oneshot::channel::<()>();
        let delivery = tokio::spawn(shared.outbox.clone().run(
            shared.client.clone(),
            shared.config.recordings.clone(),
            async {
                let _ = outbox_stop_rx.await;
            },
        ));
        // Reservations whose media never came: the call's record says so.
        let sweep_shared = shared.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                for request in sweep_shared.slots.take_expired() {
                    tracing::warn!(
                        call_id = request.call_id.0,
                        "the media never connected; the reservation expired"
                    );
                    let detail = format!(
                        "the carrier's media did not connect within {:?} of the attach",
                        sweep_shared.config.attach_ttl
                    );
                    let result = call::minimal_result(
                        request.call_id,
                        request.answered_at,
                        contracts::CallOutcomeCode::FleetAttachFailed,
                        &detail,
                    );
                    sweep_shared.store_result(result).await;
                }
            }
        });
        let beating = shared
            .config
            .registry
            .clone()
            .map(|link| tokio::spawn(registration::heartbeat(shared.clone(), link)));
        let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
        let drain_shared = shared.clone();
        let shutdown = async move {
            stop.await;
            tracing::info!(worker = %drain_shared.config.worker_id, "draining: no new calls");
            drain_shared.slots.drain();
            let deadline = tokio::time::Instant::now() + drain_shared.config.drain_timeout;
            if !drain_shared.slots.idle(deadline).await {
                tracing::warn!("drain deadline passed with calls still running");
            }
            let _ = drained_tx.send(());
        };
        let router = routes::router(shared.clone());
        let served = match self.listener {
            Bound::Tcp(listener) => {
                // Media frames are small and due every 20 ms: never hold one back for an ACK.
                use axum::serve::ListenerExt;
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                serve::serve(listener, router, shared.config.http_limits, shutdown).await
            }
            Bound::Unix(listener) => {
                serve::serve(listener, router, shared.config.http_limits, shutdown).await
            }
        };
        let _ = drained_rx.await;
        // Deliver what the drained calls left, until the drain deadline.
        let client = shared.client.clone();
        let mut backoff = std::collections::HashMap::new();
        let deadline =
            tokio::time::Instant::now() + shared.config.drain_timeout.min(Duration::from_secs(30));
        while shared
            .outbox
            .flush(&client, &shared.config.recordings, &mut backoff)
            .await
            > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        sweeper.abort();
        if let (Some(beating), Some(link)) = (beating, &shared.config.registry) {
            beating.abort();
            registration::leave(&shared, link).await;
        }
        let _ = outbox_stop_tx.send(());
        let _ = delivery.await;
        if let Listen::Unix(path) = &shared.config.listen {
            let _ = std::fs::remove_file(path);
        }
        served.context("serving")
    }
}
