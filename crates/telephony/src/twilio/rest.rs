//! `TwilioCarrier`: places, cancels and hangs up calls through Twilio's Calls REST resource.
//!
//! Reference: <https://www.twilio.com/docs/voice/api/call-resource>. `POST
//! /2010-04-01/Accounts/{AccountSid}/Calls.json` with HTTP Basic auth (Account SID, Auth Token),
//! form-encoded, answers 201 with the Call resource (`sid`); `POST …/Calls/{Sid}.json` with
//! `Status=canceled|completed` or `Twiml` changes a live call. Errors are JSON `{"code",
//! "message", "more_info", "status"}` (<https://www.twilio.com/docs/api/errors>): 21211, 21214 and
//! 21217 say the number cannot be called, 20429 (HTTP 429) is too many requests, 20404 an unknown
//! call. An account places 1 call per second by default (calls per second, CPS): this client keeps
//! to the account's CPS itself, and a 429 or a 5xx holds the call back for the dialler's next
//! tick rather than failing it. A request that timed out is not retried: Twilio may have placed it.

use super::{API_URL, Webhooks, twiml};
use crate::AccountCarrier as _;
use carrier::{Carrier, CarrierError, Dial};
use contracts::CallId;
use contracts::attach::MediaProtocol;
use contracts::telephony::CarrierAccountId;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;

/// One Twilio account as the dialler uses it.
#[derive(Clone)]
pub struct TwilioConfig {
    pub account: CarrierAccountId,
    /// The `AC…` Account SID.
    pub account_sid: String,
    pub auth_token: String,
    /// The REST API's base (Twilio's own unless an emulator's).
    pub api_url: Option<String>,
    /// `VOX_PUBLIC_URL`: the base Twilio reaches the edge's webhooks at.
    pub public_url: String,
    /// Calls placed per second at most (the account's CPS).
    pub calls_per_second: f64,
    /// Numbers the account owns: the caller ID when a campaign names none.
    pub numbers: Vec<String>,
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account", &self.account)
            .field("account_sid", &self.account_sid)
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .field("calls_per_second", &self.calls_per_second)
            .finish_non_exhaustive()
    }
}

/// The REST client and what it placed (our call id → Twilio's `CallSid`).
#[derive(Debug)]
pub struct TwilioCarrier {
    config: TwilioConfig,
    http: reqwest::Client,
    webhooks: Webhooks,
    calls: Mutex<HashMap<CallId, String>>,
    pacer: crate::pace::Pacer,
}

#[derive(Debug, serde::Deserialize)]
struct CallResource {
    sid: String,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

impl TwilioCarrier {
    pub fn new(config: TwilioConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let webhooks = Webhooks::new(&config.public_url, config.account);
        Self {
            http,
            webhooks,
            calls: Mutex::new(HashMap::new()),
            pacer: crate::pace::Pacer::new(config.calls_per_second),
            config,
        }
    }

    fn calls_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls",
            self.config
                .api_url
                .as_deref()
                .unwrap_or(API_URL)
                .trim_end_matches('/'),
            self.config.account_sid
        )
    }

    fn sid(&self, call_id: CallId) -> Result<String, CarrierError> {
        self.calls
            .lock()
            .get(&call_id)
            .cloned()
            .ok_or(CarrierError::UnknownCall(call_id))
    }

    async fn post(
        &self,
        url: &str,
        form: &[(&str, String)],
        call_id: CallId,
    ) -> Result<reqwest::Response, CarrierError> {
        let body = serde_urlencoded::to_string(form)
            .map_err(|e| CarrierError::Failed(format!("encoding the request: {e}")))?;
        let response = self
            .http
            .post(url)
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| CarrierError::Failed(format!("Twilio could not be reached: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let error: ErrorBody = response.json().await.unwrap_or_default();
        let detail = format!(
            "Twilio answered {status}: {} (code {})",
            error.message.as_deref().unwrap_or("no message"),
            error.code.map_or("none".to_owned(), |c| c.to_string())
        );
        Err(match (status.as_u16(), error.code) {
            (_, Some(21211 | 21214 | 21217 | 13223 | 13224)) => CarrierError::InvalidNumber(detail),
            (429, _) => CarrierError::RateLimited(detail),
            (404, _) => CarrierError::UnknownCall(call_id),
            (500..=599, _) => CarrierError::Unavailable(detail),
            _ => CarrierError::Failed(detail),
        })
    }

    /// Changes a live call (`Status=canceled|completed`, or new `Twiml`).
    async fn update(&self, call_id: CallId, form: &[(&str, String)]) -> Result<(), CarrierError> {
        let sid = self.sid(call_id)?;
        let url = format!("{}/{sid}.json", self.calls_url());
        self.post(&url, form, call_id).await.map(|_| ())
    }
}

#[async_trait::async_trait]
impl Carrier for TwilioCarrier {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn media_protocol(&self) -> MediaProtocol {
        MediaProtocol::Twilio
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
                    "the campaign has no caller ID and the Twilio account owns no number".into(),
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
        let mut form: Vec<(&str, String)> = vec![
            ("To", dial.to.as_str().to_owned()),
            ("From", from),
            ("Url", self.webhooks.voice(call)),
            ("Method", "POST".into()),
            ("StatusCallback", self.webhooks.status(call)),
            ("StatusCallbackMethod", "POST".into()),
            ("Timeout", dial.ring_timeout.as_secs().max(15).to_string()),
        ];
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event.into()));
        }
        if dial.detect_machine {
            form.push(("MachineDetection", "Enable".into()));
            form.push(("AsyncAmd", "true".into()));
            form.push(("AsyncAmdStatusCallback", self.webhooks.amd(call)));
            form.push(("AsyncAmdStatusCallbackMethod", "POST".into()));
        }
        let url = format!("{}.json", self.calls_url());
        let response = self.post(&url, &form, call).await?;
        let resource: CallResource = response
            .json()
            .await
            .map_err(|e| CarrierError::Failed(format!("Twilio's Call resource: {e}")))?;
        self.calls.lock().insert(call, resource.sid.clone());
        Ok(resource.sid)
    }

    async fn cancel(&self, call_id: CallId) -> Result<(), CarrierError> {
        self.update(call_id, &[("Status", "canceled".into())])
            .await?;
        self.calls.lock().remove(&call_id);
        Ok(())
    }

    /// The edge answered Twilio's voice webhook with the worker's stream already.
    async fn connect(&self, _call_id: CallId, _media_url: &str) -> Result<(), CarrierError> {
        Ok(())
    }

    async fn play_and_hang_up(&self, call_id: CallId, message: &str) -> Result<(), CarrierError> {
        if message.trim().is_empty() {
            return self.hang_up(call_id).await;
        }
        self.update(call_id, &[("Twiml", twiml::say_and_hang_up(message))])
            .await?;
        self.calls.lock().remove(&call_id);
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::AccountCarrier for TwilioCarrier {
    /// Ends the call at Twilio whatever its state (`Status=completed`).
    async fn hang_up(&self, call_id: CallId) -> Result<(), CarrierError> {
        self.update(call_id, &[("Status", "completed".into())])
            .await?;
        self.calls.lock().remove(&call_id);
        Ok(())
    }

    /// Moves the caller to `number` (new TwiML with `<Dial>`).
    async fn transfer(
        &self,
        call_id: CallId,
        number: &str,
        caller_id: Option<&str>,
    ) -> Result<(), CarrierError> {
        self.update(call_id, &[("Twiml", twiml::dial(number, caller_id))])
            .await
    }
}
