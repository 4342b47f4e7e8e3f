//! A live transcription server as Deepgram documents it, and the adapter against it.
//!
//! Protocol: <https://developers.deepgram.com/reference/speech-to-text/listen-streaming>
//! (`wss://…/v1/listen` with `Authorization: Token …` and `encoding`, `sample_rate`, `channels`,
//! `interim_results`, `endpointing` query parameters; binary audio up; `Results` messages down
//! with `is_final`, `speech_final`, `from_finalize`, `channel.alternatives[].transcript`),
//! <https://developers.deepgram.com/docs/finalize> (`{"type": "Finalize"}` flushes and answers
//! with `from_finalize: true`), <https://developers.deepgram.com/docs/close-stream>
//! (`CloseStream` answers `Metadata` and closes) and <https://developers.deepgram.com/docs/keep-alive>.
//! A refused key fails the handshake with 401; a server error closes with 1011.

use crate::support::*;
use audio::SampleRate;
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pipeline::{ProviderError, SpeechToText, SttEvent, SttInput};
use providers::stt::DeepgramStt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// What the test server will say it heard.
#[derive(Clone)]
pub struct Heard(pub String);

fn results(transcript: &str, is_final: bool, from_finalize: bool) -> String {
    json!({
        "type": "Results", "channel_index": [0, 1], "duration": 0.5, "start": 0.0,
        "is_final": is_final, "speech_final": is_final, "from_finalize": from_finalize,
        "channel": { "alternatives": [{ "transcript": transcript, "confidence": 0.98, "words": [] }] },
        "metadata": { "request_id": "req-1", "model_info": { "name": "nova-3" } },
    })
    .to_string()
}

async fn listen(
    upgrade: WebSocketUpgrade,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    State(heard): State<Heard>,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Token test-key") {
        return (
            StatusCode::UNAUTHORIZED,
            "{\"err_code\":\"INVALID_AUTH\",\"err_msg\":\"Invalid credentials.\"}",
        )
            .into_response();
    }
    assert_eq!(query.get("encoding").map(String::as_str), Some("linear16"));
    assert_eq!(query.get("channels").map(String::as_str), Some("1"));
    assert_eq!(
        query.get("interim_results").map(String::as_str),
        Some("true")
    );
    let rate: usize = query["sample_rate"].parse().unwrap();
    let model = query.get("model").cloned().unwrap_or_default();
    upgrade.on_upgrade(move |socket| session(socket, model, rate, heard.0))
}

async fn session(mut socket: WebSocket, model: String, rate: usize, heard: String) {
    let mut received = 0usize;
    let mut interims = 0usize;
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            Message::Binary(bytes) => {
                received += bytes.len();
                if model == "crash" {
                    let frame = CloseFrame {
                        code: 1011,
                        reason: "NET-0001: internal error".into(),
                    };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    return;
                }
                if model == "garbage" {
                    let _ = socket
                        .send(Message::Text(
                            "{\"type\": \"Results\", \"channel\": ".into(),
                        ))
                        .await;
                    continue;
                }
                // An interim result for every half second of audio.
                if received / (rate) > interims {
                    interims += 1;
                    let _ = socket
                        .send(Message::Text(results("hello", false, false).into()))
                        .await;
                }
            }
            Message::Text(text) => {
                let control: Value = serde_json::from_str(&text).unwrap();
                match control["type"].as_str() {
                    // With nothing buffered, Deepgram has nothing to answer a Finalize with.
                    Some("Finalize") if model == "quiet" => {}
                    // An endpoint-final segment for the first words lands just before the answer to
                    // Finalize, which carries the rest.
                    Some("Finalize") if model == "split" => {
                        let (first, rest) = heard.split_once(' ').unwrap();
                        let _ = socket
                            .send(Message::Text(results(first, true, false).into()))
                            .await;
                        let _ = socket
                            .send(Message::Text(results(rest, true, true).into()))
                            .await;
                    }
                    Some("Finalize") => {
                        let _ = socket
                            .send(Message::Text(results(&heard, true, true).into()))
                            .await;
                    }
                    Some("CloseStream") => {
                        let metadata = json!({ "type": "Metadata", "request_id": "req-1", "duration": 1.0, "channels": 1 });
                        let _ = socket
                            .send(Message::Text(metadata.to_string().into()))
                            .await;
                        let _ = socket
                            .send(Message::Close(Some(CloseFrame {
                                code: 1000,
                                reason: "".into(),
                            })))
                            .await;
                        return;
                    }
                    Some("KeepAlive") => {}
                    other => panic!("unexpected control message {other:?}"),
                }
            }
            _ => {}
        }
    }
}

