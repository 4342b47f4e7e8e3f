//! OpenAI-compatible speech over HTTP, streamed as raw PCM.
//!
//! Wire protocol (<https://platform.openai.com/docs/api-reference/audio/createSpeech>):
//! `POST {base}/audio/speech` with `{"model", "input", "voice", "response_format": "pcm"}` answers
//! a chunked body of raw 24 kHz 16-bit little-endian mono samples, resampled here to the call's rate.

use crate::http::Endpoint;
use crate::tts::PcmAssembler;
use async_trait::async_trait;
use audio::SampleRate;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, stream};
use pipeline::{ProviderError, TextToSpeech};
use serde_json::json;

/// The rate of `response_format: pcm`.
const PCM_RATE: SampleRate = SampleRate::Hz24000;

/// A speech endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiTts {
    pub endpoint: Endpoint,
    pub model: String,
    pub voice: String,
}

impl OpenAiTts {
    pub fn new(endpoint: Endpoint, model: &str, voice: &str) -> Self {
        Self {
            endpoint,
            model: model.to_owned(),
            voice: voice.to_owned(),
        }
    }
}

#[async_trait]
impl TextToSpeech for OpenAiTts {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    async fn synthesize(
        &self,
        text: &str,
        rate: SampleRate,
    ) -> Result<BoxStream<'static, Result<Vec<i16>, ProviderError>>, ProviderError> {
        let endpoint = &self.endpoint;
        let body = json!({ "model": self.model, "input": text, "voice": self.voice, "response_format": "pcm" });
        let mut builder = endpoint
            .client()?
            .post(endpoint.url("/audio/speech"))
            .json(&body);
        if let Some(key) = &endpoint.api_key {
            builder = builder.bearer_auth(key);
        }
        let response = endpoint.send(builder).await?;
        let assembler = PcmAssembler::new(&endpoint.name, PCM_RATE, rate)?;
        let state = (
            response.bytes_stream(),
            assembler,
            endpoint.name.clone(),
            false,
        );
        Ok(stream::unfold(
            state,
            |(mut body, mut assembler, provider, done)| async move {
                if done {
                    return None;
                }
                match body.next().await {
                    Some(Ok(bytes)) => Some((
                        Ok(assembler.push(&bytes)),
                        (body, assembler, provider, false),
                    )),
                    Some(Err(e)) => {
                        let error = ProviderError::Connection {
                            provider: provider.clone(),
                            message: e.to_string(),
                        };
                        Some((Err(error), (body, assembler, provider, true)))
                    }
                    None => Some((Ok(assembler.finish()), (body, assembler, provider, true))),
                }
            },
        )
        .boxed())
    }
}
