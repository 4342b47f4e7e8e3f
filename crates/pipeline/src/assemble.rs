//! Builds a call's pipeline from a bot spec and its provider chains.
//!
//! VAD → (idle prompts) → (turn model) → STT → barge-in → user turns → LLM or flow → TTS → output.

use crate::frame::StartParams;
use crate::processor::Processor;
use crate::processors::{
    AudioOutput, BargeInPolicy, BargeInProcessor, EndOfTurn, FlowProcessor, IdlePolicy,
    IdleProcessor, LlmProcessor, PauseSwitch, PunctuationEndOfTurn, SttProcessor, TtsProcessor,
    TurnModel, TurnPolicy, TurnProcessor, UserAggregator, VadProcessor, VoiceModel,
    backchannels_for,
};
use crate::services::{LanguageModel, SpeechToText, TextToSpeech};
use crate::session::SessionConfig;
use crate::tools::{KnowledgeClient, ToolSet, WebhookClient};
use audio::VadParams;
use contracts::runtime_config::{BotSpec, ToolSpec, TurnMode, VadEngine};
use std::sync::Arc;
use std::time::Duration;

/// What an LLM bot in IVR mode is told after its own prompt.
pub const IVR_NOTE: &str = "\n\nThis call reaches an automated phone menu first, not a person. \
    Listen to the whole menu, then choose the option that serves your goal and press its keys \
    with the send_digits tool; say nothing to the menu. If none fits, wait for the menu to \
    repeat or choose the operator. Once a person answers, talk to them as usual.";

/// The providers of one call, each a fallback chain (primary first).
#[derive(Clone, Default)]
pub struct ProviderChains {
    pub stt: Vec<Arc<dyn SpeechToText>>,
    pub llm: Vec<Arc<dyn LanguageModel>>,
    pub tts: Vec<Arc<dyn TextToSpeech>>,
}

