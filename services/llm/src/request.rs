//! A chat completions request, read and checked field by field.
//!
//! What is wrong is refused with the field's name.
//!
//! Follows <https://platform.openai.com/docs/api-reference/chat/create>: `messages` (roles
//! `system`, `developer`, `user`, `assistant`, `tool`; content a string or an array of `text`
//! parts), `stream`, `stream_options.include_usage`, `max_tokens` (or `max_completion_tokens`),
//! `stop` (a string or up to four), `temperature` (0 to 2; 0 or none decodes greedily), `seed`, `n`
//! (1 only), `tools` and `tool_choice`. Small local models cannot be trusted with tools: `tools`
//! are accepted and not offered to the model, a `tool_choice` that demands a call is refused, and a
//! tool's result in the conversation reaches the model as text. Other fields (`model`, `top_p`,
//! `user`, …) are accepted and ignored: there is one model.

use crate::engine::{Role, Sampling, Turn};
use serde_json::{Map, Value};

/// Most stop sequences one request may give (OpenAI's limit).
pub const MAX_STOPS: usize = 4;

/// A field that is wrong, with why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct Invalid {
    pub param: String,
    pub message: String,
}

fn invalid(param: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        param: param.into(),
        message: message.into(),
    }
}

/// What the request asks for, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub turns: Vec<Turn>,
    pub stream: bool,
    pub include_usage: bool,
    /// `None`: the server's default.
    pub max_tokens: Option<usize>,
    pub stop: Vec<String>,
    pub sampling: Sampling,
}

impl ChatRequest {
    /// Reads a request body (JSON text).
    pub fn parse(body: &[u8]) -> Result<Self, Invalid> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| invalid("body", format!("not a JSON document: {e}")))?;
        let Value::Object(fields) = value else {
            return Err(invalid("body", "must be a JSON object"));
        };
        Self::from_fields(&fields)
    }

    fn from_fields(fields: &Map<String, Value>) -> Result<Self, Invalid> {
        let field = |name: &str| fields.get(name).filter(|v| !v.is_null());
        let stream = match field("stream") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid("stream", "must be true or false")),
        };
        let include_usage = match field("stream_options") {
            None => false,
            Some(Value::Object(options)) => match options.get("include_usage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(invalid(
                        "stream_options.include_usage",
                        "must be true or false",
                    ));
                }
            },
            Some(_) => return Err(invalid("stream_options", "must be an object")),
        };
        let max_tokens = match (field("max_completion_tokens"), field("max_tokens")) {
            (Some(v), _) => Some(positive(v, "max_completion_tokens")?),
            (None, Some(v)) => Some(positive(v, "max_tokens")?),
            (None, None) => None,
        };
        let stop = match field("stop") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => {
                if items.len() > MAX_STOPS {
                    return Err(invalid(
                        "stop",
                        format!("at most {MAX_STOPS} stop sequences, {} given", items.len()),
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::String(s) => Ok(s.clone()),
                        _ => Err(invalid(format!("stop[{i}]"), "must be a string")),
                    })
                    .collect::<Result<_, _>>()?
            }
            Some(_) => return Err(invalid("stop", "must be a string or an array of strings")),
        };
        if let Some(i) = stop.iter().position(String::is_empty) {
            return Err(invalid(format!("stop[{i}]"), "must not be empty"));
        }
        let temperature = match field("temperature") {
            None => 0.0,
            Some(v) => match v.as_f64() {
                Some(t) if (0.0..=2.0).contains(&t) => t,
                _ => return Err(invalid("temperature", "must be a number from 0 to 2")),
            },
        };
        let seed = match field("seed") {
            None => 0,
            Some(v) => v
                .as_i64()
                .map(|s| s as u32)
                .ok_or_else(|| invalid("seed", "must be an integer"))?,
        };
        let sampling = if temperature > 0.0 {
            Sampling::Temperature {
                temperature: temperature as f32,
                seed,
            }
        } else {
            Sampling::Greedy
        };
        if let Some(n) = field("n")
            && n.as_u64() != Some(1)
        {
            return Err(invalid("n", "only one choice (n = 1) is generated"));
        }
        if let Some(tools) = field("tools")
            && !tools.is_array()
        {
            return Err(invalid("tools", "must be an array"));
        }
        match field("tool_choice") {
            None => {}
            Some(Value::String(s)) if s == "none" || s == "auto" => {}
            Some(_) => {
                return Err(invalid(
                    "tool_choice",
                    "this local model is not offered tools; only \"auto\" or \"none\" can be honoured",
                ));
            }
        }
        if let Some(format) = field("response_format")
            && format.get("type").and_then(Value::as_str) != Some("text")
        {
            return Err(invalid(
                "response_format",
                "only {\"type\": \"text\"} is supported",
            ));
        }
        let turns = turns(field("messages"))?;
        Ok(Self {
            turns,
            stream,
            include_usage,
            max_tokens,
            stop,
            sampling,
        })
    }
}

fn positive(value: &Value, param: &str) -> Result<usize, Invalid> {
    match value.as_u64() {
        Some(n) if n > 0 => Ok(n as usize),
        _ => Err(invalid(param, "must be a positive integer")),
    }
}

