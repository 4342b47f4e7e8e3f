//! The words' end-of-turn check for `smart` mode: the host's `vox-llm` says how likely the caller's
//! words end the turn.
//!
//! The sidecar's `POST /v1/end-of-turn` (`{"text"}` → `{"probability"}`) asks its small chat model
//! how likely the user's message ends where it stops, as LiveKit's turn detector does
//! (<https://docs.livekit.io/agents/build/turns/turn-detector/>). The words are first normalised
//! the way LiveKit's detector normalises them (lower case, no punctuation but apostrophes and
//! hyphens), so what the STT chose to punctuate does not decide. Words that end on a comma or on a
//! word no sentence ends on are unfinished without asking ([`PunctuationEndOfTurn`]). A sidecar
//! that fails or is slower than `timeout` leaves that rule alone to decide, and the call goes on.

use crate::http::Endpoint;
use async_trait::async_trait;
use pipeline::processors::{EndOfTurn, PunctuationEndOfTurn};
use std::time::Duration;

/// The language model's end-of-turn check over the local sidecar.
#[derive(Debug, Clone)]
pub struct SidecarEndOfTurn {
    endpoint: Endpoint,
    /// The probability at or above which the words read as finished.
    pub threshold: f32,
}

impl SidecarEndOfTurn {
    /// The bar chosen on `bench/turns/dev.txt` (docs/benchmarks.md, turn accuracy): the lowest
    /// that answered no finished turn late there.
    pub const THRESHOLD: f32 = 0.005;
    /// Longest wait for the sidecar's answer; the words rule decides after it.
    pub const TIMEOUT: Duration = Duration::from_millis(600);

    /// The sidecar at `base_url` (its OpenAI base, `http://127.0.0.1:8179/v1`), through `http`
    /// when the process shares a client.
    pub fn new(base_url: &str, http: Option<reqwest::Client>) -> Self {
        let mut endpoint = Endpoint::new("llama", base_url, None);
        endpoint.timeout = Self::TIMEOUT;
        endpoint.http = http;
        Self {
            endpoint,
            threshold: Self::THRESHOLD,
        }
    }

    /// The words as the model reads them: lower case, without punctuation but `'` and `-`.
    pub fn normalise(text: &str) -> String {
        let kept: String = text
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '\'' || c == '-' {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        kept.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The sidecar's probability that `text` (normalised) ends the turn.
    pub async fn probability(&self, text: &str) -> Result<f32, pipeline::ProviderError> {
        let client = self.endpoint.client()?;
        let request = client
            .post(self.endpoint.url("/end-of-turn"))
            .json(&serde_json::json!({ "text": Self::normalise(text) }))
            .send();
        let response = tokio::time::timeout(self.endpoint.timeout, async {
            let response = request
                .await
                .map_err(|e| self.endpoint.connection(e.to_string()))?;
            if !response.status().is_success() {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                return Err(self.endpoint.protocol(format!("{status}: {body}")));
            }
            response
                .json::<serde_json::Value>()
                .await
                .map_err(|e| self.endpoint.protocol(e.to_string()))
        })
        .await
        .map_err(|_| self.endpoint.timed_out())??;
        response["probability"]
            .as_f64()
            .map(|p| p as f32)
            .ok_or_else(|| {
                self.endpoint
                    .protocol(format!("no probability in {response}"))
            })
    }
}

#[async_trait]
impl EndOfTurn for SidecarEndOfTurn {
    async fn is_complete(&self, text: &str) -> bool {
        if !PunctuationEndOfTurn::reads_complete(text) {
            return false;
        }
        if Self::normalise(text).is_empty() {
            return true;
        }
        match self.probability(text).await {
            Ok(p) => p >= self.threshold,
            Err(error) => {
                tracing::warn!(%error, "the end-of-turn check failed; the words rule decides");
                true
            }
        }
    }
}
