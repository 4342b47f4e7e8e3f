//! What the HTTP adapters share.
//!
//! An endpoint (base URL, key, timeout) and the mapping of HTTP failures to `ProviderError`.

use pipeline::ProviderError;
use reqwest::{Response, StatusCode};
use std::time::Duration;

/// Where a vendor is reached and how.
#[derive(Clone)]
pub struct Endpoint {
    /// The provider's name in errors and logs (`openai`, `groq`, …).
    pub name: String,
    /// Base URL without a trailing slash (`https://api.openai.com/v1`).
    pub base_url: String,
    pub api_key: Option<String>,
    /// Connect and first-byte timeout.
    pub timeout: Duration,
    /// A client shared across calls (`ProviderEnv::http`); `None` builds one per request.
    pub http: Option<reqwest::Client>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

impl Endpoint {
    pub fn new(name: &str, base_url: &str, api_key: Option<String>) -> Self {
        Self {
            name: name.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            timeout: Duration::from_secs(10),
            http: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The shared client when the process gave one (its keep-alive pool and TLS setup serve every
    /// call), else a client of this endpoint's own.
    pub(crate) fn client(&self) -> Result<reqwest::Client, ProviderError> {
        if let Some(client) = &self.http {
            return Ok(client.clone());
        }
        reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| self.connection(e.to_string()))
    }

    pub(crate) fn connection(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::Connection {
            provider: self.name.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn protocol(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::Protocol {
            provider: self.name.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn timed_out(&self) -> ProviderError {
        ProviderError::Timeout {
            provider: self.name.clone(),
            after: self.timeout,
        }
    }

    /// Maps a transport error of reqwest.
    pub(crate) fn request_error(&self, error: reqwest::Error) -> ProviderError {
        if error.is_timeout() {
            self.timed_out()
        } else if error.is_decode() || error.is_body() {
            self.protocol(error.to_string())
        } else {
            self.connection(error.to_string())
        }
    }

    /// Sends a request under the endpoint's timeout and turns an error status into a `ProviderError`.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let response = tokio::time::timeout(self.timeout, request.send())
            .await
            .map_err(|_| self.timed_out())?
            .map_err(|e| self.request_error(e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.text().await.unwrap_or_default();
        Err(status_error(&self.name, status, retry_after, &body))
    }
}

/// The `Retry-After` header in seconds, if present and numeric.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .map(Duration::from_secs_f64)
}

/// A vendor's error message from its JSON error body, or the body itself.
pub(crate) fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.pointer("/message"))
                .or_else(|| v.pointer("/err_msg"))
                .or_else(|| v.pointer("/error"))
                .or_else(|| v.pointer("/detail/message"))
                .or_else(|| v.pointer("/detail"))
        })
        .and_then(|m| m.as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// The typed error for an HTTP error status.
pub(crate) fn status_error(
    provider: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> ProviderError {
    let provider = provider.to_owned();
    let message = format!("HTTP {}: {}", status.as_u16(), error_message(body));
    match status.as_u16() {
        401 | 403 => ProviderError::Auth { provider, message },
        429 => ProviderError::RateLimited {
            provider,
            retry_after,
        },
        408 | 504 => ProviderError::Timeout {
            provider,
            after: Duration::ZERO,
        },
        400..=499 => ProviderError::Protocol { provider, message },
        _ => ProviderError::Other { provider, message },
    }
}
