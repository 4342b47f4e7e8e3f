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

/// Two time-aligned mono tracks that become one interleaved stereo stream.
#[derive(Debug)]
pub struct StereoRecorder {
    rate: SampleRate,
    /// Sample position of `caller[0]` and `bot[0]`: everything before it was taken.
    taken: u64,
    caller: Vec<i16>,
    bot: Vec<i16>,
}

impl StereoRecorder {
    pub fn new(rate: SampleRate) -> Self {
        Self {
            rate,
            taken: 0,
            caller: Vec::new(),
            bot: Vec::new(),
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
