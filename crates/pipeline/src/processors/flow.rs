//! The deterministic flow.
//!
//! Say, ask, branch on keywords or DTMF, set fields, press keys, end; no LLM, fully predictable.

use crate::frame::{CallEvent, ControlFrame, DataFrame, Direction, EndReason, Frame, SystemFrame};
use crate::processor::{Outbox, Processor, ProcessorError};
use async_trait::async_trait;
use contracts::runtime_config::{Flow, FlowBranch, FlowStep};
use serde_json::Value;

/// Most steps run without waiting for the caller; more means the flow loops.
const MAX_STEPS_WITHOUT_INPUT: usize = 100;

/// Runs a [`Flow`] in place of the LLM.
#[derive(Debug)]
pub struct FlowProcessor {
    flow: Flow,
    /// The `ask` step waiting for an answer.
    waiting: Option<String>,
    /// How this call's keys are pressed (from the start).
    keypad: crate::tools::Keypad,
}

impl FlowProcessor {
    pub fn new(flow: Flow) -> Self {
        Self {
            flow,
            waiting: None,
            keypad: crate::tools::Keypad::default(),
        }
    }

    /// Runs steps from `step` until one waits for the caller or ends the call.
    fn run_from(&mut self, mut step: String, out: &Outbox) -> Result<(), ProcessorError> {
        for _ in 0..MAX_STEPS_WITHOUT_INPUT {
            let current = self.flow.steps.get(&step).ok_or_else(|| {
                ProcessorError::fatal(format!("flow step {step:?} does not exist"))
            })?;
            match current {
                FlowStep::Say { text, next } => {
                    out.down(DataFrame::Speak(text.clone()));
                    step = next.clone();
                }
                FlowStep::Ask { prompt, .. } => {
                    out.down(DataFrame::Speak(prompt.clone()));
                    self.waiting = Some(step);
                    return Ok(());
                }
                FlowStep::SetField { field, value, next } => {
                    out.up(SystemFrame::Call(CallEvent::Field {
                        name: field.clone(),
                        value: value.clone(),
                    }));
                    step = next.clone();
                }
                FlowStep::End { text, disposition } => {
                    if let Some(text) = text {
                        out.down(DataFrame::Speak(text.clone()));
                    }
                    if let Some(disposition) = disposition {
                        out.up(SystemFrame::Call(CallEvent::Disposition(
                            disposition.clone(),
                        )));
                    }
                    self.waiting = None;
                    out.down(ControlFrame::End(EndReason::BotEnded));
                    return Ok(());
                }
                FlowStep::SendDigits { digits, next } => {
                    crate::tools::press_keys(&digits.to_ascii_uppercase(), self.keypad, out);
                    step = next.clone();
                }
                FlowStep::Transfer { text, destination } => {
                    if let Some(text) = text {
                        out.down(DataFrame::Speak(text.clone()));
                    }
                    self.waiting = None;
                    out.down(ControlFrame::End(EndReason::Transferred {
                        destination: destination.clone(),
                    }));
                    return Ok(());
                }
            }
        }
        Err(ProcessorError::fatal(format!(
            "flow ran {MAX_STEPS_WITHOUT_INPUT} steps without asking anything: it loops"
        )))
    }

    /// Takes the caller's answer to the waiting step: a spoken turn or DTMF digits.
    fn answer(
        &mut self,
        spoken: Option<&str>,
        dtmf: Option<char>,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        let Some(step) = self.waiting.take() else {
            return Ok(());
        };
        let Some(FlowStep::Ask {
            field,
            branches,
            otherwise,
            ..
        }) = self.flow.steps.get(&step)
        else {
            return Ok(());
        };
        let matches = |branch: &FlowBranch| match (spoken, dtmf) {
            (Some(text), _) => {
                let words: Vec<String> = text
                    .split(|c: char| !c.is_alphanumeric() && c != '\'')
                    .map(str::to_lowercase)
                    .collect();
                branch.keywords.iter().any(|keyword| {
                    let keyword = keyword.to_lowercase();
                    if keyword.contains(' ') {
                        text.to_lowercase().contains(&keyword)
                    } else {
                        words.contains(&keyword)
                    }
                })
            }
            (None, Some(digit)) => branch.dtmf.as_deref().is_some_and(|d| d.starts_with(digit)),
            (None, None) => false,
        };
        let next = branches
            .iter()
            .find(|branch| matches(branch))
            .map_or_else(|| otherwise.clone(), |branch| branch.next.clone());
        if let Some(field) = field {
            let value = match (spoken, dtmf) {
                (Some(text), _) => Value::String(text.to_owned()),
                (None, Some(digit)) => Value::String(digit.to_string()),
                (None, None) => Value::Null,
            };
            out.up(SystemFrame::Call(CallEvent::Field {
                name: field.clone(),
                value,
            }));
        }
        self.run_from(next, out)
    }
}

#[async_trait]
impl Processor for FlowProcessor {
    fn name(&self) -> &'static str {
        "flow"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match frame {
            Frame::System(SystemFrame::Start(params)) => {
                self.keypad = crate::tools::Keypad::of(&params);
                out.forward(frame, direction);
                let start = self.flow.start.clone();
                self.run_from(start, out)?;
            }
            Frame::System(SystemFrame::UserTurn(text)) => self.answer(Some(&text), None, out)?,
            Frame::System(SystemFrame::Dtmf(digit)) => self.answer(None, Some(digit), out)?,
            other => out.forward(other, direction),
        }
        Ok(())
    }
}
