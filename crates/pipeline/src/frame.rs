//! Frames are the only thing that moves through a pipeline.
//!
//! System, data and control, downstream or upstream.
//!
//! **System** frames jump ahead of queued data and control frames and survive an interruption;
//! **data** and **control** frames queued when an interruption arrives are dropped. The rule that
//! decides the kind: what the caller said (audio, transcripts, a finished turn, DTMF) is never
//! dropped, so those are system frames (Pipecat makes input audio a system frame for the same
//! reason: the speech that causes a barge-in must not be dropped by it); what the bot was about to
//! say is data, and an interruption throws it away.

use crate::metrics::TurnMark;
use audio::SampleRate;
use std::time::Duration;

/// Which way a frame travels: from the caller toward the bot's voice, or back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Downstream,
    Upstream,
}

/// One frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    System(SystemFrame),
    Data(DataFrame),
    Control(ControlFrame),
}

/// Frames that are never dropped and go first.
#[derive(Debug, Clone, PartialEq)]
pub enum SystemFrame {
    /// The call starts: rates and what the processors need to know.
    Start(StartParams),
    /// Stop now, dropping everything queued.
    Cancel(EndReason),
    /// Barge-in: cancel in-flight work and drop queued data and control frames.
    Interruption,
    /// The caller's audio, mono PCM16 at the input rate.
    InputAudio(AudioChunk),
    InterimTranscription(Transcript),
    Transcription(Transcript),
    /// A finished user turn, ready for the LLM or the flow.
    UserTurn(String),
    /// The caller's turn so far, before it is final (the turn model has not answered, or judged
    /// it unfinished): the LLM may start its reply on it. The `UserTurn` that follows uses that
    /// draft when its text is the same; more speech drops it.
    DraftTurn(String),
    /// A keypad digit from the caller.
    Dtmf(char),
    UserStartedSpeaking,
    UserStoppedSpeaking,
    /// The VAD hears voiced audio that may become speech (`true`, before its start), or that
    /// faded before its start (`false`): the barge-in stage pauses the bot on it at once.
    SpeechOnset(bool),
    /// The turn model's verdict on the caller's turn, at a stop of their speech.
    TurnDecision(TurnDecision),
    BotStartedSpeaking,
    BotStoppedSpeaking,
    /// What the caller actually heard of the bot's last turn (upstream from the output).
    AssistantHeard {
        text: String,
        interrupted: bool,
    },
    /// A message the transport sends to the carrier.
    Transport(TransportMessage),
    /// Something the call's record keeps; travels upstream to the session.
    Call(CallEvent),
    /// A timing point of the current turn.
    Metric(TurnMark),
    /// A provider or processor failed; `fatal` errors end the call.
    Error(PipelineError),
    /// A marker the session sends through the pipeline as a call ends: when it comes out, every
    /// system frame sent the same way before it has come out too. Processors forward it.
    Sync,
}

/// Data frames: dropped when queued at an interruption.
#[derive(Debug, Clone, PartialEq)]
pub enum DataFrame {
    /// The bot's audio, mono PCM16 at the output rate.
    OutputAudio(AudioChunk),
    /// A piece of the LLM's reply.
    LlmText(String),
    /// Text the bot must say as it is (first message, a tool's filler, a flow's line).
    Speak(String),
    /// The caller has gone quiet: the LLM words a short prompt for them, or `fallback` is said
    /// when it cannot.
    IdlePrompt { fallback: String },
    /// TTS starts speaking a sentence; the output tracks what of it was heard.
    TtsSentence(String),
    /// The first sentence of a reply the LLM started on a draft of the caller's turn: the TTS
    /// may start making its audio, held until the reply itself asks for that sentence.
    DraftSentence(String),
}

/// Control frames: ordered with data, dropped on interruption.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlFrame {
    /// The LLM starts a reply.
    LlmResponseStart,
    /// The LLM finished a reply: TTS speaks what is left.
    LlmResponseEnd,
    /// TTS has sent all audio of a reply.
    TtsStopped,
    /// End the call once everything before this frame was played.
    End(EndReason),
}

/// What the call's record keeps besides the bot's words.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// A finished user turn.
    UserSaid(String),
    /// The LLM called a tool.
    ToolCalled(ToolCallRecord),
    /// The call's disposition, set by a tool or a flow.
    Disposition(String),
    /// The turn model judged a pause in the caller's speech.
    Turn(TurnDecision),
    /// The caller spoke over the bot: an interruption, or a sound the bot went on after.
    Interruption(InterruptionRecord),
    /// A reply the LLM started on a draft of the caller's turn was thrown away (they went on).
    DraftDropped,
    /// The caller stayed quiet for the bot's `idle.after_secs`: it prompted them, or said goodbye.
    Idle(IdleStep),
    /// A field the flow collected, for the call's analysis.
    Field {
        name: String,
        value: serde_json::Value,
    },
}

