//! The whisper.cpp engine.
//!
//! One model loaded from a ggml file, shared by concurrent transcriptions (each on its own state).

use std::path::Path;
use std::sync::Arc;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// Why a transcription failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("loading the model {path}: {message}")]
    Load { path: String, message: String },
    #[error("whisper.cpp: {0}")]
    Inference(String),
}

/// One stretch of recognised speech, times from the start of the audio.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    /// whisper's probability that the stretch holds no speech.
    pub no_speech_prob: f32,
}

/// What the model heard.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Transcript {
    pub text: String,
    pub language: String,
    pub segments: Vec<Segment>,
}

/// A loaded model. Cloning shares it.
#[derive(Clone)]
pub struct Engine {
    ctx: Arc<WhisperContext>,
    /// CPU threads per transcription.
    pub threads: usize,
    multilingual: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("threads", &self.threads)
            .field("multilingual", &self.multilingual)
            .finish()
    }
}

impl Engine {
    /// Loads a ggml Whisper model (whisper.cpp's format) from disk; nothing is downloaded.
    pub fn load(path: &Path, threads: usize) -> Result<Self, EngineError> {
        whisper_rs::install_logging_hooks();
        let load_error = |message: String| EngineError::Load {
            path: path.display().to_string(),
            message,
        };
        if !path.is_file() {
            return Err(load_error("no such file".into()));
        }
        let text = path
            .to_str()
            .ok_or_else(|| load_error("the path is not UTF-8".into()))?;
        let ctx = WhisperContext::new_with_params(text, WhisperContextParameters::default())
            .map_err(|e| load_error(e.to_string()))?;
        let multilingual = ctx.is_multilingual();
        Ok(Self {
            ctx: Arc::new(ctx),
            threads: threads.max(1),
            multilingual,
        })
    }

    /// Whether the model knows languages other than English (`*.en` models do not).
    pub fn multilingual(&self) -> bool {
        self.multilingual
    }

    /// Transcribes 16 kHz mono audio in `[-1, 1]`, greedily. Blocking: call it off the async runtime.
    pub fn transcribe(
        &self,
        samples: &[f32],
        language: Option<&str>,
        prompt: Option<&str>,
    ) -> Result<Transcript, EngineError> {
        let inference = |e: whisper_rs::WhisperError| EngineError::Inference(e.to_string());
        let mut state = self.ctx.create_state().map_err(inference)?;
        let language = match (self.multilingual, language) {
            (false, _) => "en",
            (true, Some(lang)) => lang,
            (true, None) => "auto",
        };
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(self.threads as i32);
        params.set_language(Some(language));
        params.set_no_context(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_suppress_blank(true);
        if let Some(prompt) = prompt.filter(|p| !p.is_empty()) {
            params.set_initial_prompt(prompt);
        }
        // whisper.cpp refuses less than a second of audio; pad short utterances with silence.
        let padded;
        let audio = if samples.len() < 16_000 + 1_600 {
            let mut buf = samples.to_vec();
            buf.resize(16_000 + 1_600, 0.0);
            padded = buf;
            &padded[..]
        } else {
            samples
        };
        state.full(params, audio).map_err(inference)?;
        let mut segments = Vec::new();
        for segment in state.as_iter() {
            let text = segment.to_str_lossy().map_err(inference)?.trim().to_owned();
            if text.is_empty() {
                continue;
            }
            segments.push(Segment {
                start_ms: segment.start_timestamp() * 10,
                end_ms: segment.end_timestamp() * 10,
                text,
                no_speech_prob: segment.no_speech_probability(),
            });
        }
        let text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let detected = if language == "auto" {
            let id = state.full_lang_id_from_state();
            whisper_rs::get_lang_str(id).unwrap_or("en").to_owned()
        } else {
            language.to_owned()
        };
        Ok(Transcript {
            text,
            language: detected,
            segments,
        })
    }
}
