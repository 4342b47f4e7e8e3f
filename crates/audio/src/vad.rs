//! Voice activity detection.
//!
//! The WebRTC VAD (libfvad) per 10 ms, or another [`SpeechClassifier`] (Silero), a loudness gate
//! and start/stop hysteresis.
//!
//! A frame counts as speech when enough of its 10 ms pieces are voiced (`confidence`; with another
//! classifier, its confidence for the frame reaches `confidence`) and its
//! smoothed loudness reaches `min_volume`. Speech must last `start_secs` before
//! [`VadEvent::Started`] and silence `stop_secs` before [`VadEvent::Stopped`], so a cough does not
//! start a turn and a breath does not end one (the same state machine as Pipecat's `VADAnalyzer`).

use crate::{AudioError, SampleRate, rms_volume};

/// Tuning of the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadParams {
    /// Fraction of 10 ms pieces in a frame the VAD must call voiced (0.0–1.0).
    pub confidence: f32,
    /// Speech needed before a turn starts.
    pub start_secs: f32,
    /// Silence needed before a turn stops.
    pub stop_secs: f32,
    /// Least smoothed loudness of speech, on [`rms_volume`]'s scale (0.3 ≈ -42 dBFS).
    pub min_volume: f32,
}

impl Default for VadParams {
    fn default() -> Self {
        Self {
            confidence: 0.7,
            start_secs: 0.2,
            stop_secs: 0.8,
            min_volume: 0.3,
        }
    }
}

/// Where the detector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadState {
    Quiet,
    Starting,
    Speaking,
    Stopping,
}

/// A change the caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    Started,
    Stopped,
}

/// A speech classifier that stands in for libfvad: how sure it is that a 20 ms frame is speech.
pub trait SpeechClassifier: Send + std::fmt::Debug {
    /// Confidence in 0..1 that `frame` (20 ms at the detector's rate) is speech.
    fn confidence(&mut self, frame: &[i16]) -> f32;
}

/// Who decides whether a frame is voiced.
enum Classifier {
    Webrtc(Fvad),
    Other(Box<dyn SpeechClassifier>),
}

/// libfvad's instance, movable between threads.
struct Fvad(webrtc_vad::Vad);

// SAFETY: libfvad's state is one heap block owned by this value, with no thread-local or shared
// state; it is only touched through `&mut self`, so moving it to another thread is sound.
#[allow(unsafe_code)]
unsafe impl Send for Fvad {}

/// The detector for one audio stream.
pub struct VoiceDetector {
    classifier: Classifier,
    params: VadParams,
    rate: SampleRate,
    /// 24 kHz is analysed at 8 kHz (libfvad has no 24 kHz mode).
    decimate: usize,
    state: VadState,
    frames_in_state: u32,
    start_frames: u32,
    stop_frames: u32,
    smoothed_volume: f32,
    pending: Vec<i16>,
    piece: Vec<i16>,
}

impl std::fmt::Debug for VoiceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceDetector")
            .field("params", &self.params)
            .field("rate", &self.rate)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

const VOLUME_SMOOTHING: f32 = 0.2;

