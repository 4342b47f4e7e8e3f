//! vox's own media protocol (browser widget, PSTN simulator).
//!
//! Binary frames of 16-bit little-endian PCM, JSON text for control.
//!
//! Client → worker: an optional first `{"type":"start","sample_rate":8000|16000|24000,
//! "parameters":{…}}` (default: the rate the worker was given, 16 kHz), then binary audio frames;
//! `{"type":"dtmf","digit":"5"}`, `{"type":"mark","name":…}` (echoing a mark once the audio before
//! it has played) and `{"type":"hangup"}`. Worker → client: binary bot audio, `{"type":"clear"}`
//! (drop what is buffered: barge-in), `{"type":"mark","name":…}`, `{"type":"transcript",
//! "speaker":"user"|"assistant","text":…,"interrupted":bool}` for a live transcript,
//! `{"type":"dtmf","digits":"1#"}` when the bot presses keys (`vox sip` sends them as RFC 4733
//! telephone-events), and `{"type":"end","reason":…}` before the worker closes the socket.

use super::{Inbound, MediaError, Protocol, StreamStart, WsMessage, json, str_at};
use audio::SampleRate;
use contracts::attach::MediaProtocol;
use serde_json::{Value, json};

const NAME: &str = "vox";

/// One vox media connection.
#[derive(Debug)]
pub struct Vox {
    rate: SampleRate,
    started: bool,
}

impl Vox {
    pub fn new(rate: SampleRate) -> Self {
        Self {
            rate,
            started: false,
        }
    }

    /// A live transcript line for the client.
    pub fn transcript(speaker: &str, text: &str, interrupted: bool) -> WsMessage {
        WsMessage::Text(
            json!({"type": "transcript", "speaker": speaker, "text": text, "interrupted": interrupted})
                .to_string(),
        )
    }
}

impl Protocol for Vox {
    fn kind(&self) -> MediaProtocol {
        MediaProtocol::Vox
    }

    fn rate(&self) -> SampleRate {
        self.rate
    }

    fn parse(&mut self, message: WsMessage) -> Result<Inbound, MediaError> {
        if let WsMessage::Binary(bytes) = &message {
            let samples = super::l16(NAME, bytes)?;
            if !self.started {
                // Audio without a start message: the stream runs at the default rate.
                self.started = true;
            }
            return Ok(Inbound::Audio(samples));
        }
        let value = json(NAME, &message)?;
        match value.get("type").and_then(Value::as_str) {
            Some("start") => {
                if self.started {
                    return Err(MediaError::new(NAME, "a second start message"));
                }
                if let Some(hz) = value.get("sample_rate") {
                    let hz = hz
                        .as_u64()
                        .ok_or_else(|| MediaError::new(NAME, "sample_rate is not a number"))?;
                    self.rate = super::rate_from(NAME, hz)?;
                }
                self.started = true;
                Ok(Inbound::Start(StreamStart {
                    stream_id: None,
                    carrier_call_id: None,
                    rate: self.rate,
                    parameters: value
                        .get("parameters")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                }))
            }
            Some("dtmf") => Ok(Inbound::Dtmf(super::digit(
                NAME,
                str_at(NAME, &value, "/digit")?,
            )?)),
            Some("mark") => Ok(Inbound::Mark(str_at(NAME, &value, "/name")?.to_owned())),
            Some("hangup") => Ok(Inbound::Stop),
            Some("ping") => Ok(Inbound::Ignored),
            Some(other) => Err(MediaError::new(NAME, format!("unknown type {other:?}"))),
            None => Err(MediaError::new(NAME, "a text message without \"type\"")),
        }
    }

    fn audio(&mut self, samples: &[i16]) -> Vec<WsMessage> {
        vec![WsMessage::Binary(audio::pcm_to_le_bytes(samples))]
    }

    fn clear(&mut self) -> Vec<WsMessage> {
        vec![WsMessage::Text(json!({"type": "clear"}).to_string())]
    }

    fn sends_digits(&self) -> bool {
        true
    }

    fn dtmf(&mut self, digits: &str) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"type": "dtmf", "digits": digits}).to_string(),
        )]
    }

    fn mark(&mut self, name: &str) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"type": "mark", "name": name}).to_string(),
        )]
    }

    fn hangup(&mut self, reason: &str) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"type": "end", "reason": reason}).to_string(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bots_keys_go_to_vox_sip_as_one_dtmf_message_and_other_carriers_send_none() {
        let mut vox = Vox::new(SampleRate::Hz8000);
        assert!(vox.sends_digits());
        let sent = vox.dtmf("12#");
        let [WsMessage::Text(text)] = sent.as_slice() else {
            panic!("{sent:?}")
        };
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(value, json!({"type": "dtmf", "digits": "12#"}));
        let mut twilio = super::super::twilio::Twilio::default();
        assert!(!twilio.sends_digits());
        assert!(twilio.dtmf("1").is_empty());
    }
}
