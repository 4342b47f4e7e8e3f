//! A reply the LLM starts on a draft of the caller's turn, before the turn is final.
//!
//! The draft's request runs in its own task, its events buffered, while the turn model decides
//! (or while an unfinished-sounding turn waits). When the final turn asks exactly the same request
//! of the same provider, the reply is read from the buffer, so the model's time to first token
//! overlaps the decision instead of following it. Anything else (the caller went on, the context
//! changed) drops the draft; dropping it aborts the request. With `speak` (`turn.speak_drafts`),
//! the reply's first sentence goes down to the TTS as a `DraftSentence` as soon as the model has
//! said it, so its audio can be made while the turn is judged.

use crate::frame::DataFrame;
use crate::services::{LanguageModel, LlmEvent, LlmRequest, ProviderError};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

type Events = mpsc::UnboundedReceiver<Result<LlmEvent, ProviderError>>;

/// A request started early, and what it has answered so far.
#[derive(Debug)]
pub(crate) struct Draft {
    /// The index of the provider in the chain it was sent to.
    provider: usize,
    request: LlmRequest,
    events: Option<Events>,
    /// Aborted when the draft is dropped, detached when its reply is used.
    task: Option<JoinHandle<()>>,
}

impl Drop for Draft {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Draft {
    /// Sends `request` to `model` (the chain's `provider`th) now; `stall` bounds its start.
    /// `speak` is where the first sentence goes, when it should.
    pub(crate) fn start(
        provider: usize,
        model: Arc<dyn LanguageModel>,
        request: LlmRequest,
        stall: Duration,
        speak: Option<crate::processor::Outbox>,
    ) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let sent = request.clone();
        let task = tokio::spawn(async move {
            match tokio::time::timeout(stall, model.stream(&sent)).await {
                Err(_) => {
                    let _ = tx.send(Err(ProviderError::Timeout {
                        provider: model.name().to_owned(),
                        after: stall,
                    }));
                }
                Ok(Err(error)) => {
                    let _ = tx.send(Err(error));
                }
                Ok(Ok(mut stream)) => {
                    let mut first = speak.map(|out| (out, String::new()));
                    while let Some(event) = stream.next().await {
                        if let (Some((out, text)), Ok(LlmEvent::Text(piece))) = (&mut first, &event)
                        {
                            text.push_str(piece);
                            if let Some(sentence) = super::tts::take_sentence(text) {
                                out.down(DataFrame::DraftSentence(sentence));
                                first = None;
                            }
                        }
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                    // A one-sentence reply ends without the space that closes a sentence.
                    if let Some((out, text)) = first
                        && !text.trim().is_empty()
                    {
                        out.down(DataFrame::DraftSentence(text.trim().to_owned()));
                    }
                }
            }
        });
        Self {
            provider,
            request,
            events: Some(events),
            task: Some(task),
        }
    }

    /// The draft's reply as a stream, when `request` to the `provider`th model is the one it
    /// started; `None` (and the draft is dropped) otherwise.
    pub(crate) fn into_stream(
        mut self,
        provider: usize,
        request: &LlmRequest,
    ) -> Option<BoxStream<'static, Result<LlmEvent, ProviderError>>> {
        if self.provider != provider || self.request != *request {
            return None;
        }
        let events = self.events.take()?;
        // The task must finish its stream: detached, not aborted.
        self.task = None;
        Some(
            futures_util::stream::unfold(events, |mut events| async move {
                events.recv().await.map(|event| (event, events))
            })
            .boxed(),
        )
    }
}
