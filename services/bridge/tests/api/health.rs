//! `GET /health`.

use crate::helpers::*;
use serde_json::Value;

async fn health_is_ok_when_the_database_answers(app: TestApp) {
    let response = app.get("/health", None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"], "ok");
}

async fn unknown_routes_answer_a_json_404(app: TestApp) {
    let (status, code, _) = error_of(app.get("/api/v1/nothing-here", Some(&app.admin)).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let (status, _, field) = error_of(app.get("/api/v1/bots/abc", Some(&app.admin)).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("path")));
}

api_tests!(
    health_is_ok_when_the_database_answers,
    unknown_routes_answer_a_json_404
);

#[tokio::test]
async fn health_is_503_naming_redis_when_configured_redis_is_down() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.redis_url = Some(format!("redis://127.0.0.1:{port}"))
    })
    .await;
    let response = app.get("/health", None).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "down");
    assert!(
        body["checks"]["redis"]
            .as_str()
            .unwrap()
            .starts_with("down"),
        "{body}"
    );
    assert_eq!(body["checks"]["database"], "ok");
}
