//! The worker's in-process neural models (Smart Turn, Silero VAD, a Piper voice), loaded once at
//! start.

use crate::config::NeuralModels;
use anyhow::Context;
use pipeline::processors::{TurnModel, VoiceModel};
use providers::tts::PiperVoice;
use std::sync::Arc;

/// Smart Turn v3.2 as the pipeline's turn model.
#[derive(Debug)]
struct SmartTurn(neural::SmartTurn);

impl TurnModel for SmartTurn {
    fn probability(&self, audio: &[f32]) -> Result<f32, String> {
        self.0.probability(audio).map_err(|e| e.to_string())
    }
}

/// Silero VAD as the pipeline's voice model.
#[derive(Debug)]
struct Silero(Arc<neural::Silero>);

impl VoiceModel for Silero {
    fn classifier(
        &self,
        rate: audio::SampleRate,
    ) -> Result<Box<dyn audio::SpeechClassifier>, String> {
        let stream =
            neural::SileroStream::new(self.0.clone(), rate.hz()).map_err(|e| e.to_string())?;
        Ok(Box::new(neural::SileroFrames::new(stream)))
    }
}

fn runtime(models: &NeuralModels, setting: &str) -> anyhow::Result<neural::Runtime> {
    let library = models.onnxruntime.as_ref().with_context(|| {
        format!(
            "{setting} is set but VOX_ONNXRUNTIME is not: point it at libonnxruntime.so \
             (scripts/up unpacks it from PyPI's onnxruntime)"
        )
    })?;
    neural::Runtime::load(library).context("loading ONNX Runtime")
}

/// Silero VAD when `models` names it; a path set that cannot be loaded stops the worker.
pub fn voice_model(models: &NeuralModels) -> anyhow::Result<Option<Arc<dyn VoiceModel>>> {
    let Some(path) = &models.silero else {
        return Ok(None);
    };
    let runtime = runtime(models, "SILERO_VAD_MODEL")?;
    let model = neural::Silero::load(&runtime, path).context("loading SILERO_VAD_MODEL")?;
    tracing::info!(model = %path.display(), "Silero VAD loaded");
    Ok(Some(Arc::new(Silero(model))))
}

/// The turn model `models` names, or none when it names none; a path that is set but cannot be
/// loaded stops the worker (a misconfigured model should not go unnoticed until a call).
pub fn turn_model(models: &NeuralModels) -> anyhow::Result<Option<Arc<dyn TurnModel>>> {
    let Some(path) = &models.smart_turn else {
        return Ok(None);
    };
    let runtime = runtime(models, "SMART_TURN_MODEL")?;
    let model = neural::SmartTurn::load(&runtime, path).context("loading SMART_TURN_MODEL")?;
    // The first inference initialises the session's kernels; no call should pay for it.
    model
        .probability(&vec![0.0; 16_000])
        .context("a first Smart Turn inference")?;
    tracing::info!(model = %path.display(), "Smart Turn loaded");
    Ok(Some(Arc::new(SmartTurn(model))))
}

/// A Piper voice as the TTS provider's voice.
#[derive(Debug)]
struct Piper(Arc<neural::Piper>);

impl PiperVoice for Piper {
    fn espeak_voice(&self) -> &str {
        self.0.espeak_voice()
    }

    fn sample_rate(&self) -> u32 {
        self.0.sample_rate()
    }

    fn speak(&self, phonemes: &str) -> Result<Vec<i16>, String> {
        self.0.speak(phonemes).map_err(|e| e.to_string())
    }
}

/// The Piper voice `models` names, or none; a path that is set but cannot be loaded stops the
/// worker. At most as many sentences are synthesised at once as the host has cores (each run
/// keeps a core busy; more would only queue inside ONNX Runtime and hold more memory).
pub fn piper_voice(models: &NeuralModels) -> anyhow::Result<Option<Arc<dyn PiperVoice>>> {
    let Some(path) = &models.piper else {
        return Ok(None);
    };
    let runtime = runtime(models, "PIPER_VOICE_MODEL")?;
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let voice = neural::Piper::load(&runtime, path, cores).context("loading PIPER_VOICE_MODEL")?;
    // The first run initialises the session's kernels; no caller should wait for it.
    voice.speak("hɛlˈoʊ.").context("a first Piper synthesis")?;
    tracing::info!(model = %path.display(), "Piper voice loaded");
    Ok(Some(Arc::new(Piper(voice))))
}
