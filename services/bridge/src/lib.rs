//! The Backend API (`vox bridge`): the control plane and the only owner of durable state.
//!
//! Shape (style.md G10): [`App::build`] binds (port 0 allowed) and returns, [`App::port`] says
//! where, [`App::run_until_stopped`] serves until the shutdown future resolves, then drains.

#![forbid(unsafe_code)]

pub mod auth;
mod bot_rules;
pub mod capacity;
pub mod cleanup;
mod convert;
pub mod crm;
pub mod crm_lookup;
pub mod error;
pub mod import;
pub mod kb;
pub mod openapi;
mod phone;
pub mod recordings;
pub(crate) mod routes;
mod template;
pub mod throttle;
pub mod widget;

use auth::{LoginLimiter, Tokens};
use secrecy::SecretString;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use store::Store;

/// What the Backend needs to run, validated by the caller (`vox bridge` loads it from `Settings`).
#[derive(Debug)]
pub struct BridgeConfig {
    pub host: IpAddr,
    pub port: u16,
    pub jwt_secret: SecretString,
    pub voxcore_secret: SecretString,
    /// Checked by `/health` when set.
    pub redis_url: Option<String>,
    /// The capacity registry (Redis at `redis_url`, or `vox up`'s in-process one): test calls
    /// reserve a slot there instead of trying the saved fleets, and the fleet status shows its
    /// capacity.
    pub registry: Option<Arc<dyn registry::Registry>>,
    /// Embeds knowledge-base chunks and queries (all-MiniLM-L6-v2 from `EMBEDDING_MODEL_DIR`, or
    /// an OpenAI-compatible endpoint); `None` refuses uploads and searches with a clear 503.
    pub embedder: Option<Arc<dyn knowledge::Embedder>>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Largest JSON body accepted (413 beyond).
    pub body_limit: usize,
    pub stale_in_progress_timeout: Duration,
    /// How often the CRM outbox is sent; `None` leaves it to the caller (tests drive it).
    pub crm_interval: Option<Duration>,
    /// How often the drains and quotas kept in the settings are applied to the registry again
    /// (a Redis that restarted empty gets them back); `None` leaves it to the caller.
    pub capacity_interval: Option<Duration>,
    /// The object store's local directory (`OBJECT_STORE_URL=file://…`), where recordings are.
    pub recordings_dir: Option<std::path::PathBuf>,
    /// The S3-compatible bucket (`OBJECT_STORE_URL=s3://…`), for `s3://` recordings.
    pub s3_recordings: Option<Arc<recordings::S3Recordings>>,
    /// The console's build (`console/dist`), served at `/` with its client-side routes; `None`
    /// serves the API only (nginx serves the console in production).
    pub console_dir: Option<std::path::PathBuf>,
    /// `VOX_PUBLIC_URL`: the base carriers reach the telephony edge at, as they sign it; `None`
    /// takes each webhook's `Host` (plain HTTP).
    pub public_url: Option<String>,
    /// `PROVIDER_BASE_URLS`: where the platform sends each keyed vendor besides its own URL; a
    /// bot may point a keyed vendor only there (the platform's key never goes elsewhere).
    pub provider_base_urls: std::collections::BTreeMap<String, String>,
    /// `FLEET_LOCAL_PROVIDERS`: what the deployment serves its bots on its own hosts (a Piper
    /// voice, the local LLM, the speech-to-text sidecar). A voice chain that needs only what it
    /// lacks is refused, and the console does not offer those providers.
    pub local_services: contracts::local_services::LocalServices,
    /// `OUTBOUND_ALLOWED_NETWORKS`: the private networks a bot's webhook tools may name.
    pub outbound_allowed: egress::Allowed,
    /// `FLEET_NETWORKS`: where saved fleets may be. The Backend sends `VOXCORE_SECRET` to its
    /// fleets, so an admin's fleet URL must resolve inside these networks only (loopback by
    /// default), never to a host that would capture the secret.
    pub fleet_networks: egress::Allowed,
    /// Every connection's header-read (and keep-alive idle) and request-body idle timeouts.
    pub http_limits: serve::Limits,
    /// `TRUSTED_PROXIES`: the proxies whose `X-Forwarded-For` names the client (the login limiter
    /// counts by the client's address); from anyone else the header is ignored.
    pub trusted_proxies: egress::Allowed,
}

