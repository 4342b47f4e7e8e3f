//! A reply the LLM starts on a draft of the caller's turn, before the turn is final.
//!
//! The draft's request runs in its own task, its events buffered, while the turn model decides
//! (or while an unfinished-sounding turn waits). When the final turn asks exactly the same request
//! of the same provider, the reply is read from the buffer, so the model's time to first token
//! overlaps the decision instead of following it. Anything else (the caller went on, the context
//! changed) drops the draft; dropping it aborts the request. With `speak` (`turn.speak_drafts`),
//! the reply's first sentence goes down to the TTS as a `DraftSentence` as soon as the model has
//! said it, so its audio can be made while the turn is judged.

use super::ahead::Ahead;
use crate::frame::DataFrame;
use crate::services::{LanguageModel, LlmEvent, LlmRequest, ProviderError};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::sync::Arc;
use std::time::Duration;

/// A request started early, and what it has answered so far.
#[derive(Debug)]
pub(crate) struct Draft {
    /// The index of the provider in the chain it was sent to.
    provider: usize,
    request: LlmRequest,
    reply: Ahead<Result<LlmEvent, ProviderError>>,
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
        let sent = request.clone();
        let reply = Ahead::spawn(|tx| async move {
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
            reply,
        }
    }

    /// The draft's reply as a stream, when `request` to the `provider`th model is the one it
    /// started; `None` (and the draft is dropped) otherwise.
    pub(crate) fn into_stream(
        self,
        provider: usize,
        request: &LlmRequest,
    ) -> Option<BoxStream<'static, Result<LlmEvent, ProviderError>>> {
        (self.provider == provider && self.request == *request).then(|| self.reply.into_stream())
    }
}
