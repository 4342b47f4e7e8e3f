//! `SipCarrier`: the dialler's and the edge's client of a `vox sip` gateway's call control.
//!
//! The gateway (`services/sip`, its `api` module) serves `POST /calls` `{"call_id", "to",
//! "from", "ring_timeout_seconds"}` → `201 {"sip_call_id"}`, `DELETE /calls/{sip_call_id}` → 204,
//! and `POST /calls/{sip_call_id}/transfer` `{"to"}` → 202, each with `Authorization: Bearer` and
//! the trunk's control token; errors are `{"error": {"code", "message", "field"}}`. The account's
//! `api_url` is where that gateway's control listens (`VOX_SIP_CONTROL_LISTEN`), else
//! [`DEFAULT_CONTROL_URL`]. The gateway reports each call's progress to the telephony edge, which
//! attaches the answer (`attaches_at_answer`), so `connect` has nothing to do here.

use crate::AccountCarrier;
use carrier::{Carrier, CarrierError, Dial};
use contracts::CallId;
use contracts::attach::MediaProtocol;
use contracts::telephony::CarrierAccountId;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// Where a gateway's call control listens when the account names no `api_url`.
pub const DEFAULT_CONTROL_URL: &str = "http://127.0.0.1:8093";

/// One trunk account as the dialler uses it.
#[derive(Clone)]
pub struct SipConfig {
    pub account: CarrierAccountId,
    /// The trunk's secret (its digest password), from which the control token is derived.
    pub secret: String,
    /// The gateway's call control (`api_url`), else [`DEFAULT_CONTROL_URL`].
    pub control_url: Option<String>,
    /// Numbers the trunk owns: the caller ID when a campaign names none.
    pub numbers: Vec<String>,
}

impl std::fmt::Debug for SipConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipConfig")
            .field("account", &self.account)
            .field("control_url", &self.control_url)
            .finish_non_exhaustive()
    }
}

/// The client, and the calls it placed or follows (our call id → SIP Call-ID).
#[derive(Debug)]
pub struct SipCarrier {
    base: String,
    token: String,
    numbers: Vec<String>,
    http: reqwest::Client,
    calls: Mutex<HashMap<CallId, String>>,
}

impl SipCarrier {
    pub fn new(config: SipConfig) -> Self {
        let base = config
            .control_url
            .as_deref()
            .unwrap_or(DEFAULT_CONTROL_URL)
            .trim_end_matches('/')
            .to_owned();
        Self {
            base,
            token: super::control_token(&config.secret),
            numbers: config.numbers,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            calls: Mutex::new(HashMap::new()),
        }
    }

    fn leg(&self, call_id: CallId) -> Result<String, CarrierError> {
        self.calls
            .lock()
            .get(&call_id)
            .cloned()
            .ok_or(CarrierError::UnknownCall(call_id))
    }

    /// Sends a request; the reply's body on a 2xx, else what the refusal means.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        call_id: CallId,
    ) -> Result<Value, CarrierError> {
        let response = request.bearer_auth(&self.token).send().await.map_err(|e| {
            CarrierError::Unavailable(format!("vox sip at {} cannot be reached: {e}", self.base))
        })?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        Err(refusal(status, &body, call_id))
    }
}

/// What a refused request means, from its status and the gateway's error body.
fn refusal(status: u16, body: &Value, call_id: CallId) -> CarrierError {
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or("none");
    let detail = format!(
        "vox sip answered {status}: {} ({code})",
        error["message"].as_str().unwrap_or("no reason given")
    );
    match (status, error["field"].as_str()) {
        (404, _) => CarrierError::UnknownCall(call_id),
        (422, Some("to")) => CarrierError::InvalidNumber(detail),
        (429, _) | (503, _) => CarrierError::Unavailable(detail),
        (501, _) => CarrierError::Unsupported(detail),
        _ => CarrierError::Failed(detail),
    }
}

