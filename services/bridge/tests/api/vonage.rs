//! The telephony edge with Vonage: JWT-signed webhooks kept once, answered with NCCOs.
//!
//! Webhooks are signed here as Vonage signs them (a Bearer JWT, HS256 with the account's
//! signature secret, whose `payload_hash` is the body's SHA-256: checked in the `telephony`
//! crate); Vonage's REST API is a fake one on loopback that records each request, and the fleet
//! is a fake one too.

use crate::helpers::*;
use crate::live::{fake_fleet, save_fleets};
use crate::telnyx::placed;
use axum::response::IntoResponse as _;
use chrono::Utc;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{CallId, CallOutcomeCode, CallState, E164Number};
use parking_lot::Mutex;
use reqwest::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use store::NewCarrierAccount;
use telephony::vonage::{signature, testing};

const APPLICATION: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const SECRET: &str = "vonage-signature-secret";

/// Requests the fake Vonage API received: (method and path, body, the token's application).
type Requests = Arc<Mutex<Vec<(String, Value, Option<String>)>>>;

/// A fake Voice API: every call modification answers 204, its token checked and recorded.
async fn fake_vonage() -> (String, Requests) {
    let seen: Requests = Default::default();
    let log = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: axum::http::HeaderMap,
              body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let token = headers
                    .get("authorization")
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .and_then(|t| signature::verify_app_token(testing::PUBLIC_KEY, t))
                    .map(|claims| claims.application_id);
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log.lock()
                    .push((format!("{method} {}", uri.path()), body, token));
                axum::http::StatusCode::NO_CONTENT.into_response()
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, seen)
}

/// A Vonage application whose API is `api_url`, owning +14155550199.
async fn account(app: &TestApp, api_url: &str) -> CarrierAccountId {
    app.store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Vonage,
            name: "vonage".into(),
            account_sid: APPLICATION.into(),
            secret: Some(testing::PRIVATE_KEY.into()),
            api_url: Some(api_url.into()),
            numbers: vec![E164Number::parse("+14155550199").unwrap()],
            webhook_key: Some(SECRET.into()),
            trunk: None,
        })
        .await
        .unwrap()
        .id
}

/// Posts a Vonage webhook to `path` under the account, signed with `secret` when given.
async fn vonage(app: &TestApp, path: &str, body: Value, secret: Option<&str>) -> Response {
    let url = format!("{}/api/v1/telephony/vonage/{path}", app.address);
    let body = body.to_string();
    let mut request = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone());
    if let Some(secret) = secret {
        let now = Utc::now().timestamp();
        let token = signature::sign(secret, "apikey", APPLICATION, body.as_bytes(), now);
        request = request.header("authorization", token);
    }
    request.send().await.unwrap()
}

/// An outbound call the dialler placed as Vonage call `uuid`.
async fn dialling(app: &TestApp, uuid: &str) -> CallId {
    let call = placed(app).await;
    app.store
        .note_call_leg(call, CarrierKind::Vonage, uuid, None)
        .await
        .unwrap();
    call
}

