//! The telephony edge with Twilio: signed webhooks kept once, answers attached or abandoned.
//!
//! Webhooks are signed here as Twilio signs them (the signature is checked against Twilio's
//! published example in the `telephony` crate); the fleet is a fake one on loopback.

use crate::campaigns::campaign;
use crate::fleet::lease_one;
use crate::helpers::*;
use crate::live::{fake_fleet, save_fleets};
use chrono::Utc;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{CallId, CallOutcomeCode, CallState, E164Number};
use reqwest::Response;
use serde_json::json;
use store::{NewCarrierAccount, Transition};
use telephony::twilio::signature;

const SID: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "twilio-auth-token";

async fn account(app: &TestApp) -> i64 {
    account_at(app, "http://127.0.0.1:9", "+14155550199")
        .await
        .0
}

/// A Twilio account whose REST API is at `api_url`, owning `number`.
async fn account_at(app: &TestApp, api_url: &str, number: &str) -> CarrierAccountId {
    app.store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Twilio,
            name: "main".into(),
            account_sid: SID.into(),
            secret: Some(TOKEN.into()),
            api_url: Some(api_url.into()),
            numbers: vec![E164Number::parse(number).unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap()
        .id
}

/// Posts a Twilio webhook, signed with `token` when given.
async fn twilio(
    app: &TestApp,
    path: &str,
    params: &[(&str, &str)],
    token: Option<&str>,
) -> Response {
    let url = format!("{}/api/v1/telephony/twilio/{path}", app.address);
    let mut params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if !params.iter().any(|(k, _)| k == "AccountSid") {
        params.push(("AccountSid".into(), SID.into()));
    }
    let mut request = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&params).unwrap());
    if let Some(token) = token {
        request = request.header("X-Twilio-Signature", signature::sign(token, &url, &params));
    }
    request.send().await.unwrap()
}

/// A campaign call the dialler has leased and is dialling.
async fn dialling(app: &TestApp) -> CallId {
    let id = campaign(app, Some("GB")).await;
    let call = CallId(lease_one(app, id, "+442071838750").await);
    app.store
        .transition(Transition::new(
            call,
            CallState::Leased,
            CallState::Dialing,
            Utc::now(),
        ))
        .await
        .unwrap();
    call
}

async fn state(app: &TestApp, call: CallId) -> CallState {
    app.store.call(call).await.unwrap().state
}

