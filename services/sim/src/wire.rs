//! The media leg's wire formats a simulated callee speaks: vox's own, or Twilio's Media Streams.
//!
//! `vox`: a `start` message, then binary PCM16 frames at 16 kHz both ways; the worker's `end`,
//! `clear` and `transcript` messages. Twilio (<https://www.twilio.com/docs/voice/media-streams/websocket-messages>):
//! the stream sends `connected`, then `start` (`streamSid`, `start.callSid`, `start.mediaFormat`
//! audio/x-mulaw at 8000 Hz, `start.customParameters` from the TwiML's `<Parameter>`s), then one
//! `media` message per 20 ms (`media.track` inbound, `media.chunk`, `media.timestamp` in ms,
//! `media.payload` base64 μ-law), and `stop` when the caller hangs up. The app sends `media`
//! (played in order), `mark` (echoed back once the audio sent before it has played) and `clear`
//! (drops unplayed audio; pending marks are echoed at once).

use audio::{SampleRate, g711};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// What the worker sent, as the callee hears it.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// This many seconds of the bot's audio.
    BotAudio(f64),
    /// The worker ended the call, with its reason when it gave one.
    End(Option<String>),
    /// The worker dropped the bot's unplayed audio (a barge-in).
    Clear,
    /// A line of the bot's live transcript.
    BotLine(String),
    Closed,
    Nothing,
}

/// One Twilio stream's state.
#[derive(Debug)]
pub struct TwilioStream {
    pub account_sid: String,
    pub call_sid: String,
    pub stream_sid: String,
    pub parameters: Map<String, Value>,
    sequence: u64,
    chunk: u64,
    started: Option<Instant>,
    /// When the bot's audio received so far will have played.
    played_until: Option<Instant>,
    /// Marks to echo when their audio has played.
    marks: VecDeque<(Instant, String)>,
}

impl TwilioStream {
    pub fn new(
        account_sid: &str,
        call_sid: &str,
        stream_sid: &str,
        parameters: Map<String, Value>,
    ) -> Self {
        Self {
            account_sid: account_sid.to_owned(),
            call_sid: call_sid.to_owned(),
            stream_sid: stream_sid.to_owned(),
            parameters,
            sequence: 0,
            chunk: 0,
            started: None,
            played_until: None,
            marks: VecDeque::new(),
        }
    }

    fn next_sequence(&mut self) -> String {
        self.sequence += 1;
        self.sequence.to_string()
    }
}

/// The wire format of one media leg.
#[derive(Debug)]
pub enum Wire {
    Vox,
    Twilio(Box<TwilioStream>),
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

impl Wire {
    /// The rate the callee's audio is made at.
    pub fn rate(&self) -> SampleRate {
        match self {
            Wire::Vox => SampleRate::Hz16000,
            Wire::Twilio(_) => SampleRate::Hz8000,
        }
    }

