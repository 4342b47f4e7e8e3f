//! The test harness: `run_test` is the one place tests build and run a pipeline.
//!
//! Scripted providers stand in for vendors.
//!
//! The scripted providers are named as fakes and answer instantly (or after a set delay), so a test
//! measures the pipeline, not a vendor. Run tests with tokio's paused clock: the output's real-time
//! pacing then costs no wall time.

use crate::frame::{ControlFrame, EndReason, Frame};
use crate::processor::Processor;
use crate::services::{
    LanguageModel, LlmEvent, LlmRequest, ProviderError, SpeechToText, SttEvent, SttInput,
    SttStream, TextToSpeech,
};
use crate::session::{Command, SessionConfig, SessionReport, spawn};
use async_trait::async_trait;
use audio::SampleRate;
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// One step of a test's input.
#[derive(Debug, Clone)]
pub enum TestInput {
    /// A frame into the head of the pipeline.
    Frame(Frame),
    /// Let time pass (virtual time under a paused clock).
    Wait(Duration),
}

impl From<Frame> for TestInput {
    fn from(frame: Frame) -> Self {
        TestInput::Frame(frame)
    }
}

/// What came out of a test run.
#[derive(Debug)]
pub struct TestOutput {
    /// Frames that left the downstream end, in order (the final `End` included).
    pub down: Vec<Frame>,
    /// Frames that left the upstream end, in order.
    pub up: Vec<Frame>,
    pub report: SessionReport,
}

/// Runs `processors` over `inputs`, then sends an `End` through and returns what came out once it
/// (or an end the pipeline chose itself) reached the end of the pipeline.
pub async fn run_test(processors: Vec<Box<dyn Processor>>, inputs: Vec<TestInput>) -> TestOutput {
    run_test_with(processors, inputs, SessionConfig::default()).await
}

/// [`run_test`] with session limits and rates.
pub async fn run_test_with(
    processors: Vec<Box<dyn Processor>>,
    inputs: Vec<TestInput>,
    config: SessionConfig,
) -> TestOutput {
    let mut handle = spawn(processors, config);
    for input in inputs {
        match input {
            TestInput::Frame(frame) => {
                let _ = handle.commands.send(Command::Input(frame));
            }
            TestInput::Wait(duration) => tokio::time::sleep(duration).await,
        }
    }
    let _ = handle.commands.send(Command::Input(
        ControlFrame::End(EndReason::CallerHungUp).into(),
    ));
    let report = handle
        .report
        .await
        .expect("the session task does not panic");
    let mut down = Vec::new();
    while let Ok(frame) = handle.output.try_recv() {
        down.push(frame);
    }
    let mut up = Vec::new();
    while let Ok(frame) = handle.upstream.try_recv() {
        up.push(frame);
    }
    TestOutput { down, up, report }
}

/// How a scripted provider behaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Works.
    Works,
    /// Fails every request with this error.
    Fails(ProviderError),
    /// Works for `n` requests, then fails with this error mid-stream.
    FailsAfter(usize, ProviderError),
    /// Never answers.
    Stalls,
}

/// A fake STT: each `SpeechStopped` yields the next scripted transcript as a final result.
#[derive(Debug)]
pub struct ScriptedStt {
    pub name: String,
    pub transcripts: Vec<String>,
    pub behaviour: Behaviour,
    /// How long opening the stream takes (a vendor's handshake).
    pub open_delay: Duration,
    /// How long each final result takes after the speech stops (a batch model transcribing).
    pub final_delay: Duration,
    next: Arc<AtomicUsize>,
}

impl ScriptedStt {
    pub fn new(name: &str, transcripts: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            transcripts: transcripts.iter().map(|s| (*s).to_owned()).collect(),
            behaviour: Behaviour::Works,
            open_delay: Duration::ZERO,
            final_delay: Duration::ZERO,
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn behaving(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }
}

#[async_trait]
impl SpeechToText for ScriptedStt {
    fn name(&self) -> &str {
        &self.name
    }

