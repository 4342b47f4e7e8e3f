//! Function calling: the bot's tools as the LLM sees them, checked arguments, and running them.
//!
//! Arguments are checked against each tool's JSON Schema before it runs.
//!
//! Webhook tools go through a [`WebhookClient`] (HTTP lives in `providers`) under the tool's
//! timeout, the knowledge search through a [`KnowledgeClient`] (the fleet asks the Backend) under
//! its latency budget; the built-ins (end call, transfer, set disposition) run here. A failed or refused call
//! is given back to the model as `{"error": …}`, so it can say so or try again.

use crate::services::{ToolCall, ToolDefinition};
use async_trait::async_trait;
use contracts::runtime_config::{Retrieval, ToolSpec};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Posts a tool call to its webhook and returns the JSON reply.
#[async_trait]
pub trait WebhookClient: Send + Sync {
    async fn call(&self, url: &str, body: &Value) -> Result<Value, String>;
}

/// Searches knowledge bases for passages: `(query, knowledge base ids, top k)` to the reply given
/// to the model (passages with their sources).
#[async_trait]
pub trait KnowledgeClient: Send + Sync {
    async fn search(
        &self,
        query: &str,
        knowledge_bases: &[i64],
        top_k: u32,
    ) -> Result<Value, String>;
}

/// Name of the built-in tool that searches the bot's knowledge bases.
pub const SEARCH_KNOWLEDGE: &str = "search_knowledge";
/// Name of the built-in tool that ends the call.
pub const END_CALL: &str = "end_call";
/// Name of the built-in tool that presses keys on the call.
pub const SEND_DIGITS: &str = "send_digits";
/// The keys a phone has (RFC 4733's events 0–15), at most 32 at once.
const DIGITS: &str = "^[0-9*#A-Da-d]{1,32}$";
/// Name of the built-in tool that transfers the call.
pub const TRANSFER_CALL: &str = "transfer_call";
/// Name of the built-in tool that sets the call's disposition.
pub const SET_DISPOSITION: &str = "set_disposition";

enum Tool {
    Webhook {
        definition: ToolDefinition,
        url: String,
        validator: jsonschema::Validator,
        timeout: Duration,
        filler: Option<String>,
    },
    EndCall,
    SendDigits,
    Transfer {
        destination: String,
    },
    SetDisposition {
        allowed: Vec<String>,
    },
    SearchKnowledge(KnowledgeSearch),
}

/// A bot's knowledge search: which bases, how many passages, under what budget.
struct KnowledgeSearch {
    knowledge_bases: Vec<i64>,
    top_k: u32,
    timeout: Duration,
    filler: Option<String>,
    /// Run before every reply with the caller's words instead of offered as a tool.
    every_turn: bool,
}

impl Tool {
    /// A knowledge search that runs before every reply rather than when the model calls it.
    fn every_turn(&self) -> bool {
        matches!(self, Tool::SearchKnowledge(search) if search.every_turn)
    }
}

/// What running a tool asks of the call, besides giving the result back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolAction {
    Continue,
    EndCall,
    /// Press these keys on the call (upper case, checked).
    SendDigits(String),
    Transfer {
        destination: String,
    },
    Disposition(String),
}

/// How a call's keys are pressed: as events its transport carries out (RFC 4733 on `vox sip`'s
/// calls; the carrier's own verb on Telnyx, Vonage and Plivo, whose worker plays tones when the
/// verb fails), or as in-band DTMF tones in the bot's audio (Twilio, Exotel: every media-stream
/// carrier passes them on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keypad {
    Events,
    Tones(audio::SampleRate),
}

impl Default for Keypad {
    fn default() -> Self {
        Keypad::Tones(audio::SampleRate::Hz16000)
    }
}

impl Keypad {
    /// The keypad of a call started with `params`.
    pub fn of(params: &crate::frame::StartParams) -> Self {
        if params.sends_digits {
            Keypad::Events
        } else {
            Keypad::Tones(params.output_rate)
        }
    }
}

