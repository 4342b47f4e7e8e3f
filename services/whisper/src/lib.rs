//! Local speech-to-text for vox.
//!
//! Whisper.cpp in its own process (`vox-whisper`), behind the OpenAI-compatible transcription
//! route.
//!
//! Fleet workers reach it through the `whisper` STT provider (per utterance, like any whisper
//! server), so one model in memory serves every worker on a host and whisper's CPU-heavy decoding
//! never runs on a call's threads. The local LLM is a sidecar of the same shape (`vox-llm`); each
//! links its own ggml, which is why the two never share a process.

pub mod convert;
pub mod engine;
pub mod mel;
pub mod server;

pub use convert::{ConvertError, Converted, convert};
pub use engine::{Engine, EngineError, Segment, Transcript};
pub use server::{Sidecar, router};
