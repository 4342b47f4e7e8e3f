//! OpenAI-compatible transcription per utterance.
//!
//! For OpenAI, Groq, and whisper.cpp and faster-whisper servers (vox-whisper among them).
//!
//! Wire protocol (<https://platform.openai.com/docs/api-reference/audio/createTranscription>):
//! `POST {base}/audio/transcriptions` as `multipart/form-data` with `file` (here a WAV of the
//! utterance), `model`, optional `language`, `response_format=json`; the answer is `{"text": …}`.
//! The VAD marks the utterance: audio is kept from a short pre-roll before speech starts until it
//! stops, then sent in one request.

use crate::http::Endpoint;
use async_trait::async_trait;
use audio::{SampleRate, wav};
use pipeline::{ProviderError, SpeechToText, SttEvent, SttInput, SttStream};
use serde_json::Value;
use std::collections::VecDeque;
use tokio::sync::mpsc;

/// Audio kept from before the VAD heard speech start (its start is reported late).
const PRE_ROLL_MS: u64 = 300;
/// Longest utterance sent in one request.
const MAX_UTTERANCE_SECS: u64 = 60;

/// A transcription endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiStt {
    pub endpoint: Endpoint,
    pub model: String,
    /// ISO 639-1 language, e.g. `en`.
    pub language: Option<String>,
}

impl OpenAiStt {
    pub fn new(endpoint: Endpoint, model: &str, language: Option<String>) -> Self {
        Self {
            endpoint,
            model: model.to_owned(),
            language,
        }
    }

    /// Transcribes one utterance.
    pub async fn transcribe(
        &self,
        samples: &[i16],
        rate: SampleRate,
    ) -> Result<String, ProviderError> {
        let endpoint = &self.endpoint;
        let file = wav::encode(rate, 1, samples).map_err(|e| endpoint.protocol(e.to_string()))?;
        let part = reqwest::multipart::Part::bytes(file)
            .file_name("utterance.wav")
            .mime_str("audio/wav")
            .map_err(|e| endpoint.protocol(e.to_string()))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("model", self.model.clone())
            .text("response_format", "json");
        if let Some(language) = &self.language {
            form = form.text("language", language.clone());
        }
        let mut builder = endpoint
            .client()?
            .post(endpoint.url("/audio/transcriptions"))
            .multipart(form);
        if let Some(key) = &endpoint.api_key {
            builder = builder.bearer_auth(key);
        }
        let response = endpoint.send(builder).await?;
        let body: Value = tokio::time::timeout(endpoint.timeout, response.json())
            .await
            .map_err(|_| endpoint.timed_out())?
            .map_err(|e| endpoint.protocol(format!("malformed reply: {e}")))?;
        body.get("text")
            .and_then(Value::as_str)
            .map(|t| t.trim().to_owned())
            .ok_or_else(|| endpoint.protocol("reply without \"text\""))
    }
}

#[async_trait]
impl SpeechToText for OpenAiStt {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    async fn open(&self, rate: SampleRate) -> Result<SttStream, ProviderError> {
        let (input_tx, mut input_rx) = mpsc::unbounded_channel::<SttInput>();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let this = self.clone();
        tokio::spawn(async move {
            let pre_roll = rate.samples_in_ms(PRE_ROLL_MS) as usize;
            let max = rate.samples_in_ms(MAX_UTTERANCE_SECS * 1000) as usize;
            let mut recent: VecDeque<i16> = VecDeque::with_capacity(pre_roll);
            let mut utterance: Option<Vec<i16>> = None;
            while let Some(input) = input_rx.recv().await {
                match input {
                    SttInput::Audio(samples) => match utterance.as_mut() {
                        Some(buffer) if buffer.len() < max => buffer.extend_from_slice(&samples),
                        Some(_) => {}
                        None => {
                            recent.extend(samples);
                            let excess = recent.len().saturating_sub(pre_roll);
                            recent.drain(..excess);
                        }
                    },
                    SttInput::SpeechStarted => utterance = Some(recent.drain(..).collect()),
                    SttInput::SpeechStopped => {
                        let Some(samples) = utterance.take() else {
                            continue;
                        };
                        match this.transcribe(&samples, rate).await {
                            Ok(text) => {
                                let _ = events_tx.send(Ok(SttEvent::Final(text)));
                            }
                            Err(error) => {
                                let _ = events_tx.send(Err(error));
                                return;
                            }
                        }
                    }
                }
            }
        });
        Ok(SttStream {
            input: input_tx,
            events: events_rx,
        })
    }
}
