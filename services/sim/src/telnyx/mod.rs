//! The Telnyx emulator: Call Control's REST commands, its signed webhooks and its media streams.
//!
//! A product feature beside the PSTN simulator and the Twilio emulator: `vox sim --carrier
//! telnyx` and `vox up` with `VOX_UP_CARRIER=telnyx` run the demo through the path a real Telnyx
//! account takes (the dialler's REST client, the Backend's telephony edge driving the call with
//! commands, Telnyx's media protocol into a worker). It is written from Telnyx's reference pages:
//! - <https://developers.telnyx.com/api-reference/call-commands/dial>: `POST /v2/calls` with
//!   `Authorization: Bearer` (the API key), JSON; `connection_id`, `to`, `from`, `timeout_secs`,
//!   `webhook_url`, `client_state`, `command_id` (a repeated id is the same command, not a second
//!   call), `answering_machine_detection`; the reply `{"data": {"call_control_id", ...}}`;
//! - the command pages `…/actions/{answer, hangup, streaming_start, speak, transfer, send_dtmf}`
//!   (<https://developers.telnyx.com/api-reference/call-commands/send-dtmf>: `digits` of 0-9, A-D,
//!   `*`, `#` and the pauses `w`/`W`, `duration_millis` 100–500, default 250); a command to a call
//!   that is over answers 422 with error 90018 "Call has already ended";
//! - <https://developers.telnyx.com/docs/errors>: `{"errors": [{"code", "title", "detail",
//!   "source"}]}`, 10009 (authentication), 10011 (too many requests), 10016 (not E.164);
//! - <https://developers.telnyx.com/docs/voice/programmable-voice/receiving-webhooks>: every event
//!   `{"data": {"record_type": "event", "event_type", "id", "occurred_at", "payload"}, "meta"}`,
//!   signed with the account's Ed25519 key (`telnyx-signature-ed25519`, `telnyx-timestamp`), and
//!   the callback pages for `call.initiated`, `call.answered`, `call.hangup` (`hangup_cause`,
//!   `hangup_source`, `sip_hangup_cause`), `call.machine.detection.ended`, `call.speak.ended`,
//!   `streaming.started`, `streaming.stopped`;
//! - <https://developers.telnyx.com/docs/voice/sip-trunking/configuration/concurrent-limits>: a
//!   call over the account's concurrent-call limit ends with SIP 403 "User channel limit
//!   exceeded".
//!
//! Unlike Twilio's `<Stream>`, a Telnyx call outlives its media stream: when the worker closes
//! the stream the callee waits in silence until the app hangs up through Call Control (or gives
//! up after [`SILENCE_PATIENCE_SECS`], counted as `left_in_silence`). Who answers is drawn from a
//! `Population`; faults can be injected (`Faults`); callers can ring the account's numbers
//! (`TelnyxEmulator::ring`), which Telnyx announces with `call.initiated` (`direction: incoming`)
//! and which ring until the app answers them.

mod call;

use crate::callee::{Conversation, Part};
use crate::population::Population;
use crate::twilio::{Fault, Faults};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use parking_lot::Mutex;
use providers::tts::espeak::EspeakTts;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use telephony::telnyx::signature::{self, SigningKey};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a callee left in silence after the stream ends waits for the app to hang up.
pub const SILENCE_PATIENCE_SECS: f64 = 10.0;

/// The Call Control application the emulator serves and who its calls reach.
#[derive(Debug, Clone)]
pub struct TelnyxConfig {
    /// The application's id (`connection_id`).
    pub connection_id: String,
    pub api_key: String,
    /// The application's webhook URL: where inbound calls' events go (a dial may name its own);
    /// settable later (`set_webhook_url`), as in Mission Control.
    pub webhook_url: String,
    pub population: Population,
    pub seed: u64,
    /// The account's concurrent-call limit (Telnyx starts accounts at 2, then 10).
    pub channel_limit: usize,
}

