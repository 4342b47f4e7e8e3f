//! Contract 2, call result.
//!
//! `POST /api/v1/calls/{call_id}/result` (fleet → Backend), idempotent on `call_id`.

use crate::attach::AmdVerdict;
use crate::{CallId, CallOutcomeCode};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The finished record of one call, as the worker packages it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallResult {
    pub call_id: CallId,
    pub outcome: CallOutcomeCode,
    /// Set by the bot (the set-disposition tool or a flow's end) or by the analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    pub transcript: Vec<TranscriptEntry>,
    /// Values of the bot's analysis fields, by field name.
    #[serde(default)]
    pub analysis: Map<String, Value>,
    #[serde(default)]
    pub qc_findings: Vec<QcFinding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingRef>,
    pub timings: CallTimings,
    /// True when the worker decided a machine answered.
    #[serde(default)]
    pub machine_detected: bool,
    /// What the answering-machine checks said, on outbound calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amd: Option<AmdCheck>,
}

/// The answering-machine checks of one outbound call, and any sign that one was wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AmdCheck {
    /// The carrier's verdict, when it ran a check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<AmdVerdict>,
    /// The bot's own verdict (`unknown`: not sure, taken for a person), when it listened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<AmdVerdict>,
    /// Why the bot decided as it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<AmdEvidence>,
}

/// A sign that a machine check was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AmdEvidence {
    /// Passed on as a person, but the first thing heard was a voicemail greeting (a false
    /// negative of whichever check passed it).
    MachineTakenForPerson,
}

/// Who spoke a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    User,
    Assistant,
    Tool,
    System,
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranscriptEntry {
    pub speaker: Speaker,
    pub text: String,
    /// Milliseconds from the start of the conversation.
    pub at_ms: u64,
    /// True when the caller barged in; `text` is then what was actually heard.
    #[serde(default)]
    pub interrupted: bool,
    /// Tool calls and retrieved passages, kept as the worker saw them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

/// A QC rule that the call broke or met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QcFinding {
    pub rule: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where the stereo recording lives (caller left, bot right).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingRef {
    /// Object-store key or URL, e.g. `file://…` or `s3://bucket/key`.
    pub uri: String,
    /// Container/codec, e.g. `wav`.
    pub format: String,
    pub duration_ms: u64,
    pub sample_rate: u32,
    pub channels: u16,
}

/// When things happened, and how fast each turn was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallTimings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    #[serde(default)]
    pub turns: Vec<TurnTiming>,
    /// Replies the LLM started on a draft of the caller's turn and threw away because the caller
    /// went on (`turn.preemptive`).
    #[serde(default)]
    pub drafts_dropped: u32,
}

/// Per-turn latencies in milliseconds, measured from the end of the user's speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TurnTiming {
    pub stt_final_ms: Option<u32>,
    pub llm_first_token_ms: Option<u32>,
    pub tts_first_audio_ms: Option<u32>,
    /// Voice-to-voice latency: end of user speech to the first bot audio sent.
    pub first_audio_sent_ms: Option<u32>,
}
