//! OpenAI-compatible chat completions with streaming and tool calls.
//!
//! For OpenAI, Groq, Together, vLLM, llama.cpp's server, Ollama and vox-llm.
//!
//! Wire protocol: `POST {base}/chat/completions` with `"stream": true` answers Server-Sent Events,
//! each `data:` a `chat.completion.chunk` whose `choices[0].delta` carries `content` or
//! `tool_calls` fragments (by `index`; `id` and `function.name` in the first fragment,
//! `function.arguments` as string pieces), ending with `data: [DONE]`
//! (<https://platform.openai.com/docs/api-reference/chat/create>, "streaming").

use crate::http::Endpoint;
use crate::llm::{SseDecoder, sse_stream};
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use pipeline::{LanguageModel, LlmEvent, LlmRequest, Message, ProviderError, ToolCall};
use serde_json::{Value, json};

/// A chat completions endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiLlm {
    pub endpoint: Endpoint,
    pub model: String,
    pub temperature: Option<f64>,
}

impl OpenAiLlm {
    pub fn new(endpoint: Endpoint, model: &str) -> Self {
        Self {
            endpoint,
            model: model.to_owned(),
            temperature: None,
        }
    }

    /// The request body for `request`.
    pub fn body(&self, request: &LlmRequest) -> Value {
        let mut messages = vec![json!({ "role": "system", "content": request.system })];
        for message in &request.messages {
            messages.push(match message {
                Message::User(text) => json!({ "role": "user", "content": text }),
                Message::Assistant { text, tool_calls } if tool_calls.is_empty() => {
                    json!({ "role": "assistant", "content": text })
                }
                Message::Assistant { text, tool_calls } => json!({
                    "role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { Value::String(text.clone()) },
                    "tool_calls": tool_calls.iter().map(|call| json!({
                        "id": call.id,
                        "type": "function",
                        "function": { "name": call.name, "arguments": call.arguments.to_string() },
                    })).collect::<Vec<_>>(),
                }),
                Message::ToolResult { call_id, content, .. } => {
                    json!({ "role": "tool", "tool_call_id": call_id, "content": content })
                }
            });
        }
        let mut body = json!({ "model": self.model, "messages": messages, "stream": true });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|tool| {
                    json!({
                        "type": "function",
                        "function": { "name": tool.name, "description": tool.description, "parameters": tool.parameters },
                    })
                })
                .collect();
        }
        if let Some(temperature) = self.temperature {
            body["temperature"] = json!(temperature);
        }
        body
    }
}

/// A tool call being assembled from its fragments.
#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Turns the chunks of one stream into events; tool calls are emitted whole when the stream says they are done.
#[derive(Debug, Default)]
struct Decoder {
    calls: Vec<PartialCall>,
    done: bool,
}

impl SseDecoder for Decoder {
    const END: &'static str = "[DONE]";

    fn event(
        &mut self,
        provider: &str,
        _name: &str,
        data: &str,
    ) -> Result<Vec<LlmEvent>, ProviderError> {
        self.chunk(provider, data)
    }

    fn finished(&self) -> bool {
        self.done
    }
}

impl Decoder {
    fn chunk(&mut self, provider: &str, data: &str) -> Result<Vec<LlmEvent>, ProviderError> {
        let protocol = |message: String| ProviderError::Protocol {
            provider: provider.to_owned(),
            message,
        };
        if data.trim() == "[DONE]" {
            self.done = true;
            return self.finish(provider);
        }
        let chunk: Value =
            serde_json::from_str(data).map_err(|e| protocol(format!("malformed chunk: {e}")))?;
        if let Some(error) = chunk.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error in stream");
            return Err(ProviderError::Other {
                provider: provider.to_owned(),
                message: message.to_owned(),
            });
        }
        let mut events = Vec::new();
        let Some(choice) = chunk.pointer("/choices/0") else {
            return Ok(events);
        };
        if let Some(content) = choice.pointer("/delta/content").and_then(Value::as_str)
            && !content.is_empty()
        {
            events.push(LlmEvent::Text(content.to_owned()));
        }
        if let Some(fragments) = choice
            .pointer("/delta/tool_calls")
            .and_then(Value::as_array)
        {
            for fragment in fragments {
                let index = fragment.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                if self.calls.len() <= index {
                    self.calls.resize_with(index + 1, PartialCall::default);
                }
                let call = &mut self.calls[index];
                if let Some(id) = fragment.get("id").and_then(Value::as_str) {
                    call.id = id.to_owned();
                }
                if let Some(name) = fragment.pointer("/function/name").and_then(Value::as_str) {
                    call.name.push_str(name);
                }
                if let Some(arguments) = fragment
                    .pointer("/function/arguments")
                    .and_then(Value::as_str)
                {
                    call.arguments.push_str(arguments);
                }
            }
        }
        if choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .is_some()
        {
            events.extend(self.finish(provider)?);
        }
        Ok(events)
    }

    fn finish(&mut self, provider: &str) -> Result<Vec<LlmEvent>, ProviderError> {
        let mut events = Vec::new();
        for call in self.calls.drain(..) {
            let arguments = if call.arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&call.arguments).map_err(|e| ProviderError::Protocol {
                    provider: provider.to_owned(),
                    message: format!("tool call {} has malformed arguments: {e}", call.name),
                })?
            };
            events.push(LlmEvent::ToolCall(ToolCall {
                id: call.id,
                name: call.name,
                arguments,
            }));
        }
        Ok(events)
    }
}

#[async_trait]
impl LanguageModel for OpenAiLlm {
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
            .post(endpoint.url("/chat/completions"))
            .json(&self.body(request));
        if let Some(key) = &endpoint.api_key {
            builder = builder.bearer_auth(key);
        }
        let response = endpoint.send(builder).await?;
        Ok(sse_stream(
            response,
            endpoint.name.clone(),
            Decoder::default(),
        ))
    }
}
