//! The do-not-call list.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn numbers_are_added_checked_and_removed_from_the_dnc_list(app: TestApp) {
    let added = app
        .post(
            "/api/v1/dnc",
            Some(&app.admin),
            &json!({"phone": "+442071838750", "reason": "complaint"}),
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

async fn a_dnc_csv_is_imported_with_a_report_and_existing_entries_kept(app: TestApp) {
    app.post(
        "/api/v1/dnc",
        Some(&app.admin),
        &json!({"phone": "+14155550100", "reason": "complaint"}),
    )
    .await;
    let csv =
        "Phone,Reason\n(415) 555-0100,again\n(415) 555-0101,asked\nnope,x\n(415) 555-0101,twice\n";
    let response = app
        .post_csv("/api/v1/dnc/import?default_region=US", csv)
        .await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["rows"].as_u64(), report["imported"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(
        report["duplicates"], 2,
        "one already listed, one repeated in the file"
    );
    assert_eq!(report["errors"][0]["line"], 4);
    let check: Value = app
        .get("/api/v1/dnc/+14155550101", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(check["listed"], true);
    let kept: Value = app
        .get("/api/v1/dnc?limit=10", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    let first = kept["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["phone"] == "+14155550100")
        .unwrap();
    assert_eq!(
        first["reason"], "complaint",
        "an existing entry keeps its reason"
    );
}

api_tests!(
    numbers_are_added_checked_and_removed_from_the_dnc_list,
    a_dnc_csv_is_imported_with_a_report_and_existing_entries_kept,
);
