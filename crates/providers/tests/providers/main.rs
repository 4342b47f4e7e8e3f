//! The providers' suite.
//!
//! Each adapter against a local server that speaks the vendor's documented protocol.

mod support;

mod conversation;
mod llm_anthropic;
mod llm_openai;
mod local;
mod stt_deepgram;
mod stt_openai;
mod tts_cartesia;
mod tts_elevenlabs;
mod tts_openai;
