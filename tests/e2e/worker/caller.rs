//! A simulated carrier for each media protocol, written from the vendor's documentation.
//!
//! And the caller that drives a call through it in real time.
//!
//! Message shapes: Twilio <https://www.twilio.com/docs/voice/media-streams/websocket-messages>,
//! Plivo <https://plivo.com/docs/voice/audio-streaming/audio-streaming>, Telnyx
//! <https://developers.telnyx.com/api-reference/websockets/stream-call-media-over-websocket>, Exotel
//! <https://developer.exotel.com/docs/agentstream/websocket-protocol>, Vonage
//! <https://developer.vonage.com/en/voice/voice-api/concepts/websockets>.

use audio::{SampleRate, g711};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What the carrier made of a worker message.
#[derive(Debug)]
pub enum Heard {
    BotAudio(usize),
    Clear,
    Other,
}

/// The carrier side of one protocol.
pub trait Carrier: Send {
    fn rate(&self) -> SampleRate;
    fn opening(&mut self) -> Vec<Message>;
    fn audio(&mut self, samples: &[i16]) -> Message;
    /// The messages one frame of caller audio goes out as, in the order they are sent.
    fn frames(&mut self, samples: &[i16]) -> Vec<Message> {
        vec![self.audio(samples)]
    }
    fn dtmf(&mut self, digit: char) -> Message;
    /// Interprets a worker message; may answer it (acknowledgements).
    fn read(&mut self, message: &Message, replies: &mut Vec<Message>) -> Heard;
    fn closing(&mut self) -> Option<Message>;
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

fn parse(message: &Message) -> Value {
    match message {
        Message::Text(t) => serde_json::from_str(t).expect("the worker sent JSON text"),
        _ => Value::Null,
    }
}

fn pcm_le(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[derive(Debug, Default)]
pub struct Twilio {
    seq: u64,
    sent_ms: u64,
}

const STREAM_SID: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";

impl Carrier for Twilio {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz8000
    }
    fn opening(&mut self) -> Vec<Message> {
        vec![
            text(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})),
            text(
                json!({"event": "start", "sequenceNumber": "1", "streamSid": STREAM_SID, "start": {
                "accountSid": "AC123", "streamSid": STREAM_SID, "callSid": "CA123",
                "tracks": ["inbound"], "customParameters": {"campaign": "test"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}),
            ),
        ]
    }
    fn audio(&mut self, samples: &[i16]) -> Message {
        self.seq += 1;
        self.sent_ms += samples.len() as u64 / 8;
        text(
            json!({"event": "media", "sequenceNumber": self.seq.to_string(), "streamSid": STREAM_SID,
            "media": {"track": "inbound", "chunk": self.seq.to_string(), "timestamp": self.sent_ms.to_string(),
            "payload": B64.encode(g711::encode_ulaw(samples))}}),
        )
    }
    fn dtmf(&mut self, digit: char) -> Message {
        text(
            json!({"event": "dtmf", "streamSid": STREAM_SID, "sequenceNumber": "5",
            "dtmf": {"track": "inbound_track", "digit": digit.to_string()}}),
        )
    }
    fn read(&mut self, message: &Message, replies: &mut Vec<Message>) -> Heard {
        let value = parse(message);
        assert_eq!(
            value["streamSid"], STREAM_SID,
            "every message names the stream: {value}"
        );
        match value["event"].as_str() {
            Some("media") => {
                let payload = B64
                    .decode(value["media"]["payload"].as_str().unwrap())
                    .unwrap();
                Heard::BotAudio(payload.len())
            }
            Some("clear") => Heard::Clear,
            Some("mark") => {
                replies.push(text(
                    json!({"event": "mark", "sequenceNumber": "9", "streamSid": STREAM_SID,
                    "mark": {"name": value["mark"]["name"]}}),
                ));
                Heard::Other
            }
            other => panic!("Twilio has no outbound event {other:?}"),
        }
    }
    fn closing(&mut self) -> Option<Message> {
        Some(text(
            json!({"event": "stop", "sequenceNumber": "99", "streamSid": STREAM_SID,
            "stop": {"accountSid": "AC123", "callSid": "CA123"}}),
        ))
    }
}

/// Telnyx Media Streaming, which does not promise frame order: every pair of caller frames goes
/// out swapped (chunk 2 before chunk 1), so the worker must sort them to hear the caller.
#[derive(Debug, Default)]
pub struct Telnyx {
    chunk: u64,
    held: Option<Message>,
}

const TELNYX_STREAM: &str = "32de0dea-53cb-4b21-89a4-9e1819c043bc";

impl Carrier for Telnyx {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz8000
    }
    fn opening(&mut self) -> Vec<Message> {
        vec![
            text(json!({"event": "connected", "version": "1.0.0"})),
            text(
                json!({"event": "start", "sequence_number": "1", "stream_id": TELNYX_STREAM,
                "start": {"user_id": "3e6f995f-85f7-4705-9741-53b116d28237",
                "call_control_id": "v3:a1d1d5b5-1f8e-4b0b-8a0e-6d3b1a7c2f10", "client_state": null,
                "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1}}}),
            ),
        ]
    }
    fn audio(&mut self, samples: &[i16]) -> Message {
        self.chunk += 1;
        text(
            json!({"event": "media", "sequence_number": (self.chunk + 1).to_string(),
            "stream_id": TELNYX_STREAM, "media": {"track": "inbound", "chunk": self.chunk.to_string(),
            "timestamp": (self.chunk * 20).to_string(), "payload": B64.encode(g711::encode_ulaw(samples))}}),
        )
    }
    fn frames(&mut self, samples: &[i16]) -> Vec<Message> {
        let message = self.audio(samples);
        match self.held.take() {
            Some(first) => vec![message, first],
            None => {
                self.held = Some(message);
                Vec::new()
            }
        }
    }
    fn dtmf(&mut self, digit: char) -> Message {
        text(
            json!({"event": "dtmf", "stream_id": TELNYX_STREAM, "occurred_at": "2026-12-04T10:00:00Z",
            "sequence_number": "5", "dtmf": {"digit": digit.to_string()}}),
        )
    }
    fn read(&mut self, message: &Message, replies: &mut Vec<Message>) -> Heard {
        let value = parse(message);
        match value["event"].as_str() {
            Some("media") => {
                let payload = B64
                    .decode(value["media"]["payload"].as_str().unwrap())
                    .unwrap();
                Heard::BotAudio(payload.len())
            }
            Some("clear") => Heard::Clear,
            Some("mark") => {
                replies.push(text(
                    json!({"event": "mark", "sequence_number": "9", "stream_id": TELNYX_STREAM,
                    "mark": {"name": value["mark"]["name"]}}),
                ));
                Heard::Other
            }
            other => panic!("Telnyx has no outbound event {other:?}"),
        }
    }
    fn closing(&mut self) -> Option<Message> {
        Some(text(
            json!({"event": "stop", "sequence_number": "99", "stream_id": TELNYX_STREAM,
            "stop": {"user_id": "3e6f995f-85f7-4705-9741-53b116d28237",
            "call_control_id": "v3:a1d1d5b5-1f8e-4b0b-8a0e-6d3b1a7c2f10"}}),
        ))
    }
}

#[derive(Debug, Default)]
pub struct Plivo {
    seq: u64,
}

const STREAM_ID: &str = "20170ada-f610-433b-8758-c02a2aab3662";

impl Carrier for Plivo {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz8000
    }
    fn opening(&mut self) -> Vec<Message> {
        vec![text(
            json!({"event": "start", "sequenceNumber": 1, "start": {
            "callId": "12345678-1234-1234-1234-123456789abc", "streamId": STREAM_ID,
            "accountId": "MA123", "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}},
            "extra_headers": "campaign=test"}),
        )]
    }
    fn audio(&mut self, samples: &[i16]) -> Message {
        self.seq += 1;
        text(
            json!({"event": "media", "sequenceNumber": self.seq, "streamId": STREAM_ID,
            "media": {"track": "inbound", "timestamp": (self.seq * 20).to_string(), "chunk": self.seq,
            "payload": B64.encode(g711::encode_ulaw(samples))}, "extra_headers": "campaign=test"}),
        )
    }
    fn dtmf(&mut self, digit: char) -> Message {
        text(
            json!({"event": "dtmf", "sequenceNumber": 4, "streamId": STREAM_ID,
            "dtmf": {"track": "inbound", "digit": digit.to_string()}, "extra_headers": ""}),
        )
    }
    fn read(&mut self, message: &Message, replies: &mut Vec<Message>) -> Heard {
        let value = parse(message);
        match value["event"].as_str() {
            Some("playAudio") => {
                assert_eq!(value["media"]["contentType"], "audio/x-mulaw");
                assert_eq!(value["media"]["sampleRate"], 8000);
                Heard::BotAudio(
                    B64.decode(value["media"]["payload"].as_str().unwrap())
                        .unwrap()
                        .len(),
                )
            }
            Some("clearAudio") => {
                assert_eq!(value["streamId"], STREAM_ID);
                replies.push(text(
                    json!({"sequenceNumber": 0, "event": "clearedAudio", "streamId": STREAM_ID}),
                ));
                Heard::Clear
            }
            Some("checkpoint") => {
                replies.push(text(
                    json!({"event": "playedStream", "streamId": STREAM_ID, "name": value["name"]}),
                ));
                Heard::Other
            }
            other => panic!("Plivo accepts no event {other:?}"),
        }
    }
    fn closing(&mut self) -> Option<Message> {
        None
    }
}

#[derive(Debug, Default)]
pub struct Exotel {
    seq: u64,
}

impl Carrier for Exotel {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz8000
    }
    fn opening(&mut self) -> Vec<Message> {
        vec![
            text(json!({"event": "connected"})),
            text(
                json!({"event": "start", "sequence_number": "1", "stream_sid": "MZexotel1", "start": {
                "stream_sid": "MZexotel1", "call_sid": "CAexotel1", "account_sid": "ACexotel",
                "from": "+919876543210", "to": "+918047491899", "custom_parameters": {"key1": "value1"},
                "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"}}}),
            ),
        ]
    }
    fn audio(&mut self, samples: &[i16]) -> Message {
        self.seq += 1;
        text(
            json!({"event": "media", "sequence_number": self.seq.to_string(), "stream_sid": "MZexotel1",
            "media": {"chunk": self.seq.to_string(), "timestamp": (self.seq * 20).to_string(),
            "payload": B64.encode(pcm_le(samples))}}),
        )
    }
    fn dtmf(&mut self, digit: char) -> Message {
        text(
            json!({"event": "dtmf", "sequence_number": "7", "stream_sid": "MZexotel1",
            "dtmf": {"digit": digit.to_string(), "duration": "100"}}),
        )
    }
    fn read(&mut self, message: &Message, replies: &mut Vec<Message>) -> Heard {
        let value = parse(message);
        assert_eq!(value["stream_sid"], "MZexotel1", "{value}");
        match value["event"].as_str() {
            Some("media") => {
                let bytes = B64
                    .decode(value["media"]["payload"].as_str().unwrap())
                    .unwrap();
                assert_eq!(bytes.len() % 2, 0, "16-bit PCM");
                Heard::BotAudio(bytes.len() / 2)
            }
            Some("clear") => Heard::Clear,
            Some("mark") => {
                replies.push(text(
                    json!({"event": "mark", "sequence_number": "15", "stream_sid": "MZexotel1",
                    "mark": {"name": value["mark"]["name"]}}),
                ));
                Heard::Other
            }
            other => panic!("Exotel accepts no event {other:?}"),
        }
    }
    fn closing(&mut self) -> Option<Message> {
        Some(text(
            json!({"event": "stop", "sequence_number": "99", "stream_sid": "MZexotel1",
            "stop": {"call_sid": "CAexotel1", "account_sid": "ACexotel", "reason": "callended"}}),
        ))
    }
}

#[derive(Debug, Default)]
pub struct Vonage;

impl Carrier for Vonage {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz16000
    }
    fn opening(&mut self) -> Vec<Message> {
        vec![text(
            json!({"event": "websocket:connected", "content-type": "audio/l16;rate=16000",
            "uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "campaign": "test"}),
        )]
    }
    fn audio(&mut self, samples: &[i16]) -> Message {
        Message::Binary(pcm_le(samples).into())
    }
    fn dtmf(&mut self, digit: char) -> Message {
        text(json!({"event": "websocket:dtmf", "digit": digit.to_string(), "duration": 260}))
    }
    fn read(&mut self, message: &Message, replies: &mut Vec<Message>) -> Heard {
        match message {
            Message::Binary(bytes) => {
                assert_eq!(bytes.len(), 640, "Vonage takes exactly 20 ms frames");
                Heard::BotAudio(320)
            }
            _ => {
                let value = parse(message);
                match value["action"].as_str() {
                    Some("clear") => {
                        replies.push(text(json!({"event": "websocket:cleared"})));
                        Heard::Clear
                    }
                    Some("notify") => {
                        replies.push(text(
                            json!({"event": "websocket:notify", "payload": value["payload"]}),
                        ));
                        Heard::Other
                    }
                    other => panic!("Vonage accepts no action {other:?}"),
                }
            }
        }
    }
    fn closing(&mut self) -> Option<Message> {
        None
    }
}

#[derive(Debug, Default)]
pub struct VoxClient {
    pub transcript: Vec<Value>,
    pub end: Option<Value>,
}

impl Carrier for VoxClient {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz16000
    }
    fn opening(&mut self) -> Vec<Message> {
        vec![text(json!({"type": "start", "sample_rate": 16000}))]
    }
    fn audio(&mut self, samples: &[i16]) -> Message {
        Message::Binary(pcm_le(samples).into())
    }
    fn dtmf(&mut self, digit: char) -> Message {
        text(json!({"type": "dtmf", "digit": digit.to_string()}))
    }
    fn read(&mut self, message: &Message, _replies: &mut Vec<Message>) -> Heard {
        match message {
            Message::Binary(bytes) => Heard::BotAudio(bytes.len() / 2),
            _ => {
                let value = parse(message);
                match value["type"].as_str() {
                    Some("clear") => Heard::Clear,
                    Some("transcript") => {
                        self.transcript.push(value);
                        Heard::Other
                    }
                    Some("end") => {
                        self.end = Some(value);
                        Heard::Other
                    }
                    _ => Heard::Other,
                }
            }
        }
    }
    fn closing(&mut self) -> Option<Message> {
        Some(text(json!({"type": "hangup"})))
    }
}

/// What the caller does.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// Speak the request once the bot has been quiet for a second after speaking.
    AnswerThePrompt,
    /// Speak once this much bot audio has arrived (interrupting it).
    BargeInAfter(Duration),
    /// Press a key once the bot has been quiet for a second after speaking.
    Press(char),
    /// Send this text frame once the stream runs, then keep streaming.
    Garbage(&'static str),
}

/// What the caller saw.
#[derive(Debug, Default)]
pub struct CallLog {
    pub bot_audio: Duration,
    pub clears: usize,
    pub closed_by_worker: bool,
}

/// Drives one call in real time: opening messages, 20 ms caller frames (silence, then speech per
/// `plan`), until the worker closes the socket or `limit` passes.
pub async fn drive(
    media_url: &str,
    carrier: &mut dyn Carrier,
    speech: &[i16],
    plan: Plan,
    limit: Duration,
) -> CallLog {
    let (mut socket, _) = tokio_tungstenite::connect_async(media_url)
        .await
        .expect("the media socket opens");
    for message in carrier.opening() {
        socket.send(message).await.unwrap();
    }
    let rate = carrier.rate();
    let frame = rate.hz() as usize / 50;
    let mut log = CallLog::default();
    let mut queue: std::collections::VecDeque<i16> = Default::default();
    let mut acted = false;
    let mut last_bot_audio: Option<Instant> = None;
    let deadline = Instant::now() + limit;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if Instant::now() > deadline {
                    panic!("the call did not end within {limit:?}");
                }
                let quiet = last_bot_audio.is_some_and(|t| t.elapsed() > Duration::from_millis(1_000));
                if !acted {
                    match plan {
                        Plan::AnswerThePrompt if quiet => {
                            queue.extend(speech.iter().copied());
                            acted = true;
                        }
                        Plan::BargeInAfter(after) if log.bot_audio >= after => {
                            queue.extend(speech.iter().copied());
                            acted = true;
                        }
                        Plan::Press(digit) if quiet => {
                            socket.send(carrier.dtmf(digit)).await.unwrap();
                            acted = true;
                        }
                        Plan::Garbage(text) if log.bot_audio > Duration::ZERO => {
                            socket.send(Message::Text(text.into())).await.unwrap();
                            acted = true;
                        }
                        _ => {}
                    }
                }
                let samples: Vec<i16> = (0..frame).map(|_| queue.pop_front().unwrap_or(0)).collect();
                let mut sent = true;
                for message in carrier.frames(&samples) {
                    sent &= socket.send(message).await.is_ok();
                }
                if !sent {
                    log.closed_by_worker = true;
                    break;
                }
            }
            message = socket.next() => {
                let Some(Ok(message)) = message else {
                    log.closed_by_worker = true;
                    break;
                };
                if let Message::Close(_) = message {
                    log.closed_by_worker = true;
                    break;
                }
                if matches!(message, Message::Ping(_) | Message::Pong(_)) {
                    continue;
                }
                let mut replies = Vec::new();
                match carrier.read(&message, &mut replies) {
                    Heard::BotAudio(samples) => {
                        let d = Duration::from_micros(samples as u64 * 1_000_000 / u64::from(rate.hz()));
                        log.bot_audio += d;
                        last_bot_audio = Some(Instant::now());
                    }
                    Heard::Clear => log.clears += 1,
                    Heard::Other => {}
                }
                for reply in replies {
                    let _ = socket.send(reply).await;
                }
            }
        }
    }
    if !log.closed_by_worker
        && let Some(stop) = carrier.closing()
    {
        let _ = socket.send(stop).await;
    }
    log
}
