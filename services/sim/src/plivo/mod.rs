//! The Plivo emulator: Plivo's Call REST API, its V3-signed callbacks and its audio streams.
//!
//! A product feature beside the PSTN simulator: `vox sim --carrier plivo` and `vox up` with
//! `VOX_UP_CARRIER=plivo` run the demo through the path a real Plivo account takes (the
//! dialler's REST client, the Backend's telephony edge, Plivo's stream protocol into a worker).
//! It is written from Plivo's reference pages and SDK:
//! - <https://www.plivo.com/docs/voice/api/call/make-a-call>: `POST /v1/Account/{auth_id}/Call/`
//!   (HTTP Basic auth with the Auth ID and Auth Token, JSON, 201 `{"api_id", "message": "call
//!   fired", "request_uuid"}`); `ring_url`, `answer_url` and `hangup_url` get the call's
//!   parameters (`CallUUID`, `RequestUUID`, `From`, `To`, `Direction`, `CallStatus`, `Event`);
//!   `machine_detection_url` gets `Machine=true|false`;
//! - `plivo/plivo-python` (`plivo/resources/calls.py`, `plivo/rest/client.py`): `DELETE
//!   …/Request/{request_uuid}/` cancels a call not yet answered, `DELETE …/Call/{call_uuid}/`
//!   hangs up, `POST …/Call/{call_uuid}/` with `legs=aleg` and `aleg_url` moves the caller to new
//!   XML; errors are `{"api_id", "error"}` with 400, 401, 404 and 5xx;
//! - <https://www.plivo.com/docs/voice/api/call/send-digits> (the SDK's `send_digits`): `POST
//!   …/Call/{call_uuid}/DTMF/` with `digits` (0-9, `*`, `#`, `w`/`W` to wait) and `leg` (`aleg`,
//!   the default, or `bleg`), 202 `{"api_id", "message": "digits sent"}`;
//! - <https://www.plivo.com/docs/voice/concepts/signature-validation>: every callback signed with
//!   `X-Plivo-Signature-V3` over the URL, its parameters and `X-Plivo-Signature-V3-Nonce`;
//! - <https://www.plivo.com/docs/voice/troubleshooting/hangup-causes>: a canceled call ends
//!   `HangupCauseCode` 1000 and a normal one 4000; the hang-up URL's `CallStatus` says `busy`,
//!   `no-answer`, `timeout` (a carrier or network timeout: the population's failures) or `cancel`.
//!
//! Who answers is drawn from a `Population`, as in the PSTN simulator. Faults can be injected
//! (`Faults`): the next creations answered 429 or 503. Callers can also ring the account's
//! numbers (`PlivoEmulator::ring`): Plivo asks the application's answer URL with
//! `Direction=inbound`.

mod call;
pub mod xml;

use crate::callee::{Conversation, Part};
use crate::population::Population;
use crate::twilio::{Fault, Faults};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use base64::Engine as _;
use parking_lot::Mutex;
use providers::tts::espeak::EspeakTts;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The account the emulator serves and who its calls reach.
#[derive(Debug, Clone)]
pub struct PlivoConfig {
    pub auth_id: String,
    pub auth_token: String,
    pub population: Population,
    pub seed: u64,
}

/// What the emulator did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PlivoStats {
    pub created: u64,
    pub refused: u64,
    pub answered: u64,
    pub busy: u64,
    pub failed: u64,
    pub no_answer: u64,
    pub canceled: u64,
    pub streamed: u64,
    pub conversations: u64,
    pub lines_said: u64,
    /// Live calls the REST API hung up (`DELETE …/Call/{uuid}/`).
    pub hung_up: u64,
    /// Numbers callers were moved to by `<Dial>`.
    pub transferred_to: Vec<String>,
    /// What `…/DTMF/` pressed on live calls, a request each.
    pub digits: Vec<String>,
    pub webhooks: u64,
    pub webhook_failures: u64,
    pub machine_verdicts: u64,
    /// Seconds from the answer (the answer URL's request) to the bot's first audio at the
    /// callee, per streamed call that heard it.
    pub first_audio_secs: Vec<f64>,
}

/// What the REST API may do to a call.
#[derive(Debug, Clone, PartialEq)]
enum Control {
    /// `DELETE …/Request/{uuid}/`, or `DELETE …/Call/{uuid}/` before the answer.
    Cancel,
    /// `DELETE …/Call/{uuid}/` on a live call.
    HangUp,
    /// `POST …/Call/{uuid}/` with `aleg_url`: the caller follows the XML there.
    Transfer(String),
}

/// A live call's handles: its request UUID (outbound calls), whether it was answered (a request
/// can be canceled only before), and the channel to it.
#[derive(Debug)]
struct Live {
    request_uuid: Option<String>,
    answered: bool,
    control: mpsc::UnboundedSender<Control>,
}

