//! The telephony edge with Telnyx: signed Call Control webhooks kept once, answered by commands.
//!
//! Webhooks are signed here as Telnyx signs them (Ed25519 over `timestamp|body`, checked against
//! the SDK's scheme in the `telephony` crate); Telnyx's REST API is a fake one on loopback that
//! records each command, and the fleet is a fake one too.

use crate::helpers::*;
use crate::live::{fake_fleet, save_fleets};
use chrono::Utc;
use contracts::runtime_config::CallDirection;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{BotId, CallId, CallOutcomeCode, CallState, E164Number};
use parking_lot::Mutex;
use reqwest::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use store::{NewCall, NewCarrierAccount, Transition};
use telephony::telnyx::signature::{self, SigningKey};
use telephony::telnyx::state::{ClientState, Farewell};

const CONNECTION: &str = "1494404757140276705";
const API_KEY: &str = "KEY0123456789ABCDEF";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// Commands the fake Telnyx API received: (path, body).
type Commands = Arc<Mutex<Vec<(String, Value)>>>;

/// A fake Call Control API: every command answers 200, recorded.
async fn fake_telnyx() -> (String, Commands) {
    let seen: Commands = Default::default();
    let log = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/v2/calls/{id}/actions/{action}",
        axum::routing::post(
            move |axum::extract::Path((id, action)): axum::extract::Path<(String, String)>,
                  axum::Json(body): axum::Json<Value>| {
                let log = log.clone();
                async move {
                    log.lock().push((format!("{id}/{action}"), body));
                    axum::Json(json!({"data": {"result": "ok"}}))
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, seen)
}

/// A Telnyx account whose API is `api_url`, owning +14155550199.
async fn account(app: &TestApp, api_url: &str) -> CarrierAccountId {
    app.store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Telnyx,
            name: "telnyx".into(),
            account_sid: CONNECTION.into(),
            secret: Some(API_KEY.into()),
            api_url: Some(api_url.into()),
            numbers: vec![E164Number::parse("+14155550199").unwrap()],
            webhook_key: Some(signature::public_key_base64(&key())),
            trunk: None,
        })
        .await
        .unwrap()
        .id
}

/// A Call Control webhook's body.
fn event(kind: &str, control_id: &str, state: Option<ClientState>, extra: Value) -> Vec<u8> {
    event_at(
        kind,
        control_id,
        state,
        extra,
        "2026-12-04T10:00:00.000001Z",
    )
}

fn event_at(
    kind: &str,
    control_id: &str,
    state: Option<ClientState>,
    extra: Value,
    occurred_at: &str,
) -> Vec<u8> {
    let mut payload = json!({"call_control_id": control_id, "connection_id": CONNECTION,
        "client_state": state.map(ClientState::encode), "from": "+14155550123",
        "to": "+14155550199"});
    if let (Some(payload), Some(extra)) = (payload.as_object_mut(), extra.as_object()) {
        payload.extend(extra.clone());
    }
    json!({"data": {"record_type": "event", "event_type": kind,
        "id": format!("{kind}-{control_id}"), "occurred_at": occurred_at,
        "payload": payload}, "meta": {"attempt": 1}})
    .to_string()
    .into_bytes()
}

/// Posts a webhook signed by `signer` at `at` (Unix seconds), or unsigned.
async fn post_signed(
    app: &TestApp,
    account: CarrierAccountId,
    body: Vec<u8>,
    signer: Option<(&SigningKey, i64)>,
) -> Response {
    let url = format!("{}/api/v1/telephony/telnyx/{account}/call", app.address);
    let mut request = app
        .client
        .post(&url)
        .header("content-type", "application/json");
    if let Some((key, at)) = signer {
        request = request
            .header(signature::SIGNATURE_HEADER, signature::sign(key, at, &body))
            .header(signature::TIMESTAMP_HEADER, at.to_string());
    }
    request.body(body).send().await.unwrap()
}

async fn post(app: &TestApp, account: CarrierAccountId, body: Vec<u8>) -> Response {
    post_signed(app, account, body, Some((&key(), Utc::now().timestamp()))).await
}

/// An outbound call being dialled as Telnyx call `control_id`.
async fn dialling(app: &TestApp, control_id: &str) -> CallId {
    let call = placed(app).await;
    app.store
        .note_call_leg(call, CarrierKind::Telnyx, control_id, None)
        .await
        .unwrap();
    call
}

