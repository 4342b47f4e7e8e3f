//! Builds a call's pipeline from a bot spec and its provider chains.
//!
//! VAD → STT → user turns → LLM or flow → TTS → output.

use crate::frame::StartParams;
use crate::processor::Processor;
use crate::processors::{
    AudioOutput, FlowProcessor, LlmProcessor, SttProcessor, TtsProcessor, UserAggregator,
    VadProcessor,
};
use crate::services::{LanguageModel, SpeechToText, TextToSpeech};
use crate::session::SessionConfig;
use crate::tools::{KnowledgeClient, ToolSet, WebhookClient};
use audio::VadParams;
use contracts::runtime_config::BotSpec;
use std::sync::Arc;
use std::time::Duration;

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
    pub vad: VadParams,
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
            let tools = ToolSet::new(&spec.tools, assembly.webhooks, assembly.call_context)?
                .with_knowledge(assembly.knowledge);
            Box::new(LlmProcessor::new(
                assembly.providers.llm,
                spec.system_prompt.clone(),
                spec.first_message.clone(),
                tools,
            ))
        }
    };
    Ok(vec![
        Box::new(VadProcessor::new(assembly.vad)),
        Box::new(SttProcessor::new(assembly.providers.stt)),
        Box::new(UserAggregator::default()),
        brain,
        Box::new(TtsProcessor::new(assembly.providers.tts)),
        Box::new(AudioOutput::default()),
    ])
}

/// The session limits of a call running `spec`.
pub fn session_config(spec: &BotSpec, start: StartParams) -> SessionConfig {
    SessionConfig {
        start,
        max_duration: Some(Duration::from_secs(u64::from(
            spec.limits.max_duration_secs,
        ))),
        silence_timeout: Some(Duration::from_secs(u64::from(
            spec.limits.silence_timeout_secs,
        ))),
    }
}
