//! `GET /health/fleet`: every worker on the host asked for its health, in parallel.
//!
//! Workers are found by Unix socket path or glob, or `http://` URL; the ones that do not answer are
//! reported.

use crate::config::Listen;
use contracts::health::{FleetHealth, FleetWorker, WorkerHealth};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use std::path::Path;
use std::time::Duration;

const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Expands globs; keeps plain paths and URLs as given (a missing socket is reported, not dropped).
fn endpoints(patterns: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for pattern in patterns {
        if pattern.starts_with("http://") || !pattern.contains(['*', '?', '[']) {
            out.push(pattern.clone());
            continue;
        }
        let mut found: Vec<String> = glob::glob(pattern)
            .into_iter()
            .flatten()
            .flatten()
            .map(|p| p.display().to_string())
            .collect();
        found.sort();
        out.extend(found);
    }
    out.dedup();
    out
}

/// `GET /health` over a Unix socket.
async fn ask_unix(path: &Path) -> Result<WorkerHealth, String> {
    let stream = tokio::net::UnixStream::connect(path)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    let request = hyper::Request::get("/health")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("answered {status}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("malformed health: {e}"))
}

async fn ask_http(url: &str) -> Result<WorkerHealth, String> {
    let response = reqwest::Client::new()
        .get(format!("{}/health", url.trim_end_matches('/')))
        .timeout(ASK_TIMEOUT)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("answered {}", response.status()));
    }
    response
        .json()
        .await
        .map_err(|e| format!("malformed health: {e}"))
}

/// The host's aggregate. This worker answers for itself without a request.
pub async fn aggregate(patterns: &[String], listen: &Listen, own: WorkerHealth) -> FleetHealth {
    let mut list = endpoints(patterns);
    let own_endpoint = match listen {
        Listen::Unix(path) => path.display().to_string(),
        Listen::Tcp(addr) => format!("http://{addr}"),
    };
    let is_self = |endpoint: &str| endpoint.trim_end_matches('/') == own_endpoint;
    if !list.iter().any(|e| is_self(e)) {
        list.insert(0, own_endpoint.clone());
    }
    let asks = list.into_iter().map(|endpoint| {
        let own = own.clone();
        async move {
            let answer = if is_self(&endpoint) {
                Ok(own)
            } else {
                let ask = async {
                    if endpoint.starts_with("http://") {
                        ask_http(&endpoint).await
                    } else {
                        ask_unix(Path::new(&endpoint)).await
                    }
                };
                tokio::time::timeout(ASK_TIMEOUT, ask)
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer within {ASK_TIMEOUT:?}")))
            };
            match answer {
                Ok(health) => FleetWorker {
                    endpoint,
                    health: Some(health),
                    error: None,
                },
                Err(error) => FleetWorker {
                    endpoint,
                    health: None,
                    error: Some(error),
                },
            }
        }
    });
    let workers = futures_util::future::join_all(asks).await;
    let up: Vec<&WorkerHealth> = workers.iter().filter_map(|w| w.health.as_ref()).collect();
    FleetHealth {
        workers_up: up.len() as u32,
        workers_down: (workers.len() - up.len()) as u32,
        worker_calls: up.iter().map(|h| h.worker_calls).sum(),
        worker_max: up.iter().map(|h| h.worker_max).sum(),
        fleet_available: up.iter().map(|h| h.fleet_available).sum(),
        workers,
    }
}
