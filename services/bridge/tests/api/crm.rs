//! CRM push end to end: a real webhook receiver on loopback checks signatures.
//!
//! Retries, backoff, dead letters and the retry API.

use crate::fleet::{finish, leased_call, result_body};
use crate::helpers::*;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use contracts::CallId;
use serde_json::{Value, json};
use std::sync::Arc;
use store::{DeliveryStatus, Page};
use tokio::sync::Mutex;

const SECRET: &str = "webhook-secret-0123456789";

/// A webhook on loopback that fails the first `failures` requests and records every one.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn receiver(failures: usize) -> Receiver {
    let seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let recorded = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let recorded = recorded.clone();
            async move {
                let mut seen = recorded.lock().await;
                seen.push((headers, body));
                if seen.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, seen }
}

/// A finished call whose campaign has the receiver's webhook.
async fn finished_call(app: &TestApp, url: &str) -> i64 {
    let call_id = leased_call(app).await;
    let call = app.store.call(CallId(call_id)).await.unwrap();
    let campaign = call.campaign_id.unwrap().0;
    let saved = app
        .put(
            &format!("/api/v1/crm/webhooks/campaign/{campaign}"),
            Some(&app.admin),
            &json!({"url": url, "secret": SECRET}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    let shown: Value = app
        .get(
            &format!("/api/v1/crm/webhooks/campaign/{campaign}"),
            Some(&app.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown,
        json!({"url": url, "secret_set": true}),
        "the secret is never shown"
    );
    finish(app, call_id, &result_body(call_id, "call.completed")).await;
    call_id
}

async fn a_finished_call_is_pushed_signed_and_retried_until_delivered(app: TestApp) {
    let hook = receiver(2).await;
    let call_id = finished_call(&app, &hook.url).await;
    let client = bridge::crm::client(egress::Allowed::parse("127.0.0.0/8").unwrap());
    let now = Utc::now();
    let first = bridge::crm::deliver_due(&*app.store, &client, now)
        .await
        .unwrap();
    assert_eq!(first.retrying, 1, "{first:?}");
    assert_eq!(
        bridge::crm::deliver_due(&*app.store, &client, now)
            .await
            .unwrap(),
        Default::default(),
        "backoff holds it"
    );
    let second = bridge::crm::deliver_due(&*app.store, &client, now + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(second.retrying, 1);
    let third = bridge::crm::deliver_due(&*app.store, &client, now + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(third.delivered, 1);

    let seen = hook.seen.lock().await;
    assert_eq!(seen.len(), 3);
    for (headers, body) in seen.iter() {
        let timestamp: i64 = headers["x-vox-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let signature = headers["x-vox-signature"].to_str().unwrap();
        assert_eq!(signature, bridge::crm::sign(SECRET, timestamp, body));
        assert_ne!(
            signature,
            bridge::crm::sign("wrong-secret-0123456789", timestamp, body)
        );
        let record: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(record["call"]["id"], call_id);
        // L6: one id for the delivery across its retries, for receivers to drop repeats.
        assert_eq!(headers["x-vox-delivery-id"], seen[0].0["x-vox-delivery-id"]);
        assert_eq!(record["result"]["outcome"], "call.completed");
    }
    let delivered: Value = app
        .get("/api/v1/crm/deliveries?status=delivered", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(delivered["items"][0]["attempts"], 3);
    assert_eq!(
        delivered["items"][0]["last_error"],
        "webhook answered 500 Internal Server Error"
    );
}

async fn a_delivery_that_keeps_failing_is_dead_lettered_and_can_be_retried(app: TestApp) {
    let hook = receiver(usize::MAX).await;
    finished_call(&app, &hook.url).await;
    let client = bridge::crm::client(egress::Allowed::parse("127.0.0.0/8").unwrap());
    let mut now = Utc::now();
    for _ in 0..bridge::crm::MAX_ATTEMPTS {
        bridge::crm::deliver_due(&*app.store, &client, now)
            .await
            .unwrap();
        now += Duration::hours(2);
    }
    let dead = app
        .store
        .list_crm_deliveries(Some(DeliveryStatus::Failed), Page::default())
        .await
        .unwrap();
    assert_eq!(dead.items.len(), 1);
    assert_eq!(dead.items[0].attempts, bridge::crm::MAX_ATTEMPTS);
    assert_eq!(
        hook.seen.lock().await.len() as i64,
        bridge::crm::MAX_ATTEMPTS
    );
    let id = dead.items[0].id;
    let retried = app
        .post(
            &format!("/api/v1/crm/deliveries/{id}/retry"),
            Some(&app.admin),
            &json!({}),
        )
        .await;
    assert_eq!(retried.status(), 200);
    assert_eq!(retried.json::<Value>().await.unwrap()["status"], "pending");
    let again = app
        .post(
            &format!("/api/v1/crm/deliveries/{id}/retry"),
            Some(&app.admin),
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), 404);
}

async fn webhook_settings_are_validated(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let path = format!("/api/v1/crm/webhooks/bot/{}", bot["id"]);
    let (status, _, field) = error_of(
        app.put(
            &path,
            Some(&app.admin),
            &json!({"url": "ftp://x", "secret": SECRET}),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("url")));
    let (status, _, field) = error_of(
        app.put(
            &path,
            Some(&app.admin),
            &json!({"url": "https://x.example", "secret": "short"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("secret")));
    assert_eq!(
        app.put(
            "/api/v1/crm/webhooks/bot/424242",
            Some(&app.admin),
            &json!({"url": "https://x.example", "secret": SECRET})
        )
        .await
        .status(),
        404
    );
    assert_eq!(app.get(&path, Some(&app.admin)).await.status(), 404);
}

api_tests!(
    a_finished_call_is_pushed_signed_and_retried_until_delivered,
    a_delivery_that_keeps_failing_is_dead_lettered_and_can_be_retried,
    webhook_settings_are_validated,
);

/// M9: the Backend POSTs CRM webhooks itself, so their URL may not be a private address (a
/// metadata endpoint, an internal port) unless the platform allows that network.
#[tokio::test]
async fn a_crm_webhook_on_a_private_address_is_refused_at_save() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.outbound_allowed = egress::Allowed::default();
    })
    .await;
    let campaign = crate::campaigns::campaign(&app, None).await;
    let path = format!("/api/v1/crm/webhooks/campaign/{campaign}");
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:6379/",
        "http://localhost:8080/admin",
    ] {
        let body = json!({"url": url, "secret": SECRET});
        let (status, _, field) = error_of(app.put(&path, Some(&app.admin), &body).await).await;
        // The platform's network policy forbids it: 403, naming the field.
        assert_eq!((status, field.as_deref()), (403, Some("url")), "{url}");
    }
    let body = json!({"url": "https://crm.example.com/hook", "secret": SECRET});
    assert_eq!(app.put(&path, Some(&app.admin), &body).await.status(), 200);
}