/// Presses `digits` (checked keypad keys) on the call, after what the bot was saying.
pub fn press_keys(digits: &str, keypad: Keypad, out: &crate::processor::Outbox) {
    use crate::frame::{AudioChunk, DataFrame, SystemFrame, TransportMessage};
    match keypad {
        Keypad::Events => out.down(SystemFrame::Transport(TransportMessage::Dtmf(
            digits.to_owned(),
        ))),
        Keypad::Tones(rate) => match audio::dtmf::tones(digits, rate) {
            Ok(samples) => out.down(DataFrame::OutputAudio(AudioChunk::new(samples, rate))),
            Err(error) => tracing::warn!(%error, "keys not pressed"),
        },
    }
}

/// The most of a tool's result a call's record keeps: the transcript is stored with the call and
/// shown to viewers, and its size must not put the call's result past the Backend's limit (M3).
pub const RECORDED_RESULT_BYTES: usize = 16 << 10;

/// `result` as the call's record keeps it: whole when small, else a preview of its first
/// [`RECORDED_RESULT_BYTES`] with its size.
pub fn recorded(result: &Value) -> Value {
    let text = result.to_string();
    if text.len() <= RECORDED_RESULT_BYTES {
        return result.clone();
    }
    let mut cut = RECORDED_RESULT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    json!({ "truncated": true, "bytes": text.len(), "preview": &text[..cut] })
}

/// The result of one tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub result: Value,
    pub action: ToolAction,
}

impl ToolOutcome {
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            result: json!({ "error": message.into() }),
            action: ToolAction::Continue,
        }
    }
}

/// The tools of one bot, ready to offer and run.
pub struct ToolSet {
    tools: Vec<Tool>,
    webhooks: Option<Arc<dyn WebhookClient>>,
    knowledge: Option<Arc<dyn KnowledgeClient>>,
    /// Sent with every webhook call (the call's ids), under `"call"`.
    context: Value,
}

