//! The media leg's wire formats a simulated callee speaks: vox's or a carrier's (four of them).
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
//! unplayed audio. Closing the socket ends the leg.

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
    /// A carrier's `media`, `mark` or `clear` (Twilio's and Telnyx's have the same shape).
    fn heard(&mut self, value: &Value) -> Heard {
        match value.get("event").and_then(Value::as_str) {
            Some("media") => self.play(mu_law_secs(value.pointer("/media/payload"))),
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

/// Seconds of 8 kHz μ-law in a base64 `payload`.
fn mu_law_secs(payload: Option<&Value>) -> f64 {
    payload
        .and_then(Value::as_str)
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
        .map_or(0, |bytes| bytes.len()) as f64
        / 8_000.0
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

/// The wire format of one media leg.
#[derive(Debug)]
pub enum Wire {
    Vox,
    Twilio(Box<TwilioStream>),
    Telnyx(Box<TelnyxStream>),
    Plivo(Box<PlivoStream>),
    Vonage(Box<VonageStream>),
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

impl Wire {
    /// The rate the callee's audio is made at.
    pub fn rate(&self) -> SampleRate {
        match self {
            Wire::Vox | Wire::Vonage(_) => SampleRate::Hz16000,
            Wire::Twilio(_) | Wire::Telnyx(_) | Wire::Plivo(_) => SampleRate::Hz8000,
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
                stream.playout.heard(&value)
            }
            (Wire::Telnyx(stream), Message::Text(body)) => {
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                stream.playout.heard(&value)
            }
            (Wire::Plivo(stream), Message::Text(body)) => {
                let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                stream.heard(&value)
            }
            (Wire::Vonage(stream), message) => stream.heard(message),
            _ => Heard::Nothing,
        }
    }
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

    #[tokio::test(start_paused = true)]
    async fn a_telnyx_stream_opens_with_its_call_and_echoes_marks_once_played() {
        let stream = TelnyxStream::new("s1", "v3:c1", Some("c3RhdGU=".into()));
        let mut wire = Wire::Telnyx(Box::new(stream));
        let opening = wire.opening();
        assert!(opening[0].to_text().unwrap().contains("\"connected\""));
        let start: Value = serde_json::from_str(opening[1].to_text().unwrap()).unwrap();
        assert_eq!(start["start"]["call_control_id"], "v3:c1");
        assert_eq!(start["start"]["client_state"], "c3RhdGU=");
        assert_eq!(start["start"]["media_format"]["encoding"], "PCMU");
        let frame: Value = serde_json::from_str(wire.frame(&[0; 160]).to_text().unwrap()).unwrap();
        assert_eq!(
            (&frame["media"]["chunk"], &frame["stream_id"]),
            (&json!("1"), &json!("s1"))
        );
        let audio = base64::engine::general_purpose::STANDARD.encode(vec![0xffu8; 1600]);
        let media = json!({"event": "media", "media": {"payload": audio}});
        assert_eq!(wire.heard(text(media)), Heard::BotAudio(0.2));
        let mark = json!({"event": "mark", "mark": {"name": "m1"}});
        assert_eq!(wire.heard(text(mark)), Heard::Nothing);
        assert!(wire.due(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_millis(210)).await;
        let echoed: Value =
            serde_json::from_str(wire.due(Instant::now())[0].to_text().unwrap()).unwrap();
        assert_eq!(
            (&echoed["mark"]["name"], &echoed["stream_id"]),
            (&json!("m1"), &json!("s1"))
        );
        assert_eq!(wire.heard(text(json!({"event": "clear"}))), Heard::Clear);
        assert!(wire.hang_up().to_text().unwrap().contains("\"stop\""));
    }
    #[tokio::test(start_paused = true)]
    async fn a_plivo_stream_starts_with_its_headers_and_answers_checkpoints_once_played() {
        let mut wire = Wire::Plivo(Box::new(PlivoStream::new("st1", "c-1", "call_id=7")));
        let opening = wire.opening();
        let start: Value = serde_json::from_str(opening[0].to_text().unwrap()).unwrap();
        assert_eq!(start["start"]["callId"], "c-1");
        assert_eq!(start["start"]["mediaFormat"]["encoding"], "audio/x-mulaw");
        assert_eq!(start["extra_headers"], "call_id=7");
        let frame: Value = serde_json::from_str(wire.frame(&[0; 160]).to_text().unwrap()).unwrap();
        assert_eq!(
            (&frame["event"], &frame["streamId"]),
            (&json!("media"), &json!("st1"))
        );
        let audio = base64::engine::general_purpose::STANDARD.encode(vec![0xffu8; 4000]);
        let play = json!({"event": "playAudio", "media": {"contentType": "audio/x-mulaw",
            "sampleRate": 8000, "payload": audio}});
        assert_eq!(wire.heard(text(play)), Heard::BotAudio(0.5));
        let checkpoint = json!({"event": "checkpoint", "streamId": "st1", "name": "m1"});
        assert_eq!(wire.heard(text(checkpoint)), Heard::Nothing);
        assert!(wire.due(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_millis(510)).await;
        let played: Value =
            serde_json::from_str(wire.due(Instant::now())[0].to_text().unwrap()).unwrap();
        assert_eq!(
            (&played["event"], &played["name"]),
            (&json!("playedStream"), &json!("m1"))
        );
        let clear = json!({"event": "clearAudio", "streamId": "st1"});
        assert_eq!(wire.heard(text(clear)), Heard::Clear);
        assert!(matches!(wire.hang_up(), Message::Close(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_vonage_socket_connects_with_its_headers_and_echoes_notifies_once_played() {
        let headers = json!({"call_id": "7"}).as_object().cloned().unwrap();
        let mut wire = Wire::Vonage(Box::new(VonageStream::new(headers)));
        let connected: Value = serde_json::from_str(wire.opening()[0].to_text().unwrap()).unwrap();
        assert_eq!(connected["event"], "websocket:connected");
        assert_eq!(connected["content-type"], "audio/l16;rate=16000");
        assert_eq!(connected["call_id"], "7");
        assert!(matches!(wire.frame(&[0; 320]), Message::Binary(b) if b.len() == 640));
        // 0.5 s of 16 kHz audio, then a notify: echoed only once that audio has played.
        assert_eq!(
            wire.heard(Message::Binary(vec![0u8; 16_000].into())),
            Heard::BotAudio(0.5)
        );
        let notify = json!({"action": "notify", "payload": {"mark": "m1"}});
        assert_eq!(wire.heard(text(notify)), Heard::Nothing);
        assert!(wire.due(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_millis(510)).await;
        let echoed: Value =
            serde_json::from_str(wire.due(Instant::now())[0].to_text().unwrap()).unwrap();
        assert_eq!(
            echoed,
            json!({"event": "websocket:notify", "payload": {"mark": "m1"}})
        );
        assert_eq!(wire.heard(text(json!({"action": "clear"}))), Heard::Clear);
        assert!(matches!(wire.hang_up(), Message::Close(_)));
    }
}
