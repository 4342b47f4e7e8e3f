//! Benchmark: barge-in, how often a backchannel stops the bot and how fast a real interruption
//! silences it, for vox's interruption rules against stopping at the VAD's start.
//!
//! Each trial is a call of its own: the pipeline a worker assembles for a bot with the default
//! turn-taking (WebRTC VAD), against `bench::fake_voice` on loopback (a Deepgram-compatible live
//! transcription whose final comes 100 ms after the speech, chat 250 ms, speech 80 ms, each ±20 %).
//! The bot speaks its first message (4 s of audio); a second into it the caller says one
//! utterance, spoken by the Piper voice at 8 kHz and fed in real time in 20 ms frames: a
//! backchannel ("Mhm.", "Yeah.", "Uh huh." …) or a real interruption ("Wait, I have a question
//! about my bill." …); then 3 s of silence. Trials run eight at a time.
//!
//! The baseline is measured on the same trials: a runtime that stops the bot when its VAD hears
//! the caller start (Pipecat's default, and vox's own before its interruption rules) stops it for
//! every backchannel the VAD started on, at that start. vox pauses the bot earlier, at the VAD's
//! onset (its first voiced frame), and decides with its `interruptions` rules (defaults: at least 0.5 s of speech and a word that is not a backchannel);
//! a backchannel or a sound without words lets it go on where it paused.
//!
//! Measured: false interruptions per 100 backchannels (a `real` verdict on a backchannel: the bot
//! dropped what it had left to say; for the baseline, a VAD start); real interruptions the bot
//! talked through; and, from the caller's first speech frame, when the caller stops hearing the
//! bot (the last bot frame sent before a gap, plus the 60 ms the output sends ahead and the frame's
//! own 20 ms) and when vox's verdict came. `--vad-start` sets the VAD's start (0.2 s by default).

use anyhow::Context;
use audio::SampleRate;
use bench::fake_voice::{Fakes, Latencies, voiced};
use bench::speech::{ms, percentile};
use clap::Parser;
use futures_util::StreamExt;
use pipeline::assemble::Assembly;
use pipeline::{AudioChunk, CallEvent, Command, DataFrame, Frame, InterruptionKind, SystemFrame};
use providers::factory::build_chains;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

const RATE: SampleRate = SampleRate::Hz8000;
const FRAME: Duration = Duration::from_millis(20);
/// How far ahead of playing the output sends a frame, and a frame's length.
const AHEAD: Duration = Duration::from_millis(80);

const BACKCHANNELS: &[&str] = &[
    "Mhm.", "Yeah.", "Okay.", "Uh huh.", "Right.", "I see.", "Sure.", "Yes.",
];
const INTERRUPTIONS: &[&str] = &[
    "Wait, I have a question about my bill.",
    "Sorry, can you repeat the time?",
    "No, that is not what I asked for.",
    "Hold on, I need to check my calendar.",
];

/// Barge-in figures for vox's interruption rules and for interrupting on any speech.
#[derive(Debug, Parser)]
struct Args {
    /// Each utterance is said this many times per rule.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Where `scripts/test` unpacked the Piper voice.
    #[arg(long, default_value = "target/models")]
    models: PathBuf,
    /// Calls at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// The VAD's start, in seconds of speech.
    #[arg(long, default_value_t = 0.2)]
    vad_start: f32,
}

/// What one trial saw, from the caller's first speech frame.
#[derive(Debug)]
struct Trial {
    backchannel: bool,
    /// When the caller stopped hearing the bot; `None`: it talked on.
    silent: Option<Duration>,
    /// When the VAD's start came (the baseline stops the bot there), and the caller would stop
    /// hearing it.
    vad_start: Option<Duration>,
    /// The barge-in stage's verdict, and when.
    verdict: Option<(InterruptionKind, Duration)>,
}

