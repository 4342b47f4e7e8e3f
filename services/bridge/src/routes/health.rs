//! `GET /health`: 200 when the settings are present and the stores answer.
//!
//! The database (and Redis, when configured) must answer; a 503 names what is down.

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use contracts::api::BackendHealth;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<BackendHealth>) {
    let mut checks = BTreeMap::new();
    // Startup refuses without the secrets, so a running Backend always has them.
    checks.insert("settings".to_owned(), "ok".to_owned());
    // The reason goes to the log, not to whoever asks (`/health` needs no sign-in) (L3).
    let database = match tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "health: the database failed");
            "down: the database failed (see the Backend's log)".to_owned()
        }
        Err(_) => "down: no answer within 2 s".to_owned(),
    };
    checks.insert("database".to_owned(), database);
    if let Some(url) = &state.config.redis_url {
        checks.insert("redis".to_owned(), redis_ping(url).await);
    }
    let healthy = checks.values().all(|v| v == "ok");
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = BackendHealth {
        status: if healthy { "ok" } else { "down" }.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        checks,
    };
    (status, Json(body))
}

/// A RESP `PING` over TCP, after `AUTH` when the URL has a password: `ok`, or why not (the
/// details go to the log).
async fn redis_ping(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let (credentials, host_port) = match rest.rsplit_once('@') {
        Some((credentials, host)) => (Some(credentials), host),
        None => (None, rest),
    };
    let host_port = host_port.split('/').next().unwrap_or(host_port);
    let address = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:6379")
    };
    // `user:password` or `:password`, as Redis URLs write them.
    let auth = credentials.and_then(|c| match c.split_once(':') {
        Some(("", password)) => Some(format!("AUTH {password}\r\n")),
        Some((user, password)) => Some(format!("AUTH {user} {password}\r\n")),
        None => None,
    });
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(&address).await?;
        let mut reply = [0_u8; 128];
        if let Some(auth) = &auth {
            stream.write_all(auth.as_bytes()).await?;
            let n = stream.read(&mut reply).await?;
            let answer = String::from_utf8_lossy(&reply[..n]).into_owned();
            if !answer.starts_with("+OK") {
                return Ok::<_, std::io::Error>(answer);
            }
        }
        stream.write_all(b"PING\r\n").await?;
        let n = stream.read(&mut reply).await?;
        Ok(String::from_utf8_lossy(&reply[..n]).into_owned())
    };
    match tokio::time::timeout(CHECK_TIMEOUT, attempt).await {
        Ok(Ok(reply)) if reply.starts_with("+PONG") => "ok".to_owned(),
        Ok(Ok(reply)) => {
            tracing::warn!(reply = reply.trim(), "health: Redis refused the check");
            "down: Redis refused the check (see the Backend's log)".to_owned()
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "health: Redis did not answer");
            "down: Redis did not answer".to_owned()
        }
        Err(_) => "down: no answer within 2 s".to_owned(),
    }
}
