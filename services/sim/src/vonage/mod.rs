//! The Vonage emulator: the Voice API's Calls resource, its JWT-signed webhooks and WebSockets.
//!
//! A product feature beside the PSTN simulator: `vox sim --carrier vonage` and `vox up` with
//! `VOX_UP_CARRIER=vonage` run the demo through the path a real Vonage application takes (the
//! dialler's REST client, the Backend's telephony edge, Vonage's WebSocket audio into a worker).
//! It is written from Vonage's reference:
//! - the Voice API's OpenAPI definition (`Nexmo/api-specification`, `definitions/voice.yml`):
//!   `POST /v1/calls` (a Bearer JWT signed with the application's private key: RS256, checked
//!   here against its public key, expiry included), JSON with `to`/`from` phone endpoints,
//!   `answer_url`, `event_url`, `ringing_timer`, 201 `{"uuid", "status", "direction",
//!   "conversation_uuid"}`; `PUT /v1/calls/{uuid}` with `hangup` or `transfer` to an inline NCCO,
//!   204, 404 for an unknown call; errors as problem details (`type`, `title`, `detail`);
//!   `PUT /v1/calls/{uuid}/dtmf` with `digits` (0-9, `*`, `#`, `p` to pause), 200 `{"message":
//!   "DTMF sent", "uuid"}`;
//! - <https://developer.vonage.com/en/voice/voice-api/webhook-reference>: the answer webhook's
//!   body (`uuid`, `conversation_uuid`, `from`, `to`) and the event webhook's statuses in order
//!   (`started`, `ringing`, `answered`, then `completed`, or `busy`, `unanswered`, `failed`,
//!   `cancelled`);
//! - <https://developer.vonage.com/en/voice/voice-api/guides/signed-webhooks>: each webhook
//!   signed with a Bearer JWT (HS256, the signature secret) whose `payload_hash` is the body's
//!   SHA-256;
//! - <https://developer.vonage.com/en/voice/voice-api/concepts/advanced-machine-detection>: an
//!   event with `status` `human` or `machine` after the answer;
//! - <https://developer.vonage.com/en/voice/voice-api/ncco-reference>: the actions vox answers
//!   with (`connect` to a `websocket` or a `phone`, `talk`); the call ends after the last.
//!
//! Who answers is drawn from a `Population` when a call is created, as in the PSTN simulator.
//! Faults can be injected (`Faults`): the next creations answered 429 or 503. Callers can ring
//! the application's numbers (`VonageEmulator::ring`): Vonage asks its answer URL for an NCCO.

mod call;

use crate::callee::{Conversation, Part};
use crate::population::Population;
use crate::twilio::{Fault, Faults};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use parking_lot::Mutex;
use providers::tts::espeak::EspeakTts;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// An application key for demos against the emulator: the published test pair
/// (`telephony::vonage::testing`), which signs nothing real.
pub const DEMO_PRIVATE_KEY: &str = telephony::vonage::testing::PRIVATE_KEY;

/// The application the emulator serves and who its calls reach.
#[derive(Debug, Clone)]
pub struct VonageConfig {
    pub application_id: String,
    /// The application's private key (PEM): the emulator checks tokens with its public half.
    pub private_key: String,
    /// The account's signature secret, which signs the webhooks.
    pub signature_secret: String,
    pub population: Population,
    pub seed: u64,
}

/// What the emulator did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct VonageStats {
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
    /// Calls the REST API hung up (`{"action": "hangup"}`).
    pub hung_up: u64,
    /// Numbers callers were connected to by a `connect` to a `phone` endpoint.
    pub transferred_to: Vec<String>,
    /// What `talk` actions said.
    pub spoken: Vec<String>,
    /// What `PUT …/dtmf` pressed on live calls, a request each.
    pub digits: Vec<String>,
    pub webhooks: u64,
    pub webhook_failures: u64,
    pub machine_verdicts: u64,
    /// Seconds from the answer (the answer webhook's request) to the bot's first audio at the
    /// callee, per streamed call that heard it.
    pub first_audio_secs: Vec<f64>,
}

