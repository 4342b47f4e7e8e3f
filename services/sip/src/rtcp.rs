//! RTCP sender and receiver reports (RFC 3550 §6.4), written and read, with the loss arithmetic.
//!
//! vox sends a compound packet every few seconds on the RTP port + 1: a sender report (its
//! packet and octet counts, NTP and RTP clocks) with one report block about the caller's stream
//! (fraction and cumulative loss, the extended highest sequence number, the interarrival jitter,
//! and the last SR heard with the delay since), then an SDES with its CNAME, as §6.1 requires.
//! The phone's reports are read for what they say about vox's stream (loss and jitter the caller
//! heard); other packet types in a compound packet are skipped.

/// What a sender report says about its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// NTP time: seconds since 1900 in the high 32 bits, the fraction in the low.
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packets: u32,
    pub octets: u32,
}

/// One report block: how a receiver hears one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Lost since the previous report, out of 256.
    pub fraction_lost: u8,
    /// Lost since the start (may be negative with duplicates; 24 bits).
    pub cumulative_lost: i32,
    pub highest_sequence: u32,
    pub jitter: u32,
    /// The middle 32 bits of the NTP time of the last SR heard from the source (0: none).
    pub last_sr: u32,
    /// Since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// A sender or receiver report read from a compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub ssrc: u32,
    pub sender: Option<SenderInfo>,
    pub blocks: Vec<ReportBlock>,
}

/// Why bytes are not RTCP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("an RTCP packet's header or length runs past the datagram")]
    Truncated,
    #[error("RTCP version {0} (2 expected)")]
    Version(u8),
    #[error("a compound RTCP packet starts with an SR or RR, not type {0}")]
    NotReport(u8),
}

const SR: u8 = 200;
const RR: u8 = 201;
const SDES: u8 = 202;

/// Loss since the start and since the previous report, as a receiver counts it (RFC 3550 A.3).
#[derive(Debug, Default, Clone, Copy)]
pub struct Reception {
    expected_prior: u64,
    received_prior: u64,
}

impl Reception {
    /// The block about `ssrc`, from the first and highest extended sequence numbers seen and the
    /// packets received; it moves the "previous report" mark.
    pub fn block(
        &mut self,
        ssrc: u32,
        first: u64,
        highest: u64,
        received: u64,
        jitter: u32,
    ) -> ReportBlock {
        let expected = highest.saturating_sub(first) + 1;
        let lost =
            i64::try_from(expected).unwrap_or(i64::MAX) - i64::try_from(received).unwrap_or(0);
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| u8::try_from(f).unwrap_or(u8::MAX));
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_sequence: highest as u32,
            jitter,
            last_sr: 0,
            delay_since_last_sr: 0,
        }
    }
}

fn header(count: usize, kind: u8, words_after: usize) -> [u8; 4] {
    let [high, low] = (words_after as u16).to_be_bytes();
    [0x80 | (count as u8 & 0x1f), kind, high, low]
}

/// A compound packet: an SR (with `sender`) or RR, its report blocks, and an SDES CNAME.
pub fn compound(
    ssrc: u32,
    sender: Option<SenderInfo>,
    blocks: &[ReportBlock],
    cname: &str,
) -> Vec<u8> {
    let blocks = &blocks[..blocks.len().min(31)];
    let mut bytes = Vec::new();
    let words = 1 + if sender.is_some() { 5 } else { 0 } + 6 * blocks.len();
    bytes.extend(header(
        blocks.len(),
        if sender.is_some() { SR } else { RR },
        words,
    ));
    bytes.extend(ssrc.to_be_bytes());
    if let Some(info) = sender {
        bytes.extend(info.ntp.to_be_bytes());
        bytes.extend(info.rtp_timestamp.to_be_bytes());
        bytes.extend(info.packets.to_be_bytes());
        bytes.extend(info.octets.to_be_bytes());
    }
    for block in blocks {
        bytes.extend(block.ssrc.to_be_bytes());
        let lost = (block.cumulative_lost as u32) & 0x00ff_ffff;
        bytes.extend((u32::from(block.fraction_lost) << 24 | lost).to_be_bytes());
        bytes.extend(block.highest_sequence.to_be_bytes());
        bytes.extend(block.jitter.to_be_bytes());
        bytes.extend(block.last_sr.to_be_bytes());
        bytes.extend(block.delay_since_last_sr.to_be_bytes());
    }
    // SDES: one chunk, the CNAME item, a null item, padded to a word.
    let name = &cname.as_bytes()[..cname.len().min(255)];
    let mut chunk = ssrc.to_be_bytes().to_vec();
    chunk.extend([1, name.len() as u8]);
    chunk.extend(name);
    chunk.push(0);
    while !chunk.len().is_multiple_of(4) {
        chunk.push(0);
    }
    bytes.extend(header(1, SDES, chunk.len() / 4));
    bytes.extend(chunk);
    bytes
}

