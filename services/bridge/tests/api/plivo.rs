//! The telephony edge with Plivo: V3-signed callbacks kept once, answered in Plivo XML.
//!
//! Callbacks are signed here as Plivo signs them (V3: HMAC-SHA256 over the URL, the sorted
//! parameters and a nonce, checked against the SDK's algorithm in the `telephony` crate); Plivo's
//! REST API is a fake one on loopback that records each request, and the fleet is a fake one too.

use crate::helpers::*;
use crate::live::{fake_fleet, save_fleets};
use crate::telnyx::placed;
use axum::response::IntoResponse as _;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{CallId, CallOutcomeCode, CallState, E164Number};
use parking_lot::Mutex;
use reqwest::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use store::NewCarrierAccount;
use telephony::plivo::signature;

const AUTH_ID: &str = "MAXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "plivo-auth-token";

/// Requests the fake Plivo API received: (method and path, body).
type Requests = Arc<Mutex<Vec<(String, Value)>>>;

/// A fake Plivo REST API: every request to a call or request answers 204 (a DELETE) or 202.
async fn fake_plivo() -> (String, Requests) {
    let seen: Requests = Default::default();
    let log = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(
        move |method: axum::http::Method, uri: axum::http::Uri, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log.lock().push((format!("{method} {}", uri.path()), body));
                if method == axum::http::Method::DELETE {
                    axum::http::StatusCode::NO_CONTENT.into_response()
                } else {
                    (
                        axum::http::StatusCode::ACCEPTED,
                        axum::Json(json!({"message": "call transferred"})),
                    )
                        .into_response()
                }
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, seen)
}

/// A Plivo account whose API is `api_url`, owning +14155550199.
async fn account(app: &TestApp, api_url: &str) -> CarrierAccountId {
    app.store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Plivo,
            name: "plivo".into(),
            account_sid: AUTH_ID.into(),
            secret: Some(TOKEN.into()),
            api_url: Some(api_url.into()),
            numbers: vec![E164Number::parse("+14155550199").unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap()
        .id
}

/// Posts a Plivo callback to `path` under the account, signed with `token` when given.
async fn plivo(
    app: &TestApp,
    path: &str,
    params: &[(&str, &str)],
    token: Option<&str>,
) -> Response {
    let url = format!("{}/api/v1/telephony/plivo/{path}", app.address);
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let nonce = format!("{}", rand::random::<u64>());
    let mut request = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&params).unwrap());
    if let Some(token) = token {
        request = request
            .header(
                signature::SIGNATURE_HEADER,
                signature::sign(token, &url, &params, &nonce),
            )
            .header(signature::NONCE_HEADER, nonce);
    }
    request.send().await.unwrap()
}

/// An outbound call the dialler placed as Plivo request `request_uuid`.
async fn requested(app: &TestApp, request_uuid: &str) -> CallId {
    let call = placed(app).await;
    app.store
        .note_call_leg(call, CarrierKind::Plivo, request_uuid, None)
        .await
        .unwrap();
    call
}

async fn state(app: &TestApp, call: CallId) -> CallState {
    app.store.call(call).await.unwrap().state
}

