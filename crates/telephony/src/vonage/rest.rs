//! `VonageCarrier`: creates, hangs up and transfers calls through the Voice API's Calls resource.
//!
//! Reference: the Voice API's OpenAPI definition (`Nexmo/api-specification`,
//! `definitions/voice.yml`) and <https://developer.vonage.com/en/api/voice>: `POST /v1/calls` with
//! a Bearer JWT signed by the application's private key, JSON: `to` and `from` phone endpoints
//! (digits), `answer_url` and `event_url` (arrays) with their methods, `ringing_timer` (1–120 s),
//! and `advanced_machine_detection` (`behavior: continue`, `mode: detect`) when the campaign
//! screens machines; 201 `{"uuid", "status", "direction", "conversation_uuid"}`. `PUT
//! /v1/calls/{uuid}` with `{"action": "hangup"}` ends a call, ringing or live (204), and with
//! `{"action": "transfer", "destination": {"type": "ncco", "ncco": […]}}` moves it to a new NCCO.
//! Errors are problem details (`type`, `title`, `detail`, `invalid_parameters`): 400 or 422 a bad
//! parameter, 401, 404 an unknown call, 429 too many requests, 5xx. This client keeps to the
//! account's calls per second; a 429 or a 5xx holds the call back for the dialler's next tick.

use super::{API_URL, Webhooks, ncco, signature};
use crate::AccountCarrier;
use crate::number::digits;
use carrier::{Carrier, CarrierError, Dial};
use contracts::CallId;
use contracts::attach::MediaProtocol;
use contracts::telephony::CarrierAccountId;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// One Vonage application as vox uses it.
#[derive(Clone)]
pub struct VonageConfig {
    pub account: CarrierAccountId,
    /// The application's id (a UUID).
    pub application_id: String,
    /// The application's private key (PEM), which signs the REST API's tokens.
    pub private_key: String,
    /// The REST API's base (Vonage's own unless an emulator's).
    pub api_url: Option<String>,
    /// `VOX_PUBLIC_URL`: the base Vonage reaches the edge's webhooks at.
    pub public_url: String,
    /// Calls placed per second at most.
    pub calls_per_second: f64,
    /// Numbers the application owns: the caller ID when a campaign names none.
    pub numbers: Vec<String>,
}

impl std::fmt::Debug for VonageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VonageConfig")
            .field("account", &self.account)
            .field("application_id", &self.application_id)
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The REST client and what it placed (our call id → Vonage's call `uuid`).
pub struct VonageCarrier {
    config: VonageConfig,
    key: Result<jsonwebtoken::EncodingKey, signature::KeyError>,
    http: reqwest::Client,
    webhooks: Webhooks,
    calls: Mutex<HashMap<CallId, String>>,
    pacer: crate::pace::Pacer,
}

impl std::fmt::Debug for VonageCarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VonageCarrier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a refused request means, from its HTTP status and Vonage's problem details.
fn refusal(status: u16, body: &Value, call_id: CallId) -> CarrierError {
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or("");
    let detail = format!(
        "Vonage answered {status}: {}",
        format!("{} {}", text("title"), text("detail")).trim()
    );
    let names_to = body
        .get("invalid_parameters")
        .and_then(Value::as_array)
        .is_some_and(|params| {
            params.iter().any(|p| {
                p.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.starts_with("to"))
            })
        });
    match status {
        404 => CarrierError::UnknownCall(call_id),
        400 | 422 if names_to => CarrierError::InvalidNumber(detail),
        429 => CarrierError::RateLimited(detail),
        500..=599 => CarrierError::Unavailable(detail),
        _ => CarrierError::Failed(detail),
    }
}

impl VonageCarrier {
    pub fn new(config: VonageConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            key: signature::private_key(&config.private_key),
            http,
            webhooks: Webhooks::new(&config.public_url, config.account),
            calls: Mutex::new(HashMap::new()),
            pacer: crate::pace::Pacer::new(config.calls_per_second),
            config,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/v1/calls{path}",
            self.config
                .api_url
                .as_deref()
                .unwrap_or(API_URL)
                .trim_end_matches('/')
        )
    }

    fn leg(&self, call_id: CallId) -> Result<String, CarrierError> {
        self.calls
            .lock()
            .get(&call_id)
            .cloned()
            .ok_or(CarrierError::UnknownCall(call_id))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: &Value,
        call_id: CallId,
    ) -> Result<Value, CarrierError> {
        let key = self
            .key
            .as_ref()
            .map_err(|e| CarrierError::Failed(format!("the application's private key: {e}")))?;
        let token = signature::app_token(
            &self.config.application_id,
            key,
            chrono::Utc::now().timestamp(),
        )
        .map_err(|e| CarrierError::Failed(e.to_string()))?;
        let response = self
            .http
            .request(method, url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(|e| CarrierError::Failed(format!("Vonage could not be reached: {e}")))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        Err(refusal(status.as_u16(), &body, call_id))
    }

    /// `PUT /v1/calls/{uuid}` for one of our calls.
    async fn modify(&self, call_id: CallId, body: Value) -> Result<(), CarrierError> {
        let uuid = self.leg(call_id)?;
        let url = self.url(&format!("/{uuid}"));
        self.send(reqwest::Method::PUT, &url, &body, call_id)
            .await
            .map(|_| ())
    }

    /// Moves the call to `ncco`.
    async fn transfer_to(&self, call_id: CallId, ncco: Value) -> Result<(), CarrierError> {
        let body = json!({"action": "transfer", "destination": {"type": "ncco", "ncco": ncco}});
        self.modify(call_id, body).await
    }
}

