//! Stale-call cleanup: ends calls stuck in a live state past their deadline.
//!
//! It runs in-process every minute and as `vox cleanup` for a systemd timer.

use std::sync::Arc;
use std::time::Duration;
use store::{ReapPolicy, ReapReport, Store};

/// How often the in-process job runs.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// One pass: reaps and logs what it reaped.
pub async fn run_once(
    store: &dyn Store,
    in_progress_timeout: Duration,
) -> store::Result<ReapReport> {
    let report = store
        .reap_stale_calls(ReapPolicy::standard(
            chrono::Utc::now(),
            in_progress_timeout,
        ))
        .await?;
    if report.total() > 0 {
        tracing::warn!(total = report.total(), by_state = ?report.reaped, "reaped stale calls");
    } else {
        tracing::debug!("no stale calls");
    }
    Ok(report)
}

/// Runs [`run_once`] every [`INTERVAL`] until the task is dropped.
pub async fn periodic(store: Arc<dyn Store>, in_progress_timeout: Duration) {
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = run_once(&*store, in_progress_timeout).await {
            tracing::error!(%error, "stale-call cleanup failed");
        }
    }
}
