//! The turn model's stage: at each stop of the caller's speech, asks whether they finished.
//!
//! It keeps the caller's audio since their turn began (with 0.5 s before it, as pipecat's
//! `BaseSmartTurn` does; at most the model's 8 s) and, when the VAD reports a stop, runs the
//! [`TurnModel`] on it off the call's task, sending a `TurnDecision` downstream (the user
//! aggregator answers on it) and as a call event upstream (the transcript keeps it). A turn judged
//! complete starts the next one afresh; an incomplete one goes on collecting.

use crate::frame::{CallEvent, Direction, Frame, SystemFrame, TurnDecision};
use crate::processor::{Outbox, Processor, ProcessorError};
use async_trait::async_trait;
use audio::{Resampler, SampleRate};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A model of whether the caller has finished their turn, from the sound of it.
pub trait TurnModel: Send + Sync + std::fmt::Debug {
    /// The probability that the turn in `audio` (16 kHz mono in [-1, 1], ending now) is
    /// complete. Blocking: the processor calls it on a blocking thread.
    fn probability(&self, audio: &[f32]) -> Result<f32, String>;
}

/// Audio kept from before the VAD reported the start of speech.
const PRE_SPEECH: Duration = Duration::from_millis(500);
/// The most audio the model reads.
const MAX_TURN: Duration = Duration::from_secs(8);

/// Judges each stop of the caller's speech with a [`TurnModel`].
#[derive(Debug)]
pub struct TurnProcessor {
    model: Arc<dyn TurnModel>,
    threshold: f32,
    rate: SampleRate,
    /// The caller's audio: before a turn the last [`PRE_SPEECH`], in one the turn so far.
    audio: VecDeque<i16>,
    in_turn: bool,
    /// Samples of quiet since a stop judged incomplete; past `incomplete_wait` the aggregator has
    /// answered anyway and the next speech is a new turn.
    quiet_after_incomplete: Option<usize>,
    incomplete_wait: Duration,
}

impl TurnProcessor {
    /// A turn is complete when `model`'s probability is above `threshold`; an incomplete one
    /// is over anyway after `incomplete_wait` of quiet (the user aggregator's wait).
    pub fn new(model: Arc<dyn TurnModel>, threshold: f32, incomplete_wait: Duration) -> Self {
        Self {
            model,
            threshold,
            rate: SampleRate::Hz16000,
            audio: VecDeque::new(),
            in_turn: false,
            quiet_after_incomplete: None,
            incomplete_wait,
        }
    }

    fn end_turn(&mut self) {
        self.in_turn = false;
        self.quiet_after_incomplete = None;
        self.audio.clear();
    }

    fn keep(&mut self, samples: &[i16]) {
        if let Some(quiet) = self.quiet_after_incomplete.as_mut() {
            *quiet += samples.len();
            let wait = self
                .rate
                .samples_in_ms(self.incomplete_wait.as_millis() as u64);
            if *quiet as u64 >= wait {
                self.end_turn();
            }
        }
        self.audio.extend(samples);
        let limit = if self.in_turn { MAX_TURN } else { PRE_SPEECH };
        let most = self.rate.samples_in_ms(limit.as_millis() as u64) as usize;
        if self.audio.len() > most {
            let extra = self.audio.len() - most;
            self.audio.drain(..extra);
        }
    }

    async fn decide(&self) -> TurnDecision {
        let samples: Vec<i16> = self.audio.iter().copied().collect();
        let (model, rate, threshold) = (self.model.clone(), self.rate, self.threshold);
        let started = Instant::now();
        let judged = tokio::task::spawn_blocking(move || {
            let wide = if rate == SampleRate::Hz16000 {
                samples
            } else {
                let mut resampler = Resampler::new(rate, SampleRate::Hz16000)
                    .map_err(|e| format!("resampling for the turn model: {e}"))?;
                let mut wide = resampler.process(&samples);
                wide.extend(resampler.flush());
                wide
            };
            let audio: Vec<f32> = wide.iter().map(|&s| f32::from(s) / 32_768.0).collect();
            model.probability(&audio)
        })
        .await
        .unwrap_or_else(|e| Err(format!("the turn model's thread failed: {e}")));
        let inference = started.elapsed();
        match judged {
            Ok(probability) => TurnDecision {
                complete: probability > threshold,
                probability: Some(probability),
                inference,
            },
            Err(error) => {
                tracing::warn!(%error, "the turn model failed; taking the turn as complete");
                TurnDecision {
                    complete: true,
                    probability: None,
                    inference,
                }
            }
        }
    }
}

#[async_trait]
impl Processor for TurnProcessor {
    fn name(&self) -> &'static str {
        "turn"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match &frame {
            Frame::System(SystemFrame::Start(params)) => {
                self.rate = params.input_rate;
                self.end_turn();
            }
            Frame::System(SystemFrame::InputAudio(chunk)) if direction == Direction::Downstream => {
                self.keep(&chunk.samples);
            }
            Frame::System(SystemFrame::UserStartedSpeaking)
                if direction == Direction::Downstream =>
            {
                self.in_turn = true;
                self.quiet_after_incomplete = None;
            }
            Frame::System(SystemFrame::UserStoppedSpeaking)
                if direction == Direction::Downstream && self.in_turn =>
            {
                out.forward(frame, direction);
                let decision = self.decide().await;
                if decision.complete {
                    self.end_turn();
                } else {
                    self.quiet_after_incomplete = Some(0);
                }
                out.up(SystemFrame::Call(CallEvent::Turn(decision)));
                out.down(SystemFrame::TurnDecision(decision));
                return Ok(());
            }
            _ => {}
        }
        out.forward(frame, direction);
        Ok(())
    }
}
