//! Nothing lost: results wait in the outbox while the Backend is down, survive a worker restart.
//!
//! And arrive once; a drain finishes the call in progress.

use super::caller::{self, Plan};
use super::support::*;
use contracts::attach::MediaProtocol;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_waits_out_a_backend_outage_and_a_worker_restart_and_arrives_once() {
    let db = store::testing::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    let outbox = dir.path().join("outbox");
    // The Backend runs on a port we can bring it back on.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = bridge::App::build(
        {
            let mut c = bridge::BridgeConfig::new(
                [127, 0, 0, 1].into(),
                0,
                secrecy::SecretString::from("jwt-secret-for-tests-0123456789"),
                secrecy::SecretString::from(SECRET),
            );
            c.crm_interval = None;
            c.recordings_dir = Some(recordings.clone());
            c
        },
        db.store.clone(),
    )
    .await
    .unwrap();
    let port = app.port();
    let bridge_url = format!("http://127.0.0.1:{port}");
    let backend_task = tokio::spawn(app.run_until_stopped(async {
        let _ = stop_rx.await;
    }));

    let mut config = worker_config(&bridge_url, outbox.clone(), &recordings, 1);
    config.drain_timeout = Duration::from_secs(2);
    let mut worker = start_worker(config).await;
    let call_id = answered_call(&db.store, flow_bot("Hello.")).await;
    let accepted = attach_ok(&worker.url, call_id, MediaProtocol::Exotel).await;
    // Once the worker has fetched the runtime config (the call is in progress), the Backend goes
    // down mid-call.
    let media_url = accepted.media_url.clone();
    let call = tokio::spawn(async move {
        let mut carrier = caller::Exotel::default();
        caller::drive(
            &media_url,
            &mut carrier,
            &[],
            Plan::Press('1'),
            Duration::from_secs(60),
        )
        .await
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db.store.call(call_id).await.unwrap().state != contracts::CallState::InProgress {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never fetched the call's runtime config"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_tx.send(()).unwrap();
    backend_task.await.unwrap().unwrap();
    call.await.unwrap();

    // The result is in the outbox; the worker stops (drain) with it undelivered.
    let fleet_outbox = fleet::Outbox::open(&outbox).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while fleet_outbox.pending().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the result never reached the outbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.stop.take().unwrap().send(()).unwrap();
    worker.done.await.unwrap().unwrap();
    assert_eq!(
        fleet_outbox.pending(),
        vec![call_id],
        "kept across the stop"
    );
    assert!(db.store.call(call_id).await.unwrap().result.is_none());

    // The Backend comes back on the same port; a new worker process delivers the leftover.
    let bridge_url = start_bridge(db.store.clone(), port, &recordings).await;
    let restarted = start_worker(worker_config(&bridge_url, outbox.clone(), &recordings, 1)).await;
    let result = result_of(&db.store, call_id, Duration::from_secs(30)).await;
    assert_eq!(result.disposition.as_deref(), Some("booked"));
    let uri = result.recording.unwrap().uri;
    assert!(
        recordings
            .join(uri.strip_prefix("file://").unwrap())
            .is_file()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !fleet_outbox.pending().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox entry was not removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Delivered once: the call moved to its end state once and holds exactly this result.
    let stored = db.store.call(call_id).await.unwrap();
    assert_eq!(stored.state, contracts::CallState::Completed);
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_refuses_new_calls_finishes_the_one_in_progress_and_delivers_it() {
    let backend = backend().await;
    let mut worker = worker(&backend, 2).await;
    let call_id = answered_call(
        &backend.store,
        flow_bot("Hello, this is the vox test line."),
    )
    .await;
    let accepted = attach_ok(&worker.url, call_id, MediaProtocol::Vox).await;
    let media_url = accepted.media_url.clone();
    let call = tokio::spawn(async move {
        let mut client = caller::VoxClient::default();
        caller::drive(
            &media_url,
            &mut client,
            &[],
            Plan::Press('1'),
            Duration::from_secs(60),
        )
        .await
    });
    // Once the call runs, the drain starts.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while worker.shared.slots.counts().busy == 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.stop.take().unwrap().send(()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let health: contracts::health::WorkerHealth =
            reqwest::get(format!("{}/health", worker.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        if health.draining {
            assert_eq!(health.fleet_available, 0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never said draining"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body =
        serde_json::to_value(attach_request(contracts::CallId(999), MediaProtocol::Vox)).unwrap();
    let (status, _) = attach(&worker.url, &body, Some(SECRET)).await;
    assert_eq!(status, 429, "a draining worker takes no new call");
    let log = call.await.unwrap();
    assert!(log.closed_by_worker, "the call ran to its end");
    worker.done.await.unwrap().unwrap();
    let result = result_of(&backend.store, call_id, Duration::from_secs(5)).await;
    assert_eq!(result.disposition.as_deref(), Some("booked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_is_uploaded_to_an_s3_compatible_bucket() {
    let endpoint = std::env::var("VOX_TEST_S3_ENDPOINT").expect(
        "VOX_TEST_S3_ENDPOINT is not set: run scripts/test, which starts an S3 test server",
    );
    let bucket = format!("vox-fleet-{}", std::process::id());
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "create bucket: {}",
        created.status()
    );
    let backend = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = worker_config(
        &backend.url,
        dir.path().join("outbox"),
        &backend.recordings,
        1,
    );
    config.recordings = std::sync::Arc::new(
        fleet::RecordingStore::s3(fleet::S3Settings {
            bucket: bucket.clone(),
            endpoint: Some(endpoint.clone()),
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            region: "us-east-1".into(),
        })
        .unwrap(),
    );
    let worker = start_worker(config).await;
    let call_id = answered_call(&backend.store, flow_bot("Hello.")).await;
    let accepted = attach_ok(&worker.url, call_id, MediaProtocol::Vox).await;
    let mut client = caller::VoxClient::default();
    caller::drive(
        &accepted.media_url,
        &mut client,
        &[],
        Plan::Press('1'),
        Duration::from_secs(60),
    )
    .await;
    let result = result_of(&backend.store, call_id, Duration::from_secs(30)).await;
    let uri = result.recording.expect("a recording").uri;
    let key = uri
        .strip_prefix(&format!("s3://{bucket}/"))
        .unwrap_or_else(|| panic!("{uri} is in the bucket"));
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&bucket)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .build()
        .unwrap();
    let object = object_store::ObjectStoreExt::get(&s3, &object_store::path::Path::from(key))
        .await
        .expect("the recording is in the bucket");
    let wav = audio::wav::decode(&object.bytes().await.unwrap()).unwrap();
    assert_eq!((wav.channels, wav.sample_rate_hz), (2, 16_000));
    assert!(wav.duration_ms() > 1_000);
}

#[tokio::test]
async fn a_worker_heartbeats_its_slots_into_the_registry_and_leaves_it_when_it_stops() {
    let backend = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let registry: std::sync::Arc<dyn registry::Registry> =
        std::sync::Arc::new(registry::InProcess::new());
    let mut config = worker_config(
        &backend.url,
        dir.path().join("outbox"),
        &backend.recordings,
        3,
    );
    config.registry = Some(fleet::RegistryLink {
        registry: registry.clone(),
        host: "host-a".into(),
        every: Duration::from_millis(50),
    });
    let mut worker = start_worker(config).await;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while registry.capacity(now()).await.unwrap().workers == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let capacity = registry.capacity(now()).await.unwrap();
    assert_eq!((capacity.slots, capacity.free), (3, 3));
    // A reservation through the registry goes to this worker's own URL.
    let slot = registry
        .reserve("r1", &registry::Claimant::default(), 5_000, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slot.url, worker.url);
    worker.stop.take().unwrap().send(()).unwrap();
    worker.done.await.unwrap().unwrap();
    assert_eq!(
        registry.capacity(now()).await.unwrap().workers,
        0,
        "it left on stopping"
    );
}
