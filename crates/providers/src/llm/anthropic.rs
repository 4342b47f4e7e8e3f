//! Anthropic Messages with streaming and tool use.
//!
//! Wire protocol: `POST {base}/v1/messages` with `x-api-key`, `anthropic-version: 2023-06-01` and
//! `"stream": true` answers Server-Sent Events: `message_start`, then per content block
//! `content_block_start` (a `text` block or a `tool_use` block with `id` and `name`),
//! `content_block_delta` (`text_delta` or `input_json_delta` with `partial_json`),
//! `content_block_stop`; then `message_delta`, `message_stop`; `ping` anywhere; `error` with
//! `{"type": "error", "error": {"type", "message"}}` (<https://docs.anthropic.com/en/api/messages-streaming>).

use crate::http::Endpoint;
use crate::llm::{SseDecoder, sse_stream};
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use pipeline::{LanguageModel, LlmEvent, LlmRequest, Message, ProviderError, ToolCall};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// The API version header value this adapter speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// An Anthropic Messages endpoint.
#[derive(Debug, Clone)]
pub struct AnthropicLlm {
    pub endpoint: Endpoint,
    pub model: String,
    pub max_tokens: u32,
}

impl AnthropicLlm {
    pub fn new(endpoint: Endpoint, model: &str) -> Self {
        Self {
            endpoint,
            model: model.to_owned(),
            max_tokens: 1024,
        }
    }

    /// The request body: consecutive messages of one role are merged, tool results ride in a user turn.
    pub fn body(&self, request: &LlmRequest) -> Value {
        let mut messages: Vec<(String, Vec<Value>)> = Vec::new();
        let mut push = |role: &str, block: Value| match messages.last_mut() {
            Some((last, blocks)) if last == role => blocks.push(block),
            _ => messages.push((role.to_owned(), vec![block])),
        };
        for message in &request.messages {
            match message {
                Message::User(text) => push("user", json!({ "type": "text", "text": text })),
                Message::Assistant { text, tool_calls } => {
                    if !text.is_empty() {
                        push("assistant", json!({ "type": "text", "text": text }));
                    }
                    for call in tool_calls {
                        push(
                            "assistant",
                            json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments }),
                        );
                    }
                }
                Message::ToolResult {
                    call_id, content, ..
                } => push(
                    "user",
                    json!({ "type": "tool_result", "tool_use_id": call_id, "content": content }),
                ),
            }
        }
        // The conversation must open with the caller: a bot that spoke first gets a marker turn.
        if messages
            .first()
            .is_some_and(|(role, _)| role == "assistant")
        {
            messages.insert(
                0,
                (
                    "user".to_owned(),
                    vec![json!({ "type": "text", "text": "(the call connected)" })],
                ),
            );
        }
        let mut body = json!({
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": request.system,
            "messages": messages.into_iter().map(|(role, content)| json!({ "role": role, "content": content })).collect::<Vec<_>>(),
            "stream": true,
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|tool| json!({ "name": tool.name, "description": tool.description, "input_schema": tool.parameters }))
                .collect();
        }
        body
    }
}

#[derive(Debug, Default)]
struct Decoder {
    /// Tool-use blocks being assembled, by block index: id, name, JSON so far.
    tools: HashMap<u64, (String, String, String)>,
    stopped: bool,
}

impl SseDecoder for Decoder {
    const END: &'static str = "message_stop";

    fn finished(&self) -> bool {
        self.stopped
    }

    fn event(
        &mut self,
        provider: &str,
        kind: &str,
        data: &str,
    ) -> Result<Vec<LlmEvent>, ProviderError> {
        let protocol = |message: String| ProviderError::Protocol {
            provider: provider.to_owned(),
            message,
        };
        let value: Value = serde_json::from_str(data)
            .map_err(|e| protocol(format!("malformed {kind} event: {e}")))?;
        let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "content_block_start" => {
                let block = value
                    .get("content_block")
                    .ok_or_else(|| protocol("content_block_start without a block".to_owned()))?;
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let id = block
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let name = block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    self.tools.insert(index, (id, name, String::new()));
                }
                Ok(Vec::new())
            }
            "content_block_delta" => {
                let delta = value
                    .get("delta")
                    .ok_or_else(|| protocol("content_block_delta without a delta".to_owned()))?;
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => Ok(delta
                        .get("text")
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                        .map(|t| vec![LlmEvent::Text(t.to_owned())])
                        .unwrap_or_default()),
                    Some("input_json_delta") => {
                        if let Some((_, _, json)) = self.tools.get_mut(&index) {
                            json.push_str(
                                delta
                                    .get("partial_json")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default(),
                            );
                        }
                        Ok(Vec::new())
                    }
                    _ => Ok(Vec::new()),
                }
            }
            "content_block_stop" => {
                let Some((id, name, json)) = self.tools.remove(&index) else {
                    return Ok(Vec::new());
                };
                let arguments = if json.trim().is_empty() {
                    json!({})
                } else {
                    serde_json::from_str(&json).map_err(|e| {
                        protocol(format!("tool_use {name} has malformed input: {e}"))
                    })?
                };
                Ok(vec![LlmEvent::ToolCall(ToolCall {
                    id,
                    name,
                    arguments,
                })])
            }
            "message_stop" => {
                self.stopped = true;
                Ok(Vec::new())
            }
            "error" => {
                let kind = value
                    .pointer("/error/type")
                    .and_then(Value::as_str)
                    .unwrap_or("error");
                let message = value
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("error in stream")
                    .to_owned();
                Err(match kind {
                    "rate_limit_error" => ProviderError::RateLimited {
                        provider: provider.to_owned(),
                        retry_after: None,
                    },
                    "authentication_error" | "permission_error" => ProviderError::Auth {
                        provider: provider.to_owned(),
                        message,
                    },
                    "overloaded_error" => ProviderError::RateLimited {
                        provider: provider.to_owned(),
                        retry_after: Some(Duration::from_secs(1)),
                    },
                    _ => ProviderError::Other {
                        provider: provider.to_owned(),
                        message: format!("{kind}: {message}"),
                    },
                })
            }
            // message_start, message_delta, ping and event types added later carry nothing we use.
            _ => Ok(Vec::new()),
        }
    }
}

#[async_trait]
impl LanguageModel for AnthropicLlm {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    async fn stream(
        &self,
        request: &LlmRequest,
    ) -> Result<BoxStream<'static, Result<LlmEvent, ProviderError>>, ProviderError> {
        let endpoint = &self.endpoint;
        let mut builder = endpoint
            .client()?
            .post(endpoint.url("/v1/messages"))
            .header("anthropic-version", ANTHROPIC_VERSION)
            .json(&self.body(request));
        if let Some(key) = &endpoint.api_key {
            builder = builder.header("x-api-key", key);
        }
        let response = endpoint.send(builder).await?;
        Ok(sse_stream(
            response,
            endpoint.name.clone(),
            Decoder::default(),
        ))
    }
}
