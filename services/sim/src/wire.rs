//! The media leg's wire formats a simulated callee speaks: vox's or a carrier's (five of them).
//!
//! `vox`: a `start` message, then binary PCM16 frames at 16 kHz both ways; the worker's `end`,
//! `clear` and `transcript` messages. Twilio (<https://www.twilio.com/docs/voice/media-streams/websocket-messages>):
//! the stream sends `connected`, then `start` (`streamSid`, `start.callSid`, `start.mediaFormat`
//! audio/x-mulaw at 8000 Hz, `start.customParameters` from the TwiML's `<Parameter>`s), then one
//! `media` message per 20 ms (`media.track` inbound, `media.chunk`, `media.timestamp` in ms,
//! `media.payload` base64 μ-law), and `stop` when the caller hangs up. The app sends `media`
//! (played in order), `mark` (echoed back once the audio sent before it has played) and `clear`
//! (drops unplayed audio; pending marks are echoed at once). Telnyx
//! (<https://developers.telnyx.com/api-reference/websockets/stream-call-media-over-websocket>):
//! `connected`, then `start` (`stream_id`, `start.call_control_id`, `start.client_state`,
//! `start.media_format` PCMU at 8000 Hz), `media` (`sequence_number`, `media.track` inbound,
//! `media.chunk`, `media.timestamp`, `media.payload` base64), `stop`; the app's `media`, `mark` and
//! `clear` mean what Twilio's do. Plivo (<https://www.plivo.com/docs/voice/xml/audio-streaming> and
//! its events pages): `start` (`start.callId`, `start.streamId`, `start.mediaFormat`
//! audio/x-mulaw at 8000 Hz, `extra_headers` from the `<Stream extraHeaders>`), `media`
//! (`media.payload` base64 μ-law, `media.chunk`, `media.timestamp`); the app sends `playAudio`
//! (`media.payload`), `checkpoint` (`name`; answered `playedStream` once played) and `clearAudio`.
//! Vonage (<https://developer.vonage.com/en/voice/voice-api/concepts/websockets>): a text
//! `websocket:connected` (`content-type` `audio/l16;rate=16000` and the NCCO's headers), then
//! binary 20 ms frames of 16-bit PCM both ways; the app's `{"action": "notify"}` is echoed as
//! `websocket:notify` once the audio before it has played, and `{"action": "clear"}` drops
//! unplayed audio. Closing the socket ends the leg. Exotel
//! (<https://developer.exotel.com/docs/agentstream/websocket-protocol>): `connected`, then `start`
//! (`stream_sid`, `start.call_sid`, `start.from`, `start.to`, `start.custom_parameters`,
//! `start.media_format` audio/x-raw, 16-bit at the URL's `sample-rate`), `media` (`media.chunk`,
//! `media.timestamp`, `media.payload` base64 little-endian PCM), `stop`; the app's `media`, `mark`
//! and `clear` mean what Twilio's do, with PCM payloads.

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

/// The bot's audio as the callee's line plays it: when what came so far has played, and the
/// marks to echo once the audio before them has.
#[derive(Debug, Default)]
struct Playout {
    played_until: Option<Instant>,
    marks: VecDeque<(Instant, String)>,
}

impl Playout {
    /// A carrier's `media`, `mark` or `clear` (Twilio's, Telnyx's and Exotel's have the same
    /// shape); `secs` says how long a payload plays.
    fn heard(&mut self, value: &Value, secs: fn(Option<&Value>) -> f64) -> Heard {
        match value.get("event").and_then(Value::as_str) {
            Some("media") => self.play(secs(value.pointer("/media/payload"))),
            Some("mark") => self.mark(value.pointer("/mark/name")),
            Some("clear") => self.clear(),
            _ => Heard::Nothing,
        }
    }

    /// A mark named `name`, echoed once the audio sent before it has played.
    fn mark(&mut self, name: Option<&Value>) -> Heard {
        let name = name.and_then(Value::as_str).unwrap_or_default().to_owned();
        let at = self.played_until.unwrap_or_else(Instant::now);
        self.marks.push_back((at, name));
        Heard::Nothing
    }

