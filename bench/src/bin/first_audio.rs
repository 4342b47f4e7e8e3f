//! Answered → first bot audio at the caller: through each carrier emulator and the edge, vs direct.
//!
//! The Backend (SQLite) and a real fleet worker run in this process on loopback, with a bot whose
//! speech providers are the bench's OpenAI-compatible fakes (answering at once, so what is
//! measured is the platform's path) answering an inbound number with its greeting. Simulated
//! callers ring it two ways, `--calls` each, `--concurrency` at a time, in one run:
//! - **simulator path** (the baseline): the way the PSTN simulator and `vox sim` reach a bot —
//!   the runtime-config request opens the call record, the fleet client reserves a worker, the
//!   caller connects over the `vox` media protocol (16 kHz PCM);
//! - **Twilio path**: the Twilio emulator posts the number's signed voice webhook to the
//!   Backend's telephony edge, which routes the call, reserves the worker and answers
//!   `<Connect><Stream>`; the caller connects over Twilio's Media Streams (8 kHz μ-law in JSON);
//! - **Telnyx path**: the Telnyx emulator posts the signed `call.initiated`; the edge routes the
//!   call and answers it with `actions/answer`; on `call.answered` it reserves the worker and sends
//!   `actions/streaming_start`; the caller connects over Telnyx's media stream (8 kHz PCMU);
//! - **Plivo path**: the Plivo emulator posts the application's signed answer URL; the edge
//!   routes the call, reserves the worker and answers `<Stream>`; the caller connects over
//!   Plivo's audio stream (8 kHz μ-law in JSON);
//! - **Vonage path**: the Vonage emulator posts the signed answer webhook; the edge answers a
//!   `connect` NCCO; the caller connects over Vonage's WebSocket (16 kHz PCM, binary);
//! - **Exotel path**: the Exotel emulator's flow asks the Voicebot applet's keyed URL where to
//!   stream; the edge answers the worker's URL; the caller connects over Exotel's Voicebot stream
//!   (8 kHz PCM in JSON).
//!
//! Each call's clock starts at its answer (the config request, the voice webhook, or Telnyx's
//! answer) and stops
//! when the bot's first audio reaches the caller. Callers hang up a few seconds in.

use anyhow::Context;
use bridge::{App, BridgeConfig};
use clap::Parser;
use contracts::E164Number;
use contracts::telephony::CarrierKind;
use sim::load::Route;
use sim::{LoadConfig, LoadReport, Population};
use std::sync::Arc;
use std::time::Duration;

