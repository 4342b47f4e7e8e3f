//! The local neural models vox runs in process through ONNX Runtime: Smart Turn, Silero VAD and
//! Piper voices.
//!
//! [`Runtime`] loads ONNX Runtime's shared library once per process; each model keeps a small pool
//! of sessions shared by all calls. Nothing here downloads: model files come from PyPI wheels the
//! scripts unpack (`scripts/lib/models.sh`).

pub mod features;
pub mod piper;
mod runtime;
pub mod silero;
pub mod smart_turn;

pub use piper::Piper;
pub use runtime::{LIBRARY_ENV, Runtime};
pub use silero::{Silero, SileroFrames, SileroStream};
pub use smart_turn::SmartTurn;

use std::path::PathBuf;

/// Why a model could not be loaded or run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NeuralError {
    #[error("ONNX Runtime could not be loaded: {0}")]
    Runtime(String),
    #[error("model {path}: {message}")]
    Model { path: PathBuf, message: String },
    #[error("inference failed: {0}")]
    Inference(String),
}

impl NeuralError {
    pub(crate) fn inference(error: impl std::fmt::Display) -> Self {
        Self::Inference(error.to_string())
    }
}
