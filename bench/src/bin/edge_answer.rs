//! Telephony edge benchmark: Twilio's answer webhook in, TwiML out, worker reservation included.
//!
//! The Backend (SQLite) and a real fleet worker run in this process on loopback. Signed Twilio voice
//! webhooks for dialling calls are offered at a fixed rate (an open loop: each starts on schedule
//! whether or not earlier ones finished, so queueing shows in the latencies). Each is verified,
//! kept with the call's answer, attached to the worker (which fetches the call's runtime config
//! from the Backend) and answered `<Connect><Stream>`. `GET /health`, offered the same way in the
//! same run, is the baseline.

use anyhow::Context;
use bench::open_loop::{load, report};
use bridge::{App, BridgeConfig};
use clap::Parser;
use contracts::telephony::CarrierKind;
use contracts::{CallId, CallState};
use std::time::Duration;
use store::{LeaseRequest, Store, Transition};

/// Answer latency of the telephony edge at a fixed rate of Twilio answers, against `GET /health`.
#[derive(Debug, Parser)]
struct Args {
    /// Answers per second offered.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds of load for each of the two routes.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

const FLEET_SECRET: &str = "bench-fleet-secret-0123";
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "bench-twilio-auth-token";

/// `n` calls the way the dialler leaves them for the edge: leased, then dialling.
async fn dialling(store: &dyn Store, n: usize) -> anyhow::Result<Vec<CallId>> {
    let campaign = bench::seeded_campaign(store, n).await?;
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
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
            break;
        }
        for lease in leases {
            let now = chrono::Utc::now();
            store
                .transition(Transition::new(
                    lease.call_id,
                    CallState::Leased,
                    CallState::Dialing,
                    now,
                ))
                .await?;
            ids.push(lease.call_id);
        }
    }
    Ok(ids)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let answers = args.rate as usize * args.seconds as usize;
    let db = bench::sqlite_db().await?;
    let dir = tempfile::tempdir()?;
    println!("seeding {answers} dialling calls on sqlite …");
    let calls = dialling(&*db.store, answers).await?;
    anyhow::ensure!(
        calls.len() == answers,
        "seeded {} calls of {answers}",
        calls.len()
    );
    let mut config = BridgeConfig::new(
        [127, 0, 0, 1].into(),
        0,
        "bench-jwt-secret-0123456789".to_owned().into(),
        FLEET_SECRET.to_owned().into(),
    );
    config.crm_interval = None;
    let app = App::build(config, db.store.clone()).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let mut worker = fleet::WorkerConfig::new(
        "bench-worker",
        fleet::Listen::Tcp("127.0.0.1:0".parse()?),
        FLEET_SECRET.to_owned().into(),
        &base,
        dir.path().join("outbox"),
        fleet::RecordingStore::local(dir.path().join("recordings")),
    );
    // Every answer reserves a slot that is never connected: room for all of them.
    worker.max_calls = u32::try_from(answers + 10)?;
    let worker = fleet::Worker::bind(worker)
        .await
        .context("start the fleet worker")?;
    let worker_url = worker.http_address().context("a TCP worker")?;
    tokio::spawn(worker.serve(std::future::pending()));
    db.store
        .put_setting("fleet.urls", serde_json::json!([worker_url]), None)
        .await?;
    let account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Twilio,
            name: "bench".into(),
            account_sid: SID.into(),
            secret: Some(TOKEN.into()),
            api_url: None,
            numbers: Vec::new(),
            webhook_key: None,
        })
        .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    println!(
        "open loop at {} req/s for {} s per route; one fleet worker",
        args.rate, args.seconds
    );
    let health = load(
        args.rate,
        args.seconds,
        |_| client.get(format!("{base}/health")),
        |_| true,
    )
    .await;
    report("GET /health (baseline)", &health, None);
    let answer = load(
        args.rate,
        args.seconds,
        |i| {
            let call = calls[i];
            let url = format!(
                "{base}/api/v1/telephony/twilio/{}/voice?call={call}",
                account.id
            );
            let params: Vec<(String, String)> = [
                ("CallSid", format!("CA{:032x}", i)),
                ("AccountSid", SID.to_owned()),
                ("CallStatus", "in-progress".to_owned()),
                ("Direction", "outbound-api".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let signature = telephony::twilio::signature::sign(TOKEN, &url, &params);
            client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header(telephony::twilio::SIGNATURE_HEADER, signature)
                .body(serde_urlencoded::to_string(&params).unwrap_or_default())
        },
        |body| body.contains("<Connect><Stream"),
    )
    .await;
    report("Twilio answer → <Connect><Stream>", &answer, Some(&health));
    Ok(())
}