/// An outbound call the dialler has placed, its carrier id not yet in the store.
pub(crate) async fn placed(app: &TestApp) -> CallId {
    let name = format!("Bot {}", rand::random::<u32>());
    let body = json!({"name": name, "spec": bot_spec()});
    let bot: Value = app
        .post("/api/v1/bots", Some(&app.admin), &body)
        .await
        .json()
        .await
        .unwrap();
    let call = app
        .store
        .create_call(NewCall {
            direction: CallDirection::Outbound,
            bot_id: BotId(bot["id"].as_i64().unwrap()),
            campaign_id: None,
            contact_id: None,
            from: Some(E164Number::parse("+14155550199").unwrap()),
            to: Some(E164Number::parse("+442071838750").unwrap()),
            state: CallState::Queued,
            variables: Default::default(),
            carrier_call_id: None,
            now: Utc::now(),
        })
        .await
        .unwrap();
    let dial = Transition::new(call.id, CallState::Queued, CallState::Dialing, Utc::now());
    app.store.transition(dial).await.unwrap();
    call.id
}

fn actions(seen: &Commands) -> Vec<String> {
    seen.lock().iter().map(|(path, _)| path.clone()).collect()
}

async fn an_answered_telnyx_call_is_streamed_once_and_a_machine_is_hung_up(app: TestApp) {
    let (fleet, attached) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let (api, seen) = fake_telnyx().await;
    let account = account(&app, &api).await;
    let call = dialling(&app, "v3:c1").await;
    let ours = Some(ClientState::Call(call));
    let answered = event("call.answered", "v3:c1", ours, json!({"state": "answered"}));
    // Unsigned, signed by another key, or signed too long ago: 403, nothing kept or moved.
    let other = SigningKey::from_bytes(&[8; 32]);
    let now = Utc::now().timestamp();
    for signer in [None, Some((&other, now)), Some((&key(), now - 600))] {
        let response = post_signed(&app, account, answered.clone(), signer).await;
        let (status, code, _) = error_of(response).await;
        assert_eq!((status, code.as_str()), (403, "auth.signature"));
    }
    assert_eq!(
        app.store.call(call).await.unwrap().state,
        CallState::Dialing
    );
    assert!(app.store.telephony_events(call).await.unwrap().is_empty());
    assert!(seen.lock().is_empty());
    // Signed: a worker is reserved and Telnyx is told to stream to it, RTP in PCMU.
    assert_eq!(post(&app, account, answered.clone()).await.status(), 200);
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.state, CallState::Attaching);
    assert_eq!(record.worker_id.as_deref(), Some("w-test"));
    let (path, body) = seen.lock()[0].clone();
    assert_eq!(path, "v3:c1/streaming_start");
    assert!(
        body["stream_url"]
            .as_str()
            .unwrap()
            .starts_with("ws://127.0.0.1:")
    );
    assert_eq!(body["stream_bidirectional_mode"], "rtp");
    assert_eq!(body["stream_bidirectional_codec"], "PCMU");
    assert_eq!(body["client_state"], ClientState::Call(call).encode());
    let attach = attached.lock()[0].1.clone();
    assert_eq!(attach["media_protocol"], "telnyx");
    assert_eq!(attach["carrier_call_id"], "v3:c1");
    // The same webhook again (Telnyx redelivers): kept once, no second stream.
    assert_eq!(post(&app, account, answered).await.status(), 200);
    assert_eq!(actions(&seen).len(), 1);
    assert_eq!(app.store.telephony_events(call).await.unwrap().len(), 1);
    // A hang-up after the worker has the call leaves its end to the worker's result.
    let hangup = event(
        "call.hangup",
        "v3:c1",
        ours,
        json!({"hangup_cause": "normal_clearing", "sip_hangup_cause": "200"}),
    );
    assert_eq!(post(&app, account, hangup).await.status(), 200);
    assert_eq!(
        app.store.call(call).await.unwrap().state,
        CallState::Attaching
    );
}

