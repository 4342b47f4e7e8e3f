//! The website widget: its settings per bot, and the public call start with its origin check,
//! rate limits and cap (a fake fleet on loopback takes the calls).

use crate::helpers::*;
use crate::live::{fake_fleet, save_fleets};
use contracts::{CallId, CallState};
use reqwest::Response;
use serde_json::{Value, json};

async fn widget_of(app: &TestApp, bot: &Value, body: Value) -> Value {
    let path = format!("/api/v1/bots/{}/widget", bot["id"]);
    let response = app.put(&path, Some(&app.admin), &body).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A visitor's call start as the page's script sends it, from `origin` (none when `None`),
/// through a proxy that names the visitor `visitor`.
async fn visit(app: &TestApp, key: &str, origin: Option<&str>, visitor: &str) -> Response {
    let mut request = app
        .client
        .post(format!("{}/api/v1/widget/calls", app.address))
        .header("x-forwarded-for", visitor)
        .json(&json!({ "key": key }));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

async fn calls(app: &TestApp) -> Vec<store::Call> {
    app.store
        .list_calls(store::CallFilter::default(), store::Page::first(50))
        .await
        .unwrap()
        .items
}

async fn a_widget_keeps_its_key_across_saves_and_its_key_ends_with_it(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let saved = widget_of(
        &app,
        &bot,
        json!({"allowed_origins": ["https://Shop.Example.com/", "https://shop.example.com"]}),
    )
    .await;
    let key = saved["key"].as_str().unwrap().to_owned();
    assert!(bridge::widget::is_key(&key), "{key}");
    assert_eq!(
        saved["allowed_origins"],
        json!(["https://shop.example.com"])
    );
    assert_eq!(saved["visitor_calls_per_minute"], 3);
    assert_eq!(saved["key_calls_per_minute"], 30);
    assert_eq!(saved["max_concurrent_calls"], 5);
    let changed = widget_of(
        &app,
        &bot,
        json!({"allowed_origins": ["http://localhost:3000"], "max_concurrent_calls": 2}),
    )
    .await;
    assert_eq!(changed["key"], key);
    assert_eq!(changed["max_concurrent_calls"], 2);
    let path = format!("/api/v1/bots/{}/widget", bot["id"]);
    let read: Value = app.get(&path, Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(read, changed);
    let actions: Vec<Value> = app
        .audit_log()
        .await
        .iter()
        .map(|entry| entry["action"].clone())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "bots.widget.save").count(),
        2
    );
    let removed = app
        .request(reqwest::Method::DELETE, &path, Some(&app.admin), None)
        .await;
    assert_eq!(removed.status(), 204);
    assert_eq!(app.get(&path, Some(&app.admin)).await.status(), 404);
    // The removed key opens nothing, even from a site it used to list.
    let (status, code, field) =
        error_of(visit(&app, &key, Some("http://localhost:3000"), "203.0.113.1").await).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (404, "not_found", Some("key"))
    );
    // A new widget gets a new key.
    let again = widget_of(
        &app,
        &bot,
        json!({"allowed_origins": ["https://a.example"]}),
    )
    .await;
    assert_ne!(again["key"], key);
}

