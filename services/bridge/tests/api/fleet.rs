//! The fleet contracts: runtime config and call results, behind the fleet secret.

use crate::campaigns::campaign;
use crate::helpers::*;
use chrono::Utc;
use contracts::{CallOutcomeCode, CallState};
use serde_json::{Value, json};
use std::time::Duration;
use store::{ContactStatus, LeaseRequest, Transition};

/// A running campaign with one leased contact; returns the call id.
pub async fn leased_call(app: &TestApp) -> i64 {
    let id = campaign(app, Some("GB")).await;
    lease_one(app, id, "+442071838750").await
}

/// Adds `phone` (a London number) to campaign `id`, starts it, and leases the contact; returns
/// the call id.
pub async fn lease_one(app: &TestApp, id: i64, phone: &str) -> i64 {
    let path = format!("/api/v1/campaigns/{id}/contacts");
    let rows = json!([{"phone": phone, "timezone": "Europe/London", "variables": {"name": "Ada"}}]);
    assert_eq!(app.post(&path, Some(&app.admin), &rows).await.status(), 201);
    let start = format!("/api/v1/campaigns/{id}/start");
    assert_eq!(
        app.post(&start, Some(&app.admin), &json!({}))
            .await
            .status(),
        200
    );
    let leases = app
        .store
        .lease_contacts(LeaseRequest {
            campaign_id: contracts::CampaignId(id),
            owner: "dialler-1".into(),
            limit: 1,
            ttl: Duration::from_secs(300),
            now: Utc::now(),
            fence: None,
        })
        .await
        .unwrap();
    leases[0].call_id.0
}

pub fn result_body(call_id: i64, outcome: &str) -> Value {
    json!({
        "call_id": call_id,
        "outcome": outcome,
        "transcript": [{"speaker": "assistant", "text": "Hello Ada", "at_ms": 0}],
        "analysis": {"interest": "high"},
        "timings": {"started_at": "2026-11-23T09:00:00Z", "ended_at": "2026-11-23T09:01:00Z"}
    })
}

async fn config_needs_the_fleet_secret_and_renders_the_contact(app: TestApp) {
    let call_id = leased_call(&app).await;
    let path = format!("/api/v1/config?call_id={call_id}");
    assert_eq!(app.get(&path, None).await.status(), 401);
    assert_eq!(app.get(&path, Some(&app.admin)).await.status(), 401);
    let response = app.get(&path, Some(FLEET_SECRET)).await;
    assert_eq!(response.status(), 200);
    let config: Value = response.json().await.unwrap();
    assert_eq!(config["call_id"], call_id);
    assert_eq!(config["bot"]["version"], 1);
    assert_eq!(
        config["spec"]["system_prompt"],
        "You remind Ada of the appointment."
    );
    assert_eq!(
        config["spec"]["first_message"],
        "Hello Ada, this is a reminder."
    );
    assert_eq!(config["contact"]["phone"], "+442071838750");
    assert_eq!(config["call"]["direction"], "outbound");
    // A malformed caller number is refused with a call_id too, where it is not used.
    let bad = format!("/api/v1/config?call_id={call_id}&from=%C3%AFD");
    let (status, _, field) = error_of(app.get(&bad, Some(FLEET_SECRET)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("from")));
}

/// The worker that takes a call names itself: the record says which worker carried the call
/// (it was lost when the worker's config request beat the dialler's `attaching`).
async fn the_worker_asking_for_a_calls_config_is_kept_on_the_call(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let path = format!(
        "/api/v1/config?bot_id={}&from=%2B14155550123&worker_id=voxcore-7",
        bot["id"]
    );
    let config: Value = app
        .get(&path, Some(FLEET_SECRET))
        .await
        .json()
        .await
        .unwrap();
    let call_id = contracts::CallId(config["call_id"].as_i64().unwrap());
    let call = app.store.call(call_id).await.unwrap();
    assert_eq!(call.state, CallState::InProgress);
    assert_eq!(call.worker_id.as_deref(), Some("voxcore-7"));
    let bad = format!("/api/v1/config?bot_id={}&worker_id=a%00b", bot["id"]);
    let (status, _, field) = error_of(app.get(&bad, Some(FLEET_SECRET)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("worker_id")));
}

