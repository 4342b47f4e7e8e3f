//! A Messages API server as Anthropic documents it, and the adapter against it.
//!
//! Protocol: <https://docs.anthropic.com/en/api/messages> (request: `system`, `messages` with
//! content blocks, `tools` with `input_schema`, `tool_use` / `tool_result` blocks) and
//! <https://docs.anthropic.com/en/api/messages-streaming> (events `message_start`,
//! `content_block_start`, `content_block_delta` with `text_delta` / `input_json_delta`,
//! `content_block_stop`, `message_delta`, `message_stop`, `ping`, and `error`); errors:
//! <https://docs.anthropic.com/en/api/errors> (401 `authentication_error`, 429 with `retry-after`,
//! 529 `overloaded_error`, `{"type": "error", "error": {"type", "message"}}`).

use crate::support::*;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pipeline::{
    LanguageModel, LlmEvent, LlmRequest, Message, ProviderError, ToolCall, ToolDefinition,
};
use providers::llm::AnthropicLlm;
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn event(name: &'static str, data: Value) -> (Option<&'static str>, String) {
    (Some(name), data.to_string())
}

fn message_start() -> (Option<&'static str>, String) {
    event(
        "message_start",
        json!({ "type": "message_start", "message": { "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude", "stop_reason": null, "usage": { "input_tokens": 10, "output_tokens": 1 } } }),
    )
}

async fn messages(
    State(seen): State<mpsc::UnboundedSender<Value>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("test-key") {
        let error = json!({ "type": "error", "error": { "type": "authentication_error", "message": "invalid x-api-key" } });
        return (StatusCode::UNAUTHORIZED, axum::Json(error)).into_response();
    }
    assert_eq!(headers.get("anthropic-version").unwrap(), "2023-06-01");
    let request: Value = serde_json::from_str(&body).unwrap();
    let _ = seen.send(request.clone());
    let last_turn = request["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_array()
        .unwrap()
        .clone();
    let last = last_turn
        .iter()
        .rev()
        .find_map(|block| block["text"].as_str())
        .unwrap_or_default()
        .to_owned();
    let stream = |events: Vec<(Option<&str>, String)>| {
        ([("content-type", "text/event-stream")], sse(&events)).into_response()
    };
    match last.as_str() {
        "overloaded" => {
            let error = json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } });
            (StatusCode::from_u16(529).unwrap(), axum::Json(error)).into_response()
        }
        "rate limit me" => {
            let error = json!({ "type": "error", "error": { "type": "rate_limit_error", "message": "Too many" } });
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "3")],
                axum::Json(error),
            )
                .into_response()
        }
        "error mid-stream" => stream(vec![
            message_start(),
            event(
                "content_block_start",
                json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
            ),
            event(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": "Let me" } }),
            ),
            event(
                "error",
                json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } }),
            ),
        ]),
        "truncated" => stream(vec![
            message_start(),
            event("ping", json!({ "type": "ping" })),
        ]),
        _ => stream(vec![
            message_start(),
            event(
                "content_block_start",
                json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
            ),
            event("ping", json!({ "type": "ping" })),
            event(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": "Okay, " } }),
            ),
            event(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": "booking it." } }),
            ),
            event(
                "content_block_stop",
                json!({ "type": "content_block_stop", "index": 0 }),
            ),
            event(
                "content_block_start",
                json!({ "type": "content_block_start", "index": 1, "content_block": { "type": "tool_use", "id": "toolu_01", "name": "book", "input": {} } }),
            ),
            event(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": 1, "delta": { "type": "input_json_delta", "partial_json": "" } }),
            ),
            event(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": 1, "delta": { "type": "input_json_delta", "partial_json": "{\"day\": \"tue" } }),
            ),
            event(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": 1, "delta": { "type": "input_json_delta", "partial_json": "sday\"}" } }),
            ),
            event(
                "content_block_stop",
                json!({ "type": "content_block_stop", "index": 1 }),
            ),
            event(
                "message_delta",
                json!({ "type": "message_delta", "delta": { "stop_reason": "tool_use", "stop_sequence": null }, "usage": { "output_tokens": 20 } }),
            ),
            event("message_stop", json!({ "type": "message_stop" })),
        ]),
    }
}

