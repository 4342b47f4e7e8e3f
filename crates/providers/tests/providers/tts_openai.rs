//! A speech endpoint as OpenAI documents it, and the adapter against it.
//!
//! Protocol: <https://platform.openai.com/docs/api-reference/audio/createSpeech>
//! (`POST /v1/audio/speech` with `model`, `input`, `voice`, `response_format: "pcm"`; the body is
//! raw 24 kHz signed 16-bit little-endian mono, sent chunked as it is generated).

use crate::support::*;
use audio::SampleRate;
use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pipeline::{ProviderError, TextToSpeech};
use providers::tts::OpenAiTts;
use serde_json::{Value, json};

async fn speech(body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(request["response_format"], "pcm");
    if request["voice"] == "broken" {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({ "error": { "message": "The server had an error" } })),
        )
            .into_response();
    }
    // One second of a 24 kHz tone, in pieces of odd byte counts.
    let bytes: Vec<u8> = (0..24_000)
        .flat_map(|i| {
            ((8_000.0 * (2.0 * std::f64::consts::PI * 300.0 * f64::from(i) / 24_000.0).sin())
                as i16)
                .to_le_bytes()
        })
        .collect();
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(1_001).map(|c| Ok(c.to_vec())).collect();
    Response::builder()
        .header("content-type", "audio/pcm")
        .body(Body::from_stream(futures_util::stream::iter(pieces)))
        .unwrap()
}

#[tokio::test]
async fn openai_speech_streams_pcm_resampled_to_the_call_rate() {
    let addr = serve(Router::new().route("/v1/audio/speech", post(speech))).await;
    let tts = OpenAiTts::new(
        http_endpoint("openai", addr, "/v1"),
        "gpt-4o-mini-tts",
        "alloy",
    );
    let (chunks, error) =
        collect(tts.synthesize("Hello.", SampleRate::Hz8000).await.unwrap()).await;
    assert_eq!(error, None);
    let samples = chunks.concat();
    assert_eq!(samples.len(), 8_000);
    let peak = samples[1_000..7_000]
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap();
    assert!((7_500..=8_500).contains(&peak), "peak {peak}");
}

#[tokio::test]
async fn openai_speech_server_errors_are_typed() {
    let addr = serve(Router::new().route("/v1/audio/speech", post(speech))).await;
    let err = OpenAiTts::new(http_endpoint("openai", addr, "/v1"), "m", "broken")
        .synthesize("Hi.", SampleRate::Hz8000)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ProviderError::Other { message, .. } if message.contains("500")),
        "{err:?}"
    );
}