async fn an_answered_vonage_call_is_streamed_once_and_a_machine_is_hung_up(app: TestApp) {
    let (fleet, attached) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let (api, seen) = fake_vonage().await;
    let account = account(&app, &api).await;
    let call = dialling(&app, "v-1").await;
    let answer = json!({"uuid": "v-1", "conversation_uuid": "CON-1",
        "from": "14155550199", "to": "442071838750"});
    let path = format!("{account}/answer?call={call}");
    // Unsigned, or signed with another secret: 403, nothing kept or moved.
    for secret in [None, Some("not-the-secret")] {
        let (status, code, _) = error_of(vonage(&app, &path, answer.clone(), secret).await).await;
        assert_eq!((status, code.as_str()), (403, "auth.signature"));
    }
    assert!(app.store.telephony_events(call).await.unwrap().is_empty());
    // A body that is not the one the token signs is refused too.
    let url = format!("{}/api/v1/telephony/vonage/{path}", app.address);
    let token = signature::sign(SECRET, "k", APPLICATION, b"{}", Utc::now().timestamp());
    let tampered = app
        .client
        .post(&url)
        .header("authorization", token)
        .body(answer.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 403);
    // Signed: a worker is reserved and Vonage gets an NCCO streaming to it at 16 kHz.
    let response = vonage(&app, &path, answer.clone(), Some(SECRET)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let ncco: Value = response.json().await.unwrap();
    assert_eq!(ncco[0]["action"], "connect");
    let endpoint = &ncco[0]["endpoint"][0];
    assert_eq!(endpoint["type"], "websocket");
    assert_eq!(endpoint["content-type"], "audio/l16;rate=16000");
    assert_eq!(endpoint["headers"]["call_id"], call.to_string());
    assert!(
        endpoint["uri"]
            .as_str()
            .unwrap()
            .starts_with("ws://127.0.0.1:")
    );
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.state, CallState::Attaching);
    assert_eq!(attached.lock()[0].1["media_protocol"], "vonage");
    // A redelivery: kept once, an empty NCCO (hang up), no second attach.
    let again: Value = vonage(&app, &path, answer, Some(SECRET))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!([]));
    assert_eq!(attached.lock().len(), 1);
    // A machine on another call ends it `dial.machine`, hung up through the REST API with a
    // token signed by the application's private key.
    let machine_call = dialling(&app, "v-2").await;
    let path = format!("{account}/event?call={machine_call}");
    let ringing = json!({"uuid": "v-2", "status": "ringing"});
    assert_eq!(
        vonage(&app, &path, ringing, Some(SECRET)).await.status(),
        204
    );
    let machine = json!({"uuid": "v-2", "status": "machine", "sub_state": "beep_start"});
    assert_eq!(
        vonage(&app, &path, machine, Some(SECRET)).await.status(),
        204
    );
    let record = app.store.call(machine_call).await.unwrap();
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialMachine));
    let (request, body, token) = seen.lock()[0].clone();
    assert_eq!(request, "PUT /v1/calls/v-2");
    assert_eq!(body, json!({"action": "hangup"}));
    assert_eq!(token.as_deref(), Some(APPLICATION));
}

async fn vonage_events_out_of_order_end_a_call_once_with_its_outcome(app: TestApp) {
    let (api, _) = fake_vonage().await;
    let account = account(&app, &api).await;
    let call = dialling(&app, "v-3").await;
    let path = format!("{account}/event?call={call}");
    let busy = json!({"uuid": "v-3", "status": "busy", "timestamp": "2026-12-04T10:00:05.000Z"});
    assert_eq!(
        vonage(&app, &path, busy.clone(), Some(SECRET))
            .await
            .status(),
        204
    );
    let ringing = json!({"uuid": "v-3", "status": "ringing"});
    assert_eq!(
        vonage(&app, &path, ringing, Some(SECRET)).await.status(),
        204
    );
    assert_eq!(vonage(&app, &path, busy, Some(SECRET)).await.status(), 204);
    let record = app.store.call(call).await.unwrap();
    assert_eq!(
        (record.state, record.outcome),
        (CallState::Busy, Some(CallOutcomeCode::DialBusy))
    );
    assert_eq!(app.store.telephony_events(call).await.unwrap().len(), 2);
    // A number Vonage says is invalid ends `dial.invalid_number`.
    let invalid = dialling(&app, "v-4").await;
    let path = format!("{account}/event?call={invalid}");
    let failed = json!({"uuid": "v-4", "status": "failed", "detail": "invalid_number"});
    assert_eq!(
        vonage(&app, &path, failed, Some(SECRET)).await.status(),
        204
    );
    let record = app.store.call(invalid).await.unwrap();
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialInvalidNumber));
    // Another call's leg, an unknown status or no uuid are refused, naming what is wrong.
    let stranger = json!({"uuid": "v-9", "status": "busy"});
    let (status, code, _) = error_of(vonage(&app, &path, stranger, Some(SECRET)).await).await;
    assert_eq!((status, code.as_str()), (409, "conflict.carrier_call"));
    let odd = json!({"uuid": "v-4", "status": "canceled"});
    let (status, _, field) = error_of(vonage(&app, &path, odd, Some(SECRET)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("status")));
    let (status, _, field) =
        error_of(vonage(&app, &path, json!({"status": "busy"}), Some(SECRET)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("uuid")));
}

