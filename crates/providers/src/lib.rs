//! Speech provider adapters.
//!
//! Each vendor capability in its own file, each speaking the vendor's documented wire protocol.
//!
//! Every adapter implements one of `pipeline`'s traits (`SpeechToText`, `LanguageModel`,
//! `TextToSpeech`), has timeouts, and maps failures to typed `ProviderError`s (auth, rate-limited
//! with retry-after, timeout, protocol, connection). [`factory`] builds a call's fallback chains from
//! a bot's `ProviderSettings`. `espeak` is the local, keyless default voice. [`turn`] reads a
//! caller's words for the end of a turn through the host's `vox-llm`.

pub mod factory;
mod http;
pub mod llm;
pub mod stt;
pub mod tts;
pub mod turn;
pub mod webhook;
mod ws;

pub use factory::{BuildError, Capability, ProviderEnv, build_chains, words_check};
pub use http::Endpoint;
