//! Telephony edge benchmark: each carrier's answer webhook in, the stream ordered, worker included.
//!
//! The Backend (SQLite) and a real fleet worker run in this process on loopback. Signed answer
//! webhooks for dialling calls are offered at a fixed rate (an open loop: each starts on schedule
//! whether or not earlier ones finished, so queueing shows in the latencies). Each is verified,
//! kept with the call's answer and attached to the worker (which fetches the call's runtime
//! config from the Backend); then Twilio's is answered `<Connect><Stream>`, Plivo's `<Stream>`,
//! Vonage's a `connect` NCCO, Exotel's Voicebot request the stream's URL in JSON, and Telnyx's
//! `call.answered` is acknowledged once `actions/streaming_start` has gone to Telnyx's REST API
//! (here a loopback stand-in that accepts each command at once, so Telnyx's own latency is not in
//! the figure). `GET /health`, offered the same way in the same run, is the baseline.

use anyhow::Context;
use bench::open_loop::{load, report};
use bridge::{App, BridgeConfig};
use clap::Parser;
use contracts::telephony::CarrierKind;
use contracts::{CallId, CallState};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use store::{LeaseRequest, Store, Transition};

/// Answer latency of the telephony edge at a fixed rate of answers per carrier, against `GET /health`.
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
const CONNECTION: &str = "1494404757140276705";
const PLIVO_AUTH_ID: &str = "MABENCHPLIVO00000000";
const VONAGE_APPLICATION: &str = "00000000-0000-4000-8000-0000000bec40";
const EXOTEL_SECRET: &str = "bench-exotel-key:bench-exotel-token";

