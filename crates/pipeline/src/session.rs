//! The session runner: one call's processors, each in its own task, and the loop that watches them.
//!
//! ## Concurrency
//! Each processor is owned by one task (`&mut self`, no locks) that reads its [`queue`](crate::queue)
//! and races its running `process` against the next system frame: an `Interruption` or `Cancel`
//! drops the in-flight future, other system frames wait their turn ahead of data. The session
//! loop owns the call's clock and selects over a closed set of events: a frame reaching the
//! downstream end (for the transport), a frame reaching the upstream end (errors, what was said),
//! a [`Command`], the max-duration and silence timers, and processor tasks ending. A processor
//! that panics ends its call with [`EndReason::Internal`]; the worker runs on.

use crate::frame::{
    ControlFrame, Direction, EndReason, Frame, PipelineError, StartParams, SystemFrame,
};
use crate::metrics::{TurnCollector, TurnTimings};
use crate::processor::{Outbox, Processor};
use crate::queue::{QueueReceiver, QueueSender, interrupts, queue};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Limits and parameters of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionConfig {
    pub start: StartParams,
    pub max_duration: Option<Duration>,
    /// Ends the call when neither side has spoken for this long.
    pub silence_timeout: Option<Duration>,
}

/// Outside control of a running session.
#[derive(Debug)]
pub enum Command {
    /// A frame from the transport, into the head of the pipeline (caller audio, DTMF).
    Input(Frame),
    /// The caller hung up or the transport closed.
    Hangup,
}

/// Something said or done during the call, in order, with its time since the start.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub at: Duration,
    pub event: SystemFrame,
}

/// How a call went, once it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionReport {
    pub end_reason: EndReason,
    pub duration: Duration,
    pub turns: Vec<TurnTimings>,
    /// `AssistantHeard`, `Call` events and errors, as they reached the upstream end.
    pub events: Vec<LoggedEvent>,
}

/// A running session: send commands, read frames for the transport, await the report.
#[derive(Debug)]
pub struct SessionHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    /// Frames that left the downstream end: the bot's audio, transport messages, and the rest.
    pub output: mpsc::UnboundedReceiver<Frame>,
    /// Frames that left the upstream end: errors, what was said and heard, speaking events.
    pub upstream: mpsc::UnboundedReceiver<Frame>,
    pub report: tokio::task::JoinHandle<SessionReport>,
}

/// Starts a session over `processors` (transport input side first).
pub fn spawn(processors: Vec<Box<dyn Processor>>, config: SessionConfig) -> SessionHandle {
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (output_tx, output_rx) = mpsc::unbounded_channel();
    let (upstream_tx, upstream_rx) = mpsc::unbounded_channel();
    let report = tokio::spawn(run(processors, config, commands_rx, output_tx, upstream_tx));
    SessionHandle {
        commands: commands_tx,
        output: output_rx,
        upstream: upstream_rx,
        report,
    }
}

struct Wiring {
    head: QueueSender,
    tail: QueueSender,
    sink: QueueReceiver,
    source: QueueReceiver,
    tasks: JoinSet<()>,
}

fn wire(processors: Vec<Box<dyn Processor>>) -> Wiring {
    let n = processors.len();
    let (source_tx, source_rx) = queue();
    let (sink_tx, sink_rx) = queue();
    let mut senders = Vec::with_capacity(n);
    let mut receivers = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = queue();
        senders.push(tx);
        receivers.push(rx);
    }
    let mut tasks = JoinSet::new();
    for (i, (processor, rx)) in processors.into_iter().zip(receivers).enumerate() {
        let outbox = Outbox {
            name: processor.name(),
            down: senders
                .get(i + 1)
                .cloned()
                .unwrap_or_else(|| sink_tx.clone()),
            up: if i == 0 {
                source_tx.clone()
            } else {
                senders[i - 1].clone()
            },
        };
        tasks.spawn(run_processor(processor, rx, outbox));
    }
    let head = senders.first().cloned().unwrap_or(sink_tx);
    let tail = senders.last().cloned().unwrap_or(source_tx);
    Wiring {
        head,
        tail,
        sink: sink_rx,
        source: source_rx,
        tasks,
    }
}