#[derive(Debug)]
struct Shared {
    config: PlivoConfig,
    rng: Mutex<StdRng>,
    /// By `CallUUID`.
    calls: Mutex<HashMap<String, Live>>,
    http: reqwest::Client,
    voice: EspeakTts,
    stats: Mutex<PlivoStats>,
    faults: Mutex<Faults>,
    next_uuid: Mutex<u64>,
}

impl Shared {
    /// A fresh UUID-shaped id, distinct per emulator seed.
    fn next_uuid(&self) -> String {
        let mut next = self.next_uuid.lock();
        *next += 1;
        let n = (self.config.seed << 32) ^ *next;
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            (n >> 32) as u32,
            (n >> 16) as u16,
            (n & 0xfff) as u16,
            (*next & 0xfff) as u16,
            n & 0xffff_ffff_ffff
        )
    }

    /// Sends `control` to the call `uuid` names (a call UUID, or a request UUID when `request`).
    fn control(&self, uuid: &str, request: bool, control: Control) -> bool {
        let calls = self.calls.lock();
        let live = if request {
            calls
                .values()
                .find(|live| live.request_uuid.as_deref() == Some(uuid) && !live.answered)
        } else {
            calls.get(uuid)
        };
        live.is_some_and(|live| live.control.send(control).is_ok())
    }
}

/// A caller ringing one of the account's numbers, and the Plivo application's URLs.
#[derive(Debug, Clone)]
pub struct PlivoInbound {
    pub from: String,
    pub to: String,
    pub answer_url: String,
    pub hangup_url: Option<String>,
}

/// A running emulator on a loopback port.
#[derive(Debug)]
pub struct PlivoEmulator {
    base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for PlivoEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl PlivoEmulator {
    /// Starts serving on 127.0.0.1 (port 0 picks a free one).
    pub async fn start(config: PlivoConfig, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            calls: Mutex::new(HashMap::new()),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
            voice: EspeakTts::default(),
            stats: Mutex::new(PlivoStats::default()),
            faults: Mutex::new(Faults::default()),
            next_uuid: Mutex::new(0),
        });
        let router = Router::new()
            .route("/v1/Account/{account}/Call/", post(create))
            .route(
                "/v1/Account/{account}/Call/{uuid}/",
                post(update).delete(hang_up),
            )
            .route("/v1/Account/{account}/Call/{uuid}/DTMF/", post(send_digits))
            .route("/v1/Account/{account}/Request/{uuid}/", delete(cancel))
            .with_state(shared.clone());
        let forever = std::future::pending();
        let server = tokio::spawn(async move {
            let _ = serve::serve(listener, router, serve::Limits::default(), forever).await;
        });
        Ok(Self {
            base_url,
            shared,
            server,
        })
    }

    /// The REST API's base, a carrier account's `api_url`.
    pub fn api_url(&self) -> &str {
        &self.base_url
    }

    pub fn stats(&self) -> PlivoStats {
        self.shared.stats.lock().clone()
    }

    /// Answers the next creations with errors.
    pub fn inject(&self, faults: Faults) {
        *self.shared.faults.lock() = faults;
    }

    /// Calls still live.
    pub fn live_calls(&self) -> usize {
        self.shared.calls.lock().len()
    }

    /// A caller rings one of the account's numbers and, as `part`, talks to whatever answers; the
    /// REST API can hang up or transfer the call like an outbound one. The conversation, or why
    /// there was none (a refusal's words, a failed request).
    pub async fn ring(&self, inbound: PlivoInbound, part: Part) -> Result<Conversation, String> {
        let leg = call::Leg {
            uuid: self.shared.next_uuid(),
            request_uuid: None,
            direction: "inbound",
            to: inbound.to,
            from: inbound.from,
            answer_url: inbound.answer_url,
            ring_url: None,
            hangup_url: inbound.hangup_url,
            machine_url: None,
            ring_timeout: 60.0,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared.calls.lock().insert(
            leg.uuid.clone(),
            Live {
                request_uuid: None,
                answered: true,
                control: tx,
            },
        );
        self.shared.stats.lock().answered += 1;
        call::ring(self.shared.clone(), leg, part, rx).await
    }
}

/// Plivo's error body.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({"api_id": uuid_like(), "error": message.into()});
    (status, Json(body)).into_response()
}

fn uuid_like() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// HTTP Basic with the account's Auth ID and token, for the account in the path.
fn authorised(shared: &Shared, account: &str, headers: &HeaderMap) -> bool {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        shared.config.auth_id, shared.config.auth_token
    ));
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "));
    given == Some(expected.as_str()) && account == shared.config.auth_id
}

