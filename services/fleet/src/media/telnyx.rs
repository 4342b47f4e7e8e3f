//! Telnyx Media Streaming, bidirectional (`stream_bidirectional_mode: rtp`).
//!
//! JSON messages with base64 RTP payloads: PCMU or PCMA at 8 kHz.
//!
//! Reference: <https://developers.telnyx.com/api-reference/websockets/stream-call-media-over-websocket>
//! (the AsyncAPI definition) and <https://developers.telnyx.com/docs/voice/programmable-voice/media-streaming>.
//! Telnyx sends `connected`, `start` (`stream_id`, `start.call_control_id`,
//! `start.media_format.{encoding,sample_rate,channels}`, `start.client_state`), `media`
//! (`sequence_number`, `media.{track,chunk,timestamp,payload}`), `dtmf` (`dtmf.digit`), `mark`
//! (`mark.name`, once the audio sent before it has played), `error` (`payload.{code,title,detail}`)
//! and `stop`. "Media frame order is not guaranteed": caller audio is put back in `media.chunk`
//! order here, holding at most [`WINDOW`] frames for a missing one, which then counts as lost
//! (a frame of silence keeps the call's clock). We send `media` (`media.payload`), `mark`
//! (`mark.name`) and `clear`; the call is hung up through Call Control, not the stream.

use super::{Inbound, MediaError, Protocol, StreamStart, WsMessage, base64, json, str_at};
use audio::{SampleRate, g711};
use contracts::attach::MediaProtocol;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const NAME: &str = "telnyx";

/// Frames held back waiting for a missing one (20 ms each): 200 ms.
pub const WINDOW: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Pcmu,
    Pcma,
}

/// One Telnyx stream.
#[derive(Debug)]
pub struct Telnyx {
    codec: Codec,
    /// The next `media.chunk` due, once the first has come.
    next: Option<u64>,
    /// Frames that came early, by chunk.
    early: BTreeMap<u64, Vec<i16>>,
    /// Samples of the last frame, the size of silence put in for a lost one.
    frame: usize,
}

impl Default for Telnyx {
    fn default() -> Self {
        Self {
            codec: Codec::Pcmu,
            next: None,
            early: BTreeMap::new(),
            frame: 160,
        }
    }
}

impl Telnyx {
    fn decode(&self, bytes: &[u8]) -> Vec<i16> {
        match self.codec {
            Codec::Pcmu => g711::decode_ulaw(bytes),
            Codec::Pcma => g711::decode_alaw(bytes),
        }
    }

    /// Puts one frame in order: the frames now due, in order (empty while one is missing).
    fn reorder(&mut self, chunk: u64, samples: Vec<i16>) -> Vec<i16> {
        self.frame = samples.len().max(1);
        let next = *self.next.get_or_insert(chunk);
        if chunk == next && self.early.is_empty() {
            // In order, as nearly every frame is: straight through, nothing held or copied.
            self.next = Some(next + 1);
            return samples;
        }
        if chunk < next {
            // Later than a frame already played out (or given up on): too late to place.
            return Vec::new();
        }
        self.early.insert(chunk, samples);
        let mut out = Vec::new();
        let mut due = next;
        loop {
            if let Some(samples) = self.early.remove(&due) {
                out.extend(samples);
                due += 1;
            } else if self.early.len() >= WINDOW {
                // The missing frame is lost: silence in its place, and on with the rest.
                out.extend(std::iter::repeat_n(0, self.frame));
                due += 1;
            } else {
                break;
            }
        }
        self.next = Some(due);
        out
    }

    /// Every frame still held, in order, silence for the missing ones (the stream ended).
    fn drain(&mut self) -> Vec<i16> {
        let mut out = Vec::new();
        let Some(mut due) = self.next else {
            return out;
        };
        while let Some((&chunk, _)) = self.early.first_key_value() {
            if chunk > due {
                out.extend(std::iter::repeat_n(0, self.frame * (chunk - due) as usize));
            }
            if let Some((_, samples)) = self.early.pop_first() {
                out.extend(samples);
            }
            due = chunk + 1;
        }
        self.next = Some(due);
        out
    }
}

impl Protocol for Telnyx {
    fn kind(&self) -> MediaProtocol {
        MediaProtocol::Telnyx
    }

    fn rate(&self) -> SampleRate {
        SampleRate::Hz8000
    }

