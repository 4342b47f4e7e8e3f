//! `TelnyxCarrier`: dials, answers, streams, speaks, transfers and hangs up through Call Control.
//!
//! References: <https://developers.telnyx.com/api-reference/call-commands/dial> (`POST /v2/calls`,
//! JSON, `Authorization: Bearer` with the API key; `connection_id`, `to`, `from`, `timeout_secs`,
//! `webhook_url`, `client_state` in base64, `command_id`, `answering_machine_detection`; the reply
//! `{"data": {"call_control_id", "call_leg_id", "call_session_id", ...}}`) and its sibling command
//! pages: `POST /v2/calls/{call_control_id}/actions/{answer, hangup, streaming_start, speak,
//! transfer}`. Media goes over `streaming_start` with `stream_bidirectional_mode: rtp` and
//! `stream_bidirectional_codec: PCMU`, the worker's protocol. Errors are
//! `{"errors": [{"code", "title", "detail", "source": {"pointer"}}]}`
//! (<https://developers.telnyx.com/docs/errors>): 10011 and HTTP 429 are too many requests, 10016
//! a number not in E.164, 90018 a call that has already ended. An account over its concurrent
//! call limit gets "403 User channel limit exceeded"
//! (<https://developers.telnyx.com/docs/voice/sip-trunking/configuration/concurrent-limits>): a
//! REST 403 saying so holds the call back like a 429; the same refusal as a call's SIP hang-up
//! cause ends that call `dial.failed`, retried later. A request that timed out is not retried.

use super::state::{ClientState, Farewell};
use crate::AccountCarrier;
use carrier::{Carrier, CarrierError, Dial};
use contracts::CallId;
use contracts::attach::MediaProtocol;
use contracts::telephony::CarrierAccountId;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// Telnyx's REST API base.
pub const API_URL: &str = "https://api.telnyx.com";

/// The voice Telnyx speaks farewells in (`actions/speak`'s `voice`).
const VOICE: &str = "female";

/// One Telnyx Call Control application as vox uses it.
#[derive(Clone)]
pub struct TelnyxConfig {
    pub account: CarrierAccountId,
    /// The Call Control application's id (`connection_id`).
    pub connection_id: String,
    /// A V2 API key (`KEY…`).
    pub api_key: String,
    /// The REST API's base (Telnyx's own unless an emulator's).
    pub api_url: Option<String>,
    /// `VOX_PUBLIC_URL`: the base Telnyx reaches the edge's webhooks at.
    pub public_url: String,
    /// Numbers the account owns: the caller ID when a campaign names none.
    pub numbers: Vec<String>,
}

impl std::fmt::Debug for TelnyxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelnyxConfig")
            .field("account", &self.account)
            .field("connection_id", &self.connection_id)
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The edge's webhook URL for one account: Call Control posts every event of a call to one URL.
pub fn webhook_url(public_url: &str, account: CarrierAccountId) -> String {
    format!(
        "{}/api/v1/telephony/telnyx/{account}/call",
        public_url.trim_end_matches('/')
    )
}

/// The REST client and what it placed (our call id → Telnyx's `call_control_id`).
#[derive(Debug)]
pub struct TelnyxCarrier {
    config: TelnyxConfig,
    http: reqwest::Client,
    calls: Mutex<HashMap<CallId, String>>,
}

/// One error of Telnyx's error body.
#[derive(Debug, Default, serde::Deserialize)]
struct ApiError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    source: Option<Value>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ApiError>,
}

/// What a refused request means, from its HTTP status and Telnyx's error body.
fn refusal(status: u16, body: ErrorBody, call_id: CallId) -> CarrierError {
    let first = body.errors.into_iter().next().unwrap_or_default();
    let text = format!(
        "{} {}",
        first.title.as_deref().unwrap_or(""),
        first.detail.as_deref().unwrap_or("")
    );
    let detail = format!(
        "Telnyx answered {status}: {} (code {})",
        text.trim(),
        first.code.as_deref().unwrap_or("none")
    );
    let pointer = first
        .source
        .as_ref()
        .and_then(|s| s.get("pointer"))
        .and_then(Value::as_str)
        .unwrap_or("");
    match (status, first.code.as_deref()) {
        (_, Some("90018")) | (404, _) => CarrierError::UnknownCall(call_id),
        (_, Some("10016" | "10002")) => CarrierError::InvalidNumber(detail),
        (422, _) if pointer == "/to" => CarrierError::InvalidNumber(detail),
        (429, _) | (_, Some("10011")) => CarrierError::RateLimited(detail),
        (403, _) if text.to_ascii_lowercase().contains("channel limit") => {
            CarrierError::RateLimited(detail)
        }
        (500..=599, _) => CarrierError::Unavailable(detail),
        _ => CarrierError::Failed(detail),
    }
}

