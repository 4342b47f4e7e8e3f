//! The gateway's call control over HTTP: the dialler places calls, the edge ends and moves them.
//!
//! - `POST /calls` `{"call_id", "to", "from", "ring_timeout_seconds"}` places a call through the
//!   trunk for the Backend's call `call_id`: `201 {"sip_call_id"}` once the INVITE is on its way;
//!   its progress goes to the telephony edge (`Calling::outbound`).
//! - `DELETE /calls/{sip_call_id}` ends a live call (a CANCEL while it rings, a BYE once
//!   answered): 204, or 404 when no such call is live here.
//! - `POST /calls/{sip_call_id}/transfer` `{"to"}` sends the call's other side a REFER to the
//!   number at the trunk: 202 once the trunk accepted it; its NOTIFYs go to the edge.
//!
//! Every request presents `Authorization: Bearer TOKEN`, the trunk's control token (the Backend
//! derives it from the trunk's secret and gives it to the gateway with the trunk's settings, so
//! only holders of that secret reach the trunk through vox). Until the settings are read every
//! request is 503. Errors are the Backend's body, `{"error": {"code", "message", "field"}}`.

use crate::control::{Control, ControlError, Transfers};
use crate::outbound::{Dial, DialError, Outbound, OutboundTrunk};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use parking_lot::RwLock;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Who hears about the calls the API places and transfers (the telephony edge).
pub trait Calling: Send + Sync + 'static {
    /// The `Outbound` of a call placed for the Backend's call `call_id`.
    fn outbound(&self, call_id: i64) -> Arc<dyn Outbound>;
    /// Told each transfer's progress.
    fn transfers(&self) -> Arc<dyn Transfers>;
}

impl Calling for crate::edge::EdgeRouter {
    fn outbound(&self, call_id: i64) -> Arc<dyn Outbound> {
        self.call(call_id)
    }

    fn transfers(&self) -> Arc<dyn Transfers> {
        Arc::new(self.clone())
    }
}

/// The trunk calls go out through, and the token requests present.
#[derive(Clone)]
pub struct ApiTrunk {
    pub trunk: OutboundTrunk,
    pub token: String,
}

impl std::fmt::Debug for ApiTrunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTrunk")
            .field("trunk", &self.trunk)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The API's state: the gateway, the trunk once known, the edge.
#[derive(Clone)]
pub struct Api {
    control: Control,
    trunk: Arc<RwLock<Option<ApiTrunk>>>,
    calling: Arc<dyn Calling>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("trunk", &*self.trunk.read())
            .finish_non_exhaustive()
    }
}

impl Api {
    pub fn new(control: Control, calling: Arc<dyn Calling>) -> Self {
        Self {
            control,
            trunk: Arc::new(RwLock::new(None)),
            calling,
        }
    }

    /// Serves `trunk` from now on (the settings as the Backend gave them).
    pub fn set_trunk(&self, trunk: ApiTrunk) {
        *self.trunk.write() = Some(trunk);
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/calls", post(place))
            .route("/calls/{sip_call_id}", delete(hang_up))
            .route("/calls/{sip_call_id}/transfer", post(transfer))
            .with_state(self.clone())
    }

    /// The trunk, when the request presents its token.
    fn authorized(&self, headers: &HeaderMap) -> Result<OutboundTrunk, Problem> {
        let Some(trunk) = self.trunk.read().clone() else {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "sip.starting",
                None,
                "the gateway has not read its trunk's settings from the Backend yet",
            ));
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same(presented.as_bytes(), trunk.token.as_bytes()) {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "auth.unauthorized",
                None,
                "present the trunk's control token (is this the gateway of that trunk?)",
            ));
        }
        Ok(trunk.trunk)
    }
}

/// Compares in time independent of where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// A refused request: `{"error": {"code", "message", "field"}}` with its status.
#[derive(Debug)]
struct Problem {
    status: StatusCode,
    code: &'static str,
    field: Option<String>,
    message: String,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "field": self.field}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.code == "sip.draining" {
            let retry = crate::gateway::RETRY_AFTER_SECONDS.into();
            response.headers_mut().insert(header::RETRY_AFTER, retry);
        }
        response
    }
}

