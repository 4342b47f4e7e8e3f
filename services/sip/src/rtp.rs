//! RTP packets (RFC 3550 §5.1) and telephone-events (RFC 4733 §2.3), read and written.
//!
//! A packet is version 2 with its 12-byte header, CSRCs, an optional header extension and
//! optional padding; what does not fit is an error, never a panic. Telephone-event payloads are
//! four bytes: the event (0–9, `*` 10, `#` 11, A–D 12–15, flash 16), the end bit and volume, and
//! the duration in timestamp units.

/// One RTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

/// Why bytes are not an RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("{0} bytes is shorter than an RTP header")]
    Short(usize),
    #[error("RTP version {0} (2 expected)")]
    Version(u8),
    #[error("the header's CSRCs, extension or padding run past the packet")]
    Truncated,
}

const HEADER: usize = 12;

impl Packet {
    /// Reads a packet from a datagram.
    pub fn parse(bytes: &[u8]) -> Result<Self, RtpError> {
        if bytes.len() < HEADER {
            return Err(RtpError::Short(bytes.len()));
        }
        let version = bytes[0] >> 6;
        if version != 2 {
            return Err(RtpError::Version(version));
        }
        let padding = bytes[0] & 0x20 != 0;
        let extension = bytes[0] & 0x10 != 0;
        let csrcs = usize::from(bytes[0] & 0x0f);
        let mut start = HEADER + 4 * csrcs;
        if extension {
            let words = bytes.get(start + 2..start + 4).ok_or(RtpError::Truncated)?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
        }
        let mut end = bytes.len();
        if padding {
            let pad = usize::from(*bytes.last().ok_or(RtpError::Truncated)?);
            if pad == 0 {
                return Err(RtpError::Truncated);
            }
            end = end.checked_sub(pad).ok_or(RtpError::Truncated)?;
        }
        if start > end {
            return Err(RtpError::Truncated);
        }
        Ok(Self {
            marker: bytes[1] & 0x80 != 0,
            payload_type: bytes[1] & 0x7f,
            sequence: u16::from_be_bytes([bytes[2], bytes[3]]),
            timestamp: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            ssrc: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
            payload: bytes[start..end].to_vec(),
        })
    }

    /// The datagram: a plain header (no CSRCs, extension or padding) and the payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER + self.payload.len());
        bytes.push(0x80);
        bytes.push(u8::from(self.marker) << 7 | (self.payload_type & 0x7f));
        bytes.extend_from_slice(&self.sequence.to_be_bytes());
        bytes.extend_from_slice(&self.timestamp.to_be_bytes());
        bytes.extend_from_slice(&self.ssrc.to_be_bytes());
        bytes.extend_from_slice(&self.payload);
        bytes
    }
}

/// One telephone-event payload (RFC 4733).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// 0–16: the digits, `*`, `#`, A–D and flash.
    pub event: u8,
    /// The last packet(s) of the event carry the end bit.
    pub end: bool,
    /// The power level, in -dBm0 (0–63).
    pub volume: u8,
    /// How long the event has lasted, in timestamp units (8 kHz: 8 per ms).
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let [event, flags, high, low] = *payload.get(..4)?.first_chunk::<4>()?;
        Some(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([high, low]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let [high, low] = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3f),
            high,
            low,
        ]
    }

    /// The key this event is: `0`–`9`, `*`, `#`, `A`–`D`; `None` for flash and unknown events.
    pub fn digit(self) -> Option<char> {
        match self.event {
            0..=9 => char::from_digit(u32::from(self.event), 10),
            10 => Some('*'),
            11 => Some('#'),
            12..=15 => Some(char::from(b'A' + self.event - 12)),
            _ => None,
        }
    }

    /// The event for a key, as `digit` reads it back.
    pub fn for_digit(digit: char) -> Option<u8> {
        match digit {
            '0'..='9' => Some(digit as u8 - b'0'),
            '*' => Some(10),
            '#' => Some(11),
            'A'..='D' => Some(digit as u8 - b'A' + 12),
            'a'..='d' => Some(digit as u8 - b'a' + 12),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_reads_back_what_was_written() {
        let packet = Packet {
            marker: true,
            payload_type: 8,
            sequence: 65_535,
            timestamp: 0xdead_beef,
            ssrc: 42,
            payload: vec![0xd5; 160],
        };
        let bytes = packet.to_bytes();
        assert_eq!(bytes.len(), 172);
        assert_eq!(Packet::parse(&bytes), Ok(packet));
    }

    #[test]
    fn csrcs_extensions_and_padding_are_skipped_and_lies_refused() {
        // Two CSRCs, a one-word extension, 3 bytes of padding around a 2-byte payload.
        let mut bytes = vec![0x80 | 0x20 | 0x10 | 2, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
        bytes.extend_from_slice(&[7, 9]);
        bytes.extend_from_slice(&[0, 0, 3]);
        let packet = Packet::parse(&bytes).unwrap();
        assert_eq!(packet.payload, vec![7, 9]);
        assert_eq!(packet.sequence, 1);
        assert_eq!(Packet::parse(&bytes[..11]), Err(RtpError::Short(11)));
        let mut v1 = bytes.clone();
        v1[0] = 0x40;
        assert_eq!(Packet::parse(&v1), Err(RtpError::Version(1)));
        // Padding longer than the packet, or CSRCs past its end.
        let mut padded = bytes.clone();
        *padded.last_mut().unwrap() = 200;
        assert_eq!(Packet::parse(&padded), Err(RtpError::Truncated));
        assert_eq!(
            Packet::parse(&[0x8f, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1]),
            Err(RtpError::Truncated)
        );
    }

    #[test]
    fn telephone_events_name_their_keys_both_ways() {
        let event = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(TelephoneEvent::parse(&event.to_bytes()), Some(event));
        assert_eq!(event.digit(), Some('#'));
        for key in "0123456789*#ABCD".chars() {
            let event = TelephoneEvent::for_digit(key).unwrap();
            let back = TelephoneEvent {
                event,
                end: false,
                volume: 0,
                duration: 0,
            };
            assert_eq!(back.digit(), Some(key));
        }
        assert_eq!(TelephoneEvent::for_digit('x'), None);
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
    }
}