impl std::fmt::Debug for ToolSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSet")
            .field(
                "tools",
                &self
                    .definitions()
                    .iter()
                    .map(|d| d.name.clone())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ToolSet {
    /// Compiles the bot's tools; a schema that does not compile is refused, naming the tool.
    pub fn new(
        specs: &[ToolSpec],
        webhooks: Option<Arc<dyn WebhookClient>>,
        context: Value,
    ) -> Result<Self, String> {
        let mut tools = Vec::with_capacity(specs.len());
        for spec in specs {
            tools.push(match spec {
                ToolSpec::Webhook {
                    name,
                    description,
                    url,
                    parameters,
                    timeout_ms,
                    filler,
                } => Tool::Webhook {
                    validator: jsonschema::validator_for(parameters)
                        .map_err(|e| format!("tool {name}: parameters: {e}"))?,
                    definition: ToolDefinition {
                        name: name.clone(),
                        description: description.clone(),
                        parameters: parameters.clone(),
                    },
                    url: url.clone(),
                    timeout: Duration::from_millis(*timeout_ms),
                    filler: filler.clone(),
                },
                ToolSpec::EndCall => Tool::EndCall,
                ToolSpec::SendDigits => Tool::SendDigits,
                ToolSpec::Transfer { destination } => Tool::Transfer {
                    destination: destination.clone(),
                },
                ToolSpec::SetDisposition { allowed } => Tool::SetDisposition {
                    allowed: allowed.clone(),
                },
                ToolSpec::SearchKnowledge {
                    knowledge_base_ids,
                    top_k,
                    timeout_ms,
                    filler,
                    retrieval,
                } => Tool::SearchKnowledge(KnowledgeSearch {
                    knowledge_bases: knowledge_base_ids.clone(),
                    top_k: *top_k,
                    timeout: Duration::from_millis(*timeout_ms),
                    filler: filler.clone(),
                    every_turn: *retrieval == Retrieval::EveryTurn,
                }),
            });
        }
        Ok(Self {
            tools,
            webhooks,
            knowledge: None,
            context,
        })
    }

    /// Searches knowledge bases through `client` (the fleet's Backend client).
    #[must_use]
    pub fn with_knowledge(mut self, client: Option<Arc<dyn KnowledgeClient>>) -> Self {
        self.knowledge = client;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// Whether a knowledge search runs before every reply ([`ToolSet::retrieve`]).
    pub fn retrieves_every_turn(&self) -> bool {
        self.tools.iter().any(Tool::every_turn)
    }

    /// The tools as offered to the model (a knowledge search that runs every turn is not one).
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        self.tools
            .iter()
            .filter(|tool| !tool.every_turn())
            .map(|tool| match tool {
                Tool::Webhook { definition, .. } => definition.clone(),
                Tool::EndCall => ToolDefinition {
                    name: END_CALL.to_owned(),
                    description: "End the call after saying goodbye.".to_owned(),
                    parameters: json!({ "type": "object", "properties": {} }),
                },
                Tool::SendDigits => ToolDefinition {
                    name: SEND_DIGITS.to_owned(),
                    description: "Press keys on the phone, as a person would to choose from an \
                                  automated menu (\"press 1 for sales\")."
                        .to_owned(),
                    parameters: json!({
                        "type": "object",
                        "properties": { "digits": {
                            "type": "string",
                            "pattern": DIGITS,
                            "description": "The keys in order: 0-9, * and #",
                        } },
                        "required": ["digits"],
                    }),
                },
                Tool::Transfer { .. } => ToolDefinition {
                    name: TRANSFER_CALL.to_owned(),
                    description: "Transfer the caller to a human agent.".to_owned(),
                    parameters: json!({ "type": "object", "properties": {} }),
                },
                Tool::SetDisposition { allowed } => ToolDefinition {
                    name: SET_DISPOSITION.to_owned(),
                    description: "Record the outcome of the call.".to_owned(),
                    parameters: json!({
                        "type": "object",
                        "properties": { "disposition": { "type": "string", "enum": allowed } },
                        "required": ["disposition"],
                    }),
                },
                Tool::SearchKnowledge(_) => ToolDefinition {
                    name: SEARCH_KNOWLEDGE.to_owned(),
                    description: "Search the knowledge base for facts that answer the caller. \
                                  Answer only from the passages found; say so when none fits."
                        .to_owned(),
                    parameters: json!({
                        "type": "object",
                        "properties": { "query": {
                            "type": "string",
                            "description": "What to look up, in the caller's words",
                        } },
                        "required": ["query"],
                    }),
                },
            })
            .collect()
    }

    fn find(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|tool| match tool {
            Tool::Webhook { definition, .. } => definition.name == name,
            Tool::EndCall => name == END_CALL,
            Tool::SendDigits => name == SEND_DIGITS,
            Tool::Transfer { .. } => name == TRANSFER_CALL,
            Tool::SetDisposition { .. } => name == SET_DISPOSITION,
            Tool::SearchKnowledge(search) => name == SEARCH_KNOWLEDGE && !search.every_turn,
        })
    }

    /// What the bot says while the named tool runs, if anything.
    pub fn filler(&self, name: &str) -> Option<&str> {
        match self.find(name) {
            Some(Tool::Webhook { filler, .. }) => filler.as_deref(),
            Some(Tool::SearchKnowledge(search)) => search.filler.as_deref(),
            _ => None,
        }
    }

    /// Runs the knowledge search that runs before every reply with `query` (the caller's words);
    /// `None` when the bot has none.
    pub async fn retrieve(&self, query: &str) -> Option<ToolOutcome> {
        let search = self.tools.iter().find_map(|tool| match tool {
            Tool::SearchKnowledge(search) if search.every_turn => Some(search),
            _ => None,
        })?;
        Some(self.search(search, query).await)
    }

    /// A knowledge search under its latency budget.
    async fn search(&self, search: &KnowledgeSearch, query: &str) -> ToolOutcome {
        let KnowledgeSearch {
            knowledge_bases,
            top_k,
            timeout,
            ..
        } = search;
        let query = query.trim();
        if query.is_empty() {
            return ToolOutcome::error("query must be a non-empty string");
        }
        let Some(client) = &self.knowledge else {
            return ToolOutcome::error("the knowledge base is not available");
        };
        match tokio::time::timeout(*timeout, client.search(query, knowledge_bases, *top_k)).await {
            Ok(Ok(result)) => ToolOutcome {
                result,
                action: ToolAction::Continue,
            },
            Ok(Err(message)) => ToolOutcome::error(message),
            Err(_) => ToolOutcome::error(format!(
                "the knowledge search found nothing within {} ms",
                timeout.as_millis()
            )),
        }
    }

    /// Checks the arguments and runs the tool.
    pub async fn execute(&self, call: &ToolCall) -> ToolOutcome {
        let Some(tool) = self.find(&call.name) else {
            return ToolOutcome::error(format!("unknown tool {}", call.name));
        };
        match tool {
            Tool::Webhook {
                url,
                validator,
                timeout,
                ..
            } => {
                let problems: Vec<String> = validator
                    .iter_errors(&call.arguments)
                    .map(|e| format!("{}: {e}", e.instance_path()))
                    .collect();
                if !problems.is_empty() {
                    return ToolOutcome::error(format!(
                        "invalid arguments: {}",
                        problems.join("; ")
                    ));
                }
                let Some(client) = &self.webhooks else {
                    return ToolOutcome::error("webhooks are not available");
                };
                let body =
                    json!({ "tool": call.name, "arguments": call.arguments, "call": self.context });
                match tokio::time::timeout(*timeout, client.call(url, &body)).await {
                    Ok(Ok(result)) => ToolOutcome {
                        result,
                        action: ToolAction::Continue,
                    },
                    Ok(Err(message)) => ToolOutcome::error(message),
                    Err(_) => {
                        ToolOutcome::error(format!("timed out after {} ms", timeout.as_millis()))
                    }
                }
            }
            Tool::SearchKnowledge(search) => {
                let query = call
                    .arguments
                    .get("query")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.search(search, query).await
            }
            Tool::EndCall => ToolOutcome {
                result: json!({ "ok": true }),
                action: ToolAction::EndCall,
            },
            Tool::SendDigits => {
                let digits = call.arguments.get("digits").and_then(Value::as_str);
                match digits {
                    Some(digits)
                        if (1..=32).contains(&digits.len())
                            && digits
                                .chars()
                                .all(|c| c.is_ascii_digit() || "*#ABCDabcd".contains(c)) =>
                    {
                        let digits = digits.to_ascii_uppercase();
                        ToolOutcome {
                            result: json!({ "ok": true, "pressed": digits }),
                            action: ToolAction::SendDigits(digits),
                        }
                    }
                    other => ToolOutcome::error(format!(
                        "digits must be 1 to 32 of 0-9, *, # and A-D, got {other:?}"
                    )),
                }
            }
            Tool::Transfer { destination } => ToolOutcome {
                result: json!({ "ok": true }),
                action: ToolAction::Transfer {
                    destination: destination.clone(),
                },
            },
            Tool::SetDisposition { allowed } => {
                match call.arguments.get("disposition").and_then(Value::as_str) {
                    Some(value) if allowed.iter().any(|a| a == value) => ToolOutcome {
                        result: json!({ "ok": true }),
                        action: ToolAction::Disposition(value.to_owned()),
                    },
                    other => ToolOutcome::error(format!(
                        "disposition must be one of {allowed:?}, got {other:?}"
                    )),
                }
            }
        }
    }
}