async fn an_answered_call_is_streamed_to_a_worker_once_its_signature_checks_out(app: TestApp) {
    let (fleet, seen) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let account = account(&app).await;
    let call = dialling(&app).await;
    let ringing = [
        ("CallSid", "CA1"),
        ("CallStatus", "ringing"),
        ("SequenceNumber", "1"),
    ];
    let status = format!("{account}/status?call={call}");
    assert_eq!(
        twilio(&app, &status, &ringing, Some(TOKEN)).await.status(),
        204
    );
    assert_eq!(state(&app, call).await, CallState::Ringing);
    // Unsigned, or signed with another token: 403, and nothing is kept or moved.
    let voice = format!("{account}/voice?call={call}");
    let answer = [
        ("CallSid", "CA1"),
        ("CallStatus", "in-progress"),
        ("To", "+14155550100"),
    ];
    for token in [None, Some("not-the-token")] {
        let (status, code, _) = error_of(twilio(&app, &voice, &answer, token).await).await;
        assert_eq!((status, code.as_str()), (403, "auth.signature"));
    }
    assert_eq!(state(&app, call).await, CallState::Ringing);
    assert_eq!(app.store.telephony_events(call).await.unwrap().len(), 1);
    // Signed: a worker is reserved and Twilio is told to stream to it.
    let response = twilio(&app, &voice, &answer, Some(TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/xml");
    let body = response.text().await.unwrap();
    assert!(
        body.contains("<Connect><Stream url=\"ws://127.0.0.1:"),
        "{body}"
    );
    assert!(
        body.contains(&format!("<Parameter name=\"call_id\" value=\"{call}\"/>")),
        "{body}"
    );
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.state, CallState::Attaching);
    assert_eq!(record.worker_id.as_deref(), Some("w-test"));
    assert_eq!(record.carrier_call_id.as_deref(), Some("CA1"));
    let attach = seen.lock()[0].1.clone();
    assert_eq!(attach["media_protocol"], "twilio");
    assert_eq!(attach["carrier_call_id"], "CA1");
    // The same ringing again, and a late one: kept once, the call stays with its worker.
    assert_eq!(
        twilio(&app, &status, &ringing, Some(TOKEN)).await.status(),
        204
    );
    assert_eq!(app.store.telephony_events(call).await.unwrap().len(), 2);
    let initiated = [
        ("CallSid", "CA1"),
        ("CallStatus", "initiated"),
        ("SequenceNumber", "0"),
    ];
    assert_eq!(
        twilio(&app, &status, &initiated, Some(TOKEN))
            .await
            .status(),
        204
    );
    assert_eq!(state(&app, call).await, CallState::Attaching);
    // A callback naming another Twilio call for this call is refused.
    let other = [("CallSid", "CA2"), ("CallStatus", "ringing")];
    let (status_code, code, _) = error_of(twilio(&app, &status, &other, Some(TOKEN)).await).await;
    assert_eq!((status_code, code.as_str()), (409, "conflict.carrier_call"));
}

async fn an_answered_call_nobody_can_take_hears_the_abandon_message_and_ends_abandoned(
    app: TestApp,
) {
    let (fleet, _) = fake_fleet(429, 4).await;
    save_fleets(&app, &[&fleet]).await;
    let account = account(&app).await;
    let call = dialling(&app).await;
    let started = std::time::Instant::now();
    let response = twilio(
        &app,
        &format!("{account}/voice?call={call}"),
        &[("CallSid", "CA1")],
        Some(TOKEN),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("<Say>Sorry, we called you by mistake."),
        "{body}"
    );
    assert!(body.ends_with("<Hangup/></Response>"), "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the 2-second rule"
    );
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.state, CallState::Abandoned);
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialAbandoned));
}

async fn status_callbacks_out_of_order_end_a_call_once_with_its_outcome(app: TestApp) {
    let account = account(&app).await;
    let call = dialling(&app).await;
    let path = format!("{account}/status?call={call}");
    let busy = [
        ("CallSid", "CA1"),
        ("CallStatus", "busy"),
        ("SequenceNumber", "2"),
        ("SipResponseCode", "486"),
    ];
    assert_eq!(twilio(&app, &path, &busy, Some(TOKEN)).await.status(), 204);
    let ringing = [
        ("CallSid", "CA1"),
        ("CallStatus", "ringing"),
        ("SequenceNumber", "1"),
    ];
    assert_eq!(
        twilio(&app, &path, &ringing, Some(TOKEN)).await.status(),
        204
    );
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.state, CallState::Busy);
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialBusy));
    let events = app.store.call_events(call).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.to_state == CallState::Busy)
            .count(),
        1
    );
    assert_eq!(
        events.last().unwrap().detail.as_ref().unwrap()["source"],
        "edge"
    );
}

async fn a_failed_call_whose_sip_cause_says_the_number_does_not_exist_ends_invalid_number(
    app: TestApp,
) {
    let account = account(&app).await;
    let call = dialling(&app).await;
    let failed = [
        ("CallSid", "CA9"),
        ("CallStatus", "failed"),
        ("SipResponseCode", "404"),
    ];
    let path = format!("{account}/status?call={call}");
    assert_eq!(
        twilio(&app, &path, &failed, Some(TOKEN)).await.status(),
        204
    );
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialInvalidNumber));
}

