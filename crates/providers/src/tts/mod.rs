//! Text-to-speech: ElevenLabs, Cartesia, OpenAI-compatible speech, and the local voices (Piper,
//! espeak-ng).
//!
//! ElevenLabs and Cartesia stream over WebSocket, OpenAI-compatible speech over HTTP.

pub mod cartesia;
pub mod elevenlabs;
pub mod espeak;
pub mod openai;
pub mod piper;

pub use cartesia::CartesiaTts;
pub use elevenlabs::ElevenLabsTts;
pub use espeak::EspeakTts;
pub use openai::OpenAiTts;
pub use piper::{PiperTts, PiperVoice};

use crate::ws::{Socket, close_error};
use audio::{Resampler, SampleRate};
use base64::Engine;
use futures_util::stream::{self, BoxStream};
use futures_util::{SinkExt, StreamExt};
use pipeline::ProviderError;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// PCM16 bytes arriving in pieces of any length: keeps an odd trailing byte for the next piece
/// and resamples to the rate the pipeline asked for.
pub(crate) struct PcmAssembler {
    carry: Option<u8>,
    resampler: Resampler,
}

impl PcmAssembler {
    pub(crate) fn new(
        provider: &str,
        from: SampleRate,
        to: SampleRate,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            carry: None,
            resampler: Resampler::new(from, to).map_err(|e| ProviderError::Other {
                provider: provider.to_owned(),
                message: e.to_string(),
            })?,
        })
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<i16> {
        let mut joined = Vec::with_capacity(bytes.len() + 1);
        joined.extend(self.carry.take());
        joined.extend_from_slice(bytes);
        if joined.len() % 2 == 1 {
            self.carry = joined.pop();
        }
        let samples: Vec<i16> = joined
            .chunks_exact(2)
            .map(|p| i16::from_le_bytes([p[0], p[1]]))
            .collect();
        self.resampler.process(&samples)
    }

    pub(crate) fn finish(&mut self) -> Vec<i16> {
        self.resampler.flush()
    }
}

/// What one JSON message of a vendor's TTS socket means.
pub(crate) enum WsStep {
    /// Base64 PCM16.
    Audio(String),
    /// The utterance is complete.
    Done,
    /// Nothing we use (timestamps, alignment, acknowledgements).
    Skip,
    Fail(ProviderError),
}

/// The audio of one utterance from a vendor's TTS socket: JSON text messages read by `read`, base64
/// PCM decoded and resampled. A close frame with 1000 ends the utterance when `clean_close_ends`,
/// and is an error otherwise (the vendor should have said it was done).
pub(crate) fn ws_audio(
    socket: Socket,
    provider: String,
    assembler: PcmAssembler,
    read: fn(&str, &Value) -> WsStep,
    clean_close_ends: bool,
) -> BoxStream<'static, Result<Vec<i16>, ProviderError>> {
    let state = (socket, assembler, provider, false);
    stream::unfold(
        state,
        move |(mut socket, mut assembler, provider, done)| async move {
            if done {
                return None;
            }
            let protocol = |message: String| ProviderError::Protocol {
                provider: provider.clone(),
                message,
            };
            let outcome: Result<Option<Vec<i16>>, ProviderError> = loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<Value>(&text) {
                        Err(e) => break Err(protocol(format!("malformed message: {e}"))),
                        Ok(value) => match read(&provider, &value) {
                            WsStep::Audio(data) => match base64::engine::general_purpose::STANDARD
                                .decode(data)
                            {
                                Ok(bytes) => break Ok(Some(assembler.push(&bytes))),
                                Err(e) => break Err(protocol(format!("audio is not base64: {e}"))),
                            },
                            WsStep::Done => break Ok(None),
                            WsStep::Skip => continue,
                            WsStep::Fail(error) => break Err(error),
                        },
                    },
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.as_ref().map_or(1005, |f| u16::from(f.code));
                        if code == 1000 && clean_close_ends {
                            break Ok(None);
                        }
                        let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                        break Err(close_error(&provider, code, &reason));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        break Err(ProviderError::Connection {
                            provider: provider.clone(),
                            message: e.to_string(),
                        });
                    }
                    None => {
                        break Err(ProviderError::Connection {
                            provider: provider.clone(),
                            message: "socket closed before the end of the audio".to_owned(),
                        });
                    }
                }
            };
            match outcome {
                Ok(Some(samples)) => Some((Ok(samples), (socket, assembler, provider, false))),
                Ok(None) => {
                    let _ = socket.close(None).await;
                    Some((Ok(assembler.finish()), (socket, assembler, provider, true)))
                }
                Err(error) => Some((Err(error), (socket, assembler, provider, true))),
            }
        },
    )
    .boxed()
}

/// Sends JSON messages on a TTS socket; a failed send stops sending, since the close frame the
/// vendor sent (a refused key does that) is read next and says why.
pub(crate) async fn send_all(socket: &mut Socket, messages: Vec<Value>) {
    for message in messages {
        if let Err(error) = socket.send(Message::Text(message.to_string().into())).await {
            tracing::debug!(%error, "the TTS socket stopped taking messages");
            break;
        }
    }
}
