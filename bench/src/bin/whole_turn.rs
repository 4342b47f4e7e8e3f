//! Benchmark: one whole spoken turn in vox and in Pipecat, side by side.
//!
//! Both use the same fake providers on loopback and the same audio.
//!
//! This process serves OpenAI-compatible fake providers (transcription, chat completions SSE,
//! speech PCM; `bench::fake_providers`) that answer at once. It runs vox's assembled pipeline with
//! the real HTTP provider clients pointed at them, then runs `bench/pipecat/turn.py` (pipecat-ai
//! with its OpenAI STT, LLM and TTS services and Silero VAD) against the same server. Both get the
//! same 16 kHz speech in real time, 20 ms frames on a fixed schedule: one second of the espeak
//! sentence, then silence, per turn. Both wait for 0.8 s of silence before ending the user's turn
//! (vox: VAD stop 0.8 s; Pipecat: VAD stop 0.2 s + speech timeout 0.6 s, its recommended split).
//! Measured per turn: from the last speech frame fed to the first bot audio frame out (what the
//! caller waits; it includes each VAD's own reaction, WebRTC's in vox and Silero's in Pipecat), and
//! from each runtime's end-of-turn decision to that frame (the runtime and its provider clients:
//! three HTTP round trips, the aggregation, the streaming and the framing). Ratios Pipecat / vox.

use anyhow::Context;
use audio::SampleRate;
use bench::speech::{ms, percentile};
use clap::Parser;
use contracts::runtime_config::BotSpec;
use pipeline::assemble::{self, Assembly};
use pipeline::{AudioChunk, Command, DataFrame, Frame, SessionConfig, SystemFrame};
use providers::factory::{ProviderEnv, build_chains};
use std::time::{Duration, Instant};

const FRAME: Duration = Duration::from_millis(20);

/// One whole spoken turn in vox and in Pipecat, side by side.
#[derive(Debug, Parser)]
struct Args {
    /// Turns per runtime.
    #[arg(long, default_value_t = 25)]
    turns: usize,
    /// Seconds of silence fed after each second of speech (the reply plays within it).
    #[arg(long, default_value_t = 3.0)]
    gap: f64,
    /// The Python with pipecat-ai installed (`scripts/bench-pipecat` makes it).
    #[arg(long, default_value = "target/pipecat-venv/bin/python")]
    python: String,
}

fn spec(base: &str) -> BotSpec {
    let mut spec = bench::speech::openai_compatible_bot(base);
    spec.limits.max_duration_secs = 3_600;
    spec.limits.silence_timeout_secs = 600;
    spec
}

/// Per turn: from the last speech frame fed to the first bot audio frame out (`heard`), and from
/// the runtime's end-of-turn decision to that frame (`decided`).
struct Turns {
    heard: Vec<Duration>,
    decided: Vec<Duration>,
}

/// vox's turns; `decided` comes from the session's own per-turn timings (VAD stop → first audio sent).
async fn vox_turns(base: &str, speech: &[i16], args: &Args) -> anyhow::Result<Turns> {
    let spec = spec(base);
    let env = ProviderEnv {
        keys: [("openai".to_owned(), "bench".to_owned())].into(),
        // The fakes are where this platform sends OpenAI and its self-hosted servers: its key
        // may go there, and their loopback address is the platform's own.
        base_urls: ["openai", "whisper", "vllm"]
            .map(|vendor| (vendor.to_owned(), format!("{base}/v1")))
            .into(),
        http: Some(reqwest::Client::new()),
        ..ProviderEnv::default()
    };
    let chains = build_chains(&spec, &env).context("build the provider chains")?;
    let assembly = Assembly {
        providers: chains,
        ..Assembly::default()
    };
    let processors = assemble::pipeline(&spec, assembly).map_err(anyhow::Error::msg)?;
    let handle = pipeline::spawn(processors, SessionConfig::default());
    let rate = SampleRate::Hz16000;
    let frame_len = rate.frame_samples();
    let gap_frames = (args.gap / FRAME.as_secs_f64()).round() as usize;
    // The first audio frame of each reply, timed as it leaves the pipeline.
    let mut output = handle.output;
    let replies = tokio::spawn(async move {
        let mut starts = Vec::new();
        let mut speaking = false;
        while let Some(frame) = output.recv().await {
            match frame {
                Frame::System(SystemFrame::BotStartedSpeaking) => speaking = true,
                Frame::Data(DataFrame::OutputAudio(_)) if speaking => {
                    starts.push(Instant::now());
                    speaking = false;
                }
                _ => {}
            }
        }
        starts
    });
    let mut schedule = tokio::time::interval(FRAME);
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let speech_frames = speech.len().div_ceil(frame_len);
    let mut ends = Vec::with_capacity(args.turns);
    for _ in 0..args.turns {
        let frames = speech
            .chunks(frame_len)
            .map(<[i16]>::to_vec)
            .chain(std::iter::repeat_n(vec![0; frame_len], gap_frames));
        for (i, frame) in frames.enumerate() {
            schedule.tick().await;
            let chunk = AudioChunk::new(frame, rate);
            let _ = handle
                .commands
                .send(Command::Input(SystemFrame::InputAudio(chunk).into()));
            if i + 1 == speech_frames {
                ends.push(Instant::now());
            }
        }
    }
    let _ = handle.commands.send(Command::Hangup);
    let starts = replies.await?;
    let report = handle.report.await?;
    let decided: Vec<Duration> = report
        .turns
        .iter()
        .filter_map(|t| t.first_audio_sent)
        .collect();
    anyhow::ensure!(
        decided.len() == args.turns,
        "vox timed {} of {} turns",
        decided.len(),
        args.turns
    );
    Ok(Turns {
        heard: pair_turns(&ends, &starts)?,
        decided,
    })
}

