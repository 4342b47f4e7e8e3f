//! Benchmark: voice to voice, the end of the caller's speech to the bot's first audio, in vox
//! (`turn: smart`) and in Pipecat 1.14 with its Smart Turn v3 analyzer, side by side, each stage's
//! moment per turn.
//!
//! Providers: `bench::fake_voice` on loopback, one fresh server (same jitter seed) per runtime: a
//! Deepgram-compatible live transcription (a final transcript `--stt-ms` after an utterance's last
//! speech), OpenAI-compatible chat (first token after `--llm-ms`) and speech (first audio after
//! `--tts-ms`), each within ± `--jitter` of its latency. Each runtime uses its own clients for them
//! (vox's `deepgram` and `openai` providers; Pipecat's `DeepgramSTTService`, `OpenAILLMService`,
//! `OpenAITTSService`).
//!
//! Audio: phone audio, 8 kHz, fed in real time in 20 ms frames on a fixed schedule: whole
//! sentences spoken by the Piper voice (joe, as the worker loads it), one per turn, each followed
//! by `--gap` seconds of silence, after a second of silence as the call starts.
//!
//! vox: the pipeline a worker assembles for a bot with `turn: {mode: smart, vad: silero}` and its
//! defaults (VAD stop 0.2 s, threshold 0.5, preemptive replies on, drafts not voiced unless
//! `--speak-drafts`), Smart Turn v3.2 and Silero VAD on ONNX Runtime as the worker loads them.
//! Pipecat: `bench/pipecat/voice.py`, as its quickstart builds it (Silero VAD stopping after 0.2 s,
//! the default user-turn strategies: Smart Turn v3.2, waiting for the final transcript).
//!
//! Each turn's row gives, in ms after the caller's last speech frame: the VAD's stop, the end of
//! the turn (vox: the aggregator's final turn; Pipecat: `UserStoppedSpeakingFrame`), the final
//! transcript sent, the chat request that answered and its first token, the speech request and its
//! first audio (the providers' log) and the bot's first audio frame out of the pipeline. Clocks:
//! the wall clock in both processes.

use anyhow::Context;
use audio::SampleRate;
use bench::fake_voice::{Fakes, Latencies, Stage, voiced};
use bench::speech::{ms, percentile};
use clap::Parser;
use contracts::runtime_config::{TurnMode, TurnSettings, VadEngine};
use pipeline::assemble::Assembly;
use pipeline::{AudioChunk, CallEvent, Command, DataFrame, Frame, SystemFrame};
use providers::factory::build_chains;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const RATE: SampleRate = SampleRate::Hz8000;
const FRAME: Duration = Duration::from_millis(20);

/// Whole sentences a caller says, one per turn, cycled.
const SENTENCES: &[&str] = &[
    "I would like to book an appointment for next Tuesday.",
    "Can you tell me what time you open on Saturday?",
    "I need to change the address on my account.",
    "Please cancel my subscription.",
    "Do you have a table free tonight?",
    "I think I was charged twice this month.",
    "Could you send me the invoice by email?",
    "I would like to speak to someone about a refund.",
    "Yes that works for me.",
    "My order has not arrived yet.",
];

/// Voice to voice in vox and in Pipecat, side by side.
#[derive(Debug, Parser)]
struct Args {
    /// Turns per runtime.
    #[arg(long, default_value_t = 20)]
    turns: usize,
    /// Seconds of silence after each sentence (the reply plays within it).
    #[arg(long, default_value_t = 3.0)]
    gap: f64,
    /// Where `scripts/test` unpacked ONNX Runtime, Smart Turn, Silero and the Piper voice.
    #[arg(long, default_value = "target/models")]
    models: PathBuf,
    /// The Python with pipecat-ai installed (`scripts/bench-pipecat` makes it); `none` runs vox
    /// alone.
    #[arg(long, default_value = "target/pipecat-venv/bin/python")]
    python: String,
    #[arg(long, default_value_t = 100)]
    stt_ms: u64,
    #[arg(long, default_value_t = 250)]
    llm_ms: u64,
    #[arg(long, default_value_t = 80)]
    tts_ms: u64,
    /// Each latency varies uniformly within ± this fraction.
    #[arg(long, default_value_t = 0.2)]
    jitter: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// vox's `turn.stop_secs` (smart mode's default, 0.2, when left out).
    #[arg(long)]
    stop_secs: Option<f32>,
    /// vox's `turn.speak_drafts`.
    #[arg(long)]
    speak_drafts: bool,
}

/// A moment in a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The caller's last speech frame went in.
    End,
    VadStop,
    /// The runtime ended the caller's turn.
    TurnEnd,
    Provider(Stage),
    /// The reply's first audio frame came out.
    Audio,
}

fn now() -> f64 {
    secs(SystemTime::now())
}

