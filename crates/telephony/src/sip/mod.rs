//! `vox sip` as the dialler's carrier: SIP final responses as outcomes, the control client.
//!
//! `SipCarrier` (`control.rs`) places, cancels, hangs up and transfers calls through the gateway's
//! call-control API, presenting the token `control_token` derives from the trunk's secret.
//!
//! References: RFC 3261 §21 (the response codes), RFC 3398 §8.2.6 (ISUP causes to SIP codes,
//! which is how a trunk's PSTN failures arrive) and issue 23's mapping: 486 and 600 busy; 480,
//! 408 and 487 no answer; 404, 484 and 410 an invalid number; 603 declined; 403, 503 and any other
//! failure failed (tried again later). A 2xx is an answer, not an outcome.

mod control;

use contracts::CallOutcomeCode;
pub use control::{DEFAULT_CONTROL_URL, SipCarrier, SipConfig};
use hmac::{Hmac, Mac};

/// The token the gateway's call control takes for a trunk: HMAC-SHA256 of a fixed label keyed by
/// the trunk's secret, in hex. The Backend gives it to the gateway; the dialler derives it; the
/// secret itself never travels to the gateway's API.
pub fn control_token(secret: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"vox sip call control");
    hex::encode(mac.finalize().into_bytes())
}

/// The outcome of an outbound INVITE that ended with final response `code` before an answer;
/// `None` for a 1xx or 2xx, which end nothing.
pub fn outcome(code: u16) -> Option<CallOutcomeCode> {
    Some(match code {
        100..=299 => return None,
        486 | 600 => CallOutcomeCode::DialBusy,
        408 | 480 | 487 => CallOutcomeCode::DialNoAnswer,
        404 | 410 | 484 | 604 => CallOutcomeCode::DialInvalidNumber,
        603 => CallOutcomeCode::DialRejected,
        _ => CallOutcomeCode::DialFailed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_final_response_ends_an_unanswered_call_with_its_outcome() {
        for (code, expected) in [
            (486, CallOutcomeCode::DialBusy),
            (600, CallOutcomeCode::DialBusy),
            (480, CallOutcomeCode::DialNoAnswer),
            (408, CallOutcomeCode::DialNoAnswer),
            (487, CallOutcomeCode::DialNoAnswer),
            (404, CallOutcomeCode::DialInvalidNumber),
            (484, CallOutcomeCode::DialInvalidNumber),
            (410, CallOutcomeCode::DialInvalidNumber),
            (603, CallOutcomeCode::DialRejected),
            (403, CallOutcomeCode::DialFailed),
            (503, CallOutcomeCode::DialFailed),
            (500, CallOutcomeCode::DialFailed),
        ] {
            assert_eq!(outcome(code), Some(expected), "{code}");
        }
        assert_eq!(outcome(180), None);
        assert_eq!(outcome(200), None);
    }

    #[test]
    fn the_control_token_depends_on_the_trunks_secret_and_does_not_reveal_it() {
        let token = control_token("trunk-password");
        assert_eq!(token, control_token("trunk-password"));
        assert_ne!(token, control_token("trunk-passwore"));
        assert_eq!(token.len(), 64);
        assert!(!token.contains("trunk"));
    }
}