/// What the emulator did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TelnyxStats {
    pub created: u64,
    /// Dials refused by an injected fault.
    pub refused: u64,
    /// Dials that repeated a `command_id`, answered with the first dial's call.
    pub repeated: u64,
    /// Calls over the channel limit, ended with SIP 403.
    pub over_limit: u64,
    pub answered: u64,
    pub busy: u64,
    pub failed: u64,
    pub no_answer: u64,
    pub canceled: u64,
    pub streamed: u64,
    pub conversations: u64,
    pub lines_said: u64,
    /// Calls ended by `actions/hangup` once answered.
    pub hung_up: u64,
    /// Streams the worker ended whose call the app never hung up.
    pub left_in_silence: u64,
    /// What `actions/speak` said.
    pub spoken: Vec<String>,
    /// Numbers calls were transferred to.
    pub transferred_to: Vec<String>,
    /// What `actions/send_dtmf` pressed, a command each.
    pub digits: Vec<String>,
    pub webhooks: u64,
    pub webhook_failures: u64,
    pub machine_verdicts: u64,
    /// Seconds from the answer to the bot's first audio at the callee, per streamed call.
    pub first_audio_secs: Vec<f64>,
}

/// A command the REST API gave a live call.
#[derive(Debug, Clone, PartialEq)]
enum Command {
    Answer,
    Hangup,
    Stream { url: String },
    Speak(String),
    Transfer(String),
    SendDtmf(String),
}

/// A live call's command channel and the `client_state` its webhooks carry.
#[derive(Debug)]
struct Live {
    commands: mpsc::UnboundedSender<Command>,
    client_state: Arc<Mutex<Option<String>>>,
}

#[derive(Debug)]
struct Shared {
    config: TelnyxConfig,
    webhook_url: Mutex<String>,
    key: SigningKey,
    rng: Mutex<StdRng>,
    calls: Mutex<HashMap<String, Live>>,
    /// `command_id` of each dial → its call.
    dials: Mutex<HashMap<String, Value>>,
    http: reqwest::Client,
    voice: EspeakTts,
    stats: Mutex<TelnyxStats>,
    faults: Mutex<Faults>,
}

impl Shared {
    /// A fresh `call_control_id` (`v3:` and a random token, as Telnyx's look).
    fn next_id(&self) -> String {
        let n: u128 = self.rng.lock().random();
        format!("v3:{n:032x}")
    }
}

/// A caller ringing one of the account's numbers.
#[derive(Debug, Clone)]
pub struct TelnyxInbound {
    pub from: String,
    pub to: String,
}