async fn an_inbound_vonage_call_is_streamed_to_its_bot_and_transfers_by_ncco(app: TestApp) {
    let (fleet, attached) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let (api, seen) = fake_vonage().await;
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
    let answer = json!({"uuid": "in-1", "conversation_uuid": "CON-9",
        "from": "442071838750", "to": "14155550199"});
    let ncco: Value = vonage(&app, &format!("{account}/answer"), answer, Some(SECRET))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ncco[0]["endpoint"][0]["type"], "websocket");
    let call = app
        .store
        .call_by_carrier_call_id("in-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.state, CallState::Attaching);
    assert_eq!(
        call.from.as_ref().map(|f| f.as_str()),
        Some("+442071838750")
    );
    assert_eq!(attached.lock()[0].1["direction"], "inbound");
    // The bot transfers its caller: Vonage is told to move the call to a `connect` NCCO.
    let transfer = app
        .post(
            &format!("/api/v1/calls/{}/transfer", call.id),
            Some(FLEET_SECRET),
            &json!({"to": "+14155550123"}),
        )
        .await;
    assert_eq!(transfer.status(), 204);
    let (request, body, _) = seen.lock()[0].clone();
    assert_eq!(request, "PUT /v1/calls/in-1");
    assert_eq!(body["action"], "transfer");
    let connect = &body["destination"]["ncco"][0];
    assert_eq!(connect["endpoint"][0]["number"], "14155550123");
    assert_eq!(connect["from"], "442071838750");
    // A number that routes nowhere is told so.
    let elsewhere = json!({"uuid": "in-2", "from": "442071838750", "to": "14155550198"});
    let ncco: Value = vonage(&app, &format!("{account}/answer"), elsewhere, Some(SECRET))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ncco[0]["text"], "Sorry, this number is not in service.");
    let ended = json!({"uuid": "in-2", "status": "completed"});
    let path = format!("{account}/event");
    assert_eq!(vonage(&app, &path, ended, Some(SECRET)).await.status(), 204);
    assert!(
        app.store
            .call_by_carrier_call_id("in-2")
            .await
            .unwrap()
            .is_none()
    );
}

async fn vonage_accounts_need_an_application_a_private_key_and_a_signature_secret(app: TestApp) {
    let good = json!({"carrier": "vonage", "name": "UK", "account_sid": APPLICATION,
        "secret": testing::PRIVATE_KEY, "webhook_key": SECRET, "numbers": ["+442071838750"]});
    let saved = app
        .post("/api/v1/carrier-accounts", Some(&app.admin), &good)
        .await;
    assert_eq!(saved.status(), 201);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(saved["webhook_key_set"], true);
    assert!(!saved.to_string().contains("PRIVATE KEY") && !saved.to_string().contains(SECRET));
    for (field, value) in [
        ("account_sid", json!("AC123")),
        ("secret", json!("not a key")),
        ("webhook_key", Value::Null),
    ] {
        let mut bad = good.clone();
        match value {
            Value::Null => {
                bad.as_object_mut().unwrap().remove(field);
            }
            value => bad[field] = value,
        }
        let response = app
            .post("/api/v1/carrier-accounts", Some(&app.admin), &bad)
            .await;
        let (status, _, named) = error_of(response).await;
        assert_eq!((status, named.as_deref()), (422, Some(field)), "{field}");
    }
}

api_tests!(
    an_answered_vonage_call_is_streamed_once_and_a_machine_is_hung_up,
    vonage_events_out_of_order_end_a_call_once_with_its_outcome,
    an_inbound_vonage_call_is_streamed_to_its_bot_and_transfers_by_ncco,
    vonage_accounts_need_an_application_a_private_key_and_a_signature_secret,
);
