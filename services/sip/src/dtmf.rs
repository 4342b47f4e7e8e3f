//! Keys pressed on a phone, as RFC 4733 telephone-events: read once each, and sent as a phone does.
//!
//! One key press is many packets: all carry the event's start timestamp, the duration grows as
//! the key is held, and the last is sent three times with the end bit (RFC 4733 §2.5.1.4). The
//! reader reports each key once, at its first packet (so the bot hears it without waiting for the
//! release), and ignores the repeats. The writer turns a key into those packets' payloads.

use crate::rtp::TelephoneEvent;

/// Reads keys from a stream's telephone-event payloads.
#[derive(Debug, Default)]
pub struct KeyReader {
    /// The RTP timestamp of the event reported last.
    last: Option<u32>,
}

impl KeyReader {
    /// The key a telephone-event packet starts, or `None` for a repeat, a flash or noise.
    pub fn read(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let event = TelephoneEvent::parse(payload)?;
        if self.last == Some(timestamp) {
            return None;
        }
        self.last = Some(timestamp);
        event.digit()
    }
}

/// The telephone-event payloads that send `key`, one per `step` timestamp units (a 20 ms packet
/// time at 8 kHz is 160), lasting `length` units, the end repeated three times; `None` for a key
/// a phone does not have.
pub fn key_payloads(key: char, length: u16, step: u16) -> Option<Vec<[u8; 4]>> {
    let event = TelephoneEvent::for_digit(key)?;
    let step = step.max(1);
    let mut payloads = Vec::new();
    let mut duration = step;
    while duration < length {
        payloads.push(
            TelephoneEvent {
                event,
                end: false,
                volume: 10,
                duration,
            }
            .to_bytes(),
        );
        duration = duration.saturating_add(step);
    }
    let end = TelephoneEvent {
        event,
        end: true,
        volume: 10,
        duration: length,
    }
    .to_bytes();
    payloads.extend([end; 3]);
    Some(payloads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_key_is_read_once_however_many_packets_carry_it() {
        let mut reader = KeyReader::default();
        let five = key_payloads('5', 800, 160).unwrap();
        // Four growing packets and the end three times, all at the press's timestamp.
        assert_eq!(five.len(), 4 + 3);
        let read: Vec<Option<char>> = five.iter().map(|p| reader.read(8000, p)).collect();
        assert_eq!(read[0], Some('5'));
        assert!(read[1..].iter().all(Option::is_none), "{read:?}");
        // The same key pressed again is a new event, with a new timestamp.
        assert_eq!(reader.read(16_000, &five[0]), Some('5'));
        let hash = key_payloads('#', 320, 160).unwrap();
        assert_eq!(reader.read(24_000, &hash[0]), Some('#'));
    }

    #[test]
    fn the_end_packets_carry_the_whole_length_and_odd_input_is_ignored() {
        let payloads = key_payloads('A', 400, 160).unwrap();
        let last = TelephoneEvent::parse(payloads.last().unwrap()).unwrap();
        assert!(last.end);
        assert_eq!(last.duration, 400);
        assert_eq!(key_payloads('x', 400, 160), None);
        let mut reader = KeyReader::default();
        assert_eq!(reader.read(0, &[1, 2]), None);
        // Flash (16) is an event but not a key.
        assert_eq!(reader.read(0, &[16, 0x80, 0, 160]), None);
    }
}
