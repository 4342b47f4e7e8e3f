//! Caller audio to a speech-to-text stream, its results to transcription frames.
//!
//! A failing provider is replaced by the next in its chain mid-call.

use crate::frame::{Direction, Frame, SystemFrame, Transcript};
use crate::metrics::{MarkKind, TurnMark};
use crate::processor::{Outbox, Processor, ProcessorError};
use crate::services::{SpeechToText, SttEvent, SttInput};
use async_trait::async_trait;
use audio::SampleRate;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The STT stage: one provider at a time from a fallback chain.
pub struct SttProcessor {
    chain: Vec<Arc<dyn SpeechToText>>,
    active: usize,
    rate: SampleRate,
    input: Option<mpsc::UnboundedSender<SttInput>>,
    failed: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SttProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SttProcessor")
            .field(
                "active",
                &self.chain.get(self.active).map(|p| p.name().to_owned()),
            )
            .finish_non_exhaustive()
    }
}

impl Drop for SttProcessor {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }
}

impl SttProcessor {
    /// `chain[0]` is the primary; each next one takes over when the one before fails.
    pub fn new(chain: Vec<Arc<dyn SpeechToText>>) -> Self {
        Self {
            chain,
            active: 0,
            rate: SampleRate::Hz16000,
            input: None,
            failed: Arc::new(AtomicBool::new(false)),
            reader: None,
        }
    }

    /// Opens a stream on the active provider, moving down the chain while opening fails.
    async fn open(&mut self, out: &Outbox) -> Result<(), ProcessorError> {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
        loop {
            let Some(provider) = self.chain.get(self.active).cloned() else {
                return Err(ProcessorError::fatal("no speech-to-text provider left"));
            };
            match provider.open(self.rate).await {
                Ok(stream) => {
                    self.failed = Arc::new(AtomicBool::new(false));
                    self.input = Some(stream.input);
                    self.reader = Some(tokio::spawn(read_events(
                        provider.name().to_owned(),
                        stream.events,
                        out.clone(),
                        self.failed.clone(),
                        self.active + 1 < self.chain.len(),
                    )));
                    return Ok(());
                }
                Err(error) => {
                    let last = self.active + 1 >= self.chain.len();
                    out.error(error.provider().to_owned(), error.to_string(), last);
                    if last {
                        return Ok(());
                    }
                    self.active += 1;
                }
            }
        }
    }

    async fn send(&mut self, input: SttInput, out: &Outbox) -> Result<(), ProcessorError> {
        if self.failed.load(Ordering::SeqCst) && self.active + 1 < self.chain.len() {
            tracing::warn!(
                from = self.chain[self.active].name(),
                "speech-to-text failing over"
            );
            self.active += 1;
            self.open(out).await?;
        }
        if let Some(sender) = &self.input {
            let _ = sender.send(input);
        }
        Ok(())
    }
}

async fn read_events(
    provider: String,
    mut events: mpsc::UnboundedReceiver<
        Result<crate::services::SttEvent, crate::services::ProviderError>,
    >,
    out: Outbox,
    failed: Arc<AtomicBool>,
    has_fallback: bool,
) {
    while let Some(event) = events.recv().await {
        match event {
            Ok(SttEvent::Interim(text)) => {
                out.down(SystemFrame::InterimTranscription(Transcript {
                    text,
                    provider: provider.clone(),
                }))
            }
            Ok(SttEvent::Final(text)) => {
                out.down(SystemFrame::Metric(TurnMark::now(MarkKind::SttFinal)));
                out.down(SystemFrame::Transcription(Transcript {
                    text,
                    provider: provider.clone(),
                }));
            }
            Err(error) => {
                failed.store(true, Ordering::SeqCst);
                out.error(provider.clone(), error.to_string(), !has_fallback);
                return;
            }
        }
    }
}

#[async_trait]
impl Processor for SttProcessor {
    fn name(&self) -> &'static str {
        "stt"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match frame {
            Frame::System(SystemFrame::Start(params)) => {
                self.rate = params.input_rate;
                self.open(out).await?;
                out.forward(frame, direction);
            }
            Frame::System(SystemFrame::InputAudio(chunk)) => {
                self.send(SttInput::Audio(chunk.samples), out).await?;
            }
            Frame::System(SystemFrame::UserStartedSpeaking)
                if direction == Direction::Downstream =>
            {
                self.send(SttInput::SpeechStarted, out).await?;
                out.forward(frame, direction);
            }
            Frame::System(SystemFrame::UserStoppedSpeaking)
                if direction == Direction::Downstream =>
            {
                self.send(SttInput::SpeechStopped, out).await?;
                out.forward(frame, direction);
            }
            other => out.forward(other, direction),
        }
        Ok(())
    }
}
