//! Fake speech providers for benchmarks.
//!
//! OpenAI-compatible transcription, chat completions (SSE) and speech (PCM) routes that answer
//! after a fixed latency.
//!
//! They follow the shapes of OpenAI's API reference (`POST /v1/audio/transcriptions` →
//! `{"text": …}`, `POST /v1/chat/completions` with `stream: true` → `chat.completion.chunk` events
//! ending in `data: [DONE]`, `POST /v1/audio/speech` with `response_format: pcm` → raw 24 kHz
//! 16-bit PCM), so any OpenAI client (ours, Pipecat's) can talk to them. They ignore what they are
//! sent and always answer the same, which is what a benchmark of the caller's own cost needs.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::time::Duration;

/// What every transcription returns.
pub const TRANSCRIPT: &str = "I would like to book an appointment.";

#[derive(Debug, Clone, Copy)]
struct Latency(Duration);

/// The three routes under `/v1` (each reads the whole request first: answering before the upload
/// is read makes the server drop the connection under a client still sending), each answering after `latency`; `speech_secs` of tone per reply.
pub fn router<S: Clone + Send + Sync + 'static>(latency: Duration, speech_secs: f64) -> Router<S> {
    let samples = (speech_secs * 24_000.0) as usize;
    Router::new()
        .route("/v1/audio/transcriptions", post(transcribe))
        .route("/v1/chat/completions", post(chat))
        .route(
            "/v1/audio/speech",
            post(move |state, _request: Bytes| speech(state, samples)),
        )
        .with_state(Latency(latency))
}

async fn pause(latency: Latency) {
    if !latency.0.is_zero() {
        tokio::time::sleep(latency.0).await;
    }
}

async fn transcribe(State(latency): State<Latency>, _request: Bytes) -> Json<Value> {
    pause(latency).await;
    Json(json!({"text": TRANSCRIPT}))
}

async fn chat(State(latency): State<Latency>, _request: Bytes) -> impl IntoResponse {
    pause(latency).await;
    ([("content-type", "text/event-stream")], chat_stream())
}

/// The whole SSE body of a streamed reply: "Sure, I can book that for you." in two chunks.
pub(crate) fn chat_stream() -> String {
    let chunk = |text: &str| {
        format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "fake", "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": null}]})
        )
    };
    format!(
        "{}{}data: {}\n\ndata: [DONE]\n\n",
        chunk("Sure,"),
        chunk(" I can book that for you."),
        json!({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "fake", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    )
}

async fn speech(State(latency): State<Latency>, samples: usize) -> impl IntoResponse {
    pause(latency).await;
    (
        [("content-type", "application/octet-stream")],
        tone_pcm(samples),
    )
}

/// `samples` of a 440 Hz tone at 24 kHz (the rate of `response_format: pcm`), little-endian.
pub(crate) fn tone_pcm(samples: usize) -> Vec<u8> {
    (0..samples)
        .flat_map(|i| {
            let s = ((i as f64 * 440.0 * std::f64::consts::TAU / 24_000.0).sin() * 8_000.0) as i16;
            s.to_le_bytes()
        })
        .collect()
}