async fn an_answered_plivo_call_is_streamed_once_and_a_machine_is_hung_up(app: TestApp) {
    let (fleet, attached) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let (api, seen) = fake_plivo().await;
    let account = account(&app, &api).await;
    let call = requested(&app, "r-1").await;
    // The ring callback carries the call's own UUID beside the request's.
    let ring = [
        ("CallUUID", "c-1"),
        ("RequestUUID", "r-1"),
        ("CallStatus", "ringing"),
        ("Event", "Ring"),
    ];
    let path = format!("{account}/ring?call={call}");
    assert_eq!(plivo(&app, &path, &ring, Some(TOKEN)).await.status(), 204);
    assert_eq!(state(&app, call).await, CallState::Ringing);
    assert_eq!(
        app.store
            .call(call)
            .await
            .unwrap()
            .carrier_call_id
            .as_deref(),
        Some("c-1")
    );
    // Unsigned, or signed with another token: 403, nothing kept or moved.
    let answer = [
        ("CallUUID", "c-1"),
        ("RequestUUID", "r-1"),
        ("CallStatus", "in-progress"),
        ("Direction", "outbound"),
        ("From", "14155550199"),
        ("To", "442071838750"),
    ];
    let path = format!("{account}/answer?call={call}");
    for token in [None, Some("not-the-token")] {
        let (status, code, _) = error_of(plivo(&app, &path, &answer, token).await).await;
        assert_eq!((status, code.as_str()), (403, "auth.signature"));
    }
    assert_eq!(state(&app, call).await, CallState::Ringing);
    assert_eq!(app.store.telephony_events(call).await.unwrap().len(), 1);
    // Signed: a worker is reserved and Plivo is told to stream to it, μ-law both ways.
    let response = plivo(&app, &path, &answer, Some(TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/xml");
    let body = response.text().await.unwrap();
    assert!(
        body.contains("<Stream bidirectional=\"true\" keepCallAlive=\"true\""),
        "{body}"
    );
    assert!(
        body.contains(&format!("extraHeaders=\"call_id={call}\">ws://127.0.0.1:")),
        "{body}"
    );
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.state, CallState::Attaching);
    assert_eq!(record.worker_id.as_deref(), Some("w-test"));
    let attach = attached.lock()[0].1.clone();
    assert_eq!(attach["media_protocol"], "plivo");
    assert_eq!(attach["carrier_call_id"], "c-1");
    // The same answer again (a redelivery): kept once, told to hang up, no second attach.
    let again = plivo(&app, &path, &answer, Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(again.ends_with("<Response><Hangup/></Response>"), "{again}");
    assert_eq!(attached.lock().len(), 1);
    // A machine on another call: it ends `dial.machine` and is hung up at Plivo.
    let machine_call = requested(&app, "r-2").await;
    let answered = [
        ("CallUUID", "c-2"),
        ("RequestUUID", "r-2"),
        ("CallStatus", "in-progress"),
    ];
    let path = format!("{account}/answer?call={machine_call}");
    assert_eq!(
        plivo(&app, &path, &answered, Some(TOKEN)).await.status(),
        200
    );
    let path = format!("{account}/amd?call={machine_call}");
    let verdict = [answered.as_slice(), &[("Machine", "true")]].concat();
    assert_eq!(
        plivo(&app, &path, &verdict, Some(TOKEN)).await.status(),
        204
    );
    let record = app.store.call(machine_call).await.unwrap();
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialMachine));
    let deleted: Vec<String> = seen.lock().iter().map(|(path, _)| path.clone()).collect();
    assert_eq!(deleted, [format!("DELETE /v1/Account/{AUTH_ID}/Call/c-2/")]);
    // A verdict that is neither true nor false names the field.
    let bad = [answered.as_slice(), &[("Machine", "perhaps")]].concat();
    let (status, _, field) = error_of(plivo(&app, &path, &bad, Some(TOKEN)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("Machine")));
}

