//! Exotel Voicebot applet (AgentStream, bidirectional).
//!
//! JSON messages with base64 16-bit little-endian PCM at 8, 16 or 24 kHz.
//!
//! Reference: <https://developer.exotel.com/docs/agentstream/websocket-protocol>. Exotel sends
//! `connected`, `start` (`stream_sid`, `start.call_sid`, `start.from`, `start.to`,
//! `start.custom_parameters`, `start.media_format.{encoding,sample_rate,bit_rate}`), `media`
//! (`media.payload`), `dtmf` (`dtmf.digit`), `mark` (`mark.name`) and `stop`. We send `media`
//! (`{"event":"media","stream_sid","media":{"payload"}}`), `mark` and `clear`.

use super::{Inbound, MediaError, Protocol, StreamStart, WsMessage, base64, json, str_at};
use audio::SampleRate;
use contracts::attach::MediaProtocol;
use serde_json::{Value, json};

const NAME: &str = "exotel";

/// One Exotel stream.
#[derive(Debug)]
pub struct Exotel {
    stream_sid: String,
    rate: SampleRate,
}

impl Exotel {
    /// `rate` is the `sample-rate` the Voicebot URL asked for; the start message confirms it.
    pub fn new(rate: SampleRate) -> Self {
        Self {
            stream_sid: String::new(),
            rate,
        }
    }
}

impl Protocol for Exotel {
    fn kind(&self) -> MediaProtocol {
        MediaProtocol::Exotel
    }

    fn rate(&self) -> SampleRate {
        self.rate
    }

    fn parse(&mut self, message: WsMessage) -> Result<Inbound, MediaError> {
        let value = json(NAME, &message)?;
        match value.get("event").and_then(Value::as_str) {
            Some("connected") => Ok(Inbound::Ignored),
            Some("start") => {
                if let Some(hz) = super::number_at(&value, "/start/media_format/sample_rate") {
                    self.rate = super::rate_from(NAME, hz)?;
                }
                let bits = super::number_at(&value, "/start/media_format/bit_rate");
                if bits.is_some_and(|b| b != 16) {
                    return Err(MediaError::new(
                        NAME,
                        format!("bit_rate {bits:?} (16 expected)"),
                    ));
                }
                self.stream_sid = str_at(NAME, &value, "/stream_sid")
                    .or_else(|_| str_at(NAME, &value, "/start/stream_sid"))?
                    .to_owned();
                let mut parameters = value
                    .pointer("/start/custom_parameters")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for key in ["from", "to"] {
                    if let Some(v) = value.pointer(&format!("/start/{key}")) {
                        parameters.insert(key.to_owned(), v.clone());
                    }
                }
                Ok(Inbound::Start(StreamStart {
                    stream_id: Some(self.stream_sid.clone()),
                    carrier_call_id: value
                        .pointer("/start/call_sid")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    rate: self.rate,
                    parameters,
                }))
            }
            Some("media") => {
                let bytes = super::base64_payload(NAME, &value)?;
                Ok(Inbound::Audio(super::l16(NAME, &bytes)?))
            }
            Some("dtmf") => Ok(Inbound::Dtmf(super::digit(
                NAME,
                str_at(NAME, &value, "/dtmf/digit")?,
            )?)),
            Some("mark") => Ok(Inbound::Mark(
                str_at(NAME, &value, "/mark/name")?.to_owned(),
            )),
            Some("stop") => Ok(Inbound::Stop),
            Some(other) => Err(MediaError::new(NAME, format!("unknown event {other:?}"))),
            None => Err(MediaError::new(NAME, "a message without \"event\"")),
        }
    }

    fn audio(&mut self, samples: &[i16]) -> Vec<WsMessage> {
        let payload = base64(&audio::pcm_to_le_bytes(samples));
        let message =
            json!({"event": "media", "stream_sid": self.stream_sid, "media": {"payload": payload}});
        vec![WsMessage::Text(message.to_string())]
    }

    fn clear(&mut self) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"event": "clear", "stream_sid": self.stream_sid}).to_string(),
        )]
    }

    fn mark(&mut self, name: &str) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"event": "mark", "stream_sid": self.stream_sid, "mark": {"name": name}})
                .to_string(),
        )]
    }

    fn hangup(&mut self, _reason: &str) -> Vec<WsMessage> {
        Vec::new()
    }
}
