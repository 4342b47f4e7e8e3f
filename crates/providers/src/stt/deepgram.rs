//! Deepgram live transcription over WebSocket, with interim and final results and endpointing.
//!
//! Wire protocol (<https://developers.deepgram.com/reference/speech-to-text/listen-streaming>):
//! `GET wss://api.deepgram.com/v1/listen?encoding=linear16&sample_rate=…&channels=1&interim_results=true&endpointing=…`
//! with `Authorization: Token <key>`; audio goes up as binary frames; control messages are text
//! frames `{"type": "Finalize"}` (flush, <https://developers.deepgram.com/docs/finalize>),
//! `{"type": "KeepAlive"}` and `{"type": "CloseStream"}`. Results come down as
//! `{"type": "Results", "is_final", "speech_final", "channel": {"alternatives": [{"transcript"}]}}`,
//! besides `Metadata`, `SpeechStarted` and `UtteranceEnd`. Errors close the socket with a code and
//! a reason (1008 for a bad request, 1011 for a server error).

use crate::http::Endpoint;
use crate::ws::{close_error, connect};
use async_trait::async_trait;
use audio::{SampleRate, pcm_to_le_bytes};
use futures_util::{SinkExt, StreamExt};
use pipeline::{ProviderError, SpeechToText, SttEvent, SttInput, SttStream};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Sent when no audio went up for this long, so Deepgram does not close the stream.
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(5);

/// A Deepgram streaming endpoint (`base_url` is `wss://api.deepgram.com`).
#[derive(Debug, Clone)]
pub struct DeepgramStt {
    pub endpoint: Endpoint,
    pub model: String,
    pub language: String,
    pub endpointing_ms: u32,
}

impl DeepgramStt {
    pub fn new(endpoint: Endpoint, model: &str, language: &str) -> Self {
        Self {
            endpoint,
            model: model.to_owned(),
            language: language.to_owned(),
            // Final words at a 100 ms pause: the reply's draft can start on them before the VAD's
            // stop (the turn's end is vox's call, at the VAD's stop, with `Finalize`).
            endpointing_ms: 100,
        }
    }

    pub fn url(&self, rate: SampleRate) -> String {
        format!(
            "{}/v1/listen?model={}&language={}&encoding=linear16&sample_rate={}&channels=1&interim_results=true&endpointing={}&punctuate=true",
            self.endpoint.base_url,
            self.model,
            self.language,
            rate.hz(),
            self.endpointing_ms
        )
    }
}

/// Longest wait for the answer to `Finalize` before the utterance counts as fully transcribed
/// (Deepgram answers only when audio was still buffered).
const FINALIZE_WAIT: Duration = Duration::from_millis(1_500);

/// A `Results` message: its transcript, whether it is final, and whether it answers `Finalize`.
struct Results {
    transcript: String,
    is_final: bool,
    from_finalize: bool,
}

/// The `Results` in a message; `None` for the other message types.
fn parse_result(provider: &str, text: &str) -> Result<Option<Results>, ProviderError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ProviderError::Protocol {
        provider: provider.to_owned(),
        message: format!("malformed message: {e}"),
    })?;
    if value.get("type").and_then(Value::as_str) != Some("Results") {
        return Ok(None);
    }
    let transcript = value
        .pointer("/channel/alternatives/0/transcript")
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::Protocol {
            provider: provider.to_owned(),
            message: "Results without channel.alternatives[0].transcript".to_owned(),
        })?
        .trim()
        .to_owned();
    Ok(Some(Results {
        transcript,
        is_final: value
            .get("is_final")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        from_finalize: value
            .get("from_finalize")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }))
}

