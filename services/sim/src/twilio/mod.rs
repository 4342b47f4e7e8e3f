//! The Twilio emulator: Twilio's Calls REST API, its signed webhooks and its media streams.
//!
//! A product feature beside the PSTN simulator: `vox sim --carrier twilio` and `vox up` with
//! `VOX_UP_CARRIER=twilio` run the demo through the same path a real Twilio account takes (the
//! dialler's REST client, the Backend's telephony edge, Twilio's media protocol into a worker).
//! It is written from Twilio's reference pages:
//! - <https://www.twilio.com/docs/voice/api/call-resource>: `POST /2010-04-01/Accounts/{Sid}/Calls.json`
//!   (HTTP Basic auth with the Account SID and Auth Token, form-encoded, 201 with the Call
//!   resource), `POST …/Calls/{Sid}.json` (`Status=canceled|completed`, `Twiml`), the call
//!   statuses and the status callback's parameters (`SequenceNumber` from 0, `Timestamp` in RFC
//!   2822, `CallDuration` and `SipResponseCode` on the last);
//! - <https://www.twilio.com/docs/api/errors>: the JSON error body and codes 20003 (auth), 20404,
//!   20429 (too many requests), 21201, 21205, 21211, 21213;
//! - <https://www.twilio.com/docs/usage/webhooks/webhooks-security>: every webhook signed with
//!   `X-Twilio-Signature`;
//! - <https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides>: a webhook whose
//!   connection fails is retried once (`rc=1`, `rp=ct`);
//! - <https://www.twilio.com/docs/voice/answering-machine-detection>: `AsyncAmd` posts `AnsweredBy`
//!   and `MachineDetectionDuration` to `AsyncAmdStatusCallback`.
//!
//! Who answers is drawn from a `Population`, as in the PSTN simulator. Faults can be injected
//! (`Faults`): the next requests answered 429 or 503. Callers can also ring the account's numbers
//! (`TwilioEmulator::ring`): Twilio posts the number's voice URL with `Direction=inbound` and
//! `CallStatus=ringing` (<https://www.twilio.com/docs/voice/twiml#request-parameters>).

mod call;
pub mod twiml;

use crate::callee::{Conversation, Part};
use crate::population::Population;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use parking_lot::Mutex;
use providers::tts::espeak::EspeakTts;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The account the emulator serves and who its calls reach.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub account_sid: String,
    pub auth_token: String,
    pub population: Population,
    pub seed: u64,
}

/// Requests to answer with an error, one each, before serving normally again.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    /// The next creations answered 429 (20429 Too Many Requests).
    pub rate_limited: u32,
    /// The next creations answered 503 (20500 internal error).
    pub unavailable: u32,
}

/// The fault the next request meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    RateLimited,
    Unavailable,
}

impl Faults {
    /// Takes the next injected fault, if any is left (rate limits first).
    pub(crate) fn take(&mut self) -> Option<Fault> {
        if self.rate_limited > 0 {
            self.rate_limited -= 1;
            Some(Fault::RateLimited)
        } else if self.unavailable > 0 {
            self.unavailable -= 1;
            Some(Fault::Unavailable)
        } else {
            None
        }
    }
}

/// What the emulator did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TwilioStats {
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
    /// Calls the REST API ended (`Status=completed` on a live call).
    pub hung_up: u64,
    /// Numbers calls were moved to by `<Dial>`.
    pub transferred_to: Vec<String>,
    pub webhooks: u64,
    pub webhook_failures: u64,
    pub machine_verdicts: u64,
    /// Seconds from the answer (the voice webhook's request) to the bot's first audio at the
    /// callee, per streamed call that heard it.
    pub first_audio_secs: Vec<f64>,
}

/// What the REST API may do to a live call.
#[derive(Debug, Clone, PartialEq)]
enum Control {
    Cancel,
    Complete,
    Twiml(String),
}

#[derive(Debug)]
struct Shared {
    config: EmulatorConfig,
    rng: Mutex<StdRng>,
    calls: Mutex<HashMap<String, mpsc::UnboundedSender<Control>>>,
    http: reqwest::Client,
    voice: EspeakTts,
    stats: Mutex<TwilioStats>,
    faults: Mutex<Faults>,
    next_sid: Mutex<u64>,
}

impl Shared {
    /// A fresh Call SID (`CA` and 32 hex digits).
    fn next_sid(&self) -> String {
        let mut next = self.next_sid.lock();
        *next += 1;
        format!("CA{:032x}", (self.config.seed << 32) ^ *next)
    }
}

/// A caller ringing one of the account's numbers, and where Twilio sends that number's webhooks
/// (the number's "A call comes in" URL and its status callback).
#[derive(Debug, Clone)]
pub struct Inbound {
    pub from: String,
    pub to: String,
    pub voice_url: String,
    pub status_callback: Option<String>,
}

