//! A transcription server as OpenAI documents it, and the per-utterance adapter against it.
//!
//! Protocol: <https://platform.openai.com/docs/api-reference/audio/createTranscription>
//! (`POST /v1/audio/transcriptions`, `multipart/form-data` with `file` and `model`, optional
//! `language` and `response_format`; the JSON answer is `{"text": …}`); errors as in
//! <https://platform.openai.com/docs/guides/error-codes>.

use crate::support::*;
use audio::SampleRate;
use axum::Router;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pipeline::{ProviderError, SpeechToText, SttEvent, SttInput};
use providers::stt::OpenAiStt;
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;

async fn transcriptions(
    State(seen): State<mpsc::UnboundedSender<(String, usize)>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer test-key") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": { "message": "Incorrect API key provided" } })),
        )
            .into_response();
    }
    let (mut model, mut samples) = (String::new(), 0);
    while let Some(field) = form.next_field().await.unwrap() {
        match field.name().unwrap() {
            "model" => model = field.text().await.unwrap(),
            "file" => {
                assert_eq!(field.file_name(), Some("utterance.wav"));
                let wav = audio::wav::decode(&field.bytes().await.unwrap()).unwrap();
                samples = wav.samples.len();
            }
            _ => {}
        }
    }
    let _ = seen.send((model.clone(), samples));
    if model == "busy" {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "2")],
            axum::Json(json!({ "error": { "message": "slow down" } })),
        )
            .into_response();
    }
    axum::Json(json!({ "text": " I would like a table for two. " })).into_response()
}

#[tokio::test]
async fn openai_stt_sends_the_utterance_with_its_pre_roll_and_returns_the_text() {
    let (tx, mut seen) = mpsc::unbounded_channel();
    let addr = serve(
        Router::new()
            .route("/v1/audio/transcriptions", post(transcriptions))
            .with_state(tx),
    )
    .await;
    let stt = OpenAiStt::new(
        http_endpoint("openai", addr, "/v1"),
        "whisper-1",
        Some("en".to_owned()),
    );
    let mut stream = stt.open(SampleRate::Hz16000).await.unwrap();
    // One second before speech (only 300 ms of it is kept), one second of speech.
    for _ in 0..50 {
        stream.input.send(SttInput::Audio(vec![0; 320])).unwrap();
    }
    stream.input.send(SttInput::SpeechStarted).unwrap();
    for _ in 0..50 {
        stream.input.send(SttInput::Audio(vec![500; 320])).unwrap();
    }
    stream.input.send(SttInput::SpeechStopped).unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), stream.events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        event,
        Ok(SttEvent::Final("I would like a table for two.".to_owned()))
    );
    assert_eq!(
        seen.recv().await.unwrap(),
        ("whisper-1".to_owned(), 4_800 + 16_000)
    );
}

#[tokio::test]
async fn openai_stt_reports_rate_limits_with_retry_after() {
    let (tx, _seen) = mpsc::unbounded_channel();
    let addr = serve(
        Router::new()
            .route("/v1/audio/transcriptions", post(transcriptions))
            .with_state(tx),
    )
    .await;
    let stt = OpenAiStt::new(http_endpoint("openai", addr, "/v1"), "busy", None);
    let err = stt
        .transcribe(&[1; 1600], SampleRate::Hz16000)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::RateLimited {
            provider: "openai".to_owned(),
            retry_after: Some(Duration::from_secs(2))
        }
    );
}
