//! Pure audio DSP for calls.
//!
//! 16-bit PCM frames, G.711, resampling, WAV, the stereo recording mixer, voice activity detection,
//! answering-machine detection and in-band DTMF.
//!
//! ## Design Notes
//! Nothing here is async and nothing does I/O: every function takes samples or bytes and returns
//! samples or bytes, so the pipeline can call it on the audio path without a lock or an await.
//! Audio inside vox is mono 16-bit PCM at one of [`SampleRate`]'s rates, in 20 ms frames; G.711
//! lives only at the carrier edge. Malformed input (an odd byte count, an unsupported rate, a frame
//! of the wrong size) is refused with an [`AudioError`], never a panic.

pub mod amd;
pub mod dtmf;
mod error;
pub mod g711;
mod mix;
mod pcm;
mod resample;
pub mod vad;
pub mod wav;

pub use error::AudioError;
pub use mix::{StereoRecorder, Track};
pub use pcm::{FRAME_MS, SampleRate, pcm_from_le_bytes, pcm_to_le_bytes, rms_volume};
pub use resample::Resampler;
pub use vad::{SpeechClassifier, VadEvent, VadParams, VadState, VoiceDetector};
