//! The worker's in-process neural models (Smart Turn, Silero VAD, a Piper voice), loaded once at
//! start.

use crate::config::NeuralModels;
use anyhow::Context;
use pipeline::processors::{TurnModel, VoiceModel};
use providers::tts::PiperVoice;
use std::sync::Arc;

/// Smart Turn v3.2 as the pipeline's turn model, at most `Gate::most` inferences at once (one a
/// core): decisions that come together beyond that wait their turn rather than share the cores and
/// all come late.
#[derive(Debug)]
struct SmartTurn {
    model: neural::SmartTurn,
    gate: Gate,
}

impl TurnModel for SmartTurn {
    fn probability(&self, audio: &[f32]) -> Result<f32, String> {
        let _running = self.gate.enter();
        self.model.probability(audio).map_err(|e| e.to_string())
    }
}

/// A counting gate for blocking threads.
#[derive(Debug)]
struct Gate {
    running: parking_lot::Mutex<usize>,
    freed: parking_lot::Condvar,
    most: usize,
}

impl Gate {
    fn new(most: usize) -> Self {
        Self {
            running: parking_lot::Mutex::new(0),
            freed: parking_lot::Condvar::new(),
            most: most.max(1),
        }
    }

    /// Waits for a place; the place is given back when the guard drops.
    fn enter(&self) -> impl Drop + '_ {
        let mut running = self.running.lock();
        while *running >= self.most {
            self.freed.wait(&mut running);
        }
        *running += 1;
        Leave(self)
    }
}

struct Leave<'a>(&'a Gate);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        *self.0.running.lock() -= 1;
        self.0.freed.notify_one();
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
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(Some(Arc::new(SmartTurn {
        model,
        gate: Gate::new(cores),
    })))
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

#[cfg(test)]
mod tests {
    use super::Gate;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_more_than_the_gates_number_of_inferences_run_at_once_and_every_one_runs() {
        let gate = Arc::new(Gate::new(2));
        let (now, most, done) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (gate, now, most, done) =
                    (gate.clone(), now.clone(), most.clone(), done.clone());
                std::thread::spawn(move || {
                    let _running = gate.enter();
                    let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(running, Ordering::SeqCst);
                    // Long enough for the others to pile up at the gate.
                    std::thread::yield_now();
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    now.fetch_sub(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 8);
        assert!(most.load(Ordering::SeqCst) <= 2, "{most:?}");
    }
}
