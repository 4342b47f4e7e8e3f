//! Turns caller audio into speaking events.
//!
//! `UserStartedSpeaking` (with an interruption) and `UserStoppedSpeaking`.

use crate::frame::{Direction, Frame, SystemFrame};
use crate::metrics::{MarkKind, TurnMark};
use crate::processor::{Outbox, Processor, ProcessorError};
use async_trait::async_trait;
use audio::{VadEvent, VadParams, VoiceDetector};

/// Runs the voice activity detector on `InputAudio` and passes the audio on.
#[derive(Debug)]
pub struct VadProcessor {
    params: VadParams,
    detector: Option<VoiceDetector>,
    input_rate: audio::SampleRate,
    allow_interruptions: bool,
}

impl VadProcessor {
    pub fn new(params: VadParams) -> Self {
        Self {
            params,
            detector: None,
            input_rate: audio::SampleRate::Hz16000,
            allow_interruptions: true,
        }
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
                self.allow_interruptions = params.allow_interruptions;
                self.input_rate = params.input_rate;
                self.detector = Some(
                    VoiceDetector::new(params.input_rate, self.params)
                        .map_err(|e| ProcessorError::fatal(format!("VAD: {e}")))?,
                );
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
                match event {
                    Some(VadEvent::Started) => {
                        if self.allow_interruptions {
                            out.down(SystemFrame::Interruption);
                        }
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
