//! The voice fleet as its callers reach it (the dialler, the Backend's test calls, `vox sim`).
//!
//! Free slots from each fleet's `/health/fleet` or from the capacity registry, and attach with
//! failover to the next worker on 429, garbage or timeout (through a reserved slot when there is a
//! registry).
//!
//! Without a registry it polls the fleet URLs (`FLEET_URLS`, each host's nginx or a worker); with
//! one it never polls: the registry says which worker has a free slot, reserves it atomically,
//! and the attach goes straight to that worker's URL.

use contracts::attach::{AttachAccepted, AttachRequest};
use contracts::health::FleetHealth;
use registry::{Claimant, Registry};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Why no worker took a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// Every worker answered 429 (or none answered well): the call waits for a slot. `reasons`
    /// says, per worker or fleet tried, why it did not take the call.
    #[error("no worker has a free slot ({tried} tried, {failed} failed)")]
    NoCapacity {
        tried: usize,
        failed: usize,
        reasons: Vec<String>,
    },
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
    /// The capacity registry, when the fleet is found through one instead of by polling.
    registry: Option<Arc<dyn Registry>>,
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
            registry: None,
        }
    }

    /// Finds free slots and workers through the capacity registry instead of the URLs.
    pub fn with_registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Free slots across the fleet: the sum over every fleet host (URL) whose `/health/fleet`
    /// answers, asked at once; a host that does not answer adds nothing. An error only when none
    /// answers.
    pub async fn available(&self) -> Result<u32, String> {
        if let Some(registry) = &self.registry {
            return registry
                .capacity(now_ms())
                .await
                .map(|capacity| capacity.free)
                .map_err(|e| e.to_string());
        }
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

    /// Attaches the call to the first worker that takes it: through the capacity registry when
    /// there is one, else starting from the next fleet URL in turn.
    pub async fn attach(&self, request: &AttachRequest) -> Result<AttachAccepted, AttachError> {
        if let Some(registry) = &self.registry {
            return self.attach_reserved(registry.as_ref(), request).await;
        }
        let n = self.urls.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut failed = 0;
        let mut reasons = Vec::new();
        for i in 0..n {
            if i > 0 {
                self.counters.attach_retries.fetch_add(1, Ordering::Relaxed);
            }
            let url = &self.urls[(start + i) % n];
            match self.post_attach(url, request).await {
                Posted::Accepted(accepted) => return Ok(accepted),
                Posted::Busy => reasons.push(format!("{url}: no free slot")),
                Posted::Failed(why) => {
                    failed += 1;
                    reasons.push(format!("{url}: {why}"));
                }
                Posted::Refused { status, body } => {
                    return Err(AttachError::Refused { status, body });
                }
            }
        }
        Err(AttachError::NoCapacity {
            tried: n,
            failed,
            reasons,
        })
    }

    /// A slot reserved in the registry, then the attach to its worker; a worker that turns out
    /// busy (its last heartbeat was older than its last call) gives the slot back and the next
    /// reservation goes elsewhere. An accepted call's slot stays confirmed until the worker's
    /// heartbeat counts the call itself.
    async fn attach_reserved(
        &self,
        registry: &dyn Registry,
        request: &AttachRequest,
    ) -> Result<AttachAccepted, AttachError> {
        let claimant = Claimant {
            campaign: request.campaign_id.map(|id| id.0.to_string()),
            client: request.client.clone(),
        };
        let mut failed = 0;
        let mut reasons = Vec::new();
        for attempt in 0..RESERVE_ATTEMPTS {
            if attempt > 0 {
                self.counters.attach_retries.fetch_add(1, Ordering::Relaxed);
            }
            let id = format!("call-{}-{attempt}", request.call_id.0);
            let now = now_ms();
            let slot = match registry
                .reserve(&id, &claimant, RESERVATION_TTL_MS, now)
                .await
            {
                Ok(Ok(slot)) => slot,
                Ok(Err(refusal)) => {
                    tracing::debug!(?refusal, "the registry has no slot for the call");
                    reasons.push(format!("the capacity registry: {refusal}"));
                    return Err(AttachError::NoCapacity {
                        tried: attempt,
                        failed,
                        reasons,
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "the capacity registry is unreachable");
                    self.counters.attach_errors.fetch_add(1, Ordering::Relaxed);
                    reasons.push(format!("the capacity registry is unreachable: {error}"));
                    return Err(AttachError::NoCapacity {
                        tried: attempt,
                        failed: failed + 1,
                        reasons,
                    });
                }
            };
            let posted = self.post_attach(&slot.url, request).await;
            if let Posted::Accepted(accepted) = posted {
                if let Err(error) = registry.confirm(&id, now + CONFIRMED_MS, now).await {
                    tracing::warn!(%error, "could not confirm the slot; it lapses by itself");
                }
                return Ok(accepted);
            }
            if let Err(error) = registry.release(&id).await {
                tracing::warn!(%error, "could not give the slot back; it lapses by itself");
            }
            match posted {
                Posted::Refused { status, body } => {
                    return Err(AttachError::Refused { status, body });
                }
                Posted::Failed(why) => {
                    failed += 1;
                    reasons.push(format!("{} ({}): {why}", slot.worker_id, slot.url));
                }
                Posted::Busy | Posted::Accepted(_) => {
                    reasons.push(format!("{} ({}): no free slot", slot.worker_id, slot.url))
                }
            }
        }
        Err(AttachError::NoCapacity {
            tried: RESERVE_ATTEMPTS,
            failed,
            reasons,
        })
    }

    /// One `POST {url}/attach`.
    async fn post_attach(&self, url: &str, request: &AttachRequest) -> Posted {
        let failed = |what: &str, error: &dyn std::fmt::Display| {
            tracing::warn!(url, %error, "attach {what}; trying the next worker");
            self.counters.attach_errors.fetch_add(1, Ordering::Relaxed);
            Posted::Failed(format!("attach {what}: {error}"))
        };
        let response = match self
            .http
            .post(format!("{url}/attach"))
            .bearer_auth(&self.secret)
            .json(request)
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) => return failed("failed", &e),
        };
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Posted::Busy;
        }
        if status.is_success() {
            return match response.json::<AttachAccepted>().await {
                Ok(accepted) => Posted::Accepted(accepted),
                Err(e) => failed("answered garbage", &e),
            };
        }
        let body = response.text().await.unwrap_or_default();
        if status.is_client_error() {
            return Posted::Refused {
                status: status.as_u16(),
                body,
            };
        }
        failed("got a server error", &status)
    }
}

/// What one attach request came to.
enum Posted {
    Accepted(AttachAccepted),
    Busy,
    Failed(String),
    Refused { status: u16, body: String },
}

/// Reservations tried for one call before it waits for the next tick.
const RESERVE_ATTEMPTS: usize = 3;
/// An unconfirmed reservation lapses after this (the worker's attach TTL is 10 s).
const RESERVATION_TTL_MS: u64 = 15_000;
/// An accepted call keeps its slot confirmed this long: past the worker's next heartbeats, which
/// count the call themselves.
const CONFIRMED_MS: u64 = 6_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
