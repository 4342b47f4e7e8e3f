//! The caller's RTP put back in order and played out at a steady pace: a jitter buffer for phones.
//!
//! Packets arrive late, early, twice or never. The buffer holds them by extended sequence number
//! (the 16-bit sequence unwrapped, RFC 3550 appendix A.1) and hands one frame per packet time to
//! the reader once `depth` frames are buffered: the frame itself, or `Lost` when its packet never
//! came (the reader conceals it). A packet for a frame already played is late and dropped; a
//! duplicate is dropped; a buffer that grows past `max` (a burst after a stall) skips ahead to
//! keep the delay bounded. The interarrival jitter is estimated as RFC 3550 §6.4.1 does, for
//! RTCP reports and metrics. Time is the caller's (`arrival` in timestamp units), so tests need
//! no clock.

use std::collections::BTreeMap;

/// What the reader gets for one packet time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Nothing to play yet: the buffer is still filling to its depth.
    Filling,
    /// The frame's payload.
    Audio(Vec<u8>),
    /// The frame's packet never came (or came too late).
    Lost,
}

/// Counts for metrics and RTCP receiver reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    pub played: u64,
    pub lost: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Frames dropped to keep the delay bounded after a burst.
    pub skipped: u64,
}

/// A playout buffer for one RTP stream.
#[derive(Debug)]
pub struct JitterBuffer {
    depth: usize,
    max: usize,
    frames: BTreeMap<u64, Vec<u8>>,
    /// The extended sequence number of the next frame to play, once playing.
    next: Option<u64>,
    highest: Option<u64>,
    first: Option<u64>,
    stats: JitterStats,
    /// RFC 3550's jitter estimate, in timestamp units, times 16.
    jitter16: u64,
    last_transit: Option<i64>,
}

impl JitterBuffer {
    /// `depth` frames are buffered before playout starts (3 × 20 ms = 60 ms suits most phone
    /// networks); more than `max` held skips ahead.
    pub fn new(depth: usize, max: usize) -> Self {
        let depth = depth.max(1);
        Self {
            depth,
            max: max.max(depth + 1),
            frames: BTreeMap::new(),
            next: None,
            highest: None,
            first: None,
            stats: JitterStats::default(),
            jitter16: 0,
            last_transit: None,
        }
    }

    /// The 16-bit sequence number as an extended one, beside the highest seen.
    fn extend(&self, sequence: u16) -> u64 {
        let Some(highest) = self.highest else {
            // Room below the first packet, for one that was reordered before it.
            return (1 << 16) + u64::from(sequence);
        };
        let cycle = highest & !0xffff;
        let candidates = [
            cycle.wrapping_sub(1 << 16) + u64::from(sequence),
            cycle + u64::from(sequence),
            cycle + (1 << 16) + u64::from(sequence),
        ];
        candidates
            .into_iter()
            .min_by_key(|c| c.abs_diff(highest))
            .unwrap_or(cycle + u64::from(sequence))
    }

