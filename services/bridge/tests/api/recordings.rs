//! Recordings in an S3-compatible bucket.
//!
//! A real S3 server (moto, started by `scripts/test`), range requests and signed links.

use crate::fleet::{finish, leased_call, result_body};
use crate::helpers::*;
use bridge::recordings::{S3Recordings, S3Settings};
use object_store::ObjectStoreExt;
use serde_json::{Value, json};
use std::sync::Arc;

fn s3_endpoint() -> String {
    std::env::var("VOX_TEST_S3_ENDPOINT")
        .expect("VOX_TEST_S3_ENDPOINT is not set: run scripts/test, which starts an S3 test server")
}

fn settings(bucket: &str) -> S3Settings {
    S3Settings {
        bucket: bucket.into(),
        endpoint: Some(s3_endpoint()),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        region: "us-east-1".into(),
    }
}

#[tokio::test]
async fn a_recording_in_s3_streams_with_ranges_and_from_a_signed_link() {
    let bucket = format!("vox-test-{}", std::process::id());
    let created = reqwest::Client::new()
        .put(format!("{}/{bucket}", s3_endpoint()))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "create bucket: {}",
        created.status()
    );
    let audio: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let raw = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&bucket)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_endpoint(s3_endpoint())
        .with_allow_http(true)
        .build()
        .unwrap();
    raw.put(
        &object_store::path::Path::from("calls/1.wav"),
        audio.clone().into(),
    )
    .await
    .unwrap();

    let recordings = Arc::new(S3Recordings::new(settings(&bucket)).unwrap());
    let app = spawn_app_with(Backend::Sqlite, move |config| {
        config.s3_recordings = Some(recordings)
    })
    .await;
    let call_id = leased_call(&app).await;
    let mut body = result_body(call_id, "call.completed");
    body["recording"] = json!({"uri": format!("s3://{bucket}/calls/1.wav"), "format": "wav", "duration_ms": 1000, "sample_rate": 16000, "channels": 2});
    finish(&app, call_id, &body).await;

    let path = format!("/api/v1/calls/{call_id}/recording");
    let whole = app.get_range(&path, None).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap().as_ref(), &audio[..]);
    let part = app.get_range(&path, Some("bytes=1000-1999")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 1000-1999/50000");
    assert_eq!(part.bytes().await.unwrap().as_ref(), &audio[1000..2000]);
    let tail = app.get_range(&path, Some("bytes=-10")).await;
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &audio[49_990..]);

    let link: Value = app
        .get(
            &format!("/api/v1/calls/{call_id}/recording/link"),
            Some(&app.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let played = app
        .client
        .get(format!("{}{}", app.address, link["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(played.bytes().await.unwrap().len(), audio.len());

    // Another bucket's object is refused; a missing object is a 404.
    let other = crate::fleet::leased_call_in_new_campaign(&app).await;
    let mut body = result_body(other, "call.completed");
    body["recording"] = json!({"uri": format!("s3://{bucket}/calls/missing.wav"), "format": "wav", "duration_ms": 1, "sample_rate": 8000, "channels": 1});
    finish(&app, other, &body).await;
    assert_eq!(
        app.get(
            &format!("/api/v1/calls/{other}/recording"),
            Some(&app.admin)
        )
        .await
        .status(),
        404
    );
}
