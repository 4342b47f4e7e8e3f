//! A campaign's pacer after a restart or a leader change.
//!
//! Its history rebuilt from the store, so a new dialler neither re-learns from scratch nor forgets
//! the legal window's abandons.

use super::{Engine, pacing_config, secs};
use crate::pacing::{Pacer, Resolution};
use chrono::{DateTime, Utc};
use contracts::CallState;
use store::{Bucket, CallFilter, Campaign, Page, ReportFilter};

/// How far back the recent calls are read (dial resolutions, handle times, recent abandons).
const RECENT: chrono::Duration = chrono::Duration::hours(2);

impl Engine {
    /// A pacer for `campaign` with what the store remembers; a fresh one when the store fails.
    pub(super) async fn restored_pacer(
        &mut self,
        campaign: &Campaign,
        now: DateTime<Utc>,
    ) -> Pacer {
        let mut pacer = Pacer::new(pacing_config(campaign));
        if let Err(error) = self.restore(&mut pacer, campaign, now).await {
            self.stats.store_errors += 1;
            tracing::warn!(campaign = %campaign.id, %error, "could not restore the pacer's history; it learns afresh");
        }
        pacer
    }

    async fn restore(
        &self,
        pacer: &mut Pacer,
        campaign: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<(), store::StoreError> {
        let legal =
            chrono::Duration::milliseconds((pacer.config.legal_window_secs * 1000.0) as i64);
        let report = self
            .store
            .call_report(ReportFilter {
                since: now - legal,
                until: now,
                campaign_id: Some(campaign.id),
                bot_id: None,
                bucket: Bucket::Hour,
            })
            .await?;
        let hours: Vec<(f64, u64, u64)> = report
            .buckets
            .iter()
            .map(|b| {
                let humans = (b.counts.completed + b.counts.abandoned).max(0) as u64;
                (secs(b.start), humans, b.counts.abandoned.max(0) as u64)
            })
            .collect();
        let calls = self
            .store
            .list_calls(
                CallFilter {
                    campaign_id: Some(campaign.id),
                    since: Some(now - RECENT),
                    ..CallFilter::default()
                },
                Page::first(Page::MAX_LIMIT),
            )
            .await?
            .items;
        let mut recent = Vec::new();
        let mut calls: Vec<_> = calls
            .into_iter()
            .filter(|c| c.state.is_terminal())
            .collect();
        calls.sort_by_key(|c| c.created_at);
        for call in &calls {
            let dialled = secs(call.created_at);
            let ended = call.ended_at.map(secs);
            match (call.state, call.answered_at.map(secs)) {
                (CallState::Machine, Some(answered)) => {
                    pacer
                        .history
                        .record_dial(dialled, answered - dialled, Resolution::Machine);
                }
                (CallState::Completed, Some(answered)) => {
                    pacer
                        .history
                        .record_dial(dialled, answered - dialled, Resolution::Human);
                    recent.push((answered, false));
                    if let Some(ended) = ended {
                        pacer.history.record_conversation(ended - answered);
                    }
                }
                (CallState::Abandoned, Some(answered)) => {
                    pacer
                        .history
                        .record_dial(dialled, answered - dialled, Resolution::Human);
                    recent.push((answered, true));
                }
                (CallState::NoAnswer | CallState::Busy | CallState::Failed, _) => {
                    if let Some(ended) = ended {
                        pacer
                            .history
                            .record_dial(dialled, ended - dialled, Resolution::Unanswered);
                    }
                }
                _ => {}
            }
        }
        pacer.history.restore(&hours, &recent);
        tracing::info!(
            campaign = %campaign.id,
            recent_calls = calls.len(),
            humans_in_legal_window = pacer.history.humans(),
            "restored the pacer's history from the store"
        );
        Ok(())
    }
}
