//! The worker's HTTP face.
//!
//! `GET /health`, `GET /health/fleet`, `POST /attach` (contract 4) and the media WebSockets under
//! `/ws/{protocol}/{token}`.

use crate::client::ConfigError;
use crate::slots::Refusal;
use crate::{Shared, media};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use contracts::attach::{AttachAccepted, AttachRequest};
use contracts::error::ErrorBody;
use contracts::health::{HealthStatus, WorkerHealth};
use secrecy::ExposeSecret;
use std::sync::Arc;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/fleet", get(fleet_health))
        .route("/attach", post(attach))
        .route("/ws/{protocol}/{token}", get(media_socket))
        .with_state(shared)
}

fn error(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    field: Option<&str>,
) -> Response {
    let body = ErrorBody {
        code: code.to_owned(),
        message: message.into(),
        field: field.map(str::to_owned),
    };
    (status, Json(body)).into_response()
}

/// This worker's health.
pub fn worker_health(shared: &Shared) -> WorkerHealth {
    let counts = shared.slots.counts();
    let broken = shared.refusing_calls();
    WorkerHealth {
        status: if broken {
            HealthStatus::Down
        } else if counts.draining {
            HealthStatus::Draining
        } else {
            HealthStatus::Ok
        },
        worker_id: shared.config.worker_id.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        worker_calls: counts.busy + counts.reserved,
        worker_max: counts.max,
        fleet_available: if broken { 0 } else { counts.available() },
        draining: counts.draining,
    }
}

async fn health(State(shared): State<Arc<Shared>>) -> Json<WorkerHealth> {
    Json(worker_health(&shared))
}

async fn fleet_health(State(shared): State<Arc<Shared>>) -> Response {
    let own = worker_health(&shared);
    Json(
        crate::fleet_health::aggregate(&shared.config.fleet_endpoints, &shared.config.listen, own)
            .await,
    )
    .into_response()
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    use subtle::ConstantTimeEq;
    let Some(given) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let expected = shared.config.secret.expose_secret().as_bytes();
    bool::from(given.as_bytes().ct_eq(expected))
}

/// 503: the outbox cannot keep results (M4), so the worker takes no call.
fn outbox_unwritable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "fleet.outbox_unwritable",
        "this worker's outbox cannot keep call results (disk full?); try another worker",
        None,
    )
}

async fn attach(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorized(&shared, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "auth.fleet_secret",
            "attach needs the fleet secret",
            None,
        );
    }
    // An outbox that refused a write takes no new call until it takes a write again (M4).
    if shared
        .outbox_broken
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        if shared.outbox.writable().await {
            shared
                .outbox_broken
                .store(false, std::sync::atomic::Ordering::SeqCst);
        } else {
            return outbox_unwritable();
        }
    }
    let request: AttachRequest = match serde_json::from_slice::<serde_json::Value>(&body)
        .map_err(|e| (e.to_string(), None))
        .and_then(|value| {
            serde_json::from_value(value).map_err(|e| {
                let text = e.to_string();
                let field = text.split('`').nth(1).map(str::to_owned);
                (text, field)
            })
        }) {
        Ok(request) => request,
        Err((message, field)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "validation.invalid",
                format!("the attach request is malformed: {message}"),
                field.as_deref(),
            );
        }
    };
    let protocol = request.media_protocol;
    let call_id = request.call_id;
    // Cheap refusals first; the config fetch then proves the Backend knows the call, and the
    // reservation (which may still lose a race for the last slot) holds the config for the media.
    if let Err(refusal) = shared.slots.admission() {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "fleet.capacity_exhausted",
            refusal.to_string(),
            None,
        );
    }
    // Noted on disk before the Backend hears of the call: fetching its config marks it in
    // progress on this worker, so a worker killed from here on reports it lost when it starts
    // again (found by the kill tests: killed between the fetch and the note, a call stayed in
    // progress for ever). A call this worker already holds keeps its note.
    let held = shared.slots.holds(call_id);
    if !held && let Err(e) = shared.outbox.begin(call_id, Utc::now()).await {
        shared
            .outbox_broken
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tracing::error!(call_id = call_id.0, error = %e, "cannot note the call in the outbox");
        return outbox_unwritable();
    }
    // Refused after the note: the note goes, unless the call is this worker's already.
    let forget = |shared: Arc<Shared>| async move {
        if !held && !shared.slots.holds(call_id) {
            shared.outbox.end(call_id).await;
        }
    };
    let config = match shared.client.runtime_config(call_id).await {
        Ok(config) => {
            shared
                .backend_down
                .store(false, std::sync::atomic::Ordering::SeqCst);
            config
        }
        Err(e @ ConfigError::UnknownCall(_)) => {
            forget(shared.clone()).await;
            return error(
                StatusCode::NOT_FOUND,
                "not_found.call",
                e.to_string(),
                Some("call_id"),
            );
        }
        Err(e) => {
            forget(shared.clone()).await;
            if matches!(e, ConfigError::Unavailable(_)) {
                shared.backend_unreachable();
            }
            tracing::warn!(call_id = call_id.0, error = %e, "attach refused: no runtime config");
            return error(
                StatusCode::BAD_GATEWAY,
                "fleet.config_unavailable",
                e.to_string(),
                None,
            );
        }
    };
    match shared.slots.reserve(request, config) {
        Ok((token, expires)) => {
            let left = expires.saturating_duration_since(tokio::time::Instant::now());
            let accepted = AttachAccepted {
                call_id,
                worker_id: shared.config.worker_id.clone(),
                media_url: format!(
                    "{}/ws/{}/{token}",
                    shared.media_base(),
                    media::path_segment(protocol)
                ),
                expires_at: Utc::now() + chrono::Duration::from_std(left).unwrap_or_default(),
            };
            tracing::info!(call_id = call_id.0, "attach accepted");
            (StatusCode::ACCEPTED, Json(accepted)).into_response()
        }
        Err(refusal @ (Refusal::Full | Refusal::Draining)) => {
            forget(shared.clone()).await;
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "fleet.capacity_exhausted",
                refusal.to_string(),
                None,
            )
        }
        Err(refusal @ Refusal::Duplicate(_)) => error(
            StatusCode::CONFLICT,
            "conflict.call",
            refusal.to_string(),
            Some("call_id"),
        ),
    }
}

