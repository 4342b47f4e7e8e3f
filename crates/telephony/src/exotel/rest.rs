//! `ExotelCarrier`: places calls into the account's Voicebot flow through Exotel's Connect API.
//!
//! Reference: <https://developer.exotel.com/docs/voice-v1/api-reference/connect-to-flow>: `POST
//! /v1/Accounts/{sid}/Calls/connect.json` with HTTP Basic auth (API key, API token) and a form
//! body (`From`, the number called first; `CallerId`, the ExoPhone; `Url`, the flow; `CallType`
//! `trans`; `TimeOut`, the ring time in seconds; `StatusCallback` with `StatusCallbackEvents`
//! `terminal` and `answered`; `CustomField`, echoed to the flow's applets and the callback)
//! answers 200 `{"Call": {"Sid", "Status", …}}`. Errors are `{"RestException": {"Status",
//! "Message", "Code"}}` with 400, 401, 402, 403, 404, 429 and 5xx
//! (<https://developer.exotel.com/docs/references/error-codes>). Voice APIs take 200 requests a
//! minute: this client keeps under that and the account's CPS, and a 429 or a 5xx holds the call
//! back for the dialler's next tick.
//!
//! Exotel's v1 API has no verb to cancel, hang up or redirect a call: a ringing call rings out
//! its `TimeOut`, and a live one ends when the worker closes the Voicebot stream (the flow goes on
//! to its Greeting and Hangup applets). Those verbs answer an error saying so.

use super::{API_URL, Account, Webhooks};
use crate::AccountCarrier;
use carrier::{Carrier, CarrierError, Dial};
use contracts::CallId;
use contracts::attach::MediaProtocol;
use contracts::telephony::CarrierAccountId;
use serde_json::Value;
use std::time::Duration;

/// Exotel's Voice API limit: 200 requests a minute.
const MAX_CALLS_PER_SECOND: f64 = 200.0 / 60.0;
/// The longest ring Exotel allows (`TimeOut`; TRAI's minute).
const MAX_RING_SECS: u64 = 60;

/// One Exotel account as vox uses it.
#[derive(Clone)]
pub struct ExotelConfig {
    pub account: CarrierAccountId,
    /// `SID/APP_ID`: the Account SID and the Voicebot flow's app id.
    pub account_sid: String,
    /// `API_KEY:API_TOKEN`.
    pub secret: String,
    /// The REST API's base (Exotel's own unless an emulator's or another cluster's).
    pub api_url: Option<String>,
    /// `VOX_PUBLIC_URL`: the base Exotel reaches the edge at.
    pub public_url: String,
    pub calls_per_second: f64,
    /// Numbers the account owns (ExoPhones): the caller ID when a campaign names none.
    pub numbers: Vec<String>,
}

impl std::fmt::Debug for ExotelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExotelConfig")
            .field("account", &self.account)
            .field("account_sid", &self.account_sid)
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The REST client.
#[derive(Debug)]
pub struct ExotelCarrier {
    config: ExotelConfig,
    http: reqwest::Client,
    pacer: crate::pace::Pacer,
}

/// What a refused request means, from its HTTP status and Exotel's `RestException`.
fn refusal(status: u16, body: &Value, call_id: CallId) -> CarrierError {
    let message = body
        .pointer("/RestException/Message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let detail = format!("Exotel answered {status}: {message}");
    let lower = message.to_ascii_lowercase();
    match status {
        404 => CarrierError::UnknownCall(call_id),
        400 if ["from", "number"].iter().any(|w| lower.contains(w)) => {
            CarrierError::InvalidNumber(detail)
        }
        429 => CarrierError::RateLimited(detail),
        500..=599 => CarrierError::Unavailable(detail),
        _ => CarrierError::Failed(detail),
    }
}

impl ExotelCarrier {
    pub fn new(config: ExotelConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            http,
            pacer: crate::pace::Pacer::new(config.calls_per_second.min(MAX_CALLS_PER_SECOND)),
            config,
        }
    }

    fn unsupported(&self, verb: &str) -> CarrierError {
        CarrierError::Unsupported(format!(
            "Exotel's API cannot {verb} a call: the Voicebot flow ends it when its stream closes"
        ))
    }
}