impl TelnyxCarrier {
    pub fn new(config: TelnyxConfig) -> Self {
        Self::with_http(config, Self::http_client())
    }

    /// The HTTP client a `TelnyxCarrier` uses: one per process is enough (it pools connections
    /// to Telnyx's API), and a new one per request would pay for its TLS setup each time.
    pub fn http_client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    }

    /// A carrier over an HTTP client the caller keeps (the edge builds one per webhook).
    pub fn with_http(config: TelnyxConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            http,
            calls: Mutex::new(HashMap::new()),
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/v2/{path}",
            self.config
                .api_url
                .as_deref()
                .unwrap_or(API_URL)
                .trim_end_matches('/')
        )
    }

    fn control_id(&self, call_id: CallId) -> Result<String, CarrierError> {
        self.calls
            .lock()
            .get(&call_id)
            .cloned()
            .ok_or(CarrierError::UnknownCall(call_id))
    }

    async fn post(&self, url: &str, body: &Value, call_id: CallId) -> Result<Value, CarrierError> {
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.config.api_key)
            .json(body)
            .send()
            .await
            .map_err(|e| CarrierError::Failed(format!("Telnyx could not be reached: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response.json().await.unwrap_or(Value::Null));
        }
        let body: ErrorBody = response.json().await.unwrap_or_default();
        Err(refusal(status.as_u16(), body, call_id))
    }

    /// `POST /v2/calls/{call_control_id}/actions/{action}` for one of our calls.
    async fn action(&self, call_id: CallId, action: &str, body: Value) -> Result<(), CarrierError> {
        let id = self.control_id(call_id)?;
        let url = self.url(&format!("calls/{id}/actions/{action}"));
        self.post(&url, &body, call_id).await.map(|_| ())
    }

    /// Answers an inbound call, tagging its later webhooks with `state`.
    pub async fn answer(
        &self,
        call_id: CallId,
        call_control_id: &str,
        state: ClientState,
    ) -> Result<(), CarrierError> {
        self.follow(call_id, call_control_id);
        let body = json!({
            "client_state": state.encode(),
            "command_id": format!("vox-answer-{call_control_id}"),
        });
        self.action(call_id, "answer", body).await
    }

    /// Answers a call that will not be vox's (an unrouted number), to say `farewell` and hang up.
    pub async fn answer_to_refuse(
        &self,
        call_control_id: &str,
        farewell: Farewell,
    ) -> Result<(), CarrierError> {
        let url = self.url(&format!("calls/{call_control_id}/actions/answer"));
        let body = json!({
            "client_state": ClientState::Farewell(farewell, None).encode(),
            "command_id": format!("vox-answer-{call_control_id}"),
        });
        self.post(&url, &body, CallId(0)).await.map(|_| ())
    }

    /// Says `message` on an answered call, tagging the `call.speak.ended` with `state`.
    pub async fn speak(
        &self,
        call_control_id: &str,
        message: &str,
        state: ClientState,
    ) -> Result<(), CarrierError> {
        let url = self.url(&format!("calls/{call_control_id}/actions/speak"));
        let body = json!({
            "payload": message,
            "payload_type": "text",
            "voice": VOICE,
            "language": "en-US",
            "client_state": state.encode(),
        });
        self.post(&url, &body, state.call().unwrap_or(CallId(0)))
            .await
            .map(|_| ())
    }

    /// Ends a call known only by its `call_control_id` (one the edge refused).
    pub async fn hang_up_leg(&self, call_control_id: &str) -> Result<(), CarrierError> {
        let url = self.url(&format!("calls/{call_control_id}/actions/hangup"));
        self.post(&url, &json!({}), CallId(0)).await.map(|_| ())
    }
}