/// A running emulator on a loopback port.
#[derive(Debug)]
pub struct TelnyxEmulator {
    base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for TelnyxEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TelnyxEmulator {
    /// Starts serving on 127.0.0.1 (port 0 picks a free one); the signing key is drawn from
    /// the seed.
    pub async fn start(config: TelnyxConfig, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let mut rng = StdRng::seed_from_u64(config.seed);
        let key = SigningKey::from_bytes(&rng.random::<[u8; 32]>());
        let shared = Arc::new(Shared {
            webhook_url: Mutex::new(config.webhook_url.clone()),
            rng: Mutex::new(rng),
            key,
            config,
            calls: Mutex::new(HashMap::new()),
            dials: Mutex::new(HashMap::new()),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
            voice: EspeakTts::default(),
            stats: Mutex::new(TelnyxStats::default()),
            faults: Mutex::new(Faults::default()),
        });
        let router = Router::new()
            .route("/v2/calls", post(dial))
            .route("/v2/calls/{id}/actions/{action}", post(command))
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

    /// The public key webhooks are signed with (base64), a carrier account's `webhook_key`.
    pub fn public_key(&self) -> String {
        signature::public_key_base64(&self.shared.key)
    }

    /// Points the application's webhook URL somewhere else.
    pub fn set_webhook_url(&self, url: &str) {
        *self.shared.webhook_url.lock() = url.to_owned();
    }

    pub fn stats(&self) -> TelnyxStats {
        self.shared.stats.lock().clone()
    }

    /// Answers the next dials with errors.
    pub fn inject(&self, faults: Faults) {
        *self.shared.faults.lock() = faults;
    }

    /// Calls still live.
    pub fn live_calls(&self) -> usize {
        self.shared.calls.lock().len()
    }

    /// A caller rings one of the account's numbers and, as `part`, talks to whatever answers.
    /// The conversation, or why there was none (what the caller heard before the hang-up).
    pub async fn ring(&self, inbound: TelnyxInbound, part: Part) -> Result<Conversation, String> {
        let leg = call::Leg {
            id: self.shared.next_id(),
            incoming: true,
            to: inbound.to,
            from: inbound.from,
            webhook_url: self.shared.webhook_url.lock().clone(),
            detect_machine: false,
            timeout_secs: 30.0,
        };
        let (commands, rx) = mpsc::unbounded_channel();
        let client_state = Arc::new(Mutex::new(None));
        self.shared.calls.lock().insert(
            leg.id.clone(),
            Live {
                commands,
                client_state: client_state.clone(),
            },
        );
        call::ring(self.shared.clone(), leg, part, rx, client_state).await
    }
}

/// Telnyx's JSON error.
fn error(status: StatusCode, code: &str, title: &str, detail: &str, pointer: &str) -> Response {
    let mut error = json!({"code": code, "title": title, "detail": detail});
    if !pointer.is_empty() {
        error["source"] = json!({ "pointer": pointer });
    }
    (status, Json(json!({ "errors": [error] }))).into_response()
}

fn authorised(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        == Some(shared.config.api_key.as_str())
}

fn unauthorised() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "10009",
        "Authentication failed",
        "The required authentication headers were either invalid or not included in the request.",
        "",
    )
}

fn e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

async fn dial(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &headers) {
        return unauthorised();
    }
    let fault = shared.faults.lock().take();
    if let Some(fault) = fault {
        shared.stats.lock().refused += 1;
        return match fault {
            Fault::RateLimited => error(
                StatusCode::TOO_MANY_REQUESTS,
                "10011",
                "Too many requests",
                "You have exceeded the maximum number of allowed requests.",
                "",
            ),
            Fault::Unavailable => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "10007",
                "Unexpected error",
                "An unexpected error occured.",
                "",
            ),
        };
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "10023",
            "Invalid JSON",
            "The supplied JSON is invalid.",
            "",
        );
    };
    let missing = |name: &str| {
        let detail = format!("The '{name}' parameter is required.");
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "10004",
            "Missing required parameter",
            &detail,
            &format!("/{name}"),
        )
    };
    if field(&body, "connection_id") != Some(shared.config.connection_id.as_str()) {
        let detail = "The connection_id is not a Call Control application of this account.";
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "10015",
            "Bad Request",
            detail,
            "/connection_id",
        );
    }
    let Some(to) = field(&body, "to") else {
        return missing("to");
    };
    if !e164(to) {
        let detail = "The specified phone number parameter must be in +E.164 format.";
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "10016",
            "Phone number must be in +E.164 format",
            detail,
            "/to",
        );
    }
    let Some(from) = field(&body, "from") else {
        return missing("from");
    };
    let command_id = field(&body, "command_id").map(str::to_owned);
    if let Some(seen) = command_id
        .as_ref()
        .and_then(|id| shared.dials.lock().get(id).cloned())
    {
        shared.stats.lock().repeated += 1;
        return (StatusCode::OK, Json(json!({ "data": seen }))).into_response();
    }
    let id = shared.next_id();
    let leg = call::Leg {
        id: id.clone(),
        incoming: false,
        to: to.to_owned(),
        from: from.to_owned(),
        webhook_url: field(&body, "webhook_url")
            .map_or_else(|| shared.webhook_url.lock().clone(), str::to_owned),
        detect_machine: field(&body, "answering_machine_detection")
            .is_some_and(|a| a != "disabled"),
        timeout_secs: body
            .get("timeout_secs")
            .and_then(Value::as_f64)
            .unwrap_or(30.0)
            .clamp(5.0, 600.0),
    };
    let client_state = Arc::new(Mutex::new(field(&body, "client_state").map(str::to_owned)));
    let (commands, rx) = mpsc::unbounded_channel();
    let over_limit = {
        let mut calls = shared.calls.lock();
        let over = calls.len() >= shared.config.channel_limit;
        calls.insert(
            id.clone(),
            Live {
                commands,
                client_state: client_state.clone(),
            },
        );
        over
    };
    shared.stats.lock().created += 1;
    let data = json!({
        "call_control_id": id,
        "call_leg_id": format!("{:032x}", shared.rng.lock().random::<u128>()),
        "call_session_id": format!("{:032x}", shared.rng.lock().random::<u128>()),
        "client_state": *client_state.lock(),
        "is_alive": false,
        "record_type": "call",
    });
    if let Some(command_id) = command_id {
        shared.dials.lock().insert(command_id, data.clone());
    }
    tokio::spawn(call::run(shared.clone(), leg, rx, client_state, over_limit));
    (StatusCode::OK, Json(json!({ "data": data }))).into_response()
}