fn secs(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn latencies(args: &Args) -> Latencies {
    Latencies {
        stt: Duration::from_millis(args.stt_ms),
        llm: Duration::from_millis(args.llm_ms),
        tts: Duration::from_millis(args.tts_ms),
        jitter: args.jitter,
    }
}

/// vox's moments: the pipeline a worker assembles, fed on the frame schedule.
async fn vox(
    args: &Args,
    clips: &[Vec<i16>],
    fakes: Arc<Fakes>,
) -> anyhow::Result<Vec<(Kind, f64)>> {
    let address = bench::fake_voice::serve(fakes, 1.0).await?;
    let mut spec = bench::fake_voice::bot();
    spec.limits.max_duration_secs = 3_600;
    spec.limits.silence_timeout_secs = 600;
    spec.turn = TurnSettings {
        vad: VadEngine::Silero,
        mode: TurnMode::Smart,
        stop_secs: args.stop_secs,
        speak_drafts: args.speak_drafts,
        ..TurnSettings::default()
    };
    let env = bench::fake_voice::provider_env(address);
    let models = bench::speech::neural_models(&args.models);
    let assembly = Assembly {
        providers: build_chains(&spec, &env).context("build the provider chains")?,
        turn_model: Some(fleet::models::turn_model(&models)?.context("no Smart Turn model")?),
        voice_model: Some(fleet::models::voice_model(&models)?.context("no Silero VAD")?),
        ..Assembly::default()
    };
    let handle = bench::speech::spawn_phone_call(&spec, assembly)?;
    let mut output = handle.output;
    let replies = tokio::spawn(async move {
        let mut moments = Vec::new();
        let mut speaking = false;
        while let Some(frame) = output.recv().await {
            match frame {
                Frame::System(SystemFrame::BotStartedSpeaking) => speaking = true,
                Frame::Data(DataFrame::OutputAudio(_)) if speaking => {
                    moments.push((Kind::Audio, now()));
                    speaking = false;
                }
                _ => {}
            }
        }
        moments
    });
    let mut upstream = handle.upstream;
    let turns = tokio::spawn(async move {
        let mut moments = Vec::new();
        while let Some(frame) = upstream.recv().await {
            match frame {
                Frame::System(SystemFrame::UserStoppedSpeaking) => {
                    moments.push((Kind::VadStop, now()))
                }
                Frame::System(SystemFrame::Call(CallEvent::UserSaid(_))) => {
                    moments.push((Kind::TurnEnd, now()))
                }
                Frame::System(SystemFrame::Call(CallEvent::Turn(decision)))
                    if std::env::var_os("VOICE_TRACE").is_some() =>
                {
                    eprintln!("{:.3} vox's turn model: {decision:?}", now());
                }
                _ => {}
            }
        }
        moments
    });
    // The Deepgram connection opens as the session starts; give it its handshake.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let frame_len = RATE.frame_samples();
    let gap_frames = (args.gap / FRAME.as_secs_f64()).round() as usize;
    let mut schedule = tokio::time::interval(FRAME);
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    // A second of quiet before the first words, as a call's audio starts.
    for _ in 0..50 {
        schedule.tick().await;
        let chunk = AudioChunk::new(vec![0; frame_len], RATE);
        let _ = handle
            .commands
            .send(Command::Input(SystemFrame::InputAudio(chunk).into()));
    }
    let mut moments = Vec::new();
    for turn in 0..args.turns {
        let clip = &clips[turn % clips.len()];
        let speech_frames = clip.len().div_ceil(frame_len);
        let frames = clip
            .chunks(frame_len)
            .map(|c| {
                let mut frame = c.to_vec();
                frame.resize(frame_len, 0);
                frame
            })
            .chain(std::iter::repeat_n(vec![0; frame_len], gap_frames));
        for (i, frame) in frames.enumerate() {
            schedule.tick().await;
            let chunk = AudioChunk::new(frame, RATE);
            let _ = handle
                .commands
                .send(Command::Input(SystemFrame::InputAudio(chunk).into()));
            if i + 1 == speech_frames {
                moments.push((Kind::End, now()));
            }
        }
    }
    let _ = handle.commands.send(Command::Hangup);
    moments.extend(replies.await?);
    moments.extend(turns.await?);
    handle.report.await?;
    Ok(moments)
}

/// Pipecat's moments, from `bench/pipecat/voice.py` on the same clips (WAVs in `wavs`).
async fn pipecat(args: &Args, wavs: &Path, fakes: Arc<Fakes>) -> anyhow::Result<Vec<(Kind, f64)>> {
    let address = bench::fake_voice::serve(fakes, 1.0).await?;
    let argv = [
        "--deepgram-url".to_owned(),
        format!("ws://{address}"),
        "--base-url".to_owned(),
        format!("http://{address}/v1"),
        "--wavs".to_owned(),
        wavs.display().to_string(),
        "--turns".to_owned(),
        args.turns.to_string(),
        "--sentences".to_owned(),
        SENTENCES.len().to_string(),
        "--gap".to_owned(),
        args.gap.to_string(),
    ];
    let text = bench::speech::run_python(&args.python, "pipecat/voice.py", &argv).await?;
    text.lines()
        .filter_map(|l| l.strip_prefix("PIPECAT_EVENT="))
        .map(|line| {
            let (kind, at) = line.split_once(' ').context("a bad event line")?;
            let kind = match kind {
                "end" => Kind::End,
                "vad_stop" => Kind::VadStop,
                "turn" => Kind::TurnEnd,
                "audio" => Kind::Audio,
                other => anyhow::bail!("voice.py printed an unknown event {other:?}"),
            };
            Ok((
                kind,
                at.parse().with_context(|| format!("a bad time: {at:?}"))?,
            ))
        })
        .collect()
}

/// One turn's moments, in ms after the caller's last speech.
#[derive(Debug, Clone, Copy)]
struct Row {
    vad_stop: f64,
    turn_end: f64,
    stt: f64,
    llm_sent: f64,
    llm_first: f64,
    tts_sent: f64,
    tts_first: f64,
    audio: f64,
}

/// Each turn's row, from the moments between its end of speech and the next one; why not, for a
/// turn the runtime did not answer before the next one.
fn rows(mut moments: Vec<(Kind, f64)>, log: Vec<(Stage, SystemTime)>) -> Vec<Result<Row, String>> {
    moments.extend(log.into_iter().map(|(s, at)| (Kind::Provider(s), secs(at))));
    moments.sort_by(|a, b| a.1.total_cmp(&b.1));
    if std::env::var_os("VOICE_TRACE").is_some() {
        let t0 = moments.first().map_or(0.0, |m| m.1);
        for (kind, at) in &moments {
            eprintln!("{:>9.3} {kind:?}", at - t0);
        }
    }
    let ends: Vec<f64> = moments
        .iter()
        .filter(|(k, _)| *k == Kind::End)
        .map(|m| m.1)
        .collect();
    (0..ends.len())
        .map(|turn| {
            let since = turn.checked_sub(1).map_or(f64::NEG_INFINITY, |t| ends[t]);
            let until = ends.get(turn + 1).copied().unwrap_or(f64::INFINITY);
            row(&moments, since, ends[turn], until).map_err(|e| e.to_string())
        })
        .collect()
}

/// The row of the turn whose speech ended at `end`, the previous one at `since` and the next
/// one at `until`.
fn row(moments: &[(Kind, f64)], since: f64, end: f64, until: f64) -> anyhow::Result<Row> {
    let first = |kind: Kind, after: f64| {
        moments
            .iter()
            .find(|&&(k, at)| k == kind && at >= after && at < until)
            .map(|&(_, at)| at)
            .with_context(|| format!("no {kind:?} before the next turn"))
    };
    let audio = first(Kind::Audio, end)?;
    let tts_sent = first(Kind::Provider(Stage::TtsRequest), end)?;
    // The chat request that answered: the last one before the speech request (a draft may have
    // started before the caller's last words, after the previous turn).
    let llm_sent = moments
        .iter()
        .rev()
        .find(|&&(k, at)| k == Kind::Provider(Stage::LlmRequest) && at > since && at <= tts_sent)
        .map(|&(_, at)| at)
        .context("no chat request")?;
    let after = |at: f64| (at - end) * 1000.0;
    Ok(Row {
        vad_stop: after(first(Kind::VadStop, end)?),
        turn_end: after(first(Kind::TurnEnd, end)?),
        stt: after(first(Kind::Provider(Stage::SttFinal), end)?),
        llm_sent: after(llm_sent),
        llm_first: after(first(Kind::Provider(Stage::LlmFirstToken), llm_sent)?),
        tts_sent: after(tts_sent),
        tts_first: after(first(Kind::Provider(Stage::TtsFirstAudio), tts_sent)?),
        audio: after(audio),
    })
}

const HEADER: &str = "| runtime | turn | VAD stop | turn ended | STT final | LLM request | LLM first token | TTS request | TTS first audio | **first bot audio** |";

fn print_row(name: &str, turn: &str, r: &Row) {
    println!(
        "| {name} | {turn} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | **{:.0}** |",
        r.vad_stop, r.turn_end, r.stt, r.llm_sent, r.llm_first, r.tts_sent, r.tts_first, r.audio
    );
}

/// The median of each column.
fn median(rows: &[Row]) -> Row {
    let p50 = |f: fn(&Row) -> f64| {
        let mut v: Vec<Duration> = rows
            .iter()
            .map(|r| Duration::from_secs_f64(f(r).max(0.0) / 1000.0))
            .collect();
        v.sort();
        ms(percentile(&v, 0.5))
    };
    Row {
        vad_stop: p50(|r| r.vad_stop),
        turn_end: p50(|r| r.turn_end),
        stt: p50(|r| r.stt),
        llm_sent: p50(|r| r.llm_sent),
        llm_first: p50(|r| r.llm_first),
        tts_sent: p50(|r| r.tts_sent),
        tts_first: p50(|r| r.tts_first),
        audio: p50(|r| r.audio),
    }
}

/// p50, p95 and max of the voice-to-voice column.
fn spread(rows: &[Row]) -> [f64; 3] {
    let mut v: Vec<Duration> = rows
        .iter()
        .map(|r| Duration::from_secs_f64(r.audio / 1000.0))
        .collect();
    v.sort();
    [
        ms(percentile(&v, 0.5)),
        ms(percentile(&v, 0.95)),
        ms(v[v.len() - 1]),
    ]
}

/// Each sentence spoken by Piper at 8 kHz without its quiet ends, and written as `turn_N.wav`.
async fn clips(args: &Args, wavs: &Path) -> anyhow::Result<Vec<Vec<i16>>> {
    let clips = bench::speech::piper_clips(&args.models, SENTENCES, RATE).await?;
    for (i, clip) in clips.iter().enumerate() {
        std::fs::write(
            wavs.join(format!("turn_{i}.wav")),
            audio::wav::encode(RATE, 1, clip)?,
        )?;
    }
    Ok(clips)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let clips = clips(&args, dir.path()).await?;
    let latencies = latencies(&args);
    let sentences: Vec<(String, Duration)> = (0..args.turns)
        .map(|t| {
            let i = t % SENTENCES.len();
            (SENTENCES[i].to_owned(), voiced(&clips[i], RATE))
        })
        .collect();
    println!(
        "voice to voice, {} turns each: a whole sentence (Piper, 8 kHz), then {} s of silence; STT final {} ms after the speech, LLM first token {} ms, TTS first audio {} ms, each ± {:.0} %",
        args.turns,
        args.gap,
        args.stt_ms,
        args.llm_ms,
        args.tts_ms,
        args.jitter * 100.0
    );
    let mut results: Vec<(&str, Vec<Result<Row, String>>)> = Vec::new();
    let fakes = Fakes::new(latencies, &sentences, args.seed);
    let moments = vox(&args, &clips, fakes.clone()).await?;
    results.push(("vox smart", rows(moments, fakes.log())));
    if args.python != "none" {
        let fakes = Fakes::new(latencies, &sentences, args.seed);
        let moments = pipecat(&args, dir.path(), fakes.clone()).await?;
        results.push(("Pipecat 1.14 Smart Turn v3", rows(moments, fakes.log())));
    }
    println!("each turn, ms after the caller's last speech:");
    println!("{HEADER}");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, rows) in &results {
        for (i, row) in rows.iter().enumerate() {
            match row {
                Ok(row) => print_row(name, &(i + 1).to_string(), row),
                Err(why) => println!(
                    "| {name} | {} | not answered before the next turn: {why} |||||||| ",
                    i + 1
                ),
            }
        }
    }
    let answered: Vec<(&str, Vec<Row>, usize)> = results
        .iter()
        .map(|(name, rows)| {
            let ok: Vec<Row> = rows
                .iter()
                .filter_map(|r| r.as_ref().ok().copied())
                .collect();
            (*name, ok, rows.len())
        })
        .collect();
    anyhow::ensure!(
        answered.iter().all(|(_, ok, _)| !ok.is_empty()),
        "a runtime answered no turn"
    );
    println!("medians of the answered turns:");
    println!("{HEADER}");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, rows, _) in &answered {
        print_row(name, "p50", &median(rows));
    }
    println!("| runtime | answered | voice to voice p50 | p95 | max |");
    println!("|---|---|---|---|---|");
    for (name, rows, turns) in &answered {
        let [p50, p95, max] = spread(rows);
        println!(
            "| {name} | {} of {turns} | {p50:.0} ms | {p95:.0} ms | {max:.0} ms |",
            rows.len()
        );
    }
    let [v50, v95, _] = spread(&answered[0].1);
    print!("vox: p50 {v50:.0} ms (goal ≤ 550), p95 {v95:.0} ms (goal ≤ 700)");
    if let Some((_, pipecat, _)) = answered.get(1) {
        let [p50, p95, _] = spread(pipecat);
        print!(
            "; Pipecat − vox: p50 {:.0} ms (goal ≥ 100), p95 {:.0} ms; Pipecat / vox p50 ×{:.2}",
            p50 - v50,
            p95 - v95,
            p50 / v50
        );
    }
    println!();
    Ok(())
}