/// The conversation as text turns; a tool's result is told to the model as the user's words.
fn turns(messages: Option<&Value>) -> Result<Vec<Turn>, Invalid> {
    let Some(messages) = messages else {
        return Err(invalid("messages", "is required"));
    };
    let Value::Array(messages) = messages else {
        return Err(invalid("messages", "must be an array"));
    };
    if messages.is_empty() {
        return Err(invalid("messages", "must hold at least one message"));
    }
    // Tool calls' names by id, so a tool result can say which tool answered.
    let mut tool_names: Vec<(String, String)> = Vec::new();
    let mut turns = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let at = |name: &str| format!("messages[{i}].{name}");
        let Value::Object(message) = message else {
            return Err(invalid(format!("messages[{i}]"), "must be an object"));
        };
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(at("role"), "is required (a string)"))?;
        let text = content(message.get("content"), &at("content"))?;
        let turn = match role {
            "system" | "developer" => Turn {
                role: Role::System,
                text: text.unwrap_or_default(),
            },
            "user" => Turn {
                role: Role::User,
                text: text.ok_or_else(|| invalid(at("content"), "is required"))?,
            },
            "assistant" => {
                if let Some(Value::Array(calls)) = message.get("tool_calls") {
                    for call in calls {
                        let id = call.get("id").and_then(Value::as_str);
                        let name = call.pointer("/function/name").and_then(Value::as_str);
                        if let (Some(id), Some(name)) = (id, name) {
                            tool_names.push((id.to_owned(), name.to_owned()));
                        }
                    }
                }
                Turn {
                    role: Role::Assistant,
                    text: text.unwrap_or_default(),
                }
            }
            "tool" => {
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(at("tool_call_id"), "is required for a tool message"))?;
                let name = tool_names
                    .iter()
                    .find(|(known, _)| known == id)
                    .map_or(id, |(_, name)| name.as_str());
                Turn {
                    role: Role::User,
                    text: format!("(tool {name} returned: {})", text.unwrap_or_default()),
                }
            }
            other => {
                return Err(invalid(
                    at("role"),
                    format!("{other:?} is not a role (system, developer, user, assistant or tool)"),
                ));
            }
        };
        turns.push(turn);
    }
    Ok(turns)
}

/// A message's text: a string, or the `text` parts of an array joined; `None` when absent.
fn content(value: Option<&Value>, param: &str) -> Result<Option<String>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (i, part) in parts.iter().enumerate() {
                match (
                    part.get("type").and_then(Value::as_str),
                    part.get("text").and_then(Value::as_str),
                ) {
                    (Some("text"), Some(piece)) => text.push_str(piece),
                    _ => {
                        return Err(invalid(
                            format!("{param}[{i}]"),
                            "only text parts ({\"type\": \"text\", \"text\": …}) are understood",
                        ));
                    }
                }
            }
            Ok(Some(text))
        }
        Some(_) => Err(invalid(param, "must be a string or an array of text parts")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<ChatRequest, Invalid> {
        ChatRequest::parse(value.to_string().as_bytes())
    }

    #[test]
    fn a_tool_result_reaches_the_model_as_the_user_words_naming_the_tool() {
        let request = parse(json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hours?"}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "hours", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "9 to 5"},
        ], "tools": [], "stop": "\n", "max_tokens": 7}))
        .unwrap();
        assert_eq!(request.turns.len(), 4);
        assert_eq!(request.turns[1].text, "Hours?");
        assert_eq!(request.turns[3].role, Role::User);
        assert_eq!(request.turns[3].text, "(tool hours returned: 9 to 5)");
        assert_eq!(request.stop, vec!["\n"]);
        assert_eq!(request.max_tokens, Some(7));
        assert_eq!(request.sampling, Sampling::Greedy);
    }

    #[test]
    fn each_wrong_field_is_named() {
        let cases = [
            (json!({}), "messages"),
            (json!({"messages": []}), "messages"),
            (
                json!({"messages": [{"role": "robot", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"messages": [{"role": "user", "content": 3}]}),
                "messages[0].content",
            ),
            (
                json!({"messages": [{"role": "user"}]}),
                "messages[0].content",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
                "messages[0].content[0]",
            ),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}),
                "messages[0].tool_call_id",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}),
                "max_tokens",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": -1}),
                "max_completion_tokens",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]}),
                "stop",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stop": ["a", ""]}),
                "stop[1]",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stop": [1]}),
                "stop[0]",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "temperature": 3}),
                "temperature",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}),
                "stream",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "n": 2}),
                "n",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}),
                "tool_choice",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}),
                "response_format",
            ),
            (json!([1]), "body"),
        ];
        for (body, param) in cases {
            let err = parse(body.clone()).unwrap_err();
            assert_eq!(err.param, param, "{body}: {err}");
        }
        assert_eq!(ChatRequest::parse(b"{not json").unwrap_err().param, "body");
    }

    #[test]
    fn a_temperature_above_zero_samples_with_the_seed() {
        let request = parse(json!({"messages": [{"role": "user", "content": "x"}],
            "temperature": 0.7, "seed": 42, "stream": true, "stream_options": {"include_usage": true}}))
        .unwrap();
        assert!(request.stream && request.include_usage);
        assert_eq!(
            request.sampling,
            Sampling::Temperature {
                temperature: 0.7,
                seed: 42
            }
        );
    }
}
