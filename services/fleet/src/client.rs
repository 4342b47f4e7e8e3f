//! The worker's calls to the Backend.
//!
//! The runtime config (contract 1), the call result (contract 2) and a live call's knowledge
//! search, all with the fleet secret.

use contracts::CallId;
use contracts::runtime_config::RuntimeConfig;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How a delivery failed: worth retrying, or refused for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("will retry: {0}")]
    Transient(String),
    #[error("refused: {0}")]
    Permanent(String),
}

/// Why the runtime config could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The Backend does not know the call.
    #[error("the Backend does not know this call: {0}")]
    UnknownCall(String),
    /// The Backend refused the request (a 4xx other than 404).
    #[error("the Backend refused the config request: {0}")]
    Refused(String),
    /// The Backend could not be reached or failed (after retries), or answered garbage.
    #[error("the runtime config is unavailable: {0}")]
    Unavailable(String),
}

/// A client for the Backend's fleet routes.
#[derive(Debug, Clone)]
pub struct BridgeClient {
    http: reqwest::Client,
    config_url: String,
    bridge_url: String,
    secret: SecretString,
    /// Sent with each config request, so the call's record names its worker.
    worker_id: Option<String>,
}

impl BridgeClient {
    pub fn new(config_url: &str, bridge_url: &str, secret: SecretString) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(15))
            .build()
            .expect("a reqwest client with timeouts builds");
        Self {
            http,
            config_url: config_url.to_owned(),
            bridge_url: bridge_url.trim_end_matches('/').to_owned(),
            secret,
            worker_id: None,
        }
    }

    /// The config URL with the call's id and this worker's name in its query.
    fn config_request_url(&self, call_id: CallId) -> String {
        let mut params = vec![("call_id", call_id.0.to_string())];
        if let Some(worker) = &self.worker_id {
            params.push(("worker_id", worker.clone()));
        }
        match reqwest::Url::parse_with_params(&self.config_url, &params) {
            Ok(url) => url.into(),
            Err(_) => format!("{}?call_id={}", self.config_url, call_id.0),
        }
    }

    /// Names this worker in its config requests.
    pub fn with_worker_id(mut self, worker_id: &str) -> Self {
        self.worker_id = Some(worker_id.to_owned());
        self
    }

    /// `GET {config_url}?call_id=…&worker_id=…`, tried three times over about two seconds.
    pub async fn runtime_config(&self, call_id: CallId) -> Result<RuntimeConfig, ConfigError> {
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt * attempt))).await;
            }
            let response = self
                .http
                .get(self.config_request_url(call_id))
                .bearer_auth(self.secret.expose_secret())
                .send()
                .await;
            match response {
                Ok(r) if r.status().is_success() => {
                    return r.json::<RuntimeConfig>().await.map_err(|e| {
                        ConfigError::Unavailable(format!("the runtime config is malformed: {e}"))
                    });
                }
                Ok(r) if r.status().is_client_error() => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    return Err(if status.as_u16() == 404 {
                        ConfigError::UnknownCall(body)
                    } else {
                        ConfigError::Refused(format!("{status}: {body}"))
                    });
                }
                Ok(r) => last = format!("the Backend answered {}", r.status()),
                Err(e) => last = format!("the Backend is unreachable: {e}"),
            }
        }
        Err(ConfigError::Unavailable(last))
    }

    /// `POST {bridge}/api/v1/calls/{id}/transfer`: the telephony edge moves the caller to `to`
    /// through the carrier. Said before the media closes, so the carrier has the new
    /// instructions when the stream ends.
    pub async fn transfer(&self, call_id: CallId, to: &str) -> Result<(), String> {
        self.call_verb(call_id, "transfer", serde_json::json!({ "to": to }))
            .await
    }

    /// `POST {bridge}/api/v1/calls/{id}/digits`: the telephony edge presses `digits` on the call
    /// with its carrier's own verb. An error (a carrier without one answers 422) says why.
    pub async fn send_digits(&self, call_id: CallId, digits: &str) -> Result<(), String> {
        self.call_verb(call_id, "digits", serde_json::json!({ "digits": digits }))
            .await
    }

    /// `POST {bridge}/api/v1/calls/{id}/{verb}` with `body`, the fleet secret as Bearer.
    async fn call_verb(
        &self,
        call_id: CallId,
        verb: &str,
        body: serde_json::Value,
    ) -> Result<(), String> {
        let url = format!("{}/api/v1/calls/{}/{verb}", self.bridge_url, call_id.0);
        let response = self
            .http
            .post(url)
            .bearer_auth(self.secret.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("the Backend is unreachable: {e}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(format!(
            "the Backend answered {status}: {}",
            response.text().await.unwrap_or_default()
        ))
    }

    /// Whether the Backend answers its `GET /health` with 200 now.
    pub async fn backend_up(&self) -> bool {
        let health = self
            .http
            .get(format!("{}/health", self.bridge_url))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        health.is_ok_and(|response| response.status().is_success())
    }

    /// `POST {bridge}/api/v1/calls/{id}/result` with the stored JSON document.
    pub async fn post_result(&self, call_id: CallId, document: &[u8]) -> Result<(), DeliveryError> {
        let url = format!("{}/api/v1/calls/{}/result", self.bridge_url, call_id.0);
        let response = self
            .http
            .post(url)
            .bearer_auth(self.secret.expose_secret())
            .header("content-type", "application/json")
            .body(document.to_vec())
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("the Backend is unreachable: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let message = format!("the Backend answered {status}: {body}");
        // 401 may be a secret being rotated and 408/429 are load: keep trying those.
        if status.is_client_error() && !matches!(status.as_u16(), 401 | 408 | 429) {
            Err(DeliveryError::Permanent(message))
        } else {
            Err(DeliveryError::Transient(message))
        }
    }
}

/// One call's knowledge search, through the Backend (`POST /api/v1/knowledge/search`): what the
/// `search_knowledge` tool runs. The model gets each passage's text and source.
#[derive(Debug, Clone)]
pub struct CallKnowledge {
    client: BridgeClient,
    call_id: CallId,
}

impl CallKnowledge {
    pub fn new(client: BridgeClient, call_id: CallId) -> Self {
        Self { client, call_id }
    }
}

#[async_trait::async_trait]
impl pipeline::tools::KnowledgeClient for CallKnowledge {
    async fn search(
        &self,
        query: &str,
        knowledge_bases: &[i64],
        top_k: u32,
    ) -> Result<serde_json::Value, String> {
        let url = format!("{}/api/v1/knowledge/search", self.client.bridge_url);
        let response = self
            .client
            .http
            .post(url)
            .bearer_auth(self.client.secret.expose_secret())
            .json(&serde_json::json!({
                "call_id": self.call_id,
                "query": query,
                "knowledge_base_ids": knowledge_bases,
                "top_k": top_k,
            }))
            .send()
            .await
            .map_err(|e| format!("the knowledge base is unreachable: {}", e.without_url()))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("the knowledge search answered garbage: {}", e.without_url()))?;
        if !status.is_success() {
            let why = body["error"]["message"]
                .as_str()
                .unwrap_or("no reason given");
            return Err(format!("the knowledge search failed ({status}): {why}"));
        }
        let passages: Vec<serde_json::Value> = body["passages"]
            .as_array()
            .map(|found| {
                found
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "text": p["text"],
                            "source": p["document_name"],
                            "document_id": p["document_id"],
                            "chunk_id": p["chunk_id"],
                            "similarity": p["similarity"],
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(serde_json::json!({ "passages": passages }))
    }
}