/// The largest media message a peer may send: a second of 48 kHz PCM is 96 KB, so 1 MiB leaves
/// room for any carrier's framing while a peer cannot make the worker buffer 64 MiB at once (M7).
const MAX_MEDIA_MESSAGE: usize = 1 << 20;

async fn media_socket(
    State(shared): State<Arc<Shared>>,
    Path((protocol, token)): Path<(String, String)>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(reserved) = shared.slots.peek(&token) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "auth.media_token",
            "the media token is unknown, used or expired",
            None,
        );
    };
    if media::path_segment(reserved.media_protocol) != protocol {
        return error(
            StatusCode::BAD_REQUEST,
            "validation.invalid",
            format!(
                "this call's media is {}, not {protocol}",
                media::path_segment(reserved.media_protocol)
            ),
            Some("protocol"),
        );
    }
    let Some(reservation) = shared.slots.claim(&token) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "auth.media_token",
            "the media token is unknown, used or expired",
            None,
        );
    };
    let call_id = reservation.request.call_id;
    // The slot is claimed now: an upgrade that fails after this (the peer gone before the
    // handshake completes) must free it and report the call, or the slot stays busy forever (M6).
    let failed = shared.clone();
    let upgrade = upgrade
        .max_message_size(MAX_MEDIA_MESSAGE)
        .max_frame_size(MAX_MEDIA_MESSAGE)
        .on_failed_upgrade(move |error| {
            tracing::warn!(call_id = call_id.0, %error, "the media socket's upgrade failed");
            tokio::spawn(async move {
                let (result, recording) = crate::call::minimal_result(
                    call_id,
                    Utc::now(),
                    contracts::CallOutcomeCode::FleetAttachFailed,
                    "the media socket's upgrade failed",
                );
                failed.store_result((result, recording)).await;
                failed.slots.release(call_id);
            });
        });
    upgrade.on_upgrade(move |socket| async move {
        // The call runs in its own task: a panic ends this call only, and the slot is freed either way.
        let started = Utc::now();
        let task = tokio::spawn(crate::call::run(shared.clone(), reservation, socket));
        if let Err(error) = task.await {
            tracing::error!(call_id = call_id.0, %error, "the call task failed");
            let (result, recording) = crate::call::minimal_result(
                call_id,
                started,
                contracts::CallOutcomeCode::FleetWorkerLost,
                &format!("the worker's call task failed: {error}"),
            );
            shared.store_result((result, recording)).await;
        }
        shared.slots.release(call_id);
    })
}