#[async_trait::async_trait]
impl Carrier for TelnyxCarrier {
    fn name(&self) -> &'static str {
        "telnyx"
    }

    fn media_protocol(&self) -> MediaProtocol {
        MediaProtocol::Telnyx
    }

    fn attaches_at_answer(&self) -> bool {
        true
    }

    fn follow(&self, call_id: CallId, carrier_call_id: &str) {
        self.calls
            .lock()
            .insert(call_id, carrier_call_id.to_owned());
    }

    async fn place(&self, dial: Dial) -> Result<String, CarrierError> {
        let from = match &dial.from {
            Some(from) => from.as_str().to_owned(),
            None => self.config.numbers.first().cloned().ok_or_else(|| {
                CarrierError::Failed(
                    "the campaign has no caller ID and the Telnyx account owns no number".into(),
                )
            })?,
        };
        let call = dial.call_id;
        let mut body = json!({
            "connection_id": self.config.connection_id,
            "to": dial.to.as_str(),
            "from": from,
            "timeout_secs": dial.ring_timeout.as_secs().clamp(15, 600),
            "webhook_url": webhook_url(&self.config.public_url, self.config.account),
            "webhook_url_method": "POST",
            "client_state": ClientState::Call(call).encode(),
            "command_id": format!("vox-dial-{call}"),
        });
        body["answering_machine_detection"] = if dial.detect_machine {
            json!("detect")
        } else {
            json!("disabled")
        };
        let reply = self.post(&self.url("calls"), &body, call).await?;
        let id = reply
            .pointer("/data/call_control_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                CarrierError::Failed("Telnyx's dial reply has no call_control_id".into())
            })?
            .to_owned();
        self.calls.lock().insert(call, id.clone());
        Ok(id)
    }

    /// A ringing call is ended with the same hang-up command as a live one.
    async fn cancel(&self, call_id: CallId) -> Result<(), CarrierError> {
        self.hang_up(call_id).await
    }

    /// Starts the bidirectional RTP stream to the worker.
    async fn connect(&self, call_id: CallId, media_url: &str) -> Result<(), CarrierError> {
        let body = json!({
            "stream_url": media_url,
            "stream_track": "inbound_track",
            "stream_bidirectional_mode": "rtp",
            "stream_bidirectional_codec": "PCMU",
            "client_state": ClientState::Call(call_id).encode(),
            "command_id": format!("vox-stream-{call_id}"),
        });
        self.action(call_id, "streaming_start", body).await
    }

    async fn play_and_hang_up(&self, call_id: CallId, message: &str) -> Result<(), CarrierError> {
        if message.trim().is_empty() {
            return self.hang_up(call_id).await;
        }
        let id = self.control_id(call_id)?;
        self.speak(
            &id,
            message,
            ClientState::Farewell(Farewell::Abandoned, Some(call_id)),
        )
        .await
    }
}

#[async_trait::async_trait]
impl AccountCarrier for TelnyxCarrier {
    async fn hang_up(&self, call_id: CallId) -> Result<(), CarrierError> {
        let body = json!({"command_id": format!("vox-hangup-{call_id}")});
        self.action(call_id, "hangup", body).await?;
        self.calls.lock().remove(&call_id);
        Ok(())
    }

    async fn transfer(
        &self,
        call_id: CallId,
        number: &str,
        caller_id: Option<&str>,
    ) -> Result<(), CarrierError> {
        let mut body = json!({"to": number, "command_id": format!("vox-transfer-{call_id}")});
        if let Some(from) = caller_id {
            body["from"] = json!(from);
        }
        self.action(call_id, "transfer", body).await
    }

    /// `POST /v2/calls/{call_control_id}/actions/send_dtmf`: each key 250 ms (Telnyx's default).
    async fn send_digits(&self, call_id: CallId, digits: &str) -> Result<(), CarrierError> {
        let body = json!({"digits": digits, "duration_millis": 250});
        self.action(call_id, "send_dtmf", body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, body: Value) -> CarrierError {
        refusal(status, serde_json::from_value(body).unwrap(), CallId(9))
    }

    fn error(code: &str, title: &str, pointer: &str) -> Value {
        json!({"errors": [{"code": code, "title": title, "detail": title,
            "source": {"pointer": pointer}}]})
    }

    #[test]
    fn each_documented_refusal_becomes_the_carrier_error_the_dialler_acts_on() {
        assert_eq!(
            refused(422, error("90018", "Call has already ended", "")),
            CarrierError::UnknownCall(CallId(9))
        );
        assert!(matches!(
            refused(
                422,
                error("10016", "Phone number must be in +E.164 format", "/to")
            ),
            CarrierError::InvalidNumber(_)
        ));
        assert!(matches!(
            refused(422, error("10015", "Bad Request", "/to")),
            CarrierError::InvalidNumber(_)
        ));
        assert!(matches!(
            refused(429, error("10011", "Too many requests", "")),
            CarrierError::RateLimited(_)
        ));
        assert!(matches!(
            refused(403, error("10010", "User channel limit exceeded", "")),
            CarrierError::RateLimited(_)
        ));
        // Any other 403 is a real refusal (a wrong key, a disabled account).
        assert!(matches!(
            refused(403, error("10010", "Authorization failed", "")),
            CarrierError::Failed(_)
        ));
        assert!(matches!(
            refused(503, json!({})),
            CarrierError::Unavailable(_)
        ));
        let CarrierError::Failed(detail) =
            refused(401, error("10009", "Authentication failed", ""))
        else {
            panic!("a 401 is a failure")
        };
        assert!(
            detail.contains("10009") && detail.contains("401"),
            "{detail}"
        );
    }

    #[test]
    fn the_webhook_url_is_the_account_single_call_control_url() {
        assert_eq!(
            webhook_url("https://vox.example/", CarrierAccountId(3)),
            "https://vox.example/api/v1/telephony/telnyx/3/call"
        );
    }
}
