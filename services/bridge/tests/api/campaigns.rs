//! Campaigns: settings, checked state changes, and contact batches (normalised, all or nothing).

use crate::helpers::*;
use serde_json::{Value, json};

pub async fn campaign(app: &TestApp, region: Option<&str>) -> i64 {
    let bot = app.create_bot(bot_spec()).await;
    let body =
        json!({"name": "Spring", "bot_id": bot["id"], "default_region": region, "max_attempts": 2});
    let response = app.post("/api/v1/campaigns", Some(&app.admin), &body).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn campaign_states_move_only_by_checked_actions(app: TestApp) {
    let id = campaign(&app, None).await;
    let app = &app;
    let act = |action: &'static str| async move {
        app.post(
            &format!("/api/v1/campaigns/{id}/{action}"),
            Some(&app.admin),
            &json!({}),
        )
        .await
    };
    let (status, code, _) = error_of(act("pause").await).await;
    assert_eq!((status, code.as_str()), (409, "conflict.state"));
    for (action, state) in [
        ("start", "running"),
        ("pause", "paused"),
        ("resume", "running"),
        ("complete", "completed"),
    ] {
        let response = act(action).await;
        assert_eq!(response.status(), 200, "{action}");
        assert_eq!(response.json::<Value>().await.unwrap()["state"], state);
    }
    assert_eq!(act("start").await.status(), 409);
    assert_eq!(act("explode").await.status(), 404);
}

async fn campaign_settings_are_validated_naming_the_field(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let cases = [
        (
            json!({"name": "A", "bot_id": bot["id"], "max_attempts": -1}),
            "max_attempts",
        ),
        (json!({"name": "A", "bot_id": 999_999}), "bot_id"),
        (
            json!({"name": "A", "bot_id": bot["id"], "abandon_target": 2.0}),
            "abandon_target",
        ),
        (
            json!({"name": "A", "bot_id": bot["id"], "default_region": "Narnia"}),
            "default_region",
        ),
        (
            json!({"name": "A", "bot_id": bot["id"], "caller_id": "12345"}),
            "caller_id",
        ),
    ];
    for (body, field) in cases {
        let (status, _, got) =
            error_of(app.post("/api/v1/campaigns", Some(&app.admin), &body).await).await;
        assert_eq!((status, got.as_deref()), (422, Some(field)), "{body}");
    }
}

async fn contacts_are_normalised_and_a_bad_row_writes_nothing(app: TestApp) {
    let id = campaign(&app, Some("US")).await;
    let path = format!("/api/v1/campaigns/{id}/contacts");
    let bad = json!([
        {"phone": "(415) 555-2671", "timezone": "America/Los_Angeles", "variables": {"name": "Ada"}},
        {"phone": "not a number", "timezone": "America/New_York"}
    ]);
    let (status, _, field) = error_of(app.post(&path, Some(&app.admin), &bad).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("[1].phone")));
    let no_zone = json!([{"phone": "+1 212 555 0123"}]);
    let (status, _, field) = error_of(app.post(&path, Some(&app.admin), &no_zone).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("[0].timezone")));
    let listed: Value = app.get(&path, Some(&app.admin)).await.json().await.unwrap();
    assert!(listed["items"].as_array().unwrap().is_empty());

    let good = json!([
        {"phone": "(415) 555-2671", "timezone": "America/Los_Angeles", "variables": {"name": "Ada"}},
        {"phone": "+44 20 7183 8750", "variables": {"name": "Grace"}}
    ]);
    let response = app.post(&path, Some(&app.admin), &good).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.json::<Value>().await.unwrap()["imported"], 2);
    let listed: Value = app
        .get(&format!("{path}?phone=%2B442071838750"), Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["timezone"], "Europe/London");
    let again = app
        .post(
            &path,
            Some(&app.admin),
            &json!([{"phone": "+14155552671", "timezone": "UTC"}]),
        )
        .await;
    assert_eq!(error_of(again).await.0, 409);
}

api_tests!(
    campaign_states_move_only_by_checked_actions,
    campaign_settings_are_validated_naming_the_field,
    contacts_are_normalised_and_a_bad_row_writes_nothing,
);
