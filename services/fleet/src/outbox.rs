//! Nothing lost: each call's result and recording go to a local outbox before delivery.
//!
//! They are then uploaded and posted with backoff until accepted, across restarts.
//!
//! On disk an entry is a directory `{outbox}/{call_id}/` holding `result.json` and, until it is
//! uploaded, `recording.wav`. It is written under a temporary name, synced, and renamed into place,
//! so a crash leaves either a whole entry or none. Delivery uploads the recording first (the key is
//! fixed when the entry is written, so a repeated upload overwrites the same object), then posts
//! the result (the Backend stores it once per call id), then removes the entry: at-least-once
//! sending plus the Backend's idempotency gives exactly-once records. A result the Backend
//! refuses for good (a 4xx other than 401/408/429) moves to `{outbox}/dead/` with the reason.

use crate::client::{BridgeClient, DeliveryError};
use chrono::{DateTime, Utc};
use contracts::CallId;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Where recordings are kept.
#[derive(Debug)]
pub enum RecordingStore {
    /// A local directory (`OBJECT_STORE_URL=file://…`); references are `file://{key}`, relative to it.
    Local { root: PathBuf },
    /// An S3-compatible bucket; references are `s3://{bucket}/{key}`.
    S3 {
        store: Arc<dyn object_store::ObjectStore>,
        bucket: String,
    },
}

/// How to reach an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

impl RecordingStore {
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::Local { root: root.into() }
    }

    pub fn s3(settings: S3Settings) -> Result<Self, object_store::Error> {
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        Ok(Self::S3 {
            store: Arc::new(builder.build()?),
            bucket: settings.bucket,
        })
    }

    /// The reference a recording stored under `key` will have.
    pub fn uri(&self, key: &str) -> String {
        match self {
            Self::Local { .. } => format!("file://{key}"),
            Self::S3 { bucket, .. } => format!("s3://{bucket}/{key}"),
        }
    }

    /// Stores the file at `path` under `key` (replacing what is there), streamed: a recording
    /// of any length is never read into memory whole.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), String> {
        match self {
            Self::Local { root } => {
                let target = root.join(key);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| format!("creating {}: {e}", parent.display()))?;
                }
                let tmp = target.with_extension("partial");
                let copied = async {
                    tokio::fs::copy(path, &tmp).await?;
                    tokio::fs::File::open(&tmp).await?.sync_all().await?;
                    tokio::fs::rename(&tmp, &target).await
                };
                copied
                    .await
                    .map_err(|e| format!("writing {}: {e}", target.display()))
            }
            Self::S3 { store, .. } => {
                use tokio::io::AsyncWriteExt;
                let mut file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| format!("opening {}: {e}", path.display()))?;
                // Multipart past the buffer's capacity, one PUT below it.
                let mut upload = object_store::buffered::BufWriter::new(
                    store.clone(),
                    object_store::path::Path::from(key),
                );
                let sent = async {
                    tokio::io::copy(&mut file, &mut upload).await?;
                    upload.shutdown().await
                };
                match sent.await {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        let _ = upload.abort().await;
                        Err(format!("uploading {key}: {e}"))
                    }
                }
            }
        }
    }
}

async fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let tmp = path.with_extension("partial");
    let mut file = tokio::fs::File::create(&tmp).await?;
    file.write_all(bytes).await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&tmp, path).await
}

/// A call's stereo WAV: in memory, or a finished file on the outbox's disk (a spilled
/// recording, moved into the entry).
#[derive(Debug, Clone, PartialEq)]
pub enum Wav {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// One call's package as the outbox keeps it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub call_id: CallId,
    /// The `CallResult` JSON document.
    pub result: Vec<u8>,
    /// The stereo WAV and the object key it goes to.
    pub recording: Option<(String, Wav)>,
}

/// The durable outbox of one worker and its delivery loop.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
    wake: Arc<Notify>,
}

const RESULT: &str = "result.json";
const RECORDING: &str = "recording.wav";
const KEY: &str = "recording.key";
/// The folder of calls this worker took and has no package for yet: one file per call, named by
/// its id, holding the instant it was taken (RFC 3339).
const LIVE: &str = "live";
/// The folder of recordings being written while their calls run (`call::spool`).
const SPOOL: &str = "spool";

