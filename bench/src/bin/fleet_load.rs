//! Benchmark: concurrent real-time calls on one fleet worker process (`vox core`).
//!
//! Each call is a real-time 8 kHz μ-law Twilio media stream.
//!
//! This process plays every other party on loopback: the Backend's two fleet routes (runtime
//! config, call results), the speech providers (OpenAI-compatible transcription, chat completions
//! and speech endpoints that answer after a fixed latency, so the figure measures vox and not a
//! vendor), and a load generator of N Twilio callers that stream 20 ms frames in real time and
//! speak a sentence every few seconds. The worker is the real `vox` binary in a child process, so
//! its CPU and memory are read from `/proc`. For each level it reports the p99 jitter of the bot's
//! outbound frames (gap between frames minus the audio they carry), CPU per call, RSS per call,
//! and the pipeline's added latency per turn (voice-to-voice minus the three provider latencies),
//! with ratios against the one-call baseline of the same run.

use anyhow::Context;
use audio::{Resampler, SampleRate, g711, wav};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use clap::Parser;
use contracts::call_result::CallResult;
use contracts::runtime_config::{BotRef, BotSpec, CallDirection, CallInfo, RuntimeConfig};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex as StdMutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "bench-fleet-secret-0123456789";

/// Concurrent real-time calls on one fleet worker process: pacing, CPU, memory, latency.
#[derive(Debug, Parser)]
struct Args {
    /// Concurrent call levels to run, after the one-call baseline.
    #[arg(long, default_value = "25,50,100,200")]
    calls: String,
    /// Seconds each level runs.
    #[arg(long, default_value_t = 24)]
    seconds: u64,
    /// Latency of each fake provider, in milliseconds.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// The vox binary to run as the worker.
    #[arg(long, default_value = "target/release/vox")]
    vox: String,
}

#[derive(Default)]
struct Fakes {
    latency: Duration,
    base: String,
    results: StdMutex<Vec<CallResult>>,
}

type Shared = Arc<Fakes>;

fn spec(base: &str) -> BotSpec {
    let mut spec = bench::speech::openai_compatible_bot(base);
    spec.first_message = Some("Hello.".into());
    spec.limits.max_duration_secs = 600;
    spec.limits.silence_timeout_secs = 120;
    spec
}

