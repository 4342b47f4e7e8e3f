//! Attach (contract 4), media tokens, health and the host's fleet aggregate.
//!
//! Refusals change nothing.

use super::support::*;
use contracts::CallId;
use contracts::attach::MediaProtocol;
use contracts::health::{FleetHealth, WorkerHealth};
use fleet::Listen;
use serde_json::json;

async fn health(url: &str) -> WorkerHealth {
    reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn attach_needs_the_fleet_secret_and_a_wrong_one_reserves_nothing() {
    let backend = backend().await;
    let worker = worker(&backend, 1).await;
    let body = serde_json::to_value(attach_request(CallId(1), MediaProtocol::Vox)).unwrap();
    let (status, error) = attach(&worker.url, &body, None).await;
    assert_eq!(status, 401, "{error}");
    let (status, error) = attach(&worker.url, &body, Some("fleet-secret-for-tests-0124")).await;
    assert_eq!(status, 401);
    assert_eq!(error["code"], "auth.fleet_secret");
    let health = health(&worker.url).await;
    assert_eq!((health.worker_calls, health.fleet_available), (0, 1));
}

#[tokio::test]
async fn a_malformed_attach_names_the_field_and_reserves_nothing() {
    let backend = backend().await;
    let worker = worker(&backend, 1).await;
    let mut body = serde_json::to_value(attach_request(CallId(1), MediaProtocol::Vox)).unwrap();
    body["media_protocol"] = json!("carrier-pigeon");
    let (status, error) = attach(&worker.url, &body, Some(SECRET)).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], "validation.invalid");
    body.as_object_mut().unwrap().remove("call_id");
    body["media_protocol"] = json!("vox");
    let (status, error) = attach(&worker.url, &body, Some(SECRET)).await;
    assert_eq!(status, 400);
    assert_eq!(error["field"], "call_id", "{error}");
    assert_eq!(health(&worker.url).await.fleet_available, 1);
}

#[tokio::test]
async fn attach_for_a_call_the_backend_does_not_know_is_refused_with_404() {
    let backend = backend().await;
    let worker = worker(&backend, 1).await;
    let body =
        serde_json::to_value(attach_request(CallId(424_242), MediaProtocol::Twilio)).unwrap();
    let (status, error) = attach(&worker.url, &body, Some(SECRET)).await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(
        (error["code"].as_str(), error["field"].as_str()),
        (Some("not_found.call"), Some("call_id"))
    );
    assert_eq!(
        health(&worker.url).await.fleet_available,
        1,
        "nothing was reserved"
    );
}

#[tokio::test]
async fn a_full_worker_answers_429_and_health_counts_the_reservation() {
    let backend = backend().await;
    let worker = worker(&backend, 1).await;
    let call_id = answered_call(&backend.store, silent_bot()).await;
    let accepted = attach_ok(&worker.url, call_id, MediaProtocol::Twilio).await;
    assert_eq!(accepted.worker_id, "worker-test");
    assert!(
        accepted.media_url.contains("/ws/twilio/"),
        "{}",
        accepted.media_url
    );
    assert!(accepted.expires_at > chrono::Utc::now());
    let body = serde_json::to_value(attach_request(CallId(2), MediaProtocol::Twilio)).unwrap();
    let (status, error) = attach(&worker.url, &body, Some(SECRET)).await;
    assert_eq!(status, 429);
    assert_eq!(error["code"], "fleet.capacity_exhausted");
    let health = health(&worker.url).await;
    assert_eq!(
        (
            health.worker_calls,
            health.worker_max,
            health.fleet_available
        ),
        (1, 1, 0)
    );
    assert!(!health.draining);
}

