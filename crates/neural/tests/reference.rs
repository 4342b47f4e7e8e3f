//! Our Smart Turn and Silero VAD against pipecat-ai 1.14's reference code on the same audio.
//!
//! `reference.py` runs pipecat's own feature extraction (`_whisper_features.py` from the wheel)
//! and both models in Python's onnxruntime; ours must give the same features and probabilities.

use audio::{Resampler, SampleRate, wav};
use neural::{Runtime, Silero, SileroStream, SmartTurn};
use std::path::Path;
use test_support::paths::{
    ONNXRUNTIME_LIB, PIPECAT_DIR, REFERENCE_PYTHON, SILERO_ONNX, SMART_TURN_ONNX, model,
};

fn runtime() -> Runtime {
    Runtime::load(&model(ONNXRUNTIME_LIB)).unwrap()
}

/// The espeak-ng sentence of the audio crate's test data at 16 kHz, in [-1, 1].
fn sentence() -> Vec<i16> {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../audio/tests/data/speech_16k.wav"
    ))
    .unwrap();
    wav::decode(&bytes).unwrap().samples
}

fn float(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|&s| f32::from(s) / 32_768.0).collect()
}

fn write_f32(path: &Path, samples: &[f32]) {
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

struct Reference {
    features: Vec<f32>,
    smart_turn: f32,
    silero_8k: Vec<f32>,
}

/// pipecat's answers for `audio16` (Smart Turn) and `audio8` (Silero at 8 kHz).
fn reference(audio16: &[f32], audio8: &[f32]) -> Reference {
    let dir = tempfile::tempdir().unwrap();
    let (a16, a8, features) = (
        dir.path().join("a16.f32"),
        dir.path().join("a8.f32"),
        dir.path().join("features.f32"),
    );
    write_f32(&a16, audio16);
    write_f32(&a8, audio8);
    let output = std::process::Command::new(model(REFERENCE_PYTHON))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference.py"))
        .arg(model(PIPECAT_DIR))
        .args([&a16, &a8, &features])
        .output()
        .expect("run the reference (scripts/test installs its Python: models_reference_venv)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    Reference {
        features: read_f32(&features),
        smart_turn: json["smart_turn"].as_f64().unwrap() as f32,
        silero_8k: json["silero_8k"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect(),
    }
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn features_and_both_models_match_pipecats_reference_on_a_whole_and_a_cut_off_sentence() {
    let runtime = runtime();
    let turn = SmartTurn::load(&runtime, &model(SMART_TURN_ONNX)).unwrap();
    let silero = Silero::load(&runtime, &model(SILERO_ONNX)).unwrap();
    let whole = sentence();
    // Cut mid-sentence, then the 0.2 s of quiet a VAD stop follows.
    let mut cut = whole[..whole.len() * 2 / 5].to_vec();
    cut.extend(vec![0; 3_200]);
    for audio in [whole, cut] {
        let mut resampler = Resampler::new(SampleRate::Hz16000, SampleRate::Hz8000).unwrap();
        let mut narrow = resampler.process(&audio);
        narrow.extend(resampler.flush());
        let (audio16, audio8) = (float(&audio), float(&narrow));
        let expected = reference(&audio16, &audio8);

        let mut window = vec![0.0; neural::features::WINDOW_SAMPLES - audio16.len()];
        window.extend_from_slice(&audio16);
        let features = neural::features::log_mel(&window);
        let off = largest_difference(&features, &expected.features);
        assert!(off < 1e-3, "features differ by up to {off}");

        let probability = turn.probability(&audio16).unwrap();
        assert!(
            (probability - expected.smart_turn).abs() < 1e-3,
            "Smart Turn: ours {probability}, pipecat's {}",
            expected.smart_turn
        );

        let mut stream = SileroStream::new(silero.clone(), 8_000).unwrap();
        let ours: Vec<f32> = audio8
            .chunks_exact(stream.window())
            .map(|w| stream.probability(w).unwrap())
            .collect();
        let off = largest_difference(&ours, &expected.silero_8k);
        assert!(off < 1e-3, "Silero differs by up to {off}");
    }
}

#[test]
fn silero_hears_the_sentence_as_speech_and_silence_as_none() {
    let silero = Silero::load(&runtime(), &model(SILERO_ONNX)).unwrap();
    let mut stream = SileroStream::new(silero, 16_000).unwrap();
    let mut audio = vec![0.0; 16_000];
    audio.extend(float(&sentence()));
    let scores: Vec<f32> = audio
        .chunks_exact(stream.window())
        .map(|w| stream.probability(w).unwrap())
        .collect();
    let quiet = 16_000 / stream.window();
    assert!(scores[..quiet].iter().all(|&p| p < 0.1), "{scores:?}");
    let speech = scores[quiet..].iter().filter(|&&p| p > 0.5).count();
    assert!(speech > (scores.len() - quiet) / 2, "{scores:?}");
}

#[test]
fn a_window_of_the_wrong_length_and_an_unsupported_rate_are_refused_by_name() {
    let silero = Silero::load(&runtime(), &model(SILERO_ONNX)).unwrap();
    let error = SileroStream::new(silero.clone(), 24_000).unwrap_err();
    assert!(error.to_string().contains("24000"), "{error}");
    let mut stream = SileroStream::new(silero, 8_000).unwrap();
    let error = stream.probability(&[0.0; 100]).unwrap_err();
    assert!(error.to_string().contains("256"), "{error}");
}

#[test]
fn a_missing_model_file_is_named_in_the_error() {
    let error = SmartTurn::load(&runtime(), Path::new("/nonexistent/turn.onnx")).unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/turn.onnx"),
        "{error}"
    );
}
