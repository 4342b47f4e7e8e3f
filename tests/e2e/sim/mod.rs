//! The simulator end to end: campaigns through the dialler, inbound load, personas, carriers.

mod campaign;
pub(crate) mod carrier;
mod exotel;
mod load;
mod persona;
mod plivo;
mod telnyx;
mod twilio;
mod twilio_inbound;
mod vonage;

use crate::support::campaign::assert_no_overlapping_attempts;
use store::Store;

/// A campaign's calls, newest first.
async fn campaign_calls(store: &dyn Store, campaign: contracts::CampaignId) -> Vec<store::Call> {
    crate::support::campaign::campaign_calls(store, campaign)
        .await
        .unwrap()
}