async fn plivo_hangups_out_of_order_end_a_call_once_with_its_cause(app: TestApp) {
    let (api, _) = fake_plivo().await;
    let account = account(&app, &api).await;
    let call = requested(&app, "r-3").await;
    let busy = [
        ("CallUUID", "c-3"),
        ("RequestUUID", "r-3"),
        ("CallStatus", "busy"),
        ("Event", "Hangup"),
        ("HangupCauseCode", "3000"),
        ("HangupCauseName", "Busy Line"),
    ];
    let hangup = format!("{account}/hangup?call={call}");
    assert_eq!(plivo(&app, &hangup, &busy, Some(TOKEN)).await.status(), 204);
    // The ring arrives after the end, and the end is delivered twice: nothing changes.
    let ring = [
        ("CallUUID", "c-3"),
        ("RequestUUID", "r-3"),
        ("CallStatus", "ringing"),
    ];
    let path = format!("{account}/ring?call={call}");
    assert_eq!(plivo(&app, &path, &ring, Some(TOKEN)).await.status(), 204);
    assert_eq!(plivo(&app, &hangup, &busy, Some(TOKEN)).await.status(), 204);
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.state, CallState::Busy);
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialBusy));
    assert_eq!(app.store.telephony_events(call).await.unwrap().len(), 2);
    // A destination Plivo says is invalid ends `dial.invalid_number`, never retried.
    let invalid = requested(&app, "r-4").await;
    let failed = [
        ("CallUUID", "c-4"),
        ("RequestUUID", "r-4"),
        ("CallStatus", "failed"),
        ("HangupCauseCode", "2000"),
    ];
    let path = format!("{account}/hangup?call={invalid}");
    assert_eq!(plivo(&app, &path, &failed, Some(TOKEN)).await.status(), 204);
    let record = app.store.call(invalid).await.unwrap();
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialInvalidNumber));
    // A callback naming another call's leg is refused; so are bad fields.
    let path = format!("{account}/hangup?call={call}");
    let stranger = [
        ("CallUUID", "c-9"),
        ("RequestUUID", "r-9"),
        ("CallStatus", "busy"),
    ];
    let (status, code, _) = error_of(plivo(&app, &path, &stranger, Some(TOKEN)).await).await;
    assert_eq!((status, code.as_str()), (409, "conflict.carrier_call"));
    let path = format!("{account}/hangup?call={invalid}");
    let odd = [("CallUUID", "c-4"), ("CallStatus", "cancelled")];
    let (status, _, field) = error_of(plivo(&app, &path, &odd, Some(TOKEN)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("CallStatus")));
    let odd = [
        ("CallUUID", "c-4"),
        ("CallStatus", "failed"),
        ("HangupCauseCode", "x"),
    ];
    let (status, _, field) = error_of(plivo(&app, &path, &odd, Some(TOKEN)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("HangupCauseCode")));
    let (status, _, field) =
        error_of(plivo(&app, &path, &[("CallStatus", "busy")], Some(TOKEN)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("CallUUID")));
}

async fn a_plivo_answer_nobody_can_take_hears_the_abandon_message(app: TestApp) {
    let (fleet, _) = fake_fleet(429, 4).await;
    save_fleets(&app, &[&fleet]).await;
    let (api, _) = fake_plivo().await;
    let account = account(&app, &api).await;
    let call = requested(&app, "r-5").await;
    let answer = [
        ("CallUUID", "c-5"),
        ("RequestUUID", "r-5"),
        ("CallStatus", "in-progress"),
    ];
    let path = format!("{account}/answer?call={call}");
    let body = plivo(&app, &path, &answer, Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("<Speak>Sorry, we called you by mistake")
            && body.ends_with("<Hangup/></Response>"),
        "{body}"
    );
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialAbandoned));
}

