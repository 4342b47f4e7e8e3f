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

use bench::worker_load::{
    Fakes, Shared, attach, backend, percentile, proc_stat, speech_8k, start_worker, twilio_caller,
};
use clap::Parser;
use parking_lot::Mutex as StdMutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// The bot ends turns with Smart Turn after Silero VAD (`turn: {mode: smart, vad: silero}`),
    /// the worker loading both from `--models`; without it, WebRTC VAD and a fixed stop.
    #[arg(long)]
    smart: bool,
    /// Where `scripts/test` unpacked ONNX Runtime, Smart Turn and Silero.
    #[arg(long, default_value = "target/models")]
    models: std::path::PathBuf,
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
        let url = attach(&client, worker_url, *next_id, "twilio").await?;
        let phase = i * 400 / calls.max(1);
        tasks.push(tokio::spawn(twilio_caller(
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
        // The turn model's verdicts, each with its inference time, are in the transcripts.
        let mut inference: Vec<f64> = results
            .iter()
            .flat_map(|r| r.transcript.iter())
            .filter_map(|line| line.detail.as_ref())
            .filter(|detail| detail["kind"] == "turn")
            .filter_map(|detail| detail["inference_ms"].as_f64())
            .collect();
        inference.sort_by(f64::total_cmp);
        if !inference.is_empty() {
            println!(
                "  {calls} calls, Smart Turn: {} decisions, inference p50 {:.1} ms, p99 {:.1} ms",
                inference.len(),
                percentile(&inference, 0.5),
                percentile(&inference, 0.99)
            );
        }
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
        turn: if args.smart {
            contracts::runtime_config::TurnSettings {
                mode: contracts::runtime_config::TurnMode::Smart,
                vad: contracts::runtime_config::VadEngine::Silero,
                ..Default::default()
            }
        } else {
            Default::default()
        },
    });
    let app = backend(&fakes);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let models = bench::speech::neural_models(&args.models);
    let worker = start_worker(&args.vox, &base, args.smart.then_some(&models)).await?;
    let (pid, worker_url) = (worker.pid, worker.url.clone());
    let (_, idle_rss) = proc_stat(pid)?;
    let speech = Arc::new(speech_8k()?);

    println!(
        "fleet_load: one vox core process, Twilio μ-law 8 kHz streams, providers answering after {} ms each, {} s per level, turns ended by {}; idle RSS {idle_rss:.1} MB",
        args.latency_ms,
        args.seconds,
        if args.smart {
            "Smart Turn after Silero VAD"
        } else {
            "WebRTC VAD and a 0.8 s stop"
        }
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
    drop(worker);
    Ok(())
}
