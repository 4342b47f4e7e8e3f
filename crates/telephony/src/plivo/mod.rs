//! Plivo Voice: the Call REST resource, answer XML, callbacks, statuses and V3 signatures.
//!
//! References: <https://www.plivo.com/docs/voice/api/call/make-a-call>,
//! <https://www.plivo.com/docs/voice/concepts/signature-validation>,
//! <https://www.plivo.com/docs/voice/xml/audio-streaming>,
//! <https://www.plivo.com/docs/voice/troubleshooting/hangup-causes>.

mod rest;
pub mod signature;
pub mod status;
pub mod xml;

pub use rest::{PlivoCarrier, PlivoConfig};

/// Plivo's REST API base.
pub const API_URL: &str = "https://api.plivo.com";

/// The edge's webhook URLs for one account, under `public_url` (`VOX_PUBLIC_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhooks {
    base: String,
}

impl Webhooks {
    pub fn new(public_url: &str, account: contracts::telephony::CarrierAccountId) -> Self {
        Self {
            base: format!(
                "{}/api/v1/telephony/plivo/{account}",
                public_url.trim_end_matches('/')
            ),
        }
    }

    /// Where Plivo asks what to do with the answered call (`answer_url`).
    pub fn answer(&self, call: contracts::CallId) -> String {
        format!("{}/answer?call={call}", self.base)
    }

    /// Where Plivo says the call rings (`ring_url`).
    pub fn ring(&self, call: contracts::CallId) -> String {
        format!("{}/ring?call={call}", self.base)
    }

    /// Where Plivo says how the call ended (`hangup_url`).
    pub fn hangup(&self, call: contracts::CallId) -> String {
        format!("{}/hangup?call={call}", self.base)
    }

    /// Where the asynchronous machine-detection verdict goes (`machine_detection_url`).
    pub fn amd(&self, call: contracts::CallId) -> String {
        format!("{}/amd?call={call}", self.base)
    }

    /// The XML a live call is moved to by a transfer (`aleg_url`): a `<Dial>` to `to`.
    pub fn transfer(&self, call: contracts::CallId, to: &str, caller_id: Option<&str>) -> String {
        let mut query = vec![("call", call.to_string()), ("to", to.to_owned())];
        if let Some(caller) = caller_id {
            query.push(("caller_id", caller.to_owned()));
        }
        let query = serde_urlencoded::to_string(&query).unwrap_or_default();
        format!("{}/transfer?{query}", self.base)
    }

    /// The XML a live call is moved to for a last message: `<Speak>` then `<Hangup/>`.
    pub fn farewell(&self, call: contracts::CallId, message: &str) -> String {
        let query =
            serde_urlencoded::to_string([("call", call.to_string()), ("say", message.to_owned())])
                .unwrap_or_default();
        format!("{}/farewell?{query}", self.base)
    }

    /// The Plivo application's answer URL, for inbound calls to its numbers.
    pub fn inbound(&self) -> String {
        format!("{}/answer", self.base)
    }

    /// The Plivo application's hang-up URL, for inbound calls to its numbers.
    pub fn inbound_hangup(&self) -> String {
        format!("{}/hangup", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::CallId;
    use contracts::telephony::CarrierAccountId;

    #[test]
    fn webhook_urls_carry_the_call_and_a_transfer_its_target() {
        let hooks = Webhooks::new("https://vox.example/", CarrierAccountId(4));
        assert_eq!(
            hooks.answer(CallId(9)),
            "https://vox.example/api/v1/telephony/plivo/4/answer?call=9"
        );
        assert_eq!(
            hooks.transfer(CallId(9), "+14155550100", Some("+14155550199")),
            "https://vox.example/api/v1/telephony/plivo/4/transfer?call=9&to=%2B14155550100&caller_id=%2B14155550199"
        );
        assert!(
            hooks
                .farewell(CallId(9), "Bye & thanks")
                .ends_with("say=Bye+%26+thanks")
        );
        assert_eq!(
            hooks.inbound(),
            "https://vox.example/api/v1/telephony/plivo/4/answer"
        );
    }
}
