//! The speech pipeline: frames flow through processors, one session per call.
//!
//! VAD → (turn model) → STT → user turns → LLM or flow → TTS → output.
//!
//! `pipeline` knows nothing of HTTP, SQL or any vendor: providers implement the traits in
//! [`services`], transports feed [`session::Command`]s and read the frames that leave the session.
//! Tests build pipelines only through [`testing::run_test`] or [`session::spawn`].

pub mod assemble;
pub mod frame;
pub mod metrics;
pub mod processor;
pub mod processors;
mod queue;
pub mod services;
pub mod session;
pub mod testing;
pub mod tools;

pub use frame::{
    AudioChunk, CallEvent, ControlFrame, DataFrame, Direction, EndReason, Frame, IdleStep,
    InterruptionKind, InterruptionRecord, PipelineError, StartParams, SystemFrame, ToolCallRecord,
    Transcript, TransportMessage, TurnDecision,
};
pub use processor::{Outbox, Processor, ProcessorError};
pub use services::{
    LanguageModel, LlmEvent, LlmRequest, Message, ProviderError, SpeechToText, SttEvent, SttInput,
    SttStream, TextToSpeech, ToolCall, ToolDefinition,
};
pub use session::{Command, LoggedEvent, SessionConfig, SessionHandle, SessionReport, spawn};
