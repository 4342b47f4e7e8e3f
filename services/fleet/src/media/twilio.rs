//! Twilio Media Streams, bidirectional (`<Connect><Stream>`).
//!
//! JSON messages with base64 μ-law at 8 kHz.
//!
//! Reference: <https://www.twilio.com/docs/voice/media-streams/websocket-messages>. Twilio sends
//! `connected`, `start` (`streamSid`, `start.callSid`, `start.mediaFormat`, `start.customParameters`),
//! `media` (`media.payload`, base64 `audio/x-mulaw` 8000 Hz), `dtmf` (`dtmf.digit`), `mark`
//! (`mark.name`, when audio sent before it has played) and `stop`. We send `media`
//! (`{"event":"media","streamSid","media":{"payload"}}`), `mark` and `clear` (drops buffered
//! audio; Twilio then returns the pending marks). Closing the socket ends the `<Connect>` verb.

use super::{Inbound, MediaError, Protocol, StreamStart, WsMessage, base64, json, str_at};
use audio::{SampleRate, g711};
use contracts::attach::MediaProtocol;
use serde_json::{Value, json};

const NAME: &str = "twilio";

/// One Twilio stream.
#[derive(Debug, Default)]
pub struct Twilio {
    stream_sid: Option<String>,
}

impl Twilio {
    fn sid(&self) -> &str {
        self.stream_sid.as_deref().unwrap_or_default()
    }
}

impl Protocol for Twilio {
    fn kind(&self) -> MediaProtocol {
        MediaProtocol::Twilio
    }

    fn rate(&self) -> SampleRate {
        SampleRate::Hz8000
    }

    fn parse(&mut self, message: WsMessage) -> Result<Inbound, MediaError> {
        let value = json(NAME, &message)?;
        match value.get("event").and_then(Value::as_str) {
            Some("connected") => Ok(Inbound::Ignored),
            Some("start") => {
                let encoding = str_at(NAME, &value, "/start/mediaFormat/encoding")?;
                let rate = value
                    .pointer("/start/mediaFormat/sampleRate")
                    .and_then(Value::as_u64);
                if encoding != "audio/x-mulaw" || rate != Some(8000) {
                    return Err(MediaError::new(
                        NAME,
                        format!(
                            "media format {encoding} at {rate:?} Hz (audio/x-mulaw at 8000 expected)"
                        ),
                    ));
                }
                let sid = str_at(NAME, &value, "/start/streamSid")
                    .or_else(|_| str_at(NAME, &value, "/streamSid"))?
                    .to_owned();
                self.stream_sid = Some(sid.clone());
                Ok(Inbound::Start(StreamStart {
                    stream_id: Some(sid),
                    carrier_call_id: value
                        .pointer("/start/callSid")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    rate: SampleRate::Hz8000,
                    parameters: value
                        .pointer("/start/customParameters")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                }))
            }
            Some("media") => {
                if let Some(track) = value.pointer("/media/track").and_then(Value::as_str)
                    && track != "inbound"
                {
                    return Ok(Inbound::Ignored);
                }
                let bytes = super::base64_payload(NAME, &value)?;
                Ok(Inbound::Audio(g711::decode_ulaw(&bytes)))
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
        let payload = base64(&g711::encode_ulaw(samples));
        let message =
            json!({"event": "media", "streamSid": self.sid(), "media": {"payload": payload}});
        vec![WsMessage::Text(message.to_string())]
    }

    fn clear(&mut self) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"event": "clear", "streamSid": self.sid()}).to_string(),
        )]
    }

    fn mark(&mut self, name: &str) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"event": "mark", "streamSid": self.sid(), "mark": {"name": name}}).to_string(),
        )]
    }

    fn hangup(&mut self, _reason: &str) -> Vec<WsMessage> {
        Vec::new()
    }
}
