//! Backend API load benchmark.
//!
//! Rate-paced `GET /api/v1/config` and call-list requests against 100,000 calls, with p50/p99
//! latency against `/health` measured the same way.
//!
//! The Backend runs in this process on a loopback port over a fresh database (SQLite, or
//! PostgreSQL with `--postgres`); the load generator is an open loop: requests start on a fixed
//! schedule whether or not earlier ones finished, so queueing shows up in the latencies.

use anyhow::Context;
use bench::open_loop::{self, Latencies, report};
use bridge::{App, BridgeConfig};
use clap::Parser;
use std::sync::Arc;
use std::time::Duration;
use store::{LeaseRequest, Store};

/// Latency of the Backend's hot routes at a fixed offered rate, against `GET /health`.
#[derive(Debug, Parser)]
struct Args {
    /// Calls in the database.
    #[arg(long, default_value_t = 100_000)]
    calls: usize,
    /// Requests per second the generator offers.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds of load per route.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Admin URL of a PostgreSQL server to use instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
}

const FLEET_SECRET: &str = "bench-fleet-secret-0123";

/// Creates `calls` calls the way the dialler does: a campaign of contacts, leased.
async fn seed(store: &dyn Store, calls: usize) -> anyhow::Result<Vec<i64>> {
    let campaign = bench::seeded_campaign(store, calls).await?;
    let mut ids = Vec::with_capacity(calls);
    loop {
        let leases = store
            .lease_contacts(LeaseRequest {
                campaign_id: campaign,
                owner: "bench".into(),
                limit: 1000,
                ttl: Duration::from_secs(3600),
                now: chrono::Utc::now(),
                fence: None,
            })
            .await?;
        if leases.is_empty() {
            return Ok(ids);
        }
        ids.extend(leases.iter().map(|lease| lease.call_id.0));
    }
}

/// Offers `rate` GETs per second for `seconds`, each to the URL `url_of(i)` gives.
async fn load(
    client: &reqwest::Client,
    rate: u32,
    seconds: u64,
    token: &str,
    url_of: impl Fn(usize) -> String,
) -> Latencies {
    open_loop::load(
        rate,
        seconds,
        |i| client.get(url_of(i)).bearer_auth(token),
        |_| true,
    )
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = match &args.postgres {
        Some(url) => bench::postgres_db(url, "vox_bench_load").await?,
        None => bench::sqlite_db().await?,
    };
    let backend = if args.postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    println!("seeding {} calls on {backend} …", args.calls);
    let call_ids = Arc::new(seed(&*db.store, args.calls).await?);
    let config = BridgeConfig::new(
        [127, 0, 0, 1].into(),
        0,
        "bench-jwt-secret-0123456789".to_owned().into(),
        FLEET_SECRET.to_owned().into(),
    );
    let app = App::build(config, db.store.clone()).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let password_hash = bridge::auth::hash_password("bench password 123".into())
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    db.store
        .create_user(store::NewUser {
            email: "bench@example.com".into(),
            name: "Bench".into(),
            password_hash,
            role: store::Role::Viewer,
        })
        .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "bench@example.com", "password": "bench password 123"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .context("a token")?
        .to_owned();

    println!(
        "open loop at {} req/s for {} s per route, {} calls",
        args.rate,
        args.seconds,
        call_ids.len()
    );
    let health = load(&client, args.rate, args.seconds, &token, |_| {
        format!("{base}/health")
    })
    .await;
    report("GET /health (baseline)", &health, None);
    let ids = call_ids.clone();
    let config = load(&client, args.rate, args.seconds, FLEET_SECRET, |i| {
        format!(
            "{base}/api/v1/config?call_id={}",
            ids[(i * 7919) % ids.len()]
        )
    })
    .await;
    report("GET /api/v1/config", &config, Some(&health));
    let list = load(&client, args.rate, args.seconds, &token, |_| {
        format!("{base}/api/v1/calls?limit=50")
    })
    .await;
    report("GET /api/v1/calls?limit=50", &list, Some(&health));
    let filtered = load(&client, args.rate, args.seconds, &token, |_| {
        format!("{base}/api/v1/calls?state=leased&limit=50")
    })
    .await;
    report("GET /api/v1/calls?state=…", &filtered, Some(&health));
    Ok(())
}