fn word(bytes: &[u8], at: usize) -> Result<u32, RtcpError> {
    let slice = bytes.get(at..at + 4).ok_or(RtcpError::Truncated)?;
    Ok(u32::from_be_bytes([slice[0], slice[1], slice[2], slice[3]]))
}

/// The sender and receiver reports of a compound packet.
pub fn parse(bytes: &[u8]) -> Result<Vec<Report>, RtcpError> {
    let mut reports = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes.get(at..at + 4).ok_or(RtcpError::Truncated)?;
        let version = head[0] >> 6;
        if version != 2 {
            return Err(RtcpError::Version(version));
        }
        let count = usize::from(head[0] & 0x1f);
        let kind = head[1];
        let length = 4 * (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1);
        let packet = bytes.get(at..at + length).ok_or(RtcpError::Truncated)?;
        if at == 0 && kind != SR && kind != RR {
            return Err(RtcpError::NotReport(kind));
        }
        if kind == SR || kind == RR {
            let ssrc = word(packet, 4)?;
            let (sender, mut offset) = if kind == SR {
                let ntp = u64::from(word(packet, 8)?) << 32 | u64::from(word(packet, 12)?);
                let info = SenderInfo {
                    ntp,
                    rtp_timestamp: word(packet, 16)?,
                    packets: word(packet, 20)?,
                    octets: word(packet, 24)?,
                };
                (Some(info), 28)
            } else {
                (None, 8)
            };
            let mut blocks = Vec::with_capacity(count);
            for _ in 0..count {
                let loss = word(packet, offset + 4)?;
                let lost = loss & 0x00ff_ffff;
                // Sign-extend the 24-bit count.
                let cumulative_lost = ((lost << 8) as i32) >> 8;
                blocks.push(ReportBlock {
                    ssrc: word(packet, offset)?,
                    fraction_lost: (loss >> 24) as u8,
                    cumulative_lost,
                    highest_sequence: word(packet, offset + 8)?,
                    jitter: word(packet, offset + 12)?,
                    last_sr: word(packet, offset + 16)?,
                    delay_since_last_sr: word(packet, offset + 20)?,
                });
                offset += 24;
            }
            reports.push(Report {
                ssrc,
                sender,
                blocks,
            });
        }
        at += length;
    }
    Ok(reports)
}

/// NTP time now: seconds since 1900 and their fraction.
pub fn ntp_now() -> u64 {
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_unix.as_secs() + 2_208_988_800;
    let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    seconds << 32 | fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_report_with_a_block_and_a_cname_reads_back() {
        let sender = SenderInfo {
            ntp: ntp_now(),
            rtp_timestamp: 160_000,
            packets: 1000,
            octets: 160_000,
        };
        let block = ReportBlock {
            ssrc: 99,
            fraction_lost: 12,
            cumulative_lost: -3,
            highest_sequence: 70_000,
            jitter: 42,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65_536,
        };
        let bytes = compound(7, Some(sender), &[block], "vox@gateway");
        assert!(bytes.len().is_multiple_of(4));
        let reports = parse(&bytes).unwrap();
        assert_eq!(
            reports,
            vec![Report {
                ssrc: 7,
                sender: Some(sender),
                blocks: vec![block],
            }]
        );
        let rr = compound(7, None, &[], "vox");
        assert_eq!(parse(&rr).unwrap()[0].sender, None);
    }

    #[test]
    fn loss_is_counted_since_the_start_and_since_the_last_report() {
        let mut reception = Reception::default();
        // Sequence 100 to 199 expected, 90 received.
        let first = reception.block(5, 100, 199, 90, 8);
        assert_eq!(first.cumulative_lost, 10);
        assert_eq!(first.fraction_lost, (10 * 256 / 100) as u8);
        // The next 100 all came.
        let second = reception.block(5, 100, 299, 190, 8);
        assert_eq!(second.cumulative_lost, 10);
        assert_eq!(second.fraction_lost, 0);
    }

    #[test]
    fn what_is_not_rtcp_says_why() {
        assert_eq!(parse(&[0x80, 200, 0, 6]), Err(RtcpError::Truncated));
        assert_eq!(parse(&[0x40, 200, 0, 0]), Err(RtcpError::Version(1)));
        assert_eq!(parse(&[0x81, 202, 0, 0]), Err(RtcpError::NotReport(202)));
        // A block count the length does not hold.
        assert_eq!(
            parse(&[0x81, 201, 0, 1, 0, 0, 0, 7]),
            Err(RtcpError::Truncated)
        );
    }
}
