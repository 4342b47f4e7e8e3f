//! Turns caller audio into speaking events.
//!
//! `UserStartedSpeaking` and `UserStoppedSpeaking`; the barge-in stage decides what interrupts. The detector is
//! WebRTC's, or a [`VoiceModel`]'s classifier (Silero) for bots with `turn.vad: silero`. At the
//! detector's first voiced frame, before its start, `SpeechOnset(true)` lets the barge-in stage
//! pause the bot at once (`SpeechOnset(false)` if the sound fades first).

use crate::frame::{Direction, Frame, SystemFrame};
use crate::metrics::{MarkKind, TurnMark};
use crate::processor::{Outbox, Processor, ProcessorError};
use async_trait::async_trait;
use audio::{SpeechClassifier, VadEvent, VadParams, VadState, VoiceDetector};
use std::sync::Arc;

/// A neural voice activity model: a classifier for each call's audio at its rate.
pub trait VoiceModel: Send + Sync + std::fmt::Debug {
    fn classifier(&self, rate: audio::SampleRate) -> Result<Box<dyn SpeechClassifier>, String>;
}

/// Runs the voice activity detector on `InputAudio` and passes the audio on.
#[derive(Debug)]
pub struct VadProcessor {
    params: VadParams,
    model: Option<Arc<dyn VoiceModel>>,
    detector: Option<VoiceDetector>,
    input_rate: audio::SampleRate,
    /// Whether `SpeechOnset(true)` went for the sound on its way to a start.
    onset: bool,
}

impl VadProcessor {
    pub fn new(params: VadParams) -> Self {
        Self {
            params,
            model: None,
            detector: None,
            input_rate: audio::SampleRate::Hz16000,
            onset: false,
        }
    }

    /// `model`'s classifier decides which frames are speech, in place of WebRTC's.
    pub fn with_model(mut self, model: Arc<dyn VoiceModel>) -> Self {
        self.model = Some(model);
        self
    }
}

#[async_trait]
impl Processor for VadProcessor {
    fn name(&self) -> &'static str {
        "vad"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match &frame {
            Frame::System(SystemFrame::Start(params)) => {
                self.input_rate = params.input_rate;
                let detector = match &self.model {
                    Some(model) => {
                        let classifier = model
                            .classifier(params.input_rate)
                            .map_err(|e| ProcessorError::fatal(format!("VAD: {e}")))?;
                        VoiceDetector::with_classifier(params.input_rate, self.params, classifier)
                    }
                    None => VoiceDetector::new(params.input_rate, self.params),
                };
                self.detector =
                    Some(detector.map_err(|e| ProcessorError::fatal(format!("VAD: {e}")))?);
            }
            Frame::System(SystemFrame::InputAudio(chunk)) if direction == Direction::Downstream => {
                if chunk.rate != self.input_rate {
                    // Refused at the edge: audio at another rate would be heard at the wrong pitch.
                    return Err(ProcessorError::recoverable(format!(
                        "caller audio at {} Hz in a call at {} Hz was dropped",
                        chunk.rate.hz(),
                        self.input_rate.hz()
                    )));
                }
                let detector = self
                    .detector
                    .as_mut()
                    .ok_or_else(|| ProcessorError::fatal("audio before Start"))?;
                let event = detector.push(&chunk.samples);
                out.forward(frame, direction);
                // `Starting` is the detector's state from its first voiced frame to its start.
                match (detector.state(), self.onset) {
                    (VadState::Starting, false) => {
                        self.onset = true;
                        out.down(SystemFrame::SpeechOnset(true));
                    }
                    (VadState::Quiet, true) if event.is_none() => {
                        self.onset = false;
                        out.down(SystemFrame::SpeechOnset(false));
                    }
                    _ => {}
                }
                match event {
                    Some(VadEvent::Started) => {
                        self.onset = false;
                        // Whether it interrupts the bot is the barge-in stage's call.
                        out.down(SystemFrame::UserStartedSpeaking);
                        out.up(SystemFrame::UserStartedSpeaking);
                    }
                    Some(VadEvent::Stopped) => {
                        out.down(SystemFrame::Metric(TurnMark::now(
                            MarkKind::UserStoppedSpeaking,
                        )));
                        out.down(SystemFrame::UserStoppedSpeaking);
                        out.up(SystemFrame::UserStoppedSpeaking);
                    }
                    None => {}
                }
                return Ok(());
            }
            _ => {}
        }
        out.forward(frame, direction);
        Ok(())
    }
}
