//! The subcommands that exist so far: `migrate` and `up` (which, until the services land, prepares the embedded database).

use crate::config::Settings;
use anyhow::Context;

/// Applies the pending migrations and says how many ran.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let shown = store::redact_url(&settings.database_url);
    let store = store::connect(&settings.database_url)
        .await
        .with_context(|| format!("open the database {shown}"))?;
    let applied = store
        .migrate()
        .await
        .with_context(|| format!("migrate the database {shown}"))?;
    tracing::info!(database = %shown, applied, "migrations applied");
    println!("migrated {shown}: {applied} migration(s) applied, schema up to date");
    Ok(())
}

/// The all-in-one. For now it migrates the embedded SQLite database and says what is still to come.
pub async fn up(settings: &Settings) -> anyhow::Result<()> {
    migrate(settings).await?;
    println!(
        "vox {}: the database is ready. The services (Backend API, fleet, dialler, simulator) \
         are not part of this build yet, so there is nothing more to start.",
        crate::VERSION
    );
    Ok(())
}
