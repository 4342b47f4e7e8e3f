//! The simulator end to end: campaigns through the dialler, inbound load, personas, Twilio's path.

mod campaign;
mod load;
mod persona;
mod twilio;
mod twilio_inbound;

use std::collections::BTreeMap;
use store::{CallFilter, Page, Store};

/// A campaign's calls, newest first.
async fn campaign_calls(store: &dyn Store, campaign: contracts::CampaignId) -> Vec<store::Call> {
    store
        .list_calls(
            CallFilter {
                campaign_id: Some(campaign),
                ..CallFilter::default()
            },
            Page::first(100),
        )
        .await
        .unwrap()
        .items
}

/// No contact was ever dialled twice at once.
fn assert_no_overlapping_attempts(calls: &[store::Call]) {
    let mut by_contact: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for call in calls {
        by_contact
            .entry(call.contact_id.unwrap())
            .or_default()
            .push((
                call.created_at,
                call.ended_at.unwrap_or(call.state_changed_at),
            ));
    }
    for spans in by_contact.values_mut() {
        spans.sort();
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "overlapping attempts: {pair:?}");
        }
    }
}
