//! The HTTP client behind webhook tools: POST the call as JSON, give the JSON reply back.

use async_trait::async_trait;
use pipeline::tools::WebhookClient;
use serde_json::Value;

/// Posts tool calls with reqwest; the tool's timeout is enforced by the pipeline.
#[derive(Debug, Clone, Default)]
pub struct HttpWebhooks {
    client: reqwest::Client,
}

impl HttpWebhooks {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl WebhookClient for HttpWebhooks {
    async fn call(&self, url: &str, body: &Value) -> Result<Value, String> {
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("webhook unreachable: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("webhook reply unreadable: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "webhook answered HTTP {}: {}",
                status.as_u16(),
                text.chars().take(200).collect::<String>()
            ));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        // A reply that is not JSON is given to the model as text.
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}