#[async_trait]
impl SpeechToText for DeepgramStt {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    async fn open(&self, rate: SampleRate) -> Result<SttStream, ProviderError> {
        let headers = match &self.endpoint.api_key {
            Some(key) => vec![("authorization", format!("Token {key}"))],
            None => Vec::new(),
        };
        let socket = connect(
            &self.endpoint.name,
            &self.url(rate),
            &headers,
            self.endpoint.timeout,
        )
        .await?;
        let (mut sink, mut stream) = socket.split();
        let (input_tx, mut input_rx) = mpsc::unbounded_channel::<SttInput>();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let provider = self.endpoint.name.clone();
        tokio::spawn(async move {
            let mut keep_alive = tokio::time::interval(KEEP_ALIVE_EVERY);
            keep_alive.tick().await;
            let mut finalizing: Option<tokio::time::Instant> = None;
            // Final segments heard after the caller stopped and before Finalize's answer: they join
            // that answer, so one utterance stays one `Final` (one user turn).
            let mut held = String::new();
            loop {
                let finalize_by =
                    finalizing.unwrap_or_else(|| tokio::time::Instant::now() + KEEP_ALIVE_EVERY);
                tokio::select! {
                    input = input_rx.recv() => {
                        let message = match input {
                            Some(SttInput::Audio(samples)) => {
                                keep_alive.reset();
                                Message::Binary(pcm_to_le_bytes(&samples).into())
                            }
                            Some(SttInput::SpeechStopped) => {
                                finalizing = Some(tokio::time::Instant::now() + FINALIZE_WAIT);
                                Message::Text(r#"{"type":"Finalize"}"#.into())
                            }
                            Some(SttInput::SpeechStarted) => continue,
                            None => {
                                let _ = sink.send(Message::Text(r#"{"type":"CloseStream"}"#.into())).await;
                                return;
                            }
                        };
                        if let Err(error) = sink.send(message).await {
                            let _ = events_tx.send(Err(ProviderError::Connection { provider: provider.clone(), message: error.to_string() }));
                            return;
                        }
                    }
                    _ = tokio::time::sleep_until(finalize_by), if finalizing.is_some() => {
                        // Nothing was buffered: the utterance was already transcribed in full.
                        finalizing = None;
                        let _ = events_tx.send(Ok(SttEvent::Final(std::mem::take(&mut held))));
                    }
                    _ = keep_alive.tick() => {
                        let _ = sink.send(Message::Text(r#"{"type":"KeepAlive"}"#.into())).await;
                    }
                    message = stream.next() => {
                        let outcome = match message {
                            Some(Ok(Message::Text(text))) => parse_result(&provider, &text),
                            Some(Ok(Message::Close(frame))) => {
                                let (code, reason) = frame.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or((1005, String::new()));
                                if code == 1000 {
                                    return;
                                }
                                Err(close_error(&provider, code, &reason))
                            }
                            Some(Ok(_)) => Ok(None),
                            Some(Err(error)) => Err(ProviderError::Connection { provider: provider.clone(), message: error.to_string() }),
                            None => Err(ProviderError::Connection { provider: provider.clone(), message: "socket closed without a close frame".to_owned() }),
                        };
                        match outcome {
                            Ok(Some(results)) => {
                                let event = if results.from_finalize {
                                    // The answer to Finalize ends the utterance, even when empty.
                                    finalizing = None;
                                    let mut text = std::mem::take(&mut held);
                                    if !text.is_empty() && !results.transcript.is_empty() {
                                        text.push(' ');
                                    }
                                    text.push_str(&results.transcript);
                                    Some(SttEvent::Final(text))
                                } else if results.transcript.is_empty() {
                                    None
                                } else if results.is_final && finalizing.is_some() {
                                    if !held.is_empty() {
                                        held.push(' ');
                                    }
                                    held.push_str(&results.transcript);
                                    None
                                } else if results.is_final {
                                    Some(SttEvent::Final(results.transcript))
                                } else {
                                    Some(SttEvent::Interim(results.transcript))
                                };
                                if let Some(event) = event {
                                    let _ = events_tx.send(Ok(event));
                                }
                            }
                            Ok(None) => {}
                            Err(error) => { let _ = events_tx.send(Err(error)); return; }
                        }
                    }
                }
            }
        });
        Ok(SttStream {
            input: input_tx,
            events: events_rx,
        })
    }
}
