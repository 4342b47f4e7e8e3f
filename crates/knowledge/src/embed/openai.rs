//! Any OpenAI-compatible embeddings endpoint: OpenAI, vLLM, Ollama, llama.cpp's server, TEI.
//!
//! `POST {base}/embeddings` with `{model, input: [..]}`, answered with `data[i].embedding` by
//! `index` (https://platform.openai.com/docs/api-reference/embeddings/create).

use super::{EmbedError, Embedder, normalize};
use serde::Deserialize;
use std::time::Duration;

/// Texts sent in one request (OpenAI accepts up to 2,048 inputs; smaller requests fail smaller).
const BATCH: usize = 128;

/// The endpoint, its model, the key and the vector size the model gives.
pub struct OpenAiEmbeddings {
    base_url: String,
    model: String,
    api_key: Option<String>,
    dimensions: usize,
    http: reqwest::Client,
}

impl std::fmt::Debug for OpenAiEmbeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbeddings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Reply {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbeddings {
    /// `base_url` is the API root (`https://api.openai.com/v1`); `dimensions` what the model
    /// returns (1536 for `text-embedding-3-small`), checked on every reply.
    pub fn new(
        base_url: &str,
        model: &str,
        api_key: Option<String>,
        dimensions: usize,
        timeout: Duration,
    ) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            api_key,
            dimensions,
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap_or_default(),
        }
    }

    async fn batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut request = self
            .http
            .post(format!("{}/embeddings", self.base_url))
            .json(&serde_json::json!({ "model": self.model, "input": texts }));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| EmbedError::Endpoint(e.without_url().to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(EmbedError::Auth {
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let body: String = body.chars().take(300).collect();
            return Err(EmbedError::Endpoint(format!("{status}: {body}")));
        }
        let reply: Reply = response
            .json()
            .await
            .map_err(|e| EmbedError::Protocol(e.without_url().to_string()))?;
        let mut vectors = vec![None; texts.len()];
        for item in reply.data {
            if item.embedding.len() != self.dimensions {
                return Err(EmbedError::Protocol(format!(
                    "a vector of {} numbers where the model gives {}",
                    item.embedding.len(),
                    self.dimensions
                )));
            }
            let slot = vectors.get_mut(item.index).ok_or_else(|| {
                EmbedError::Protocol(format!("index {} for {} inputs", item.index, texts.len()))
            })?;
            let mut vector = item.embedding;
            normalize(&mut vector);
            *slot = Some(vector);
        }
        vectors
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| EmbedError::Protocol(format!("no vector for input {i}"))))
            .collect()
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbeddings {
    fn model(&self) -> &str {
        &self.model
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            out.extend(self.batch(batch).await?);
        }
        Ok(out)
    }
}
