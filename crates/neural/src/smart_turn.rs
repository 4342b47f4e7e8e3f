//! Smart Turn v3.2: whether the caller has finished their turn, from the sound of their last 8 s.
//!
//! The model is `smart-turn-v3.2-cpu.onnx` from PyPI's `pipecat-ai` 1.14
//! (`pipecat/audio/turn/smart_turn/data/`, BSD-2-Clause, by Daily): input `input_features`
//! `[1, 80, 800]` (Whisper log-mel, [`crate::features`]), output `logits` `[1, 1]`, already a
//! sigmoid probability that the turn is complete. As in pipecat's `LocalSmartTurnAnalyzerV3`, the
//! last 8 s of 16 kHz audio are kept (shorter audio is padded with silence at the start) and a
//! probability above 0.5 means complete.

use crate::features::{FRAMES, MELS, WINDOW_SAMPLES, log_mel};
use crate::runtime::Sessions;
use crate::{NeuralError, Runtime};
use ort::value::Tensor;
use std::path::Path;

/// The loaded model; shared by every call.
#[derive(Debug)]
pub struct SmartTurn {
    sessions: Sessions,
}

impl SmartTurn {
    pub fn load(runtime: &Runtime, model: &Path) -> Result<Self, NeuralError> {
        Ok(Self {
            sessions: Sessions::open(runtime, model)?,
        })
    }

    /// The probability that the turn in `audio` (16 kHz, in [-1, 1], ending now) is complete.
    /// Blocking (about 10–20 ms of one core): run it off the call's task.
    pub fn probability(&self, audio: &[f32]) -> Result<f32, NeuralError> {
        let window = if audio.len() >= WINDOW_SAMPLES {
            audio[audio.len() - WINDOW_SAMPLES..].to_vec()
        } else {
            let mut padded = vec![0.0; WINDOW_SAMPLES - audio.len()];
            padded.extend_from_slice(audio);
            padded
        };
        let features = log_mel(&window);
        let input = Tensor::from_array(([1usize, MELS, FRAMES], features.into_boxed_slice()))
            .map_err(NeuralError::inference)?;
        self.sessions.with(|session| {
            let outputs = session
                .run(ort::inputs!["input_features" => input])
                .map_err(NeuralError::inference)?;
            let (_, probability) = outputs["logits"]
                .try_extract_tensor::<f32>()
                .map_err(NeuralError::inference)?;
            probability
                .first()
                .copied()
                .ok_or_else(|| NeuralError::Inference("empty logits".into()))
        })
    }
}
