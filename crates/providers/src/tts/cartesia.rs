//! Cartesia text-to-speech over its WebSocket, one context per sentence.
//!
//! Wire protocol (<https://docs.cartesia.ai/api-reference/tts/websocket>):
//! `GET wss://api.cartesia.ai/tts/websocket` with `X-API-Key` and `Cartesia-Version`; a generation
//! request `{"model_id", "transcript", "voice": {"mode": "id", "id"}, "language", "context_id",
//! "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate"}, "continue": false}`
//! answers `{"type": "chunk", "data": "<base64>", "done": false, "context_id"}` messages, then
//! `{"type": "done", "done": true}`; failures are `{"type": "error", "done": true, "status_code",
//! "error" | "title" + "message"}`. `timestamps` and `flush_done` messages carry nothing we use.

use crate::http::Endpoint;
use crate::tts::{PcmAssembler, WsStep, send_all, ws_audio};
use crate::ws::connect;
use async_trait::async_trait;
use audio::SampleRate;
use futures_util::stream::BoxStream;
use pipeline::{ProviderError, TextToSpeech};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

/// The API version this adapter speaks.
pub const CARTESIA_VERSION: &str = "2024-11-13";

static NEXT_CONTEXT: AtomicU64 = AtomicU64::new(1);

/// A Cartesia voice (`base_url` is `wss://api.cartesia.ai`).
#[derive(Debug, Clone)]
pub struct CartesiaTts {
    pub endpoint: Endpoint,
    pub voice_id: String,
    pub model: String,
    pub language: String,
}

impl CartesiaTts {
    pub fn new(endpoint: Endpoint, voice_id: &str, model: &str, language: &str) -> Self {
        Self {
            endpoint,
            voice_id: voice_id.to_owned(),
            model: model.to_owned(),
            language: language.to_owned(),
        }
    }
}

fn error_of(provider: &str, value: &Value) -> ProviderError {
    let message = value
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            let title = value.get("title").and_then(Value::as_str)?;
            let detail = value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Some(format!("{title}: {detail}"))
        })
        .unwrap_or_else(|| value.to_string());
    let provider = provider.to_owned();
    match value.get("status_code").and_then(Value::as_u64) {
        Some(401 | 403) => ProviderError::Auth { provider, message },
        Some(429) => ProviderError::RateLimited {
            provider,
            retry_after: None,
        },
        _ => ProviderError::Other { provider, message },
    }
}

#[async_trait]
impl TextToSpeech for CartesiaTts {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    async fn synthesize(
        &self,
        text: &str,
        rate: SampleRate,
    ) -> Result<BoxStream<'static, Result<Vec<i16>, ProviderError>>, ProviderError> {
        let provider = self.endpoint.name.clone();
        let url = format!("{}/tts/websocket", self.endpoint.base_url);
        let mut headers = vec![("cartesia-version", CARTESIA_VERSION.to_owned())];
        if let Some(key) = &self.endpoint.api_key {
            headers.push(("x-api-key", key.clone()));
        }
        let mut socket = connect(&provider, &url, &headers, self.endpoint.timeout).await?;
        let context_id = format!("vox-{}", NEXT_CONTEXT.fetch_add(1, Ordering::Relaxed));
        let request = json!({
            "model_id": self.model,
            "transcript": text,
            "voice": { "mode": "id", "id": self.voice_id },
            "language": self.language,
            "context_id": context_id,
            "output_format": { "container": "raw", "encoding": "pcm_s16le", "sample_rate": rate.hz() },
            "continue": false,
        });
        send_all(&mut socket, vec![request]).await;
        let assembler = PcmAssembler::new(&provider, rate, rate)?;
        Ok(ws_audio(socket, provider, assembler, read, false))
    }
}

/// One server message: a chunk, the end of the context, an error, or something we do not use.
fn read(provider: &str, value: &Value) -> WsStep {
    match value.get("type").and_then(Value::as_str) {
        Some("chunk") => match value.get("data").and_then(Value::as_str) {
            Some(data) => WsStep::Audio(data.to_owned()),
            None => WsStep::Fail(ProviderError::Protocol {
                provider: provider.to_owned(),
                message: "chunk without data".to_owned(),
            }),
        },
        Some("done") => WsStep::Done,
        Some("error") => WsStep::Fail(error_of(provider, value)),
        _ => WsStep::Skip,
    }
}
