//! The TTS stage: LLM text gathered into sentences, each spoken through the active provider.
//!
//! A failing provider is replaced by the next in its chain mid-call. A draft's first sentence
//! (`DraftSentence`, with `turn.speak_drafts`) is synthesised at once in the background and its
//! audio held; when the reply then speaks that very sentence, the held audio is played instead of
//! asking again, and anything else throws it away.

use super::ahead::Ahead;
use crate::frame::{AudioChunk, ControlFrame, DataFrame, Direction, Frame, SystemFrame};
use crate::metrics::{MarkKind, TurnMark};
use crate::processor::{Outbox, Processor, ProcessorError};
use crate::services::{ProviderError, TextToSpeech};
use async_trait::async_trait;
use audio::SampleRate;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// A draft's first sentence being synthesised ahead of its reply.
#[derive(Debug)]
struct Prefetch {
    sentence: String,
    /// The provider (index in the chain) making it.
    provider: usize,
    audio: Ahead<Result<Vec<i16>, ProviderError>>,
}

impl Prefetch {
    /// Starts synthesising `sentence` on the `index`th provider; `stall` bounds its start.
    fn start(
        sentence: String,
        index: usize,
        provider: Arc<dyn TextToSpeech>,
        rate: SampleRate,
        stall: Duration,
    ) -> Self {
        let text = sentence.clone();
        let audio = Ahead::spawn(|tx| async move {
            match tokio::time::timeout(stall, provider.synthesize(&text, rate)).await {
                Err(_) => {
                    let _ = tx.send(Err(ProviderError::Timeout {
                        provider: provider.name().to_owned(),
                        after: stall,
                    }));
                }
                Ok(Err(error)) => {
                    let _ = tx.send(Err(error));
                }
                Ok(Ok(mut stream)) => {
                    while let Some(piece) = stream.next().await {
                        if tx.send(piece).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Self {
            sentence,
            provider: index,
            audio,
        }
    }
}

/// The TTS stage.
pub struct TtsProcessor {
    chain: Vec<Arc<dyn TextToSpeech>>,
    active: usize,
    rate: SampleRate,
    text: String,
    in_response: bool,
    first_audio_pending: bool,
    stall_timeout: Duration,
    /// A draft's first sentence, synthesised ahead.
    prefetch: Option<Prefetch>,
}

impl std::fmt::Debug for TtsProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtsProcessor")
            .field(
                "active",
                &self.chain.get(self.active).map(|p| p.name().to_owned()),
            )
            .finish_non_exhaustive()
    }
}

/// Splits off the first complete sentence of `text`, if there is one.
pub fn take_sentence(text: &mut String) -> Option<String> {
    loop {
        let bytes = text.as_bytes();
        let end = (0..bytes.len()).find(|&i| {
            matches!(bytes[i], b'.' | b'!' | b'?' | b';' | b'\n')
                && bytes
                    .get(i + 1)
                    .is_some_and(|next| next.is_ascii_whitespace())
        })?;
        let sentence = text[..=end].trim().to_owned();
        text.drain(..=end);
        if !sentence.is_empty() {
            return Some(sentence);
        }
    }
}

impl TtsProcessor {
    pub fn new(chain: Vec<Arc<dyn TextToSpeech>>) -> Self {
        Self {
            chain,
            active: 0,
            rate: SampleRate::Hz16000,
            text: String::new(),
            in_response: false,
            first_audio_pending: false,
            stall_timeout: Duration::from_secs(10),
            prefetch: None,
        }
    }

    /// Changes how long a provider may stay silent before it counts as failed.
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Speaks one sentence; on failure before any audio the next provider says it again.
    async fn speak(&mut self, sentence: String, out: &Outbox) {
        if sentence.trim().is_empty() {
            return;
        }
        out.down(DataFrame::TtsSentence(sentence.clone()));
        // Audio made ahead for this very sentence on the active provider is played as it is;
        // a prefetch of anything else is thrown away.
        let mut ahead = self
            .prefetch
            .take()
            .filter(|p| p.sentence == sentence && p.provider == self.active)
            .map(|p| p.audio.into_stream());
        loop {
            let Some(provider) = self.chain.get(self.active).cloned() else {
                return;
            };
            let has_fallback = self.active + 1 < self.chain.len();
            let mut produced = false;
            let timeout = |provider: &dyn TextToSpeech| ProviderError::Timeout {
                provider: provider.name().to_owned(),
                after: self.stall_timeout,
            };
            let opened = match ahead.take() {
                Some(audio) => Ok(Ok(audio)),
                None => {
                    tokio::time::timeout(
                        self.stall_timeout,
                        provider.synthesize(&sentence, self.rate),
                    )
                    .await
                }
            };
            let failure = match opened {
                Err(_) => Some(timeout(provider.as_ref())),
                Ok(Err(error)) => Some(error),
                Ok(Ok(mut stream)) => loop {
                    match tokio::time::timeout(self.stall_timeout, stream.next()).await {
                        Err(_) => break Some(timeout(provider.as_ref())),
                        Ok(None) => break None,
                        Ok(Some(Err(error))) => break Some(error),
                        Ok(Some(Ok(samples))) => {
                            if samples.is_empty() {
                                continue;
                            }
                            produced = true;
                            if self.first_audio_pending {
                                self.first_audio_pending = false;
                                out.down(SystemFrame::Metric(TurnMark::now(
                                    MarkKind::TtsFirstAudio,
                                )));
                            }
                            out.down(DataFrame::OutputAudio(AudioChunk::new(samples, self.rate)));
                        }
                    }
                },
            };
            let Some(error) = failure else {
                return;
            };
            tracing::warn!(%error, "text-to-speech failed");
            out.error(
                error.provider().to_owned(),
                error.to_string(),
                !has_fallback,
            );
            self.active += 1;
            if !has_fallback || produced {
                return;
            }
        }
    }

    async fn flush(&mut self, out: &Outbox) {
        while let Some(sentence) = take_sentence(&mut self.text) {
            self.speak(sentence, out).await;
        }
        let rest = std::mem::take(&mut self.text);
        self.speak(rest.trim().to_owned(), out).await;
    }
}

#[async_trait]
impl Processor for TtsProcessor {
    fn name(&self) -> &'static str {
        "tts"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match frame {
            Frame::System(SystemFrame::Start(params)) => {
                self.rate = params.output_rate;
                out.forward(frame, direction);
            }
            Frame::System(SystemFrame::Interruption) => {
                self.text.clear();
                self.in_response = false;
                self.prefetch = None;
                out.forward(frame, direction);
            }
            Frame::Data(DataFrame::DraftSentence(sentence)) => {
                // A draft for the next turn while a reply is still being spoken waits its turn.
                if let (false, Some(provider)) = (self.in_response, self.chain.get(self.active)) {
                    self.prefetch = Some(Prefetch::start(
                        sentence,
                        self.active,
                        provider.clone(),
                        self.rate,
                        self.stall_timeout,
                    ));
                }
            }
            Frame::Control(ControlFrame::LlmResponseStart) => {
                self.in_response = true;
                self.first_audio_pending = true;
                self.text.clear();
                out.forward(frame, direction);
            }
            Frame::Data(DataFrame::LlmText(text)) => {
                self.text.push_str(&text);
                while let Some(sentence) = take_sentence(&mut self.text) {
                    self.speak(sentence, out).await;
                }
            }
            Frame::Control(ControlFrame::LlmResponseEnd) => {
                self.flush(out).await;
                self.in_response = false;
                out.down(ControlFrame::TtsStopped);
            }
            Frame::Data(DataFrame::Speak(text)) => {
                // A filler inside a reply first flushes the reply's text so far.
                self.flush(out).await;
                self.speak(text, out).await;
                if !self.in_response {
                    out.down(ControlFrame::TtsStopped);
                }
            }
            other => out.forward(other, direction),
        }
        Ok(())
    }
}
