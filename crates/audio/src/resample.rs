//! Streaming sample-rate conversion between 8, 16, 24 and 48 kHz with rubato's FFT resampler.
//!
//! Audio arrives in chunks of any size; [`Resampler::process`] converts every whole block it has
//! and keeps the rest for the next call. The resampler's own delay is trimmed from the start, so
//! sample `n` of the output lines up with time `n / rate` of the input, which keeps recordings
//! aligned; [`Resampler::flush`] emits the tail at the end of a stream.

use crate::{AudioError, SampleRate};
use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _, WindowFunction};

/// Converts one mono stream from one rate to another.
pub struct Resampler {
    from: SampleRate,
    to: SampleRate,
    /// `None` when both rates are the same: samples pass through untouched.
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    scratch_out: Vec<f32>,
    /// Output samples still to drop: the resampler's delay.
    to_skip: usize,
    total_in: u64,
    total_out: u64,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    /// A resampler whose block is one 20 ms frame of the input rate.
    pub fn new(from: SampleRate, to: SampleRate) -> Result<Self, AudioError> {
        let inner = if from == to {
            None
        } else {
            let fft = Fft::<f32>::new_custom(
                from.hz() as usize,
                to.hz() as usize,
                from.frame_samples(),
                1,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Both,
            )
            .map_err(|e| AudioError::Resampler(e.to_string()))?;
            Some(fft)
        };
        let to_skip = inner.as_ref().map_or(0, |r| r.output_delay());
        let scratch_len = inner.as_ref().map_or(0, |r| r.output_frames_max());
        Ok(Self {
            from,
            to,
            inner,
            pending: Vec::new(),
            scratch_out: vec![0.0; scratch_len],
            to_skip,
            total_in: 0,
            total_out: 0,
        })
    }

    pub fn from_rate(&self) -> SampleRate {
        self.from
    }

    pub fn to_rate(&self) -> SampleRate {
        self.to
    }

    /// Converts what it can of `input` (plus what was kept from before) and appends it to `out`.
    pub fn process_into(&mut self, input: &[i16], out: &mut Vec<i16>) {
        self.total_in += input.len() as u64;
        if self.inner.is_none() {
            out.extend_from_slice(input);
            self.total_out += input.len() as u64;
            return;
        }
        self.pending
            .extend(input.iter().map(|&s| f32::from(s) / 32768.0));
        self.drain_blocks(out);
    }

    /// Converts `input`, returning the samples ready so far.
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out =
            Vec::with_capacity(input.len() * self.to.hz() as usize / self.from.hz() as usize + 8);
        self.process_into(input, &mut out);
        out
    }

    /// Ends the stream: pads with silence and returns every sample still inside, so the output
    /// has exactly as many samples as the input's duration at the new rate.
    pub fn flush(&mut self) -> Vec<i16> {
        let mut out = Vec::new();
        let Some(inner) = self.inner.as_ref() else {
            return out;
        };
        let block = inner.input_frames_next();
        let expected = self.total_in * u64::from(self.to.hz()) / u64::from(self.from.hz());
        while self.total_out < expected {
            let missing = block - self.pending.len() % block;
            self.pending.extend(std::iter::repeat_n(0.0, missing));
            let before = out.len();
            self.drain_blocks(&mut out);
            if out.len() == before && self.to_skip == 0 {
                break;
            }
        }
        let surplus = (self.total_out.saturating_sub(expected)) as usize;
        out.truncate(out.len().saturating_sub(surplus));
        self.total_out = expected;
        self.pending.clear();
        out
    }

    fn drain_blocks(&mut self, out: &mut Vec<i16>) {
        let Some(inner) = self.inner.as_mut() else {
            return;
        };
        let block = inner.input_frames_next();
        let mut consumed = 0;
        while self.pending.len() - consumed >= block {
            let input = &self.pending[consumed..consumed + block];
            let n_out = inner.output_frames_next();
            let Ok(adapter_in) = InterleavedSlice::new(input, 1, block) else {
                break;
            };
            let Ok(mut adapter_out) = InterleavedSlice::new_mut(&mut self.scratch_out, 1, n_out)
            else {
                break;
            };
            let Ok((used, produced)) =
                inner.process_into_buffer(&adapter_in, &mut adapter_out, None::<&Indexing>)
            else {
                break;
            };
            consumed += used;
            let skip = self.to_skip.min(produced);
            self.to_skip -= skip;
            for &sample in &self.scratch_out[skip..produced] {
                out.push((sample * 32768.0).round().clamp(-32768.0, 32767.0) as i16);
            }
            self.total_out += (produced - skip) as u64;
        }
        self.pending.drain(..consumed);
    }
}
