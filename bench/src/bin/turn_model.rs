//! Benchmark: what the in-process neural models cost a call.
//!
//! Smart Turn v3.2 per decision (8 kHz phone audio resampled to 16 kHz, Whisper features, the
//! model), and Silero VAD per 20 ms frame against WebRTC's VAD (the baseline, timed in the same
//! run on the same audio). Both run as the worker runs them: ONNX Runtime loaded from PyPI's
//! wheel, one thread per session. Needs `scripts/test`'s model files (`--models`).

use anyhow::Context;
use audio::{Resampler, SampleRate, VadParams, VoiceDetector, wav};
use bench::speech::{ms, percentile};
use clap::Parser;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What Smart Turn costs per decision and Silero VAD per frame, against WebRTC's VAD.
#[derive(Debug, Parser)]
struct Args {
    /// Where `scripts/test` unpacked ONNX Runtime and pipecat-ai's models.
    #[arg(long, default_value = "target/models")]
    models: PathBuf,
    /// Smart Turn decisions to time.
    #[arg(long, default_value_t = 200)]
    decisions: usize,
    /// Seconds of call audio each VAD hears.
    #[arg(long, default_value_t = 600)]
    seconds: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let library = args
        .models
        .join("onnxruntime/onnxruntime/capi/libonnxruntime.so.1.32.0");
    let data = args.models.join("pipecat/pipecat/audio");
    let runtime =
        neural::Runtime::load(&library).context("load ONNX Runtime (scripts/test fetches it)")?;
    let turn = neural::SmartTurn::load(
        &runtime,
        &data.join("turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"),
    )?;
    let silero = neural::Silero::load(&runtime, &data.join("vad/data/silero_vad.onnx"))?;

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/audio/tests/data/speech_16k.wav"
    );
    let speech = wav::decode(&std::fs::read(path).context("read the speech sample")?)?.samples;
    let mut down = Resampler::new(SampleRate::Hz16000, SampleRate::Hz8000)?;
    let mut phone = down.process(&speech);
    phone.extend(down.flush());

    // Smart Turn: what the turn stage does at each pause, on the caller's 4.3 s sentence.
    let decide = |audio: &[i16]| -> anyhow::Result<(Duration, Duration, f32)> {
        let started = Instant::now();
        let mut up = Resampler::new(SampleRate::Hz8000, SampleRate::Hz16000)?;
        let mut wide = up.process(audio);
        wide.extend(up.flush());
        let samples: Vec<f32> = wide.iter().map(|&s| f32::from(s) / 32_768.0).collect();
        let mut window = vec![0.0; neural::features::WINDOW_SAMPLES.saturating_sub(samples.len())];
        window.extend_from_slice(&samples);
        let features_started = Instant::now();
        std::hint::black_box(neural::features::log_mel(&window));
        let features = features_started.elapsed();
        let p = turn.probability(&samples)?;
        Ok((started.elapsed() - features, features, p))
    };
    decide(&phone)?;
    let mut whole = Vec::with_capacity(args.decisions);
    let mut features = Vec::with_capacity(args.decisions);
    let mut probability = 0.0;
    for _ in 0..args.decisions {
        let (total, f, p) = decide(&phone)?;
        whole.push(total);
        features.push(f);
        probability = p;
    }
    whole.sort();
    features.sort();
    println!(
        "Smart Turn v3.2, one decision on 4.3 s of 8 kHz speech ({} decisions, p = {probability:.3}):",
        args.decisions
    );
    println!(
        "  resample + features + model: p50 {:.1} ms, p99 {:.1} ms (features alone p50 {:.1} ms)",
        ms(percentile(&whole, 0.5)),
        ms(percentile(&whole, 0.99)),
        ms(percentile(&features, 0.5)),
    );
    // From the end of the caller's speech to a decided turn: `vad` mode's 0.8 s stop against
    // `smart` mode's 0.2 s stop and the decision.
    let smart = 200.0 + ms(percentile(&whole, 0.5));
    println!(
        "  end of speech → turn decided: vad 800 ms (baseline), smart {smart:.0} ms (×{:.2})",
        smart / 800.0
    );

    // The VADs on the same call audio: speech, then as much quiet, over and over.
    let mut clip = phone.clone();
    clip.extend(vec![0; phone.len()]);
    let frames: Vec<&[i16]> = clip
        .chunks_exact(160)
        .cycle()
        .take(args.seconds * 50)
        .collect();
    let time = |detector: &mut VoiceDetector| -> (Duration, usize) {
        let started = Instant::now();
        let mut events = 0;
        for frame in &frames {
            events += usize::from(detector.push(frame).is_some());
        }
        (started.elapsed(), events)
    };
    let params = VadParams::default();
    let (webrtc, webrtc_events) = time(&mut VoiceDetector::new(SampleRate::Hz8000, params)?);
    let stream = neural::SileroStream::new(silero, 8_000)?;
    let classifier = Box::new(neural::SileroFrames::new(stream));
    let mut detector = VoiceDetector::with_classifier(SampleRate::Hz8000, params, classifier)?;
    let (silero_time, silero_events) = time(&mut detector);
    let per_frame = |d: Duration| d.as_secs_f64() * 1e6 / frames.len() as f64;
    println!(
        "VAD per 20 ms frame of 8 kHz call audio ({} s, {} frames):",
        args.seconds,
        frames.len()
    );
    println!(
        "  WebRTC (baseline): {:.1} µs, {webrtc_events} start/stop events",
        per_frame(webrtc)
    );
    println!(
        "  Silero: {:.1} µs ({:.1}× WebRTC), {silero_events} start/stop events; {:.2} % of a core per call",
        per_frame(silero_time),
        silero_time.as_secs_f64() / webrtc.as_secs_f64(),
        per_frame(silero_time) * 50.0 / 1e4,
    );
    Ok(())
}
