//! The gateway's call control over HTTP (`sip::api`), SIPp as the callee behind the trunk: a call
//! placed by `POST /calls`, one ringing ended by `DELETE` (a CANCEL), one transferred by REFER with
//! its NOTIFYs reported and vox's BYE after the last; and every bad request refused, naming why.

mod support;

use serde_json::{Value, json};
use sip::api::{Api, ApiTrunk, Calling};
use sip::control::Transfers;
use sip::gateway::{Gateway, GatewayConfig};
use sip::media::Ended;
use sip::outbound::{Outbound, OutboundTrunk, Progress};
use sip::testing::{SippServer, until};
use std::sync::Arc;
use std::time::Duration;
use support::{Edge, NoInbound};

const TOKEN: &str = "the-trunks-control-token";

/// Hands every call and transfer to one `Edge`.
struct One(Arc<Edge>);

impl Calling for One {
    fn outbound(&self, _call_id: i64) -> Arc<dyn Outbound> {
        self.0.clone()
    }

    fn transfers(&self) -> Arc<dyn Transfers> {
        self.0.clone()
    }
}

/// A gateway on `ports`, its API served on loopback, the API's base URL.
async fn gateway(ports: std::ops::RangeInclusive<u16>, edge: Arc<Edge>) -> (Gateway, Api, String) {
    let config = GatewayConfig {
        rtp_ports: ports,
        rtp_timeout: Duration::from_secs(10),
        ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
    };
    let gateway = Gateway::start(config, Arc::new(NoInbound)).await.unwrap();
    let api = Api::new(gateway.control(), Arc::new(One(edge)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, api.router()).into_future());
    (gateway, api, base)
}

fn trunk_at(callee: &SippServer) -> ApiTrunk {
    ApiTrunk {
        trunk: OutboundTrunk {
            address: callee.addr.to_string(),
            tcp: false,
            username: None,
            password: "-".into(),
            outbound_proxy: None,
        },
        token: TOKEN.into(),
    }
}

/// Sends `method` to `path` with `token` and `body`; the status and the JSON answer.
async fn send(
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn call_body() -> Value {
    json!({"call_id": 7, "to": "+14155550100", "from": "+14155550142", "ring_timeout_seconds": 20})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_placed_over_http_is_rung_answered_and_bad_requests_are_refused_naming_why() {
    let edge = Arc::new(Edge::default());
    let (gateway, api, base) = gateway(34_000..=34_199, edge.clone()).await;
    let post = reqwest::Method::POST;
    // Before the trunk's settings are read, nothing is placed.
    let (status, body) = send(&base, post.clone(), "/calls", TOKEN, Some(call_body())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("sip.starting"))
    );
    let callee = SippServer::start("callee").unwrap();
    api.set_trunk(trunk_at(&callee));
    let (status, _) = send(&base, post.clone(), "/calls", "wrong", Some(call_body())).await;
    assert_eq!(status, 401);
    for (body, field) in [
        (
            json!({"to": "+14155550100", "from": "+14155550142"}),
            "call_id",
        ),
        (
            json!({"call_id": 7, "to": "sip:x", "from": "+14155550142"}),
            "to",
        ),
        (json!({"call_id": 7, "to": "+14155550100"}), "from"),
        (
            json!({"call_id": 7, "to": "+14155550100", "from": "+1415", "ring_timeout_seconds": 1}),
            "ring_timeout_seconds",
        ),
        (
            json!({"call_id": 7, "to": "+14155550100", "from": "+1415", "colour": "red"}),
            "colour",
        ),
        (json!([1, 2]), "body"),
    ] {
        let (status, answer) = send(&base, post.clone(), "/calls", TOKEN, Some(body)).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    assert_eq!(
        gateway.metrics().calls_up(),
        0,
        "a refused request placed nothing"
    );
    let (status, body) = send(&base, post, "/calls", TOKEN, Some(call_body())).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["sip_call_id"]
            .as_str()
            .is_some_and(|id| id.ends_with("@vox"))
    );
    // SIPp checks the caller ID and answers vox's BYE once the worker ends the call.
    callee.finish().await.unwrap();
    until("the call ended", || !edge.ended.lock().is_empty()).await;
    assert!(edge.progress.lock().contains(&Progress::Answered));
    let (status, _) = send(
        &base,
        reqwest::Method::DELETE,
        &format!("/calls/{}", body["sip_call_id"].as_str().unwrap()),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 404, "an ended call is no longer live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ringing_call_ended_over_http_is_cancelled() {
    let edge = Arc::new(Edge::default());
    let (_gateway, api, base) = gateway(34_200..=34_399, edge.clone()).await;
    let callee = SippServer::start("ringing").unwrap();
    api.set_trunk(trunk_at(&callee));
    let (_, body) = send(
        &base,
        reqwest::Method::POST,
        "/calls",
        TOKEN,
        Some(call_body()),
    )
    .await;
    let id = body["sip_call_id"].as_str().unwrap().to_owned();
    until("it rings", || !edge.progress.lock().is_empty()).await;
    let delete = reqwest::Method::DELETE;
    let (status, _) = send(&base, delete, &format!("/calls/{id}"), TOKEN, None).await;
    assert_eq!(status, 204);
    // SIPp's run passes once the CANCEL came and its 487 was ACKed.
    callee.finish().await.unwrap();
    until("the failure is reported", || {
        edge.progress.lock().len() == 2
    })
    .await;
    assert!(matches!(
        &edge.progress.lock()[1],
        Progress::Failed { code: 487, reason } if reason == "canceled by vox"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_sends_a_refer_reports_its_notifies_and_leaves_the_call_once_it_succeeded() {
    let edge = Arc::new(Edge {
        end_after: None,
        ..Edge::default()
    });
    let (_gateway, api, base) = gateway(34_400..=34_599, edge.clone()).await;
    let callee = SippServer::start("transferee").unwrap();
    api.set_trunk(trunk_at(&callee));
    let post = reqwest::Method::POST;
    let (_, body) = send(&base, post.clone(), "/calls", TOKEN, Some(call_body())).await;
    let id = body["sip_call_id"].as_str().unwrap().to_owned();
    let path = format!("/calls/{id}/transfer");
    let (status, answer) = send(&base, post.clone(), &path, TOKEN, Some(json!({"to": "x"}))).await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (422, Some("to"))
    );
    until("answered", || {
        edge.progress.lock().contains(&Progress::Answered)
    })
    .await;
    // Answered is reported before the bridge is up: the transfer waits for it.
    let mut transferred = 0;
    for _ in 0..50 {
        let to = json!({"to": "+14155550199"});
        transferred = send(&base, post.clone(), &path, TOKEN, Some(to)).await.0;
        if transferred != 409 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(transferred, 202);
    callee.finish().await.unwrap();
    until("the call ended", || !edge.ended.lock().is_empty()).await;
    assert_eq!(*edge.transfers.lock(), [(100, false), (200, true)]);
    assert_eq!(edge.ended.lock()[0], Ended::Transferred);
    let (status, _) = send(
        &base,
        post,
        "/calls/nobody@vox/transfer",
        TOKEN,
        Some(json!({"to": "+14155550199"})),
    )
    .await;
    assert_eq!(status, 404);
}