/// A number as Plivo takes it: the country code and number, digits only (a `+` is allowed).
fn number(text: &str) -> Option<String> {
    let digits = text.trim().trim_start_matches('+');
    ((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.to_owned())
}

fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &account, &headers) {
        return error(StatusCode::UNAUTHORIZED, "authentication failed");
    }
    let fault = shared.faults.lock().take();
    if let Some(fault) = fault {
        shared.stats.lock().refused += 1;
        return match fault {
            Fault::RateLimited => error(StatusCode::TOO_MANY_REQUESTS, "too many requests"),
            Fault::Unavailable => error(StatusCode::SERVICE_UNAVAILABLE, "server error"),
        };
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let Some(to) = text(&body, "to") else {
        return error(StatusCode::BAD_REQUEST, "'to' is required");
    };
    let Some(to) = number(to) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("invalid destination number 'to': {to}"),
        );
    };
    let Some(from) = text(&body, "from").and_then(number) else {
        return error(StatusCode::BAD_REQUEST, "'from' must be a number");
    };
    let Some(answer_url) = text(&body, "answer_url") else {
        return error(StatusCode::BAD_REQUEST, "answer_url is required");
    };
    let request_uuid = shared.next_uuid();
    let leg = call::Leg {
        uuid: shared.next_uuid(),
        request_uuid: Some(request_uuid.clone()),
        direction: "outbound",
        to,
        from,
        answer_url: answer_url.to_owned(),
        ring_url: text(&body, "ring_url").map(str::to_owned),
        hangup_url: text(&body, "hangup_url").map(str::to_owned),
        machine_url: (text(&body, "machine_detection") == Some("true"))
            .then(|| text(&body, "machine_detection_url").map(str::to_owned))
            .flatten(),
        ring_timeout: body
            .get("ring_timeout")
            .and_then(Value::as_f64)
            .unwrap_or(120.0)
            .clamp(5.0, 120.0),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    shared.calls.lock().insert(
        leg.uuid.clone(),
        Live {
            request_uuid: Some(request_uuid.clone()),
            answered: false,
            control: tx,
        },
    );
    shared.stats.lock().created += 1;
    tokio::spawn(call::run(shared.clone(), leg, rx));
    let reply =
        json!({"api_id": uuid_like(), "message": "call fired", "request_uuid": request_uuid});
    (StatusCode::CREATED, Json(reply)).into_response()
}

async fn update(
    State(shared): State<Arc<Shared>>,
    Path((account, uuid)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &account, &headers) {
        return error(StatusCode::UNAUTHORIZED, "authentication failed");
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if text(&body, "legs") != Some("aleg") {
        return error(StatusCode::BAD_REQUEST, "legs must be aleg, bleg or both");
    }
    let Some(url) = text(&body, "aleg_url") else {
        return error(StatusCode::BAD_REQUEST, "aleg_url is required");
    };
    if !shared.control(&uuid, false, Control::Transfer(url.to_owned())) {
        return error(StatusCode::NOT_FOUND, "call not found");
    }
    let reply = json!({"api_id": uuid_like(), "message": "call transferred"});
    (StatusCode::ACCEPTED, Json(reply)).into_response()
}

/// Plivo plays the keys into the live call; the conversation goes on.
async fn send_digits(
    State(shared): State<Arc<Shared>>,
    Path((account, uuid)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &account, &headers) {
        return error(StatusCode::UNAUTHORIZED, "authentication failed");
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(digits) = text(&body, "digits")
        .filter(|d| d.chars().all(|c| c.is_ascii_digit() || "*#wW".contains(c)))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "digits must be 0-9, * and #, with w and W to wait",
        );
    };
    if !matches!(text(&body, "leg"), None | Some("aleg" | "bleg")) {
        return error(StatusCode::BAD_REQUEST, "leg must be aleg or bleg");
    }
    let live = shared.calls.lock().get(&uuid).is_some_and(|l| l.answered);
    if !live {
        return error(StatusCode::NOT_FOUND, "call not found");
    }
    shared.stats.lock().digits.push(digits.to_owned());
    let reply = json!({"api_id": uuid_like(), "message": "digits sent"});
    (StatusCode::ACCEPTED, Json(reply)).into_response()
}

async fn hang_up(
    State(shared): State<Arc<Shared>>,
    Path((account, uuid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&shared, &account, &headers) {
        return error(StatusCode::UNAUTHORIZED, "authentication failed");
    }
    if !shared.control(&uuid, false, Control::HangUp) {
        return error(StatusCode::NOT_FOUND, "call not found");
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path((account, uuid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&shared, &account, &headers) {
        return error(StatusCode::UNAUTHORIZED, "authentication failed");
    }
    if !shared.control(&uuid, true, Control::Cancel) {
        return error(StatusCode::NOT_FOUND, "request not found");
    }
    StatusCode::NO_CONTENT.into_response()
}