    async fn open(&self, _rate: SampleRate) -> Result<SttStream, ProviderError> {
        tokio::time::sleep(self.open_delay).await;
        if let Behaviour::Fails(error) = &self.behaviour {
            return Err(error.clone());
        }
        let (input_tx, mut input_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let transcripts = self.transcripts.clone();
        let next = self.next.clone();
        let behaviour = self.behaviour.clone();
        let delay = self.final_delay;
        tokio::spawn(async move {
            while let Some(input) = input_rx.recv().await {
                if input != SttInput::SpeechStopped {
                    continue;
                }
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                if let Behaviour::FailsAfter(n, error) = &behaviour
                    && index >= *n
                {
                    let _ = events_tx.send(Err(error.clone()));
                    return;
                }
                let text = transcripts.get(index).cloned().unwrap_or_default();
                let _ = events_tx.send(Ok(SttEvent::Final(text)));
            }
        });
        Ok(SttStream {
            input: input_tx,
            events: events_rx,
        })
    }
}

/// A fake LLM: each request streams the next scripted reply, a word at a time.
#[derive(Debug)]
pub struct ScriptedLlm {
    pub name: String,
    pub replies: Vec<Vec<LlmEvent>>,
    pub behaviour: Behaviour,
    /// Time before the first event and between events.
    pub delay: Duration,
    next: Arc<AtomicUsize>,
    /// Every request it was sent, for assertions.
    pub requests: Arc<std::sync::OnceLock<mpsc::UnboundedSender<LlmRequest>>>,
}

impl ScriptedLlm {
    pub fn new(name: &str, replies: Vec<Vec<LlmEvent>>) -> Self {
        Self {
            name: name.to_owned(),
            replies,
            behaviour: Behaviour::Works,
            delay: Duration::ZERO,
            next: Arc::new(AtomicUsize::new(0)),
            requests: Arc::new(std::sync::OnceLock::new()),
        }
    }

    /// Replies that are plain text, split into word tokens.
    pub fn texts(name: &str, replies: &[&str]) -> Self {
        Self::new(name, replies.iter().map(|r| words(r)).collect())
    }

    pub fn behaving(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// A receiver of every request this model gets from now on.
    pub fn record_requests(&self) -> mpsc::UnboundedReceiver<LlmRequest> {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = self.requests.set(tx);
        rx
    }
}

/// A reply's text as word tokens (each but the first with its leading space).
pub fn words(text: &str) -> Vec<LlmEvent> {
    text.split_inclusive(' ')
        .map(|w| LlmEvent::Text(w.to_owned()))
        .collect()
}

#[async_trait]
impl LanguageModel for ScriptedLlm {
    fn name(&self) -> &str {
        &self.name
    }

    async fn stream(
        &self,
        request: &LlmRequest,
    ) -> Result<BoxStream<'static, Result<LlmEvent, ProviderError>>, ProviderError> {
        if let Some(tx) = self.requests.get() {
            let _ = tx.send(request.clone());
        }
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        let mut events: Vec<Result<LlmEvent, ProviderError>> = match &self.behaviour {
            Behaviour::Fails(error) => return Err(error.clone()),
            Behaviour::Stalls => return Ok(stream::pending().boxed()),
            Behaviour::FailsAfter(n, error) if index >= *n => {
                let mut partial: Vec<_> = self
                    .replies
                    .get(index)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .take(2)
                    .map(Ok)
                    .collect();
                partial.push(Err(error.clone()));
                partial
            }
            _ => self
                .replies
                .get(index)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(Ok)
                .collect(),
        };
        if events.is_empty() {
            events.push(Ok(LlmEvent::Text("I have nothing more to say.".to_owned())));
        }
        let delay = self.delay;
        Ok(stream::iter(events)
            .then(move |event| async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                event
            })
            .boxed())
    }
}

/// A fake TTS: a 440 Hz tone lasting `per_char` for each character, in 100 ms chunks.
#[derive(Debug)]
pub struct ToneTts {
    pub name: String,
    pub per_char: Duration,
    pub behaviour: Behaviour,
    calls: Arc<AtomicUsize>,
}

impl ToneTts {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            // About 14 characters a second, like speech.
            per_char: Duration::from_micros(71_428),
            behaviour: Behaviour::Works,
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn behaving(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }
}

#[async_trait]
impl TextToSpeech for ToneTts {
    fn name(&self) -> &str {
        &self.name
    }

    async fn synthesize(
        &self,
        text: &str,
        rate: SampleRate,
    ) -> Result<BoxStream<'static, Result<Vec<i16>, ProviderError>>, ProviderError> {
        let index = self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.behaviour {
            Behaviour::Fails(error) => return Err(error.clone()),
            Behaviour::FailsAfter(n, error) if index >= *n => return Err(error.clone()),
            Behaviour::Stalls => return Ok(stream::pending().boxed()),
            _ => {}
        }
        let total = (self.per_char.as_secs_f64()
            * text.chars().count() as f64
            * f64::from(rate.hz())) as usize;
        let tone: Vec<i16> = (0..total)
            .map(|i| {
                (8_000.0
                    * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate.hz())).sin())
                    as i16
            })
            .collect();
        let chunk = rate.samples_in_ms(100) as usize;
        let chunks: Vec<Result<Vec<i16>, ProviderError>> =
            tone.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
        Ok(stream::iter(chunks).boxed())
    }
}
