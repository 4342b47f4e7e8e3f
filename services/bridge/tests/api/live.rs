//! What is happening now.
//!
//! A campaign's live view, the fleet's status, and the console's test call attached through the
//! fleet (fake fleets on loopback speak the attach and fleet-health contracts).

use crate::campaigns::campaign;
use crate::fleet::lease_one;
use crate::helpers::*;
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use chrono::Utc;
use contracts::{CallId, CallState, CampaignId};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A fake fleet on loopback: `/attach` answers `attach_status` (recording each request) and
/// `/health/fleet` one worker with `busy` of 4 slots taken.
pub(crate) async fn fake_fleet(
    attach_status: u16,
    busy: u32,
) -> (String, Arc<Mutex<Vec<(HeaderMap, Value)>>>) {
    let seen: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
    let log = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let media = base.replace("http://", "ws://");
    let router = axum::Router::new()
        .route(
            "/attach",
            post(move |headers: HeaderMap, Json(body): Json<Value>| {
                let log = log.clone();
                let media = media.clone();
                async move {
                    let call_id = body["call_id"].clone();
                    log.lock().push((headers, body));
                    let status = StatusCode::from_u16(attach_status).unwrap();
                    let reply = if status == StatusCode::ACCEPTED {
                        json!({"call_id": call_id, "worker_id": "w-test", "media_url": format!("{media}/ws/vox/tok"),
                               "expires_at": "2030-01-01T00:00:00Z"})
                    } else {
                        json!({"code": "fleet.capacity_exhausted", "message": "full"})
                    };
                    (status, Json(reply))
                }
            }),
        )
        .route(
            "/health/fleet",
            get(move || async move {
                let worker = json!({"status": "ok", "worker_id": "w-test", "version": "0", "worker_calls": busy,
                                    "worker_max": 4, "fleet_available": 4 - busy, "draining": false});
                Json(json!({"workers": [{"endpoint": "/tmp/w.sock", "health": worker}], "workers_up": 1,
                            "workers_down": 0, "worker_calls": busy, "worker_max": 4, "fleet_available": 4 - busy}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, seen)
}

pub(crate) async fn save_fleets(app: &TestApp, urls: &[&str]) {
    let response = app
        .put("/api/v1/fleets", Some(&app.admin), &json!({ "urls": urls }))
        .await;
    assert_eq!(response.status(), 200);
}

async fn a_campaigns_live_view_shows_its_calls_by_stage_and_the_diallers_last_decision(
    app: TestApp,
) {
    let id = campaign(&app, Some("GB")).await;
    lease_one(&app, id, "+442071838750").await;
    let path = format!("/api/v1/campaigns/{id}/live");
    let live: Value = app.get(&path, Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(live["state"], "running");
    assert_eq!(live["now"]["dialing"], 1);
    assert_eq!(live["now"]["in_conversation"], 0);
    assert_eq!(live["last_hour"]["calls"], 1);
    assert_eq!(live["pacing"], Value::Null);
    let decision = json!({"applied": "predictive", "dials": 2, "slots": 4.0, "in_flight": 1,
        "dial_level": 0.75, "abandon_target": 0.03, "aimed_abandon_rate": 0.02});
    app.store
        .record_pacing("dialler-1", CampaignId(id), &decision, Utc::now())
        .await
        .unwrap();
    let live: Value = app.get(&path, Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(live["pacing"]["decision"]["dials"], 2);
    assert_eq!(live["pacing"]["decision"]["dial_level"], 0.75);
    assert_eq!(live["pacing"]["holder"], "dialler-1");
    assert_eq!(live["pacing"]["stale"], false);
    let missing = app
        .get("/api/v1/campaigns/999999/live", Some(&app.admin))
        .await;
    assert_eq!(missing.status(), 404);
}

async fn the_fleet_status_adds_up_the_fleets_that_answer_and_names_the_ones_that_do_not(
    app: TestApp,
) {
    let (up, _) = fake_fleet(202, 3).await;
    save_fleets(
        &app,
        &[&up, "http://127.0.0.1:1", "unix:/tmp/voxcore_1.sock"],
    )
    .await;
    let viewer = app
        .user_token("viewer@example.com", store::Role::Viewer)
        .await;
    let status: Value = app
        .get("/api/v1/fleet/status", Some(&viewer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["workers_up"], 1);
    assert_eq!(status["calls_in_progress"], 3);
    assert_eq!(status["free_slots"], 1);
    assert_eq!(
        status["fleets"][0]["health"]["workers"][0]["health"]["worker_id"],
        "w-test"
    );
    assert!(
        status["fleets"][1]["error"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );
    assert!(
        status["fleets"][2]["error"]
            .as_str()
            .unwrap()
            .contains("Unix socket")
    );
    assert_eq!(status["dialler"], Value::Null);
    let lease = app
        .store
        .acquire_leader("dialler-a", Duration::from_secs(30), Utc::now())
        .await
        .unwrap()
        .unwrap();
    let status: Value = app
        .get("/api/v1/fleet/status", Some(&viewer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["dialler"]["holder"], "dialler-a");
    assert_eq!(status["dialler"]["fencing_token"], lease.fencing_token);
    assert_eq!(status["dialler"]["healthy"], true);
}

async fn a_test_call_goes_to_the_next_fleet_when_the_first_is_full(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let path = format!("/api/v1/bots/{}/test-call", bot["id"]);
    let (full, tried) = fake_fleet(429, 4).await;
    let (free, taken) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&full, &free]).await;
    let response = app.post(&path, Some(&app.admin), &json!({})).await;
    assert_eq!(response.status(), 201);
    let accepted: Value = response.json().await.unwrap();
    assert!(
        accepted["media_url"]
            .as_str()
            .unwrap()
            .ends_with("/ws/vox/tok")
    );
    assert_eq!(tried.lock().len(), 1);
    let (headers, request) = taken.lock()[0].clone();
    assert_eq!(
        headers["authorization"].to_str().unwrap(),
        format!("Bearer {FLEET_SECRET}")
    );
    assert_eq!(request["media_protocol"], "vox");
    assert_eq!(request["direction"], "web");
    let call = app
        .store
        .call(CallId(accepted["call_id"].as_i64().unwrap()))
        .await
        .unwrap();
    assert_eq!(call.state, CallState::Answered);
    assert_eq!(call.bot_id.0, bot["id"].as_i64().unwrap());
}

async fn a_test_call_nobody_can_take_is_refused_and_its_call_ended(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let path = format!("/api/v1/bots/{}/test-call", bot["id"]);
    let (status, code, _) = error_of(app.post(&path, Some(&app.admin), &json!({})).await).await;
    assert_eq!((status, code.as_str()), (409, "fleet.none"));
    let (full, _) = fake_fleet(429, 4).await;
    save_fleets(&app, &[&full]).await;
    let busy = app.post(&path, Some(&app.admin), &json!({})).await;
    // A busy fleet is the caller's to wait out: 429 with when to try again.
    assert_eq!(busy.headers()["retry-after"], "10");
    let (status, code, _) = error_of(busy).await;
    assert_eq!((status, code.as_str()), (429, "fleet.capacity_exhausted"));
    let calls = app
        .store
        .list_calls(store::CallFilter::default(), store::Page::first(10))
        .await
        .unwrap();
    assert_eq!(calls.items.len(), 1);
    assert_eq!(calls.items[0].state, CallState::Failed);
    let viewer = app
        .user_token("viewer@example.com", store::Role::Viewer)
        .await;
    let (status, _, _) = error_of(app.post(&path, Some(&viewer), &json!({})).await).await;
    assert_eq!(status, 403);
}

async fn test_calls_are_limited_per_caller_so_a_loop_cannot_hold_every_worker(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let path = format!("/api/v1/bots/{}/test-call", bot["id"]);
    let (free, taken) = fake_fleet(202, 0).await;
    save_fleets(&app, &[&free]).await;
    for _ in 0..10 {
        let response = app.post(&path, Some(&app.admin), &json!({})).await;
        assert_eq!(response.status(), 201);
    }
    let refused = app.post(&path, Some(&app.admin), &json!({})).await;
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    let (status, code, _) = error_of(refused).await;
    assert_eq!((status, code.as_str()), (429, "test_call.rate_limited"));
    // The refused one reached no worker and made no call; another operator is not held back.
    assert_eq!(taken.lock().len(), 10);
    let operator = app
        .user_token("operator@example.com", store::Role::Operator)
        .await;
    let response = app.post(&path, Some(&operator), &json!({})).await;
    assert_eq!(response.status(), 201);
    let calls = app
        .store
        .list_calls(store::CallFilter::default(), store::Page::first(20))
        .await
        .unwrap();
    assert_eq!(calls.items.len(), 11);
}

/// M14: an admin's fleet URL must not be a way to capture the fleet secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_secret_goes_only_to_fleets_inside_the_configured_networks() {
    // The fleets may be on 127.0.0.2 only; the capture server listens on 127.0.0.1.
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.fleet_networks = egress::Allowed::parse("127.0.0.2").unwrap();
    })
    .await;
    let bot = app.create_bot(bot_spec()).await;
    let (capture, seen) = fake_fleet(202, 0).await;
    let response = app
        .put(
            "/api/v1/fleets",
            Some(&app.admin),
            &json!({ "urls": ["unix:/run/vox/w1.sock", capture] }),
        )
        .await;
    let (status, _, field) = error_of(response).await;
    assert_eq!((status, field.as_deref()), (403, Some("urls[1]")));
    // A list saved before the rule (or written around the API) is checked again at each use.
    app.store
        .put_setting("fleet.urls", json!([capture]), None)
        .await
        .unwrap();
    let path = format!("/api/v1/bots/{}/test-call", bot["id"]);
    let (status, code, _) = error_of(app.post(&path, Some(&app.admin), &json!({})).await).await;
    assert_eq!((status, code.as_str()), (409, "fleet.none"));
    let status: Value = app
        .get("/api/v1/fleet/status", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        status["fleets"][0]["error"]
            .as_str()
            .unwrap()
            .contains("FLEET_NETWORKS"),
        "{status}"
    );
    assert!(seen.lock().is_empty(), "the capture server got a request");
}

api_tests!(
    test_calls_are_limited_per_caller_so_a_loop_cannot_hold_every_worker,
    a_campaigns_live_view_shows_its_calls_by_stage_and_the_diallers_last_decision,
    the_fleet_status_adds_up_the_fleets_that_answer_and_names_the_ones_that_do_not,
    a_test_call_goes_to_the_next_fleet_when_the_first_is_full,
    a_test_call_nobody_can_take_is_refused_and_its_call_ended,
);
