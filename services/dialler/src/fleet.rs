//! The dialler's client of the voice fleet: free slots from `/health/fleet`, and attach with failover to the next worker on 429, garbage or timeout.

use contracts::attach::{AttachAccepted, AttachRequest};
use contracts::health::FleetHealth;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Why no worker took a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// Every worker answered 429 (or none answered well): the call waits for a slot.
    #[error("no worker has a free slot ({tried} tried, {failed} failed)")]
    NoCapacity { tried: usize, failed: usize },
    /// A worker refused the call itself (unknown call, bad request): another worker would too.
    #[error("the fleet refused the call: {status} {body}")]
    Refused { status: u16, body: String },
}

/// Counters the dialler's metrics report.
#[derive(Debug, Default)]
pub struct FleetCounters {
    /// Attach requests that went on to another worker (429, error, garbage, timeout).
    pub attach_retries: AtomicUsize,
    /// Attach requests that failed for a reason other than 429.
    pub attach_errors: AtomicUsize,
}

/// The fleet as the dialler reaches it: one or more base URLs (workers, or nginx in front of them).
#[derive(Debug)]
pub struct FleetClient {
    urls: Vec<String>,
    secret: String,
    http: reqwest::Client,
    next: AtomicUsize,
    pub counters: FleetCounters,
}

impl FleetClient {
    pub fn new(urls: Vec<String>, secret: String, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            urls: urls
                .into_iter()
                .map(|u| u.trim_end_matches('/').to_owned())
                .collect(),
            secret,
            http,
            next: AtomicUsize::new(0),
            counters: FleetCounters::default(),
        }
    }

    /// Free slots across the fleet: the sum over every fleet host (URL) whose `/health/fleet`
    /// answers, asked at once; a host that does not answer adds nothing. An error only when none
    /// answers.
    pub async fn available(&self) -> Result<u32, String> {
        if self.urls.is_empty() {
            return Err("no fleet URL is configured".to_owned());
        }
        let answers =
            futures_util::future::join_all(self.urls.iter().map(|url| self.fleet_health(url)))
                .await;
        let mut free = None;
        let mut last = String::new();
        for answer in answers {
            match answer {
                Ok(health) => *free.get_or_insert(0u32) += health.fleet_available,
                Err(e) => {
                    tracing::warn!(error = %e, "a fleet did not answer its health; counting it as full");
                    last = e;
                }
            }
        }
        free.ok_or(last)
    }

    async fn fleet_health(&self, url: &str) -> Result<FleetHealth, String> {
        let response = self
            .http
            .get(format!("{url}/health/fleet"))
            .send()
            .await
            .map_err(|e| format!("{url}/health/fleet: {e}"))?;
        response
            .json::<FleetHealth>()
            .await
            .map_err(|e| format!("{url}/health/fleet answered garbage: {e}"))
    }

    /// Attaches the call to the first worker that takes it, starting from the next URL in turn.
    pub async fn attach(&self, request: &AttachRequest) -> Result<AttachAccepted, AttachError> {
        let n = self.urls.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut failed = 0;
        for i in 0..n {
            if i > 0 {
                self.counters.attach_retries.fetch_add(1, Ordering::Relaxed);
            }
            let url = &self.urls[(start + i) % n];
            let response = match self
                .http
                .post(format!("{url}/attach"))
                .bearer_auth(&self.secret)
                .json(request)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(url, error = %e, "attach failed; trying the next worker");
                    failed += 1;
                    self.counters.attach_errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let status = response.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                continue;
            }
            if status.is_success() {
                match response.json::<AttachAccepted>().await {
                    Ok(accepted) => return Ok(accepted),
                    Err(e) => {
                        tracing::warn!(url, error = %e, "attach answered garbage; trying the next worker");
                        failed += 1;
                        self.counters.attach_errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
            let body = response.text().await.unwrap_or_default();
            if status.is_client_error() {
                return Err(AttachError::Refused {
                    status: status.as_u16(),
                    body,
                });
            }
            tracing::warn!(url, %status, "attach got a server error; trying the next worker");
            failed += 1;
            self.counters.attach_errors.fetch_add(1, Ordering::Relaxed);
        }
        Err(AttachError::NoCapacity { tried: n, failed })
    }
}