async fn telnyx_events_out_of_order_end_a_call_once_with_its_cause(app: TestApp) {
    let (api, _) = fake_telnyx().await;
    let account = account(&app, &api).await;
    let call = dialling(&app, "v3:c2").await;
    let ours = Some(ClientState::Call(call));
    let busy = event_at(
        "call.hangup",
        "v3:c2",
        ours,
        json!({"hangup_cause": "user_busy", "hangup_source": "callee", "sip_hangup_cause": "486"}),
        "2026-12-04T10:00:05Z",
    );
    assert_eq!(post(&app, account, busy.clone()).await.status(), 200);
    // Telnyx reports no ringing: the first event notes the leg, for a new dialler leader.
    let unknown = placed(&app).await;
    let initiated = event(
        "call.initiated",
        "v3:c9",
        Some(ClientState::Call(unknown)),
        json!({"direction": "outgoing", "state": "bridging"}),
    );
    assert_eq!(post(&app, account, initiated).await.status(), 200);
    let record = app.store.call(unknown).await.unwrap();
    assert_eq!(record.carrier_call_id.as_deref(), Some("v3:c9"));
    let initiated = event_at(
        "call.initiated",
        "v3:c2",
        ours,
        json!({"direction": "outgoing", "state": "bridging"}),
        "2026-12-04T10:00:01Z",
    );
    assert_eq!(post(&app, account, initiated).await.status(), 200);
    assert_eq!(post(&app, account, busy).await.status(), 200);
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.state, CallState::Busy);
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialBusy));
    let moves = app.store.call_events(call).await.unwrap();
    assert_eq!(
        moves
            .iter()
            .filter(|e| e.to_state == CallState::Busy)
            .count(),
        1
    );
    assert_eq!(app.store.telephony_events(call).await.unwrap().len(), 2);
    // Over the account's channel limit: failed (tried again later), not rejected by the callee.
    let limited = dialling(&app, "v3:c3").await;
    let refused = event(
        "call.hangup",
        "v3:c3",
        Some(ClientState::Call(limited)),
        json!({"hangup_cause": "call_rejected", "sip_hangup_cause": "403"}),
    );
    assert_eq!(post(&app, account, refused).await.status(), 200);
    let record = app.store.call(limited).await.unwrap();
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialFailed));
}

async fn an_answer_nobody_can_take_hears_the_abandon_message_then_is_hung_up(app: TestApp) {
    let (fleet, _) = fake_fleet(429, 4).await;
    save_fleets(&app, &[&fleet]).await;
    let (api, seen) = fake_telnyx().await;
    let account = account(&app, &api).await;
    // Nobody can take the answer: the abandon message is spoken, then the call is hung up.
    let call = dialling(&app, "v3:c4").await;
    let answered = event(
        "call.answered",
        "v3:c4",
        Some(ClientState::Call(call)),
        json!({}),
    );
    assert_eq!(post(&app, account, answered).await.status(), 200);
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialAbandoned));
    let (path, body) = seen.lock()[0].clone();
    assert_eq!(path, "v3:c4/speak");
    assert!(
        body["payload"]
            .as_str()
            .unwrap()
            .starts_with("Sorry, we called you by mistake")
    );
    let farewell = ClientState::decode(body["client_state"].as_str().unwrap()).unwrap();
    assert_eq!(
        farewell,
        ClientState::Farewell(Farewell::Abandoned, Some(call))
    );
    let spoken = event("call.speak.ended", "v3:c4", Some(farewell), json!({}));
    assert_eq!(post(&app, account, spoken).await.status(), 200);
    assert_eq!(actions(&seen), ["v3:c4/speak", "v3:c4/hangup"]);
}