#[tokio::test]
async fn media_tokens_are_refused_when_unknown_reused_or_for_another_protocol() {
    let backend = backend().await;
    let worker = worker(&backend, 2).await;
    let ws = worker.url.replace("http://", "ws://");
    let unknown =
        tokio_tungstenite::connect_async(format!("{ws}/ws/twilio/0123456789abcdef")).await;
    assert!(
        unknown.is_err(),
        "an unknown token is refused before the upgrade"
    );
    let call_id = answered_call(&backend.store, silent_bot()).await;
    let accepted = attach_ok(&worker.url, call_id, MediaProtocol::Twilio).await;
    let wrong = accepted.media_url.replace("/ws/twilio/", "/ws/vonage/");
    assert!(tokio_tungstenite::connect_async(&wrong).await.is_err());
    assert_eq!(
        health(&worker.url).await.worker_calls,
        1,
        "a refused connect leaves the reservation"
    );
    let (socket, _) = tokio_tungstenite::connect_async(&accepted.media_url)
        .await
        .unwrap();
    assert!(
        tokio_tungstenite::connect_async(&accepted.media_url)
            .await
            .is_err(),
        "a token works once"
    );
    drop(socket);
}

#[tokio::test]
async fn fleet_health_aggregates_unix_socket_workers_and_reports_the_one_that_is_down() {
    let backend = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let socket = |i: u32| dir.path().join(format!("voxcore_{i}.sock"));
    let mut workers = Vec::new();
    for i in 1..=2 {
        let mut config = worker_config(
            &backend.url,
            dir.path().join(format!("outbox{i}")),
            &backend.recordings,
            2,
        );
        config.listen = Listen::Unix(socket(i));
        config.worker_id = format!("w{i}");
        config.fleet_endpoints = vec![
            format!("{}/voxcore_*.sock", dir.path().display()),
            socket(3).display().to_string(),
        ];
        workers.push(start_worker(config).await);
    }
    let stream = tokio::net::UnixStream::connect(socket(1)).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get("/health/fleet")
        .header("host", "localhost")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    use http_body_util::BodyExt;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let fleet: FleetHealth = serde_json::from_slice(&body).unwrap();
    assert_eq!((fleet.workers_up, fleet.workers_down), (2, 1), "{fleet:#?}");
    assert_eq!((fleet.worker_max, fleet.fleet_available), (4, 4));
    let down = fleet.workers.iter().find(|w| w.health.is_none()).unwrap();
    assert!(down.endpoint.ends_with("voxcore_3.sock") && down.error.is_some());
}

#[tokio::test]
async fn a_reservation_whose_media_never_connects_expires_and_the_call_record_says_why() {
    let backend = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = worker_config(
        &backend.url,
        dir.path().join("outbox"),
        &backend.recordings,
        1,
    );
    config.attach_ttl = std::time::Duration::from_millis(300);
    let worker = start_worker(config).await;
    let call_id = answered_call(&backend.store, silent_bot()).await;
    let accepted = attach_ok(&worker.url, call_id, MediaProtocol::Vox).await;
    let result = result_of(&backend.store, call_id, std::time::Duration::from_secs(10)).await;
    assert_eq!(
        result.outcome,
        contracts::CallOutcomeCode::FleetAttachFailed
    );
    assert_eq!(
        health(&worker.url).await.fleet_available,
        1,
        "the slot is free again"
    );
    assert!(
        tokio_tungstenite::connect_async(&accepted.media_url)
            .await
            .is_err(),
        "the expired token is refused"
    );
}

