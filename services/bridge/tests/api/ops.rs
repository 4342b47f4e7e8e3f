//! The do-not-call list.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn numbers_are_added_checked_and_removed_from_the_dnc_list(app: TestApp) {
    let added = app
        .post(
            "/api/v1/dnc",
            Some(&app.admin),
            &json!({"phone": "+44 20 7183 8750", "reason": "complaint"}),
        )
        .await;
    assert_eq!(added.status(), 201);
    let check: Value = app
        .get("/api/v1/dnc/+442071838750", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(check["listed"], true);
    let bad = app
        .post("/api/v1/dnc", Some(&app.admin), &json!({"phone": "12"}))
        .await;
    assert_eq!(error_of(bad).await.2.as_deref(), Some("phone"));
    let removed = app
        .request(
            Method::DELETE,
            "/api/v1/dnc/+442071838750",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
    let gone = app
        .request(
            Method::DELETE,
            "/api/v1/dnc/+442071838750",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(gone.status(), 404);
}

api_tests!(numbers_are_added_checked_and_removed_from_the_dnc_list);
