//! A chat completions server as OpenAI documents it, and the adapter against it.
//!
//! Protocol: <https://platform.openai.com/docs/api-reference/chat/create> and
//! <https://platform.openai.com/docs/api-reference/chat-streaming> (the `chat.completion.chunk`
//! object: `choices[].delta.content`, `choices[].delta.tool_calls[]` with `index`, `id`,
//! `function.name` and `function.arguments` fragments, `finish_reason`, then `data: [DONE]`);
//! errors: <https://platform.openai.com/docs/guides/error-codes> (401 invalid key, 429 with
//! `retry-after`, `{"error": {"message", "type", "code"}}`).

use crate::support::*;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pipeline::{
    LanguageModel, LlmEvent, LlmRequest, Message, ProviderError, ToolCall, ToolDefinition,
};
use providers::llm::OpenAiLlm;
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn chunk(delta: Value, finish: Option<&str>) -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
    })
    .to_string()
}

async fn completions(
    State(seen): State<mpsc::UnboundedSender<Value>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer test-key") {
        let error = json!({ "error": { "message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key" } });
        return (StatusCode::UNAUTHORIZED, axum::Json(error)).into_response();
    }
    let request: Value = serde_json::from_str(&body).unwrap();
    let _ = seen.send(request.clone());
    let last = request["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let sse_response =
        |text: String| ([("content-type", "text/event-stream")], text).into_response();
    match last.as_str() {
        "rate limit me" => {
            let error = json!({ "error": { "message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded" } });
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "7")],
                axum::Json(error),
            )
                .into_response()
        }
        "book it" => sse_response(sse(&[
            (
                None,
                chunk(
                    json!({ "role": "assistant", "content": null, "tool_calls": [{ "index": 0, "id": "call_abc", "type": "function", "function": { "name": "book", "arguments": "" } }] }),
                    None,
                ),
            ),
            (
                None,
                chunk(
                    json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "{\"day\":" } }] }),
                    None,
                ),
            ),
            (
                None,
                chunk(
                    json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "\"tuesday\"}" } }] }),
                    None,
                ),
            ),
            (None, chunk(json!({}), Some("tool_calls"))),
            (None, "[DONE]".to_owned()),
        ])),
        "drop" => Response::builder()
            .header("content-type", "text/event-stream")
            .body(body_then_drop(vec![sse(&[(
                None,
                chunk(json!({ "content": "Hel" }), None),
            )])]))
            .unwrap(),
        "garbage" => sse_response(sse(&[
            (None, chunk(json!({ "content": "Hi" }), None)),
            (None, "{not json".to_owned()),
        ])),
        _ => sse_response(sse(&[
            (
                None,
                chunk(json!({ "role": "assistant", "content": "" }), None),
            ),
            (None, chunk(json!({ "content": "Hello" }), None)),
            (None, chunk(json!({ "content": " there!" }), None)),
            (None, chunk(json!({}), Some("stop"))),
            (None, "[DONE]".to_owned()),
        ])),
    }
}

pub async fn server() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let addr = serve(
        Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(tx),
    )
    .await;
    (addr, rx)
}

fn request(last: &str) -> LlmRequest {
    LlmRequest {
        system: "Be brief.".to_owned(),
        messages: vec![
            Message::User("Hi".to_owned()),
            Message::Assistant {
                text: String::new(),
                tool_calls: vec![ToolCall {
                    id: "call_1".to_owned(),
                    name: "lookup".to_owned(),
                    arguments: json!({ "q": 1 }),
                }],
            },
            Message::ToolResult {
                call_id: "call_1".to_owned(),
                name: "lookup".to_owned(),
                content: "{\"ok\":true}".to_owned(),
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
async fn openai_streams_text_and_sends_the_documented_request_shape() {
    let (addr, mut seen) = server().await;
    let llm = OpenAiLlm::new(http_endpoint("openai", addr, "/v1"), "gpt-4o-mini");
    let (events, error) = collect(llm.stream(&request("hello")).await.unwrap()).await;
    assert_eq!(error, None);
    assert_eq!(
        events,
        vec![
            LlmEvent::Text("Hello".to_owned()),
            LlmEvent::Text(" there!".to_owned())
        ]
    );
    let body = seen.recv().await.unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(
        body["messages"][0],
        json!({ "role": "system", "content": "Be brief." })
    );
    assert_eq!(
        body["messages"][2]["tool_calls"][0]["function"]["arguments"],
        "{\"q\":1}"
    );
    assert_eq!(
        body["messages"][3],
        json!({ "role": "tool", "tool_call_id": "call_1", "content": "{\"ok\":true}" })
    );
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "book");
}

#[tokio::test]
async fn openai_assembles_a_tool_call_from_its_fragments() {
    let (addr, _seen) = server().await;
    let llm = OpenAiLlm::new(http_endpoint("openai", addr, "/v1"), "gpt-4o-mini");
    let (events, error) = collect(llm.stream(&request("book it")).await.unwrap()).await;
    assert_eq!(error, None);
    assert_eq!(
        events,
        vec![LlmEvent::ToolCall(ToolCall {
            id: "call_abc".to_owned(),
            name: "book".to_owned(),
            arguments: json!({ "day": "tuesday" })
        })]
    );
}

#[tokio::test]
async fn openai_errors_are_typed_auth_rate_limit_dropped_and_malformed() {
    let (addr, _seen) = server().await;
    let mut bad_key = http_endpoint("openai", addr, "/v1");
    bad_key.api_key = Some("wrong".to_owned());
    let err = OpenAiLlm::new(bad_key, "m")
        .stream(&request("hello"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ProviderError::Auth { message, .. } if message.contains("Incorrect API key")),
        "{err:?}"
    );

    let llm = OpenAiLlm::new(http_endpoint("openai", addr, "/v1"), "m");
    let err = llm.stream(&request("rate limit me")).await.err().unwrap();
    assert_eq!(
        err,
        ProviderError::RateLimited {
            provider: "openai".to_owned(),
            retry_after: Some(std::time::Duration::from_secs(7))
        }
    );

    let (events, error) = collect(llm.stream(&request("drop")).await.unwrap()).await;
    assert_eq!(events, vec![LlmEvent::Text("Hel".to_owned())]);
    assert!(
        matches!(
            error,
            Some(ProviderError::Connection { .. } | ProviderError::Protocol { .. })
        ),
        "{error:?}"
    );

    let (events, error) = collect(llm.stream(&request("garbage")).await.unwrap()).await;
    assert_eq!(events, vec![LlmEvent::Text("Hi".to_owned())]);
    assert!(
        matches!(&error, Some(ProviderError::Protocol { message, .. }) if message.contains("malformed")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = OpenAiLlm::new(http_endpoint("openai", addr, "/v1"), "m")
        .stream(&request("hello"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ProviderError::Connection { .. }), "{err:?}");
}