fn error(status: StatusCode, code: &'static str, field: Option<&str>, message: &str) -> Problem {
    Problem {
        status,
        code,
        field: field.map(str::to_owned),
        message: message.to_owned(),
    }
}

fn invalid(field: &str, message: &str) -> Problem {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation.invalid",
        Some(field),
        message,
    )
}

/// The JSON object of a body, or 422 naming what is wrong.
fn object(body: &Bytes) -> Result<serde_json::Map<String, Value>, Problem> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid("body", "is not a JSON object")),
    }
}

/// A number as trunks take it: `+` and 3 to 20 digits, or the digits alone.
fn number(map: &serde_json::Map<String, Value>, field: &str) -> Result<String, Problem> {
    let value = map
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(field, "is required: a phone number"))?;
    let digits = value.strip_prefix('+').unwrap_or(value);
    if !(3..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            field,
            "is not a phone number (+ and 3 to 20 digits, or the digits alone)",
        ));
    }
    Ok(value.to_owned())
}

fn only(map: &serde_json::Map<String, Value>, fields: &[&str]) -> Result<(), Problem> {
    match map.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(unknown) => Err(invalid(unknown, "is not a field of this request")),
        None => Ok(()),
    }
}

async fn place(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let trunk = api.authorized(&headers)?;
    let (call_id, dial) = read_dial(&body)?;
    match api
        .control
        .dial(&trunk, dial, api.calling.outbound(call_id))
        .await
    {
        Ok(sip_call_id) => Ok((
            StatusCode::CREATED,
            axum::Json(json!({ "sip_call_id": sip_call_id })),
        )
            .into_response()),
        Err(DialError::Draining) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "sip.draining",
            None,
            "the gateway is draining: it places no new calls",
        )),
        Err(DialError::NoPort) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "sip.no_port",
            None,
            "no RTP port is free (VOX_SIP_RTP_PORTS)",
        )),
        Err(other) => Err(error(
            StatusCode::BAD_GATEWAY,
            "sip.failed",
            None,
            &other.to_string(),
        )),
    }
}

fn read_dial(body: &Bytes) -> Result<(i64, Dial), Problem> {
    let map = object(body)?;
    only(&map, &["call_id", "to", "from", "ring_timeout_seconds"])?;
    let call_id = map
        .get("call_id")
        .and_then(Value::as_i64)
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid("call_id", "is required: the Backend's call id"))?;
    let to = number(&map, "to")?;
    let from = number(&map, "from")?;
    let ring = match map.get("ring_timeout_seconds") {
        None => 30,
        Some(value) => value
            .as_u64()
            .filter(|s| (5..=600).contains(s))
            .ok_or_else(|| invalid("ring_timeout_seconds", "is 5 to 600 seconds"))?,
    };
    Ok((
        call_id,
        Dial {
            to,
            caller_id: from,
            ring_timeout: Duration::from_secs(ring),
        },
    ))
}

fn control_error(refused: ControlError) -> Problem {
    let message = refused.to_string();
    match refused {
        ControlError::UnknownCall(_) => {
            error(StatusCode::NOT_FOUND, "not_found.call", None, &message)
        }
        ControlError::NotAnswered(_) => {
            error(StatusCode::CONFLICT, "conflict.call", None, &message)
        }
        ControlError::Refused { .. } => {
            error(StatusCode::BAD_GATEWAY, "sip.refused", None, &message)
        }
        ControlError::NoAnswer(_) => {
            error(StatusCode::GATEWAY_TIMEOUT, "sip.no_answer", None, &message)
        }
    }
}

async fn hang_up(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(sip_call_id): Path<String>,
) -> Result<StatusCode, Problem> {
    api.authorized(&headers)?;
    api.control.hang_up(&sip_call_id).map_err(control_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn transfer(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(sip_call_id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, Problem> {
    let trunk = api.authorized(&headers)?;
    let map = object(&body)?;
    only(&map, &["to"])?;
    let to = number(&map, "to")?;
    let transport = if trunk.tcp { ";transport=tcp" } else { "" };
    let target = format!("sip:{to}@{}{transport}", trunk.address);
    api.control
        .transfer(&sip_call_id, &target, "vox", api.calling.transfers())
        .await
        .map_err(control_error)?;
    Ok(StatusCode::ACCEPTED)
}
