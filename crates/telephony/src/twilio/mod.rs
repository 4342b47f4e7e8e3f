//! Twilio Programmable Voice: the Calls REST resource, TwiML, status callbacks and signatures.
//!
//! References: <https://www.twilio.com/docs/voice/api/call-resource>,
//! <https://www.twilio.com/docs/usage/webhooks/webhooks-security>,
//! <https://www.twilio.com/docs/voice/twiml/stream>,
//! <https://www.twilio.com/docs/voice/answering-machine-detection>.

mod rest;
pub mod signature;
pub mod status;
pub mod twiml;

pub use rest::{TwilioCarrier, TwilioConfig};

/// The header Twilio signs every webhook with.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// Twilio's REST API base.
pub const API_URL: &str = "https://api.twilio.com";

/// The edge's webhook URLs for one account, under `public_url` (`VOX_PUBLIC_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhooks {
    base: String,
}

impl Webhooks {
    pub fn new(public_url: &str, account: contracts::telephony::CarrierAccountId) -> Self {
        Self {
            base: format!(
                "{}/api/v1/telephony/twilio/{account}",
                public_url.trim_end_matches('/')
            ),
        }
    }

    /// Where Twilio asks what to do with the answered call (`Url`).
    pub fn voice(&self, call: contracts::CallId) -> String {
        format!("{}/voice?call={call}", self.base)
    }

    /// Where progress events go (`StatusCallback`).
    pub fn status(&self, call: contracts::CallId) -> String {
        format!("{}/status?call={call}", self.base)
    }

    /// Where the asynchronous machine-detection verdict goes (`AsyncAmdStatusCallback`).
    pub fn amd(&self, call: contracts::CallId) -> String {
        format!("{}/amd?call={call}", self.base)
    }

    /// An inbound number's voice URL (set on the number in Twilio's console).
    pub fn inbound(&self) -> String {
        format!("{}/voice", self.base)
    }
}