/// One call: the bot's first message, the caller's utterance a second into it.
async fn trial(
    vad: audio::VadParams,
    text: &str,
    clip: &[i16],
    backchannel: bool,
    seed: u64,
) -> anyhow::Result<Trial> {
    let latencies = Latencies {
        stt: Duration::from_millis(100),
        llm: Duration::from_millis(250),
        tts: Duration::from_millis(80),
        jitter: 0.2,
    };
    let fakes = Fakes::new(latencies, &[(text.to_owned(), voiced(clip, RATE))], seed);
    let address = bench::fake_voice::serve(fakes, 4.0).await?;
    let mut spec = bench::fake_voice::bot();
    spec.first_message =
        Some("Hello, this is the dental clinic calling about your appointment.".to_owned());
    let env = bench::fake_voice::provider_env(address);
    let assembly = Assembly {
        providers: build_chains(&spec, &env).context("build the provider chains")?,
        vad,
        ..Assembly::default()
    };
    let handle = bench::speech::spawn_phone_call(&spec, assembly)?;
    let (first_audio, mut started) = tokio::sync::watch::channel(None::<Instant>);
    let mut output = handle.output;
    let frames = tokio::spawn(async move {
        let mut sent = Vec::new();
        while let Some(frame) = output.recv().await {
            if let Frame::Data(DataFrame::OutputAudio(_)) = frame {
                let now = Instant::now();
                first_audio.send_if_modified(|at| {
                    let first = at.is_none();
                    at.get_or_insert(now);
                    first
                });
                sent.push(now);
            }
        }
        sent
    });
    let mut upstream = handle.upstream;
    let verdicts = tokio::spawn(async move {
        let mut verdicts = Vec::new();
        while let Some(frame) = upstream.recv().await {
            match frame {
                Frame::System(SystemFrame::Call(CallEvent::Interruption(record))) => {
                    verdicts.push((Some(record.kind), Instant::now()))
                }
                Frame::System(SystemFrame::UserStartedSpeaking) => {
                    verdicts.push((None, Instant::now()))
                }
                _ => {}
            }
        }
        verdicts
    });
    let frame_len = RATE.frame_samples();
    let mut schedule = tokio::time::interval(FRAME);
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let feed = |samples: Vec<i16>| {
        let chunk = AudioChunk::new(samples, RATE);
        let _ = handle
            .commands
            .send(Command::Input(SystemFrame::InputAudio(chunk).into()));
    };
    // Quiet until a second into the bot's first message.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        schedule.tick().await;
        feed(vec![0; frame_len]);
        let at = *started.borrow_and_update();
        if at.is_some_and(|at| at.elapsed() >= Duration::from_secs(1)) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the bot never spoke");
    }
    let mut onset = None;
    for chunk in clip.chunks(frame_len) {
        schedule.tick().await;
        let mut frame = chunk.to_vec();
        frame.resize(frame_len, 0);
        feed(frame);
        onset.get_or_insert_with(Instant::now);
    }
    for _ in 0..150 {
        schedule.tick().await;
        feed(vec![0; frame_len]);
    }
    let _ = handle.commands.send(Command::Hangup);
    let onset = onset.context("an empty clip")?;
    let sent = frames.await?;
    let verdicts = verdicts.await?;
    handle.report.await?;
    // The bot's last frame before the first gap after the caller began.
    let after: Vec<Instant> = sent.into_iter().filter(|&at| at >= onset).collect();
    let gap = Duration::from_millis(100);
    let silent = after
        .windows(2)
        .find(|pair| pair[1] - pair[0] > gap)
        .map(|pair| pair[0])
        .or_else(|| after.last().copied().filter(|&last| last.elapsed() > gap))
        .map(|last| (last + AHEAD).saturating_duration_since(onset));
    let after_onset = |at: Instant| at >= onset;
    Ok(Trial {
        backchannel,
        silent,
        vad_start: verdicts
            .iter()
            .find(|&&(kind, at)| kind.is_none() && after_onset(at))
            .map(|&(_, at)| at + AHEAD - onset),
        verdict: verdicts
            .iter()
            .find_map(|&(kind, at)| kind.filter(|_| after_onset(at)).map(|k| (k, at - onset))),
    })
}

/// p50 and p99 of `samples`, in ms; dashes when there are none.
fn quantiles(mut samples: Vec<Duration>) -> String {
    if samples.is_empty() {
        return "— | —".to_owned();
    }
    samples.sort();
    format!(
        "{:.0} ms | {:.0} ms",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99))
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let said: Vec<&str> = BACKCHANNELS.iter().chain(INTERRUPTIONS).copied().collect();
    let clips = bench::speech::piper_clips(&args.models, &said, RATE).await?;
    let vad = audio::VadParams {
        start_secs: args.vad_start,
        ..audio::VadParams::default()
    };
    println!(
        "barge-in: {} backchannels and {} real interruptions, each a second into the bot's first message (Piper, 8 kHz); VAD start {} s",
        BACKCHANNELS.len() * args.rounds,
        INTERRUPTIONS.len() * args.rounds,
        args.vad_start
    );
    let jobs: Vec<_> = (0..args.rounds)
        .flat_map(|round| (0..said.len()).map(move |i| (round, i)))
        .collect();
    let trials: Vec<Trial> = futures_util::stream::iter(jobs)
        .map(|(round, i)| {
            let clip = &clips[i];
            let text = said[i];
            async move {
                trial(
                    vad,
                    text,
                    clip,
                    i < BACKCHANNELS.len(),
                    (round * 100 + i) as u64,
                )
                .await
                .with_context(|| format!("{text:?}, round {round}"))
            }
        })
        .buffer_unordered(args.parallel)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let (backchannels, real): (Vec<&Trial>, Vec<&Trial>) =
        trials.iter().partition(|t| t.backchannel);
    let per_100 = |n: usize| n as f64 * 100.0 / backchannels.len().max(1) as f64;
    let heard = backchannels
        .iter()
        .filter(|t| t.vad_start.is_some())
        .count();
    let false_real = backchannels
        .iter()
        .filter(|t| matches!(t.verdict, Some((InterruptionKind::Real, _))))
        .count();
    let went_on = backchannels
        .iter()
        .filter(|t| {
            matches!(
                t.verdict,
                Some((InterruptionKind::Backchannel | InterruptionKind::False, _))
            )
        })
        .count();
    let talked_through = real
        .iter()
        .filter(|t| !matches!(t.verdict, Some((InterruptionKind::Real, _))))
        .count();
    println!(
        "| rule | false interruptions per 100 backchannels | real interruptions talked through | caller speech → bot silent p50 | p99 | → verdict p50 | p99 |"
    );
    println!("|---|---|---|---|---|---|---|");
    let at_start = quantiles(real.iter().filter_map(|t| t.vad_start).collect());
    println!(
        "| baseline: the VAD's start stops the bot | {:.0} | {} of {} | {at_start} | {at_start} |",
        per_100(heard),
        real.iter().filter(|t| t.vad_start.is_none()).count(),
        real.len()
    );
    let silent = quantiles(real.iter().filter_map(|t| t.silent).collect());
    println!(
        "| vox: pause at the VAD's onset, then its rules | {:.0} ({went_on} of {} went on where they paused) | {talked_through} of {} | {silent} | {} |",
        per_100(false_real),
        backchannels.len(),
        real.len(),
        quantiles(real.iter().filter_map(|t| t.verdict.map(|v| v.1)).collect()),
    );
    Ok(())
}
