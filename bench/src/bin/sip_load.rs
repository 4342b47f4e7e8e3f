//! Benchmark: concurrent SIP calls through `vox sip` to a worker, against the same calls over a
//! carrier WebSocket (the baseline, run first in the same command).
//!
//! Three child processes: `vox core` (the worker), `vox sip` (the gateway) and SIPp (the trunk's
//! caller, `bench/sip/caller.xml`). This process plays the rest on loopback: the Backend (the
//! worker's config and result routes, and the telephony edge's `…/sip/{account}/trunk`,
//! `…/invite` and `…/ended`), fake speech providers answering after a fixed latency (as in
//! `fleet_load`), and one RTP caller per call whose port SIPp's SDP names: it streams the caller's
//! 20 ms μ-law frames (a sentence every 8 s) to the gateway and measures the bot's RTP. The edge
//! answers each INVITE with a call attached to the worker beforehand, so INVITE → 200 OK is the
//! gateway's own setup (its WebSocket to the worker included) and not the Backend's attach.
//!
//! Reports, for N calls: the gateway's CPU and RSS per call (the goal: ≤ 0.2 % of a core and
//! ≤ 1 MB), the worker's, both against the WebSocket baseline's worker; RTP lost each way; how
//! late the bot's RTP arrives against its timestamps (p99); INVITE → 200 OK p50/p99 (SIPp's
//! `-trace_rtt`); then a burst of short calls for the calls per second the gateway sets up.

use anyhow::Context;
use audio::g711;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use bench::worker_load::{
    Fakes, SECRET, Shared, Speaking, attach, backend, free_port, percentile, proc_stat, speech_8k,
    start_worker, twilio_caller, wait_up,
};
use clap::Parser;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Concurrent SIP calls through vox sip against the same calls over a carrier WebSocket.
#[derive(Debug, Parser)]
struct Args {
    /// Concurrent calls.
    #[arg(long, default_value_t = 200)]
    calls: usize,
    /// Seconds each call lasts once every call is up.
    #[arg(long, default_value_t = 24)]
    seconds: u64,
    /// Calls per second SIPp places them at.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Short calls (1 s, no media) in the set-up burst (0: none).
    #[arg(long, default_value_t = 400)]
    burst: usize,
    /// Calls per second SIPp places the burst at.
    #[arg(long, default_value_t = 400)]
    burst_rate: u32,
    /// Latency of each fake provider, in milliseconds.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// The vox binary to run as the worker and the gateway.
    #[arg(long, default_value = "target/release/vox")]
    vox: String,
}

/// The edge's side: calls attached to the worker beforehand (kept topped up to `target`, none
/// older than 5 s: the worker drops an attach whose media has not come in 10 s), handed out one
/// per INVITE.
#[derive(Default)]
struct Edge {
    ready: Mutex<VecDeque<(Instant, i64, String)>>,
    target: std::sync::atomic::AtomicUsize,
    next_id: std::sync::atomic::AtomicI64,
    refused: Mutex<usize>,
    /// The worker calls are attached to.
    worker_url: Mutex<String>,
}

