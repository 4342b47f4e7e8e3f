//! The telephony edge with Exotel: keyed URLs, the Voicebot's stream URL, the Greeting's words.
//!
//! Exotel signs nothing, so each URL the edge gives it carries the account's key; requests are
//! sent here as Exotel sends them (the Voicebot and Greeting applets' GETs with the call's
//! parameters, status callbacks posted as a form, multipart form or JSON). The fleet is a fake.

use crate::helpers::*;
use crate::live::{fake_fleet, save_fleets};
use crate::telnyx::placed;
use contracts::telephony::{CarrierAccountId, CarrierKind};
use contracts::{CallId, CallOutcomeCode, CallState, E164Number};
use reqwest::Response;
use serde_json::{Value, json};
use store::NewCarrierAccount;
use telephony::exotel::{custom_field, edge_key};

const ACCOUNT_SID: &str = "vox1/123456";
const SECRET: &str = "exotel-api-key:exotel-api-token";
const EXOPHONE: &str = "+918047491899";

async fn account(app: &TestApp) -> CarrierAccountId {
    app.store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Exotel,
            name: "exotel".into(),
            account_sid: ACCOUNT_SID.into(),
            secret: Some(SECRET.into()),
            api_url: Some("http://127.0.0.1:9".into()),
            numbers: vec![E164Number::parse(EXOPHONE).unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap()
        .id
}

/// The edge's URL for `hook` under the account, with its key (or `key` instead).
fn url(app: &TestApp, account: CarrierAccountId, hook: &str, key: Option<&str>) -> String {
    let key = key.map_or_else(|| edge_key(SECRET, account), str::to_owned);
    format!(
        "{}/api/v1/telephony/exotel/{account}/{key}/{hook}",
        app.address
    )
}

/// An applet's GET with the call's parameters.
async fn applet(app: &TestApp, url: &str, params: &[(&str, &str)]) -> Response {
    let query = serde_urlencoded::to_string(params).unwrap();
    app.client
        .get(format!("{url}?{query}"))
        .send()
        .await
        .unwrap()
}

/// A status callback posted as a form.
async fn status(app: &TestApp, url: &str, params: &[(&str, &str)]) -> Response {
    app.client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(params).unwrap())
        .send()
        .await
        .unwrap()
}

/// An outbound call the dialler placed as Exotel call `sid`.
async fn connected(app: &TestApp, sid: &str) -> CallId {
    let call = placed(app).await;
    app.store
        .note_call_leg(call, CarrierKind::Exotel, sid, None)
        .await
        .unwrap();
    call
}

async fn an_answered_exotel_call_is_streamed_once_behind_the_accounts_key(app: TestApp) {
    let (fleet, attached) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let account = account(&app).await;
    let call = connected(&app, "ex-1").await;
    let field = custom_field(call);
    let params = [
        ("CallSid", "ex-1"),
        ("CallFrom", "09876543210"),
        ("CallTo", "08047491899"),
        ("Direction", "outbound-api"),
        ("CustomField", field.as_str()),
    ];
    // Another key, or the URL without one: 403, nothing kept or moved.
    let wrong = url(
        &app,
        account,
        "voicebot",
        Some("0123456789abcdef0123456789abcdef"),
    );
    let (status_code, code, _) = error_of(applet(&app, &wrong, &params).await).await;
    assert_eq!((status_code, code.as_str()), (403, "auth.signature"));
    let keyless = format!("{}/api/v1/telephony/exotel/{account}/voicebot", app.address);
    let refused = app.client.post(&keyless).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        app.store.call(call).await.unwrap().state,
        CallState::Dialing
    );
    assert!(app.store.telephony_events(call).await.unwrap().is_empty());
    // With the key: a worker is reserved and Exotel is told where to stream, 8 kHz PCM.
    let voicebot = url(&app, account, "voicebot", None);
    let response = applet(&app, &voicebot, &params).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let stream = body["url"].as_str().unwrap();
    assert!(
        stream.starts_with("ws://127.0.0.1:") && stream.ends_with("?sample-rate=8000"),
        "{body}"
    );
    let record = app.store.call(call).await.unwrap();
    assert_eq!(record.state, CallState::Attaching);
    assert_eq!(record.worker_id.as_deref(), Some("w-test"));
    let attach = attached.lock()[0].1.clone();
    assert_eq!(attach["media_protocol"], "exotel");
    assert_eq!(attach["carrier_call_id"], "ex-1");
    // The same request again: refused, no second attach; the Greeting after it says nothing.
    let again = applet(&app, &voicebot, &params).await;
    assert_eq!(again.status(), 409);
    assert_eq!(attached.lock().len(), 1);
    let greeting = applet(&app, &url(&app, account, "greeting", None), &params).await;
    assert_eq!(greeting.headers()["content-type"], "text/plain");
    assert_eq!(greeting.text().await.unwrap(), "");
    // The `answered` callback is kept; the answer itself was the Voicebot's request.
    let answered = [
        ("CallSid", "ex-1"),
        ("Status", "in-progress"),
        ("EventType", "answered"),
        ("CustomField", field.as_str()),
    ];
    let hook = url(&app, account, "status", None);
    assert_eq!(status(&app, &hook, &answered).await.status(), 204);
    assert_eq!(
        app.store.call(call).await.unwrap().state,
        CallState::Attaching
    );
    // A bot cannot transfer an Exotel call: the Voicebot applet has no such verb.
    let transfer = app
        .post(
            &format!("/api/v1/calls/{call}/transfer"),
            Some(FLEET_SECRET),
            &json!({"to": "+14155550123"}),
        )
        .await;
    let (code, _, field) = error_of(transfer).await;
    assert_eq!((code, field.as_deref()), (409, Some("call_id")));
}

