//! What the load benchmarks of a real worker share (`fleet_load`, `sip_load`).
//!
//! The Backend's two fleet routes and fake speech providers on loopback, the `vox core` child
//! process whose CPU and memory are read from `/proc`, the caller's speaking cycle, and a Twilio
//! Media Streams caller that measures how late the bot's frames arrive.

use anyhow::Context;
use audio::{Resampler, SampleRate, g711, wav};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use contracts::call_result::CallResult;
use contracts::runtime_config::{BotRef, BotSpec, CallDirection, CallInfo, RuntimeConfig};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The fleet secret the benchmarks' worker and gateway are started with.
pub const SECRET: &str = "bench-fleet-secret-0123456789";

/// The parties the bench process plays for the worker.
#[derive(Debug, Default)]
pub struct Fakes {
    pub latency: Duration,
    pub base: String,
    pub results: Mutex<Vec<CallResult>>,
    /// The bot's turn-taking (`turn: smart` needs a worker started with the models).
    pub turn: contracts::runtime_config::TurnSettings,
}

pub type Shared = Arc<Fakes>;

fn spec(base: &str, turn: contracts::runtime_config::TurnSettings) -> BotSpec {
    let mut spec = crate::speech::openai_compatible_bot(base);
    spec.turn = turn;
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
        spec: spec(&f.base, f.turn),
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

/// The Backend's config and result routes and the fake providers (answering after `latency`).
pub fn backend(fakes: &Shared) -> Router {
    Router::new()
        .route("/api/v1/config", get(config))
        .route("/api/v1/calls/{id}/result", post(result))
        .with_state(fakes.clone())
        .merge(crate::fake_providers::router(fakes.latency, 1.5))
}

/// The value at quantile `p` of `sorted`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A process's CPU seconds (user + system) and resident memory in MB, from `/proc`.
pub fn proc_stat(pid: u32) -> anyhow::Result<(f64, f64)> {
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

/// `vox core` in a child process (killed when dropped), its providers and Backend at `base`.
pub struct Worker {
    pub url: String,
    pub pid: u32,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("url", &self.url).finish()
    }
}

/// A free loopback TCP port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits (up to 10 s) until `url` answers.
pub async fn wait_up(url: &str, what: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(url).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{what} did not start")
}

/// Starts the worker (with `models`' Smart Turn and Silero when given) and waits until it answers.
pub async fn start_worker(
    vox: &str,
    base: &str,
    models: Option<&fleet::config::NeuralModels>,
) -> anyhow::Result<Worker> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let mut command = tokio::process::Command::new(vox);
    if let Some(models) = models {
        for (name, path) in [
            ("VOX_ONNXRUNTIME", &models.onnxruntime),
            ("SMART_TURN_MODEL", &models.smart_turn),
            ("SILERO_VAD_MODEL", &models.silero),
        ] {
            if let Some(path) = path {
                command.env(name, path);
            }
        }
    }
    let child = command
        .arg("core")
        .env("VOXCORE_SECRET", SECRET)
        .env("VOXBRIDGE_URL", base)
        .env("VOXCORE_LISTEN", format!("127.0.0.1:{port}"))
        .env("MAX_CONCURRENT_CALLS", "2000")
        .env("OPENAI_API_KEY", "bench")
        // The fake providers are where the platform sends OpenAI, so the key may go there.
        .env("PROVIDER_BASE_URLS", format!("openai={base}/v1"))
        // The fake providers are on loopback, which the worker refuses unless allowed.
        .env("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8")
        .env("VOXCORE_OUTBOX", dir.path().join("outbox"))
        .env(
            "OBJECT_STORE_URL",
            format!("file://{}", dir.path().join("recordings").display()),
        )
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("unused.db").display()),
        )
        // BENCH_WORKER_LOG=warn shows what the worker says.
        .env(
            "RUST_LOG",
            std::env::var("BENCH_WORKER_LOG").unwrap_or_else(|_| "error".into()),
        )
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {vox} (build it with cargo build --release -p vox)"))?;
    let pid = child.id().context("worker pid")?;
    let url = format!("http://127.0.0.1:{port}");
    wait_up(&format!("{url}/health"), "the worker").await?;
    Ok(Worker {
        url,
        pid,
        _child: child,
        _dir: dir,
    })
}