#[async_trait::async_trait]
impl Carrier for VonageCarrier {
    fn name(&self) -> &'static str {
        "vonage"
    }

    fn media_protocol(&self) -> MediaProtocol {
        MediaProtocol::Vonage
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
                    "the campaign has no caller ID and the Vonage application owns no number"
                        .into(),
                )
            })?,
        };
        if let Err(wait) = self.pacer.take() {
            return Err(CarrierError::RateLimited(format!(
                "the account places {} call(s) per second; next in {} ms",
                self.config.calls_per_second,
                wait.as_millis()
            )));
        }
        let call = dial.call_id;
        let mut body = json!({
            "to": [{"type": "phone", "number": digits(dial.to.as_str())}],
            "from": {"type": "phone", "number": digits(&from)},
            "answer_url": [self.webhooks.answer(call)],
            "answer_method": "POST",
            "event_url": [self.webhooks.event(call)],
            "event_method": "POST",
            "ringing_timer": dial.ring_timeout.as_secs().clamp(15, 120),
        });
        if dial.detect_machine {
            body["advanced_machine_detection"] =
                json!({"behavior": "continue", "mode": "detect", "beep_timeout": 45});
        }
        let reply = self
            .send(reqwest::Method::POST, &self.url(""), &body, call)
            .await?;
        let uuid = reply
            .get("uuid")
            .and_then(Value::as_str)
            .ok_or_else(|| CarrierError::Failed("Vonage's reply has no call uuid".into()))?
            .to_owned();
        self.calls.lock().insert(call, uuid.clone());
        Ok(uuid)
    }

    /// A ringing call is ended with the same hang-up as a live one.
    async fn cancel(&self, call_id: CallId) -> Result<(), CarrierError> {
        self.hang_up(call_id).await
    }

    /// The edge answered the answer URL with the worker's stream already.
    async fn connect(&self, _call_id: CallId, _media_url: &str) -> Result<(), CarrierError> {
        Ok(())
    }

    async fn play_and_hang_up(&self, call_id: CallId, message: &str) -> Result<(), CarrierError> {
        if message.trim().is_empty() {
            return self.hang_up(call_id).await;
        }
        self.transfer_to(call_id, ncco::talk_and_hang_up(message))
            .await?;
        self.calls.lock().remove(&call_id);
        Ok(())
    }
}

#[async_trait::async_trait]
impl AccountCarrier for VonageCarrier {
    async fn hang_up(&self, call_id: CallId) -> Result<(), CarrierError> {
        self.modify(call_id, json!({"action": "hangup"})).await?;
        self.calls.lock().remove(&call_id);
        Ok(())
    }

    async fn transfer(
        &self,
        call_id: CallId,
        number: &str,
        caller_id: Option<&str>,
    ) -> Result<(), CarrierError> {
        self.transfer_to(call_id, ncco::connect_number(number, caller_id))
            .await
    }

    /// `PUT /v1/calls/{uuid}/dtmf`: Vonage plays the keys into the call.
    async fn send_digits(&self, call_id: CallId, digits: &str) -> Result<(), CarrierError> {
        let uuid = self.leg(call_id)?;
        let url = self.url(&format!("/{uuid}/dtmf"));
        self.send(
            reqwest::Method::PUT,
            &url,
            &json!({"digits": digits}),
            call_id,
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_documented_refusal_becomes_the_carrier_error_the_dialler_acts_on() {
        let refused = |status, body: Value| refusal(status, &body, CallId(9));
        assert_eq!(
            refused(404, json!({})),
            CarrierError::UnknownCall(CallId(9))
        );
        let bad_to = json!({"title": "Bad Request", "invalid_parameters":
            [{"name": "to[0].number", "reason": "Invalid number"}]});
        assert!(matches!(
            refused(400, bad_to),
            CarrierError::InvalidNumber(_)
        ));
        let bad_url = json!({"title": "Bad Request", "invalid_parameters":
            [{"name": "answer_url", "reason": "Malformed"}]});
        assert!(matches!(refused(400, bad_url), CarrierError::Failed(_)));
        assert!(matches!(
            refused(429, json!({"title": "Too Many Requests"})),
            CarrierError::RateLimited(_)
        ));
        assert!(matches!(
            refused(503, json!({})),
            CarrierError::Unavailable(_)
        ));
        let CarrierError::Failed(detail) = refused(401, json!({"title": "Unauthorized"})) else {
            panic!("a 401 is a failure")
        };
        assert_eq!(detail, "Vonage answered 401: Unauthorized");
    }
}
