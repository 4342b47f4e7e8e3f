//! Local LLM for vox: llama.cpp in its own process (`vox-llm`), behind chat completions.
//!
//! It serves the OpenAI-compatible chat completions route.
//!
//! Fleet workers reach it through the `llama` LLM provider (`LOCAL_LLM_URL`), the same client as any
//! OpenAI-compatible server, so one model in memory serves every worker on a host, llama.cpp's
//! CPU-heavy decoding never runs on a call's threads, and only this crate links llama.cpp.

pub mod engine;
pub mod request;
pub mod server;
pub mod stop;

pub use engine::{Engine, EngineError, Finish, Generated, Role, Sampling, Turn};
pub use request::{ChatRequest, Invalid};
pub use server::{Server, router};
pub use stop::StopScanner;