async fn config_by_bot_opens_an_inbound_call(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let path = format!("/api/v1/config?bot_id={}&from=%2B14155550123", bot["id"]);
    let config: Value = app
        .get(&path, Some(FLEET_SECRET))
        .await
        .json()
        .await
        .unwrap();
    let call_id = config["call_id"].as_i64().unwrap();
    let call = app.store.call(contracts::CallId(call_id)).await.unwrap();
    // Opened answered, and in progress now that a worker holds its config.
    assert_eq!(call.state, CallState::InProgress);
    assert_eq!(call.worker_id, None);
    assert_eq!(
        config["spec"]["system_prompt"],
        "You remind  of the appointment."
    );
    let (status, _, field) = error_of(app.get("/api/v1/config", Some(FLEET_SECRET)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("call_id")));
}

async fn a_result_ends_the_call_once_and_schedules_the_retry(app: TestApp) {
    let call_id = leased_call(&app).await;
    let call = contracts::CallId(call_id);
    walk_to_in_progress(&app, call_id).await;
    let path = format!("/api/v1/calls/{call_id}/result");
    let wrong = app
        .post(
            &path,
            Some(FLEET_SECRET),
            &result_body(call_id + 1, "dial.machine"),
        )
        .await;
    assert_eq!(error_of(wrong).await.2.as_deref(), Some("call_id"));
    let body = result_body(call_id, "dial.machine");
    let first = app.post(&path, Some(FLEET_SECRET), &body).await;
    assert_eq!(first.status(), 200);
    let again = app.post(&path, Some(FLEET_SECRET), &body).await;
    assert_eq!(again.json::<Value>().await.unwrap()["duplicate"], true);
    let different = app
        .post(
            &path,
            Some(FLEET_SECRET),
            &result_body(call_id, "call.completed"),
        )
        .await;
    assert_eq!(error_of(different).await.0, 409);

    let detail: Value = app
        .get(&format!("/api/v1/calls/{call_id}"), Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["state"], "machine");
    assert_eq!(detail["outcome"], "dial.machine");
    assert_eq!(detail["result"]["analysis"]["interest"], "high");
    assert_eq!(detail["events"].as_array().unwrap().len(), 5);
    let stored = app.store.call(call).await.unwrap();
    let contact = app.store.contact(stored.contact_id.unwrap()).await.unwrap();
    assert_eq!(
        contact.status,
        ContactStatus::Pending,
        "a machine is retried (1 of 2 attempts used)"
    );
    assert!(contact.next_attempt_at > Utc::now() + chrono::Duration::hours(3));
    assert_eq!(contact.last_outcome.as_deref(), Some("dial.machine"));
}