async fn an_inbound_telnyx_call_is_answered_for_its_bot_or_told_the_number_is_not_in_service(
    app: TestApp,
) {
    let (fleet, attached) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let (api, seen) = fake_telnyx().await;
    let account = account(&app, &api).await;
    let bot = app.create_bot(bot_spec()).await;
    let route = app
        .put(
            "/api/v1/inbound-numbers/+14155550199",
            Some(&app.admin),
            &json!({"bot_id": bot["id"]}),
        )
        .await;
    assert_eq!(route.status(), 200);
    let ringing = json!({"direction": "incoming", "state": "parked"});
    let initiated = event("call.initiated", "v3:in1", None, ringing.clone());
    assert_eq!(post(&app, account, initiated).await.status(), 200);
    let call = app
        .store
        .call_by_carrier_call_id("v3:in1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.state, CallState::Answered);
    let (path, body) = seen.lock()[0].clone();
    assert_eq!(path, "v3:in1/answer");
    assert_eq!(body["client_state"], ClientState::Call(call.id).encode());
    let answered = event(
        "call.answered",
        "v3:in1",
        Some(ClientState::Call(call.id)),
        json!({}),
    );
    assert_eq!(post(&app, account, answered).await.status(), 200);
    assert_eq!(actions(&seen)[1], "v3:in1/streaming_start");
    assert_eq!(
        app.store.call(call.id).await.unwrap().state,
        CallState::Attaching
    );
    assert_eq!(attached.lock()[0].1["direction"], "inbound");
    // A number that routes nowhere: answered, told so, hung up; no call record.
    let mut elsewhere = ringing;
    elsewhere["to"] = json!("+14155550198");
    let initiated = event("call.initiated", "v3:in2", None, elsewhere);
    assert_eq!(post(&app, account, initiated).await.status(), 200);
    let (path, body) = seen.lock()[2].clone();
    assert_eq!(path, "v3:in2/answer");
    let farewell = ClientState::decode(body["client_state"].as_str().unwrap()).unwrap();
    assert_eq!(farewell, ClientState::Farewell(Farewell::Unrouted, None));
    let answered = event("call.answered", "v3:in2", Some(farewell), json!({}));
    assert_eq!(post(&app, account, answered).await.status(), 200);
    let (path, body) = seen.lock()[3].clone();
    assert_eq!(
        (path.as_str(), body["payload"].as_str()),
        (
            "v3:in2/speak",
            Some("Sorry, this number is not in service.")
        )
    );
    let spoken = event("call.speak.ended", "v3:in2", Some(farewell), json!({}));
    assert_eq!(post(&app, account, spoken).await.status(), 200);
    assert_eq!(actions(&seen)[4], "v3:in2/hangup");
    assert!(
        app.store
            .call_by_carrier_call_id("v3:in2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.store
            .carrier_call_known(CarrierKind::Telnyx, "v3:in2")
            .await
            .unwrap()
    );
    // A webhook for a call the edge never saw is refused; a body that is no event names it.
    let stranger = event(
        "call.hangup",
        "v3:zz",
        None,
        json!({"hangup_cause": "timeout"}),
    );
    assert_eq!(post(&app, account, stranger).await.status(), 404);
    let (status, _, field) = error_of(post(&app, account, b"{}".to_vec()).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("body")));
}

async fn telnyx_accounts_need_a_connection_id_and_a_public_key(app: TestApp) {
    let public = signature::public_key_base64(&key());
    let good = json!({"carrier": "telnyx", "name": "EU", "account_sid": CONNECTION,
        "secret": API_KEY, "webhook_key": public, "numbers": ["+442071838750"]});
    let mut cases = Vec::new();
    for (field, value) in [
        ("account_sid", json!("AC00000000000000000000000000000001")),
        ("webhook_key", json!("not-a-key")),
        // 32 bytes that are not a point of the curve.
        (
            "webhook_key",
            json!("AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ),
    ] {
        let mut body = good.clone();
        body[field] = value;
        cases.push((body, field));
    }
    let mut keyless = good.clone();
    keyless.as_object_mut().unwrap().remove("webhook_key");
    cases.push((keyless, "webhook_key"));
    for (body, field) in cases {
        let response = app
            .post("/api/v1/carrier-accounts", Some(&app.admin), &body)
            .await;
        let (status, _, named) = error_of(response).await;
        assert_eq!((status, named.as_deref()), (422, Some(field)), "{body}");
    }
    assert!(app.store.list_carrier_accounts().await.unwrap().is_empty());
    let saved = app
        .post("/api/v1/carrier-accounts", Some(&app.admin), &good)
        .await;
    assert_eq!(saved.status(), 201);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(saved["webhook_key_set"], true);
    assert!(!saved.to_string().contains(&public) && !saved.to_string().contains(API_KEY));
    // Its carrier cannot change: that is a new account (found by the fuzzer).
    let twilio = json!({"carrier": "twilio", "name": "EU", "secret": "t",
        "account_sid": "AC00000000000000000000000000000001"});
    let path = format!("/api/v1/carrier-accounts/{}", saved["id"]);
    let (status, code, _) = error_of(app.put(&path, Some(&app.admin), &twilio).await).await;
    assert_eq!((status, code.as_str()), (409, "conflict.state"));
    // A Twilio account has no separate webhook key.
    let twilio = json!({"carrier": "twilio", "name": "US", "secret": "t",
        "account_sid": "AC00000000000000000000000000000001", "webhook_key": public});
    let response = app
        .post("/api/v1/carrier-accounts", Some(&app.admin), &twilio)
        .await;
    let (status, _, named) = error_of(response).await;
    assert_eq!((status, named.as_deref()), (422, Some("webhook_key")));
}

api_tests!(
    an_answered_telnyx_call_is_streamed_once_and_a_machine_is_hung_up,
    telnyx_events_out_of_order_end_a_call_once_with_its_cause,
    an_answer_nobody_can_take_hears_the_abandon_message_then_is_hung_up,
    an_inbound_telnyx_call_is_answered_for_its_bot_or_told_the_number_is_not_in_service,
    telnyx_accounts_need_a_connection_id_and_a_public_key,
);