async fn exotel_status_callbacks_end_a_call_once_whatever_their_encoding(app: TestApp) {
    let account = account(&app).await;
    let hook = url(&app, account, "status", None);
    let call = connected(&app, "ex-2").await;
    let field = custom_field(call);
    let busy = [
        ("CallSid", "ex-2"),
        ("Status", "busy"),
        ("EventType", "terminal"),
        ("CustomField", field.as_str()),
    ];
    assert_eq!(status(&app, &hook, &busy).await.status(), 204);
    // Delivered again, as JSON this time: kept once, nothing changes.
    let again = app
        .client
        .post(&hook)
        .json(
            &json!({"CallSid": "ex-2", "Status": "busy", "EventType": "terminal",
            "CustomField": field, "Legs": [{"Status": "busy", "OnCallDuration": 0}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 204);
    let record = app.store.call(call).await.unwrap();
    assert_eq!(
        (record.state, record.outcome),
        (CallState::Busy, Some(CallOutcomeCode::DialBusy))
    );
    assert_eq!(app.store.telephony_events(call).await.unwrap().len(), 1);
    // A multipart form, as Exotel's older pages describe it, without an EventType: terminal.
    let unanswered = connected(&app, "ex-3").await;
    let boundary = "vox-boundary";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"CallSid\"\r\n\r\nex-3\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"Status\"\r\n\r\nno-answer\r\n\
         --{boundary}--\r\n"
    );
    let response = app
        .client
        .post(&hook)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.store.call(unanswered).await.unwrap().outcome,
        Some(CallOutcomeCode::DialNoAnswer)
    );
    // Completed without ever asking the Voicebot URL: the flow is not the Voicebot's.
    let lost = connected(&app, "ex-4").await;
    let completed = [("CallSid", "ex-4"), ("Status", "completed")];
    assert_eq!(status(&app, &hook, &completed).await.status(), 204);
    let record = app.store.call(lost).await.unwrap();
    assert_eq!(record.outcome, Some(CallOutcomeCode::DialFailed));
    // Bad fields are named; a callback naming another call's leg is refused.
    for (params, named) in [
        (vec![("CallSid", "ex-2"), ("Status", "hung-up")], "Status"),
        (
            vec![
                ("CallSid", "ex-2"),
                ("Status", "busy"),
                ("EventType", "dial"),
            ],
            "EventType",
        ),
        (vec![("Status", "busy")], "CallSid"),
    ] {
        let (code, _, field) = error_of(status(&app, &hook, &params).await).await;
        assert_eq!((code, field.as_deref()), (422, Some(named)), "{params:?}");
    }
    let stranger = [
        ("CallSid", "ex-9"),
        ("Status", "busy"),
        ("CustomField", field.as_str()),
    ];
    let (code, kind, _) = error_of(status(&app, &hook, &stranger).await).await;
    assert_eq!((code, kind.as_str()), (409, "conflict.carrier_call"));
    let unknown = [("CallSid", "ex-10"), ("Status", "busy")];
    assert_eq!(status(&app, &hook, &unknown).await.status(), 404);
}

async fn exotel_calls_nobody_takes_are_refused_and_the_greeting_says_why(app: TestApp) {
    let (fleet, _) = fake_fleet(429, 4).await;
    save_fleets(&app, &[&fleet]).await;
    let account = account(&app).await;
    let voicebot = url(&app, account, "voicebot", None);
    let greeting = url(&app, account, "greeting", None);
    // An answered outbound call with no worker free: refused, abandoned, and told so.
    let call = connected(&app, "ex-5").await;
    let field = custom_field(call);
    let params = [("CallSid", "ex-5"), ("CustomField", field.as_str())];
    let (code, kind, _) = error_of(applet(&app, &voicebot, &params).await).await;
    assert_eq!((code, kind.as_str()), (503, "fleet.capacity_exhausted"));
    assert_eq!(
        app.store.call(call).await.unwrap().outcome,
        Some(CallOutcomeCode::DialAbandoned)
    );
    let said = applet(&app, &greeting, &params).await.text().await.unwrap();
    assert!(
        said.starts_with("Sorry, we called you by mistake"),
        "{said}"
    );

    // A call the dialler gave up on before any leg was kept, answered anyway: no stream, and the
    // Greeting (which knows it by its CustomField) tells the callee it was a mistake.
    let given_up = placed(&app).await;
    let mut cancel = store::Transition::new(
        given_up,
        CallState::Dialing,
        CallState::Canceled,
        chrono::Utc::now(),
    );
    cancel.outcome = Some(CallOutcomeCode::DialCanceled);
    app.store.transition(cancel).await.unwrap();
    let field = custom_field(given_up);
    let late = [("CallSid", "ex-6"), ("CustomField", field.as_str())];
    let (code, _, _) = error_of(applet(&app, &voicebot, &late).await).await;
    assert_eq!(code, 409);
    let said = applet(&app, &greeting, &late).await.text().await.unwrap();
    assert!(
        said.starts_with("Sorry, we called you by mistake"),
        "{said}"
    );
    // A caller on a number that routes nowhere: refused, then told so.
    let stranger = [
        ("CallSid", "in-1"),
        ("CallFrom", "09876543210"),
        ("CallTo", "08047491800"),
        ("Direction", "incoming"),
    ];
    let (code, kind, _) = error_of(applet(&app, &voicebot, &stranger).await).await;
    assert_eq!((code, kind.as_str()), (404, "not_found.number"));
    let said = applet(&app, &greeting, &stranger)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(said, "Sorry, this number is not in service.");
    // A caller on a routed number when every line is busy.
    let bot = app.create_bot(bot_spec()).await;
    let route = app
        .put(
            &format!("/api/v1/inbound-numbers/{EXOPHONE}"),
            Some(&app.admin),
            &json!({"bot_id": bot["id"]}),
        )
        .await;
    assert_eq!(route.status(), 200);
    let caller = [
        ("CallSid", "in-2"),
        ("CallFrom", "09876543210"),
        ("CallTo", "08047491899"),
        ("Direction", "incoming"),
    ];
    let (code, _, _) = error_of(applet(&app, &voicebot, &caller).await).await;
    assert_eq!(code, 503);
    let call = app
        .store
        .call_by_carrier_call_id("in-2")
        .await
        .unwrap()
        .unwrap();
    // Exotel's national numbers are read as E.164 beside the account's ExoPhone.
    assert_eq!(call.to.as_ref().map(|n| n.as_str()), Some(EXOPHONE));
    assert_eq!(
        call.from.as_ref().map(|n| n.as_str()),
        Some("+919876543210")
    );
    assert_eq!(call.outcome, Some(CallOutcomeCode::FleetCapacityExhausted));
    let said = applet(&app, &greeting, &caller).await.text().await.unwrap();
    assert!(said.starts_with("Sorry, all our lines are busy"), "{said}");
    let unknown = [("CallSid", "in-9")];
    assert_eq!(applet(&app, &greeting, &unknown).await.status(), 404);
}

api_tests!(
    an_answered_exotel_call_is_streamed_once_behind_the_accounts_key,
    exotel_status_callbacks_end_a_call_once_whatever_their_encoding,
    exotel_calls_nobody_takes_are_refused_and_the_greeting_says_why,
);

/// An Exotel account is saved with its SID and flow; its keyed URLs are shown to admins only.
async fn exotel_accounts_are_checked_and_their_keyed_urls_shown_to_admins(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.public_url = Some("https://vox.example.com".into())
    })
    .await;
    let good = json!({"carrier": "exotel", "name": "IN", "account_sid": ACCOUNT_SID,
        "secret": SECRET, "numbers": [EXOPHONE]});
    let saved = app
        .post("/api/v1/carrier-accounts", Some(&app.admin), &good)
        .await;
    assert_eq!(saved.status(), 201);
    let saved: Value = saved.json().await.unwrap();
    assert!(!saved.to_string().contains("exotel-api-token"), "{saved}");
    let id = CarrierAccountId(saved["id"].as_i64().unwrap());
    let key = edge_key(SECRET, id);
    let base = format!("https://vox.example.com/api/v1/telephony/exotel/{id}/{key}");
    assert_eq!(saved["inbound_voice_url"], format!("{base}/voicebot"));
    assert_eq!(saved["greeting_url"], format!("{base}/greeting"));
    let viewer = app
        .user_token("viewer@example.com", store::Role::Viewer)
        .await;
    let listed: Value = app
        .get("/api/v1/carrier-accounts", Some(&viewer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["inbound_voice_url"], Value::Null);
    assert!(!listed.to_string().contains(&key));
    for (field, value) in [
        ("account_sid", json!("vox1")),
        ("secret", json!("no-token")),
        ("webhook_key", json!("k")),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        let response = app
            .post("/api/v1/carrier-accounts", Some(&app.admin), &bad)
            .await;
        let (status, _, named) = error_of(response).await;
        assert_eq!((status, named.as_deref()), (422, Some(field)), "{field}");
    }
}

