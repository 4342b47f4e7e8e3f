//! Keys pressed on a phone, as RFC 4733 telephone-events: read once each, and sent as a phone does.
//!
//! One key press is many packets: all carry the event's start timestamp, the duration grows as
//! the key is held, and the last is sent three times with the end bit (RFC 4733 §2.5.1.4). The
//! reader reports each key once, at its first packet (so the bot hears it without waiting for the
//! release), and ignores the repeats. The writer turns a key into those packets' payloads, and
//! `KeySender` paces the keys the bot presses: one packet per packet time, each key 100 ms with a
//! 60 ms gap after it (ITU-T Q.24's 40 ms minimum each way), in place of the bot's audio.

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

/// How long the bot holds each key, and the gap after it, in packets of `step` units.
const KEY_PACKETS: u16 = 5;
const GAP_PACKETS: u16 = 3;

/// Keys the bot presses, as telephone-event packets one packet time apart.
#[derive(Debug, Default)]
pub struct KeySender {
    queue: std::collections::VecDeque<char>,
    /// The key being sent: its payloads left, its start timestamp, whether its first has gone.
    current: Option<(std::collections::VecDeque<[u8; 4]>, u32, bool)>,
    /// Packet times of silence left after the last key.
    gap: u16,
}

/// One telephone-event packet to send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPacket {
    pub payload: [u8; 4],
    /// The event's start: every packet of one key carries it (RFC 4733 §2.5.1.2).
    pub timestamp: u32,
    /// The event's first packet (the RTP marker bit).
    pub first: bool,
}

impl KeySender {
    /// Queues the keys a phone has in `digits`; how many were queued (others are skipped).
    pub fn push(&mut self, digits: &str) -> usize {
        let before = self.queue.len();
        self.queue.extend(
            digits
                .chars()
                .map(|c| c.to_ascii_uppercase())
                .filter(|c| TelephoneEvent::for_digit(*c).is_some()),
        );
        self.queue.len() - before
    }

    /// Whether a key is being sent or waits (the bot's audio is held meanwhile).
    pub fn busy(&self) -> bool {
        self.current.is_some() || !self.queue.is_empty() || self.gap > 0
    }

    /// The packet for this packet time (`timestamp` is where the stream is, `step` a packet's
    /// units), or `None` when no key is being sent now.
    pub fn next(&mut self, timestamp: u32, step: u16) -> Option<KeyPacket> {
        if self.current.is_none() {
            if self.gap > 0 {
                self.gap -= 1;
                return None;
            }
            let key = self.queue.pop_front()?;
            let payloads = key_payloads(key, step.saturating_mul(KEY_PACKETS), step)?;
            self.current = Some((payloads.into(), timestamp, false));
        }
        let (payloads, start, sent) = self.current.as_mut()?;
        let payload = payloads.pop_front()?;
        let packet = KeyPacket {
            payload,
            timestamp: *start,
            first: !*sent,
        };
        *sent = true;
        if payloads.is_empty() {
            self.current = None;
            self.gap = GAP_PACKETS;
        }
        Some(packet)
    }
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

    #[test]
    fn the_bots_keys_go_one_after_another_each_at_its_own_timestamp_with_a_gap_between() {
        let mut sender = KeySender::default();
        assert_eq!(sender.push("1x#"), 2);
        let mut reader = KeyReader::default();
        let mut heard = Vec::new();
        let mut sent = Vec::new();
        let mut timestamp = 0u32;
        while sender.busy() {
            if let Some(packet) = sender.next(timestamp, 160) {
                sent.push(packet);
                heard.extend(reader.read(packet.timestamp, &packet.payload));
            }
            timestamp += 160;
        }
        assert_eq!(heard, ['1', '#']);
        // Each key: four growing packets and the end three times; the first one marked.
        assert_eq!(sent.len(), 2 * (4 + 3));
        assert!(sent[0].first && !sent[1].first && sent[7].first);
        assert!(sent[..7].iter().all(|p| p.timestamp == 0));
        // The second key starts after the first's seven packets and a three-packet gap.
        assert_eq!(sent[7].timestamp, 10 * 160);
        let end = TelephoneEvent::parse(&sent[6].payload).unwrap();
        assert!(end.end && end.duration == 800);
        assert_eq!(sender.next(timestamp, 160), None);
    }
}
