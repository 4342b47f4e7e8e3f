//! `PlivoCarrier`: places, cancels, hangs up and transfers calls through Plivo's Call resource.
//!
//! Reference: <https://www.plivo.com/docs/voice/api/call/make-a-call> and the SDK's client
//! (`plivo/plivo-python`, `plivo/resources/calls.py`, `plivo/rest/client.py`): `POST
//! /v1/Account/{auth_id}/Call/` with HTTP Basic auth (Auth ID, Auth Token) and a JSON body
//! (`from`, `to` as digits, `answer_url`, `ring_url`, `hangup_url` and their `_method`s,
//! `ring_timeout`, `machine_detection`, `machine_detection_url`) answers 201 `{"api_id",
//! "message": "call fired", "request_uuid"}`; the call's own `CallUUID` arrives with its first
//! callback. `DELETE …/Request/{request_uuid}/` cancels a call not yet answered, `DELETE
//! …/Call/{call_uuid}/` hangs up a live one, and `POST …/Call/{call_uuid}/` with `legs=aleg` and
//! `aleg_url` moves it to new XML (a transfer, a last message). Errors are `{"api_id", "error"}`
//! with 400 (a parameter is invalid), 401, 404 (no such call or request) and 5xx. An account
//! places a limited number of calls per second: this client keeps to the account's CPS itself,
//! and a 429 or a 5xx holds the call back for the dialler's next tick. A request that timed out
//! is not retried: Plivo may have placed it.

use super::{API_URL, Webhooks};
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

/// How long Plivo listens for a machine before it says `Machine` (ms; 2000–10000, default 5000).
const MACHINE_DETECTION_MS: u32 = 5000;

/// One Plivo account as vox uses it.
#[derive(Clone)]
pub struct PlivoConfig {
    pub account: CarrierAccountId,
    /// The `MA…`/`SA…` Auth ID.
    pub auth_id: String,
    pub auth_token: String,
    /// The REST API's base (Plivo's own unless an emulator's).
    pub api_url: Option<String>,
    /// `VOX_PUBLIC_URL`: the base Plivo reaches the edge's webhooks at.
    pub public_url: String,
    /// Calls placed per second at most (the account's CPS).
    pub calls_per_second: f64,
    /// Numbers the account owns: the caller ID when a campaign names none.
    pub numbers: Vec<String>,
}

impl std::fmt::Debug for PlivoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlivoConfig")
            .field("account", &self.account)
            .field("auth_id", &self.auth_id)
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .field("calls_per_second", &self.calls_per_second)
            .finish_non_exhaustive()
    }
}

/// The REST client and what it placed (our call id → Plivo's request or call UUID).
#[derive(Debug)]
pub struct PlivoCarrier {
    config: PlivoConfig,
    http: reqwest::Client,
    webhooks: Webhooks,
    calls: Mutex<HashMap<CallId, String>>,
    pacer: crate::pace::Pacer,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<Value>,
}

