//! Plivo Audio Streams, bidirectional (`<Stream bidirectional="true">`).
//!
//! JSON messages with base64 μ-law 8 kHz or L16 at 8/16 kHz.
//!
//! Reference: <https://plivo.com/docs/voice/audio-streaming/audio-streaming> and the events to
//! Plivo under <https://docs.plivo.com/docs/voice/xml/audiostream/stream-events-to-plivo/>. Plivo
//! sends `start` (`start.callId`, `start.streamId`, `start.mediaFormat.{encoding,sampleRate}`,
//! `extra_headers`), `media` (`media.payload`), `dtmf` (`dtmf.digit`), `playedStream` (a
//! checkpoint was played) and `clearedAudio`; the stream ends when the socket closes. We send
//! `playAudio` (`media.{contentType,sampleRate,payload}`), `checkpoint` (`streamId`, `name`) and
//! `clearAudio` (`streamId`).

use super::{Inbound, MediaError, Protocol, StreamStart, WsMessage, base64, json, str_at};
use audio::{SampleRate, g711};
use contracts::attach::MediaProtocol;
use serde_json::{Map, Value, json};

const NAME: &str = "plivo";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Mulaw,
    L16,
}

/// One Plivo stream.
#[derive(Debug)]
pub struct Plivo {
    stream_id: String,
    codec: Codec,
    rate: SampleRate,
}

impl Default for Plivo {
    fn default() -> Self {
        Self {
            stream_id: String::new(),
            codec: Codec::Mulaw,
            rate: SampleRate::Hz8000,
        }
    }
}

/// `extra_headers` is `k=v` pairs separated by `,` or `;`.
fn extra_headers(text: &str) -> Map<String, Value> {
    text.split([',', ';'])
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), Value::String(v.trim().to_owned())))
        .collect()
}

impl Protocol for Plivo {
    fn kind(&self) -> MediaProtocol {
        MediaProtocol::Plivo
    }

    fn rate(&self) -> SampleRate {
        self.rate
    }

    fn parse(&mut self, message: WsMessage) -> Result<Inbound, MediaError> {
        let value = json(NAME, &message)?;
        match value.get("event").and_then(Value::as_str) {
            Some("start") => {
                let encoding = str_at(NAME, &value, "/start/mediaFormat/encoding")?;
                let hz = super::number_at(&value, "/start/mediaFormat/sampleRate").unwrap_or(8000);
                self.codec = match encoding {
                    "audio/x-mulaw" => Codec::Mulaw,
                    "audio/x-l16" => Codec::L16,
                    other => {
                        return Err(MediaError::new(
                            NAME,
                            format!("encoding {other:?} is not supported"),
                        ));
                    }
                };
                self.rate = super::rate_from(NAME, hz)?;
                if self.codec == Codec::Mulaw && self.rate != SampleRate::Hz8000 {
                    return Err(MediaError::new(NAME, "μ-law is only 8000 Hz"));
                }
                self.stream_id = str_at(NAME, &value, "/start/streamId")?.to_owned();
                Ok(Inbound::Start(StreamStart {
                    stream_id: Some(self.stream_id.clone()),
                    carrier_call_id: value
                        .pointer("/start/callId")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    rate: self.rate,
                    parameters: value
                        .get("extra_headers")
                        .and_then(Value::as_str)
                        .map(extra_headers)
                        .unwrap_or_default(),
                }))
            }
            Some("media") => {
                let bytes = super::base64_payload(NAME, &value)?;
                Ok(Inbound::Audio(match self.codec {
                    Codec::Mulaw => g711::decode_ulaw(&bytes),
                    Codec::L16 => super::l16(NAME, &bytes)?,
                }))
            }
            Some("dtmf") => Ok(Inbound::Dtmf(super::digit(
                NAME,
                str_at(NAME, &value, "/dtmf/digit")?,
            )?)),
            Some("playedStream") | Some("played") => {
                Ok(Inbound::Mark(str_at(NAME, &value, "/name")?.to_owned()))
            }
            Some("clearedAudio") => Ok(Inbound::Cleared),
            Some("stop") => Ok(Inbound::Stop),
            Some(other) => Err(MediaError::new(NAME, format!("unknown event {other:?}"))),
            None => Err(MediaError::new(NAME, "a message without \"event\"")),
        }
    }

    fn audio(&mut self, samples: &[i16]) -> Vec<WsMessage> {
        let (content_type, bytes) = match self.codec {
            Codec::Mulaw => ("audio/x-mulaw", g711::encode_ulaw(samples)),
            Codec::L16 => ("audio/x-l16", audio::pcm_to_le_bytes(samples)),
        };
        let message = json!({"event": "playAudio", "media": {
            "contentType": content_type,
            "sampleRate": self.rate.hz(),
            "payload": base64(&bytes),
        }});
        vec![WsMessage::Text(message.to_string())]
    }

    fn clear(&mut self) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"event": "clearAudio", "streamId": self.stream_id}).to_string(),
        )]
    }

    fn mark(&mut self, name: &str) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"event": "checkpoint", "streamId": self.stream_id, "name": name}).to_string(),
        )]
    }

    fn carrier_keys(&self) -> bool {
        true
    }

    fn hangup(&mut self, _reason: &str) -> Vec<WsMessage> {
        Vec::new()
    }
}
