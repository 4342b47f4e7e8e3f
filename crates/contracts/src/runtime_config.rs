//! Contract 1, runtime config.
//!
//! `GET /api/v1/config?call_id=…` (fleet → Backend) makes a stateless worker the right bot for one
//! call.
//!
//! [`BotSpec`] is also what one saved bot version holds; the Backend renders `{{variables}}` from
//! the contact into the prompt and first message before it serves a [`RuntimeConfig`].

use crate::{BotId, CallId, CampaignId, ContactId, E164Number};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Everything a worker needs for one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeConfig {
    pub call_id: CallId,
    pub bot: BotRef,
    /// The bot version's spec with the contact's variables already substituted.
    pub spec: BotSpec,
    pub call: CallInfo,
    /// Absent for inbound calls from unknown numbers and browser test calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactInfo>,
}

/// Which bot version the call runs; the call record keeps this forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BotRef {
    pub bot_id: BotId,
    pub version: i64,
    pub name: String,
}

/// Inbound or outbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Inbound,
    Outbound,
    /// A test call from the console's browser widget.
    Web,
}

impl CallDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
            CallDirection::Web => "web",
        }
    }
}

/// Facts about this call attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallInfo {
    pub direction: CallDirection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    /// The caller ID shown (outbound) or the caller's number (inbound), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<E164Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<E164Number>,
    /// 1 for the first attempt at a contact.
    pub attempt: i64,
    pub created_at: DateTime<Utc>,
}

/// The contact being called, with the columns the operator imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContactInfo {
    pub contact_id: ContactId,
    pub phone: E164Number,
    /// Imported columns, usable as `{{name}}` in prompts.
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// What the operator's CRM lookup answered for this contact when the call started (a JSON
    /// object, passed through untouched; its fields are also `{{crm.<field>}}` in prompts).
    /// Absent when no lookup is configured or it failed (the call's record says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<Value>,
}

/// One saved version of a bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BotSpec {
    /// BCP 47 tag, e.g. `en-US`.
    #[schemars(schema_with = "crate::shape::non_blank")]
    pub language: String,
    /// The system prompt; may use `{{variables}}` from the contact.
    pub system_prompt: String,
    /// What the bot says first; `None` waits for the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
    #[schemars(with = "crate::shape::SttSettings")]
    pub stt: ProviderSettings,
    #[schemars(with = "crate::shape::LlmSettings")]
    pub llm: ProviderSettings,
    #[schemars(with = "crate::shape::TtsSettings")]
    pub tts: ProviderSettings,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// Fields the post-call analysis extracts from the transcript.
    #[serde(default)]
    pub analysis: Vec<AnalysisField>,
    #[serde(default)]
    pub qc_rules: Vec<QcRule>,
    #[serde(default)]
    pub limits: CallLimits,
    #[serde(default)]
    pub voicemail: VoicemailBehaviour,
    /// A deterministic script that replaces the LLM when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<Flow>,
    /// How the bot hears the caller and decides that their turn is over.
    #[serde(default)]
    pub turn: TurnSettings,
    /// What the bot says to a caller who has gone quiet.
    #[serde(default)]
    pub idle: IdleSettings,
    /// When the caller's voice stops the bot mid-sentence.
    #[serde(default)]
    pub interruptions: InterruptionSettings,
    /// Calling into another system's automated menu.
    #[serde(default)]
    pub ivr: IvrSettings,
    /// Contact variables the prompt and first message may use as `{{name}}`, besides
    /// [`BUILTIN_VARIABLES`]; a template naming anything else is refused when the bot is saved.
    #[serde(default)]
    #[schemars(schema_with = "crate::shape::variable_names")]
    pub variables: Vec<String>,
}

impl BotSpec {
    /// A bot with this prompt and these providers, and every other setting at its default.
    pub fn new(
        language: &str,
        system_prompt: &str,
        stt: ProviderSettings,
        llm: ProviderSettings,
        tts: ProviderSettings,
    ) -> Self {
        Self {
            language: language.to_owned(),
            system_prompt: system_prompt.to_owned(),
            first_message: None,
            stt,
            llm,
            tts,
            tools: Vec::new(),
            analysis: Vec::new(),
            qc_rules: Vec::new(),
            limits: CallLimits::default(),
            voicemail: VoicemailBehaviour::default(),
            flow: None,
            turn: TurnSettings::default(),
            idle: IdleSettings::default(),
            interruptions: InterruptionSettings::default(),
            ivr: IvrSettings::default(),
            variables: Vec::new(),
        }
    }
}

/// Template variables every call has: the contact's number and the call's ids.
pub const BUILTIN_VARIABLES: &[&str] = &["phone", "call_id", "campaign_id", "contact_id"];

