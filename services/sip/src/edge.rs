//! The `Router` `vox sip` runs with: the Backend's telephony edge decides where each INVITE goes.
//!
//! `POST {backend}/api/v1/telephony/sip/{account}/invite` with the fleet secret routes the call
//! by its dialled number and attaches a worker (the same path a carrier's inbound webhook takes);
//! its answer is the worker's `vox` media URL. What the edge refuses becomes the SIP status a
//! caller's phone understands: an unrouted number 404 Not Found, a full fleet 486 Busy Here, a
//! Backend that cannot be reached or errs 503 Service Unavailable. How each call's media ended is
//! posted to `…/ended`. `…/trunk` gives the trunk's settings (its address, credentials and whether
//! vox registers with it), read once at start. A call vox places (`EdgeCall`) reports its ringing
//! and its failure to `…/progress`, and its answer there too, which attaches a worker and answers
//! its media URL; a transfer's NOTIFYs go to `…/progress` as well.

use crate::control::Transfers;
use crate::gateway::{IncomingCall, Refusal, Routed, Router};
use crate::media::{Ended, MediaStats};
use crate::outbound::{Dial, Outbound, Progress};
use serde_json::{Value, json};
use std::time::Duration;

/// The edge of one Backend, for one trunk account.
#[derive(Debug, Clone)]
pub struct EdgeRouter {
    base: String,
    secret: String,
    http: reqwest::Client,
}

impl EdgeRouter {
    /// `backend` is the Backend's base URL (`VOXBRIDGE_URL`), `account` the trunk's carrier
    /// account, `secret` the fleet secret.
    pub fn new(backend: &str, account: i64, secret: &str) -> Self {
        Self {
            base: format!(
                "{}/api/v1/telephony/sip/{account}",
                backend.trim_end_matches('/')
            ),
            secret: secret.to_owned(),
            // Past the 2-second rule plus the Backend's own work: a slower answer is a failure.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    /// The trunk's settings, from `POST …/trunk`.
    pub async fn trunk(&self) -> Result<Trunk, String> {
        let response = self
            .post("trunk", &json!({}))
            .await
            .map_err(|e| format!("the Backend could not be reached: {e}"))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != 200 {
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or("no reason given");
            return Err(format!("the Backend answered {status}: {message}"));
        }
        Trunk::from_json(&body)
    }

    async fn post(&self, hook: &str, body: &Value) -> Result<reqwest::Response, reqwest::Error> {
        self.http
            .post(format!("{}/{hook}", self.base))
            .bearer_auth(&self.secret)
            .json(body)
            .send()
            .await
    }
}

/// A trunk's settings as the Backend keeps them (the account's, and its write-only password).
#[derive(Clone, PartialEq, Eq)]
pub struct Trunk {
    /// `host[:port]`: the registrar, or where the trunk's calls go.
    pub address: String,
    pub username: Option<String>,
    pub password: String,
    pub register: bool,
    pub outbound_proxy: Option<String>,
    pub tcp: bool,
    /// What the dialler and the edge present to the gateway's call control (derived from the
    /// trunk's secret by the Backend).
    pub control_token: Option<String>,
    /// Challenge the trunk's INVITEs for `username` and `password`.
    pub authenticate_callers: bool,
}

impl std::fmt::Debug for Trunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trunk")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("register", &self.register)
            .field("outbound_proxy", &self.outbound_proxy)
            .field("tcp", &self.tcp)
            .finish_non_exhaustive()
    }
}

impl Trunk {
    /// What the call control dials through (`outbound_proxy` resolved by the caller); an error
    /// when the Backend gave no control token.
    pub fn api_trunk(
        &self,
        outbound_proxy: Option<std::net::SocketAddr>,
    ) -> Result<crate::api::ApiTrunk, String> {
        Ok(crate::api::ApiTrunk {
            trunk: crate::outbound::OutboundTrunk {
                address: self.address.clone(),
                tcp: self.tcp,
                username: self.username.clone(),
                password: self.password.clone(),
                outbound_proxy,
            },
            token: self
                .control_token
                .clone()
                .ok_or("the Backend gave no control token (is it older than this gateway?)")?,
        })
    }

