//! Re-prompts a caller who has gone quiet, then says goodbye and ends the call.
//!
//! It stands right after the VAD, where it sees the caller's audio (its clock: the transport
//! streams audio through silence too), the caller's speaking events on their way down and the
//! bot's on their way up. When neither side has spoken for `after`, it sends the next prompt down
//! to be spoken; after `max_prompts` of them, the goodbye and `End(IdleTimeout)`. Each step goes
//! up as `CallEvent::Idle` for the call's transcript. Any speech from the caller starts the count
//! again, and so do the prompts themselves.

use crate::frame::{
    CallEvent, ControlFrame, DataFrame, Direction, EndReason, Frame, IdleStep, SystemFrame,
};
use crate::processor::{Outbox, Processor, ProcessorError};
use async_trait::async_trait;
use std::time::Duration;

/// What an idle caller hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdlePolicy {
    /// Quiet on both sides before a prompt.
    pub after: Duration,
    /// Said in turn, the last one repeating.
    pub prompts: Vec<String>,
    pub max_prompts: u32,
    pub goodbye: String,
    /// The LLM words each prompt (`IdlePrompt`, with the line as its fallback) instead of the
    /// line being said as it is.
    pub generate: bool,
}

/// Counts the quiet in the caller's audio and prompts.
#[derive(Debug)]
pub struct IdleProcessor {
    policy: IdlePolicy,
    rate: audio::SampleRate,
    quiet_samples: u64,
    user_speaking: bool,
    bot_speaking: bool,
    prompted: u32,
    ended: bool,
}

impl IdleProcessor {
    pub fn new(policy: IdlePolicy) -> Self {
        Self {
            policy,
            rate: audio::SampleRate::Hz16000,
            quiet_samples: 0,
            user_speaking: false,
            bot_speaking: false,
            prompted: 0,
            ended: false,
        }
    }

    fn tick(&mut self, samples: usize, out: &Outbox) {
        if self.ended || self.user_speaking || self.bot_speaking {
            return;
        }
        self.quiet_samples += samples as u64;
        let after = self
            .rate
            .samples_in_ms(self.policy.after.as_millis() as u64);
        if self.quiet_samples < after {
            return;
        }
        self.quiet_samples = 0;
        if self.prompted >= self.policy.max_prompts {
            self.ended = true;
            out.up(SystemFrame::Call(CallEvent::Idle(IdleStep::Goodbye)));
            out.down(DataFrame::Speak(self.policy.goodbye.clone()));
            out.down(ControlFrame::End(EndReason::IdleTimeout));
            return;
        }
        out.up(SystemFrame::Call(CallEvent::Idle(IdleStep::Prompt {
            number: self.prompted + 1,
            of: self.policy.max_prompts,
        })));
        let index = (self.prompted as usize).min(self.policy.prompts.len().saturating_sub(1));
        if let Some(prompt) = self.policy.prompts.get(index) {
            if self.policy.generate {
                out.down(DataFrame::IdlePrompt {
                    fallback: prompt.clone(),
                });
            } else {
                out.down(DataFrame::Speak(prompt.clone()));
            }
        }
        self.prompted += 1;
    }
}

#[async_trait]
impl Processor for IdleProcessor {
    fn name(&self) -> &'static str {
        "idle"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match &frame {
            Frame::System(SystemFrame::Start(params)) => self.rate = params.input_rate,
            Frame::System(SystemFrame::InputAudio(chunk)) if direction == Direction::Downstream => {
                let samples = chunk.samples.len();
                out.forward(frame, direction);
                self.tick(samples, out);
                return Ok(());
            }
            Frame::System(SystemFrame::UserStartedSpeaking) => {
                self.user_speaking = true;
                // A caller who answers is not idle: the next silence gets the prompts afresh.
                self.prompted = 0;
                self.quiet_samples = 0;
            }
            Frame::System(SystemFrame::UserStoppedSpeaking) => {
                self.user_speaking = false;
                self.quiet_samples = 0;
            }
            Frame::System(SystemFrame::BotStartedSpeaking) => {
                self.bot_speaking = true;
                self.quiet_samples = 0;
            }
            Frame::System(SystemFrame::BotStoppedSpeaking) => {
                self.bot_speaking = false;
                self.quiet_samples = 0;
            }
            _ => {}
        }
        out.forward(frame, direction);
        Ok(())
    }
}