    /// A packet arrived: `timestamp` is its RTP timestamp, `arrival` the receiver's clock in the
    /// same units.
    pub fn push(&mut self, sequence: u16, timestamp: u32, arrival: u32, payload: Vec<u8>) {
        let extended = self.extend(sequence);
        self.stats.received += 1;
        let transit = i64::from(arrival) - i64::from(timestamp);
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs();
            // J += (|D| - J) / 16, kept times 16.
            self.jitter16 = self.jitter16 + d - self.jitter16.div_ceil(16).min(self.jitter16);
        }
        self.last_transit = Some(transit);
        // What the receiver reports (RFC 3550 A.1) counts every packet that came, in time for
        // playout or not: a late packet counted as received must move the highest too, or the
        // loss comes out negative.
        self.highest = Some(self.highest.map_or(extended, |h| h.max(extended)));
        self.first = Some(self.first.map_or(extended, |f| f.min(extended)));
        if self.next.is_some_and(|next| extended < next) {
            self.stats.late += 1;
            return;
        }
        if self.frames.contains_key(&extended) {
            self.stats.duplicates += 1;
            return;
        }
        self.frames.insert(extended, payload);
        while self.frames.len() > self.max {
            if let Some((first, _)) = self.frames.pop_first() {
                self.stats.skipped += 1;
                self.next = Some(first + 1);
            }
        }
    }

    /// The frame for this packet time.
    pub fn pop(&mut self) -> Frame {
        let next = match self.next {
            Some(next) => next,
            None => {
                if self.frames.len() < self.depth {
                    return Frame::Filling;
                }
                match self.frames.keys().next() {
                    Some(first) => *first,
                    None => return Frame::Filling,
                }
            }
        };
        self.next = Some(next + 1);
        match self.frames.remove(&next) {
            Some(payload) => {
                self.stats.played += 1;
                Frame::Audio(payload)
            }
            None => {
                self.stats.lost += 1;
                Frame::Lost
            }
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The interarrival jitter, in timestamp units.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter16 / 16).unwrap_or(u32::MAX)
    }

    /// The first and highest extended sequence numbers seen, for RTCP's loss count.
    pub fn span(&self) -> Option<(u64, u64)> {
        Some((self.first?, self.highest?))
    }

    /// Frames held now.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Vec<u8> {
        vec![n; 160]
    }

    #[test]
    fn playout_waits_for_its_depth_then_puts_reordered_packets_back_in_order() {
        let mut buffer = JitterBuffer::new(3, 50);
        buffer.push(10, 1600, 1600, frame(10));
        buffer.push(12, 1920, 1925, frame(12));
        assert_eq!(buffer.pop(), Frame::Filling);
        buffer.push(11, 1760, 1930, frame(11));
        assert_eq!(buffer.pop(), Frame::Audio(frame(10)));
        assert_eq!(buffer.pop(), Frame::Audio(frame(11)));
        assert_eq!(buffer.pop(), Frame::Audio(frame(12)));
        // 13 never comes; 14 does.
        buffer.push(14, 2240, 2240, frame(14));
        assert_eq!(buffer.pop(), Frame::Lost);
        assert_eq!(buffer.pop(), Frame::Audio(frame(14)));
        // 13 arrives after its time: late, dropped. 14 again: late too.
        buffer.push(13, 2080, 2300, frame(13));
        let stats = buffer.stats();
        assert_eq!((stats.played, stats.lost, stats.late), (4, 1, 1));
    }

    #[test]
    fn packets_that_come_after_their_time_still_count_toward_the_highest_sequence() {
        // A stalled receiver's clock runs ahead of the packets: all of them come late.
        let mut buffer = JitterBuffer::new(1, 50);
        buffer.push(1, 160, 160, frame(1));
        assert_eq!(buffer.pop(), Frame::Audio(frame(1)));
        for _ in 0..3 {
            assert_eq!(buffer.pop(), Frame::Lost);
        }
        for sequence in 2..5u16 {
            buffer.push(
                sequence,
                u32::from(sequence) * 160,
                900,
                frame(sequence as u8),
            );
        }
        let (first, highest) = buffer.span().unwrap();
        let stats = buffer.stats();
        assert_eq!((stats.received, stats.late), (4, 3));
        // Four expected, four came: nothing lost, never less than nothing.
        assert_eq!(highest - first + 1, stats.received);
    }

    #[test]
    fn sequence_numbers_wrap_and_duplicates_are_dropped() {
        let mut buffer = JitterBuffer::new(2, 50);
        for (i, sequence) in [65_534u16, 65_535, 0, 1].into_iter().enumerate() {
            buffer.push(sequence, i as u32 * 160, i as u32 * 160, frame(i as u8));
        }
        buffer.push(0, 320, 330, frame(9));
        let played: Vec<Frame> = (0..4).map(|_| buffer.pop()).collect();
        assert_eq!(
            played,
            (0..4).map(|i| Frame::Audio(frame(i))).collect::<Vec<_>>()
        );
        assert_eq!(buffer.stats().duplicates, 1);
    }

    #[test]
    fn a_burst_past_the_maximum_skips_ahead_to_keep_the_delay_bounded() {
        let mut buffer = JitterBuffer::new(2, 5);
        for sequence in 0..8u16 {
            buffer.push(
                sequence,
                u32::from(sequence) * 160,
                0,
                frame(sequence as u8),
            );
        }
        assert_eq!(buffer.len(), 5);
        assert_eq!(buffer.stats().skipped, 3);
        assert_eq!(buffer.pop(), Frame::Audio(frame(3)));
    }

    #[test]
    fn jitter_is_estimated_from_transit_time_changes() {
        let mut steady = JitterBuffer::new(3, 50);
        let mut shaky = JitterBuffer::new(3, 50);
        for i in 0..200u32 {
            steady.push(i as u16, i * 160, i * 160 + 400, frame(0));
            // Every other packet 10 ms (80 units) late.
            let wobble = if i % 2 == 0 { 0 } else { 80 };
            shaky.push(i as u16, i * 160, i * 160 + 400 + wobble, frame(0));
        }
        assert_eq!(steady.jitter(), 0);
        let jitter = shaky.jitter();
        assert!((70..=85).contains(&jitter), "{jitter}");
    }
}
