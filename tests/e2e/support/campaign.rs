//! A campaign's calls as the suites read them, and the rule: no contact dialled twice at once.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use store::{CallFilter, Page, Store};

/// A campaign's calls, newest first (an error while the store is unreachable, as when the kill
/// tests restart PostgreSQL).
pub async fn campaign_calls(
    store: &dyn Store,
    campaign: contracts::CampaignId,
) -> store::Result<Vec<store::Call>> {
    Ok(store
        .list_calls(
            CallFilter {
                campaign_id: Some(campaign),
                ..CallFilter::default()
            },
            Page::first(200),
        )
        .await?
        .items)
}

/// A call's span: created, then ended (or last moved, for a call not over).
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// Pairs of attempts of one contact that were live at the same time.
pub fn overlapping_attempts(calls: &[store::Call]) -> Vec<(Span, Span)> {
    let mut by_contact: BTreeMap<_, Vec<Span>> = BTreeMap::new();
    for call in calls {
        if let Some(contact) = call.contact_id {
            by_contact.entry(contact).or_default().push((
                call.created_at,
                call.ended_at.unwrap_or(call.state_changed_at),
            ));
        }
    }
    let mut overlaps = Vec::new();
    for spans in by_contact.values_mut() {
        spans.sort();
        overlaps.extend(
            spans
                .windows(2)
                .filter(|pair| pair[0].1 > pair[1].0)
                .map(|pair| (pair[0], pair[1])),
        );
    }
    overlaps
}

/// No contact was ever dialled twice at once.
pub fn assert_no_overlapping_attempts(calls: &[store::Call]) {
    let overlaps = overlapping_attempts(calls);
    assert!(overlaps.is_empty(), "overlapping attempts: {overlaps:?}");
}