impl Outbox {
    /// Opens (creating) the outbox directory.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("dead"))?;
        std::fs::create_dir_all(dir.join(LIVE))?;
        std::fs::create_dir_all(dir.join(SPOOL))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            wake: Arc::new(Notify::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the outbox takes writes now (a probe file written and removed).
    pub async fn writable(&self) -> bool {
        let probe = self.dir.join(".probe");
        let written = write_synced(&probe, b"probe").await.is_ok();
        let _ = tokio::fs::remove_file(&probe).await;
        written
    }

    /// Writes an entry durably, then wakes the delivery loop.
    pub async fn put(&self, entry: Entry) -> std::io::Result<()> {
        let name = entry.call_id.0.to_string();
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        tokio::fs::create_dir_all(&tmp).await?;
        if let Some((key, wav)) = &entry.recording {
            match wav {
                Wav::Bytes(bytes) => write_synced(&tmp.join(RECORDING), bytes).await?,
                // Synced when it was finished; the same disk, so a rename.
                Wav::File(path) => tokio::fs::rename(path, tmp.join(RECORDING)).await?,
            }
            write_synced(&tmp.join(KEY), key.as_bytes()).await?;
        }
        write_synced(&tmp.join(RESULT), &entry.result).await?;
        let final_dir = self.dir.join(&name);
        let _ = tokio::fs::remove_dir_all(&final_dir).await;
        tokio::fs::rename(&tmp, &final_dir).await?;
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        self.end(entry.call_id).await;
        self.wake.notify_one();
        Ok(())
    }

    /// Where the recording of a running call is spilled.
    pub fn spool_path(&self, call_id: CallId) -> PathBuf {
        self.dir.join(SPOOL).join(format!("{}.wav", call_id.0))
    }

    /// Notes durably that this worker took `call_id` at `at`, before it says so to the dialler:
    /// if the worker dies during the call, its next run reports the call (see
    /// [`Outbox::interrupted`]) instead of leaving it live for ever.
    pub async fn begin(&self, call_id: CallId, at: DateTime<Utc>) -> std::io::Result<()> {
        let path = self.dir.join(LIVE).join(call_id.0.to_string());
        write_synced(&path, at.to_rfc3339().as_bytes()).await
    }

    /// Forgets the note of [`Outbox::begin`] (the call's package is kept, or was delivered)
    /// and any spilled recording the package did not take.
    pub async fn end(&self, call_id: CallId) {
        let path = self.dir.join(LIVE).join(call_id.0.to_string());
        let _ = tokio::fs::remove_file(path).await;
        let _ = tokio::fs::remove_file(self.spool_path(call_id)).await;
    }

    /// The calls an earlier run of this worker took and never packaged (it was killed or
    /// crashed during them), with when each was taken; a call whose package is in the outbox is
    /// not one of them.
    pub fn interrupted(&self) -> Vec<(CallId, DateTime<Utc>)> {
        let pending = self.pending();
        let mut calls: Vec<(CallId, DateTime<Utc>)> = std::fs::read_dir(self.dir.join(LIVE))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let id = CallId(e.file_name().to_str()?.parse::<i64>().ok()?);
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let at = DateTime::parse_from_rfc3339(text.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|_| Utc::now());
                Some((id, at))
            })
            .collect();
        for (id, _) in calls.iter().filter(|(id, _)| pending.contains(id)) {
            let _ = std::fs::remove_file(self.dir.join(LIVE).join(id.0.to_string()));
        }
        calls.retain(|(id, _)| !pending.contains(id));
        calls.sort();
        calls
    }

    /// Call ids waiting for delivery.
    pub fn pending(&self) -> Vec<CallId> {
        let mut ids: Vec<CallId> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i64>().ok())
            .map(CallId)
            .collect();
        ids.sort();
        ids
    }

    /// Call ids the Backend refused for good.
    pub fn dead(&self) -> Vec<CallId> {
        std::fs::read_dir(self.dir.join("dead"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i64>().ok())
            .map(CallId)
            .collect()
    }

    /// Tries to deliver one entry.
    async fn deliver(
        &self,
        call_id: CallId,
        client: &BridgeClient,
        recordings: &RecordingStore,
    ) -> Result<(), DeliveryError> {
        let dir = self.dir.join(call_id.0.to_string());
        let transient = |e: std::io::Error| DeliveryError::Transient(e.to_string());
        let wav = dir.join(RECORDING);
        if tokio::fs::try_exists(&wav).await.unwrap_or(false) {
            let key = tokio::fs::read_to_string(dir.join(KEY))
                .await
                .map_err(transient)?;
            recordings
                .put_file(key.trim(), &wav)
                .await
                .map_err(DeliveryError::Transient)?;
            tokio::fs::remove_file(&wav).await.map_err(transient)?;
        }
        let document = tokio::fs::read(dir.join(RESULT)).await.map_err(transient)?;
        client.post_result(call_id, &document).await?;
        tokio::fs::remove_dir_all(&dir).await.map_err(transient)?;
        Ok(())
    }

    fn bury(&self, call_id: CallId, reason: &str) {
        let name = call_id.0.to_string();
        let from = self.dir.join(&name);
        let to = self.dir.join("dead").join(&name);
        let _ = std::fs::remove_dir_all(&to);
        if std::fs::rename(&from, &to).is_ok() {
            let _ = std::fs::write(to.join("error.txt"), reason);
        }
    }

    /// One pass: delivers every entry that is due. Returns how many remain.
    pub async fn flush(
        &self,
        client: &BridgeClient,
        recordings: &RecordingStore,
        backoff: &mut HashMap<CallId, (u32, Instant)>,
    ) -> usize {
        let now = Instant::now();
        let mut remaining = 0;
        for call_id in self.pending() {
            if backoff.get(&call_id).is_some_and(|(_, due)| *due > now) {
                remaining += 1;
                continue;
            }
            match self.deliver(call_id, client, recordings).await {
                Ok(()) => {
                    backoff.remove(&call_id);
                    tracing::info!(call_id = call_id.0, "call result delivered");
                }
                Err(DeliveryError::Permanent(reason)) => {
                    backoff.remove(&call_id);
                    tracing::error!(call_id = call_id.0, %reason, "call result refused; kept in outbox/dead");
                    self.bury(call_id, &reason);
                }
                Err(DeliveryError::Transient(reason)) => {
                    let attempts = backoff.get(&call_id).map_or(0, |(n, _)| *n) + 1;
                    let delay = retry_delay(attempts, call_id);
                    tracing::warn!(call_id = call_id.0, attempts, ?delay, %reason, "call result delivery failed; will retry");
                    backoff.insert(call_id, (attempts, Instant::now() + delay));
                    remaining += 1;
                }
            }
        }
        remaining
    }

    /// Delivers until `stop` resolves, waking on new entries and on the earliest retry.
    pub async fn run(
        self,
        client: BridgeClient,
        recordings: Arc<RecordingStore>,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let mut backoff = HashMap::new();
        tokio::pin!(stop);
        loop {
            self.flush(&client, &recordings, &mut backoff).await;
            let next = backoff
                .values()
                .map(|(_, due)| *due)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(30));
            tokio::select! {
                _ = &mut stop => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep_until(next) => {}
            }
        }
    }
}

