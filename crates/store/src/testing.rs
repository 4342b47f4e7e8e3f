//! Test fixtures (feature `test-util`).
//!
//! A fresh, migrated database per test on SQLite or PostgreSQL.
//!
//! PostgreSQL fixtures need `VOX_TEST_DATABASE_URL`, an admin URL of a throwaway server;
//! `scripts/test` starts one and sets it. Each fixture creates a database of its own there.

use crate::Store;

/// Runs each named `async fn(Arc<dyn Store>)` once per backend, as `sqlite::NAME` and
/// `postgres::NAME`, each on a fresh database of its own (the calling crate needs tokio).
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::testing::sqlite().await;
                    super::$name(db.store.clone()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::testing::postgres().await;
                    super::$name(db.store.clone()).await;
                }
            )+
        }
    };
}
use sqlx::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A store on a database of its own, kept alive (for SQLite, its folder) as long as this value.
#[derive(Debug)]
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// The URL the store was opened with.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A migrated SQLite file in a fresh temporary folder.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("vox.db").display());
    let store = crate::connect(&url).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestDb {
        store,
        url,
        _dir: Some(dir),
    }
}

/// A migrated database of its own on the test PostgreSQL server.
pub async fn postgres() -> TestDb {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let admin_url = std::env::var("VOX_TEST_DATABASE_URL").expect(
        "VOX_TEST_DATABASE_URL is not set: run scripts/test, which starts a throwaway PostgreSQL",
    );
    let name = format!(
        "vox_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_micros()
    );
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let (base, _) = admin_url.rsplit_once('/').expect("URL with a database");
    let url = format!("{base}/{name}");
    let store = crate::connect(&url).await.expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    TestDb {
        store,
        url,
        _dir: None,
    }
}

/// A running campaign of `contacts` due contacts (`+1415555NNNN`, New York time, no calling
/// windows) for a new bot named `name` with `spec`; returns the campaign's id.
pub async fn running_campaign(
    store: &dyn Store,
    name: &str,
    spec: contracts::runtime_config::BotSpec,
    contacts: usize,
    max_attempts: i64,
    concurrency_cap: i64,
) -> contracts::CampaignId {
    let (bot, _) = store
        .create_bot(crate::NewBot {
            name: name.to_owned(),
            spec,
            created_by: None,
        })
        .await
        .expect("create the bot");
    let campaign = store
        .create_campaign(crate::NewCampaign {
            name: name.to_owned(),
            bot_id: bot.id,
            calling_windows: Default::default(),
            max_attempts,
            concurrency_cap,
            weight: 1,
            abandon_target: 0.02,
            caller_id: Some(contracts::E164Number::parse("+14155550100").expect("a valid number")),
            settings: serde_json::json!({}),
        })
        .await
        .expect("create the campaign");
    let rows = (0..contacts)
        .map(|i| crate::NewContact {
            phone: format!("+1415555{i:04}"),
            timezone: "America/New_York".into(),
            variables: Default::default(),
        })
        .collect();
    store
        .add_contacts(campaign.id, rows)
        .await
        .expect("add the contacts");
    store
        .set_campaign_state(
            campaign.id,
            crate::CampaignState::Draft,
            crate::CampaignState::Running,
        )
        .await
        .expect("start the campaign");
    campaign.id
}