/// M6: a peer that asks for the media socket and is gone before the upgrade completes frees its
/// slot, and the call record says why (the slot used to stay busy forever, with no result).
#[tokio::test]
async fn a_media_upgrade_the_peer_abandons_frees_the_slot_and_reports_the_call() {
    use tokio::io::AsyncWriteExt;
    let backend = backend().await;
    let worker = worker(&backend, 1).await;
    let call_id = answered_call(&backend.store, silent_bot()).await;
    let accepted = attach_ok(&worker.url, call_id, MediaProtocol::Vox).await;
    let url = reqwest::Url::parse(&accepted.media_url).unwrap();
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {address}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        url.path()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Gone at once: no read of the 101, the connection reset.
    stream.set_zero_linger().unwrap();
    drop(stream);
    let result = result_of(&backend.store, call_id, std::time::Duration::from_secs(10)).await;
    assert_eq!(
        result.outcome,
        contracts::CallOutcomeCode::FleetAttachFailed
    );
    assert!(
        result
            .transcript
            .iter()
            .any(|t| t.text.contains("upgrade failed")),
        "{:?}",
        result.transcript
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while health(&worker.url).await.worker_calls != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot stayed busy"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// M4: an outbox that cannot be written (a full disk) no longer drops results: the result goes
/// to the Backend directly, the worker reports itself down and refuses calls until the outbox
/// takes writes again.
#[tokio::test]
async fn a_worker_whose_outbox_cannot_be_written_posts_results_directly_and_takes_no_calls() {
    let backend = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let worker = start_worker(worker_config(
        &backend.url,
        outbox.clone(),
        &backend.recordings,
        2,
    ))
    .await;
    let call_id = answered_call(&backend.store, silent_bot()).await;
    let accepted = attach_ok(&worker.url, call_id, MediaProtocol::Vox).await;
    // The disk fails during the call: the outbox's place is taken by a file, every write fails.
    let aside = dir.path().join("outbox-aside");
    std::fs::rename(&outbox, &aside).unwrap();
    std::fs::write(&outbox, b"not a directory").unwrap();
    let (socket, _) = tokio_tungstenite::connect_async(&accepted.media_url)
        .await
        .unwrap();
    drop(socket);
    let result = result_of(&backend.store, call_id, std::time::Duration::from_secs(20)).await;
    assert_eq!(result.call_id, call_id);
    let state = health(&worker.url).await;
    assert_eq!(state.status, contracts::health::HealthStatus::Down);
    assert_eq!(state.fleet_available, 0);
    let next = answered_call(&backend.store, silent_bot()).await;
    let body = serde_json::to_value(attach_request(next, MediaProtocol::Vox)).unwrap();
    let (status, refusal) = attach(&worker.url, &body, Some(SECRET)).await;
    assert_eq!(
        (status, refusal["code"].as_str()),
        (503, Some("fleet.outbox_unwritable"))
    );
    // The disk is back: the worker takes calls again.
    std::fs::remove_file(&outbox).unwrap();
    std::fs::rename(&aside, &outbox).unwrap();
    let (status, _) = attach(&worker.url, &body, Some(SECRET)).await;
    assert_eq!(status, 202);
    assert_eq!(
        health(&worker.url).await.status,
        contracts::health::HealthStatus::Ok
    );
}

/// M5: a worker that cannot reach the Backend refuses the attach, reports no free slot (so a
/// dialler dials nobody it could not attach), and takes calls again once the Backend answers.
#[tokio::test]
async fn a_worker_that_cannot_reach_the_backend_offers_no_slot_until_it_answers() {
    let backend = backend().await;
    // A port nothing listens on yet: where the Backend comes back.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = worker_config(
        &format!("http://127.0.0.1:{port}"),
        dir.path().join("outbox"),
        &backend.recordings,
        2,
    );
    let worker = start_worker(config).await;
    assert_eq!(health(&worker.url).await.fleet_available, 2);
    let call_id = answered_call(&backend.store, silent_bot()).await;
    let body = serde_json::to_value(attach_request(call_id, MediaProtocol::Vox)).unwrap();
    let (status, refused) = attach(&worker.url, &body, Some(SECRET)).await;
    assert_eq!(status, 502, "{refused}");
    let down = health(&worker.url).await;
    assert_eq!(down.status, contracts::health::HealthStatus::Down);
    assert_eq!(down.fleet_available, 0);
    // The Backend is back on its port: within a few probes the worker offers its slots again.
    let _bridge = RunningBridge::start(backend.store.clone(), port, &backend.recordings).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while health(&worker.url).await.fleet_available != 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never saw the Backend back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    attach_ok(&worker.url, call_id, MediaProtocol::Vox).await;
}