/// What a refused request means, from its HTTP status and Plivo's `error`.
fn refusal(status: u16, body: ErrorBody, call_id: CallId) -> CarrierError {
    let message = match body.error {
        Some(Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => "no message".to_owned(),
    };
    let detail = format!("Plivo answered {status}: {message}");
    let lower = message.to_ascii_lowercase();
    match status {
        404 => CarrierError::UnknownCall(call_id),
        400 if ["destination", "'to'", "\"to\"", "to number"]
            .iter()
            .any(|word| lower.contains(word)) =>
        {
            CarrierError::InvalidNumber(detail)
        }
        429 => CarrierError::RateLimited(detail),
        500..=599 => CarrierError::Unavailable(detail),
        _ => CarrierError::Failed(detail),
    }
}

impl PlivoCarrier {
    pub fn new(config: PlivoConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            http,
            webhooks: Webhooks::new(&config.public_url, config.account),
            calls: Mutex::new(HashMap::new()),
            pacer: crate::pace::Pacer::new(config.calls_per_second),
            config,
        }
    }

    /// `…/v1/Account/{auth_id}/{path}/`.
    fn url(&self, path: &str) -> String {
        format!(
            "{}/v1/Account/{}/{path}/",
            self.config
                .api_url
                .as_deref()
                .unwrap_or(API_URL)
                .trim_end_matches('/'),
            self.config.auth_id
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
        body: Option<&Value>,
        call_id: CallId,
    ) -> Result<Value, CarrierError> {
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(&self.config.auth_id, Some(&self.config.auth_token));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CarrierError::Failed(format!("Plivo could not be reached: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response.json().await.unwrap_or(Value::Null));
        }
        let body: ErrorBody = response.json().await.unwrap_or_default();
        Err(refusal(status.as_u16(), body, call_id))
    }

    /// Ends the leg whatever its state: `first` is tried, then the other resource (a call known
    /// by its request UUID before the answer, by its call UUID after).
    async fn end(&self, call_id: CallId, request_first: bool) -> Result<(), CarrierError> {
        let id = self.leg(call_id)?;
        let order = if request_first {
            ["Request", "Call"]
        } else {
            ["Call", "Request"]
        };
        let mut last = CarrierError::UnknownCall(call_id);
        for resource in order {
            let url = self.url(&format!("{resource}/{id}"));
            match self
                .send(reqwest::Method::DELETE, &url, None, call_id)
                .await
            {
                Ok(_) => {
                    self.calls.lock().remove(&call_id);
                    return Ok(());
                }
                Err(error @ CarrierError::UnknownCall(_)) => last = error,
                Err(error) => return Err(error),
            }
        }
        Err(last)
    }

    /// Moves the live call's caller to the XML at `url`.
    async fn move_to(&self, call_id: CallId, url: String) -> Result<(), CarrierError> {
        let id = self.leg(call_id)?;
        let body = json!({"legs": "aleg", "aleg_url": url, "aleg_method": "POST"});
        let resource = self.url(&format!("Call/{id}"));
        self.send(reqwest::Method::POST, &resource, Some(&body), call_id)
            .await
            .map(|_| ())
    }
}

#[async_trait::async_trait]
impl Carrier for PlivoCarrier {
    fn name(&self) -> &'static str {
        "plivo"
    }

    fn media_protocol(&self) -> MediaProtocol {
        MediaProtocol::Plivo
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
                    "the campaign has no caller ID and the Plivo account owns no number".into(),
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
            "from": digits(&from),
            "to": digits(dial.to.as_str()),
            "answer_url": self.webhooks.answer(call),
            "answer_method": "POST",
            "ring_url": self.webhooks.ring(call),
            "ring_method": "POST",
            "hangup_url": self.webhooks.hangup(call),
            "hangup_method": "POST",
            "ring_timeout": dial.ring_timeout.as_secs().clamp(15, 120),
        });
        if dial.detect_machine {
            body["machine_detection"] = json!("true");
            body["machine_detection_time"] = json!(MACHINE_DETECTION_MS);
            body["machine_detection_url"] = json!(self.webhooks.amd(call));
            body["machine_detection_method"] = json!("POST");
        }
        let reply = self
            .send(reqwest::Method::POST, &self.url("Call"), Some(&body), call)
            .await?;
        let request = reply
            .get("request_uuid")
            .and_then(Value::as_str)
            .ok_or_else(|| CarrierError::Failed("Plivo's reply has no request_uuid".into()))?
            .to_owned();
        self.calls.lock().insert(call, request.clone());
        Ok(request)
    }

    /// A call not yet answered is canceled as a request.
    async fn cancel(&self, call_id: CallId) -> Result<(), CarrierError> {
        self.end(call_id, true).await
    }

    /// The edge answered Plivo's answer URL with the worker's stream already.
    async fn connect(&self, _call_id: CallId, _media_url: &str) -> Result<(), CarrierError> {
        Ok(())
    }

    async fn play_and_hang_up(&self, call_id: CallId, message: &str) -> Result<(), CarrierError> {
        if message.trim().is_empty() {
            return self.hang_up(call_id).await;
        }
        self.move_to(call_id, self.webhooks.farewell(call_id, message))
            .await?;
        self.calls.lock().remove(&call_id);
        Ok(())
    }
}

#[async_trait::async_trait]
impl AccountCarrier for PlivoCarrier {
    async fn hang_up(&self, call_id: CallId) -> Result<(), CarrierError> {
        self.end(call_id, false).await
    }

    /// Moves the caller to `number` (the edge's transfer XML: `<Dial>`).
    async fn transfer(
        &self,
        call_id: CallId,
        number: &str,
        caller_id: Option<&str>,
    ) -> Result<(), CarrierError> {
        self.move_to(call_id, self.webhooks.transfer(call_id, number, caller_id))
            .await
    }

    /// `POST /v1/Account/{auth_id}/Call/{call_uuid}/DTMF/` on the A leg (the person called).
    async fn send_digits(&self, call_id: CallId, digits: &str) -> Result<(), CarrierError> {
        let id = self.leg(call_id)?;
        let url = self.url(&format!("Call/{id}/DTMF"));
        let body = json!({"digits": digits, "leg": "aleg"});
        self.send(reqwest::Method::POST, &url, Some(&body), call_id)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, error: &str) -> CarrierError {
        refusal(
            status,
            serde_json::from_value(json!({"api_id": "a", "error": error})).unwrap(),
            CallId(9),
        )
    }

    #[test]
    fn each_documented_refusal_becomes_the_carrier_error_the_dialler_acts_on() {
        assert_eq!(
            refused(404, "not found"),
            CarrierError::UnknownCall(CallId(9))
        );
        assert!(matches!(
            refused(400, "invalid 'to' number"),
            CarrierError::InvalidNumber(_)
        ));
        assert!(matches!(
            refused(429, "too many requests"),
            CarrierError::RateLimited(_)
        ));
        assert!(matches!(
            refused(503, "server error"),
            CarrierError::Unavailable(_)
        ));
        let CarrierError::Failed(detail) = refused(401, "authentication failed") else {
            panic!("a 401 is a failure")
        };
        assert!(
            detail.contains("401") && detail.contains("authentication"),
            "{detail}"
        );
        // A 400 about something else is a failure, not a bad number.
        assert!(matches!(
            refused(400, "answer_url is required"),
            CarrierError::Failed(_)
        ));
    }
}