async fn an_inbound_plivo_call_is_streamed_to_its_bot_and_transfers_through_plivo_xml(
    app: TestApp,
) {
    let (fleet, attached) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let (api, seen) = fake_plivo().await;
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
    // Plivo writes numbers without their `+`.
    let answer = [
        ("CallUUID", "in-1"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", "442071838750"),
        ("To", "14155550199"),
    ];
    let body = plivo(&app, &format!("{account}/answer"), &answer, Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("<Stream bidirectional=\"true\""), "{body}");
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
    // The bot transfers its caller: Plivo is told to move the A leg to the edge's transfer XML,
    // which Plivo then fetches, signed, and gets a <Dial>.
    let transfer = app
        .post(
            &format!("/api/v1/calls/{}/transfer", call.id),
            Some(FLEET_SECRET),
            &json!({"to": "+14155550123"}),
        )
        .await;
    assert_eq!(transfer.status(), 204);
    let (path, body) = seen.lock()[0].clone();
    assert_eq!(path, format!("POST /v1/Account/{AUTH_ID}/Call/in-1/"));
    assert_eq!(body["legs"], "aleg");
    let aleg = body["aleg_url"].as_str().unwrap().to_owned();
    let hook = aleg
        .split("/api/v1/telephony/plivo/")
        .nth(1)
        .unwrap()
        .to_owned();
    let xml = plivo(&app, &hook, &[("CallUUID", "in-1")], Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        xml.contains("<Dial callerId=\"+442071838750\"><Number>+14155550123</Number></Dial>"),
        "{xml}"
    );
    // The caller's hang-up, found by its CallUUID alone, leaves the end to the worker.
    let hangup = [
        ("CallUUID", "in-1"),
        ("CallStatus", "completed"),
        ("HangupCauseCode", "4000"),
    ];
    let path = format!("{account}/hangup");
    assert_eq!(plivo(&app, &path, &hangup, Some(TOKEN)).await.status(), 204);
    assert_eq!(
        app.store.call(call.id).await.unwrap().state,
        CallState::Attaching
    );
    // A number that routes nowhere hears so; its hang-up is kept beside its answer.
    let elsewhere = [
        ("CallUUID", "in-2"),
        ("CallStatus", "ringing"),
        ("To", "14155550198"),
    ];
    let body = plivo(&app, &format!("{account}/answer"), &elsewhere, Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("<Speak>Sorry, this number is not in service.</Speak><Hangup/>"));
    let ended = [("CallUUID", "in-2"), ("CallStatus", "completed")];
    assert_eq!(plivo(&app, &path, &ended, Some(TOKEN)).await.status(), 204);
    assert!(
        app.store
            .call_by_carrier_call_id("in-2")
            .await
            .unwrap()
            .is_none()
    );
    let unknown = [("CallUUID", "in-3"), ("CallStatus", "completed")];
    assert_eq!(
        plivo(&app, &path, &unknown, Some(TOKEN)).await.status(),
        404
    );
}

async fn plivo_accounts_need_an_auth_id_and_no_webhook_key(app: TestApp) {
    // A null key is no key: the API takes it and the documented schema allows it.
    let null_key = json!({"carrier": "plivo", "name": "null key", "account_sid": AUTH_ID,
        "secret": TOKEN, "webhook_key": null});
    let response = app
        .post("/api/v1/carrier-accounts", Some(&app.admin), &null_key)
        .await;
    assert_eq!(response.status(), 201);
    let schema = bridge::openapi::document()["components"]["schemas"]["NewAccountBody"].clone();
    let plivo_rule = schema["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["if"]["properties"]["carrier"]["const"] == "plivo")
        .unwrap()
        .clone();
    assert_eq!(
        plivo_rule["then"]["properties"]["webhook_key"],
        json!({"type": "null"})
    );

    let good = json!({"carrier": "plivo", "name": "IN", "account_sid": AUTH_ID,
        "secret": TOKEN, "numbers": ["+14155550199"]});
    let saved = app
        .post("/api/v1/carrier-accounts", Some(&app.admin), &good)
        .await;
    assert_eq!(saved.status(), 201);
    let saved: Value = saved.json().await.unwrap();
    assert!(!saved.to_string().contains(TOKEN));
    for (field, value) in [("account_sid", json!("AC123")), ("webhook_key", json!("k"))] {
        let mut bad = good.clone();
        bad[field] = value;
        let response = app
            .post("/api/v1/carrier-accounts", Some(&app.admin), &bad)
            .await;
        let (status, _, named) = error_of(response).await;
        assert_eq!((status, named.as_deref()), (422, Some(field)), "{field}");
    }
}

api_tests!(
    an_answered_plivo_call_is_streamed_once_and_a_machine_is_hung_up,
    plivo_hangups_out_of_order_end_a_call_once_with_its_cause,
    a_plivo_answer_nobody_can_take_hears_the_abandon_message,
    an_inbound_plivo_call_is_streamed_to_its_bot_and_transfers_through_plivo_xml,
    plivo_accounts_need_an_auth_id_and_no_webhook_key,
);
