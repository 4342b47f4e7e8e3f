//! 16-bit PCM: the sample rates vox uses inside, byte conversion at the edge, and frame arithmetic.

use crate::AudioError;

/// Audio moves through a call in frames of this many milliseconds.
pub const FRAME_MS: u32 = 20;

/// A sample rate vox handles inside a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SampleRate {
    Hz8000,
    Hz16000,
    /// The native rate of espeak-ng and Piper voices; synthesis output only.
    Hz22050,
    Hz24000,
    Hz48000,
}

impl SampleRate {
    /// Parses a rate in Hz, refusing any other.
    pub fn from_hz(hz: u32) -> Result<Self, AudioError> {
        match hz {
            8_000 => Ok(Self::Hz8000),
            16_000 => Ok(Self::Hz16000),
            22_050 => Ok(Self::Hz22050),
            24_000 => Ok(Self::Hz24000),
            48_000 => Ok(Self::Hz48000),
            other => Err(AudioError::UnsupportedRate(other)),
        }
    }

    pub fn hz(self) -> u32 {
        match self {
            Self::Hz8000 => 8_000,
            Self::Hz16000 => 16_000,
            Self::Hz22050 => 22_050,
            Self::Hz24000 => 24_000,
            Self::Hz48000 => 48_000,
        }
    }

    /// Samples in one [`FRAME_MS`] frame.
    pub fn frame_samples(self) -> usize {
        (self.hz() * FRAME_MS / 1000) as usize
    }

    /// Samples in `ms` milliseconds.
    pub fn samples_in_ms(self, ms: u64) -> u64 {
        ms * u64::from(self.hz()) / 1000
    }

    /// Milliseconds that `samples` samples last.
    pub fn ms_of(self, samples: usize) -> u64 {
        samples as u64 * 1000 / u64::from(self.hz())
    }
}

/// Little-endian PCM16 bytes to samples; an odd byte count is refused, not truncated.
pub fn pcm_from_le_bytes(bytes: &[u8]) -> Result<Vec<i16>, AudioError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(AudioError::OddByteCount(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect())
}

/// Samples to little-endian PCM16 bytes.
pub fn pcm_to_le_bytes(samples: &[i16]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(samples.len() * 2);
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    bytes
}

/// Loudness of a frame from 0.0 (silence) to 1.0 (full scale), on a decibel scale that maps
/// -60 dBFS to 0 and 0 dBFS to 1, the way speech loudness is compared against `min_volume`.
pub fn rms_volume(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum_squares: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum_squares / samples.len() as f64).sqrt() / 32768.0;
    if rms <= 0.0 {
        return 0.0;
    }
    let dbfs = 20.0 * rms.log10();
    ((dbfs + 60.0) / 60.0).clamp(0.0, 1.0) as f32
}
