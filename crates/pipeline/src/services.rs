//! The three narrow traits speech providers implement, and their typed errors.
//!
//! Streaming STT, chat LLM with tools, and TTS.
//!
//! The pipeline drives these traits and knows no vendor; `providers` implements them, one file per
//! vendor capability. A processor holds a chain of them: when one fails, the next takes over for the
//! rest of the call.

use async_trait::async_trait;
use audio::SampleRate;
use futures_util::stream::BoxStream;
use std::time::Duration;
use tokio::sync::mpsc;

/// Why a provider call failed. Each variant is something a caller acts on differently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider}: authentication refused: {message}")]
    Auth { provider: String, message: String },
    #[error("{provider}: rate limited (retry after {retry_after:?})")]
    RateLimited {
        provider: String,
        retry_after: Option<Duration>,
    },
    #[error("{provider}: timed out after {after:?}")]
    Timeout { provider: String, after: Duration },
    #[error("{provider}: protocol error: {message}")]
    Protocol { provider: String, message: String },
    #[error("{provider}: connection failed: {message}")]
    Connection { provider: String, message: String },
    #[error("{provider}: {message}")]
    Other { provider: String, message: String },
}

impl ProviderError {
    /// The provider that failed.
    pub fn provider(&self) -> &str {
        match self {
            Self::Auth { provider, .. }
            | Self::RateLimited { provider, .. }
            | Self::Timeout { provider, .. }
            | Self::Protocol { provider, .. }
            | Self::Connection { provider, .. }
            | Self::Other { provider, .. } => provider,
        }
    }

    /// Whether trying the same provider again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Timeout { .. } | Self::Connection { .. }
        )
    }
}

// ---------------------------------------------------------------- speech-to-text

/// What the STT processor sends a live transcription stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SttInput {
    /// Caller audio at the rate the stream was opened with.
    Audio(Vec<i16>),
    /// The VAD heard speech start (per-utterance providers start buffering).
    SpeechStarted,
    /// The VAD heard speech stop: finalize what was heard. The provider answers with exactly one
    /// `Final`, empty when nothing more was heard, so the user's turn can end.
    SpeechStopped,
}

/// What a transcription stream reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SttEvent {
    Interim(String),
    Final(String),
}

/// An open transcription stream: audio in, transcripts out. Dropping it closes the stream.
#[derive(Debug)]
pub struct SttStream {
    pub input: mpsc::UnboundedSender<SttInput>,
    pub events: mpsc::UnboundedReceiver<Result<SttEvent, ProviderError>>,
}

/// A streaming speech-to-text provider.
#[async_trait]
pub trait SpeechToText: Send + Sync {
    fn name(&self) -> &str;
    /// Opens a stream for one call's audio at `rate`.
    async fn open(&self, rate: SampleRate) -> Result<SttStream, ProviderError>;
}

// ---------------------------------------------------------------- LLM

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    User(String),
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    ToolResult {
        call_id: String,
        name: String,
        content: String,
    },
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: serde_json::Value,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments (an object schema).
    pub parameters: serde_json::Value,
}

/// One request: the system prompt, the conversation so far, the tools.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    pub system: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolDefinition>,
}

/// What a streaming reply yields.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    Text(String),
    ToolCall(ToolCall),
}

/// A streaming chat model with tool calls.
#[async_trait]
pub trait LanguageModel: Send + Sync {
    fn name(&self) -> &str;
    /// Starts a reply; the stream ends when the model is done.
    async fn stream(
        &self,
        request: &LlmRequest,
    ) -> Result<BoxStream<'static, Result<LlmEvent, ProviderError>>, ProviderError>;
}

// ---------------------------------------------------------------- text-to-speech

/// A streaming text-to-speech provider.
#[async_trait]
pub trait TextToSpeech: Send + Sync {
    fn name(&self) -> &str;
    /// Speaks `text` as mono PCM16 at `rate`, in chunks as they are ready.
    async fn synthesize(
        &self,
        text: &str,
        rate: SampleRate,
    ) -> Result<BoxStream<'static, Result<Vec<i16>, ProviderError>>, ProviderError>;
}
