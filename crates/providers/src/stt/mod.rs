//! Speech-to-text: Deepgram live streaming and OpenAI-compatible transcription per utterance.

pub mod deepgram;
pub mod openai;

pub use deepgram::DeepgramStt;
pub use openai::OpenAiStt;