/// Telnyx's Call Control commands, accepted at once and counted: a stand-in for Telnyx's API.
async fn call_control() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let streams = Arc::new(AtomicUsize::new(0));
    let seen = streams.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = axum::Router::new().route(
        "/v2/calls/{id}/actions/{action}",
        axum::routing::post(
            move |axum::extract::Path((_, action)): axum::extract::Path<(String, String)>| {
                let seen = seen.clone();
                async move {
                    if action == "streaming_start" {
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                    axum::Json(serde_json::json!({"data": {"result": "ok"}}))
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((url, streams))
}

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

/// Waits until the worker has reported every reservation of `calls` lapsed (10 s after each was
/// made, none is ever connected), so one route's aftermath does not load the next route's run.
async fn settled(store: &dyn Store, calls: &[CallId]) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for call in calls {
        while !store.call(*call).await?.state.is_terminal() {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "call {call} was never reported"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let answers = args.rate as usize * args.seconds as usize;
    let db = bench::sqlite_db().await?;
    let dir = tempfile::tempdir()?;
    println!("seeding {} dialling calls on sqlite …", 5 * answers);
    let calls = dialling(&*db.store, 5 * answers).await?;
    anyhow::ensure!(
        calls.len() == 5 * answers,
        "seeded {} calls of {}",
        calls.len(),
        5 * answers
    );
    let (twilio_calls, rest) = calls.split_at(answers);
    let (telnyx_calls, rest) = rest.split_at(answers);
    let (plivo_calls, rest) = rest.split_at(answers);
    let (vonage_calls, exotel_calls) = rest.split_at(answers);
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
    worker.max_calls = u32::try_from(5 * answers + 10)?;
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
            trunk: None,
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
            let call = twilio_calls[i];
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
    println!("waiting for the worker to report the Twilio reservations lapsed …");
    settled(&*db.store, twilio_calls).await?;
    let (api, streams) = call_control().await?;
    let key = telephony::telnyx::signature::SigningKey::from_bytes(&[5; 32]);
    let telnyx_account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Telnyx,
            name: "bench telnyx".into(),
            account_sid: CONNECTION.into(),
            secret: Some("KEY0BENCH".into()),
            api_url: Some(api),
            numbers: Vec::new(),
            webhook_key: Some(telephony::telnyx::signature::public_key_base64(&key)),
            trunk: None,
        })
        .await?;
    let hook = format!("{base}/api/v1/telephony/telnyx/{}/call", telnyx_account.id);
    for (i, call) in telnyx_calls.iter().enumerate() {
        db.store
            .note_call_leg(*call, CarrierKind::Telnyx, &format!("v3:{i:032x}"), None)
            .await?;
    }
    let telnyx = load(
        args.rate,
        args.seconds,
        |i| {
            let call = telnyx_calls[i];
            let state = telephony::telnyx::state::ClientState::Call(call).encode();
            let body = serde_json::json!({"data": {"record_type": "event",
                "event_type": "call.answered", "id": format!("answered-{i}"),
                "occurred_at": chrono::Utc::now().to_rfc3339(),
                "payload": {"call_control_id": format!("v3:{i:032x}"), "client_state": state,
                    "connection_id": CONNECTION, "state": "answered"}}})
            .to_string();
            let at = chrono::Utc::now().timestamp();
            let signature = telephony::telnyx::signature::sign(&key, at, body.as_bytes());
            client
                .post(&hook)
                .header("content-type", "application/json")
                .header(telephony::telnyx::signature::SIGNATURE_HEADER, signature)
                .header(
                    telephony::telnyx::signature::TIMESTAMP_HEADER,
                    at.to_string(),
                )
                .body(body)
        },
        |_| true,
    )
    .await;
    report(
        "Telnyx call.answered → streaming_start",
        &telnyx,
        Some(&health),
    );
    println!(
        "streams ordered from Telnyx's API: {} of {answers}",
        streams.load(Ordering::SeqCst)
    );
    println!("waiting for the worker to report the Telnyx reservations lapsed …");
    settled(&*db.store, telnyx_calls).await?;
    let plivo_account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Plivo,
            name: "bench plivo".into(),
            account_sid: PLIVO_AUTH_ID.into(),
            secret: Some(TOKEN.into()),
            api_url: None,
            numbers: Vec::new(),
            webhook_key: None,
            trunk: None,
        })
        .await?;
    let plivo = load(
        args.rate,
        args.seconds,
        |i| {
            let call = plivo_calls[i];
            let url = format!(
                "{base}/api/v1/telephony/plivo/{}/answer?call={call}",
                plivo_account.id
            );
            let params: Vec<(String, String)> = [
                ("CallUUID", format!("{i:08x}-0000-4000-a000-000000000000")),
                (
                    "RequestUUID",
                    format!("{i:08x}-0000-4000-b000-000000000000"),
                ),
                ("CallStatus", "in-progress".to_owned()),
                ("Direction", "outbound".to_owned()),
                ("Event", "StartApp".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let nonce = format!("{i:020}");
            let signature = telephony::plivo::signature::sign(TOKEN, &url, &params, &nonce);
            client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header(telephony::plivo::signature::SIGNATURE_HEADER, signature)
                .header(telephony::plivo::signature::NONCE_HEADER, nonce)
                .body(serde_urlencoded::to_string(&params).unwrap_or_default())
        },
        |body| body.contains("<Stream bidirectional"),
    )
    .await;
    report("Plivo answer → <Stream>", &plivo, Some(&health));
    println!("waiting for the worker to report the Plivo reservations lapsed …");
    settled(&*db.store, plivo_calls).await?;
    let vonage_account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Vonage,
            name: "bench vonage".into(),
            account_sid: VONAGE_APPLICATION.into(),
            secret: Some(sim::vonage::DEMO_PRIVATE_KEY.into()),
            api_url: None,
            numbers: Vec::new(),
            webhook_key: Some(TOKEN.into()),
            trunk: None,
        })
        .await?;
    let vonage = load(
        args.rate,
        args.seconds,
        |i| {
            let call = vonage_calls[i];
            let url = format!(
                "{base}/api/v1/telephony/vonage/{}/answer?call={call}",
                vonage_account.id
            );
            let body = serde_json::json!({"uuid": format!("{i:08x}-0000-4000-8000-000000000000"),
                "conversation_uuid": format!("CON-{i}"), "from": "14155550100",
                "to": "442071838750"})
            .to_string();
            let now = chrono::Utc::now().timestamp();
            let token = telephony::vonage::signature::sign(
                TOKEN,
                "bench",
                VONAGE_APPLICATION,
                body.as_bytes(),
                now,
            );
            client
                .post(url)
                .header("content-type", "application/json")
                .header("authorization", token)
                .body(body)
        },
        |body| body.contains("\"websocket\""),
    )
    .await;
    report("Vonage answer → connect NCCO", &vonage, Some(&health));
    println!("waiting for the worker to report the Vonage reservations lapsed …");
    settled(&*db.store, vonage_calls).await?;
    let exotel_account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Exotel,
            name: "bench exotel".into(),
            account_sid: "voxbench/424242".into(),
            secret: Some(EXOTEL_SECRET.into()),
            api_url: None,
            numbers: Vec::new(),
            webhook_key: None,
            trunk: None,
        })
        .await?;
    let voicebot = telephony::exotel::Webhooks::new(
        &base,
        exotel_account.id,
        &telephony::exotel::edge_key(EXOTEL_SECRET, exotel_account.id),
    )
    .voicebot();
    let exotel = load(
        args.rate,
        args.seconds,
        |i| {
            let params = [
                ("CallSid", format!("{i:032x}")),
                ("CallFrom", "09876543210".to_owned()),
                ("CallTo", "08047491899".to_owned()),
                ("Direction", "outbound-api".to_owned()),
                (
                    "CustomField",
                    telephony::exotel::custom_field(exotel_calls[i]),
                ),
            ];
            let query = serde_urlencoded::to_string(params).unwrap_or_default();
            client.get(format!("{voicebot}?{query}"))
        },
        |body| body.contains("\"url\""),
    )
    .await;
    report(
        "Exotel Voicebot request → stream URL",
        &exotel,
        Some(&health),
    );
    Ok(())
}
