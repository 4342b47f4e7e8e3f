//! Silero VAD 5: the probability that each 32 ms window of caller audio is speech.
//!
//! The model is `silero_vad.onnx` from PyPI's `silero-vad` 6.2.3 (`silero_vad/data/`, MIT, by
//! Silero Team). Per pipecat's `SileroOnnxModel` (`pipecat/audio/vad/silero.py` in `pipecat-ai`
//! 1.14): inputs `input` `[1, context + window]` (at 8 kHz 32 + 256 samples, at 16 kHz 64 + 512,
//! the context being the previous window's last samples), `state` `[2, 1, 128]` and `sr`;
//! outputs `output` `[1, 1]` and the next `stateN`. The recurrent state drifts during long
//! non-speech, so a stream resets it after 2 s of audio at the first clearly quiet run of windows
//! (five below 0.1), as pipecat does.

use crate::runtime::Sessions;
use crate::{NeuralError, Runtime};
use ort::value::Tensor;
use std::path::Path;
use std::sync::Arc;

const RESET_AFTER_SECS: f32 = 2.0;
const RESET_MAX_CONFIDENCE: f32 = 0.1;
const RESET_LOW_WINDOWS: u32 = 5;

/// The loaded model; shared by every call.
#[derive(Debug)]
pub struct Silero {
    sessions: Sessions,
}

impl Silero {
    pub fn load(runtime: &Runtime, model: &Path) -> Result<Arc<Self>, NeuralError> {
        Ok(Arc::new(Self {
            sessions: Sessions::open(runtime, model)?,
        }))
    }
}

/// One call's detector state at 8 or 16 kHz.
#[derive(Debug)]
pub struct SileroStream {
    model: Arc<Silero>,
    rate: u32,
    state: Vec<f32>,
    context: Vec<f32>,
    windows_since_reset: u32,
    low_windows: u32,
}

impl SileroStream {
    /// A stream at `rate` Hz (8000 or 16000).
    pub fn new(model: Arc<Silero>, rate: u32) -> Result<Self, NeuralError> {
        if rate != 8_000 && rate != 16_000 {
            return Err(NeuralError::Inference(format!(
                "Silero VAD runs at 8000 or 16000 Hz, not {rate}"
            )));
        }
        let mut stream = Self {
            model,
            rate,
            state: Vec::new(),
            context: Vec::new(),
            windows_since_reset: 0,
            low_windows: 0,
        };
        stream.reset();
        Ok(stream)
    }

    /// Samples per window: 256 at 8 kHz, 512 at 16 kHz.
    pub fn window(&self) -> usize {
        if self.rate == 8_000 { 256 } else { 512 }
    }

    fn reset(&mut self) {
        self.state = vec![0.0; 2 * 128];
        self.context = vec![0.0; self.window() / 8];
        self.windows_since_reset = 0;
    }

    /// The speech probability of one window of exactly [`Self::window`] samples in [-1, 1].
    pub fn probability(&mut self, window: &[f32]) -> Result<f32, NeuralError> {
        if window.len() != self.window() {
            return Err(NeuralError::Inference(format!(
                "a Silero window at {} Hz is {} samples, not {}",
                self.rate,
                self.window(),
                window.len()
            )));
        }
        let mut input = self.context.clone();
        input.extend_from_slice(window);
        let width = input.len();
        let input = Tensor::from_array(([1usize, width], input)).map_err(NeuralError::inference)?;
        let state = Tensor::from_array(([2usize, 1, 128], self.state.clone()))
            .map_err(NeuralError::inference)?;
        let sr =
            Tensor::from_array(((), vec![i64::from(self.rate)])).map_err(NeuralError::inference)?;
        let (probability, next) = self.model.sessions.with(|session| {
            let outputs = session
                .run(ort::inputs!["input" => input, "state" => state, "sr" => sr])
                .map_err(NeuralError::inference)?;
            let (_, out) = outputs["output"]
                .try_extract_tensor::<f32>()
                .map_err(NeuralError::inference)?;
            let (_, next) = outputs["stateN"]
                .try_extract_tensor::<f32>()
                .map_err(NeuralError::inference)?;
            Ok((out.first().copied().unwrap_or(0.0), next.to_vec()))
        })?;
        self.state = next;
        let keep = self.context.len();
        self.context.copy_from_slice(&window[window.len() - keep..]);
        self.windows_since_reset += 1;
        self.low_windows = if probability < RESET_MAX_CONFIDENCE {
            self.low_windows + 1
        } else {
            0
        };
        let due = self.windows_since_reset as f32 * self.window() as f32 / self.rate as f32
            >= RESET_AFTER_SECS;
        if due && self.low_windows >= RESET_LOW_WINDOWS {
            self.reset();
        }
        Ok(probability)
    }
}

/// A stream fed 20 ms frames, as the voice detector classifies them: each whole window is scored
/// as it fills and a frame is answered with the latest window's probability.
#[derive(Debug)]
pub struct SileroFrames {
    stream: SileroStream,
    pending: Vec<f32>,
    last: f32,
}

impl SileroFrames {
    pub fn new(stream: SileroStream) -> Self {
        Self {
            stream,
            pending: Vec::new(),
            last: 0.0,
        }
    }
}

impl audio::SpeechClassifier for SileroFrames {
    fn confidence(&mut self, frame: &[i16]) -> f32 {
        self.pending
            .extend(frame.iter().map(|&s| f32::from(s) / 32_768.0));
        let window = self.stream.window();
        while self.pending.len() >= window {
            let scored: Vec<f32> = self.pending.drain(..window).collect();
            self.last = self.stream.probability(&scored).unwrap_or_else(|error| {
                tracing::warn!(%error, "Silero VAD failed on a window; taken as quiet");
                0.0
            });
        }
        self.last
    }
}
