//! CRM lookup at call start: a real CRM endpoint on loopback answers (or fails to) when a worker
//! fetches a call's runtime config.

use crate::fleet::leased_call;
use crate::helpers::*;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use contracts::CallId;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::Mutex;

const SECRET: &str = "lookup-secret-0123456789";

/// What the fake CRM does with a request.
#[derive(Clone, Copy)]
enum Answer {
    /// 200 with this JSON text.
    Body(&'static str),
    /// This status, empty.
    Status(u16),
    /// Nothing for longer than the lookup waits.
    Hang,
}

/// A CRM on loopback that answers every lookup the same way and records each one.
struct Crm {
    url: String,
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn crm(answer: Answer) -> Crm {
    let seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let recorded = seen.clone();
    let app = axum::Router::new().route(
        "/lookup",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let recorded = recorded.clone();
            async move {
                recorded.lock().await.push((headers, body));
                match answer {
                    Answer::Body(text) => (StatusCode::OK, text.to_owned()),
                    Answer::Status(code) => (StatusCode::from_u16(code).unwrap(), String::new()),
                    Answer::Hang => {
                        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                        (StatusCode::OK, "{}".to_owned())
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/lookup", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Crm { url, seen }
}

async fn set_lookup(app: &TestApp, scope: &str, id: i64, url: &str) {
    let path = format!("/api/v1/crm/lookups/{scope}/{id}");
    let body = json!({"url": url, "secret": SECRET});
    assert_eq!(app.put(&path, Some(&app.admin), &body).await.status(), 200);
}

async fn config(app: &TestApp, query: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/config?{query}"), Some(FLEET_SECRET))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A bot whose prompt uses the CRM's `tier`, answering inbound calls.
async fn crm_bot(app: &TestApp) -> i64 {
    let mut spec = bot_spec();
    spec["system_prompt"] = json!("You help a {{crm.tier}} customer.");
    app.create_bot(spec).await["id"].as_i64().unwrap()
}

async fn a_campaigns_lookup_fills_the_contact_crm_signed_like_a_push_and_is_asked_once_a_minute(
    app: TestApp,
) {
    let endpoint = crm(Answer::Body(r#"{"tier": "gold", "balance": 12.5}"#)).await;
    let call_id = leased_call(&app).await;
    let call = app.store.call(CallId(call_id)).await.unwrap();
    set_lookup(&app, "campaign", call.campaign_id.unwrap().0, &endpoint.url).await;
    let shown: Value = app
        .get(
            &format!(
                "/api/v1/crm/lookups/campaign/{}",
                call.campaign_id.unwrap().0
            ),
            Some(&app.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown, json!({"url": endpoint.url, "secret_set": true}));

    let first = config(&app, &format!("call_id={call_id}")).await;
    assert_eq!(
        first["contact"]["crm"],
        json!({"tier": "gold", "balance": 12.5})
    );
    let seen = endpoint.seen.lock().await.clone();
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    let asked: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(asked["phone"], "+442071838750");
    assert_eq!(asked["call_id"], call_id);
    assert_eq!(asked["contact_id"], first["contact"]["contact_id"]);
    assert_eq!(asked["direction"], "outbound");
    let timestamp: i64 = headers["x-vox-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        headers["x-vox-signature"].to_str().unwrap(),
        bridge::crm::sign(SECRET, timestamp, body)
    );

    // The same number again within the minute: the answer kept, the CRM not asked.
    let again = config(&app, &format!("call_id={call_id}")).await;
    assert_eq!(again["contact"]["crm"], first["contact"]["crm"]);
    assert_eq!(endpoint.seen.lock().await.len(), 1);
}

async fn a_bots_lookup_fills_the_prompts_crm_variables_for_an_inbound_caller(app: TestApp) {
    let endpoint = crm(Answer::Body(r#"{"tier": "platinum"}"#)).await;
    let bot = crm_bot(&app).await;
    set_lookup(&app, "bot", bot, &endpoint.url).await;
    let config = config(&app, &format!("bot_id={bot}&from=%2B14155550123")).await;
    assert_eq!(
        config["spec"]["system_prompt"],
        "You help a platinum customer."
    );
    let seen = endpoint.seen.lock().await.clone();
    let asked: Value = serde_json::from_slice(&seen[0].1).unwrap();
    assert_eq!(asked["phone"], "+14155550123");
    assert_eq!(asked["direction"], "inbound");
    let call = CallId(config["call_id"].as_i64().unwrap());
    let events = app.store.call_events(call).await.unwrap();
    assert!(
        events.iter().any(|e| e
            .detail
            .as_ref()
            .is_some_and(|d| d["crm_lookup"]["found"] == true)),
        "{events:?}"
    );
}

async fn a_lookup_that_fails_leaves_the_call_going_and_its_record_says_why(app: TestApp) {
    for (answer, why) in [
        (Answer::Body("<html>Login</html>"), "not JSON"),
        (Answer::Body("[1, 2]"), "not an object"),
        (Answer::Status(503), "HTTP 503"),
        (Answer::Hang, "request failed"),
    ] {
        let endpoint = crm(answer).await;
        let bot = crm_bot(&app).await;
        set_lookup(&app, "bot", bot, &endpoint.url).await;
        let started = std::time::Instant::now();
        let config = config(&app, &format!("bot_id={bot}&from=%2B14155550123")).await;
        // A hanging CRM holds the call up no longer than the lookup's limit.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(config["spec"]["system_prompt"], "You help a  customer.");
        assert!(config["contact"].is_null());
        let call = CallId(config["call_id"].as_i64().unwrap());
        let events = app.store.call_events(call).await.unwrap();
        let note = events
            .iter()
            .find_map(|e| e.detail.as_ref().map(|d| d["crm_lookup"].clone()))
            .filter(|note| !note.is_null())
            .unwrap_or_else(|| panic!("no crm_lookup in {events:?}"));
        assert_eq!(note["found"], false);
        assert!(note["error"].as_str().unwrap().contains(why), "{note}");
    }
}

async fn lookup_settings_are_validated_and_bad_ones_change_nothing(app: TestApp) {
    let bot = crm_bot(&app).await;
    let path = format!("/api/v1/crm/lookups/bot/{bot}");
    for (body, field) in [
        (
            json!({"url": "ftp://crm.example.com", "secret": SECRET}),
            "url",
        ),
        (
            json!({"url": "https://crm.example.com/lookup", "secret": "short"}),
            "secret",
        ),
    ] {
        let (status, _, named) = error_of(app.put(&path, Some(&app.admin), &body).await).await;
        assert_eq!((status, named.as_deref()), (422, Some(field)), "{body}");
    }
    assert_eq!(app.get(&path, Some(&app.admin)).await.status(), 404);
    let missing = "/api/v1/crm/lookups/bot/999999";
    let body = json!({"url": "https://crm.example.com/lookup", "secret": SECRET});
    assert_eq!(
        app.put(missing, Some(&app.admin), &body).await.status(),
        404
    );
    assert_eq!(app.put(&path, Some(&app.admin), &body).await.status(), 200);
    let removed = app
        .request(reqwest::Method::DELETE, &path, Some(&app.admin), None)
        .await;
    assert_eq!(removed.status(), 204);
    assert_eq!(app.get(&path, Some(&app.admin)).await.status(), 404);
}

api_tests!(
    a_campaigns_lookup_fills_the_contact_crm_signed_like_a_push_and_is_asked_once_a_minute,
    a_bots_lookup_fills_the_prompts_crm_variables_for_an_inbound_caller,
    a_lookup_that_fails_leaves_the_call_going_and_its_record_says_why,
    lookup_settings_are_validated_and_bad_ones_change_nothing,
);