async fn the_call_log_filters_by_state(app: TestApp) {
    let call_id = leased_call(&app).await;
    let leased: Value = app
        .get("/api/v1/calls?state=leased", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(leased["items"][0]["id"], call_id);
    let done: Value = app
        .get("/api/v1/calls?state=completed", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(done["items"].as_array().unwrap().is_empty());
    let (status, _, field) =
        error_of(app.get("/api/v1/calls?limit=0", Some(&app.admin)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("limit")));
    let (status, _, field) =
        error_of(app.get("/api/v1/calls?cursor=abc", Some(&app.admin)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("cursor")));
}

/// H3: worker A's reservation lapses and it posts `fleet.attach_failed`, while worker B (the
/// dialler failed over to it) has the real call: B's result replaces A's, the contact gets the
/// real outcome (not a redial), and no other result is ever replaced.
async fn a_real_result_replaces_the_attach_failed_one_of_a_failed_over_call(app: TestApp) {
    let call_id = leased_call(&app).await;
    let call = contracts::CallId(call_id);
    for (from, to) in [
        (CallState::Leased, CallState::Dialing),
        (CallState::Dialing, CallState::Answered),
        (CallState::Answered, CallState::Attaching),
    ] {
        app.store
            .transition(Transition::new(call, from, to, Utc::now()))
            .await
            .unwrap();
    }
    let path = format!("/api/v1/calls/{call_id}/result");
    let mut lapsed = result_body(call_id, "fleet.attach_failed");
    lapsed["transcript"] = json!([]);
    lapsed["analysis"] = json!({});
    let posted = app.post(&path, Some(FLEET_SECRET), &lapsed).await;
    assert_eq!(posted.status(), 200);
    assert_eq!(
        app.store.call(call).await.unwrap().outcome,
        Some(CallOutcomeCode::FleetAttachFailed)
    );
    // B's real result arrives second, and is kept.
    let real = result_body(call_id, "call.completed");
    let posted = app.post(&path, Some(FLEET_SECRET), &real).await;
    assert_eq!(posted.status(), 200);
    let stored = app.store.call(call).await.unwrap();
    assert_eq!(stored.state, CallState::Completed);
    assert_eq!(stored.outcome, Some(CallOutcomeCode::CallCompleted));
    assert_eq!(
        stored.result.as_ref().unwrap()["analysis"]["interest"],
        "high"
    );
    let contact = app.store.contact(stored.contact_id.unwrap()).await.unwrap();
    assert_eq!(contact.last_outcome.as_deref(), Some("call.completed"));
    assert_eq!(contact.status, ContactStatus::Done, "not redialled");
    // The real result again is a duplicate, and so is a lapsed report arriving late (nothing
    // for worker A to bury), and a restarted worker's report of the call as lost (its outbox
    // note outlived the delivery); any other result is still a conflict.
    let lost = result_body(call_id, "fleet.worker_lost");
    for late in [real, lapsed, lost] {
        let again = app.post(&path, Some(FLEET_SECRET), &late).await;
        assert_eq!(again.json::<Value>().await.unwrap()["duplicate"], true);
    }
    let refused = app
        .post(
            &path,
            Some(FLEET_SECRET),
            &result_body(call_id, "dial.machine"),
        )
        .await;
    assert_eq!(error_of(refused).await.0, 409);
    let stored = app.store.call(call).await.unwrap();
    assert_eq!(stored.outcome, Some(CallOutcomeCode::CallCompleted));
}

/// A worker killed while it took a call reports it lost when it restarts, but the dialler had
/// failed over to another worker, which talked to the callee: that worker's result replaces the
/// report (found by the kill tests).
async fn a_real_result_replaces_a_restarted_worker_report_of_the_call_as_lost(app: TestApp) {
    let call_id = leased_call(&app).await;
    walk_to_in_progress(&app, call_id).await;
    let path = format!("/api/v1/calls/{call_id}/result");
    let mut lost = result_body(call_id, "fleet.worker_lost");
    lost["transcript"] = json!([]);
    lost["analysis"] = json!({});
    assert_eq!(
        app.post(&path, Some(FLEET_SECRET), &lost).await.status(),
        200
    );
    let call = contracts::CallId(call_id);
    assert_eq!(
        app.store.call(call).await.unwrap().outcome,
        Some(CallOutcomeCode::FleetWorkerLost)
    );
    let real = result_body(call_id, "call.completed");
    assert_eq!(
        app.post(&path, Some(FLEET_SECRET), &real).await.status(),
        200
    );
    let stored = app.store.call(call).await.unwrap();
    assert_eq!(
        (stored.state, stored.outcome),
        (CallState::Completed, Some(CallOutcomeCode::CallCompleted))
    );
    let contact = app.store.contact(stored.contact_id.unwrap()).await.unwrap();
    assert_eq!(contact.status, ContactStatus::Done, "not redialled");
}

/// M3: a long call's result is far bigger than the API's 2 MiB body limit, and is still taken.
async fn a_result_over_the_apis_body_limit_is_still_stored(app: TestApp) {
    let call_id = leased_call(&app).await;
    let mut body = result_body(call_id, "call.completed");
    body["transcript"] = json!(
        (0..2000)
            .map(|i| json!({"speaker": "user", "text": "word ".repeat(500), "at_ms": i * 1000}))
            .collect::<Vec<_>>()
    );
    assert!(body.to_string().len() > 4 << 20);
    walk_to_in_progress(&app, call_id).await;
    let path = format!("/api/v1/calls/{call_id}/result");
    let posted = app.post(&path, Some(FLEET_SECRET), &body).await;
    assert_eq!(posted.status(), 200);
    let stored = app.store.call(contracts::CallId(call_id)).await.unwrap();
    assert_eq!(stored.state, CallState::Completed);
}

api_tests!(
    a_result_over_the_apis_body_limit_is_still_stored,
    a_real_result_replaces_a_restarted_worker_report_of_the_call_as_lost,
    a_real_result_replaces_the_attach_failed_one_of_a_failed_over_call,
    the_call_log_filters_by_outcome_disposition_phone_and_transcript_text,
    config_needs_the_fleet_secret_and_renders_the_contact,
    config_by_bot_opens_an_inbound_call,
    the_worker_asking_for_a_calls_config_is_kept_on_the_call,
    a_result_ends_the_call_once_and_schedules_the_retry,
    the_call_log_filters_by_state,
);

/// Walks a leased call to in_progress, as the dialler and the worker would.
async fn walk_to_in_progress(app: &TestApp, call_id: i64) {
    let call = contracts::CallId(call_id);
    for (from, to) in [
        (CallState::Leased, CallState::Dialing),
        (CallState::Dialing, CallState::Answered),
        (CallState::Answered, CallState::InProgress),
    ] {
        app.store
            .transition(Transition::new(call, from, to, Utc::now()))
            .await
            .unwrap();
    }
}

/// Walks a leased call to in_progress and posts `body` as its result.
pub async fn finish(app: &TestApp, call_id: i64, body: &Value) {
    walk_to_in_progress(app, call_id).await;
    let posted = app
        .post(
            &format!("/api/v1/calls/{call_id}/result"),
            Some(FLEET_SECRET),
            body,
        )
        .await;
    assert_eq!(posted.status(), 200);
}

async fn the_call_log_filters_by_outcome_disposition_phone_and_transcript_text(app: TestApp) {
    let call_id = leased_call(&app).await;
    let mut body = result_body(call_id, "call.completed");
    body["disposition"] = json!("booked");
    body["transcript"][0]["text"] = json!("Hello Ada, your appointment is on Tuesday");
    finish(&app, call_id, &body).await;
    let found = |query: &'static str| {
        let app = &app;
        async move {
            let page: Value = app
                .get(&format!("/api/v1/calls?{query}"), Some(&app.admin))
                .await
                .json()
                .await
                .unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("outcome=call.completed").await, vec![call_id]);
    assert_eq!(found("disposition=booked").await, vec![call_id]);
    assert!(found("disposition=declined").await.is_empty());
    assert_eq!(found("q=TUESDAY").await, vec![call_id]);
    assert!(found("q=wednesday").await.is_empty());
    assert_eq!(found("phone=%2B442071838750").await, vec![call_id]);
    assert_eq!(found("bot_id=1").await, vec![call_id]);
    let detail: Value = app
        .get(&format!("/api/v1/calls/{call_id}"), Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["disposition"], "booked");
    let (status, _, field) = error_of(
        app.get("/api/v1/calls?outcome=call.exploded", Some(&app.admin))
            .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("outcome")));
}

#[tokio::test]
async fn a_recording_streams_with_ranges_and_plays_from_a_signed_link() {
    let dir = tempfile::tempdir().unwrap();
    let audio: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("call.wav"), &audio).unwrap();
    std::fs::write(std::env::temp_dir().join("vox-outside.wav"), b"secret").unwrap();
    let root = dir.path().to_path_buf();
    let app = spawn_app_with(Backend::Sqlite, move |config| {
        config.recordings_dir = Some(root)
    })
    .await;
    let call_id = leased_call(&app).await;
    let mut body = result_body(call_id, "call.completed");
    body["recording"] = json!({"uri": "file://call.wav", "format": "wav", "duration_ms": 1000, "sample_rate": 16000, "channels": 2});
    finish(&app, call_id, &body).await;

    let path = format!("/api/v1/calls/{call_id}/recording");
    assert_eq!(app.get(&path, None).await.status(), 401);
    let whole = app.get_range(&path, None).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap().as_ref(), &audio[..]);
    let part = app.get_range(&path, Some("bytes=100-199")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(part.bytes().await.unwrap().as_ref(), &audio[100..200]);

    let link: Value = app
        .get(
            &format!("/api/v1/calls/{call_id}/recording/link"),
            Some(&app.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let signed = link["url"].as_str().unwrap();
    let played = app
        .client
        .get(format!("{}{signed}", app.address))
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(played.status(), 206);
    let tampered = signed.replace("signature=", "signature=0");
    assert_eq!(
        app.client
            .get(format!("{}{tampered}", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // A result pointing outside the recordings directory is refused.
    let escaping = leased_call_in_new_campaign(&app).await;
    let mut body = result_body(escaping, "call.completed");
    body["recording"] = json!({"uri": "file://../vox-outside.wav", "format": "wav", "duration_ms": 1, "sample_rate": 8000, "channels": 1});
    finish(&app, escaping, &body).await;
    let refused = app
        .get(
            &format!("/api/v1/calls/{escaping}/recording"),
            Some(&app.admin),
        )
        .await;
    assert!(
        matches!(refused.status().as_u16(), 403 | 404),
        "{}",
        refused.status()
    );
}

/// Another leased call, in a campaign of its own.
pub async fn leased_call_in_new_campaign(app: &TestApp) -> i64 {
    let bot = app.create_bot(bot_spec()).await;
    let body = json!({"name": "Second", "bot_id": bot["id"], "default_region": "GB"});
    let created = app.post("/api/v1/campaigns", Some(&app.admin), &body).await;
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    lease_one(app, id, "+442071838751").await
}
