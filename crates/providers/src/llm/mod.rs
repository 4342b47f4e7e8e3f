//! Chat LLMs: OpenAI-compatible chat completions and Anthropic Messages.
//!
//! The OpenAI-compatible client serves OpenAI, Groq, vLLM, llama.cpp's server, Ollama and vox-llm.

pub mod anthropic;
pub mod openai;

pub use anthropic::AnthropicLlm;
pub use openai::OpenAiLlm;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use pipeline::{LlmEvent, ProviderError};

/// Decodes a vendor's Server-Sent Events into LLM events.
pub(crate) trait SseDecoder: Send + 'static {
    /// What ends a complete stream (named in the error when the stream stops short of it).
    const END: &'static str;
    /// One event (`name` is its `event:` field, often empty).
    fn event(
        &mut self,
        provider: &str,
        name: &str,
        data: &str,
    ) -> Result<Vec<LlmEvent>, ProviderError>;
    /// Whether the stream said it is complete.
    fn finished(&self) -> bool;
}

/// A response's event stream as LLM events; ends after the first error.
pub(crate) fn sse_stream<D: SseDecoder>(
    response: reqwest::Response,
    provider: String,
    decoder: D,
) -> BoxStream<'static, Result<LlmEvent, ProviderError>> {
    let state = (
        response.bytes_stream().eventsource(),
        decoder,
        provider,
        false,
    );
    stream::unfold(
        state,
        |(mut events, mut decoder, provider, stopped)| async move {
            if stopped {
                return None;
            }
            loop {
                let outcome = match events.next().await {
                    None if decoder.finished() => return None,
                    None => Err(ProviderError::Protocol {
                        provider: provider.clone(),
                        message: format!("stream ended before {}", D::END),
                    }),
                    Some(Err(error)) => Err(ProviderError::Connection {
                        provider: provider.clone(),
                        message: error.to_string(),
                    }),
                    Some(Ok(event)) => decoder.event(&provider, &event.event, &event.data),
                };
                match outcome {
                    Ok(batch) if batch.is_empty() => {
                        if decoder.finished() {
                            return None;
                        }
                    }
                    Ok(batch) => {
                        let batch: Vec<_> = batch.into_iter().map(Ok).collect();
                        return Some((batch, (events, decoder, provider, false)));
                    }
                    Err(error) => {
                        return Some((vec![Err(error)], (events, decoder, provider, true)));
                    }
                }
            }
        },
    )
    .flat_map(stream::iter)
    .boxed()
}
