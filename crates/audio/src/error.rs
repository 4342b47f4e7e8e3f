//! The one error type of the audio crate: what was wrong with the audio handed in.

/// Audio that cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    #[error("PCM16 needs an even number of bytes, got {0}")]
    OddByteCount(usize),
    #[error("unsupported sample rate {0} Hz (8000, 16000, 22050, 24000 or 48000)")]
    UnsupportedRate(u32),
    #[error("a frame of {got} samples where {expected} were expected")]
    FrameSize { expected: usize, got: usize },
    #[error("WAV: {0}")]
    Wav(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("resampler: {0}")]
    Resampler(String),
}
