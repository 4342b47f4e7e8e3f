//! The subcommands: `migrate`, `bridge`, `admin create-user`, and `up` (for now, the embedded database and the Backend API).

use crate::config::{Requirement, Settings};
use anyhow::Context;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn store::Store>> {
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
    Ok(config)
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
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
    let config = bridge_config(settings)?;
    let store = open_store(settings).await?;
    store.migrate().await.context("migrate the database")?;
    let app = bridge::App::build(config, store).await?;
    app.run_until_stopped(shutdown_signal())
        .await
        .context("serve the Backend API")
}

/// Creates a user (the first admin, typically); prints a generated password once when none is given.
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
    let password = password.unwrap_or_else(|| {
        let bytes: [u8; 12] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    });
    if password.chars().count() < bridge::auth::MIN_PASSWORD_LEN {
        anyhow::bail!(
            "the password must be at least {} characters",
            bridge::auth::MIN_PASSWORD_LEN
        );
    }
    let password_hash = bridge::auth::hash_password(password.clone())
        .await
        .map_err(|error| anyhow::anyhow!(error.message))?;
    let user = store
        .create_user(store::NewUser {
            email: email.to_owned(),
            name: name.to_owned(),
            password_hash,
            role,
        })
        .await
        .context("create the user")?;
    println!("created {} {} (id {})", user.role, user.email, user.id);
    if generated {
        println!("password (shown once): {password}");
    }
    Ok(())
}

/// The all-in-one. For now: the embedded database and the Backend API.
pub async fn up(settings: &Settings) -> anyhow::Result<()> {
    migrate(settings).await?;
    println!(
        "vox {}: the database is ready. The fleet, dialler and simulator are not part of this build yet; \
         run `vox bridge` (with JWT_SECRET and VOXCORE_SECRET) for the Backend API.",
        crate::VERSION
    );
    Ok(())
}

/// One stale-call cleanup pass (for `voxbridge-cleanup.timer`).
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
