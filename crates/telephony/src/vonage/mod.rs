//! Vonage Voice API: the Calls REST resource, NCCOs, call events and signed webhooks (JWTs).
//!
//! References: <https://developer.vonage.com/en/voice/voice-api/overview>, the Voice API's
//! OpenAPI definition (`Nexmo/api-specification`, `definitions/voice.yml`) and the pages each
//! module cites.

pub mod ncco;
mod rest;
pub mod signature;
pub mod status;
pub mod testing;

pub use rest::{VonageCarrier, VonageConfig};

/// Vonage's REST API base.
pub const API_URL: &str = "https://api.nexmo.com";

/// The edge's webhook URLs for one account, under `public_url` (`VOX_PUBLIC_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhooks {
    base: String,
}

impl Webhooks {
    pub fn new(public_url: &str, account: contracts::telephony::CarrierAccountId) -> Self {
        Self {
            base: format!(
                "{}/api/v1/telephony/vonage/{account}",
                public_url.trim_end_matches('/')
            ),
        }
    }

    /// Where Vonage asks for the answered call's NCCO (`answer_url`).
    pub fn answer(&self, call: contracts::CallId) -> String {
        format!("{}/answer?call={call}", self.base)
    }

    /// Where Vonage posts the call's events (`event_url`).
    pub fn event(&self, call: contracts::CallId) -> String {
        format!("{}/event?call={call}", self.base)
    }

    /// The application's answer URL, for inbound calls to its numbers.
    pub fn inbound(&self) -> String {
        format!("{}/answer", self.base)
    }

    /// The application's event URL, for inbound calls to its numbers.
    pub fn inbound_event(&self) -> String {
        format!("{}/event", self.base)
    }
}