/// What the bot did about a caller who went quiet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleStep {
    /// The `number`th prompt of at most `of` since the caller last spoke.
    Prompt { number: u32, of: u32 },
    /// The prompts are spent: the goodbye, and the call ends with `call.idle_timeout`.
    Goodbye,
}

/// What the caller's speech over the bot turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptionKind {
    /// Long enough, with words: the bot stopped and dropped what it had left to say.
    Real,
    /// A sound without enough words (a cough, a noise): the bot went on where it paused.
    False,
    /// Only backchannel words ("mhm", "yeah"): the bot went on where it paused.
    Backchannel,
}

impl InterruptionKind {
    /// The kind in the call's record.
    pub fn as_str(self) -> &'static str {
        match self {
            InterruptionKind::Real => "real",
            InterruptionKind::False => "false",
            InterruptionKind::Backchannel => "backchannel",
        }
    }
}

/// The caller's speech over the bot, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct InterruptionRecord {
    pub kind: InterruptionKind,
    /// What the caller said, as far as speech-to-text heard it.
    pub text: String,
    /// How long the bot was paused before the verdict.
    pub paused: Duration,
}

/// The turn model's verdict on a pause in the caller's speech.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnDecision {
    /// Whether the caller finished (the probability was above the bot's threshold).
    pub complete: bool,
    /// The model's probability that the turn is complete; `None` when the model failed (the turn
    /// is then taken as complete, as a plain VAD stop would be).
    pub probability: Option<f32>,
    /// How long the model took.
    pub inference: std::time::Duration,
}

impl Frame {
    /// Whether this frame is a system frame.
    pub fn is_system(&self) -> bool {
        matches!(self, Frame::System(_))
    }
}

impl From<SystemFrame> for Frame {
    fn from(frame: SystemFrame) -> Self {
        Frame::System(frame)
    }
}

impl From<DataFrame> for Frame {
    fn from(frame: DataFrame) -> Self {
        Frame::Data(frame)
    }
}

impl From<ControlFrame> for Frame {
    fn from(frame: ControlFrame) -> Self {
        Frame::Control(frame)
    }
}

/// What a pipeline needs to know when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartParams {
    pub input_rate: SampleRate,
    pub output_rate: SampleRate,
    /// Whether the caller may interrupt the bot.
    pub allow_interruptions: bool,
    /// Whether the transport can press keys on the call (`TransportMessage::Dtmf`).
    pub sends_digits: bool,
}

impl Default for StartParams {
    fn default() -> Self {
        Self {
            input_rate: SampleRate::Hz16000,
            output_rate: SampleRate::Hz16000,
            allow_interruptions: true,
            sends_digits: false,
        }
    }
}

/// Mono PCM16 audio at a known rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioChunk {
    pub samples: Vec<i16>,
    pub rate: SampleRate,
}

impl AudioChunk {
    pub fn new(samples: Vec<i16>, rate: SampleRate) -> Self {
        Self { samples, rate }
    }

    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / u64::from(self.rate.hz()))
    }
}

/// Text from speech-to-text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub text: String,
    /// Which provider produced it.
    pub provider: String,
}

/// A tool the LLM called, with its arguments and what came back.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallRecord {
    pub name: String,
    pub arguments: serde_json::Value,
    /// The result given back to the LLM (an error is given back as `{"error": …}`).
    pub result: serde_json::Value,
    pub duration: Duration,
}

/// A message for the carrier's media stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportMessage {
    /// Drop the audio buffered at the carrier (barge-in).
    Clear,
    /// Press these keys on the call (RFC 4733 telephone-events where the transport sends them).
    Dtmf(String),
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The caller hung up (or the transport closed).
    CallerHungUp,
    /// The bot ended the call (end-call tool or the flow's end).
    BotEnded,
    /// The call was handed elsewhere.
    Transferred { destination: String },
    /// `max_duration_secs` was reached.
    MaxDuration,
    /// Nobody spoke for `silence_timeout_secs`.
    SilenceTimeout,
    /// The caller stayed silent through the bot's idle prompts.
    IdleTimeout,
    /// A provider failed and no fallback was left.
    ProviderFailed { provider: String, message: String },
    /// A processor failed or panicked.
    Internal(String),
}

/// An error travelling upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineError {
    /// The processor or provider that failed.
    pub source: String,
    pub message: String,
    pub fatal: bool,
}
