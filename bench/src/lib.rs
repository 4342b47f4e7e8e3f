//! Shared pieces of the benchmark harnesses.
//!
//! Fresh databases on each backend, a seeded running campaign, fake speech providers, the pacing
//! simulation, the Debian FAQ as a retrieval set, an open-loop HTTP load generator, and the
//! worker the load benchmarks run.

pub mod fake_providers;
pub mod fake_voice;
pub mod faq;
pub mod open_loop;
pub mod pacing_sim;
pub mod speech;
pub mod worker_load;

use anyhow::Context;
use contracts::CampaignId;
use sqlx::Connection;
use std::sync::Arc;
use store::{CampaignState, NewBot, NewCampaign, NewContact, Store};

/// A migrated store on a database of its own; the SQLite file lives as long as this value.
#[derive(Debug)]
pub struct BenchDb {
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite_db() -> anyhow::Result<BenchDb> {
    let dir = tempfile::tempdir().context("create a temp dir")?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = store::connect(&url).await.context("open sqlite")?;
    store.migrate().await.context("migrate sqlite")?;
    Ok(BenchDb {
        store,
        _dir: Some(dir),
    })
}

/// A new database named `name` on the server `admin_url` points at.
pub async fn postgres_db(admin_url: &str, name: &str) -> anyhow::Result<BenchDb> {
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .context("connect to PostgreSQL")?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let (base, _) = admin_url.rsplit_once('/').context("URL with a database")?;
    let store = store::connect(&format!("{base}/{name}")).await?;
    store.migrate().await?;
    Ok(BenchDb { store, _dir: None })
}

/// A running campaign with `contacts` due contacts spread over a few zones, and no calling windows.
pub async fn seeded_campaign(store: &dyn Store, contacts: usize) -> anyhow::Result<CampaignId> {
    let spec = serde_json::from_value(serde_json::json!({
        "language": "en-US",
        "system_prompt": "Benchmark bot.",
        "stt": {"provider": "whisper"},
        "llm": {"provider": "llama"},
        "tts": {"provider": "piper"}
    }))?;
    let (bot, _) = store
        .create_bot(NewBot {
            name: "bench".into(),
            spec,
            created_by: None,
        })
        .await?;
    let campaign = store
        .create_campaign(NewCampaign {
            name: "bench".into(),
            bot_id: bot.id,
            calling_windows: Default::default(),
            max_attempts: 3,
            concurrency_cap: 1000,
            weight: 1,
            abandon_target: 0.03,
            caller_id: None,
            settings: serde_json::json!({}),
        })
        .await?;
    let zones = [
        "America/New_York",
        "Europe/London",
        "Asia/Kolkata",
        "Australia/Sydney",
    ];
    let rows: Vec<NewContact> = (0..contacts)
        .map(|i| NewContact {
            phone: format!("+1415{i:07}"),
            timezone: zones[i % zones.len()].into(),
            variables: Default::default(),
        })
        .collect();
    for chunk in rows.chunks(10_000) {
        store.add_contacts(campaign.id, chunk.to_vec()).await?;
    }
    store
        .set_campaign_state(campaign.id, CampaignState::Draft, CampaignState::Running)
        .await?;
    Ok(campaign.id)
}