impl BridgeConfig {
    pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
    pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
    pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;
    pub const DEFAULT_FLEET_NETWORKS: &str = "127.0.0.0/8, ::1";

    /// Defaults for everything but the listen address and the secrets.
    pub fn new(
        host: IpAddr,
        port: u16,
        jwt_secret: SecretString,
        voxcore_secret: SecretString,
    ) -> Self {
        Self {
            host,
            port,
            jwt_secret,
            voxcore_secret,
            redis_url: None,
            registry: None,
            embedder: None,
            access_ttl: Self::DEFAULT_ACCESS_TTL,
            refresh_ttl: Self::DEFAULT_REFRESH_TTL,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            stale_in_progress_timeout: Duration::from_secs(30 * 60),
            crm_interval: Some(Duration::from_secs(2)),
            capacity_interval: Some(Duration::from_secs(30)),
            recordings_dir: None,
            s3_recordings: None,
            console_dir: None,
            public_url: None,
            provider_base_urls: Default::default(),
            local_services: Default::default(),
            outbound_allowed: Default::default(),
            fleet_networks: egress::Allowed::parse(Self::DEFAULT_FLEET_NETWORKS)
                .expect("the default fleet networks parse"),
            http_limits: serve::Limits::default(),
            trusted_proxies: egress::Allowed::default(),
        }
    }
}

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<BridgeConfig>,
    pub tokens: Arc<Tokens>,
    pub limiter: Arc<LoginLimiter>,
    /// Test calls per caller: each holds a worker slot, so a loop of them would starve campaigns.
    pub test_calls: Arc<throttle::Throttle>,
    /// For the fleets: their health, attaching test calls.
    pub http: reqwest::Client,
    /// Knowledge bases: the indexer and the search indexes.
    pub knowledge: Arc<kb::Knowledge>,
    /// CRM lookups at call start, and the answers kept.
    pub crm_lookups: Arc<crm_lookup::Lookups>,
    /// Website widgets' rate limits, and the lock their call starts take.
    pub widgets: Arc<widget::Widgets>,
}

/// A bound, not yet serving, Backend.
#[derive(Debug)]
pub struct App {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    state: AppState,
}

impl App {
    pub async fn build(config: BridgeConfig, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        use anyhow::Context;
        let address = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("bind the Backend API to {address}"))?;
        let tokens = Tokens::new(&config.jwt_secret, config.access_ttl, config.refresh_ttl);
        let knowledge = Arc::new(kb::Knowledge::new(store.clone(), config.embedder.clone()));
        let crm_lookups = Arc::new(crm_lookup::Lookups::new(config.outbound_allowed.clone()));
        let state = AppState {
            knowledge,
            crm_lookups,
            widgets: Default::default(),
            store,
            tokens: Arc::new(tokens),
            limiter: Arc::new(LoginLimiter::new(5, 20, Duration::from_secs(15 * 60))),
            test_calls: Arc::new(throttle::Throttle::new(10, Duration::from_secs(60))),
            config: Arc::new(config),
            http: reqwest::Client::new(),
        };
        let router = routes::router(state.clone());
        tracing::info!(address = %listener.local_addr()?, "Backend API listening");
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let cleanup = tokio::spawn(cleanup::periodic(
            self.state.store.clone(),
            self.state.config.stale_in_progress_timeout,
        ));
        let limits = self.state.config.http_limits;
        let served_future = serve::serve(self.listener, self.router, limits, shutdown);
        let crm = self.state.config.crm_interval.map(|interval| {
            let client = crm::client(self.state.config.outbound_allowed.clone());
            tokio::spawn(crm::periodic(self.state.store.clone(), interval, client))
        });
        let indexer = tokio::spawn(self.state.knowledge.clone().run_indexer());
        let controls = match (
            &self.state.config.registry,
            self.state.config.capacity_interval,
        ) {
            (Some(registry), Some(interval)) => Some(tokio::spawn(capacity::periodic(
                self.state.store.clone(),
                registry.clone(),
                interval,
            ))),
            _ => None,
        };
        let served = served_future.await;
        indexer.abort();
        if let Some(controls) = controls {
            controls.abort();
        }
        cleanup.abort();
        if let Some(crm) = crm {
            crm.abort();
        }
        served
    }
}