async fn server() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        serve(
            Router::new()
                .route("/v1/messages", post(messages))
                .with_state(tx),
        )
        .await,
        rx,
    )
}

fn request(last: &str) -> LlmRequest {
    LlmRequest {
        system: "Be brief.".to_owned(),
        messages: vec![
            Message::Assistant {
                text: "Hi, Ana here.".to_owned(),
                tool_calls: vec![],
            },
            Message::User("Book me".to_owned()),
            Message::Assistant {
                text: "Checking.".to_owned(),
                tool_calls: vec![ToolCall {
                    id: "toolu_0".to_owned(),
                    name: "lookup".to_owned(),
                    arguments: json!({ "q": 1 }),
                }],
            },
            Message::ToolResult {
                call_id: "toolu_0".to_owned(),
                name: "lookup".to_owned(),
                content: "free".to_owned(),
            },
            Message::User(last.to_owned()),
        ],
        tools: vec![ToolDefinition {
            name: "book".to_owned(),
            description: "Books".to_owned(),
            parameters: json!({ "type": "object" }),
        }],
    }
}

#[tokio::test]
async fn anthropic_streams_text_and_a_tool_use_block() {
    let (addr, mut seen) = server().await;
    let llm = AnthropicLlm::new(http_endpoint("anthropic", addr, ""), "claude-test");
    let (events, error) = collect(llm.stream(&request("go")).await.unwrap()).await;
    assert_eq!(error, None);
    assert_eq!(
        events,
        vec![
            LlmEvent::Text("Okay, ".to_owned()),
            LlmEvent::Text("booking it.".to_owned()),
            LlmEvent::ToolCall(ToolCall {
                id: "toolu_01".to_owned(),
                name: "book".to_owned(),
                arguments: json!({ "day": "tuesday" })
            }),
        ]
    );
    let body = seen.recv().await.unwrap();
    assert_eq!(body["system"], "Be brief.");
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    // Opens with the caller; the tool result and the next user text share one user turn.
    assert_eq!(
        roles,
        vec!["user", "assistant", "user", "assistant", "user"]
    );
    assert_eq!(
        body["messages"][3]["content"][1],
        json!({ "type": "tool_use", "id": "toolu_0", "name": "lookup", "input": { "q": 1 } })
    );
    assert_eq!(
        body["messages"][4]["content"][0],
        json!({ "type": "tool_result", "tool_use_id": "toolu_0", "content": "free" })
    );
    assert_eq!(
        body["messages"][4]["content"][1],
        json!({ "type": "text", "text": "go" })
    );
    assert_eq!(
        body["tools"][0]["input_schema"],
        json!({ "type": "object" })
    );
}

#[tokio::test]
async fn anthropic_errors_are_typed() {
    let (addr, _seen) = server().await;
    let mut bad_key = http_endpoint("anthropic", addr, "");
    bad_key.api_key = Some("nope".to_owned());
    let err = AnthropicLlm::new(bad_key, "m")
        .stream(&request("go"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ProviderError::Auth { message, .. } if message.contains("invalid x-api-key")),
        "{err:?}"
    );

    let llm = AnthropicLlm::new(http_endpoint("anthropic", addr, ""), "m");
    let err = llm.stream(&request("rate limit me")).await.err().unwrap();
    assert_eq!(
        err,
        ProviderError::RateLimited {
            provider: "anthropic".to_owned(),
            retry_after: Some(std::time::Duration::from_secs(3))
        }
    );
    let err = llm.stream(&request("overloaded")).await.err().unwrap();
    assert!(matches!(err, ProviderError::Other { .. }), "{err:?}");

    let (events, error) = collect(llm.stream(&request("error mid-stream")).await.unwrap()).await;
    assert_eq!(events, vec![LlmEvent::Text("Let me".to_owned())]);
    assert!(
        matches!(error, Some(ProviderError::RateLimited { .. })),
        "{error:?}"
    );

    let (_, error) = collect(llm.stream(&request("truncated")).await.unwrap()).await;
    assert!(
        matches!(&error, Some(ProviderError::Protocol { message, .. }) if message.contains("message_stop")),
        "{error:?}"
    );
}