#[async_trait::async_trait]
impl Carrier for ExotelCarrier {
    fn name(&self) -> &'static str {
        "exotel"
    }

    fn media_protocol(&self) -> MediaProtocol {
        MediaProtocol::Exotel
    }

    fn attaches_at_answer(&self) -> bool {
        true
    }

    async fn place(&self, dial: Dial) -> Result<String, CarrierError> {
        let account = Account::parse(&self.config.account_sid).map_err(CarrierError::Failed)?;
        let (key, token) = super::credentials(&self.config.secret).map_err(CarrierError::Failed)?;
        let caller_id = match &dial.from {
            Some(from) => from.as_str().to_owned(),
            None => self.config.numbers.first().cloned().ok_or_else(|| {
                CarrierError::Failed(
                    "the campaign has no caller ID and the Exotel account owns no ExoPhone".into(),
                )
            })?,
        };
        if let Err(wait) = self.pacer.take() {
            return Err(CarrierError::RateLimited(format!(
                "the account places {:.2} call(s) per second; next in {} ms",
                self.config.calls_per_second.min(MAX_CALLS_PER_SECOND),
                wait.as_millis()
            )));
        }
        let hooks = Webhooks::new(
            &self.config.public_url,
            self.config.account,
            &super::edge_key(&self.config.secret, self.config.account),
        );
        let form = [
            ("From", dial.to.as_str().to_owned()),
            ("CallerId", caller_id),
            ("Url", account.flow_url()),
            ("CallType", "trans".to_owned()),
            (
                "TimeOut",
                dial.ring_timeout
                    .as_secs()
                    .clamp(1, MAX_RING_SECS)
                    .to_string(),
            ),
            ("StatusCallback", hooks.status()),
            ("StatusCallbackEvents[0]", "terminal".to_owned()),
            ("StatusCallbackEvents[1]", "answered".to_owned()),
            ("CustomField", super::custom_field(dial.call_id)),
        ];
        let url = format!(
            "{}/v1/Accounts/{}/Calls/connect.json",
            self.config
                .api_url
                .as_deref()
                .unwrap_or(API_URL)
                .trim_end_matches('/'),
            account.sid
        );
        let response = self
            .http
            .post(&url)
            .basic_auth(key, Some(token))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap_or_default())
            .send()
            .await
            .map_err(|e| CarrierError::Failed(format!("Exotel could not be reached: {e}")))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(refusal(status.as_u16(), &body, dial.call_id));
        }
        body.pointer("/Call/Sid")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| CarrierError::Failed("Exotel's reply has no Call.Sid".into()))
    }

    async fn cancel(&self, _call_id: CallId) -> Result<(), CarrierError> {
        Err(CarrierError::Unsupported(
            "Exotel's API cannot cancel a call: it rings out its TimeOut".into(),
        ))
    }

    /// The edge answered the Voicebot applet with the worker's stream already.
    async fn connect(&self, _call_id: CallId, _media_url: &str) -> Result<(), CarrierError> {
        Ok(())
    }

    async fn play_and_hang_up(&self, _call_id: CallId, _message: &str) -> Result<(), CarrierError> {
        Err(self.unsupported("hang up"))
    }
}

#[async_trait::async_trait]
impl AccountCarrier for ExotelCarrier {
    async fn hang_up(&self, _call_id: CallId) -> Result<(), CarrierError> {
        Err(self.unsupported("hang up"))
    }

    /// The Voicebot applet has no transfer, and the v1 API cannot move a live call.
    async fn transfer(
        &self,
        _call_id: CallId,
        _number: &str,
        _caller_id: Option<&str>,
    ) -> Result<(), CarrierError> {
        Err(CarrierError::Unsupported(
            "Exotel's Voicebot applet cannot transfer a call, and its API cannot move one".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(status: u16, message: &str) -> CarrierError {
        let body = json!({"RestException": {"Status": status, "Message": message}});
        refusal(status, &body, CallId(9))
    }

    #[test]
    fn each_documented_refusal_becomes_the_carrier_error_the_dialler_acts_on() {
        assert!(matches!(
            refused(400, "From is not a valid phone number"),
            CarrierError::InvalidNumber(_)
        ));
        assert!(matches!(
            refused(429, "Too Many Requests"),
            CarrierError::RateLimited(_)
        ));
        assert!(matches!(
            refused(503, "Service Unavailable"),
            CarrierError::Unavailable(_)
        ));
        let CarrierError::Failed(detail) = refused(402, "insufficient balance") else {
            panic!("a 402 is a failure")
        };
        assert!(
            detail.contains("402") && detail.contains("balance"),
            "{detail}"
        );
        assert!(matches!(
            refused(400, "Url is not a flow"),
            CarrierError::Failed(_)
        ));
    }
}