async fn webhooks_for_unknown_carriers_accounts_calls_and_fields_are_refused(app: TestApp) {
    let account = account(&app).await;
    let call = dialling(&app).await;
    let url = format!("{}/api/v1/telephony/nope/{account}/voice", app.address);
    let (status, code, _) = error_of(app.client.post(&url).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (404, "not_found.carrier"));
    let (status, code, _) =
        error_of(twilio(&app, "999/voice", &[("CallSid", "CA1")], Some(TOKEN)).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found.carrier_account"));
    let never = format!("{account}/status?call=999999");
    let (status, _, _) = error_of(
        twilio(
            &app,
            &never,
            &[("CallSid", "CA1"), ("CallStatus", "busy")],
            Some(TOKEN),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    let path = format!("{account}/status?call={call}");
    let (status, _, field) =
        error_of(twilio(&app, &path, &[("CallSid", "CA1")], Some(TOKEN)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("CallStatus")));
    let (status, _, field) = error_of(
        twilio(
            &app,
            &path,
            &[("CallSid", "CA1"), ("CallStatus", "ringin")],
            Some(TOKEN),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("CallStatus")));
    let (status, code, _) = error_of(
        twilio(
            &app,
            &path,
            &[
                ("CallSid", "CA1"),
                ("CallStatus", "busy"),
                ("AccountSid", "ACother"),
            ],
            Some(TOKEN),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "auth.signature"));
    assert_eq!(state(&app, call).await, CallState::Dialing);
    assert!(app.store.telephony_events(call).await.unwrap().is_empty());
}

async fn an_inbound_call_is_routed_by_its_number_and_an_unrouted_one_is_refused(app: TestApp) {
    let (fleet, seen) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let account = account(&app).await;
    let bot = app.create_bot(bot_spec()).await;
    let route = app
        .put(
            "/api/v1/inbound-numbers/+14155550199",
            Some(&app.admin),
            &json!({"bot_id": bot["id"]}),
        )
        .await;
    assert_eq!(route.status(), 200);
    let voice = format!("{account}/voice");
    let params = [
        ("CallSid", "CA7"),
        ("From", "+14155550123"),
        ("To", "+14155550199"),
        ("Direction", "inbound"),
    ];
    let body = twilio(&app, &voice, &params, Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("<Connect><Stream"), "{body}");
    let call = app
        .store
        .call_by_carrier_call_id("CA7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.state, CallState::Attaching);
    assert_eq!(call.from.unwrap().as_str(), "+14155550123");
    assert_eq!(seen.lock()[0].1["direction"], "inbound");
    let params = [
        ("CallSid", "CA8"),
        ("From", "+14155550123"),
        ("To", "+14155550198"),
    ];
    let body = twilio(&app, &voice, &params, Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("<Say>Sorry, this number is not in service.</Say><Hangup/>"),
        "{body}"
    );
    assert!(
        app.store
            .call_by_carrier_call_id("CA8")
            .await
            .unwrap()
            .is_none()
    );
    // The refused call's end is kept beside its voice webhook, without an error for Twilio; a
    // status for a call the edge never saw is still refused.
    let status = format!("{account}/status");
    let ended = [("CallSid", "CA8"), ("CallStatus", "completed")];
    let response = twilio(&app, &status, &ended, Some(TOKEN)).await;
    assert_eq!(response.status(), 204);
    assert!(
        app.store
            .carrier_call_known(CarrierKind::Twilio, "CA8")
            .await
            .unwrap()
    );
    let stranger = [("CallSid", "CA9"), ("CallStatus", "completed")];
    let response = twilio(&app, &status, &stranger, Some(TOKEN)).await;
    assert_eq!(response.status(), 404);
    assert!(
        !app.store
            .carrier_call_known(CarrierKind::Twilio, "CA9")
            .await
            .unwrap()
    );
}

async fn carrier_accounts_are_saved_by_admins_and_never_show_their_secret(app: TestApp) {
    let body = json!({"carrier": "twilio", "name": "US main", "account_sid": SID,
        "secret": TOKEN, "numbers": ["+14155550199", "+14155550198"]});
    let operator = app
        .user_token("op@example.com", store::Role::Operator)
        .await;
    let (status, _, _) = error_of(
        app.post("/api/v1/carrier-accounts", Some(&operator), &body)
            .await,
    )
    .await;
    assert_eq!(status, 403);
    let created = app
        .post("/api/v1/carrier-accounts", Some(&app.admin), &body)
        .await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["numbers"], json!(["+14155550199", "+14155550198"]));
    assert_eq!(created["secret_set"], true);
    assert!(!created.to_string().contains(TOKEN));
    let id = created["id"].as_i64().unwrap();
    // An update without the secret keeps it.
    let mut update = body.clone();
    update.as_object_mut().unwrap().remove("secret");
    update["name"] = json!("US");
    let path = format!("/api/v1/carrier-accounts/{id}");
    assert_eq!(
        app.put(&path, Some(&app.admin), &update).await.status(),
        200
    );
    let secret = app
        .store
        .carrier_account_secret(CarrierAccountId(id))
        .await
        .unwrap();
    assert_eq!(secret, TOKEN);
    let listed = app
        .get("/api/v1/carrier-accounts", Some(&operator))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("\"US\"") && !listed.contains(TOKEN),
        "{listed}"
    );
    let audit = app.store.list_audit(store::Page::default()).await.unwrap();
    assert!(
        audit
            .items
            .iter()
            .all(|e| !format!("{:?}", e.detail).contains(TOKEN))
    );
    // Bad fields are named, and nothing changes.
    for (field, value) in [
        ("carrier", json!("nope")),
        ("numbers", json!(["12"])),
        ("api_url", json!("ftp://x")),
        ("account_sid", json!("AC-not-a-sid")),
    ] {
        let mut bad = body.clone();
        bad["name"] = json!("other");
        bad[field] = value;
        let (status, _, named) = error_of(
            app.post("/api/v1/carrier-accounts", Some(&app.admin), &bad)
                .await,
        )
        .await;
        assert_eq!(status, 422, "{field}");
        assert!(named.unwrap_or_default().starts_with(field), "{field}");
    }
    let mut bad = body.clone();
    bad["name"] = json!("other");
    bad.as_object_mut().unwrap().remove("secret");
    let (status, _, named) = error_of(
        app.post("/api/v1/carrier-accounts", Some(&app.admin), &bad)
            .await,
    )
    .await;
    assert_eq!((status, named.as_deref()), (422, Some("secret")));
    assert_eq!(app.store.list_carrier_accounts().await.unwrap().len(), 1);
}

async fn a_campaign_names_an_existing_carrier_account_that_owns_its_caller_id(app: TestApp) {
    let account = account_at(&app, "http://127.0.0.1:9", "+14155550199").await;
    let bot = app.create_bot(bot_spec()).await;
    let body = |account: i64, caller_id: &str| {
        json!({"name": "Through Twilio", "bot_id": bot["id"], "caller_id": caller_id,
            "dialler": {"carrier_account": account}})
    };
    for (expected, field, bad) in [
        (404, "dialler.carrier_account", body(999, "+14155550199")),
        (409, "caller_id", body(account.0, "+14155550100")),
    ] {
        let (status, _, named) =
            error_of(app.post("/api/v1/campaigns", Some(&app.admin), &bad).await).await;
        assert_eq!((status, named.as_deref()), (expected, Some(field)), "{bad}");
    }
    let listed = app
        .store
        .list_campaigns(store::Page::default(), None)
        .await
        .unwrap();
    assert!(listed.items.is_empty(), "a refused campaign was saved");
    let good = body(account.0, "+14155550199");
    let created = app.post("/api/v1/campaigns", Some(&app.admin), &good).await;
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"].clone();
    let path = format!("/api/v1/campaigns/{id}");
    let (status, _, named) = error_of(
        app.put(&path, Some(&app.admin), &body(998, "+14155550199"))
            .await,
    )
    .await;
    assert_eq!(
        (status, named.as_deref()),
        (404, Some("dialler.carrier_account"))
    );
}

async fn a_number_with_its_own_fleet_and_client_sends_its_calls_there_and_says_for_whom(
    app: TestApp,
) {
    let (shared, shared_seen) = fake_fleet(202, 0).await;
    let (own, own_seen) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&shared, &own]).await;
    let account = account(&app).await;
    let bot = app.create_bot(bot_spec()).await;
    let path = "/api/v1/inbound-numbers/+14155550199";
    // A fleet that is not saved, a client's name with a space: refused by field, nothing kept.
    for (body, status, field) in [
        (
            json!({"bot_id": bot["id"], "fleet": "http://127.0.0.1:9/elsewhere"}),
            404,
            "fleet",
        ),
        (
            json!({"bot_id": bot["id"], "client": "acme corp"}),
            422,
            "client",
        ),
    ] {
        let (got, _, named) = error_of(app.put(path, Some(&app.admin), &body).await).await;
        assert_eq!((got, named.as_deref()), (status, Some(field)), "{body}");
    }
    let routes: serde_json::Value = app
        .get("/api/v1/inbound-numbers", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(routes, json!([]));
    let body = json!({"bot_id": bot["id"], "fleet": own, "client": "acme"});
    let route: serde_json::Value = app
        .put(path, Some(&app.admin), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(route["fleet"], json!(own));
    assert_eq!(route["client"], "acme");
    let routes: serde_json::Value = app
        .get("/api/v1/inbound-numbers", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(routes, json!([route]));
    let voice = format!("{account}/voice");
    let params = [
        ("CallSid", "CA7"),
        ("From", "+14155550123"),
        ("To", "+14155550199"),
        ("Direction", "inbound"),
    ];
    let answer = twilio(&app, &voice, &params, Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(answer.contains("<Connect><Stream"), "{answer}");
    // The first saved fleet was free, but the number's own took the call, for acme.
    assert!(shared_seen.lock().is_empty());
    assert_eq!(own_seen.lock().len(), 1);
    assert_eq!(own_seen.lock()[0].1["client"], "acme");
    // A plain route (the first form) still reads, and its calls go to any fleet.
    let plain = app
        .put(path, Some(&app.admin), &json!({"bot_id": bot["id"]}))
        .await;
    assert_eq!(plain.status(), 200);
    let params = [
        ("CallSid", "CA8"),
        ("From", "+14155550123"),
        ("To", "+14155550199"),
    ];
    twilio(&app, &voice, &params, Some(TOKEN)).await;
    assert_eq!(shared_seen.lock().len(), 1);
    assert!(shared_seen.lock()[0].1.get("client").is_none());
}

api_tests!(
    a_number_with_its_own_fleet_and_client_sends_its_calls_there_and_says_for_whom,
    a_campaign_names_an_existing_carrier_account_that_owns_its_caller_id,
    an_answered_call_is_streamed_to_a_worker_once_its_signature_checks_out,
    an_answered_call_nobody_can_take_hears_the_abandon_message_and_ends_abandoned,
    status_callbacks_out_of_order_end_a_call_once_with_its_outcome,
    a_failed_call_whose_sip_cause_says_the_number_does_not_exist_ends_invalid_number,
    webhooks_for_unknown_carriers_accounts_calls_and_fields_are_refused,
    an_inbound_call_is_routed_by_its_number_and_an_unrouted_one_is_refused,
    carrier_accounts_are_saved_by_admins_and_never_show_their_secret,
    a_call_on_demand_needs_the_public_url,
);

/// A fake Twilio REST API: `Calls.json` answers `status` with `body`, recording each form.
async fn fake_twilio(
    status: u16,
    body: serde_json::Value,
) -> (String, std::sync::Arc<parking_lot::Mutex<Vec<String>>>) {
    let seen: std::sync::Arc<parking_lot::Mutex<Vec<String>>> = Default::default();
    let log = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Calls.json",
        axum::routing::post(move |form: String| {
            let log = log.clone();
            let body = body.clone();
            async move {
                log.lock().push(form);
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    axum::Json(body),
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, seen)
}

async fn a_call_on_demand_is_checked_then_placed_through_the_account(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.public_url = Some("https://vox.example.com".into())
    })
    .await;
    let (api, seen) = fake_twilio(201, json!({"sid": "CA77", "status": "queued"})).await;
    let account = account_at(&app, &api, "+442071838799").await;
    let bot = app.create_bot(bot_spec()).await;
    let body = json!({"bot_id": bot["id"], "to": "+442071838750", "timezone": "Europe/London",
        "carrier_account": account.0, "variables": {"name": "Ada"}});
    // Refused first, each naming its field, with no call created.
    app.store.add_dnc("+442071838751", "asked").await.unwrap();
    // What does not exist is 404; what the state of things refuses now is 409; a malformed
    // value is 422.
    let cases = [
        (404, "bot_id", json!({"bot_id": 999999})),
        (404, "carrier_account", json!({"carrier_account": 999})),
        (422, "to", json!({"to": "12"})),
        (422, "to", json!({"to": "020 7183 8750"})),
        (409, "to", json!({"to": "+442071838751"})),
        (409, "variables.slot", json!({"variables": {"slot": "9am"}})),
        (
            422,
            "variables.name",
            json!({"variables": {"name": {"first": "Ada"}}}),
        ),
        (
            409,
            "calling_windows",
            json!({"calling_windows": [{"days": [], "start": "00:00:00", "end": "00:00:01"}]}),
        ),
    ];
    for (expected, field, change) in cases {
        let mut bad = body.clone();
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let (status, _, named) =
            error_of(app.post("/api/v1/calls", Some(&app.admin), &bad).await).await;
        assert_eq!((status, named.as_deref()), (expected, Some(field)), "{bad}");
    }
    let viewer = app
        .user_token("viewer@example.com", store::Role::Viewer)
        .await;
    let (status, _, _) = error_of(app.post("/api/v1/calls", Some(&viewer), &body).await).await;
    assert_eq!(status, 403);
    assert!(
        app.store
            .list_calls(Default::default(), store::Page::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Placed: the record is dialling with Twilio's webhooks under VOX_PUBLIC_URL.
    let response = app.post("/api/v1/calls", Some(&app.admin), &body).await;
    assert_eq!(response.status(), 201);
    let dialled: serde_json::Value = response.json().await.unwrap();
    assert_eq!(dialled["carrier_call_id"], "CA77");
    let call = app
        .store
        .call(CallId(dialled["call_id"].as_i64().unwrap()))
        .await
        .unwrap();
    assert_eq!(call.state, CallState::Dialing);
    assert_eq!(call.to.unwrap().as_str(), "+442071838750");
    let form = seen.lock()[0].clone();
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&form).unwrap();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("From").as_deref(), Some("+442071838799"));
    assert_eq!(
        get("Url"),
        Some(format!(
            "https://vox.example.com/api/v1/telephony/twilio/{}/voice?call={}",
            account, call.id
        ))
    );
    assert_eq!(get("MachineDetection").as_deref(), Some("Enable"));
    // The worker that takes the answer gets the prompt rendered with the call's variables.
    let path = format!("/api/v1/config?call_id={}", call.id);
    let config: serde_json::Value = app
        .get(&path, Some(FLEET_SECRET))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        config["spec"]["first_message"],
        "Hello Ada, this is a reminder."
    );
}

async fn a_number_twilio_refuses_fails_the_call_on_demand_with_422(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.public_url = Some("https://vox.example.com".into())
    })
    .await;
    let refusal = json!({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400});
    let (api, _) = fake_twilio(400, refusal).await;
    let account = account_at(&app, &api, "+442071838799").await;
    let bot = app.create_bot(bot_spec()).await;
    let body = json!({"bot_id": bot["id"], "to": "+442071838750", "carrier_account": account.0});
    let (status, _, field) =
        error_of(app.post("/api/v1/calls", Some(&app.admin), &body).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("to")));
    let calls = app
        .store
        .list_calls(Default::default(), store::Page::default())
        .await
        .unwrap()
        .items;
    assert_eq!(calls[0].outcome, Some(CallOutcomeCode::DialInvalidNumber));
}

async fn a_call_on_demand_needs_the_public_url(app: TestApp) {
    let account = account(&app).await;
    let bot = app.create_bot(bot_spec()).await;
    let body = json!({"bot_id": bot["id"], "to": "+442071838750", "carrier_account": account});
    let (status, code, _) =
        error_of(app.post("/api/v1/calls", Some(&app.admin), &body).await).await;
    assert_eq!((status, code.as_str()), (503, "telephony.public_url"));
}

mod on_demand {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_on_demand_is_checked_then_placed_through_the_account_on_sqlite() {
        a_call_on_demand_is_checked_then_placed_through_the_account(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_on_demand_is_checked_then_placed_through_the_account_on_postgres() {
        a_call_on_demand_is_checked_then_placed_through_the_account(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_number_twilio_refuses_fails_the_call_on_demand_with_422_on_sqlite() {
        a_number_twilio_refuses_fails_the_call_on_demand_with_422(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_number_twilio_refuses_fails_the_call_on_demand_with_422_on_postgres() {
        a_number_twilio_refuses_fails_the_call_on_demand_with_422(Backend::Postgres).await;
    }
}