async fn bad_widget_settings_are_refused_by_field_and_change_nothing(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let path = format!("/api/v1/bots/{}/widget", bot["id"]);
    for (body, field) in [
        (json!({"allowed_origins": []}), "allowed_origins"),
        (
            json!({"allowed_origins": ["https://a.example", "https://a.example/page"]}),
            "allowed_origins[1]",
        ),
        (
            json!({"allowed_origins": ["https://*.example.com"]}),
            "allowed_origins[0]",
        ),
        (
            json!({"allowed_origins": ["https://a.example"], "visitor_calls_per_minute": 0}),
            "visitor_calls_per_minute",
        ),
        (
            json!({"allowed_origins": ["https://a.example"], "max_concurrent_calls": 10001}),
            "max_concurrent_calls",
        ),
        (
            json!({"allowed_origins": ["https://a.example"], "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, _, named) = error_of(app.put(&path, Some(&app.admin), &body).await).await;
        assert_eq!((status, named.as_deref()), (422, Some(field)), "{body}");
    }
    let viewer = app
        .user_token("viewer@example.com", store::Role::Viewer)
        .await;
    let body = json!({"allowed_origins": ["https://a.example"]});
    assert_eq!(app.put(&path, Some(&viewer), &body).await.status(), 403);
    assert_eq!(
        app.put("/api/v1/bots/999/widget", Some(&app.admin), &body)
            .await
            .status(),
        404
    );
    assert_eq!(app.get(&path, Some(&app.admin)).await.status(), 404);
    let settings: Value = app
        .get("/api/v1/settings", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    let kept = settings.as_array().unwrap().iter().any(|setting| {
        setting["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("widget."))
    });
    assert!(!kept, "{settings}");
}

async fn a_visitors_call_starts_only_from_a_site_the_widget_lists(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let (fleet, taken) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let key = widget_of(
        &app,
        &bot,
        json!({"allowed_origins": ["https://shop.example"]}),
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    // The browser's preflight is answered for any page; the page's own origin decides below.
    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/widget/calls", app.address),
        )
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://elsewhere.example"
    );
    assert_eq!(preflight.headers()["access-control-allow-methods"], "POST");
    // No origin (not a web page), another site: refused, and the page can read why.
    let (status, code, field) = error_of(visit(&app, &key, None, "203.0.113.1").await).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (403, "widget.origin_refused", Some("Origin"))
    );
    let refused = visit(&app, &key, Some("https://elsewhere.example"), "203.0.113.1").await;
    assert_eq!(
        refused.headers()["access-control-allow-origin"],
        "https://elsewhere.example"
    );
    assert!(
        refused
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let (status, code, _) = error_of(refused).await;
    assert_eq!((status, code.as_str()), (403, "widget.origin_refused"));
    // An unknown key, a body that is not a call request.
    let (status, _, field) = error_of(
        visit(
            &app,
            "wk_00000000000000000000000000000000",
            Some("https://shop.example"),
            "203.0.113.1",
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (404, Some("key")));
    let garbage = app
        .client
        .post(format!("{}/api/v1/widget/calls", app.address))
        .header("origin", "https://shop.example")
        .json(&json!({"bot": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(garbage).await.0, 422);
    assert!(calls(&app).await.is_empty(), "a refused visit made a call");
    assert!(taken.lock().is_empty());
    // From the listed site: a web call on a worker, its channel id the key's.
    let accepted = visit(&app, &key, Some("https://shop.example"), "203.0.113.1").await;
    assert_eq!(accepted.status(), 201);
    assert_eq!(
        accepted.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let accepted: Value = accepted.json().await.unwrap();
    assert!(
        accepted["media_url"]
            .as_str()
            .unwrap()
            .ends_with("/ws/vox/tok")
    );
    assert!(accepted.get("worker_id").is_none(), "{accepted}");
    let call = app
        .store
        .call(CallId(accepted["call_id"].as_i64().unwrap()))
        .await
        .unwrap();
    assert_eq!(call.direction.as_str(), "web");
    assert_eq!(call.state, CallState::Answered);
    assert!(
        call.carrier_call_id
            .as_deref()
            .unwrap()
            .starts_with(&format!("widget:{key}:"))
    );
    assert_eq!(taken.lock()[0].1["direction"], "web");
}

/// Visitors are told apart by the address a trusted proxy forwards.
async fn limits(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.trusted_proxies = egress::Allowed::parse("127.0.0.1").unwrap();
    })
    .await;
    let bot = app.create_bot(bot_spec()).await;
    let (fleet, taken) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&fleet]).await;
    let site = Some("https://shop.example");
    let key = widget_of(
        &app,
        &bot,
        json!({"allowed_origins": ["https://shop.example"], "visitor_calls_per_minute": 2,
               "key_calls_per_minute": 4, "max_concurrent_calls": 3}),
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        assert_eq!(visit(&app, &key, site, "203.0.113.1").await.status(), 201);
    }
    let again = visit(&app, &key, site, "203.0.113.1").await;
    assert!(again.headers().contains_key("retry-after"));
    let (status, code, _) = error_of(again).await;
    assert_eq!(
        (status, code.as_str()),
        (429, "widget.visitor_rate_limited")
    );
    // Another visitor takes the third line; the next finds every line in use.
    assert_eq!(visit(&app, &key, site, "203.0.113.2").await.status(), 201);
    let (status, code, _) = error_of(visit(&app, &key, site, "203.0.113.2").await).await;
    assert_eq!((status, code.as_str()), (429, "widget.busy"));
    assert_eq!(calls(&app).await.len(), 3);
    // A line comes free, but the key has had its four calls this minute.
    let first = calls(&app).await.last().unwrap().id;
    app.store
        .transition(
            store::Transition::new(
                first,
                CallState::Answered,
                CallState::Failed,
                chrono::Utc::now(),
            )
            .with_outcome(contracts::CallOutcomeCode::FleetAttachFailed),
        )
        .await
        .unwrap();
    let (status, code, _) = error_of(visit(&app, &key, site, "203.0.113.3").await).await;
    assert_eq!((status, code.as_str()), (429, "widget.key_rate_limited"));
    assert_eq!(calls(&app).await.len(), 3);
    assert_eq!(taken.lock().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_widget_limits_each_visitor_its_key_and_its_calls_at_once_on_sqlite() {
    limits(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_widget_limits_each_visitor_its_key_and_its_calls_at_once_on_postgres() {
    limits(Backend::Postgres).await;
}

api_tests!(
    a_widget_keeps_its_key_across_saves_and_its_key_ends_with_it,
    bad_widget_settings_are_refused_by_field_and_change_nothing,
    a_visitors_call_starts_only_from_a_site_the_widget_lists,
);