    /// Unplayed audio dropped; pending marks are due at once.
    fn clear(&mut self) -> Heard {
        self.played_until = None;
        let now = Instant::now();
        for mark in &mut self.marks {
            mark.0 = now;
        }
        Heard::Clear
    }

    /// `secs` of bot audio, played after what came before it.
    fn play(&mut self, secs: f64) -> Heard {
        let now = Instant::now();
        let from = self.played_until.filter(|t| *t > now).unwrap_or(now);
        self.played_until = Some(from + Duration::from_secs_f64(secs));
        Heard::BotAudio(secs)
    }

    /// Names of the marks whose audio has played by `now`.
    fn due(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        while self.marks.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, name)) = self.marks.pop_front() {
                out.push(name);
            }
        }
        out
    }
}

/// Bytes in a base64 `payload`.
fn payload_bytes(payload: Option<&Value>) -> usize {
    payload
        .and_then(Value::as_str)
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
        .map_or(0, |bytes| bytes.len())
}

/// Seconds of 8 kHz μ-law in a base64 `payload`.
fn mu_law_secs(payload: Option<&Value>) -> f64 {
    payload_bytes(payload) as f64 / 8_000.0
}

/// Seconds of 8 kHz 16-bit PCM in a base64 `payload`.
fn pcm_secs(payload: Option<&Value>) -> f64 {
    payload_bytes(payload) as f64 / 2.0 / 8_000.0
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
    playout: Playout,
}

/// One Telnyx stream's state.
#[derive(Debug)]
pub struct TelnyxStream {
    pub stream_id: String,
    pub call_control_id: String,
    /// The `client_state` of the command that started the stream.
    pub client_state: Option<String>,
    sequence: u64,
    chunk: u64,
    started: Option<Instant>,
    playout: Playout,
}

impl TelnyxStream {
    pub fn new(stream_id: &str, call_control_id: &str, client_state: Option<String>) -> Self {
        Self {
            stream_id: stream_id.to_owned(),
            call_control_id: call_control_id.to_owned(),
            client_state,
            sequence: 0,
            chunk: 0,
            started: None,
            playout: Playout::default(),
        }
    }

    fn next_sequence(&mut self) -> String {
        self.sequence += 1;
        self.sequence.to_string()
    }
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
            playout: Playout::default(),
        }
    }

    fn next_sequence(&mut self) -> String {
        self.sequence += 1;
        self.sequence.to_string()
    }
}

/// One Plivo stream's state.
#[derive(Debug)]
pub struct PlivoStream {
    pub stream_id: String,
    pub call_uuid: String,
    /// The `<Stream extraHeaders>` as Plivo passes them on (`k=v,k=v`).
    pub extra_headers: String,
    sequence: u64,
    chunk: u64,
    started: Option<Instant>,
    playout: Playout,
}

impl PlivoStream {
    pub fn new(stream_id: &str, call_uuid: &str, extra_headers: &str) -> Self {
        Self {
            stream_id: stream_id.to_owned(),
            call_uuid: call_uuid.to_owned(),
            extra_headers: extra_headers.to_owned(),
            sequence: 0,
            chunk: 0,
            started: None,
            playout: Playout::default(),
        }
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// The app's `playAudio`, `checkpoint` and `clearAudio`.
    fn heard(&mut self, value: &Value) -> Heard {
        match value.get("event").and_then(Value::as_str) {
            Some("playAudio") => self
                .playout
                .play(mu_law_secs(value.pointer("/media/payload"))),
            Some("checkpoint") => self.playout.mark(value.get("name")),
            Some("clearAudio") => self.playout.clear(),
            _ => Heard::Nothing,
        }
    }
}

/// One Vonage WebSocket's state.
#[derive(Debug)]
pub struct VonageStream {
    /// The NCCO endpoint's headers, sent back in `websocket:connected`.
    pub headers: Map<String, Value>,
    playout: Playout,
}

impl VonageStream {
    pub fn new(headers: Map<String, Value>) -> Self {
        Self {
            headers,
            playout: Playout::default(),
        }
    }

