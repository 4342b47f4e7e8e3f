//! The capacity registry with the real programs.
//!
//! Debian's redis-server, `vox bridge`, two `vox core` workers and `vox sim`, all given only
//! `REDIS_URL` (no fleet saved, no `FLEET_URLS`) — the workers register, test calls and inbound
//! callers are placed through reserved slots, a full fleet is refused, and a killed worker leaves
//! the registry within its TTL.

use crate::support::calls::*;
use crate::support::platform::*;
use registry::testing::RedisServer;
use serde_json::{Value, json};

/// The Backend's fleet status (its `registry` part).
async fn registry_status(platform: &Platform, token: &str) -> Value {
    let status: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/fleet/status", platform.bridge_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    status["registry"].clone()
}

/// Polls the registry's view until `done` holds (20 s at most).
async fn until(platform: &Platform, token: &str, what: &str, done: impl Fn(&Value) -> bool) {
    for _ in 0..200 {
        if done(&registry_status(platform, token).await) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "{what}: the registry still shows {}",
        registry_status(platform, token).await
    );
}

async fn test_call_answer(platform: &Platform, token: &str, bot: i64) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/bots/{bot}/test-call",
            platform.bridge_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_placed_through_slots_reserved_in_redis_and_a_dead_worker_leaves_it() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut platform = Platform::start_with(&[("REDIS_URL", &url)]);
    platform.tcp_worker(1, None);
    platform.tcp_worker(2, None);
    let token = sign_in(&platform).await;
    until(&platform, &token, "both workers registered", |r| {
        r["workers"] == 2 && r["free"] == 2 && r["error"].is_null()
    })
    .await;

    // No fleet is saved: the Backend finds the workers through the registry alone.
    let bot = greeter(&platform, &token, "Hello from the registry.").await;
    let (status, first) = test_call_answer(&platform, &token, bot).await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = test_call_answer(&platform, &token, bot).await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(
        first["worker_id"], second["worker_id"],
        "two calls were given the same one-call worker"
    );
    // Both slots are held (reserved, then counted by the workers' heartbeats): a third is refused
    // by the registry, without a worker being asked: busy, so 429 with Retry-After.
    let (status, third) = test_call_answer(&platform, &token, bot).await;
    assert_eq!(status, 429, "{third}");
    assert_eq!(
        third["error"]["code"], "fleet.capacity_exhausted",
        "{third}"
    );
    assert!(
        third["error"]["message"]
            .as_str()
            .unwrap()
            .contains("capacity registry"),
        "{third}"
    );

    let (line, audio) = talk(first["media_url"].as_str().unwrap()).await;
    assert_eq!(line, "Hello from the registry.");
    assert!(audio > 0);
    let (line, _) = talk(second["media_url"].as_str().unwrap()).await;
    assert_eq!(line, "Hello from the registry.");
    until(&platform, &token, "both calls over", |r| r["free"] == 2).await;

    // Inbound callers from `vox sim`, which is given only the registry.
    let number = "+442071838750";
    let routed = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/inbound-numbers/{}",
            platform.bridge_url(),
            number
        ))
        .bearer_auth(&token)
        .json(&json!({ "bot_id": bot }))
        .send()
        .await
        .unwrap();
    assert_eq!(routed.status(), 200);
    let population = platform.path("callers.json");
    std::fs::write(&population, r#"{"script": [], "hang_up_after_secs": 2}"#).unwrap();
    let output = platform
        .command()
        .args([
            "sim",
            "--number",
            number,
            "--calls",
            "4",
            "--concurrency",
            "2",
        ])
        .arg("--population")
        .arg(&population)
        .env("VOXBRIDGE_URL", platform.bridge_url())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("4/4 calls over: 4 talked, 0 failed"),
        "{printed}"
    );

    // A worker that dies stops heartbeating and is gone within its TTL (three 2-second beats).
    platform.kill(2);
    until(&platform, &token, "the killed worker gone", |r| {
        r["workers"] == 1 && r["free"] == 1
    })
    .await;
    let (status, call) = test_call_answer(&platform, &token, bot).await;
    assert_eq!(status, 201, "{call}");
    assert_eq!(call["worker_id"], "voxcore-1");
}