impl Edge {
    /// Keeps `target` fresh attached calls ready, forever.
    async fn refill(self: Arc<Self>) {
        use std::sync::atomic::Ordering;
        let http = reqwest::Client::new();
        loop {
            let worker_url = self.worker_url.lock().clone();
            self.ready
                .lock()
                .retain(|(at, _, _)| at.elapsed() < Duration::from_secs(5));
            while self.ready.lock().len() < self.target.load(Ordering::Relaxed) {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1_000_000;
                match attach(&http, &worker_url, id, "vox").await {
                    Ok(url) => self.ready.lock().push_back((Instant::now(), id, url)),
                    Err(error) => {
                        eprintln!("sip_load: attach: {error:#}");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sets the target and waits until that many calls are ready.
    async fn ready(&self, target: usize) {
        self.target
            .store(target, std::sync::atomic::Ordering::Relaxed);
        while self.ready.lock().len() < target {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn edge(
    State(edge): State<Arc<Edge>>,
    Path((_account, hook)): Path<(i64, String)>,
) -> (axum::http::StatusCode, Json<Value>) {
    use axum::http::StatusCode;
    match hook.as_str() {
        "trunk" => (
            StatusCode::OK,
            // A trunk vox does not register with; its OPTIONS go to a loopback port nobody has.
            Json(json!({"address": "127.0.0.1:9", "password": "-", "control_token": "bench"})),
        ),
        "invite" => match edge.ready.lock().pop_front() {
            Some((_, id, media_url)) => (
                StatusCode::OK,
                Json(json!({"call_id": id, "media_url": media_url})),
            ),
            None => {
                *edge.refused.lock() += 1;
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(
                        json!({"error": {"code": "fleet.capacity_exhausted", "message": "no call attached"}}),
                    ),
                )
            }
        },
        _ => (StatusCode::OK, Json(json!({}))),
    }
}

/// What one RTP caller saw of the bot's RTP.
#[derive(Debug, Default)]
struct Heard {
    /// Arrival minus the packet's RTP timestamp, less the smallest such difference (ms).
    late_ms: Vec<f64>,
    received: u64,
    expected: u64,
}

fn rtp_packet(seq: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x0b, 0xe0, 0x0c, 0xa1];
    packet[2..4].copy_from_slice(&seq.to_be_bytes());
    packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// One caller's RTP: waits for the gateway's first packet (symmetric RTP: replies go where it
/// comes from), then streams 20 ms frames until `stop`, reading the bot's packets meanwhile.
async fn rtp_caller(
    socket: UdpSocket,
    speech: Arc<Vec<i16>>,
    phase: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Heard {
    let socket = Arc::new(socket);
    let mut buffer = [0u8; 1500];
    let Ok(Ok((_, gateway))) =
        tokio::time::timeout(Duration::from_secs(60), socket.recv_from(&mut buffer)).await
    else {
        return Heard::default();
    };
    let reader = {
        let socket = socket.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let (mut heard, mut transit) = (Heard::default(), Vec::new());
            let (mut first_seq, mut last_seq): (Option<u16>, u16) = (None, 0);
            let mut buffer = [0u8; 1500];
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    got = socket.recv_from(&mut buffer) => {
                        let Ok((n, _)) = got else { break };
                        if n < 12 || buffer[1] & 0x7f != 0 {
                            continue;
                        }
                        let seq = u16::from_be_bytes([buffer[2], buffer[3]]);
                        let timestamp = u32::from_be_bytes([buffer[4], buffer[5], buffer[6], buffer[7]]);
                        first_seq.get_or_insert(seq);
                        last_seq = seq;
                        heard.received += 1;
                        let at_ms = start.elapsed().as_secs_f64() * 1000.0;
                        transit.push(at_ms - f64::from(timestamp) / 8.0);
                    }
                }
            }
            let least = transit.iter().copied().fold(f64::INFINITY, f64::min);
            heard.late_ms = transit.iter().map(|t| t - least).collect();
            if let Some(first) = first_seq {
                heard.expected = u64::from(last_seq.wrapping_sub(first)) + 1;
            }
            heard
        })
    };
    let mut speaking = Speaking::new(speech, phase);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut seq, mut timestamp) = (0u16, 0u32);
    while !*stop.borrow() {
        tick.tick().await;
        let payload = g711::encode_ulaw(&speaking.next_frame());
        if socket
            .send_to(&rtp_packet(seq, timestamp, &payload), gateway)
            .await
            .is_err()
        {
            break;
        }
        seq = seq.wrapping_add(1);
        timestamp = timestamp.wrapping_add(160);
    }
    reader.await.unwrap_or_default()
}

/// Two sockets, an even RTP port and its RTCP port, for one caller.
async fn port_pair(next: &mut u16) -> anyhow::Result<(UdpSocket, UdpSocket, u16)> {
    loop {
        let port = *next;
        *next += 2;
        anyhow::ensure!(port < 65_000, "no free RTP port pair");
        if let (Ok(rtp), Ok(rtcp)) = (
            UdpSocket::bind(("127.0.0.1", port)).await,
            UdpSocket::bind(("127.0.0.1", port + 1)).await,
        ) {
            return Ok((rtp, rtcp, port));
        }
    }
}

/// SIPp placing `calls` calls of `hold_ms` at `rate` per second (no limit: 0) to `gateway`, each
/// SDP naming a port of `ports`; its INVITE → 200 OK times (ms) and whether every call succeeded.
fn sipp(
    gateway: std::net::SocketAddr,
    calls: usize,
    rate: u32,
    hold_ms: u64,
    ports: &[u16],
    dir: &std::path::Path,
) -> anyhow::Result<tokio::process::Child> {
    let mut inf = String::from("SEQUENTIAL\n");
    for port in ports {
        inf += &format!("{port};\n");
    }
    std::fs::write(dir.join("ports.csv"), inf)?;
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/sip/caller.xml");
    let rate = if rate == 0 { 1000 } else { rate };
    tokio::process::Command::new("sipp")
        .args([
            "-sf",
            scenario,
            &gateway.to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            "0",
        ])
        .args(["-s", "14155550100", "-inf", "ports.csv"])
        .args(["-m", &calls.to_string(), "-l", &calls.to_string()])
        .args(["-r", &rate.to_string(), "-d", &hold_ms.to_string()])
        .args(["-trace_rtt", "-rtt_freq", "1", "-nostdin", "-timeout_error"])
        .args(["-timeout", &format!("{}s", hold_ms / 1000 + 120)])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("run SIPp (Debian: apt-get install sip-tester)")
}

/// SIPp's INVITE → 200 OK times in `dir` (`-trace_rtt`: `date_ms;response_time_ms;rtd_no`), sorted.
fn response_times(dir: &std::path::Path) -> anyhow::Result<Vec<f64>> {
    Ok(rtt_rows(dir)?.into_iter().map(|(_, ms)| ms).collect())
}

/// The rows of SIPp's `-trace_rtt` file in `dir`: when each 200 OK came (ms since the epoch) and
/// how long after its INVITE, sorted by the latter.
fn rtt_rows(dir: &std::path::Path) -> anyhow::Result<Vec<(f64, f64)>> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with("_rtt.csv") {
            for line in std::fs::read_to_string(&path)?.lines().skip(1) {
                let mut fields = line.split(';').map(|v| v.trim().parse::<f64>());
                if let (Some(Ok(at)), Some(Ok(ms))) = (fields.next(), fields.next()) {
                    rows.push((at, ms));
                }
            }
        }
    }
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    Ok(rows)
}

/// A process's CPU share (cores) over `window`, and its RSS at the end (MB).
async fn cpu_over(pids: &[u32], window: Duration) -> anyhow::Result<Vec<(f64, f64)>> {
    let before = pids
        .iter()
        .map(|p| proc_stat(*p))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    tokio::time::sleep(window).await;
    let elapsed = start.elapsed().as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|(pid, (cpu0, _))| {
            let (cpu1, rss) = proc_stat(*pid)?;
            Ok(((cpu1 - cpu0) / elapsed, rss))
        })
        .collect()
}