/// What the REST API may do to a call.
#[derive(Debug, Clone, PartialEq)]
enum Control {
    HangUp,
    /// The call follows this NCCO instead.
    Transfer(Value),
}

#[derive(Debug)]
struct Shared {
    config: VonageConfig,
    /// The application's public key (PEM), derived from its private key.
    public_key: String,
    rng: Mutex<StdRng>,
    /// By call `uuid`.
    calls: Mutex<HashMap<String, mpsc::UnboundedSender<Control>>>,
    http: reqwest::Client,
    voice: EspeakTts,
    stats: Mutex<VonageStats>,
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
            "{:08x}-{:04x}-4{:03x}-b{:03x}-{:012x}",
            (n >> 32) as u32,
            (n >> 16) as u16,
            (n & 0xfff) as u16,
            (*next & 0xfff) as u16,
            n & 0xffff_ffff_ffff
        )
    }
}

/// A caller ringing one of the application's numbers, and its answer and event URLs.
#[derive(Debug, Clone)]
pub struct VonageInbound {
    pub from: String,
    pub to: String,
    pub answer_url: String,
    pub event_url: Option<String>,
}

/// A running emulator on a loopback port.
#[derive(Debug)]
pub struct VonageEmulator {
    base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for VonageEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The public half of an RSA private key in PEM (PKCS#8 or PKCS#1).
fn public_key(private_pem: &str) -> Result<String, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _, LineEnding};
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_pem.trim())
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(private_pem.trim()))
        .map_err(|e| format!("not an RSA private key: {e}"))?;
    key.to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| e.to_string())
}

impl VonageEmulator {
    /// Starts serving on 127.0.0.1 (port 0 picks a free one).
    pub async fn start(config: VonageConfig, port: u16) -> std::io::Result<Self> {
        let public_key = public_key(&config.private_key).map_err(std::io::Error::other)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            public_key,
            calls: Mutex::new(HashMap::new()),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
            voice: EspeakTts::default(),
            stats: Mutex::new(VonageStats::default()),
            faults: Mutex::new(Faults::default()),
            next_uuid: Mutex::new(0),
        });
        let router = Router::new()
            .route("/v1/calls", post(create))
            .route("/v1/calls/{uuid}", put(modify))
            .route("/v1/calls/{uuid}/dtmf", put(send_digits))
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

    pub fn stats(&self) -> VonageStats {
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

    /// A caller rings one of the application's numbers and, as `part`, talks to whatever
    /// answers. The conversation, or why there was none (a refusal's words, a failed request).
    pub async fn ring(&self, inbound: VonageInbound, part: Part) -> Result<Conversation, String> {
        let leg = call::Leg {
            uuid: self.shared.next_uuid(),
            conversation_uuid: format!("CON-{}", self.shared.next_uuid()),
            direction: "inbound",
            to: inbound.to,
            from: inbound.from,
            answer_url: inbound.answer_url,
            event_url: inbound.event_url,
            machine_detection: false,
            ringing_timer: 60.0,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared.calls.lock().insert(leg.uuid.clone(), tx);
        self.shared.stats.lock().answered += 1;
        call::ring(self.shared.clone(), leg, part, rx).await
    }
}

/// Vonage's problem details.
fn problem(status: StatusCode, title: &str, detail: impl Into<String>) -> Response {
    let body = json!({
        "type": format!("https://developer.nexmo.com/api-errors#{}", status.as_u16()),
        "title": title,
        "detail": detail.into(),
        "instance": format!("{:032x}", rand::random::<u128>()),
    });
    (status, Json(body)).into_response()
}

/// A Bearer JWT signed by the application's private key, for this application.
fn authorised(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|t| telephony::vonage::signature::verify_app_token(&shared.public_key, t))
        .is_some_and(|claims| claims.application_id == shared.config.application_id)
}