    fn from_json(body: &Value) -> Result<Self, String> {
        let text = |field: &str| body.get(field).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            address: text("address").ok_or("the answer has no address")?,
            username: text("username"),
            password: text("password").ok_or("the answer has no password")?,
            register: body
                .get("register")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            outbound_proxy: text("outbound_proxy"),
            tcp: text("transport").as_deref() == Some("tcp"),
            control_token: text("control_token"),
            authenticate_callers: body
                .get("authenticate_callers")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// The SIP status for what the edge answered (`{"error": {"code", "message"}}`).
fn refusal(status: u16, body: &Value) -> Refusal {
    let error = body.get("error").unwrap_or(&Value::Null);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("refused")
        .to_owned();
    let code = match status {
        404 => 404,
        503 if error.get("code").and_then(Value::as_str) == Some("fleet.capacity_exhausted") => 486,
        _ => 503,
    };
    Refusal {
        code,
        reason: message,
    }
}

#[async_trait::async_trait]
impl Router for EdgeRouter {
    async fn route(&self, call: &IncomingCall) -> Result<Routed, Refusal> {
        let body = json!({"sip_call_id": call.sip_call_id, "from": call.from, "to": call.to});
        let response = self.post("invite", &body).await.map_err(|error| {
            tracing::warn!(%error, "the Backend could not be reached");
            Refusal {
                code: 503,
                reason: "the Backend could not be reached".into(),
            }
        })?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return Err(refusal(status, &answer));
        }
        let media_url = answer
            .get("media_url")
            .and_then(Value::as_str)
            .ok_or_else(|| refusal(502, &answer))?
            .to_owned();
        Ok(Routed {
            media_url,
            parameters: json!({"call_id": answer.get("call_id"), "sip_call_id": call.sip_call_id}),
        })
    }

    async fn ended(&self, call: &IncomingCall, ended: &Ended, stats: &MediaStats) {
        self.post_ended(&call.sip_call_id, ended, stats).await;
    }
}

impl EdgeRouter {
    /// Tells `…/ended` how a call's media ended.
    async fn post_ended(&self, sip_call_id: &str, ended: &Ended, stats: &MediaStats) {
        let (reason, detail) = match ended {
            Ended::HungUp => ("hung_up", None),
            Ended::Requested => ("hung_up_by_vox", None),
            Ended::Transferred => ("transferred", None),
            Ended::Worker(reason) => ("worker", reason.clone()),
            Ended::RtpTimeout => ("rtp_timeout", None),
            Ended::WorkerLost(error) => ("worker_lost", Some(error.clone())),
            Ended::SessionExpired => ("session_expired", None),
        };
        let detail = detail.unwrap_or_else(|| {
            format!(
                "rtp in {} out {} lost {} jitter {} ms",
                stats.rtp_in, stats.rtp_out, stats.lost, stats.jitter_ms
            )
        });
        let body = json!({"sip_call_id": sip_call_id, "reason": reason, "detail": detail});
        if let Err(error) = self.post("ended", &body).await {
            tracing::warn!(%error, sip_call_id, "could not tell the Backend how a call ended");
        }
    }

    /// Posts to `…/progress`; a failure is logged (the call goes on).
    async fn progress(&self, body: Value) -> Option<(u16, Value)> {
        match self.post("progress", &body).await {
            Ok(response) => {
                let status = response.status().as_u16();
                Some((status, response.json().await.unwrap_or(Value::Null)))
            }
            Err(error) => {
                tracing::warn!(%error, "could not tell the Backend how a call is getting on");
                None
            }
        }
    }

    /// The `Outbound` of one call vox places for the Backend's call `call_id`.
    pub fn call(&self, call_id: i64) -> std::sync::Arc<dyn Outbound> {
        std::sync::Arc::new(EdgeCall {
            edge: self.clone(),
            call_id,
        })
    }
}

/// A call vox places for the Backend: its progress and answer go to the edge's `…/progress`.
struct EdgeCall {
    edge: EdgeRouter,
    call_id: i64,
}

#[async_trait::async_trait]
impl Outbound for EdgeCall {
    async fn progress(&self, _: &Dial, sip_call_id: &str, progress: Progress) {
        let mut body = json!({"sip_call_id": sip_call_id, "call_id": self.call_id});
        match progress {
            Progress::Ringing { early_media } => {
                body["event"] = json!("ringing");
                body["early_media"] = json!(early_media);
            }
            // `answered` follows at once, and carries it.
            Progress::Answered => return,
            Progress::Failed { code, reason } => {
                body["event"] = json!("failed");
                body["code"] = json!(code);
                body["reason"] = json!(reason);
            }
        }
        self.edge.progress(body).await;
    }

    async fn answered(&self, _: &Dial, sip_call_id: &str) -> Result<Routed, Refusal> {
        let body =
            json!({"sip_call_id": sip_call_id, "call_id": self.call_id, "event": "answered"});
        let Some((status, answer)) = self.edge.progress(body).await else {
            return Err(Refusal {
                code: 503,
                reason: "the Backend could not be reached".into(),
            });
        };
        if status != 200 {
            return Err(refusal(status, &answer));
        }
        let media_url = answer
            .get("media_url")
            .and_then(Value::as_str)
            .ok_or_else(|| refusal(502, &answer))?
            .to_owned();
        Ok(Routed {
            media_url,
            parameters: json!({"call_id": self.call_id, "sip_call_id": sip_call_id}),
        })
    }

    async fn ended(&self, _: &Dial, sip_call_id: &str, ended: &Ended, stats: &MediaStats) {
        self.edge.post_ended(sip_call_id, ended, stats).await;
    }
}

#[async_trait::async_trait]
impl Transfers for EdgeRouter {
    async fn progress(&self, sip_call_id: &str, code: u16, reason: &str, last: bool) {
        let body = json!({"sip_call_id": sip_call_id, "event": "transfer", "code": code,
            "reason": reason, "last": last});
        EdgeRouter::progress(self, body).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_edge_refuses_becomes_a_status_a_phone_understands() {
        let unrouted =
            json!({"error": {"code": "not_found.number", "message": "+1 routes nowhere"}});
        assert_eq!(refusal(404, &unrouted).code, 404);
        let full = json!({"error": {"code": "fleet.capacity_exhausted", "message": "busy"}});
        assert_eq!(
            refusal(503, &full),
            Refusal {
                code: 486,
                reason: "busy".into()
            }
        );
        assert_eq!(refusal(500, &Value::Null).code, 503);
        assert_eq!(refusal(401, &Value::Null).code, 503);
    }
}
