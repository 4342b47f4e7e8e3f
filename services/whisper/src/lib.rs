//! Local speech-to-text for vox: whisper.cpp in its own process (`vox-whisper`), behind the OpenAI-compatible transcription route.
//!
//! Fleet workers reach it through the `whisper` STT provider (per utterance, like any whisper
//! server), so one model in memory serves every worker on a host and whisper's CPU-heavy decoding
//! never runs on a call's threads. It is a separate binary because llama.cpp, linked into `vox` for
//! the local LLM, vendors its own ggml and the two cannot share one process.

pub mod convert;
pub mod engine;
pub mod mel;
pub mod server;
pub mod testing;

pub use convert::{ConvertError, Converted, convert};
pub use engine::{Engine, EngineError, Segment, Transcript};
pub use server::{Sidecar, router};
