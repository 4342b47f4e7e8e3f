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

#[tokio::test]
async fn the_console_is_served_at_the_root_with_its_client_side_routes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>vox</title>",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("assets/app.js"), "console.log(1)").unwrap();
    let console = dir.path().to_path_buf();
    let app = spawn_app_with(Backend::Sqlite, move |c| c.console_dir = Some(console)).await;
    let index = app.get("/", None).await;
    assert_eq!(index.status(), 200);
    // M10: the console runs its own scripts only, and may not be framed.
    let csp = index.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self' blob:;"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    assert!(index.text().await.unwrap().contains("<title>vox</title>"));
    let asset = app.get("/assets/app.js", None).await;
    assert_eq!(asset.status(), 200);
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    // A client-side route gets the index; the API's unknown paths stay JSON 404s.
    let route = app.get("/campaigns/3", None).await;
    assert_eq!(route.status(), 200);
    assert!(route.text().await.unwrap().contains("<title>vox</title>"));
    let (status, code, _) = error_of(app.get("/api/v1/nothing-here", None).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let health = app.get("/health", None).await;
    assert_eq!(health.status(), 200);
}

/// L3: a Redis that needs a password is checked with it (health stayed 503 forever), and a
/// wrong password says so without the server's words.
#[tokio::test]
async fn health_checks_a_password_protected_redis_with_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            "s3cret-pass",
        ])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server (Debian: apt-get install redis-server)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "redis-server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for (password, healthy) in [("s3cret-pass", true), ("wrong", false)] {
        let url = format!("redis://:{password}@127.0.0.1:{port}");
        let app = spawn_app_with(Backend::Sqlite, |config| config.redis_url = Some(url)).await;
        let body: Value = app.get("/health", None).await.json().await.unwrap();
        let redis_check = body["checks"]["redis"].as_str().unwrap().to_owned();
        assert_eq!(redis_check == "ok", healthy, "{body}");
        assert!(!redis_check.contains("WRONGPASS"), "{body}");
    }
    let _ = redis.kill();
    let _ = redis.wait();
}

/// M11: 2,000 clients sending their headers a byte at a time hold no slot a real request needs,
/// and each is cut off by the header deadline (10 s by default) instead of holding its socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_slow_clients_neither_delay_a_request_nor_stay_connected() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(Backend::Sqlite).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let start = Instant::now();
    let mut slow = tokio::task::JoinSet::new();
    for _ in 0..2_000 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(b"G").await.unwrap();
        slow.spawn(async move {
            // One more byte after 5 s: trickling does not extend the deadline.
            tokio::time::sleep(Duration::from_secs(5)).await;
            let _ = stream.write_all(b"E").await;
            let mut buffer = [0u8; 256];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return start.elapsed(),
                    Ok(_) => continue,
                }
            }
        });
    }
    let asked = Instant::now();
    let response = app.get("/health", None).await;
    let took = asked.elapsed();
    assert_eq!(response.status(), 200);
    assert!(took < Duration::from_secs(1), "GET /health took {took:?}");
    let mut closed = 0;
    while let Some(after) = tokio::time::timeout(Duration::from_secs(40), slow.join_next())
        .await
        .expect("every slow client is cut off")
    {
        let after = after.unwrap();
        assert!(after < Duration::from_secs(30), "closed after {after:?}");
        closed += 1;
    }
    assert_eq!(closed, 2_000);
}
