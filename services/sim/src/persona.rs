//! An LLM persona for the simulated callee.
//!
//! Instead of a fixed script, an OpenAI-compatible chat model plays the person (who they are and
//! what they want), reading what the bot said from the worker's live transcript.

use futures_util::StreamExt;
use pipeline::{LanguageModel, LlmEvent, LlmRequest, Message};
use providers::Endpoint;
use providers::llm::openai::OpenAiLlm;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Who the callee is, and the model that plays them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonaConfig {
    /// Who the person is and what they want, in the second person ("You are Ada; you want …").
    pub prompt: String,
    /// An OpenAI-compatible base URL (`https://api.openai.com/v1`, a vLLM or llama.cpp server).
    pub base_url: String,
    pub model: String,
    /// The environment variable that holds the API key, when the endpoint needs one.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The person says goodbye after this many replies.
    #[serde(default = "default_turns")]
    pub max_turns: u32,
}

fn default_turns() -> u32 {
    6
}

/// What the persona is told besides its prompt.
const RULES: &str = "You are on a phone call with an automated assistant that called you or \
that you called. Reply with what you say next, one or two short spoken sentences, no stage \
directions. When the call has reached its end, say goodbye.";

/// A persona ready to talk.
pub struct Persona {
    config: PersonaConfig,
    llm: OpenAiLlm,
}

impl std::fmt::Debug for Persona {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persona")
            .field("model", &self.config.model)
            .finish_non_exhaustive()
    }
}

impl Persona {
    pub fn new(config: PersonaConfig) -> Self {
        let api_key = config
            .api_key_env
            .as_deref()
            .and_then(|name| std::env::var(name).ok());
        let endpoint = Endpoint {
            name: "persona".to_owned(),
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            api_key,
            timeout: Duration::from_secs(20),
            http: None,
        };
        let llm = OpenAiLlm::new(endpoint, &config.model);
        Self { config, llm }
    }

    pub fn max_turns(&self) -> u32 {
        self.config.max_turns
    }

    /// The person's next line after `heard` (the bot's lines and the person's own, in order;
    /// `true` marks the bot's); `None` when the model fails or says nothing.
    pub async fn reply(&self, heard: &[(bool, String)]) -> Option<String> {
        // From the persona's side the bot is the other party ("user") and it is the assistant.
        let messages = heard
            .iter()
            .map(|(bot, text)| {
                if *bot {
                    Message::User(text.clone())
                } else {
                    Message::Assistant {
                        text: text.clone(),
                        tool_calls: Vec::new(),
                    }
                }
            })
            .collect();
        let request = LlmRequest {
            system: format!("{}\n\n{RULES}", self.config.prompt),
            messages,
            tools: Vec::new(),
        };
        let mut stream = match self.llm.stream(&request).await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "the persona's model failed");
                return None;
            }
        };
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            match event {
                Ok(LlmEvent::Text(piece)) => text.push_str(&piece),
                Ok(LlmEvent::ToolCall(_)) => {}
                Err(error) => {
                    tracing::warn!(%error, "the persona's reply broke off");
                    break;
                }
            }
        }
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }
}