/// What the fake Exotel API received: (path, Authorization, form).
type Seen = std::sync::Arc<parking_lot::Mutex<Vec<(String, String, Vec<(String, String)>)>>>;

/// A call on demand through Exotel: connected into the account's flow, with the edge's keyed
/// status callback and the call's id in `CustomField`; a refused `From` names `to`.
async fn a_call_on_demand_through_exotel_is_connected_into_the_flow(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.public_url = Some("https://vox.example.com".into())
    })
    .await;
    let seen: Seen = Default::default();
    let log = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let form: Vec<(String, String)> =
                    serde_urlencoded::from_bytes(&body).unwrap_or_default();
                let auth = headers["authorization"].to_str().unwrap_or("").to_owned();
                let bad = form
                    .iter()
                    .any(|(k, v)| k == "From" && v == "+442071838751");
                log.lock().push((uri.path().to_owned(), auth, form));
                if bad {
                    return (
                        axum::http::StatusCode::BAD_REQUEST,
                        axum::Json(json!({"RestException": {"Status": 400,
                            "Message": "From is not a valid phone number"}})),
                    );
                }
                (
                    axum::http::StatusCode::OK,
                    axum::Json(json!({"Call": {"Sid": "ex-77", "Status": "in-progress"}})),
                )
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let account = app
        .store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Exotel,
            name: "exotel".into(),
            account_sid: ACCOUNT_SID.into(),
            secret: Some(SECRET.into()),
            api_url: Some(api),
            numbers: vec![E164Number::parse(EXOPHONE).unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap()
        .id;
    let bot = app.create_bot(bot_spec()).await;
    let body = json!({"bot_id": bot["id"], "to": "+442071838750", "carrier_account": account.0});
    let placed = app.post("/api/v1/calls", Some(&app.admin), &body).await;
    assert_eq!(placed.status(), 201);
    let placed: Value = placed.json().await.unwrap();
    assert_eq!(placed["carrier_call_id"], "ex-77");
    let call = CallId(placed["call_id"].as_i64().unwrap());
    assert_eq!(
        app.store
            .call(call)
            .await
            .unwrap()
            .carrier_call_id
            .as_deref(),
        Some("ex-77")
    );
    let (path, auth, form) = seen.lock()[0].clone();
    assert_eq!(path, "/v1/Accounts/vox1/Calls/connect.json");
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(SECRET);
    assert_eq!(auth, format!("Basic {basic}"));
    let field = |name: &str| {
        form.iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(field("From"), ["+442071838750"]);
    assert_eq!(field("CallerId"), [EXOPHONE]);
    assert_eq!(
        field("Url"),
        ["http://my.exotel.com/vox1/exoml/start_voice/123456"]
    );
    assert_eq!(field("TimeOut"), ["30"]);
    let key = edge_key(SECRET, account);
    assert_eq!(
        field("StatusCallback"),
        [
            format!("https://vox.example.com/api/v1/telephony/exotel/{account}/{key}/status")
                .as_str()
        ]
    );
    assert_eq!(field("StatusCallbackEvents[0]"), ["terminal"]);
    assert_eq!(field("StatusCallbackEvents[1]"), ["answered"]);
    assert_eq!(field("CustomField"), [custom_field(call).as_str()]);
    // A number Exotel refuses fails the call and names `to`.
    let refused = json!({"bot_id": bot["id"], "to": "+442071838751", "carrier_account": account.0});
    let (status, _, named) =
        error_of(app.post("/api/v1/calls", Some(&app.admin), &refused).await).await;
    assert_eq!((status, named.as_deref()), (422, Some("to")));
}

mod accounts {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_on_demand_through_exotel_is_connected_into_the_flow_on_sqlite() {
        a_call_on_demand_through_exotel_is_connected_into_the_flow(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_on_demand_through_exotel_is_connected_into_the_flow_on_postgres() {
        a_call_on_demand_through_exotel_is_connected_into_the_flow(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exotel_accounts_are_checked_and_their_keyed_urls_shown_to_admins_on_sqlite() {
        exotel_accounts_are_checked_and_their_keyed_urls_shown_to_admins(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exotel_accounts_are_checked_and_their_keyed_urls_shown_to_admins_on_postgres() {
        exotel_accounts_are_checked_and_their_keyed_urls_shown_to_admins(Backend::Postgres).await;
    }
}