/// Answer-to-first-audio latency through the carrier emulators, against the simulator's path.
#[derive(Debug, Parser)]
struct Args {
    /// Calls per path.
    #[arg(long, default_value_t = 40)]
    calls: usize,
    /// Calls at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

const FLEET_SECRET: &str = "bench-fleet-secret-0123";
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "bench-twilio-auth-token";
const CONNECTION: &str = "1494404757140276705";
const API_KEY: &str = "KEY0BENCH0123456789";
const NUMBER: &str = "+14155550150";
const PLIVO_AUTH_ID: &str = "MABENCHPLIVO00000000";
const VONAGE_APPLICATION: &str = "00000000-0000-4000-8000-0000000bec40";
const EXOTEL_SECRET: &str = "bench-exotel-key:bench-exotel-token";

fn callers() -> Population {
    Population {
        script: vec!["Yes, I would like to book an appointment.".to_owned()],
        hang_up_after_secs: 3.0,
        ..Population::default()
    }
}

/// The report's p50 and p99 in milliseconds, with how many calls heard the bot.
fn line(name: &str, report: &LoadReport, baseline: Option<&LoadReport>) {
    let ms = |r: &LoadReport, q: f64| LoadReport::quantile(&r.first_audio_secs, q).map(|s| s * 1e3);
    let (p50, p99) = (ms(report, 0.5), ms(report, 0.99));
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} ms"));
    let ratio = |mine: Option<f64>, theirs: Option<f64>| match (mine, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!(" ({:.2}x)", a / b),
        _ => String::new(),
    };
    let (r50, r99) = match baseline {
        Some(base) => (ratio(p50, ms(base, 0.5)), ratio(p99, ms(base, 0.99))),
        None => (String::new(), String::new()),
    };
    println!(
        "{name:<44} heard {:>3}/{:<3} failed {:>2}  p50 {}{r50}  p99 {}{r99}",
        report.first_audio_secs.len(),
        report.calls,
        report.failed,
        show(p50),
        show(p99),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    anyhow::ensure!(
        args.calls > 0 && args.concurrency > 0,
        "--calls and --concurrency must be at least 1"
    );
    let db = bench::sqlite_db().await?;
    let dir = tempfile::tempdir()?;
    let mut config = BridgeConfig::new(
        [127, 0, 0, 1].into(),
        0,
        "bench-jwt-secret-0123456789".to_owned().into(),
        FLEET_SECRET.to_owned().into(),
    );
    config.crm_interval = None;
    config.recordings_dir = Some(dir.path().join("recordings"));
    let app = App::build(config, db.store.clone()).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    // The fake providers on loopback: where this platform sends OpenAI.
    let providers = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let providers_url = format!("http://{}", providers.local_addr()?);
    let fakes: axum::Router = bench::fake_providers::router(Duration::ZERO, 1.5);
    tokio::spawn(async move { axum::serve(providers, fakes).await });
    let mut worker = fleet::WorkerConfig::new(
        "bench-worker",
        fleet::Listen::Tcp("127.0.0.1:0".parse()?),
        FLEET_SECRET.to_owned().into(),
        &base,
        dir.path().join("outbox"),
        fleet::RecordingStore::local(dir.path().join("recordings")),
    );
    worker.max_calls = u32::try_from(args.concurrency * 2)?;
    // The fake providers listen on loopback, a private network a worker reaches only when allowed.
    worker.outbound.allowed = egress::Allowed::parse("127.0.0.0/8, ::1")?;
    // The fakes take any key; the vendors' clients want one, and it goes only where the
    // platform sends the vendor.
    for vendor in ["openai", "vllm"] {
        worker
            .providers
            .keys
            .insert(vendor.to_owned(), "bench".to_owned());
    }
    worker
        .providers
        .base_urls
        .insert("openai".to_owned(), format!("{providers_url}/v1"));
    let worker = fleet::Worker::bind(worker)
        .await
        .context("start the fleet worker")?;
    let worker_url = worker.http_address().context("a TCP worker")?;
    tokio::spawn(worker.serve(std::future::pending()));
    db.store
        .put_setting("fleet.urls", serde_json::json!([worker_url]), None)
        .await?;
    // The bot that greets through the fake providers, routed to NUMBER.
    let mut spec = bench::speech::openai_compatible_bot(&providers_url);
    spec.first_message = Some("Hello, this is the clinic. How can I help?".into());
    let (bot, _) = db
        .store
        .create_bot(store::NewBot {
            name: "clinic".into(),
            spec,
            created_by: None,
        })
        .await?;
    let key = format!("inbound.number.{}", NUMBER.trim_start_matches('+'));
    db.store
        .put_setting(&key, serde_json::json!(bot.id.0), None)
        .await?;
    let emulator = sim::TwilioEmulator::start(
        sim::EmulatorConfig {
            account_sid: SID.into(),
            auth_token: TOKEN.into(),
            population: callers(),
            seed: 5,
        },
        0,
    )
    .await?;
    let account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Twilio,
            name: "bench".into(),
            account_sid: SID.into(),
            secret: Some(TOKEN.into()),
            api_url: Some(emulator.api_url().to_owned()),
            numbers: vec![E164Number::parse(NUMBER)?],
            webhook_key: None,
            trunk: None,
        })
        .await?;
    let telnyx = sim::TelnyxEmulator::start(
        sim::TelnyxConfig {
            connection_id: CONNECTION.into(),
            api_key: API_KEY.into(),
            webhook_url: String::new(),
            population: callers(),
            seed: 5,
            channel_limit: usize::MAX,
        },
        0,
    )
    .await?;
    let telnyx_account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Telnyx,
            name: "bench telnyx".into(),
            account_sid: CONNECTION.into(),
            secret: Some(API_KEY.into()),
            api_url: Some(telnyx.api_url().to_owned()),
            numbers: vec![E164Number::parse(NUMBER)?],
            webhook_key: Some(telnyx.public_key()),
            trunk: None,
        })
        .await?;
    telnyx.set_webhook_url(&format!(
        "{base}/api/v1/telephony/telnyx/{}/call",
        telnyx_account.id
    ));
    let plivo = sim::PlivoEmulator::start(
        sim::PlivoConfig {
            auth_id: PLIVO_AUTH_ID.into(),
            auth_token: TOKEN.into(),
            population: callers(),
            seed: 5,
        },
        0,
    )
    .await?;
    let plivo_account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Plivo,
            name: "bench plivo".into(),
            account_sid: PLIVO_AUTH_ID.into(),
            secret: Some(TOKEN.into()),
            api_url: Some(plivo.api_url().to_owned()),
            numbers: vec![E164Number::parse(NUMBER)?],
            webhook_key: None,
            trunk: None,
        })
        .await?;
    let vonage = sim::VonageEmulator::start(
        sim::VonageConfig {
            application_id: VONAGE_APPLICATION.into(),
            private_key: sim::vonage::DEMO_PRIVATE_KEY.into(),
            signature_secret: TOKEN.into(),
            population: callers(),
            seed: 5,
        },
        0,
    )
    .await?;
    let vonage_account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Vonage,
            name: "bench vonage".into(),
            account_sid: VONAGE_APPLICATION.into(),
            secret: Some(sim::vonage::DEMO_PRIVATE_KEY.into()),
            api_url: Some(vonage.api_url().to_owned()),
            numbers: vec![E164Number::parse(NUMBER)?],
            webhook_key: Some(TOKEN.into()),
            trunk: None,
        })
        .await?;
    let load = LoadConfig {
        bridge_url: base.clone(),
        secret: FLEET_SECRET.to_owned(),
        number: E164Number::parse(NUMBER)?,
        calls: args.calls,
        concurrency: args.concurrency,
        population: callers(),
    };
    println!(
        "{} calls per path, {} at a time; one fleet worker; the bot greets through fake providers",
        args.calls, args.concurrency
    );
    let fleet = Arc::new(fleet_client::FleetClient::new(
        vec![worker_url],
        FLEET_SECRET.to_owned(),
        Duration::from_secs(5),
    ));
    let direct = sim::load::run(load.clone(), fleet, |_| {}).await?;
    line(
        "simulator path: config, attach, vox (baseline)",
        &direct,
        None,
    );
    let hooks = format!("{base}/api/v1/telephony/twilio/{}", account.id);
    let route = Route::Twilio {
        emulator: Arc::new(emulator),
        voice_url: format!("{hooks}/voice"),
        status_callback: format!("{hooks}/status"),
    };
    let twilio = sim::load::run(load.clone(), route, |_| {}).await?;
    line(
        "Twilio path: webhook, edge, Media Streams",
        &twilio,
        Some(&direct),
    );
    let telnyx = sim::load::run(load.clone(), Route::Telnyx(Arc::new(telnyx)), |_| {}).await?;
    line(
        "Telnyx path: answer, streaming_start, media",
        &telnyx,
        Some(&direct),
    );
    let hooks = format!("{base}/api/v1/telephony/plivo/{}", plivo_account.id);
    let route = Route::Plivo {
        emulator: Arc::new(plivo),
        answer_url: format!("{hooks}/answer"),
        hangup_url: format!("{hooks}/hangup"),
    };
    let plivo = sim::load::run(load.clone(), route, |_| {}).await?;
    line(
        "Plivo path: answer URL, edge, audio stream",
        &plivo,
        Some(&direct),
    );
    let hooks = format!("{base}/api/v1/telephony/vonage/{}", vonage_account.id);
    let route = Route::Vonage {
        emulator: Arc::new(vonage),
        answer_url: format!("{hooks}/answer"),
        event_url: format!("{hooks}/event"),
    };
    let vonage = sim::load::run(load.clone(), route, |_| {}).await?;
    line(
        "Vonage path: answer webhook, NCCO, WebSocket",
        &vonage,
        Some(&direct),
    );
    let exotel = sim::ExotelEmulator::start(
        sim::ExotelConfig {
            sid: "voxbench".into(),
            api_key: "bench-exotel-key".into(),
            api_token: "bench-exotel-token".into(),
            population: callers(),
            seed: 5,
        },
        0,
    )
    .await?;
    let exotel_account = db
        .store
        .create_carrier_account(store::NewCarrierAccount {
            carrier: CarrierKind::Exotel,
            name: "bench exotel".into(),
            account_sid: "voxbench/424242".into(),
            secret: Some(EXOTEL_SECRET.into()),
            api_url: Some(exotel.api_url().to_owned()),
            numbers: vec![E164Number::parse(NUMBER)?],
            webhook_key: None,
            trunk: None,
        })
        .await?;
    let flow = sim::ExotelFlow::at_edge(&base, exotel_account.id, EXOTEL_SECRET, "424242");
    let route = Route::Exotel {
        emulator: Arc::new(exotel),
        flow,
    };
    let exotel = sim::load::run(load, route, |_| {}).await?;
    line(
        "Exotel path: Voicebot URL, edge, Voicebot stream",
        &exotel,
        Some(&direct),
    );
    for error in direct
        .errors
        .iter()
        .chain(&twilio.errors)
        .chain(&telnyx.errors)
        .chain(&plivo.errors)
        .chain(&vonage.errors)
        .chain(&exotel.errors)
    {
        println!("error: {error}");
    }
    // Every result reaches the Backend before the worker's folders go.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let calls = db
            .store
            .list_calls(
                Default::default(),
                store::Page::first(store::Page::MAX_LIMIT),
            )
            .await?
            .items;
        if calls.iter().all(|c| c.state.is_terminal()) || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
