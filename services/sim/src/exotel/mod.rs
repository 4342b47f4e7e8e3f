//! The Exotel emulator: the Connect-to-flow API, the Voicebot flow, status callbacks and streams.
//!
//! A product feature beside the PSTN simulator: `vox sim --carrier exotel` and `vox up` with
//! `VOX_UP_CARRIER=exotel` run the demo through the path a real Exotel account takes (the
//! dialler's REST client, the Backend's telephony edge, Exotel's Voicebot stream into a worker).
//! It is written from Exotel's reference pages:
//! - <https://developer.exotel.com/docs/voice-v1/api-reference/connect-to-flow>: `POST
//!   /v1/Accounts/{sid}/Calls/connect[.json]` (HTTP Basic auth with the API key and token; a form
//!   with `From`, `CallerId`, `Url` = `http://my.exotel.com/{sid}/exoml/start_voice/{app_id}`,
//!   `TimeOut`, `StatusCallback`, `StatusCallbackEvents`, `CustomField`) answers `{"Call": {"Sid",
//!   "Status": "in-progress", …}}`; errors are `{"RestException": {"Status", "Message"}}`
//!   (<https://developer.exotel.com/docs/references/error-codes>: 400, 401, 429, 5xx);
//! - <https://developer.exotel.com/docs/voice-v1/api-reference/status-callback>: the
//!   `StatusCallback` posted as a form (`CallSid`, `Status` `completed`/`busy`/`failed`/
//!   `no-answer`, `EventType` `answered`/`terminal`, `CustomField`, `From`, `To`, `Direction`,
//!   `DateCreated`, `DateUpdated`, `StartTime`, `EndTime`, `ConversationDuration`);
//! - <https://docs.exotel.com/exotel-agentstream/stream-applet> and
//!   <https://developer.exotel.com/docs/agentstream/stream-voicebot-applet>: a Voicebot applet
//!   whose URL is HTTPS is asked (GET, the call's `CallSid`, `CallFrom`, `CallTo`, `Direction`,
//!   `CustomField`) for `{"url": "wss://…"}`, then streams there
//!   (<https://developer.exotel.com/docs/agentstream/websocket-protocol>); the flow goes on to
//!   the next applet when the stream closes or the URL gives none;
//! - <http://support.exotel.in/solution/articles/48285-greeting-using-text-from-url>: a Greeting
//!   applet reads `text/plain` from its URL and says it.
//!
//! The account's flow (`ExotelFlow`) is `Voicebot → Greeting → Hangup`, the one docs/telephony.md
//! has operators build. Exotel's v1 API has no verb to cancel, hang up or redirect a call, so
//! neither has this emulator. Who answers is drawn from a `Population`; faults can be injected
//! (`Faults`: the next creations answered 429 or 503). Callers can ring the account's ExoPhones
//! (`ExotelEmulator::ring`): the flow runs with `Direction=incoming`.

mod call;

use crate::callee::{Conversation, Part};
use crate::population::Population;
use crate::twilio::{Fault, Faults};
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
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The account the emulator serves and who its calls reach.
#[derive(Debug, Clone)]
pub struct ExotelConfig {
    /// The Account SID.
    pub sid: String,
    pub api_key: String,
    pub api_token: String,
    pub population: Population,
    pub seed: u64,
}

/// The account's App Bazaar flow: a Voicebot applet, a Greeting reading its text from a URL, a
/// Hangup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExotelFlow {
    pub app_id: String,
    /// The Voicebot applet's URL (HTTPS: it answers the stream's URL).
    pub voicebot_url: String,
    /// The Greeting applet's text URL, when the flow has one.
    pub greeting_url: Option<String>,
}

impl ExotelFlow {
    /// The flow docs/telephony.md has operators build, on `public_url`'s telephony edge: the
    /// account's keyed Voicebot and Greeting URLs (the key derived from its `API_KEY:API_TOKEN`).
    pub fn at_edge(
        public_url: &str,
        account: contracts::telephony::CarrierAccountId,
        secret: &str,
        app_id: &str,
    ) -> Self {
        let key = telephony::exotel::edge_key(secret, account);
        let hooks = telephony::exotel::Webhooks::new(public_url, account, &key);
        Self {
            app_id: app_id.to_owned(),
            voicebot_url: hooks.voicebot(),
            greeting_url: Some(hooks.greeting()),
        }
    }
}

/// What the emulator did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ExotelStats {
    pub created: u64,
    pub refused: u64,
    pub answered: u64,
    pub busy: u64,
    pub failed: u64,
    pub no_answer: u64,
    /// Voicebot requests answered with a stream URL, and streams opened.
    pub streamed: u64,
    pub conversations: u64,
    pub lines_said: u64,
    /// What Greeting applets said (a refusal's words).
    pub greetings: Vec<String>,
    pub webhooks: u64,
    pub webhook_failures: u64,
    /// Seconds from the answer to the bot's first audio at the callee, per streamed call that
    /// heard it.
    pub first_audio_secs: Vec<f64>,
}

#[derive(Debug)]
struct Shared {
    config: ExotelConfig,
    flow: Mutex<Option<ExotelFlow>>,
    rng: Mutex<StdRng>,
    http: reqwest::Client,
    voice: EspeakTts,
    stats: Mutex<ExotelStats>,
    faults: Mutex<Faults>,
    next_sid: Mutex<u64>,
    live: Mutex<usize>,
}