/// Speech-to-text vendors the fleet can drive.
pub const STT_PROVIDERS: &[&str] = &["deepgram", "openai", "whisper"];
/// Chat LLM vendors (OpenAI-compatible servers included) and the local model.
pub const LLM_PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "groq",
    "vllm",
    "llamacpp",
    "ollama",
    "llama",
];
/// Text-to-speech vendors and the local voices.
pub const TTS_PROVIDERS: &[&str] = &["elevenlabs", "cartesia", "openai", "piper", "espeak"];
/// Vendors reached with the platform's API key: a bot may point one at another URL only where
/// the platform configured it, so the key never goes to a URL a bot chose.
pub const KEYED_PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "groq",
    "deepgram",
    "elevenlabs",
    "cartesia",
];

/// Where a keyless vendor's local server listens by default on a worker's host (the `vox-whisper`
/// sidecar, a vLLM, llama.cpp or Ollama server): a bot naming this URL names the platform's own
/// server, not an operator's, so the guard for operators' URLs does not apply to it.
pub const LOCAL_DEFAULT_URLS: &[(&str, &str)] = &[
    ("whisper", "http://127.0.0.1:8178/v1"),
    ("vllm", "http://127.0.0.1:8000/v1"),
    ("llamacpp", "http://127.0.0.1:8080/v1"),
    ("ollama", "http://127.0.0.1:11434/v1"),
];

/// Whether `url` is `vendor`'s local default ([`LOCAL_DEFAULT_URLS`]), trailing `/` aside.
pub fn is_local_default(vendor: &str, url: &str) -> bool {
    LOCAL_DEFAULT_URLS.iter().any(|(name, default)| {
        *name == vendor && default.trim_end_matches('/') == url.trim_end_matches('/')
    })
}

/// One speech provider: a vendor, a model or voice, vendor options, and what takes over when it fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderSettings {
    /// Vendor key, e.g. `deepgram`, `openai`, `piper`.
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The voice for TTS providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    #[serde(default)]
    pub options: Map<String, Value>,
    /// Used mid-call when this provider fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Box<ProviderSettings>>,
}

impl ProviderSettings {
    /// The vendor with its defaults: no model, voice, options or fallback.
    pub fn named(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: None,
            voice: None,
            options: Map::new(),
            fallback: None,
        }
    }
}

/// A tool the LLM can call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolSpec {
    /// An HTTP webhook; the LLM's arguments are checked against `parameters` before the call.
    Webhook {
        /// The tool's name the model calls: letters, digits and `_`, unique in the bot.
        #[schemars(regex(pattern = r"^[A-Za-z0-9_]+$"))]
        name: String,
        description: String,
        #[schemars(regex(pattern = crate::shape::HTTP_URL))]
        url: String,
        /// A JSON Schema object describing the arguments.
        #[schemars(schema_with = "crate::shape::tool_parameters")]
        parameters: Value,
        #[serde(default = "default_tool_timeout_ms")]
        #[schemars(range(min = 100, max = 30_000))]
        timeout_ms: u64,
        /// Something the bot says while the webhook runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filler: Option<String>,
    },
    EndCall,
    /// Presses keys on the call (`send_digits`), to find its way through another system's menu:
    /// RFC 4733 telephone-events over `vox sip`, the carrier's own verb on Telnyx, Vonage and
    /// Plivo, in-band DTMF tones in the bot's audio on the other carriers' media streams.
    SendDigits,
    Transfer {
        /// E.164 number or SIP URI to transfer to.
        #[schemars(regex(pattern = r"^(\+[1-9][0-9]{7,14}$|sip:)"))]
        destination: String,
    },
    SetDisposition {
        #[schemars(length(min = 1))]
        allowed: Vec<String>,
    },
    /// Searches the named knowledge bases (through the Backend) for passages that answer the
    /// caller; the passages and their sources land in the transcript with the tool call.
    SearchKnowledge {
        #[schemars(length(min = 1))]
        knowledge_base_ids: Vec<i64>,
        /// Passages given to the model per search.
        #[serde(default = "default_knowledge_top_k")]
        #[schemars(range(min = 1, max = 10))]
        top_k: u32,
        /// The latency budget: a search slower than this answers "no result in time".
        #[serde(default = "default_knowledge_timeout_ms")]
        #[schemars(range(min = 100, max = 10_000))]
        timeout_ms: u64,
        /// Something the bot says while it searches.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filler: Option<String>,
        /// When the search runs: when the model calls the tool (the default), or before every
        /// reply with the caller's words, its passages given to the model with that turn.
        #[serde(default, skip_serializing_if = "Retrieval::is_tool")]
        retrieval: Retrieval,
    },
}