    fn parse(&mut self, message: WsMessage) -> Result<Inbound, MediaError> {
        let value = json(NAME, &message)?;
        match value.get("event").and_then(Value::as_str) {
            Some("connected") => Ok(Inbound::Ignored),
            Some("start") => {
                let encoding = str_at(NAME, &value, "/start/media_format/encoding")?;
                let rate = super::number_at(&value, "/start/media_format/sample_rate");
                self.codec = match (encoding, rate) {
                    ("PCMU", Some(8000) | None) => Codec::Pcmu,
                    ("PCMA", Some(8000) | None) => Codec::Pcma,
                    _ => {
                        return Err(MediaError::new(
                            NAME,
                            format!(
                                "media format {encoding} at {rate:?} Hz (PCMU or PCMA at 8000 expected)"
                            ),
                        ));
                    }
                };
                let mut parameters = serde_json::Map::new();
                if let Some(state) = value.pointer("/start/client_state") {
                    parameters.insert("client_state".to_owned(), state.clone());
                }
                Ok(Inbound::Start(StreamStart {
                    stream_id: value
                        .get("stream_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    carrier_call_id: value
                        .pointer("/start/call_control_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    rate: SampleRate::Hz8000,
                    parameters,
                }))
            }
            Some("media") => {
                if let Some(track) = value.pointer("/media/track").and_then(Value::as_str)
                    && track != "inbound"
                {
                    return Ok(Inbound::Ignored);
                }
                let samples = self.decode(&super::base64_payload(NAME, &value)?);
                let Some(chunk) = super::number_at(&value, "/media/chunk") else {
                    // No chunk number: nothing to order by, played as it comes.
                    return Ok(Inbound::Audio(samples));
                };
                let due = self.reorder(chunk, samples);
                Ok(if due.is_empty() {
                    Inbound::Ignored
                } else {
                    Inbound::Audio(due)
                })
            }
            Some("dtmf") => Ok(Inbound::Dtmf(super::digit(
                NAME,
                str_at(NAME, &value, "/dtmf/digit")?,
            )?)),
            Some("mark") => Ok(Inbound::Mark(
                str_at(NAME, &value, "/mark/name")?.to_owned(),
            )),
            Some("stop") => {
                let rest = self.drain();
                Ok(if rest.is_empty() {
                    Inbound::Stop
                } else {
                    // What was held plays out first; the stop is read from the next message,
                    // or the socket's close.
                    Inbound::Audio(rest)
                })
            }
            Some("error") => Err(MediaError::new(
                NAME,
                format!(
                    "Telnyx reported error {}: {}",
                    value.pointer("/payload/code").unwrap_or(&Value::Null),
                    value
                        .pointer("/payload/detail")
                        .or_else(|| value.pointer("/payload/title"))
                        .and_then(Value::as_str)
                        .unwrap_or("no detail")
                ),
            )),
            Some(other) => Err(MediaError::new(NAME, format!("unknown event {other:?}"))),
            None => Err(MediaError::new(NAME, "a message without \"event\"")),
        }
    }

    fn audio(&mut self, samples: &[i16]) -> Vec<WsMessage> {
        let bytes = match self.codec {
            Codec::Pcmu => g711::encode_ulaw(samples),
            Codec::Pcma => g711::encode_alaw(samples),
        };
        let message = json!({"event": "media", "media": {"payload": base64(&bytes)}});
        vec![WsMessage::Text(message.to_string())]
    }

    fn clear(&mut self) -> Vec<WsMessage> {
        vec![WsMessage::Text(json!({"event": "clear"}).to_string())]
    }

    fn mark(&mut self, name: &str) -> Vec<WsMessage> {
        vec![WsMessage::Text(
            json!({"event": "mark", "mark": {"name": name}}).to_string(),
        )]
    }

    fn carrier_keys(&self) -> bool {
        true
    }

    fn hangup(&mut self, _reason: &str) -> Vec<WsMessage> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(chunk: u64, sample: i16) -> WsMessage {
        let payload = base64(&g711::encode_ulaw(&[sample; 160]));
        WsMessage::Text(
            json!({"event": "media", "sequence_number": (chunk + 2).to_string(),
                "stream_id": "s1", "media": {"track": "inbound", "chunk": chunk.to_string(),
                "timestamp": (chunk * 20).to_string(), "payload": payload}})
            .to_string(),
        )
    }

    fn start(encoding: &str) -> WsMessage {
        WsMessage::Text(
            json!({"event": "start", "sequence_number": "1", "stream_id": "s1",
                "start": {"call_control_id": "v3:abc", "client_state": "Y2FsbA==",
                "media_format": {"encoding": encoding, "sample_rate": 8000, "channels": 1}}})
            .to_string(),
        )
    }

    /// The first sample of each 160-sample frame the worker hears.
    fn heard(telnyx: &mut Telnyx, messages: Vec<WsMessage>) -> Vec<i16> {
        let mut out = Vec::new();
        for message in messages {
            if let Inbound::Audio(samples) = telnyx.parse(message).unwrap() {
                out.extend(samples.chunks(160).map(|frame| frame[0]));
            }
        }
        out
    }

    fn level(n: i16) -> i16 {
        g711::ulaw_decode(g711::encode_ulaw(&[n * 1000])[0])
    }

    #[test]
    fn the_start_names_the_stream_and_the_call_control_id() {
        let mut telnyx = Telnyx::default();
        let Inbound::Start(started) = telnyx.parse(start("PCMU")).unwrap() else {
            panic!("not a start");
        };
        assert_eq!(started.stream_id.as_deref(), Some("s1"));
        assert_eq!(started.carrier_call_id.as_deref(), Some("v3:abc"));
        assert_eq!(started.parameters["client_state"], "Y2FsbA==");
        let error = Telnyx::default().parse(start("OPUS")).unwrap_err();
        assert!(error.message.contains("OPUS"), "{error}");
    }

    #[test]
    fn frames_out_of_order_are_heard_in_chunk_order() {
        let mut telnyx = Telnyx::default();
        telnyx.parse(start("PCMU")).unwrap();
        let order = [1, 3, 2, 5, 4, 6];
        let frames = order.iter().map(|&c| media(c, c as i16 * 1000)).collect();
        let expected: Vec<i16> = (1..=6).map(level).collect();
        assert_eq!(heard(&mut telnyx, frames), expected);
    }

    #[test]
    fn a_frame_missing_past_the_window_is_silence_and_a_late_one_is_dropped() {
        let mut telnyx = Telnyx::default();
        telnyx.parse(start("PCMU")).unwrap();
        // Chunk 2 never comes in time: after WINDOW frames behind it, it counts as lost.
        let mut frames = vec![media(1, 1000)];
        frames.extend((3..=12).map(|c| media(c, c as i16 * 1000)));
        frames.push(media(2, 2000)); // too late now
        let mut expected = vec![level(1), 0];
        expected.extend((3..=12).map(level));
        assert_eq!(heard(&mut telnyx, frames), expected);
    }

    #[test]
    fn the_stop_plays_out_what_was_held_first() {
        let mut telnyx = Telnyx::default();
        telnyx.parse(start("PCMU")).unwrap();
        let held = heard(&mut telnyx, vec![media(1, 1000), media(3, 3000)]);
        assert_eq!(held, vec![level(1)]);
        let stop = || WsMessage::Text(json!({"event": "stop", "stream_id": "s1"}).to_string());
        let Inbound::Audio(rest) = telnyx.parse(stop()).unwrap() else {
            panic!("the held frame was dropped");
        };
        let firsts: Vec<i16> = rest.chunks(160).map(|f| f[0]).collect();
        assert_eq!(firsts, vec![0, level(3)]);
        assert_eq!(telnyx.parse(stop()).unwrap(), Inbound::Stop);
    }

    #[test]
    fn the_bot_speaks_marks_and_clears_in_telnyx_frames() {
        let mut telnyx = Telnyx::default();
        telnyx.parse(start("PCMA")).unwrap();
        let WsMessage::Text(text) = &telnyx.audio(&[1000; 160])[0] else {
            panic!("binary");
        };
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(value["event"], "media");
        let bytes = super::super::base64_payload(NAME, &value).unwrap();
        assert_eq!(bytes, g711::encode_alaw(&[1000; 160]));
        assert_eq!(
            telnyx.mark("m1"),
            vec![WsMessage::Text(
                r#"{"event":"mark","mark":{"name":"m1"}}"#.into()
            )]
        );
        assert_eq!(
            telnyx.clear(),
            vec![WsMessage::Text(r#"{"event":"clear"}"#.into())]
        );
        let dtmf = WsMessage::Text(json!({"event": "dtmf", "dtmf": {"digit": "7"}}).to_string());
        assert_eq!(telnyx.parse(dtmf).unwrap(), Inbound::Dtmf('7'));
        let error = WsMessage::Text(
            json!({"event": "error", "payload": {"code": 100003, "title": "malformed frame",
                "detail": "The received frame is malformed"}})
            .to_string(),
        );
        let failed = telnyx.parse(error).unwrap_err();
        assert!(failed.message.contains("100003"), "{failed}");
    }
}