/// 0.5 s doubling to a minute, with a per-call spread so retries do not arrive together.
fn retry_delay(attempts: u32, call_id: CallId) -> Duration {
    let base = 500u64.saturating_mul(1 << attempts.min(7)).min(60_000);
    let spread = (call_id.0.unsigned_abs() * 7919 + u64::from(attempts) * 104_729) % (base / 4 + 1);
    Duration::from_millis(base + spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_to_a_minute_and_differ_between_calls() {
        let first = retry_delay(1, CallId(1));
        assert!(first >= Duration::from_secs(1) && first < Duration::from_millis(1_300));
        assert!(retry_delay(20, CallId(1)) <= Duration::from_secs(75));
        assert!(retry_delay(20, CallId(1)) >= Duration::from_secs(60));
        assert_ne!(retry_delay(3, CallId(1)), retry_delay(3, CallId(2)));
    }

    #[tokio::test]
    async fn an_entry_survives_reopening_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox
            .put(Entry {
                call_id: CallId(42),
                result: b"{}".to_vec(),
                recording: Some(("calls/42.wav".into(), Wav::Bytes(vec![1, 2, 3]))),
            })
            .await
            .unwrap();
        let reopened = Outbox::open(dir.path()).unwrap();
        assert_eq!(reopened.pending(), vec![CallId(42)]);
        let kept = std::fs::read(dir.path().join("42").join(RECORDING)).unwrap();
        assert_eq!(kept, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_call_begun_and_never_packaged_is_found_interrupted_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let at = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for id in [7, 8, 9] {
            outbox.begin(CallId(id), at).await.unwrap();
        }
        // Call 8 was packaged; call 9's package is in the outbox but its note outlived it.
        let entry = |id| Entry {
            call_id: CallId(id),
            result: b"{}".to_vec(),
            recording: None,
        };
        outbox.put(entry(8)).await.unwrap();
        outbox.put(entry(9)).await.unwrap();
        outbox.begin(CallId(9), at).await.unwrap();
        // The worker dies here; the next run opens the same folder.
        let reopened = Outbox::open(dir.path()).unwrap();
        assert_eq!(reopened.interrupted(), vec![(CallId(7), at)]);
        assert_eq!(reopened.pending(), vec![CallId(8), CallId(9)]);
        // Reported once: packaging the lost call's result forgets its note.
        reopened.put(entry(7)).await.unwrap();
        assert_eq!(reopened.interrupted(), Vec::new());
    }
}