    /// Bot audio (binary 16 kHz PCM) and the app's `notify` and `clear`.
    fn heard(&mut self, message: Message) -> Heard {
        match message {
            Message::Binary(bytes) => self.playout.play(bytes.len() as f64 / 2.0 / 16_000.0),
            Message::Text(body) => {
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                match value.get("action").and_then(Value::as_str) {
                    Some("notify") => self.playout.mark(value.pointer("/payload/mark")),
                    Some("clear") => self.playout.clear(),
                    _ => Heard::Nothing,
                }
            }
            _ => Heard::Nothing,
        }
    }
}

/// One Exotel Voicebot stream's state.
#[derive(Debug)]
pub struct ExotelStream {
    pub stream_sid: String,
    pub call_sid: String,
    pub account_sid: String,
    pub from: String,
    pub to: String,
    /// The stream URL's own query parameters (`sample-rate` aside), as Exotel passes them on.
    pub custom_parameters: Map<String, Value>,
    sequence: u64,
    chunk: u64,
    started: Option<Instant>,
    playout: Playout,
}

impl ExotelStream {
    pub fn new(stream_sid: &str, call_sid: &str, account_sid: &str, from: &str, to: &str) -> Self {
        Self {
            stream_sid: stream_sid.to_owned(),
            call_sid: call_sid.to_owned(),
            account_sid: account_sid.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            custom_parameters: Map::new(),
            sequence: 0,
            chunk: 0,
            started: None,
            playout: Playout::default(),
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
    Telnyx(Box<TelnyxStream>),
    Plivo(Box<PlivoStream>),
    Vonage(Box<VonageStream>),
    Exotel(Box<ExotelStream>),
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

impl Wire {
    /// The rate the callee's audio is made at.
    pub fn rate(&self) -> SampleRate {
        match self {
            Wire::Vox | Wire::Vonage(_) => SampleRate::Hz16000,
            Wire::Twilio(_) | Wire::Telnyx(_) | Wire::Plivo(_) | Wire::Exotel(_) => {
                SampleRate::Hz8000
            }
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
            Wire::Telnyx(stream) => {
                stream.started = Some(Instant::now());
                let start = json!({
                    "event": "start",
                    "sequence_number": stream.next_sequence(),
                    "start": {
                        "call_control_id": stream.call_control_id,
                        "client_state": stream.client_state,
                        "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1},
                    },
                    "stream_id": stream.stream_id,
                });
                vec![
                    text(json!({"event": "connected", "version": "1.0.0"})),
                    text(start),
                ]
            }
            Wire::Plivo(stream) => {
                stream.started = Some(Instant::now());
                vec![text(json!({
                    "event": "start",
                    "sequenceNumber": stream.next_sequence(),
                    "start": {
                        "callId": stream.call_uuid,
                        "streamId": stream.stream_id,
                        "tracks": ["inbound"],
                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
                    },
                    "extra_headers": stream.extra_headers,
                }))]
            }
            Wire::Exotel(stream) => {
                stream.started = Some(Instant::now());
                let start = json!({
                    "event": "start",
                    "sequence_number": stream.next_sequence(),
                    "stream_sid": stream.stream_sid,
                    "start": {
                        "stream_sid": stream.stream_sid,
                        "call_sid": stream.call_sid,
                        "account_sid": stream.account_sid,
                        "from": stream.from,
                        "to": stream.to,
                        "custom_parameters": stream.custom_parameters,
                        "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"},
                    },
                });
                vec![text(json!({"event": "connected"})), text(start)]
            }
            Wire::Vonage(stream) => {
                let mut connected = stream.headers.clone();
                connected.insert("event".into(), json!("websocket:connected"));
                connected.insert("content-type".into(), json!("audio/l16;rate=16000"));
                vec![text(Value::Object(connected))]
            }
        }
    }

    /// One 20 ms frame of the callee's line.
    pub fn frame(&mut self, samples: &[i16]) -> Message {
        match self {
            Wire::Vox | Wire::Vonage(_) => {
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
            Wire::Telnyx(stream) => {
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
                    "sequence_number": sequence,
                    "media": {"track": "inbound", "chunk": stream.chunk.to_string(), "timestamp": timestamp, "payload": payload},
                    "stream_id": stream.stream_id,
                }))
            }
            Wire::Exotel(stream) => {
                stream.chunk += 1;
                let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                let payload = base64::engine::general_purpose::STANDARD.encode(bytes);
                let timestamp = stream
                    .started
                    .map_or(0, |s| s.elapsed().as_millis())
                    .to_string();
                let sequence = stream.next_sequence();
                text(json!({
                    "event": "media",
                    "sequence_number": sequence,
                    "stream_sid": stream.stream_sid,
                    "media": {"chunk": stream.chunk.to_string(), "timestamp": timestamp, "payload": payload},
                }))
            }
            Wire::Plivo(stream) => {
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
                    "streamId": stream.stream_id,
                    "media": {"track": "inbound", "chunk": stream.chunk, "timestamp": timestamp, "payload": payload},
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
            Wire::Telnyx(stream) => {
                let sequence = stream.next_sequence();
                text(json!({
                    "event": "stop",
                    "sequence_number": sequence,
                    "stop": {"call_control_id": stream.call_control_id},
                    "stream_id": stream.stream_id,
                }))
            }
            Wire::Exotel(stream) => {
                let sequence = stream.next_sequence();
                text(json!({
                    "event": "stop",
                    "sequence_number": sequence,
                    "stream_sid": stream.stream_sid,
                    "stop": {"call_sid": stream.call_sid, "account_sid": stream.account_sid, "reason": "callended"},
                }))
            }
            // Plivo and Vonage end a stream by closing its socket.
            Wire::Plivo(_) | Wire::Vonage(_) => Message::Close(None),
        }
    }

    /// Marks whose audio has played by `now`, echoed back as the carrier does.
    pub fn due(&mut self, now: Instant) -> Vec<Message> {
        match self {
            Wire::Vox => Vec::new(),
            Wire::Twilio(stream) => {
                let names = stream.playout.due(now);
                names
                    .iter()
                    .map(|name| {
                        let sequence = stream.next_sequence();
                        text(json!({
                            "event": "mark",
                            "sequenceNumber": sequence,
                            "mark": {"name": name},
                            "streamSid": stream.stream_sid,
                        }))
                    })
                    .collect()
            }
            Wire::Telnyx(stream) => {
                let names = stream.playout.due(now);
                names
                    .iter()
                    .map(|name| {
                        let sequence = stream.next_sequence();
                        text(json!({
                            "event": "mark",
                            "sequence_number": sequence,
                            "mark": {"name": name},
                            "stream_id": stream.stream_id,
                        }))
                    })
                    .collect()
            }
            Wire::Plivo(stream) => {
                let names = stream.playout.due(now);
                names
                    .iter()
                    .map(|name| {
                        let sequence = stream.next_sequence();
                        text(json!({
                            "event": "playedStream",
                            "sequenceNumber": sequence,
                            "streamId": stream.stream_id,
                            "name": name,
                        }))
                    })
                    .collect()
            }
            Wire::Exotel(stream) => {
                let names = stream.playout.due(now);
                names
                    .iter()
                    .map(|name| {
                        let sequence = stream.next_sequence();
                        text(json!({
                            "event": "mark",
                            "sequence_number": sequence,
                            "stream_sid": stream.stream_sid,
                            "mark": {"name": name},
                        }))
                    })
                    .collect()
            }
            Wire::Vonage(stream) => stream
                .playout
                .due(now)
                .iter()
                .map(|name| text(json!({"event": "websocket:notify", "payload": {"mark": name}})))
                .collect(),
        }
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
                stream.playout.heard(&value, mu_law_secs)
            }
            (Wire::Telnyx(stream), Message::Text(body)) => {
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                stream.playout.heard(&value, mu_law_secs)
            }
            (Wire::Plivo(stream), Message::Text(body)) => {
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                stream.heard(&value)
            }
            (Wire::Exotel(stream), Message::Text(body)) => {
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                stream.playout.heard(&value, pcm_secs)
            }
            (Wire::Vonage(stream), message) => stream.heard(message),
            _ => Heard::Nothing,
        }
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