/// When a bot's knowledge search runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Retrieval {
    /// The model decides: `search_knowledge` is one of its tools.
    #[default]
    Tool,
    /// Before every reply the caller's last words are searched and the passages found are put
    /// in front of the model for that reply (no tool is offered; no round trip is spent on it).
    EveryTurn,
}

impl Retrieval {
    fn is_tool(&self) -> bool {
        *self == Retrieval::Tool
    }
}

fn default_tool_timeout_ms() -> u64 {
    5_000
}

fn default_knowledge_top_k() -> u32 {
    3
}

fn default_knowledge_timeout_ms() -> u64 {
    1_500
}

/// One field of the post-call analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AnalysisField {
    /// Unique in the bot.
    #[schemars(schema_with = "crate::shape::non_blank")]
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: AnalysisFieldKind,
    /// The allowed values of an `enum` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisFieldKind {
    String,
    Number,
    Boolean,
    Enum,
}

/// A quality-control rule checked on every transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QcRule {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub severity: Severity,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}

/// Hard limits of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CallLimits {
    #[schemars(range(min = 10, max = 14_400))]
    pub max_duration_secs: u32,
    #[schemars(range(min = 1, max = 600))]
    pub silence_timeout_secs: u32,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            max_duration_secs: 600,
            silence_timeout_secs: 20,
        }
    }
}

/// A bot that calls into automated phone menus ("press 1 for sales, press 2 for support") waits
/// each menu out before it acts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IvrSettings {
    /// The bot does not speak first (no first message: the menu talks first); a turn ends only
    /// after `menu_quiet_secs` of quiet, so the pauses between a menu's options do not end it
    /// (the turn model is not asked: it judges people); and an LLM bot is told it is at a menu,
    /// with the Press keys tool. A flow keeps its own steps and gets the menu's timing.
    pub enabled: bool,
    /// Quiet that ends a menu's turn, in seconds.
    #[schemars(range(min = 0.5, max = 10.0))]
    pub menu_quiet_secs: f32,
}

impl Default for IvrSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            menu_quiet_secs: 2.0,
        }
    }
}

/// How the bot hears the caller and decides that their turn is over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TurnSettings {
    /// The voice activity detector that hears the caller.
    pub vad: VadEngine,
    /// What ends a turn.
    pub mode: TurnMode,
    /// Quiet after speech before the detector reports a stop, in seconds. In `vad` mode that stop
    /// ends the turn (default 0.8); in `smart` mode the turn model is asked then (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1, max = 3.0))]
    pub stop_secs: Option<f32>,
    /// `smart`: a turn is complete when the model's probability is above this.
    #[schemars(range(min = 0.05, max = 0.95))]
    pub threshold: f32,
    /// `smart`: how long an incomplete-sounding turn waits for more speech before the bot answers
    /// anyway, in seconds.
    #[schemars(range(min = 0.0, max = 10.0))]
    pub incomplete_wait_secs: f32,
    /// Start the LLM's reply on the caller's words as soon as the STT gives final words for them
    /// (with a streaming STT, often before the VAD's stop) and while the turn is judged (or waits
    /// as unfinished); a caller who goes on drops it. The bot speaks only once the turn is final
    /// either way. Costs a model request per dropped draft.
    pub preemptive: bool,
    /// With `preemptive`, the TTS also starts on the draft's first sentence, its audio held
    /// until the turn is final: the bot answers sooner, and a dropped draft's audio costs a TTS
    /// request. Off by default.
    pub speak_drafts: bool,
}

impl Default for TurnSettings {
    fn default() -> Self {
        Self {
            vad: VadEngine::Webrtc,
            mode: TurnMode::Vad,
            stop_secs: None,
            threshold: 0.5,
            incomplete_wait_secs: 3.0,
            preemptive: true,
            speak_drafts: false,
        }
    }
}

impl TurnSettings {
    /// The detector's stop: `stop_secs`, else the mode's default.
    pub fn stop_secs(&self) -> f32 {
        self.stop_secs.unwrap_or(match self.mode {
            TurnMode::Vad => 0.8,
            TurnMode::Smart => 0.2,
        })
    }
}

