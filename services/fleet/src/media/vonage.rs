//! Vonage Voice API WebSockets (NCCO `connect` to a `websocket` endpoint).
//!
//! Binary 16-bit linear PCM frames of 20 ms at 8 or 16 kHz, JSON text for events and commands.
//!
//! Reference: <https://developer.vonage.com/en/voice/voice-api/concepts/websockets>. The first
//! message is text, `{"event":"websocket:connected","content-type":"audio/l16;rate=16000", …}`
//! with the NCCO's headers; then caller audio arrives as binary frames. Vonage also sends
//! `websocket:dtmf` (`digit`), `websocket:cleared` and `websocket:notify` (`payload`). We send binary
//! frames of exactly 20 ms (shorter remainders are kept for the next write), `{"action":"clear"}`
//! and `{"action":"notify","payload":{…}}`. Closing the socket hangs up the leg.

use super::{Inbound, MediaError, Protocol, StreamStart, WsMessage, json, str_at};
use audio::SampleRate;
use contracts::attach::MediaProtocol;
use serde_json::{Value, json};

const NAME: &str = "vonage";

/// One Vonage WebSocket leg.
#[derive(Debug)]
pub struct Vonage {
    rate: SampleRate,
    started: bool,
    /// Bot audio not yet filling a 20 ms frame.
    pending: Vec<i16>,
}

impl Vonage {
    pub fn new(rate: SampleRate) -> Self {
        Self {
            rate,
            started: false,
            pending: Vec::new(),
        }
    }

    fn frame_len(&self) -> usize {
        self.rate.hz() as usize / 50
    }
}

impl Protocol for Vonage {
    fn kind(&self) -> MediaProtocol {
        MediaProtocol::Vonage
    }

    fn rate(&self) -> SampleRate {
        self.rate
    }

    fn parse(&mut self, message: WsMessage) -> Result<Inbound, MediaError> {
        if let WsMessage::Binary(bytes) = &message {
            if !self.started {
                return Err(MediaError::new(NAME, "audio before websocket:connected"));
            }
            return Ok(Inbound::Audio(super::l16(NAME, bytes)?));
        }
        let value = json(NAME, &message)?;
        match value.get("event").and_then(Value::as_str) {
            Some("websocket:connected") => {
                let content_type = str_at(NAME, &value, "/content-type")?;
                let hz = content_type
                    .strip_prefix("audio/l16;rate=")
                    .and_then(|r| r.parse::<u64>().ok())
                    .ok_or_else(|| {
                        MediaError::new(
                            NAME,
                            format!("content-type {content_type:?} (audio/l16;rate=N expected)"),
                        )
                    })?;
                self.rate = super::rate_from(NAME, hz)?;
                self.started = true;
                let mut parameters = value.as_object().cloned().unwrap_or_default();
                parameters.remove("event");
                parameters.remove("content-type");
                Ok(Inbound::Start(StreamStart {
                    stream_id: None,
                    carrier_call_id: parameters
                        .get("uuid")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    rate: self.rate,
                    parameters,
                }))
            }
            Some("websocket:dtmf") => Ok(Inbound::Dtmf(super::digit(
                NAME,
                str_at(NAME, &value, "/digit")?,
            )?)),
            Some("websocket:cleared") => Ok(Inbound::Cleared),
            Some("websocket:notify") => Ok(Inbound::Mark(
                value
                    .pointer("/payload/mark")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )),
            Some(_) => Ok(Inbound::Ignored),
            None => Err(MediaError::new(NAME, "a text message without \"event\"")),
        }
    }

    fn audio(&mut self, samples: &[i16]) -> Vec<WsMessage> {
        self.pending.extend_from_slice(samples);
        let frame = self.frame_len();
        let whole = self.pending.len() / frame * frame;
        let out = self.pending[..whole]
            .chunks_exact(frame)
            .map(|chunk| WsMessage::Binary(audio::pcm_to_le_bytes(chunk)))
            .collect();
        self.pending.drain(..whole);
        out
    }

    fn clear(&mut self) -> Vec<WsMessage> {
        self.pending.clear();
        vec![WsMessage::Text(json!({"action": "clear"}).to_string())]
    }

    fn mark(&mut self, name: &str) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"action": "notify", "payload": {"mark": name}}).to_string(),
        )]
    }

    fn carrier_keys(&self) -> bool {
        true
    }

    fn hangup(&mut self, _reason: &str) -> Vec<WsMessage> {
        // The last partial frame, padded with silence to 20 ms.
        if self.pending.is_empty() {
            return Vec::new();
        }
        let mut last = std::mem::take(&mut self.pending);
        last.resize(self.frame_len(), 0);
        vec![WsMessage::Binary(audio::pcm_to_le_bytes(&last))]
    }
}