#[async_trait::async_trait]
impl Carrier for SipCarrier {
    fn name(&self) -> &'static str {
        "sip"
    }

    fn media_protocol(&self) -> MediaProtocol {
        MediaProtocol::Vox
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
            None => self.numbers.first().cloned().ok_or_else(|| {
                CarrierError::Failed(
                    "the campaign has no caller ID and the trunk owns no number".into(),
                )
            })?,
        };
        let body = json!({
            "call_id": dial.call_id.0,
            "to": dial.to.as_str(),
            "from": from,
            "ring_timeout_seconds": dial.ring_timeout.as_secs().clamp(15, 600),
        });
        let request = self.http.post(format!("{}/calls", self.base)).json(&body);
        let reply = self.send(request, dial.call_id).await?;
        let id = reply["sip_call_id"]
            .as_str()
            .ok_or_else(|| CarrierError::Failed("vox sip's reply has no sip_call_id".into()))?
            .to_owned();
        self.calls.lock().insert(dial.call_id, id.clone());
        Ok(id)
    }

    /// A ringing call is ended with the same request as a live one (the gateway CANCELs it).
    async fn cancel(&self, call_id: CallId) -> Result<(), CarrierError> {
        self.hang_up(call_id).await
    }

    /// The edge attached the call when the gateway reported its answer.
    async fn connect(&self, _call_id: CallId, _media_url: &str) -> Result<(), CarrierError> {
        Ok(())
    }

    /// The gateway speaks no message of its own: the call is hung up.
    async fn play_and_hang_up(&self, call_id: CallId, _message: &str) -> Result<(), CarrierError> {
        self.hang_up(call_id).await
    }
}

#[async_trait::async_trait]
impl AccountCarrier for SipCarrier {
    async fn hang_up(&self, call_id: CallId) -> Result<(), CarrierError> {
        let leg = self.leg(call_id)?;
        let request = self.http.delete(format!("{}/calls/{leg}", self.base));
        self.send(request, call_id).await?;
        self.calls.lock().remove(&call_id);
        Ok(())
    }

    /// A REFER to `number` at the trunk (the trunk presents its own caller ID).
    async fn transfer(
        &self,
        call_id: CallId,
        number: &str,
        _caller_id: Option<&str>,
    ) -> Result<(), CarrierError> {
        let leg = self.leg(call_id)?;
        let request = self
            .http
            .post(format!("{}/calls/{leg}/transfer", self.base))
            .json(&json!({ "to": number }));
        self.send(request, call_id).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, body: Value) -> CarrierError {
        refusal(status, &body, CallId(4))
    }

    #[test]
    fn each_refusal_of_the_gateway_becomes_the_error_the_dialler_acts_on() {
        let error = |code: &str, field: Option<&str>| json!({"error": {"code": code, "message": "m", "field": field}});
        assert_eq!(
            refused(404, error("not_found.call", None)),
            CarrierError::UnknownCall(CallId(4))
        );
        assert!(matches!(
            refused(422, error("validation.invalid", Some("to"))),
            CarrierError::InvalidNumber(_)
        ));
        assert!(matches!(
            refused(422, error("validation.invalid", Some("from"))),
            CarrierError::Failed(_)
        ));
        assert!(matches!(
            refused(503, error("sip.draining", None)),
            CarrierError::Unavailable(_)
        ));
        assert!(matches!(
            refused(401, error("auth.unauthorized", None)),
            CarrierError::Failed(detail) if detail.contains("401")
        ));
        assert!(matches!(refused(502, Value::Null), CarrierError::Failed(_)));
    }

    #[tokio::test]
    async fn a_gateway_that_cannot_be_reached_holds_the_call_back() {
        let carrier = SipCarrier::new(SipConfig {
            account: CarrierAccountId(1),
            secret: "s".into(),
            // Nothing listens on port 9 of loopback.
            control_url: Some("http://127.0.0.1:9".into()),
            numbers: vec!["+14155550142".into()],
        });
        let dial = Dial {
            call_id: CallId(1),
            campaign_id: None,
            to: contracts::E164Number::parse("+14155550100").unwrap(),
            from: None,
            ring_timeout: Duration::from_secs(20),
            detect_machine: false,
        };
        assert!(matches!(
            carrier.place(dial).await,
            Err(CarrierError::Unavailable(_))
        ));
        assert_eq!(
            carrier.hang_up(CallId(7)).await,
            Err(CarrierError::UnknownCall(CallId(7)))
        );
    }
}