/// One processor's loop: next frame, process it, cancel on interruption.
async fn run_processor(mut processor: Box<dyn Processor>, mut rx: QueueReceiver, out: Outbox) {
    let mut deferred: VecDeque<(Frame, Direction)> = VecDeque::new();
    loop {
        let (frame, direction) = match deferred.pop_front() {
            Some(item) => item,
            None => match rx.recv().await {
                Some(item) => item,
                None => return,
            },
        };
        let mut cancelled_by = None;
        // Starting (opening provider streams) is never cancelled: a caller who talks at once
        // must not leave the call without its STT.
        let cancellable = !matches!(frame, Frame::System(SystemFrame::Start(_)));
        let result = {
            let work = processor.process(frame, direction, &out);
            tokio::pin!(work);
            let mut system_open = cancellable;
            loop {
                // The work is polled first: a frame whose work finishes at once (caller audio
                // on its way to the STT, a transcript) is never lost to an interruption that
                // arrived while it was queued; only work that has to wait is cancelled.
                tokio::select! {
                    biased;
                    result = &mut work => break Some(result),
                    next = rx.recv_system(), if system_open => match next {
                        Some(item) if interrupts(&item.0) => {
                            cancelled_by = Some(item);
                            break None;
                        }
                        Some(item) => deferred.push_back(item),
                        None => system_open = false,
                    },
                }
            }
        };
        if let Some(Err(error)) = result {
            tracing::warn!(processor = processor.name(), %error, "processor failed");
            out.error(processor.name(), error.message, error.fatal);
        }
        if let Some(item) = cancelled_by {
            // Frames deferred while the cancelled work ran stay ahead of the interruption.
            deferred.push_back(item);
        }
    }
}

/// The session loop's closed set of events.
enum Event {
    Sink(Frame),
    Source(Frame),
    Command(Command),
    MaxDuration,
    Silence,
    TaskEnded(Result<(), tokio::task::JoinError>),
}

/// Longest wait, once a call ended, for the frames still on their way out.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// What the session learns from the frames that leave the pipeline.
struct Monitor {
    started: Instant,
    last_activity: Instant,
    user_speaking: bool,
    bot_speaking: bool,
    turns: TurnCollector,
    events: Vec<LoggedEvent>,
    output: mpsc::UnboundedSender<Frame>,
    upstream: mpsc::UnboundedSender<Frame>,
}

impl Monitor {
    /// Takes note of a frame and passes it on; returns the end it asks for, if any.
    fn observe(&mut self, frame: Frame, direction: Direction) -> Option<EndReason> {
        let mut end = None;
        if let Frame::System(system) = &frame {
            match system {
                SystemFrame::UserStartedSpeaking => self.user_speaking = true,
                SystemFrame::UserStoppedSpeaking => self.user_speaking = false,
                SystemFrame::BotStartedSpeaking => self.bot_speaking = true,
                SystemFrame::BotStoppedSpeaking => self.bot_speaking = false,
                SystemFrame::Metric(mark) => self.turns.record(*mark),
                _ => {}
            }
            if matches!(
                system,
                SystemFrame::UserStartedSpeaking
                    | SystemFrame::UserStoppedSpeaking
                    | SystemFrame::BotStartedSpeaking
                    | SystemFrame::BotStoppedSpeaking
            ) {
                self.last_activity = Instant::now();
            }
            if matches!(
                system,
                SystemFrame::AssistantHeard { .. } | SystemFrame::Call(_) | SystemFrame::Error(_)
            ) {
                self.events.push(LoggedEvent {
                    at: Instant::now() - self.started,
                    event: system.clone(),
                });
            }
            if let SystemFrame::Error(PipelineError {
                source,
                message,
                fatal: true,
            }) = system
            {
                end = Some(EndReason::ProviderFailed {
                    provider: source.clone(),
                    message: message.clone(),
                });
            }
        }
        if let Frame::Control(ControlFrame::End(reason)) = &frame {
            end = Some(reason.clone());
        }
        let to = match direction {
            Direction::Downstream => &self.output,
            Direction::Upstream => &self.upstream,
        };
        let _ = to.send(frame);
        end
    }
}