impl Shared {
    /// A fresh 32-hex-digit call sid, distinct per emulator seed.
    fn next_sid(&self) -> String {
        let mut next = self.next_sid.lock();
        *next += 1;
        format!("{:016x}{:016x}", self.config.seed, *next)
    }
}

/// A caller ringing one of the account's ExoPhones, and the flow's URLs.
#[derive(Debug, Clone)]
pub struct ExotelInbound {
    /// The caller, as Exotel writes it (`0…` nationally, or `+…`).
    pub from: String,
    /// The ExoPhone rung, as Exotel writes it.
    pub to: String,
    pub flow: ExotelFlow,
}

/// A running emulator on a loopback port.
#[derive(Debug)]
pub struct ExotelEmulator {
    base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for ExotelEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ExotelEmulator {
    /// Starts serving on 127.0.0.1 (port 0 picks a free one).
    pub async fn start(config: ExotelConfig, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            flow: Mutex::new(None),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
            voice: EspeakTts::default(),
            stats: Mutex::new(ExotelStats::default()),
            faults: Mutex::new(Faults::default()),
            next_sid: Mutex::new(0),
            live: Mutex::new(0),
        });
        let router = Router::new()
            .route("/v1/Accounts/{account}/Calls/connect", post(create))
            .route("/v1/Accounts/{account}/Calls/connect.json", post(create))
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

    /// Builds the account's flow (App Bazaar): connected calls whose `Url` names its app id run it.
    pub fn set_flow(&self, flow: ExotelFlow) {
        *self.shared.flow.lock() = Some(flow);
    }

    pub fn stats(&self) -> ExotelStats {
        self.shared.stats.lock().clone()
    }

    /// Answers the next creations with errors.
    pub fn inject(&self, faults: Faults) {
        *self.shared.faults.lock() = faults;
    }

    /// Calls still live.
    pub fn live_calls(&self) -> usize {
        *self.shared.live.lock()
    }

    /// A caller rings one of the account's ExoPhones and, as `part`, talks to whatever answers.
    /// The conversation, or why there was none (what the Greeting said, a failed request).
    pub async fn ring(&self, inbound: ExotelInbound, part: Part) -> Result<Conversation, String> {
        let leg = call::Leg {
            sid: self.shared.next_sid(),
            direction: "incoming",
            from: inbound.from,
            to: inbound.to,
            custom_field: None,
            status_callback: None,
            answered_event: false,
            ring_timeout: 60.0,
        };
        self.shared.stats.lock().answered += 1;
        call::ring(self.shared.clone(), leg, inbound.flow, part).await
    }
}

/// Exotel's error body.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({"RestException": {"Status": status.as_u16(), "Message": message.into()}});
    (status, Json(body)).into_response()
}

/// HTTP Basic with the account's API key and token, for the account in the path.
fn authorised(shared: &Shared, account: &str, headers: &HeaderMap) -> bool {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        shared.config.api_key, shared.config.api_token
    ));
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "));
    given == Some(expected.as_str()) && account == shared.config.sid
}

/// A number as Exotel takes it: E.164, or national digits with their leading 0.
fn number(text: &str) -> Option<String> {
    let text = text.trim();
    let digits = text.strip_prefix('+').unwrap_or(text);
    ((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.to_owned())
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &account, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Authentication failed. Invalid API Key or Token.",
        );
    }
    let fault = shared.faults.lock().take();
    if let Some(fault) = fault {
        shared.stats.lock().refused += 1;
        return match fault {
            Fault::RateLimited => error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
            Fault::Unavailable => error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        };
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let Some(from) = field("From").and_then(number) else {
        return error(StatusCode::BAD_REQUEST, "From is not a valid phone number");
    };
    let Some(caller_id) = field("CallerId") else {
        return error(StatusCode::BAD_REQUEST, "CallerId is mandatory");
    };
    let flow_prefix = format!("my.exotel.com/{}/exoml/start_voice/", shared.config.sid);
    let app_id = field("Url").and_then(|url| {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))?;
        rest.strip_prefix(&flow_prefix)
    });
    let Some(app_id) = app_id else {
        return error(
            StatusCode::BAD_REQUEST,
            "Url must be http://my.exotel.com/<sid>/exoml/start_voice/<app_id>",
        );
    };
    let Some(flow) = shared
        .flow
        .lock()
        .clone()
        .filter(|flow| flow.app_id == app_id)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("no flow {app_id} in this account"),
        );
    };
    let events: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k.starts_with("StatusCallbackEvents"))
        .map(|(_, v)| v.as_str())
        .collect();
    let leg = call::Leg {
        sid: shared.next_sid(),
        direction: "outbound-api",
        from,
        to: caller_id.to_owned(),
        custom_field: field("CustomField").map(str::to_owned),
        status_callback: field("StatusCallback").map(str::to_owned),
        answered_event: events.contains(&"answered"),
        ring_timeout: field("TimeOut")
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(45.0)
            .clamp(5.0, 60.0),
    };
    shared.stats.lock().created += 1;
    let reply = json!({"Call": {
        "Sid": leg.sid,
        "ParentCallSid": null,
        "AccountSid": shared.config.sid,
        "To": null,
        "From": leg.from,
        "PhoneNumberSid": leg.to,
        "Status": "in-progress",
        "Direction": "outbound-api",
        "Uri": format!("/v1/Accounts/{}/Calls/{}.json", shared.config.sid, leg.sid),
    }});
    *shared.live.lock() += 1;
    tokio::spawn(call::run(shared.clone(), leg, flow));
    (StatusCode::OK, Json(reply)).into_response()
}
