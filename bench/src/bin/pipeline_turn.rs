//! Benchmark: the pipeline's own latency per turn, with providers that answer instantly.
//!
//! The whole assembled pipeline runs (WebRTC VAD → STT → user turn → LLM → TTS → paced output)
//! with the scripted zero-latency providers of `pipeline::testing`, so what is measured is the
//! pipeline: from the VAD deciding the caller stopped to the bot's first audio frame leaving,
//! per turn. The baseline, in the same run, is one frame crossing six processors that only
//! forward it (the runner's cost per hop times six). Goal: the turn under 5 ms at p99.

use anyhow::Context;
use audio::SampleRate;
use bench::speech::{ms, percentile};
use contracts::runtime_config::{BotSpec, ProviderSettings};
use pipeline::assemble::{self, Assembly, ProviderChains};
use pipeline::testing::{ScriptedLlm, ScriptedStt, ToneTts};
use pipeline::{
    AudioChunk, Command, Direction, Frame, Outbox, Processor, ProcessorError, SessionConfig,
    SystemFrame,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TURNS: usize = 300;
const HOPS: usize = 2_000;

fn summary(name: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let (p50, p99, max) = (
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
    );
    println!(
        "  {name}: n={} p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        samples.len(),
        ms(p50),
        ms(p99),
        ms(max)
    );
    (p50, p99)
}

#[derive(Debug)]
struct Forward;

#[async_trait::async_trait]
impl Processor for Forward {
    fn name(&self) -> &'static str {
        "forward"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        out.forward(frame, direction);
        Ok(())
    }
}

async fn hop_baseline() -> Vec<Duration> {
    let processors: Vec<Box<dyn Processor>> = (0..6)
        .map(|_| Box::new(Forward) as Box<dyn Processor>)
        .collect();
    let mut handle = pipeline::spawn(processors, SessionConfig::default());
    let mut samples = Vec::with_capacity(HOPS);
    for _ in 0..HOPS {
        let started = Instant::now();
        let _ = handle
            .commands
            .send(Command::Input(SystemFrame::Dtmf('1').into()));
        while let Some(frame) = handle.output.recv().await {
            if frame == Frame::System(SystemFrame::Dtmf('1')) {
                break;
            }
        }
        samples.push(started.elapsed());
    }
    let _ = handle.commands.send(Command::Hangup);
    samples
}

async fn turns(speech: &[i16]) -> anyhow::Result<Vec<Duration>> {
    let transcripts: Vec<String> = (0..TURNS)
        .map(|i| format!("Question number {i}."))
        .collect();
    let transcripts: Vec<&str> = transcripts.iter().map(String::as_str).collect();
    let replies: Vec<&str> = vec!["Sure."; TURNS];
    let mut tts = ToneTts::new("tone");
    tts.per_char = Duration::from_millis(4);
    let spec = BotSpec::new(
        "en-US",
        "bench",
        ProviderSettings::named("scripted"),
        ProviderSettings::named("scripted"),
        ProviderSettings::named("tone"),
    );
    let assembly = Assembly {
        providers: ProviderChains {
            stt: vec![Arc::new(ScriptedStt::new("scripted", &transcripts))],
            llm: vec![Arc::new(ScriptedLlm::texts("scripted", &replies))],
            tts: vec![Arc::new(tts)],
        },
        ..Assembly::default()
    };
    let processors = assemble::pipeline(&spec, assembly).map_err(anyhow::Error::msg)?;
    let mut handle = pipeline::spawn(processors, SessionConfig::default());
    let rate = SampleRate::Hz16000;
    for _ in 0..TURNS {
        for frame in speech.chunks(rate.frame_samples()) {
            let chunk = AudioChunk::new(frame.to_vec(), rate);
            let _ = handle
                .commands
                .send(Command::Input(SystemFrame::InputAudio(chunk).into()));
        }
        // The reply plays; the next question waits until the bot is done.
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), handle.output.recv())
                .await
                .context("a turn got no reply")?
                .context("the session ended")?;
            if frame == Frame::System(SystemFrame::BotStoppedSpeaking) {
                break;
            }
        }
    }
    let _ = handle.commands.send(Command::Hangup);
    let report = handle.report.await?;
    Ok(report
        .turns
        .iter()
        .filter_map(|t| t.first_audio_sent)
        .collect())
}

/// The pipeline's own latency per turn with zero-latency providers, against bare frame hops.
#[derive(Debug, clap::Parser)]
struct Args {
    /// Just the baseline (a frame across forwarding processors), as scripts/bench-pipecat reads it.
    #[arg(long)]
    hops_only: bool,
}

fn main() -> anyhow::Result<()> {
    let args = <Args as clap::Parser>::parse();
    // One second of speech, then the 0.8 s of silence the VAD needs to end the turn.
    let mut speech = bench::speech::speech_second()?;
    speech.extend(vec![0; 16_000]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let hops_only = args.hops_only;
    runtime.block_on(async {
        if hops_only {
            let (p50, p99) = summary(
                "vox: one frame across 6 forwarding processors",
                hop_baseline().await,
            );
            println!("VOX_P50_MS={:.6}", ms(p50));
            println!("VOX_P99_MS={:.6}", ms(p99));
            return Ok(());
        }
        println!("pipeline latency, zero-latency providers, {TURNS} turns, multi-threaded runtime");
        let (_, baseline) = summary(
            "baseline: one frame across 6 forwarding processors",
            hop_baseline().await,
        );
        let (_, turn) = summary(
            "turn: VAD stop → first bot audio frame sent",
            turns(&speech).await?,
        );
        println!(
            "  p99 ratio turn / baseline: ×{:.1}",
            turn.as_secs_f64() / baseline.as_secs_f64()
        );
        println!(
            "  goal: turn p99 under 5 ms: {}",
            if turn < Duration::from_millis(5) {
                "met"
            } else {
                "NOT met"
            }
        );
        Ok(())
    })
}
