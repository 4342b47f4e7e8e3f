//! An input-streaming TTS WebSocket as ElevenLabs documents it, and the adapter against it.
//!
//! Protocol: <https://elevenlabs.io/docs/api-reference/text-to-speech/v-1-text-to-speech-voice-id-stream-input>
//! (`/v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=pcm_16000` with
//! `xi-api-key`; the first message is `{"text": " ", "voice_settings": …}`, text messages may carry
//! `"flush": true`, `{"text": ""}` closes; the server sends `{"audio": base64, "isFinal": false,
//! "normalizedAlignment": …}` and finally `{"isFinal": true}`); a refused key closes with 1008.

use crate::support::*;
use audio::SampleRate;
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use base64::Engine;
use pipeline::{ProviderError, TextToSpeech};
use providers::tts::ElevenLabsTts;
use serde_json::{Value, json};
use std::collections::HashMap;

async fn stream_input(
    upgrade: WebSocketUpgrade,
    Path(voice): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let authorized = headers.get("xi-api-key").and_then(|v| v.to_str().ok()) == Some("test-key");
    let format = query.get("output_format").cloned().unwrap_or_default();
    upgrade.on_upgrade(move |socket| session(socket, voice, format, authorized))
}

async fn session(mut socket: WebSocket, voice: String, format: String, authorized: bool) {
    if !authorized {
        // The server reads the opening message, then refuses the key.
        let _ = socket.recv().await;
        let frame = CloseFrame {
            code: 1008,
            reason: "Invalid API key".into(),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
        return;
    }
    let rate: usize = format.strip_prefix("pcm_").unwrap().parse().unwrap();
    let mut text = String::new();
    let mut first = true;
    while let Some(Ok(Message::Text(message))) = socket.recv().await {
        let message: Value = serde_json::from_str(&message).unwrap();
        let piece = message["text"].as_str().unwrap().to_owned();
        if first {
            assert_eq!(
                piece, " ",
                "the first message opens the stream with a single space"
            );
            assert!(message.get("voice_settings").is_some());
            first = false;
            continue;
        }
        if !piece.is_empty() {
            text.push_str(&piece);
            continue;
        }
        // {"text": ""}: speak what was sent; 10 ms of audio per character, in three messages.
        if voice == "bad-audio" {
            let _ = socket
                .send(Message::Text(
                    json!({ "audio": "%%%not base64", "isFinal": false })
                        .to_string()
                        .into(),
                ))
                .await;
            return;
        }
        let samples = text.trim().chars().count() * rate / 100;
        let bytes: Vec<u8> = (0..samples)
            .flat_map(|i| ((i % 100) as i16 * 50).to_le_bytes())
            .collect();
        // Odd-sized pieces: a sample may straddle two messages.
        for piece in bytes.chunks(bytes.len() / 3 + 1) {
            let audio = base64::engine::general_purpose::STANDARD.encode(piece);
            let message = json!({ "audio": audio, "isFinal": false, "normalizedAlignment": { "chars": [], "charStartTimesMs": [], "charsDurationsMs": [] } });
            let _ = socket.send(Message::Text(message.to_string().into())).await;
        }
        let _ = socket
            .send(Message::Text(json!({ "isFinal": true }).to_string().into()))
            .await;
        return;
    }
}

async fn server() -> std::net::SocketAddr {
    serve(Router::new().route("/v1/text-to-speech/{voice}/stream-input", get(stream_input))).await
}

#[tokio::test]
async fn elevenlabs_streams_pcm_at_the_requested_rate() {
    let addr = server().await;
    let tts = ElevenLabsTts::new(
        ws_endpoint("elevenlabs", addr),
        "voice-1",
        "eleven_flash_v2_5",
    );
    let (chunks, error) = collect(
        tts.synthesize("Hello there.", SampleRate::Hz16000)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(error, None);
    let samples: Vec<i16> = chunks.concat();
    // 12 characters, 10 ms each, at 16 kHz.
    assert_eq!(samples.len(), 12 * 160);
    assert_eq!(&samples[..3], &[0, 50, 100]);
}

#[tokio::test]
async fn elevenlabs_errors_are_typed_refused_key_and_malformed_audio() {
    let addr = server().await;
    let mut endpoint = ws_endpoint("elevenlabs", addr);
    endpoint.api_key = Some("wrong".to_owned());
    let tts = ElevenLabsTts::new(endpoint, "voice-1", "m");
    let (_, error) = collect(tts.synthesize("Hi.", SampleRate::Hz8000).await.unwrap()).await;
    assert!(
        matches!(&error, Some(ProviderError::Auth { message, .. }) if message.contains("Invalid API key")),
        "{error:?}"
    );

    let tts = ElevenLabsTts::new(ws_endpoint("elevenlabs", addr), "bad-audio", "m");
    let (_, error) = collect(tts.synthesize("Hi.", SampleRate::Hz8000).await.unwrap()).await;
    assert!(
        matches!(&error, Some(ProviderError::Protocol { message, .. }) if message.contains("base64")),
        "{error:?}"
    );
}