/// Waits for a `Sync` at `receiver`, observing everything before it.
async fn until_sync(receiver: &mut QueueReceiver, monitor: &mut Monitor, direction: Direction) {
    while let Some((frame, _)) = receiver.recv().await {
        if frame == Frame::System(SystemFrame::Sync) {
            return;
        }
        monitor.observe(frame, direction);
    }
}

async fn run(
    processors: Vec<Box<dyn Processor>>,
    config: SessionConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    output: mpsc::UnboundedSender<Frame>,
    upstream: mpsc::UnboundedSender<Frame>,
) -> SessionReport {
    let started = Instant::now();
    let Wiring {
        head,
        tail,
        mut sink,
        mut source,
        mut tasks,
    } = wire(processors);
    head.send(
        SystemFrame::Start(config.start).into(),
        Direction::Downstream,
    );

    let far_future = started + Duration::from_secs(86_400 * 365);
    let deadline = config.max_duration.map_or(far_future, |d| started + d);
    let mut monitor = Monitor {
        started,
        last_activity: started,
        user_speaking: false,
        bot_speaking: false,
        turns: TurnCollector::default(),
        events: Vec::new(),
        output,
        upstream,
    };
    let mut commands_open = true;

    let (end_reason, ended_in_order) = loop {
        let silence_at = match config.silence_timeout {
            Some(timeout) if !monitor.user_speaking && !monitor.bot_speaking => {
                monitor.last_activity + timeout
            }
            _ => far_future,
        };
        let event = tokio::select! {
            Some((frame, _)) = sink.recv() => Event::Sink(frame),
            Some((frame, _)) = source.recv() => Event::Source(frame),
            command = commands.recv(), if commands_open => match command {
                Some(command) => Event::Command(command),
                None => { commands_open = false; continue; }
            },
            _ = tokio::time::sleep_until(deadline) => Event::MaxDuration,
            _ = tokio::time::sleep_until(silence_at) => Event::Silence,
            Some(ended) = tasks.join_next() => Event::TaskEnded(ended),
        };
        match event {
            Event::Sink(frame) => {
                let is_end = matches!(frame, Frame::Control(ControlFrame::End(_)));
                if let Some(reason) = monitor.observe(frame, Direction::Downstream) {
                    break (reason, is_end);
                }
            }
            Event::Source(frame) => {
                if let Some(reason) = monitor.observe(frame, Direction::Upstream) {
                    break (reason, false);
                }
            }
            Event::Command(Command::Input(frame)) => head.send(frame, Direction::Downstream),
            Event::Command(Command::Hangup) => break (EndReason::CallerHungUp, false),
            Event::MaxDuration => break (EndReason::MaxDuration, false),
            Event::Silence => break (EndReason::SilenceTimeout, false),
            Event::TaskEnded(Err(error)) if error.is_panic() => {
                tracing::error!("a processor panicked; ending the call");
                tasks.abort_all();
                break (
                    EndReason::Internal("a processor panicked".to_owned()),
                    false,
                );
            }
            Event::TaskEnded(_) => {}
        }
    };
    let ended_at = Instant::now();
    // Let what is on its way out arrive: what was heard, the last events. A call that did not
    // end in order (hang-up, a limit, a failure) is interrupted first, so the output reports what
    // of the bot's turn was heard.
    let drain = async {
        if !ended_in_order {
            head.send(SystemFrame::Interruption.into(), Direction::Downstream);
            head.send(SystemFrame::Sync.into(), Direction::Downstream);
            until_sync(&mut sink, &mut monitor, Direction::Downstream).await;
        }
        tail.send(SystemFrame::Sync.into(), Direction::Upstream);
        until_sync(&mut source, &mut monitor, Direction::Upstream).await;
    };
    if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
        tracing::warn!("frames still in the pipeline when the call ended were dropped");
    }
    tasks.abort_all();
    SessionReport {
        end_reason,
        duration: ended_at - started,
        turns: monitor.turns.finish(),
        events: monitor.events,
    }
}
