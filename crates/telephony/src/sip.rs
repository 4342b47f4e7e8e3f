//! SIP final responses to an outbound INVITE, mapped to vox's outcome codes.
//!
//! References: RFC 3261 §21 (the response codes), RFC 3398 §8.2.6 (ISUP causes to SIP codes,
//! which is how a trunk's PSTN failures arrive) and issue 23's mapping: 486 and 600 busy; 480,
//! 408 and 487 no answer; 404, 484 and 410 an invalid number; 603 declined; 403, 503 and any other
//! failure failed (tried again later). A 2xx is an answer, not an outcome.

use contracts::CallOutcomeCode;

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
}