impl std::fmt::Debug for ProviderChains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderChains")
            .field(
                "stt",
                &self
                    .stt
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "llm",
                &self
                    .llm
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "tts",
                &self
                    .tts
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Everything besides the spec that shapes a pipeline.
#[derive(Clone, Default)]
pub struct Assembly {
    pub providers: ProviderChains,
    pub webhooks: Option<Arc<dyn WebhookClient>>,
    /// Where a `search_knowledge` tool searches (the Backend, for this call).
    pub knowledge: Option<Arc<dyn KnowledgeClient>>,
    /// Sent with every webhook tool call (the call's ids).
    pub call_context: serde_json::Value,
    /// The detector's tuning; a bot's `turn.stop_secs` (or `smart` mode's default) replaces its
    /// stop.
    pub vad: VadParams,
    /// The worker's turn model, for bots in `smart` mode; without it they fall back to `vad` mode
    /// at its default stop, and the call's record says so.
    pub turn_model: Option<Arc<dyn TurnModel>>,
    /// The worker's Silero VAD, for bots with `turn.vad: silero`; without it they get WebRTC's.
    pub voice_model: Option<Arc<dyn VoiceModel>>,
    /// The worker's reader of words for `smart` mode (a language model's end-of-turn
    /// probability); without it the words are checked by [`PunctuationEndOfTurn`].
    pub words: Option<Arc<dyn EndOfTurn>>,
}

impl std::fmt::Debug for Assembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly")
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

/// The processors of a call running `spec`. A flow replaces the LLM (and needs none).
pub fn pipeline(spec: &BotSpec, assembly: Assembly) -> Result<Vec<Box<dyn Processor>>, String> {
    if assembly.providers.stt.is_empty() || assembly.providers.tts.is_empty() {
        return Err("a pipeline needs at least one STT and one TTS provider".to_owned());
    }
    let brain: Box<dyn Processor> = match &spec.flow {
        Some(flow) => Box::new(FlowProcessor::new(flow.clone())),
        None => {
            if assembly.providers.llm.is_empty() {
                return Err("a bot without a flow needs an LLM provider".to_owned());
            }
            let ivr = spec.ivr.enabled;
            let mut specs = spec.tools.clone();
            if ivr && !specs.contains(&ToolSpec::SendDigits) {
                specs.push(ToolSpec::SendDigits);
            }
            let tools = ToolSet::new(&specs, assembly.webhooks, assembly.call_context)?
                .with_knowledge(assembly.knowledge);
            let (system, first_message) = if ivr {
                // The menu talks first.
                (format!("{}{IVR_NOTE}", spec.system_prompt), None)
            } else {
                (spec.system_prompt.clone(), spec.first_message.clone())
            };
            Box::new(
                LlmProcessor::new(assembly.providers.llm, system, first_message, tools)
                    .with_draft_speech(spec.turn.preemptive && spec.turn.speak_drafts),
            )
        }
    };
    let turn = &spec.turn;
    let wait = Duration::from_secs_f32(turn.incomplete_wait_secs.clamp(0.0, 10.0));
    // A menu is not a person: its turn ends after its own quiet, and the turn model (trained on
    // people) is not asked.
    let model = match (turn.mode, spec.ivr.enabled) {
        (TurnMode::Smart, false) => assembly.turn_model,
        _ => None,
    };
    let mut vad = assembly.vad;
    match (turn.mode, &model) {
        _ if spec.ivr.enabled => vad.stop_secs = spec.ivr.menu_quiet_secs.clamp(0.5, 10.0),
        // No model: `vad` mode at the detector's own stop (a smart stop would cut callers off).
        (TurnMode::Smart, None) => {}
        (TurnMode::Smart, Some(_)) => vad.stop_secs = turn.stop_secs(),
        (TurnMode::Vad, _) => vad.stop_secs = turn.stop_secs.unwrap_or(vad.stop_secs),
    }
    let mut detector = VadProcessor::new(vad);
    if let (VadEngine::Silero, Some(voice)) = (turn.vad, assembly.voice_model) {
        // Silero's confidence is a probability; pipecat's default bar for it is 0.7 too.
        detector = detector.with_model(voice);
    }
    let mut processors: Vec<Box<dyn Processor>> = vec![Box::new(detector)];
    let idle = &spec.idle;
    if idle.after_secs > 0 {
        processors.push(Box::new(IdleProcessor::new(IdlePolicy {
            after: Duration::from_secs(u64::from(idle.after_secs)),
            prompts: idle.prompts.clone(),
            max_prompts: idle.max_prompts,
            goodbye: idle.goodbye.clone(),
            // A flow has no LLM to word them.
            generate: idle.generate && spec.flow.is_none(),
        })));
    }
    let policy = match model {
        Some(model) => {
            processors.push(Box::new(TurnProcessor::new(model, turn.threshold, wait)));
            TurnPolicy::Model(
                assembly
                    .words
                    .clone()
                    .unwrap_or_else(|| Arc::new(PunctuationEndOfTurn)),
            )
        }
        None => TurnPolicy::Text(Box::new(PunctuationEndOfTurn)),
    };
    let aggregator = match policy {
        TurnPolicy::Model(_) => UserAggregator::new(policy, wait),
        text => UserAggregator::new(text, UserAggregator::TEXT_WAIT),
    }
    // Drafts are for the LLM: a flow answers at once.
    .with_drafts(turn.preemptive && spec.flow.is_none());
    let pause = PauseSwitch::default();
    processors.extend([
        Box::new(SttProcessor::new(assembly.providers.stt)) as Box<dyn Processor>,
        Box::new(BargeInProcessor::new(barge_in(spec, &vad), pause.clone())),
        Box::new(aggregator),
        brain,
        Box::new(TtsProcessor::new(assembly.providers.tts)),
        Box::new(AudioOutput::default().with_pause(pause)),
    ]);
    Ok(processors)
}

/// What makes the caller's speech over the bot an interruption, for a bot of `spec` whose detector
/// runs with `vad`.
fn barge_in(spec: &BotSpec, vad: &audio::VadParams) -> BargeInPolicy {
    let settings = &spec.interruptions;
    let own = settings.backchannels.iter().map(String::as_str);
    BargeInPolicy {
        min_duration: Duration::from_secs_f32(settings.min_duration_secs.max(0.0)),
        min_words: settings.min_words as usize,
        backchannels: BargeInPolicy::phrases(
            backchannels_for(&spec.language).iter().copied().chain(own),
        ),
        resume_after: Duration::from_secs_f32(settings.resume_after_secs.max(0.0)),
        vad_start: Duration::from_secs_f32(vad.start_secs.max(0.0)),
        vad_stop: Duration::from_secs_f32(vad.stop_secs.max(0.0)),
    }
}

/// What a call of `spec` assembled with `assembly` asks for and does without, in words for the
/// call's record: a model the worker lacks (the call falls back to WebRTC's VAD and a plain stop).
pub fn fallbacks(spec: &BotSpec, assembly: &Assembly) -> Vec<String> {
    let mut missing = Vec::new();
    if spec.turn.mode == TurnMode::Smart && !spec.ivr.enabled && assembly.turn_model.is_none() {
        missing.push(
            "this worker has no Smart Turn model (SMART_TURN_MODEL); the caller's turns ended \
             after a plain VAD stop"
                .to_owned(),
        );
    }
    if spec.turn.vad == VadEngine::Silero && assembly.voice_model.is_none() {
        missing.push(
            "this worker has no Silero VAD model (SILERO_VAD_MODEL); WebRTC's VAD heard the caller"
                .to_owned(),
        );
    }
    missing
}

/// The session limits of a call running `spec`.
///
/// With idle prompts on, the silence timeout counts from the moment a prompt is due: each prompt
/// is the bot speaking, which starts the silence clock again, so the prompts always come first and
/// the timeout still ends a call whose audio stopped altogether (the prompts' clock is that audio).
pub fn session_config(spec: &BotSpec, start: StartParams) -> SessionConfig {
    let silence = spec.limits.silence_timeout_secs + spec.idle.after_secs;
    SessionConfig {
        start,
        max_duration: Some(Duration::from_secs(u64::from(
            spec.limits.max_duration_secs,
        ))),
        silence_timeout: Some(Duration::from_secs(u64::from(silence))),
    }
}
