//! The HTTP client behind webhook tools: POST the call as JSON, give the JSON reply back.
//!
//! Tool URLs are the operator's, so they go through the guarded client (`egress`): no
//! redirects, no private addresses unless allowed, a bounded reply (H2).

use async_trait::async_trait;
use pipeline::tools::WebhookClient;
use serde_json::Value;

/// Posts tool calls through the guarded client; the tool's timeout is enforced by the pipeline.
#[derive(Debug, Clone)]
pub struct HttpWebhooks {
    client: egress::Egress,
}

impl HttpWebhooks {
    pub fn new(client: egress::Egress) -> Self {
        Self { client }
    }
}

#[async_trait]
impl WebhookClient for HttpWebhooks {
    async fn call(&self, url: &str, body: &Value) -> Result<Value, String> {
        let reply = self
            .client
            .post_json(url, &[], body)
            .await
            .map_err(|e| format!("webhook refused: {e}"))?;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        if !(200..300).contains(&reply.status) {
            return Err(format!(
                "webhook answered HTTP {}: {}",
                reply.status,
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
