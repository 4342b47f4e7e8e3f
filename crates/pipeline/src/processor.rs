//! The `Processor` trait and the `Outbox` a processor pushes frames through.
//!
//! A processor sees every frame that reaches it and forwards what it does not consume
//! (`out.forward`). Its `process` may run long (an LLM stream, a TTS sentence): the runner cancels
//! it by dropping the future when an interruption or a cancel arrives, so a processor keeps no
//! state that a half-finished `process` could leave inconsistent, or repairs it on `Interruption`.

use crate::frame::{Direction, Frame, PipelineError, SystemFrame};
use crate::queue::QueueSender;
use async_trait::async_trait;

/// One stage of a pipeline.
#[async_trait]
pub trait Processor: Send {
    /// A short stable name, used in errors and logs.
    fn name(&self) -> &'static str;

    /// Handles one frame. Frames the processor does not consume must be forwarded.
    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError>;
}

/// What a processor's `process` can fail with; the runner turns it into an upstream error frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProcessorError {
    pub message: String,
    pub fatal: bool,
}

impl ProcessorError {
    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fatal: true,
        }
    }

    pub fn recoverable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fatal: false,
        }
    }
}

/// Where a processor sends frames: the next processor downstream and the previous one upstream.
/// Cloneable, so a processor's background task (an STT stream reader) can push too.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub(crate) name: &'static str,
    pub(crate) down: QueueSender,
    pub(crate) up: QueueSender,
}

impl Outbox {
    /// Sends a frame on in `direction`.
    pub fn push(&self, frame: impl Into<Frame>, direction: Direction) {
        let frame = frame.into();
        match direction {
            Direction::Downstream => self.down.send(frame, direction),
            Direction::Upstream => self.up.send(frame, direction),
        }
    }

    /// Sends a frame downstream.
    pub fn down(&self, frame: impl Into<Frame>) {
        self.push(frame, Direction::Downstream);
    }

    /// Sends a frame upstream.
    pub fn up(&self, frame: impl Into<Frame>) {
        self.push(frame, Direction::Upstream);
    }

    /// Passes a frame on the way it was going.
    pub fn forward(&self, frame: Frame, direction: Direction) {
        self.push(frame, direction);
    }

    /// Reports an error upstream, naming `source`.
    pub fn error(&self, source: impl Into<String>, message: impl Into<String>, fatal: bool) {
        self.up(SystemFrame::Error(PipelineError {
            source: source.into(),
            message: message.into(),
            fatal,
        }));
    }

    /// The name of the processor this outbox belongs to.
    pub fn owner(&self) -> &'static str {
        self.name
    }
}
