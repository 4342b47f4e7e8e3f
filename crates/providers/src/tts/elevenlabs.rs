//! ElevenLabs text-to-speech over its input-streaming WebSocket.
//!
//! Wire protocol (<https://elevenlabs.io/docs/api-reference/text-to-speech/v-1-text-to-speech-voice-id-stream-input>):
//! `GET wss://api.elevenlabs.io/v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=pcm_{rate}`
//! with `xi-api-key`; the client sends `{"text": " ", "voice_settings": …}` to open, then text
//! messages (`{"text": "…", "flush": true}`), then `{"text": ""}` to close; the server answers
//! `{"audio": "<base64 PCM>", "isFinal": false, "normalizedAlignment": …}` messages and
//! `{"isFinal": true}` at the end. A refused key closes the socket with 1008.

use crate::http::Endpoint;
use crate::tts::PcmAssembler;
use crate::ws::{close_error, connect};
use async_trait::async_trait;
use audio::SampleRate;
use base64::Engine;
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, StreamExt, stream};
use pipeline::{ProviderError, TextToSpeech};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// An ElevenLabs voice (`base_url` is `wss://api.elevenlabs.io`).
#[derive(Debug, Clone)]
pub struct ElevenLabsTts {
    pub endpoint: Endpoint,
    pub voice_id: String,
    pub model: String,
}

impl ElevenLabsTts {
    pub fn new(endpoint: Endpoint, voice_id: &str, model: &str) -> Self {
        Self {
            endpoint,
            voice_id: voice_id.to_owned(),
            model: model.to_owned(),
        }
    }
}

#[async_trait]
impl TextToSpeech for ElevenLabsTts {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    async fn synthesize(
        &self,
        text: &str,
        rate: SampleRate,
    ) -> Result<BoxStream<'static, Result<Vec<i16>, ProviderError>>, ProviderError> {
        let provider = self.endpoint.name.clone();
        // ElevenLabs has every rate we use but 22.05 kHz on this path; ask for 16 kHz then.
        let wire_rate = if rate == SampleRate::Hz22050 {
            SampleRate::Hz16000
        } else {
            rate
        };
        let url = format!(
            "{}/v1/text-to-speech/{}/stream-input?model_id={}&output_format=pcm_{}",
            self.endpoint.base_url,
            self.voice_id,
            self.model,
            wire_rate.hz()
        );
        let headers = match &self.endpoint.api_key {
            Some(key) => vec![("xi-api-key", key.clone())],
            None => Vec::new(),
        };
        let mut socket = connect(&provider, &url, &headers, self.endpoint.timeout).await?;
        let opening =
            json!({ "text": " ", "voice_settings": { "stability": 0.5, "similarity_boost": 0.8 } });
        for message in [
            opening,
            json!({ "text": format!("{text} "), "flush": true }),
            json!({ "text": "" }),
        ] {
            if let Err(error) = socket.send(Message::Text(message.to_string().into())).await {
                // The server closed on us (a refused key does that): its close frame, read
                // below, says why.
                tracing::debug!(%error, "elevenlabs stopped taking text");
                break;
            }
        }
        let assembler = PcmAssembler::new(&provider, wire_rate, rate)?;
        let state = (socket, assembler, provider, false);
        Ok(stream::unfold(
            state,
            |(mut socket, mut assembler, provider, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let error = |message: String| ProviderError::Protocol {
                        provider: provider.clone(),
                        message,
                    };
                    let outcome: Result<Option<Vec<i16>>, ProviderError> = match socket.next().await
                    {
                        Some(Ok(Message::Text(text))) => match serde_json::from_str::<Value>(&text)
                        {
                            Err(e) => Err(error(format!("malformed message: {e}"))),
                            Ok(value) => {
                                if let Some(audio) = value.get("audio").and_then(Value::as_str) {
                                    match base64::engine::general_purpose::STANDARD.decode(audio) {
                                        Ok(bytes) => Ok(Some(assembler.push(&bytes))),
                                        Err(e) => Err(error(format!("audio is not base64: {e}"))),
                                    }
                                } else if value.get("isFinal").and_then(Value::as_bool)
                                    == Some(true)
                                {
                                    Ok(None)
                                } else if let Some(message) =
                                    value.get("message").or_else(|| value.get("error"))
                                {
                                    Err(ProviderError::Other {
                                        provider: provider.clone(),
                                        message: message.to_string(),
                                    })
                                } else {
                                    continue;
                                }
                            }
                        },
                        Some(Ok(Message::Close(frame))) => match frame {
                            Some(frame) if u16::from(frame.code) != 1000 => {
                                Err(close_error(&provider, frame.code.into(), &frame.reason))
                            }
                            _ => Ok(None),
                        },
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => Err(ProviderError::Connection {
                            provider: provider.clone(),
                            message: e.to_string(),
                        }),
                        None => Err(ProviderError::Connection {
                            provider: provider.clone(),
                            message: "socket closed before isFinal".to_owned(),
                        }),
                    };
                    return match outcome {
                        Ok(Some(samples)) => {
                            Some((Ok(samples), (socket, assembler, provider, false)))
                        }
                        Ok(None) => {
                            let tail = assembler.finish();
                            Some((Ok(tail), (socket, assembler, provider, true)))
                        }
                        Err(e) => Some((Err(e), (socket, assembler, provider, true))),
                    };
                }
            },
        )
        .boxed())
    }
}
