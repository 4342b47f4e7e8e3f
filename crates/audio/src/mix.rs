//! The stereo call recording: caller on the left, bot on the right, aligned on one timeline.
//!
//! Each side is written at the sample position where it happened (its time since the call
//! started), not appended, so gaps stay silent and a late or early chunk lands where it belongs.
//! Completed stretches can be taken out while the call runs, so a long call does not stay in memory.

use crate::{AudioError, SampleRate, wav};

/// Which side of the call a chunk of audio belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// The remote party: left channel.
    Caller,
    /// The bot: right channel.
    Bot,
}

/// Where a spilling recorder sends the stretches it stops holding: interleaved stereo samples,
/// in order, with no gap between one call and the next.
pub type SpillSink = Box<dyn FnMut(&[i16]) + Send>;

struct Spill {
    /// Samples per track kept in memory behind the end, for audio that lands late.
    keep: u64,
    sink: SpillSink,
}

/// Two time-aligned mono tracks that become one interleaved stereo stream.
pub struct StereoRecorder {
    rate: SampleRate,
    /// Sample position of `caller[0]` and `bot[0]`: everything before it was taken.
    taken: u64,
    caller: Vec<i16>,
    bot: Vec<i16>,
    spill: Option<Spill>,
}

impl std::fmt::Debug for StereoRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StereoRecorder")
            .field("rate", &self.rate)
            .field("taken", &self.taken)
            .field("held", &self.held())
            .field("spilling", &self.spilling())
            .finish()
    }
}

impl StereoRecorder {
    pub fn new(rate: SampleRate) -> Self {
        Self {
            rate,
            taken: 0,
            caller: Vec::new(),
            bot: Vec::new(),
            spill: None,
        }
    }

    /// From now on, whatever lies more than `keep` samples before the end goes to `sink` once
    /// twice that is held, so a call of any length holds at most about `2 × keep` samples a
    /// track. Audio written before what was spilled is dropped, as before what was taken.
    pub fn spill_to(&mut self, keep: u64, sink: SpillSink) {
        self.spill = Some(Spill {
            keep: keep.max(1),
            sink,
        });
        self.spill_if_due();
    }

    pub fn spilling(&self) -> bool {
        self.spill.is_some()
    }

    /// Sends everything left to the sink, padding the shorter track with silence, and drops
    /// the sink; false when the recorder was not spilling (nothing is taken then).
    pub fn close_spill(&mut self) -> bool {
        let Some(mut spill) = self.spill.take() else {
            return false;
        };
        let rest = self.finish();
        if !rest.is_empty() {
            (spill.sink)(&rest);
        }
        true
    }

    /// Samples a track holds in memory now.
    pub fn held(&self) -> u64 {
        self.caller.len().max(self.bot.len()) as u64
    }

    fn spill_if_due(&mut self) {
        let Some(keep) = self.spill.as_ref().map(|s| s.keep) else {
            return;
        };
        if self.held() < keep * 2 {
            return;
        }
        let out = self.take_until(self.end() - keep);
        if let Some(spill) = &mut self.spill {
            (spill.sink)(&out);
        }
    }

    pub fn rate(&self) -> SampleRate {
        self.rate
    }

    /// Places `samples` on `track` starting at sample position `at` (samples since the call
    /// started, at the recorder's rate). Overlapping audio on one track is mixed (saturating);
    /// audio before what was already taken is dropped.
    pub fn write(&mut self, track: Track, at: u64, samples: &[i16]) {
        let buffer = match track {
            Track::Caller => &mut self.caller,
            Track::Bot => &mut self.bot,
        };
        let (skip, start) = if at < self.taken {
            ((self.taken - at) as usize, 0)
        } else {
            (0, (at - self.taken) as usize)
        };
        if skip >= samples.len() {
            return;
        }
        let samples = &samples[skip..];
        let end = start + samples.len();
        if buffer.len() < end {
            buffer.resize(end, 0);
        }
        for (slot, &sample) in buffer[start..end].iter_mut().zip(samples) {
            *slot = slot.saturating_add(sample);
        }
        self.spill_if_due();
    }

    /// The position just after the last sample written on either track.
    pub fn end(&self) -> u64 {
        self.taken + self.caller.len().max(self.bot.len()) as u64
    }

    /// Takes the interleaved stereo samples before position `until` out of the recorder.
    pub fn take_until(&mut self, until: u64) -> Vec<i16> {
        let n = until.saturating_sub(self.taken) as usize;
        let mut out = Vec::with_capacity(n * 2);
        for i in 0..n {
            out.push(self.caller.get(i).copied().unwrap_or(0));
            out.push(self.bot.get(i).copied().unwrap_or(0));
        }
        self.caller.drain(..n.min(self.caller.len()));
        self.bot.drain(..n.min(self.bot.len()));
        self.taken += n as u64;
        out
    }

    /// Takes everything left, padding the shorter track with silence.
    pub fn finish(&mut self) -> Vec<i16> {
        let end = self.end();
        self.take_until(end)
    }

    /// The whole recording (what is left of it) as a stereo WAV file.
    pub fn to_wav(&mut self) -> Result<Vec<u8>, AudioError> {
        let interleaved = self.finish();
        wav::encode(self.rate, 2, &interleaved)
    }
}
