//! The fleet contracts: runtime config and call results, behind the fleet secret.

use crate::campaigns::campaign;
use crate::helpers::*;
use chrono::Utc;
use contracts::CallState;
use serde_json::{Value, json};
use std::time::Duration;
use store::{ContactStatus, LeaseRequest, Transition};

/// A running campaign with one leased contact; returns the call id.
pub async fn leased_call(app: &TestApp) -> i64 {
    let id = campaign(app, Some("GB")).await;
    let path = format!("/api/v1/campaigns/{id}/contacts");
    let rows = json!([{"phone": "020 7183 8750", "variables": {"name": "Ada"}}]);
    assert_eq!(app.post(&path, Some(&app.admin), &rows).await.status(), 201);
    app.post(
        &format!("/api/v1/campaigns/{id}/start"),
        Some(&app.admin),
        &json!({}),
    )
    .await;
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
    assert_eq!(call.state, CallState::Answered);
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

api_tests!(
    config_needs_the_fleet_secret_and_renders_the_contact,
    config_by_bot_opens_an_inbound_call,
    a_result_ends_the_call_once_and_schedules_the_retry,
    the_call_log_filters_by_state,
);
