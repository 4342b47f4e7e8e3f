//! The capacity controls kept in the settings, and putting them back into the registry.
//!
//! Every drain and quota set through the API (`routes/capacity.rs`) is kept in the settings too:
//! `capacity.quota.campaign.<id>`, `capacity.quota.client.<name>` (slots),
//! `capacity.drain.worker.<id>` and `capacity.drain.host.<name>` (`true`). A Redis that restarts
//! empty (or is replaced) forgets them while the settings keep them, so the Backend applies them
//! again at start and every [`BridgeConfig::capacity_interval`](crate::BridgeConfig) after. Every
//! registry operation is idempotent, so applying what is already there changes nothing.

use crate::routes::capacity::Target;
use registry::{QuotaScope, Registry};
use std::sync::Arc;
use std::time::Duration;
use store::Store;

const QUOTA_PREFIX: &str = "capacity.quota.";
const DRAIN_PREFIX: &str = "capacity.drain.";

/// Where a quota is kept.
pub fn quota_key(scope: &QuotaScope) -> String {
    match scope {
        QuotaScope::Campaign(id) => format!("{QUOTA_PREFIX}campaign.{id}"),
        QuotaScope::Client(name) => format!("{QUOTA_PREFIX}client.{name}"),
    }
}

/// Where a drain is kept.
pub fn drain_key(target: Target, name: &str) -> String {
    match target {
        Target::Worker => format!("{DRAIN_PREFIX}worker.{name}"),
        Target::Host => format!("{DRAIN_PREFIX}host.{name}"),
    }
}

/// What one pass applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub quotas: usize,
    pub drains: usize,
}

/// Applies every kept quota and drain to `registry`.
pub async fn apply_kept(store: &dyn Store, registry: &dyn Registry) -> anyhow::Result<Applied> {
    let mut applied = Applied::default();
    for setting in store.list_settings().await? {
        if let Some(rest) = setting.key.strip_prefix(QUOTA_PREFIX) {
            let Some(slots) = setting.value.as_u64().and_then(|n| u32::try_from(n).ok()) else {
                continue;
            };
            let scope = match rest.split_once('.') {
                Some(("campaign", id)) => QuotaScope::Campaign(id.to_owned()),
                Some(("client", name)) => QuotaScope::Client(name.to_owned()),
                _ => continue,
            };
            registry.set_quota(&scope, Some(slots)).await?;
            applied.quotas += 1;
        } else if let Some(rest) = setting.key.strip_prefix(DRAIN_PREFIX) {
            if setting.value != serde_json::Value::Bool(true) {
                continue;
            }
            match rest.split_once('.') {
                Some(("worker", id)) => registry.drain_worker(id, true).await?,
                Some(("host", name)) => registry.drain_host(name, true).await?,
                _ => continue,
            }
            applied.drains += 1;
        }
    }
    Ok(applied)
}

/// Applies the kept controls now and every `interval`, until aborted.
pub async fn periodic(store: Arc<dyn Store>, registry: Arc<dyn Registry>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = apply_kept(&*store, &*registry).await {
            tracing::warn!(%error, "the capacity controls could not be applied to the registry");
        }
    }
}