/// Re-prompting a caller who has gone quiet, then ending the call with `call.idle_timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IdleSettings {
    /// Seconds of quiet on both sides before the bot prompts; 0 (the default) never prompts, and
    /// `limits.silence_timeout_secs` alone ends a silent call. With prompts on, the silence timeout
    /// counts from the moment a prompt is due, so the prompts always come first; it still ends a
    /// call whose audio stopped altogether.
    #[schemars(range(max = 600))]
    pub after_secs: u32,
    /// What the bot says, one line per prompt in turn (the last one repeats): 1 to 5 lines of 1 to
    /// 500 characters.
    #[schemars(schema_with = "crate::shape::idle_prompts")]
    pub prompts: Vec<String>,
    /// Prompts before the bot gives up.
    #[schemars(range(min = 1, max = 5))]
    pub max_prompts: u32,
    /// Said before hanging up once the prompts are spent (1 to 500 characters).
    #[schemars(schema_with = "crate::shape::spoken_line")]
    pub goodbye: String,
    /// The LLM words each prompt for the conversation so far; the `prompts` lines are said when
    /// it fails, and by flows.
    pub generate: bool,
}

impl Default for IdleSettings {
    fn default() -> Self {
        Self {
            after_secs: 0,
            prompts: vec!["Are you still there?".to_owned()],
            max_prompts: 2,
            goodbye: "I'll let you go now. Goodbye.".to_owned(),
            generate: false,
        }
    }
}

/// When the caller's voice stops the bot mid-sentence.
///
/// The bot pauses the moment the caller starts speaking over it. Speech that lasts
/// `min_duration_secs` and has `min_words` words that are not backchannels interrupts it: what it
/// had left to say is dropped. Anything else (a cough, a "mhm") resumes it where it paused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct InterruptionSettings {
    /// Seconds of speech an interruption needs.
    #[schemars(range(min = 0.0, max = 3.0))]
    pub min_duration_secs: f32,
    /// Words an interruption needs, backchannels not counted; 0: any sound long enough.
    #[schemars(range(max = 10))]
    pub min_words: u32,
    /// Words that never interrupt, besides the language's own list ("mhm", "yeah", "okay", …).
    #[schemars(schema_with = "crate::shape::backchannels")]
    pub backchannels: Vec<String>,
    /// How long the bot stays paused, after the caller stops, for words that would make it an
    /// interruption; then it goes on where it paused.
    #[schemars(range(min = 0.3, max = 5.0))]
    pub resume_after_secs: f32,
}

impl Default for InterruptionSettings {
    fn default() -> Self {
        Self {
            min_duration_secs: 0.5,
            min_words: 1,
            backchannels: Vec::new(),
            resume_after_secs: 1.5,
        }
    }
}

/// What ends a caller's turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TurnMode {
    /// A fixed quiet after speech (`stop_secs`).
    #[default]
    Vad,
    /// A short quiet, then Smart Turn v3.2 judges from the caller's voice whether they finished.
    Smart,
}

/// The voice activity detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VadEngine {
    /// WebRTC's VAD (libfvad) with a loudness gate.
    #[default]
    Webrtc,
    /// Silero VAD 5, a small neural model: fewer false starts on noise.
    Silero,
}

/// What the bot does when a machine answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum VoicemailBehaviour {
    #[default]
    Hangup,
    LeaveMessage {
        message: String,
    },
}

/// A deterministic script: steps by name, starting at `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Flow {
    pub start: String,
    pub steps: std::collections::BTreeMap<String, FlowStep>,
}

/// One step of a [`Flow`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FlowStep {
    Say {
        text: String,
        next: String,
    },
    Ask {
        prompt: String,
        /// Where the answer is stored in the call's analysis.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        branches: Vec<FlowBranch>,
        /// Taken when no branch matches.
        otherwise: String,
    },
    SetField {
        field: String,
        value: Value,
        next: String,
    },
    End {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disposition: Option<String>,
    },
    /// Presses `digits` on the call (to choose from another system's menu), then goes to `next`:
    /// RFC 4733 events over `vox sip`, the carrier's own verb on Telnyx, Vonage and Plivo, in-band
    /// DTMF tones on the other carriers' media streams (and where a verb fails).
    SendDigits {
        #[schemars(regex(pattern = r"^[0-9*#A-Da-d]{1,32}$"))]
        digits: String,
        next: String,
    },
    /// Says `text` (when given), then moves the caller to `destination` (E.164) through the
    /// carrier, and the call ends `call.transferred`.
    Transfer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[schemars(schema_with = "crate::shape::phone")]
        destination: String,
    },
}

/// Whether `digits` are keys a call can press: 1 to 32 of 0-9, `*`, `#` and A-D (either case),
/// the pattern the schemas of `send_digits` say.
pub fn keypad_keys(digits: &str) -> bool {
    (1..=32).contains(&digits.len())
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || "*#ABCDabcd".contains(c))
}

/// A branch of an `ask` step: any keyword heard or the DTMF digits pressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlowBranch {
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtmf: Option<String>,
    pub next: String,
}