impl VoiceDetector {
    pub fn new(rate: SampleRate, params: VadParams) -> Result<Self, AudioError> {
        for (name, value) in [
            ("confidence", params.confidence),
            ("min_volume", params.min_volume),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(AudioError::InvalidParameter(format!(
                    "VAD {name} must be within 0..1, got {value}"
                )));
            }
        }
        let (fvad_rate, decimate) = match rate {
            SampleRate::Hz8000 => (webrtc_vad::SampleRate::Rate8kHz, 1),
            SampleRate::Hz16000 => (webrtc_vad::SampleRate::Rate16kHz, 1),
            SampleRate::Hz24000 => (webrtc_vad::SampleRate::Rate8kHz, 3),
            SampleRate::Hz48000 => (webrtc_vad::SampleRate::Rate48kHz, 1),
            SampleRate::Hz22050 => return Err(AudioError::UnsupportedRate(22_050)),
        };
        let vad =
            webrtc_vad::Vad::new_with_rate_and_mode(fvad_rate, webrtc_vad::VadMode::Aggressive);
        let frame_secs = crate::FRAME_MS as f32 / 1000.0;
        Ok(Self {
            classifier: Classifier::Webrtc(Fvad(vad)),
            params,
            rate,
            decimate,
            state: VadState::Quiet,
            frames_in_state: 0,
            start_frames: (params.start_secs / frame_secs).round().max(1.0) as u32,
            stop_frames: (params.stop_secs / frame_secs).round().max(1.0) as u32,
            smoothed_volume: 0.0,
            pending: Vec::new(),
            piece: Vec::new(),
        })
    }

    /// The detector with `classifier` deciding which frames are speech in place of libfvad.
    pub fn with_classifier(
        rate: SampleRate,
        params: VadParams,
        classifier: Box<dyn SpeechClassifier>,
    ) -> Result<Self, AudioError> {
        let mut detector = Self::new(rate, params)?;
        detector.classifier = Classifier::Other(classifier);
        Ok(detector)
    }

    pub fn state(&self) -> VadState {
        self.state
    }

    pub fn params(&self) -> VadParams {
        self.params
    }

    /// True while the detector is in a turn (speaking, or in the silence before it stops).
    pub fn in_speech(&self) -> bool {
        matches!(self.state, VadState::Speaking | VadState::Stopping)
    }

    /// Feeds audio of any length; returns the change, if one happened, in the last whole frame.
    pub fn push(&mut self, samples: &[i16]) -> Option<VadEvent> {
        self.pending.extend_from_slice(samples);
        let frame = self.rate.frame_samples();
        let mut event = None;
        let mut pending = std::mem::take(&mut self.pending);
        let whole = pending.len() - pending.len() % frame;
        for chunk in pending[..whole].chunks_exact(frame) {
            if let Some(e) = self.analyse_frame(chunk) {
                event = Some(e);
            }
        }
        // Keep the partial frame in the same buffer: no allocation on the audio path.
        pending.drain(..whole);
        self.pending = pending;
        event
    }

    /// Whether one 20 ms frame is speech.
    fn frame_is_speech(&mut self, frame: &[i16]) -> bool {
        let volume = rms_volume(frame);
        self.smoothed_volume += VOLUME_SMOOTHING * (volume - self.smoothed_volume);
        let fvad = match &mut self.classifier {
            Classifier::Webrtc(fvad) => fvad,
            Classifier::Other(classifier) => {
                let confidence = classifier.confidence(frame);
                return confidence >= self.params.confidence
                    && self.smoothed_volume >= self.params.min_volume;
            }
        };
        let piece_len = frame.len() / 2;
        let mut voiced = 0u32;
        for half in frame.chunks_exact(piece_len) {
            self.piece.clear();
            if self.decimate == 1 {
                self.piece.extend_from_slice(half);
            } else {
                self.piece.extend(half.chunks_exact(self.decimate).map(|c| {
                    (c.iter().map(|&s| i32::from(s)).sum::<i32>() / self.decimate as i32) as i16
                }));
            }
            if fvad.0.is_voice_segment(&self.piece).unwrap_or(false) {
                voiced += 1;
            }
        }
        let confidence = voiced as f32 / 2.0;
        confidence >= self.params.confidence && self.smoothed_volume >= self.params.min_volume
    }

    fn analyse_frame(&mut self, frame: &[i16]) -> Option<VadEvent> {
        let speech = self.frame_is_speech(frame);
        let (next, event) = match (self.state, speech) {
            (VadState::Quiet, true) if self.start_frames <= 1 => {
                (VadState::Speaking, Some(VadEvent::Started))
            }
            (VadState::Quiet, true) => (VadState::Starting, None),
            (VadState::Quiet, false) => (VadState::Quiet, None),
            (VadState::Starting, true) if self.frames_in_state + 1 >= self.start_frames => {
                (VadState::Speaking, Some(VadEvent::Started))
            }
            (VadState::Starting, true) => (VadState::Starting, None),
            (VadState::Starting, false) => (VadState::Quiet, None),
            (VadState::Speaking, true) => (VadState::Speaking, None),
            (VadState::Speaking, false) if self.stop_frames <= 1 => {
                (VadState::Quiet, Some(VadEvent::Stopped))
            }
            (VadState::Speaking, false) => (VadState::Stopping, None),
            (VadState::Stopping, true) => (VadState::Speaking, None),
            (VadState::Stopping, false) if self.frames_in_state + 1 >= self.stop_frames => {
                (VadState::Quiet, Some(VadEvent::Stopped))
            }
            (VadState::Stopping, false) => (VadState::Stopping, None),
        };
        if next == self.state {
            self.frames_in_state += 1;
        } else {
            // The frame that moved us counts as the first one in the new state.
            self.frames_in_state = 1;
        }
        self.state = next;
        event
    }
}