/// A phone endpoint's number, digits only.
fn phone(endpoint: Option<&Value>) -> Option<String> {
    let endpoint = endpoint?;
    if endpoint.get("type").and_then(Value::as_str) != Some("phone") {
        return None;
    }
    let digits = endpoint.get("number").and_then(Value::as_str)?;
    ((7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.to_owned())
}

fn first_url(body: &Value, key: &str) -> Option<String> {
    body.get(key)
        .and_then(Value::as_array)
        .and_then(|urls| urls.first())
        .and_then(Value::as_str)
        .map(str::to_owned)
}

async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Invalid Token");
    }
    let fault = shared.faults.lock().take();
    if let Some(fault) = fault {
        shared.stats.lock().refused += 1;
        return match fault {
            Fault::RateLimited => problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "rate limit hit",
            ),
            Fault::Unavailable => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "try again later",
            ),
        };
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "the body is not JSON",
        );
    };
    let Some(to) = phone(body.pointer("/to/0")) else {
        let invalid = json!({"type": "https://developer.nexmo.com/api-errors#bad-request",
            "title": "Bad Request", "detail": "Invalid parameters",
            "invalid_parameters": [{"name": "to[0].number", "reason": "Invalid number"}]});
        return (StatusCode::BAD_REQUEST, Json(invalid)).into_response();
    };
    let Some(from) = phone(body.get("from")) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "from must be a phone endpoint",
        );
    };
    let (Some(answer_url), event_url) = (
        first_url(&body, "answer_url"),
        first_url(&body, "event_url"),
    ) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "answer_url is required",
        );
    };
    let leg = call::Leg {
        uuid: shared.next_uuid(),
        conversation_uuid: format!("CON-{}", shared.next_uuid()),
        direction: "outbound",
        to,
        from,
        answer_url,
        event_url,
        machine_detection: body.get("advanced_machine_detection").is_some()
            || body.get("machine_detection").is_some(),
        ringing_timer: body
            .get("ringing_timer")
            .and_then(Value::as_f64)
            .unwrap_or(60.0)
            .clamp(1.0, 120.0),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    shared.calls.lock().insert(leg.uuid.clone(), tx);
    shared.stats.lock().created += 1;
    let reply = json!({"uuid": leg.uuid, "status": "started", "direction": "outbound",
        "conversation_uuid": leg.conversation_uuid});
    tokio::spawn(call::run(shared.clone(), leg, rx));
    (StatusCode::CREATED, Json(reply)).into_response()
}

async fn modify(
    State(shared): State<Arc<Shared>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Invalid Token");
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let control = match body.get("action").and_then(Value::as_str) {
        Some("hangup") => Control::HangUp,
        Some("transfer") => match body.pointer("/destination/ncco") {
            Some(ncco @ Value::Array(_)) => Control::Transfer(ncco.clone()),
            _ => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    "a transfer needs destination.ncco",
                );
            }
        },
        other => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                format!("unsupported action {other:?}"),
            );
        }
    };
    let sent = shared
        .calls
        .lock()
        .get(&uuid)
        .is_some_and(|tx| tx.send(control).is_ok());
    if !sent {
        return problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("call {uuid} was not found"),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Vonage plays the keys into the live call; the conversation goes on.
async fn send_digits(
    State(shared): State<Arc<Shared>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Invalid Token");
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(digits) = body
        .get("digits")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || "*#p".contains(c)))
    else {
        let invalid = json!({"type": "https://developer.nexmo.com/api-errors#bad-request",
            "title": "Bad Request", "detail": "Invalid parameters",
            "invalid_parameters": [{"name": "digits", "reason": "must be 0-9, *, # or p"}]});
        return (StatusCode::BAD_REQUEST, Json(invalid)).into_response();
    };
    if !shared.calls.lock().contains_key(&uuid) {
        return problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("call {uuid} was not found"),
        );
    }
    shared.stats.lock().digits.push(digits.to_owned());
    (
        StatusCode::OK,
        Json(json!({"message": "DTMF sent", "uuid": uuid})),
    )
        .into_response()
}
