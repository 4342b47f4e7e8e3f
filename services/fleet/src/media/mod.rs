//! Carrier media protocols over WebSocket.
//!
//! Each turns the carrier's messages into [`Inbound`] events and the bot's audio, clears and marks
//! into the carrier's messages.
//!
//! The serializers are pure (no I/O): `parse` takes one WebSocket message, the writers return the
//! messages to send. Audio crosses this boundary as mono PCM16 at the protocol's wire rate; codec
//! work (μ-law, base64, little-endian L16) happens here.

pub mod exotel;
pub mod plivo;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
pub mod vox;

use audio::SampleRate;
use contracts::attach::MediaProtocol;
use serde_json::{Map, Value};

/// One WebSocket message, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    Text(String),
    Binary(Vec<u8>),
}

/// What the stream was set up with, from the carrier's start message.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStart {
    /// The carrier's id for this stream (`streamSid`, `streamId`, …), when it has one.
    pub stream_id: Option<String>,
    /// The carrier's id for the call leg.
    pub carrier_call_id: Option<String>,
    /// The caller's audio rate on the wire.
    pub rate: SampleRate,
    /// Custom parameters the carrier passed through.
    pub parameters: Map<String, Value>,
}

/// What a carrier message means to the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// The stream is set up; audio follows.
    Start(StreamStart),
    /// Caller audio, mono PCM16 at the wire rate.
    Audio(Vec<i16>),
    Dtmf(char),
    /// Audio sent before the named mark finished playing.
    Mark(String),
    /// The carrier acknowledged a clear.
    Cleared,
    /// The caller hung up or the carrier ended the stream.
    Stop,
    /// A message that needs no action (a handshake, keep-alive).
    Ignored,
}

/// A message the protocol cannot make sense of; the call ends with it as the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{protocol} media message: {message}")]
pub struct MediaError {
    pub protocol: &'static str,
    pub message: String,
}

impl MediaError {
    pub fn new(protocol: &'static str, message: impl Into<String>) -> Self {
        Self {
            protocol,
            message: message.into(),
        }
    }
}

/// One carrier's wire protocol, for one call.
pub trait Protocol: Send {
    /// Which protocol this is.
    fn kind(&self) -> MediaProtocol;
    /// Its name in messages and URL paths (`twilio`, `vox`, …).
    fn name(&self) -> &'static str {
        path_segment(self.kind())
    }
    /// The audio rate on the wire (known after the start message for some carriers).
    fn rate(&self) -> SampleRate;
    /// Interprets one message from the carrier.
    fn parse(&mut self, message: WsMessage) -> Result<Inbound, MediaError>;
    /// The bot's audio (mono PCM16 at [`Protocol::rate`]) as messages for the carrier.
    fn audio(&mut self, samples: &[i16]) -> Vec<WsMessage>;
    /// Asks the carrier to drop the audio it has buffered (barge-in).
    fn clear(&mut self) -> Vec<WsMessage>;
    /// Asks the carrier to report when the audio sent so far has played.
    fn mark(&mut self, name: &str) -> Vec<WsMessage>;
    /// Whether the protocol can press keys on the call ([`Protocol::dtmf`]).
    fn sends_digits(&self) -> bool {
        false
    }
    /// Whether the carrier behind the protocol has a REST verb that presses keys on the call
    /// (Telnyx, Vonage, Plivo): the worker asks the Backend to use it, and plays the tones in
    /// its own audio when that fails.
    fn carrier_keys(&self) -> bool {
        false
    }
    /// Presses `digits` on the call (none where the protocol cannot: see `sends_digits`).
    fn dtmf(&mut self, _digits: &str) -> Vec<WsMessage> {
        Vec::new()
    }
    /// Messages to send before closing the socket to hang up.
    fn hangup(&mut self, reason: &str) -> Vec<WsMessage>;
}

/// The serializer for `protocol`; `rate` is the rate the attach asked for (carriers that announce
/// their format in the start message override it).
pub fn for_protocol(
    protocol: MediaProtocol,
    rate: SampleRate,
) -> Result<Box<dyn Protocol>, MediaError> {
    Ok(match protocol {
        MediaProtocol::Twilio => Box::new(twilio::Twilio::default()),
        MediaProtocol::Plivo => Box::new(plivo::Plivo::default()),
        MediaProtocol::Exotel => Box::new(exotel::Exotel::new(rate)),
        MediaProtocol::Vonage => Box::new(vonage::Vonage::new(rate)),
        MediaProtocol::Vox => Box::new(vox::Vox::new(rate)),
        MediaProtocol::Telnyx => Box::new(telnyx::Telnyx::default()),
    })
}

/// The URL path segment of a protocol (`/ws/{segment}/{token}`).
pub fn path_segment(protocol: MediaProtocol) -> &'static str {
    match protocol {
        MediaProtocol::Twilio => "twilio",
        MediaProtocol::Plivo => "plivo",
        MediaProtocol::Exotel => "exotel",
        MediaProtocol::Vonage => "vonage",
        MediaProtocol::Telnyx => "telnyx",
        MediaProtocol::Vox => "vox",
    }
}

// ------------------------------------------------------------------ shared helpers

pub(crate) fn json(protocol: &'static str, message: &WsMessage) -> Result<Value, MediaError> {
    match message {
        WsMessage::Text(text) => serde_json::from_str(text)
            .map_err(|e| MediaError::new(protocol, format!("not JSON: {e}"))),
        WsMessage::Binary(_) => Err(MediaError::new(
            protocol,
            "a binary frame where JSON text was expected",
        )),
    }
}

pub(crate) fn str_at<'a>(
    protocol: &'static str,
    value: &'a Value,
    pointer: &str,
) -> Result<&'a str, MediaError> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| MediaError::new(protocol, format!("missing string {pointer}")))
}

/// A number carriers send either as a JSON number or as a string (`"8000"`).
pub(crate) fn number_at(value: &Value, pointer: &str) -> Option<u64> {
    let v = value.pointer(pointer)?;
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

pub(crate) fn base64_payload(protocol: &'static str, value: &Value) -> Result<Vec<u8>, MediaError> {
    use base64::Engine;
    let text = str_at(protocol, value, "/media/payload")?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| MediaError::new(protocol, format!("media.payload is not base64: {e}")))
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn l16(protocol: &'static str, bytes: &[u8]) -> Result<Vec<i16>, MediaError> {
    audio::pcm_from_le_bytes(bytes).map_err(|e| MediaError::new(protocol, e.to_string()))
}

pub(crate) fn digit(protocol: &'static str, text: &str) -> Result<char, MediaError> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D') => Ok(c),
        _ => Err(MediaError::new(
            protocol,
            format!("{text:?} is not a DTMF digit"),
        )),
    }
}

pub(crate) fn rate_from(protocol: &'static str, hz: u64) -> Result<SampleRate, MediaError> {
    match hz {
        8_000 => Ok(SampleRate::Hz8000),
        16_000 => Ok(SampleRate::Hz16000),
        24_000 => Ok(SampleRate::Hz24000),
        other => Err(MediaError::new(
            protocol,
            format!("sample rate {other} Hz is not supported"),
        )),
    }
}
