//! A TTS WebSocket as Cartesia documents it, and the adapter against it.
//!
//! Protocol: <https://docs.cartesia.ai/api-reference/tts/websocket> (`/tts/websocket` with
//! `X-API-Key` and `Cartesia-Version`; a generation request with `model_id`, `transcript`,
//! `voice: {mode: "id", id}`, `context_id`, `output_format: {container: "raw", encoding:
//! "pcm_s16le", sample_rate}`; answers `{"type": "chunk", "data": base64, "done": false,
//! "status_code": 206, "context_id"}`, `{"type": "done", "done": true}`, and on failure
//! `{"type": "error", "done": true, "status_code", "error"}`); a refused key fails the handshake with 401.

use crate::support::*;
use audio::SampleRate;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use pipeline::{ProviderError, TextToSpeech};
use providers::tts::CartesiaTts;
use serde_json::{Value, json};

async fn websocket(upgrade: WebSocketUpgrade, headers: HeaderMap) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("test-key") {
        return (StatusCode::UNAUTHORIZED, "{\"error\":\"Invalid API key\"}").into_response();
    }
    assert!(headers.get("cartesia-version").is_some());
    upgrade.on_upgrade(session)
}

async fn session(mut socket: WebSocket) {
    while let Some(Ok(Message::Text(request))) = socket.recv().await {
        let request: Value = serde_json::from_str(&request).unwrap();
        let context = request["context_id"].clone();
        assert_eq!(request["output_format"]["encoding"], "pcm_s16le");
        assert_eq!(request["voice"]["mode"], "id");
        if request["voice"]["id"] == "missing-voice" {
            let error = json!({ "type": "error", "done": true, "status_code": 400, "error": "Voice not found", "context_id": context });
            let _ = socket.send(Message::Text(error.to_string().into())).await;
            continue;
        }
        let rate = request["output_format"]["sample_rate"].as_u64().unwrap() as usize;
        let samples = request["transcript"].as_str().unwrap().len() * rate / 100;
        let bytes: Vec<u8> = (0..samples)
            .flat_map(|i| (i as i16).to_le_bytes())
            .collect();
        for piece in bytes.chunks(1_000) {
            let data = base64::engine::general_purpose::STANDARD.encode(piece);
            let chunk = json!({ "type": "chunk", "data": data, "done": false, "status_code": 206, "step_time": 12, "context_id": context });
            let _ = socket.send(Message::Text(chunk.to_string().into())).await;
        }
        let done =
            json!({ "type": "done", "done": true, "status_code": 206, "context_id": context });
        let _ = socket.send(Message::Text(done.to_string().into())).await;
    }
}

#[tokio::test]
async fn cartesia_streams_chunks_until_done() {
    let addr = serve(Router::new().route("/tts/websocket", get(websocket))).await;
    let tts = CartesiaTts::new(ws_endpoint("cartesia", addr), "voice-1", "sonic-2", "en");
    let (chunks, error) = collect(
        tts.synthesize("Good morning.", SampleRate::Hz8000)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(error, None);
    let samples = chunks.concat();
    assert_eq!(samples.len(), 13 * 80);
    assert_eq!(samples[499], 499);
}

#[tokio::test]
async fn cartesia_errors_are_typed_refused_key_and_error_message() {
    let addr = serve(Router::new().route("/tts/websocket", get(websocket))).await;
    let mut endpoint = ws_endpoint("cartesia", addr);
    endpoint.api_key = Some("wrong".to_owned());
    let err = CartesiaTts::new(endpoint, "v", "m", "en")
        .synthesize("Hi.", SampleRate::Hz8000)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ProviderError::Auth { message, .. } if message.contains("Invalid API key")),
        "{err:?}"
    );

    let tts = CartesiaTts::new(ws_endpoint("cartesia", addr), "missing-voice", "m", "en");
    let (_, error) = collect(tts.synthesize("Hi.", SampleRate::Hz8000).await.unwrap()).await;
    assert!(
        matches!(&error, Some(ProviderError::Other { message, .. }) if message.contains("Voice not found")),
        "{error:?}"
    );
}
