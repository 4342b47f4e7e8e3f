//! The providers' suite: each adapter against a local server that speaks the vendor's documented protocol.

#[path = "providers/support.rs"]
mod support;

#[path = "providers/conversation.rs"]
mod conversation;
#[path = "providers/llm_anthropic.rs"]
mod llm_anthropic;
#[path = "providers/llm_openai.rs"]
mod llm_openai;
#[path = "providers/local.rs"]
mod local;
#[path = "providers/stt_deepgram.rs"]
mod stt_deepgram;
#[path = "providers/stt_openai.rs"]
mod stt_openai;
#[path = "providers/tts_cartesia.rs"]
mod tts_cartesia;
#[path = "providers/tts_elevenlabs.rs"]
mod tts_elevenlabs;
#[path = "providers/tts_openai.rs"]
mod tts_openai;