/// For each end of speech, the first reply that started after it (and before the next turn).
fn pair_turns(ends: &[Instant], starts: &[Instant]) -> anyhow::Result<Vec<Duration>> {
    ends.iter()
        .enumerate()
        .map(|(turn, &end)| {
            let next = ends.get(turn + 1).copied();
            starts
                .iter()
                .find(|&&s| s > end && next.is_none_or(|n| s < n))
                .map(|&s| s - end)
                .with_context(|| format!("turn {turn} got no reply before the next one"))
        })
        .collect()
}

/// Pipecat: the same turns through `bench/pipecat/turn.py`, one figure per line.
async fn pipecat_turns(base: &str, wav: &str, args: &Args) -> anyhow::Result<Turns> {
    let argv = [
        "--base-url".to_owned(),
        format!("{base}/v1"),
        "--wav".to_owned(),
        wav.to_owned(),
        "--turns".to_owned(),
        args.turns.to_string(),
        "--gap".to_owned(),
        args.gap.to_string(),
    ];
    let text = bench::speech::run_python(&args.python, "pipecat/turn.py", &argv).await?;
    let mut turns = Turns {
        heard: Vec::new(),
        decided: Vec::new(),
    };
    for line in text
        .lines()
        .filter_map(|l| l.strip_prefix("PIPECAT_TURN_MS="))
    {
        let figures: Vec<f64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .with_context(|| format!("turn.py printed a bad figure: {line:?}"))?;
        let [heard, decided] = figures[..] else {
            anyhow::bail!("turn.py printed {line:?}, not two figures");
        };
        turns.heard.push(Duration::from_secs_f64(heard / 1000.0));
        turns
            .decided
            .push(Duration::from_secs_f64(decided / 1000.0));
    }
    anyhow::ensure!(
        turns.heard.len() == args.turns,
        "turn.py measured {} of {} turns",
        turns.heard.len(),
        args.turns
    );
    Ok(turns)
}

/// p50, p99 and max of `samples`.
fn stats(mut samples: Vec<Duration>) -> [Duration; 3] {
    samples.sort();
    [
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let speech = bench::speech::speech_second()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app: axum::Router = bench::fake_providers::router(Duration::ZERO, 0.5);
    tokio::spawn(async move { axum::serve(listener, app).await });

    println!(
        "whole turn, {} turns each: 1 s of speech, then {} s of silence; providers answer at once",
        args.turns, args.gap
    );
    let vox = vox_turns(&base, &speech, &args).await?;
    let pipecat = pipecat_turns(&base, bench::speech::SPEECH_WAV, &args).await?;
    println!(
        "| runtime | end of speech → first bot audio p50 | p99 | max | end-of-turn decision → first bot audio p50 | p99 | max |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for (name, turns) in [("vox", vox), ("Pipecat", pipecat)] {
        let heard = stats(turns.heard);
        let decided = stats(turns.decided);
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            ms(heard[0]),
            ms(heard[1]),
            ms(heard[2]),
            ms(decided[0]),
            ms(decided[1]),
            ms(decided[2])
        );
        rows.push((heard, decided));
    }
    let ratio = |a: Duration, b: Duration| ms(a) / ms(b).max(0.001);
    let ((vh, vd), (ph, pd)) = (rows[0], rows[1]);
    println!(
        "Pipecat / vox: end of speech → audio p50 ×{:.2}, p99 ×{:.2}; decision → audio p50 ×{:.1}, p99 ×{:.1}",
        ratio(ph[0], vh[0]),
        ratio(ph[1], vh[1]),
        ratio(pd[0], vd[0]),
        ratio(pd[1], vd[1]),
    );
    Ok(())
}