/// Attaches call `id` to the worker for `protocol` (`twilio`, `vox`); its media URL.
pub async fn attach(
    http: &reqwest::Client,
    worker_url: &str,
    id: i64,
    protocol: &str,
) -> anyhow::Result<String> {
    let body = json!({"call_id": id, "direction": "outbound", "carrier": protocol, "carrier_call_id": format!("CA{id}"),
        "media_protocol": protocol, "answered_at": chrono::Utc::now(), "amd": "human"});
    let reply: Value = http
        .post(format!("{worker_url}/attach"))
        .bearer_auth(SECRET)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    Ok(reply["media_url"]
        .as_str()
        .with_context(|| format!("attach refused: {reply}"))?
        .to_owned())
}

/// The caller's sentence (espeak-ng, the audio crate's test data) at 8 kHz.
pub fn speech_8k() -> anyhow::Result<Vec<i16>> {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/audio/tests/data/speech_16k.wav"
    ))?;
    let mut down = Resampler::new(SampleRate::Hz16000, SampleRate::Hz8000)?;
    let mut speech = down.process(&wav::decode(&bytes)?.samples);
    speech.extend(down.flush());
    Ok(speech)
}

/// The caller's speaking cycle: a sentence every 8 s (the first 2 s of each cycle quiet), the
/// callers spread over the cycle by `phase` (in 20 ms frames) as real traffic is.
#[derive(Debug)]
pub struct Speaking {
    speech: Arc<Vec<i16>>,
    position: usize,
    frame: usize,
    phase: usize,
}

impl Speaking {
    pub const CYCLE: usize = 8 * 50;

    pub fn new(speech: Arc<Vec<i16>>, phase: usize) -> Self {
        Self {
            speech,
            position: 0,
            frame: 0,
            phase: phase % Self::CYCLE,
        }
    }

    /// The next 20 ms (160 samples at 8 kHz).
    pub fn next_frame(&mut self) -> Vec<i16> {
        let in_cycle = (self.frame + self.phase) % Self::CYCLE;
        self.frame += 1;
        if in_cycle >= 100 && self.position < self.speech.len() {
            let end = (self.position + 160).min(self.speech.len());
            let mut s = self.speech[self.position..end].to_vec();
            s.resize(160, 0);
            self.position = end;
            return s;
        }
        if in_cycle < 100 {
            self.position = 0;
        }
        vec![0; 160]
    }
}

/// How late each of the bot's frames arrives: each utterance (after 400 ms without a frame)
/// starts a schedule at its first frame, and a frame is late by how much it arrives after the
/// moment the audio before it would have finished playing.
#[derive(Debug, Default)]
pub struct Lateness {
    utterance: Option<(Instant, f64)>,
    last_arrival: Option<Instant>,
    pub late_ms: Vec<f64>,
}

impl Lateness {
    pub fn frame(&mut self, now: Instant, carried_ms: f64) {
        let new_utterance = self
            .last_arrival
            .is_none_or(|t| now.duration_since(t) > Duration::from_millis(400));
        if new_utterance {
            self.utterance = Some((now, 0.0));
        }
        if let Some((start, played_ms)) = self.utterance.as_mut() {
            let at_ms = now.duration_since(*start).as_secs_f64() * 1000.0;
            self.late_ms.push((at_ms - *played_ms).max(0.0));
            *played_ms += carried_ms;
        }
        self.last_arrival = Some(now);
    }
}

/// One Twilio Media Streams caller: streams 20 ms of μ-law every 20 ms for `run_for`, speaking
/// as `Speaking` says, and adds how late the bot's frames came to `lateness`.
pub async fn twilio_caller(
    media_url: String,
    speech: Arc<Vec<i16>>,
    run_for: Duration,
    phase: usize,
    lateness: Arc<Mutex<Vec<f64>>>,
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
        let mut late = Lateness::default();
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
            late.frame(Instant::now(), bytes.len() as f64 / 8.0);
        }
        late.late_ms
    });
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut speaking = Speaking::new(speech, phase);
    let mut frame_no = 0usize;
    while start.elapsed() < run_for {
        tick.tick().await;
        let samples = speaking.next_frame();
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
    let late = reader.await?;
    lateness.lock().extend(late);
    Ok(())
}