    /// What opens the stream.
    pub fn opening(&mut self) -> Vec<Message> {
        match self {
            Wire::Vox => vec![text(json!({"type": "start", "sample_rate": 16000}))],
            Wire::Twilio(stream) => {
                stream.started = Some(Instant::now());
                let start = json!({
                    "event": "start",
                    "sequenceNumber": stream.next_sequence(),
                    "start": {
                        "accountSid": stream.account_sid,
                        "streamSid": stream.stream_sid,
                        "callSid": stream.call_sid,
                        "tracks": ["inbound"],
                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                        "customParameters": stream.parameters,
                    },
                    "streamSid": stream.stream_sid,
                });
                vec![
                    text(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})),
                    text(start),
                ]
            }
        }
    }

    /// One 20 ms frame of the callee's line.
    pub fn frame(&mut self, samples: &[i16]) -> Message {
        match self {
            Wire::Vox => {
                let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                Message::Binary(bytes.into())
            }
            Wire::Twilio(stream) => {
                stream.chunk += 1;
                let payload =
                    base64::engine::general_purpose::STANDARD.encode(g711::encode_ulaw(samples));
                let timestamp = stream
                    .started
                    .map_or(0, |s| s.elapsed().as_millis())
                    .to_string();
                let sequence = stream.next_sequence();
                text(json!({
                    "event": "media",
                    "sequenceNumber": sequence,
                    "media": {"track": "inbound", "chunk": stream.chunk.to_string(), "timestamp": timestamp, "payload": payload},
                    "streamSid": stream.stream_sid,
                }))
            }
        }
    }

    /// What ends the stream from the callee's side.
    pub fn hang_up(&mut self) -> Message {
        match self {
            Wire::Vox => text(json!({"type": "hangup"})),
            Wire::Twilio(stream) => {
                let sequence = stream.next_sequence();
                text(json!({
                    "event": "stop",
                    "sequenceNumber": sequence,
                    "stop": {"accountSid": stream.account_sid, "callSid": stream.call_sid},
                    "streamSid": stream.stream_sid,
                }))
            }
        }
    }

    /// Marks whose audio has played by `now`, echoed back as Twilio does.
    pub fn due(&mut self, now: Instant) -> Vec<Message> {
        let Wire::Twilio(stream) = self else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while stream.marks.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, name)) = stream.marks.pop_front() {
                out.push(mark(stream, &name));
            }
        }
        out
    }

    /// What a message from the worker means.
    pub fn heard(&mut self, message: Message) -> Heard {
        match (self, message) {
            (_, Message::Close(_)) => Heard::Closed,
            (Wire::Vox, Message::Binary(bytes)) => {
                Heard::BotAudio(bytes.len() as f64 / 2.0 / 16_000.0)
            }
            (Wire::Vox, Message::Text(body)) => {
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let field = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
                match field("type").as_deref() {
                    Some("end") => Heard::End(field("reason")),
                    Some("clear") => Heard::Clear,
                    Some("transcript") if field("speaker").as_deref() == Some("assistant") => {
                        field("text").map_or(Heard::Nothing, Heard::BotLine)
                    }
                    _ => Heard::Nothing,
                }
            }
            (Wire::Twilio(stream), Message::Text(body)) => {
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                match value.get("event").and_then(Value::as_str) {
                    Some("media") => {
                        let bytes = value
                            .pointer("/media/payload")
                            .and_then(Value::as_str)
                            .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
                            .unwrap_or_default();
                        let secs = bytes.len() as f64 / 8_000.0;
                        let now = Instant::now();
                        let from = stream.played_until.filter(|t| *t > now).unwrap_or(now);
                        stream.played_until = Some(from + Duration::from_secs_f64(secs));
                        Heard::BotAudio(secs)
                    }
                    Some("mark") => {
                        let name = value
                            .pointer("/mark/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        let at = stream.played_until.unwrap_or_else(Instant::now);
                        stream.marks.push_back((at, name));
                        Heard::Nothing
                    }
                    Some("clear") => {
                        stream.played_until = None;
                        let now = Instant::now();
                        for mark in &mut stream.marks {
                            mark.0 = now;
                        }
                        Heard::Clear
                    }
                    _ => Heard::Nothing,
                }
            }
            _ => Heard::Nothing,
        }
    }
}

fn mark(stream: &mut TwilioStream, name: &str) -> Message {
    let sequence = stream.next_sequence();
    text(json!({
        "event": "mark",
        "sequenceNumber": sequence,
        "mark": {"name": name},
        "streamSid": stream.stream_sid,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twilio() -> Wire {
        Wire::Twilio(Box::new(TwilioStream::new("AC1", "CA1", "MZ1", Map::new())))
    }

    #[tokio::test(start_paused = true)]
    async fn a_twilio_stream_opens_sends_mu_law_and_echoes_marks_once_played() {
        let mut wire = twilio();
        let opening = wire.opening();
        assert!(opening[0].to_text().unwrap().contains("\"connected\""));
        let start: Value = serde_json::from_str(opening[1].to_text().unwrap()).unwrap();
        assert_eq!(start["start"]["mediaFormat"]["encoding"], "audio/x-mulaw");
        assert_eq!(start["start"]["callSid"], "CA1");
        let frame: Value = serde_json::from_str(wire.frame(&[0; 160]).to_text().unwrap()).unwrap();
        assert_eq!(frame["media"]["chunk"], "1");
        let payload = frame["media"]["payload"].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(payload)
                .unwrap()
                .len(),
            160
        );
        // 0.5 s of bot audio, then a mark: echoed only once that audio has played.
        let audio = base64::engine::general_purpose::STANDARD.encode(vec![0xffu8; 4000]);
        let media = json!({"event": "media", "streamSid": "MZ1", "media": {"payload": audio}});
        assert_eq!(wire.heard(text(media)), Heard::BotAudio(0.5));
        let mark_message = json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": "m1"}});
        assert_eq!(wire.heard(text(mark_message)), Heard::Nothing);
        assert!(wire.due(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_millis(510)).await;
        let echoed = wire.due(Instant::now());
        assert_eq!(echoed.len(), 1);
        assert!(echoed[0].to_text().unwrap().contains("\"m1\""));
        assert!(wire.hang_up().to_text().unwrap().contains("\"stop\""));
    }
}