pub async fn deepgram_server(heard: &str) -> std::net::SocketAddr {
    serve(
        Router::new()
            .route("/v1/listen", get(listen))
            .with_state(Heard(heard.to_owned())),
    )
    .await
}

fn stt(addr: std::net::SocketAddr, model: &str) -> DeepgramStt {
    DeepgramStt::new(ws_endpoint("deepgram", addr), model, "en-US")
}

#[tokio::test]
async fn deepgram_streams_interim_results_and_a_final_one_on_finalize() {
    let addr = deepgram_server("hello world").await;
    let mut stream = stt(addr, "nova-3").open(SampleRate::Hz16000).await.unwrap();
    for _ in 0..60 {
        stream.input.send(SttInput::Audio(vec![100; 320])).unwrap();
    }
    stream.input.send(SttInput::SpeechStopped).unwrap();
    let mut events = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(5), stream.events.recv())
        .await
        .unwrap()
    {
        let event = event.unwrap();
        let done = matches!(event, SttEvent::Final(_));
        events.push(event);
        if done {
            break;
        }
    }
    assert_eq!(events.first(), Some(&SttEvent::Interim("hello".to_owned())));
    assert_eq!(
        events.last(),
        Some(&SttEvent::Final("hello world".to_owned()))
    );
}

#[tokio::test]
async fn final_segments_before_the_finalize_answer_join_it_in_one_final() {
    let addr = deepgram_server("book an appointment").await;
    let mut stream = stt(addr, "split").open(SampleRate::Hz16000).await.unwrap();
    stream.input.send(SttInput::Audio(vec![100; 320])).unwrap();
    stream.input.send(SttInput::SpeechStopped).unwrap();
    let mut finals = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(2_500), stream.events.recv()).await
    {
        if let SttEvent::Final(text) = event.unwrap() {
            finals.push(text);
        }
    }
    assert_eq!(finals, vec!["book an appointment".to_owned()]);
}

#[tokio::test]
async fn a_finalize_deepgram_does_not_answer_still_ends_the_utterance_with_an_empty_final() {
    let addr = deepgram_server("unused").await;
    let mut stream = stt(addr, "quiet").open(SampleRate::Hz16000).await.unwrap();
    stream.input.send(SttInput::Audio(vec![0; 320])).unwrap();
    stream.input.send(SttInput::SpeechStopped).unwrap();
    let started = std::time::Instant::now();
    let event = tokio::time::timeout(Duration::from_secs(5), stream.events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event, Ok(SttEvent::Final(String::new())));
    assert!(
        started.elapsed() >= Duration::from_millis(1_400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn deepgram_errors_are_typed_refused_key_server_close_and_malformed_message() {
    let addr = deepgram_server("x").await;
    let mut endpoint = ws_endpoint("deepgram", addr);
    endpoint.api_key = Some("wrong".to_owned());
    let err = DeepgramStt::new(endpoint, "nova-3", "en")
        .open(SampleRate::Hz8000)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ProviderError::Auth { message, .. } if message.contains("Invalid credentials")),
        "{err:?}"
    );

    for (model, check) in [("crash", "1011"), ("garbage", "malformed")] {
        let mut stream = stt(addr, model).open(SampleRate::Hz8000).await.unwrap();
        stream.input.send(SttInput::Audio(vec![1; 160])).unwrap();
        let event = tokio::time::timeout(Duration::from_secs(5), stream.events.recv())
            .await
            .unwrap()
            .unwrap();
        let Err(ProviderError::Protocol { message, .. }) = event else {
            panic!("{event:?}")
        };
        assert!(message.contains(check), "{message}");
    }
}
