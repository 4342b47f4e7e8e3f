//! The local neural voice: Piper (ONNX Runtime, phonemes from espeak-ng) as the worker loads it,
//! heard by whisper.

use audio::SampleRate;
use providers::tts::PiperTts;
use test_support::paths::{ONNXRUNTIME_LIB, PIPER_ONNX, model};

const LINE: &str = "Hello, thanks for calling the dental clinic. How can I help you today?";

/// The words of `text`, lower case, without punctuation.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whisper hears Piper's words at the phone's 8 kHz and at 16 kHz, in about the time a person
/// takes to say them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_piper_voice_says_its_line_and_whisper_hears_the_words() {
    let models = fleet::config::NeuralModels {
        onnxruntime: Some(model(ONNXRUNTIME_LIB)),
        piper: Some(model(PIPER_ONNX)),
        ..Default::default()
    };
    let voice = fleet::models::piper_voice(&models)
        .unwrap()
        .expect("a voice");
    let tts = PiperTts::new(voice);
    for rate in [SampleRate::Hz8000, SampleRate::Hz16000] {
        let samples = tts.speak(LINE, rate).await.unwrap();
        let secs = samples.len() as f32 / rate.hz() as f32;
        assert!((2.5..8.0).contains(&secs), "{secs} s at {rate:?}");
        let heard = test_support::whisper::transcribe(&samples, rate).await;
        // Piper samples its voice (noise_scale), and whisper's tiny model may miss a word of a
        // take: most words, not every one, must come through.
        let said = words(LINE);
        let heard_words = words(&heard);
        let found = said.iter().filter(|w| heard_words.contains(w)).count();
        assert!(
            found * 10 >= said.len() * 8,
            "{found} of {} words in {heard:?} at {rate:?}",
            said.len()
        );
    }
}

/// A voice file that is not a Piper voice stops the worker with the setting's name, rather than
/// failing each call later.
#[test]
fn a_piper_voice_that_does_not_load_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("voice.onnx");
    std::fs::write(&onnx, b"not a model").unwrap();
    std::fs::write(dir.path().join("voice.onnx.json"), b"{}").unwrap();
    let models = fleet::config::NeuralModels {
        onnxruntime: Some(model(ONNXRUNTIME_LIB)),
        piper: Some(onnx),
        ..Default::default()
    };
    let error = fleet::models::piper_voice(&models).unwrap_err();
    assert!(
        format!("{error:#}").contains("PIPER_VOICE_MODEL"),
        "{error:#}"
    );
}