/// A running emulator on a loopback port.
#[derive(Debug)]
pub struct TwilioEmulator {
    base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for TwilioEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TwilioEmulator {
    /// Starts serving on 127.0.0.1 (port 0 picks a free one).
    pub async fn start(config: EmulatorConfig, port: u16) -> std::io::Result<Self> {
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
            stats: Mutex::new(TwilioStats::default()),
            faults: Mutex::new(Faults::default()),
            next_sid: Mutex::new(0),
        });
        let router = Router::new()
            .route("/2010-04-01/Accounts/{account}/Calls.json", post(create))
            .route("/2010-04-01/Accounts/{account}/Calls/{sid}", post(update))
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

    pub fn stats(&self) -> TwilioStats {
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
    /// there was none (a refusal's words, a failed webhook).
    pub async fn ring(&self, inbound: Inbound, part: Part) -> Result<Conversation, String> {
        let leg = call::Leg {
            sid: self.shared.next_sid(),
            direction: "inbound",
            to: inbound.to,
            from: inbound.from,
            url: inbound.voice_url,
            status_callback: inbound.status_callback,
            events: Vec::new(),
            amd_callback: None,
            timeout_secs: 60.0,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared.calls.lock().insert(leg.sid.clone(), tx);
        self.shared.stats.lock().answered += 1;
        call::ring(self.shared.clone(), leg, part, rx).await
    }
}

/// Twilio's JSON error.
fn error(status: StatusCode, code: u32, message: impl Into<String>) -> Response {
    let body = json!({
        "code": code,
        "message": message.into(),
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

/// HTTP Basic with the account's SID and token, for the account in the path.
fn authorised(shared: &Shared, account: &str, headers: &HeaderMap) -> bool {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        shared.config.account_sid, shared.config.auth_token
    ));
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "));
    given == Some(expected.as_str()) && account == shared.config.account_sid
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &account, &headers) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let fault = shared.faults.lock().take();
    if let Some(fault) = fault {
        shared.stats.lock().refused += 1;
        return match fault {
            Fault::RateLimited => error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests"),
            Fault::Unavailable => error(
                StatusCode::SERVICE_UNAVAILABLE,
                20500,
                "An internal server error has occurred",
            ),
        };
    }
    let params = form(&body);
    let Some(to) = first(&params, "To") else {
        return error(
            StatusCode::BAD_REQUEST,
            21201,
            "No 'To' number is specified",
        );
    };
    if !e164(to) {
        return error(
            StatusCode::BAD_REQUEST,
            21211,
            format!("Invalid 'To' Phone Number: {to}"),
        );
    }
    let Some(from) = first(&params, "From") else {
        return error(
            StatusCode::BAD_REQUEST,
            21213,
            "No 'From' number is specified",
        );
    };
    let Some(url) = first(&params, "Url") else {
        return error(StatusCode::BAD_REQUEST, 21205, "Url parameter is required.");
    };
    let sid = shared.next_sid();
    let dial = call::Leg {
        sid: sid.clone(),
        direction: "outbound-api",
        to: to.to_owned(),
        from: from.to_owned(),
        url: url.to_owned(),
        status_callback: first(&params, "StatusCallback").map(str::to_owned),
        events: params
            .iter()
            .filter(|(k, _)| k == "StatusCallbackEvent")
            .flat_map(|(_, v)| v.split_whitespace().map(str::to_owned))
            .collect(),
        amd_callback: (first(&params, "MachineDetection").is_some()
            && first(&params, "AsyncAmd") == Some("true"))
        .then(|| first(&params, "AsyncAmdStatusCallback").map(str::to_owned))
        .flatten(),
        timeout_secs: first(&params, "Timeout")
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(60.0)
            .clamp(5.0, 600.0),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    shared.calls.lock().insert(sid.clone(), tx);
    shared.stats.lock().created += 1;
    tokio::spawn(call::run(shared.clone(), dial.clone(), rx));
    let resource = json!({
        "sid": sid,
        "account_sid": shared.config.account_sid,
        "to": dial.to,
        "from": dial.from,
        "status": "queued",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": chrono::Utc::now().to_rfc2822(),
        "uri": format!("/2010-04-01/Accounts/{}/Calls/{sid}.json", shared.config.account_sid),
    });
    (StatusCode::CREATED, Json(resource)).into_response()
}

async fn update(
    State(shared): State<Arc<Shared>>,
    Path((account, resource)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &account, &headers) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let sid = resource.trim_end_matches(".json").to_owned();
    let params = form(&body);
    let control = match (first(&params, "Status"), first(&params, "Twiml")) {
        (Some("canceled"), _) => Control::Cancel,
        (Some("completed"), _) => Control::Complete,
        (Some(other), _) => {
            return error(
                StatusCode::BAD_REQUEST,
                21218,
                format!("Invalid Status {other:?}: canceled or completed"),
            );
        }
        (None, Some(doc)) => Control::Twiml(doc.to_owned()),
        (None, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                21205,
                "Status, Url or Twiml is required.",
            );
        }
    };
    let sent = shared
        .calls
        .lock()
        .get(&sid)
        .map(|tx| tx.send(control).is_ok())
        .unwrap_or(false);
    if !sent {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource /Calls/{sid}.json was not found"),
        );
    }
    let body =
        json!({"sid": sid, "account_sid": shared.config.account_sid, "status": "in-progress"});
    (StatusCode::OK, Json(body)).into_response()
}