async fn command(
    State(shared): State<Arc<Shared>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &headers) {
        return unauthorised();
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| json!({}));
    let command = match action.as_str() {
        "answer" => Command::Answer,
        "hangup" => Command::Hangup,
        "streaming_start" => {
            let Some(url) = field(&body, "stream_url") else {
                let detail = "The 'stream_url' parameter is required.";
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "10004",
                    "Missing required parameter",
                    detail,
                    "/stream_url",
                );
            };
            if field(&body, "stream_bidirectional_mode") != Some("rtp") {
                let detail =
                    "The emulator streams bidirectional RTP only (stream_bidirectional_mode: rtp).";
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "10015",
                    "Bad Request",
                    detail,
                    "/stream_bidirectional_mode",
                );
            }
            Command::Stream {
                url: url.to_owned(),
            }
        }
        "speak" => match field(&body, "payload") {
            Some(text) => Command::Speak(text.to_owned()),
            None => {
                let detail = "The 'payload' parameter is required.";
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "10004",
                    "Missing required parameter",
                    detail,
                    "/payload",
                );
            }
        },
        "transfer" => match field(&body, "to") {
            Some(to) if e164(to) => Command::Transfer(to.to_owned()),
            _ => {
                let detail = "The specified phone number parameter must be in +E.164 format.";
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "10016",
                    "Phone number must be in +E.164 format",
                    detail,
                    "/to",
                );
            }
        },
        "send_dtmf" => {
            let digits = field(&body, "digits").unwrap_or_default();
            let valid = !digits.is_empty()
                && digits
                    .chars()
                    .all(|c| c.is_ascii_digit() || "ABCD*#wW".contains(c));
            if !valid {
                let detail = "digits must be 0-9, A-D, * and #, with w and W as pauses.";
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "10015",
                    "Bad Request",
                    detail,
                    "/digits",
                );
            }
            let duration = body.get("duration_millis").map(Value::as_i64);
            if duration.is_some_and(|d| !d.is_some_and(|d| (100..=500).contains(&d))) {
                let detail = "duration_millis must be between 100 and 500.";
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "10015",
                    "Bad Request",
                    detail,
                    "/duration_millis",
                );
            }
            Command::SendDtmf(digits.to_owned())
        }
        other => {
            let detail = format!("The command {other:?} is not one the emulator carries out.");
            return error(
                StatusCode::NOT_FOUND,
                "10005",
                "Resource not found",
                &detail,
                "",
            );
        }
    };
    let sent = shared.calls.lock().get(&id).is_some_and(|live| {
        if let Some(state) = field(&body, "client_state") {
            *live.client_state.lock() = Some(state.to_owned());
        }
        live.commands.send(command).is_ok()
    });
    if !sent {
        let detail = "This call is no longer active and can't receive commands.";
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "90018",
            "Call has already ended",
            detail,
            "",
        );
    }
    (StatusCode::OK, Json(json!({"data": {"result": "ok"}}))).into_response()
}