/// Prometheus `name` (a counter without labels) in `text`.
fn counter(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// One run's figures.
struct Run {
    worker_cpu: f64,
    worker_rss: f64,
    gateway_cpu: f64,
    gateway_rss: f64,
    late_p99: f64,
}

/// The baseline: `calls` Twilio Media Streams callers straight to the worker.
async fn websocket_run(
    args: &Args,
    worker: &bench::worker_load::Worker,
    idle_rss: f64,
    speech: &Arc<Vec<i16>>,
) -> anyhow::Result<Run> {
    let http = reqwest::Client::new();
    let lateness = Arc::new(Mutex::new(Vec::new()));
    let ramp = Duration::from_secs_f64(args.calls as f64 / f64::from(args.rate));
    let mut tasks = Vec::new();
    let start = Instant::now();
    for i in 0..args.calls {
        let due = start + Duration::from_secs_f64(i as f64 / f64::from(args.rate));
        tokio::time::sleep_until(due.into()).await;
        let url = attach(&http, &worker.url, 1 + i as i64, "twilio").await?;
        let run_for = ramp + Duration::from_secs(args.seconds) - start.elapsed();
        let phase = i * Speaking::CYCLE / args.calls;
        tasks.push(tokio::spawn(twilio_caller(
            url,
            speech.clone(),
            run_for,
            phase,
            lateness.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds / 4)).await;
    let stats = cpu_over(&[worker.pid], Duration::from_secs(args.seconds / 2)).await?;
    for task in tasks {
        task.await??;
    }
    let mut late = lateness.lock().clone();
    late.sort_by(f64::total_cmp);
    Ok(Run {
        worker_cpu: stats[0].0,
        worker_rss: (stats[0].1 - idle_rss).max(0.0),
        gateway_cpu: 0.0,
        gateway_rss: 0.0,
        late_p99: percentile(&late, 0.99),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.calls > 0, "--calls must be at least 1");
    anyhow::ensure!(args.rate > 0, "--rate must be at least 1");
    anyhow::ensure!(args.seconds >= 4, "--seconds must be at least 4");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let fakes: Shared = Arc::new(Fakes {
        latency: Duration::from_millis(args.latency_ms),
        base: base.clone(),
        results: Mutex::default(),
        turn: Default::default(),
    });
    let edge_state = Arc::new(Edge::default());
    let app = backend(&fakes).merge(
        Router::new()
            .route("/api/v1/telephony/sip/{account}/{hook}", post(edge))
            .with_state(edge_state.clone()),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let worker = start_worker(&args.vox, &base, None).await?;

    let sip_port = std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let sip_addr = std::net::SocketAddr::from(([127, 0, 0, 1], sip_port));
    let health = free_port()?;
    let gateway = tokio::process::Command::new(&args.vox)
        .arg("sip")
        .env("VOX_SIP_LISTEN", sip_addr.to_string())
        .env("VOX_SIP_ACCOUNT", "1")
        .env("VOXCORE_SECRET", SECRET)
        .env("VOXBRIDGE_URL", &base)
        .env("VOX_SIP_HEALTH_PORT", health.to_string())
        .env(
            "VOX_SIP_CONTROL_LISTEN",
            format!("127.0.0.1:{}", free_port()?),
        )
        .env("VOX_SIP_RTP_PORTS", "20000-29999")
        .env("RUST_LOG", "error")
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {} sip", args.vox))?;
    let gateway_pid = gateway.id().context("gateway pid")?;
    let health_url = format!("http://127.0.0.1:{health}");
    wait_up(&format!("{health_url}/health"), "vox sip").await?;
    let (_, worker_idle) = proc_stat(worker.pid)?;
    let (_, gateway_idle) = proc_stat(gateway_pid)?;
    let speech = Arc::new(speech_8k()?);
    println!(
        "sip_load: {} calls placed at {}/s, each up {} s with every other call, providers answering after {} ms; idle RSS: worker {worker_idle:.1} MB, gateway {gateway_idle:.1} MB",
        args.calls, args.rate, args.seconds, args.latency_ms
    );

    // 1. The baseline: the worker's media straight over a carrier WebSocket.
    let baseline = websocket_run(&args, &worker, worker_idle, &speech).await?;
    println!("  baseline done: the worker's media over Twilio Media Streams");
    // A fresh worker, so memory the baseline's calls left to its allocator is not counted as free.
    drop(worker);
    let worker = start_worker(&args.vox, &base, None).await?;
    let (_, worker_idle) = proc_stat(worker.pid)?;
    *edge_state.worker_url.lock() = worker.url.clone();
    tokio::spawn(edge_state.clone().refill());

    // 2. The same calls through vox sip: SIPp's INVITEs, this process's RTP.
    let ramp_ms = args.calls as u64 * 1000 / u64::from(args.rate);
    let hold_ms = ramp_ms + args.seconds * 1000;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (mut ports, mut callers, mut rtcp) = (Vec::new(), Vec::new(), Vec::new());
    let mut next_port = 40_000;
    for i in 0..args.calls {
        let (rtp, control, port) = port_pair(&mut next_port).await?;
        ports.push(port);
        rtcp.push(control);
        let phase = i * Speaking::CYCLE / args.calls;
        callers.push(tokio::spawn(rtp_caller(
            rtp,
            speech.clone(),
            phase,
            stopped.clone(),
        )));
    }
    edge_state
        .ready(usize::try_from(args.rate)?.max(10) * 2)
        .await;
    let dir = tempfile::tempdir()?;
    let mut sipp_run = sipp(sip_addr, args.calls, args.rate, hold_ms, &ports, dir.path())?;
    tokio::time::sleep(Duration::from_millis(ramp_ms) + Duration::from_secs(args.seconds / 4))
        .await;
    let stats = cpu_over(
        &[worker.pid, gateway_pid],
        Duration::from_secs(args.seconds / 2),
    )
    .await?;
    let up = counter(
        &reqwest::get(format!("{health_url}/metrics"))
            .await?
            .text()
            .await?,
        "vox_sip_calls_up",
    );
    let status = sipp_run.wait().await?;
    let _ = stop.send(true);
    let mut heard = Vec::new();
    for caller in callers {
        heard.push(caller.await?);
    }
    drop(rtcp);
    let metrics = reqwest::get(format!("{health_url}/metrics"))
        .await?
        .text()
        .await?;
    let invite = response_times(dir.path())?;
    let mut late: Vec<f64> = heard
        .iter()
        .flat_map(|h| h.late_ms.iter().copied())
        .collect();
    late.sort_by(f64::total_cmp);
    let sip = Run {
        worker_cpu: stats[0].0,
        worker_rss: (stats[0].1 - worker_idle).max(0.0),
        gateway_cpu: stats[1].0,
        gateway_rss: (stats[1].1 - gateway_idle).max(0.0),
        late_p99: percentile(&late, 0.99),
    };
    let (received, expected): (u64, u64) = heard
        .iter()
        .fold((0, 0), |(r, e), h| (r + h.received, e + h.expected));
    println!(
        "  SIPp: {} ({} calls up mid-run); INVITE → 200 OK p50 {:.1} ms, p99 {:.1} ms ({} calls); RTP to the gateway: {} received, {} lost; the bot's RTP: {received} received, {} lost",
        if status.success() {
            "every call succeeded"
        } else {
            "some calls FAILED"
        },
        up,
        percentile(&invite, 0.5),
        percentile(&invite, 0.99),
        invite.len(),
        counter(&metrics, "vox_sip_rtp_received_packets_total"),
        counter(&metrics, "vox_sip_rtp_lost_packets_total"),
        expected.saturating_sub(received),
    );
    let n = args.calls as f64;
    println!(
        "| path | gateway CPU per call | gateway RSS per call | worker CPU per call | worker RSS per call | CPU per call, all | / baseline | bot audio late p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, run, late_how) in [
        (
            "Twilio WebSocket → worker (baseline)",
            &baseline,
            "against its utterance's schedule",
        ),
        (
            "SIP + RTP → vox sip → worker",
            &sip,
            "against its RTP timestamps",
        ),
    ] {
        let all = (run.gateway_cpu + run.worker_cpu) * 100.0 / n;
        println!(
            "| {name} | {:.3} % of a core | {:.2} MB | {:.3} % of a core | {:.2} MB | {all:.3} % of a core | ×{:.2} | {:.2} ms ({late_how}) |",
            run.gateway_cpu * 100.0 / n,
            run.gateway_rss / n,
            run.worker_cpu * 100.0 / n,
            run.worker_rss / n,
            all / ((baseline.worker_cpu * 100.0 / n).max(f64::MIN_POSITIVE)),
            run.late_p99,
        );
    }

    // 3. The set-up burst: short calls without media, as fast as SIPp places them.
    if args.burst > 0 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        edge_state.ready(args.burst).await;
        let dir = tempfile::tempdir()?;
        let discard = vec![9; args.burst];
        let status = sipp(
            sip_addr,
            args.burst,
            args.burst_rate,
            1000,
            &discard,
            dir.path(),
        )?
        .wait()
        .await?;
        let rows = rtt_rows(dir.path())?;
        let invite: Vec<f64> = rows.iter().map(|(_, ms)| *ms).collect();
        // From the first INVITE (its 200's time less its response time) to the last 200 OK.
        let first = rows
            .iter()
            .map(|(at, ms)| at - ms)
            .fold(f64::INFINITY, f64::min);
        let last = rows
            .iter()
            .map(|(at, _)| *at)
            .fold(f64::NEG_INFINITY, f64::max);
        let span = (last - first).max(1.0) / 1000.0;
        println!(
            "  burst: {} calls of 1 s placed at {}/s, {}: {} answered in {span:.2} s, {:.0} calls per second; INVITE → 200 OK p50 {:.1} ms, p99 {:.1} ms; {} refused for want of an attached call",
            args.burst,
            args.burst_rate,
            if status.success() {
                "every call succeeded"
            } else {
                "some calls FAILED"
            },
            rows.len(),
            rows.len() as f64 / span,
            percentile(&invite, 0.5),
            percentile(&invite, 0.99),
            edge_state.refused.lock(),
        );
    }
    edge_state
        .target
        .store(0, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(gateway);
    drop(worker);
    Ok(())
}
