//! The worker suite's own fixtures.
//!
//! Attach requests and their answers, and a call's stored result; the Backend, the worker and the
//! bots come from `test_support`.

use chrono::Utc;
use contracts::CallId;
use contracts::attach::{AmdVerdict, AttachAccepted, AttachRequest, MediaProtocol};
use contracts::call_result::CallResult;
use contracts::runtime_config::CallDirection;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use store::Store;

pub use test_support::bots::{answered_call, flow_bot, silent_bot, speech};
pub use test_support::platform::{
    Backend, RunningBridge, SECRET, backend, start_bridge, start_worker, worker, worker_config,
};

pub fn attach_request(call_id: CallId, protocol: MediaProtocol) -> AttachRequest {
    AttachRequest {
        call_id,
        direction: CallDirection::Outbound,
        campaign_id: None,
        carrier: "sim".to_owned(),
        carrier_call_id: format!("carrier-{}", call_id.0),
        media_protocol: protocol,
        from: None,
        to: None,
        answered_at: Utc::now(),
        // The carrier screened the call: the bot's own machine check is tested on its own.
        amd: Some(AmdVerdict::Human),
        client: None,
    }
}

/// `POST /attach` with the secret; returns the status and body.
pub async fn attach(worker_url: &str, body: &Value, secret: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{worker_url}/attach"))
        .json(body);
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn attach_ok(
    worker_url: &str,
    call_id: CallId,
    protocol: MediaProtocol,
) -> AttachAccepted {
    let body = serde_json::to_value(attach_request(call_id, protocol)).unwrap();
    let (status, body) = attach(worker_url, &body, Some(SECRET)).await;
    assert_eq!(status, 202, "{body}");
    serde_json::from_value(body).unwrap()
}

/// The stored result of a call, once it arrives (polls the store).
pub async fn result_of(store: &Arc<dyn Store>, call_id: CallId, within: Duration) -> CallResult {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let call = store.call(call_id).await.unwrap();
        if let Some(document) = call.result {
            return serde_json::from_value(document).unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no result for call {call_id} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