async fn config(
    State(f): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<RuntimeConfig> {
    let id: i64 = q.get("call_id").and_then(|v| v.parse().ok()).unwrap_or(1);
    Json(RuntimeConfig {
        call_id: contracts::CallId(id),
        bot: BotRef {
            bot_id: contracts::BotId(1),
            version: 1,
            name: "bench".into(),
        },
        spec: spec(&f.base),
        call: CallInfo {
            direction: CallDirection::Outbound,
            campaign_id: None,
            from: None,
            to: None,
            attempt: 1,
            created_at: chrono::Utc::now(),
        },
        contact: None,
    })
}

async fn result(
    State(f): State<Shared>,
    Path(_id): Path<i64>,
    Json(body): Json<CallResult>,
) -> Json<Value> {
    f.results.lock().push(body);
    Json(json!({"ok": true}))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn proc_stat(pid: u32) -> anyhow::Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("VmRSS")?
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()?;
    Ok((ticks / 100.0, rss_kb / 1024.0))
}

/// One caller: streams 20 ms of μ-law every 20 ms, speaks every `every`, and records the gaps
/// between the bot's frames while the bot talks.
async fn caller(
    media_url: String,
    speech: Arc<Vec<i16>>,
    run_for: Duration,
    phase: usize,
    jitter: Arc<StdMutex<Vec<f64>>>,
) -> anyhow::Result<()> {
    let (socket, _) = tokio_tungstenite::connect_async(&media_url).await?;
    let (mut tx, mut rx) = socket.split();
    let sid = "MZbench";
    tx.send(Message::Text(
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            .to_string()
            .into(),
    ))
    .await?;
    tx.send(Message::Text(json!({"event": "start", "sequenceNumber": "1", "streamSid": sid, "start": {"streamSid": sid, "callSid": "CA1", "accountSid": "AC1", "tracks": ["inbound"], "customParameters": {}, "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}).to_string().into())).await?;
    let reader = tokio::spawn(async move {
        // Each bot utterance starts a schedule at its first frame; a frame is late by how much it
        // arrives after the moment the audio before it would have finished playing.
        let mut utterance: Option<(Instant, f64)> = None;
        let mut last_arrival: Option<Instant> = None;
        let mut gaps = Vec::new();
        while let Some(Ok(message)) = rx.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).unwrap_or_default();
            if value["event"] != "media" {
                continue;
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value["media"]["payload"].as_str().unwrap_or_default())
                .unwrap_or_default();
            let now = Instant::now();
            let carried_ms = bytes.len() as f64 / 8.0;
            let new_utterance =
                last_arrival.is_none_or(|t| now.duration_since(t) > Duration::from_millis(400));
            if new_utterance {
                utterance = Some((now, 0.0));
            }
            if let Some((start, played_ms)) = utterance.as_mut() {
                let due_ms = *played_ms;
                let at_ms = now.duration_since(*start).as_secs_f64() * 1000.0;
                gaps.push((at_ms - due_ms).max(0.0));
                *played_ms += carried_ms;
            }
            last_arrival = Some(now);
        }
        gaps
    });
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut position = 0usize;
    let cycle = 8 * 50; // a sentence every 8 s, the callers spread over the cycle like real traffic
    let mut frame_no = 0usize;
    let offset = phase % cycle;
    while start.elapsed() < run_for {
        tick.tick().await;
        let in_cycle = (frame_no + offset) % cycle;
        let samples: Vec<i16> = if in_cycle >= 100 && position < speech.len() {
            let end = (position + 160).min(speech.len());
            let mut s = speech[position..end].to_vec();
            s.resize(160, 0);
            position = end;
            s
        } else {
            if in_cycle < 100 {
                position = 0;
            }
            vec![0; 160]
        };
        frame_no += 1;
        let payload = base64::engine::general_purpose::STANDARD.encode(g711::encode_ulaw(&samples));
        let message = json!({"event": "media", "streamSid": sid, "sequenceNumber": frame_no.to_string(), "media": {"track": "inbound", "chunk": frame_no.to_string(), "timestamp": (frame_no * 20).to_string(), "payload": payload}});
        if tx
            .send(Message::Text(message.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = tx.send(Message::Text(json!({"event": "stop", "streamSid": sid, "sequenceNumber": "0", "stop": {"callSid": "CA1", "accountSid": "AC1"}}).to_string().into())).await;
    let _ = tx.close().await;
    let gaps = reader.await?;
    jitter.lock().extend(gaps);
    Ok(())
}

struct Level {
    calls: usize,
    jitter_p99: f64,
    cpu_per_call: f64,
    rss_per_call: f64,
    added_p50: f64,
    added_p99: f64,
    turns: usize,
}

#[allow(clippy::too_many_arguments)]
async fn run_level(
    calls: usize,
    next_id: &mut i64,
    worker_url: &str,
    pid: u32,
    seconds: u64,
    speech: Arc<Vec<i16>>,
    fakes: &Shared,
    idle_rss: f64,
) -> anyhow::Result<Level> {
    let client = reqwest::Client::new();
    let jitter = Arc::new(StdMutex::new(Vec::new()));
    fakes.results.lock().clear();
    let mut tasks = Vec::new();
    for i in 0..calls {
        *next_id += 1;
        let body = json!({"call_id": *next_id, "direction": "outbound", "carrier": "twilio", "carrier_call_id": format!("CA{next_id}"),
            "media_protocol": "twilio", "answered_at": chrono::Utc::now(), "amd": "human"});
        let reply: Value = client
            .post(format!("{worker_url}/attach"))
            .bearer_auth(SECRET)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let url = reply["media_url"]
            .as_str()
            .context("attach refused")?
            .to_owned();
        let phase = i * 400 / calls.max(1);
        tasks.push(tokio::spawn(caller(
            url,
            speech.clone(),
            Duration::from_secs(seconds),
            phase,
            jitter.clone(),
        )));
    }
    // Steady state: skip the first quarter, measure CPU over the middle half.
    tokio::time::sleep(Duration::from_secs(seconds / 4)).await;
    let (cpu0, _) = proc_stat(pid)?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds / 2)).await;
    let (cpu1, rss) = proc_stat(pid)?;
    let cpu_share = (cpu1 - cpu0) / t0.elapsed().as_secs_f64();
    for task in tasks {
        task.await??;
    }
    // Wait for the results (post-call runs after the streams stop).
    let deadline = Instant::now() + Duration::from_secs(30);
    while fakes.results.lock().len() < calls && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let providers_ms = 3.0 * fakes.latency.as_secs_f64() * 1000.0;
    let mut added: Vec<f64> = fakes
        .results
        .lock()
        .iter()
        .flat_map(|r| r.timings.turns.iter().filter_map(|t| t.first_audio_sent_ms))
        .map(|ms| (f64::from(ms) - providers_ms).max(0.0))
        .collect();
    added.sort_by(f64::total_cmp);
    {
        let results = fakes.results.lock();
        let stage = |f: fn(&contracts::call_result::TurnTiming) -> Option<u32>| {
            let mut v: Vec<f64> = results
                .iter()
                .flat_map(|r| r.timings.turns.iter().filter_map(f))
                .map(f64::from)
                .collect();
            v.sort_by(f64::total_cmp);
            percentile(&v, 0.5)
        };
        println!(
            "  {calls} calls, per-turn p50 from the end of speech: STT final {:.0} ms, LLM first token {:.0} ms, TTS first audio {:.0} ms, first audio sent {:.0} ms",
            stage(|t| t.stt_final_ms),
            stage(|t| t.llm_first_token_ms),
            stage(|t| t.tts_first_audio_ms),
            stage(|t| t.first_audio_sent_ms)
        );
    }
    let mut gaps = jitter.lock().clone();
    gaps.sort_by(f64::total_cmp);
    Ok(Level {
        calls,
        jitter_p99: percentile(&gaps, 0.99),
        cpu_per_call: cpu_share * 100.0 / calls as f64,
        rss_per_call: (rss - idle_rss).max(0.0) / calls as f64,
        added_p50: percentile(&added, 0.5),
        added_p99: percentile(&added, 0.99),
        turns: added.len(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let levels: Vec<usize> = args
        .calls
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let fakes: Shared = Arc::new(Fakes {
        latency: Duration::from_millis(args.latency_ms),
        base: base.clone(),
        results: StdMutex::default(),
    });
    let app = Router::new()
        .route("/api/v1/config", get(config))
        .route("/api/v1/calls/{id}/result", post(result))
        .with_state(fakes.clone())
        .merge(bench::fake_providers::router(fakes.latency, 1.5));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = tokio::process::Command::new(&args.vox)
        .arg("core")
        .env("VOXCORE_SECRET", SECRET)
        .env("VOXBRIDGE_URL", &base)
        .env("VOXCORE_LISTEN", format!("127.0.0.1:{port}"))
        .env("MAX_CONCURRENT_CALLS", "2000")
        .env("OPENAI_API_KEY", "bench")
        // The fake providers are where the platform sends OpenAI, so the key may go there.
        .env("PROVIDER_BASE_URLS", format!("openai={base}/v1"))
        .env("VOXCORE_OUTBOX", dir.path().join("outbox"))
        .env(
            "OBJECT_STORE_URL",
            format!("file://{}", dir.path().join("recordings").display()),
        )
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("unused.db").display()),
        )
        .env("RUST_LOG", "error")
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "start {} (build it with cargo build --release -p vox)",
                args.vox
            )
        })?;
    let pid = child.id().context("worker pid")?;
    let worker_url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if http
            .get(format!("{worker_url}/health"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::ensure!(up, "the worker did not start");
    let (_, idle_rss) = proc_stat(pid)?;

    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/audio/tests/data/speech_16k.wav"
    ))?;
    let mut down = Resampler::new(SampleRate::Hz16000, SampleRate::Hz8000)?;
    let mut speech = down.process(&wav::decode(&bytes)?.samples);
    speech.extend(down.flush());
    let speech = Arc::new(speech);

    println!(
        "fleet_load: one vox core process, Twilio μ-law 8 kHz streams, providers answering after {} ms each, {} s per level; idle RSS {idle_rss:.1} MB",
        args.latency_ms, args.seconds
    );
    let mut next_id = 0;
    let baseline = run_level(
        1,
        &mut next_id,
        &worker_url,
        pid,
        args.seconds,
        speech.clone(),
        &fakes,
        idle_rss,
    )
    .await?;
    let mut rows = vec![baseline];
    for calls in levels {
        rows.push(
            run_level(
                calls,
                &mut next_id,
                &worker_url,
                pid,
                args.seconds,
                speech.clone(),
                &fakes,
                idle_rss,
            )
            .await?,
        );
    }
    let base = &rows[0];
    let ratio = |value: f64, base: f64| {
        if base > 0.0 {
            format!("×{:.2}", value / base)
        } else {
            format!("+{value:.2} ms")
        }
    };
    println!(
        "| calls | outbound lateness p99 | CPU per call | RSS per call | added latency per turn p50 / p99 (turns) | lateness vs 1-call | CPU per call / 1-call |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {:.2} ms | {:.2} % of a core | {:.2} MB | {:.1} / {:.1} ms ({}) | {} | ×{:.2} |",
            row.calls,
            row.jitter_p99,
            row.cpu_per_call,
            row.rss_per_call,
            row.added_p50,
            row.added_p99,
            row.turns,
            ratio(row.jitter_p99, base.jitter_p99),
            row.cpu_per_call / base.cpu_per_call,
        );
    }
    child.kill().await?;
    Ok(())
}
