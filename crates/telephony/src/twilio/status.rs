//! Twilio's call statuses, SIP response codes and `AnsweredBy` values, mapped to vox's codes.
//!
//! Reference: <https://www.twilio.com/docs/voice/api/call-resource#call-status-values> and
//! <https://www.twilio.com/docs/voice/answering-machine-detection#webhook-parameters>.

use contracts::attach::AmdVerdict;
use contracts::{CallOutcomeCode, CallState};
use std::str::FromStr;

/// `CallStatus` of a status callback or a Call resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Queued,
    Initiated,
    Ringing,
    /// Answered (the `answered` progress event).
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Initiated => "initiated",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Canceled => "canceled",
        }
    }

    /// Where a status moves a vox call, when it moves it: `None` for statuses that only say the
    /// call exists (queued, initiated) or that it was answered (the answer webhook moves it).
    pub fn moves_to(self) -> Option<CallState> {
        match self {
            CallStatus::Queued | CallStatus::Initiated | CallStatus::InProgress => None,
            CallStatus::Ringing => Some(CallState::Ringing),
            CallStatus::Completed => None,
            CallStatus::Busy => Some(CallState::Busy),
            CallStatus::Failed => Some(CallState::Failed),
            CallStatus::NoAnswer => Some(CallState::NoAnswer),
            CallStatus::Canceled => Some(CallState::Canceled),
        }
    }

    /// The outcome of a call that ended with this status before anyone spoke to it; `sip` is the
    /// callback's `SipResponseCode`. `None` for statuses that do not end a call, and for
    /// `completed`, whose outcome depends on what happened after the answer.
    pub fn outcome(self, sip: Option<u16>) -> Option<CallOutcomeCode> {
        match self {
            CallStatus::Busy => Some(CallOutcomeCode::DialBusy),
            CallStatus::NoAnswer => Some(CallOutcomeCode::DialNoAnswer),
            CallStatus::Canceled => Some(CallOutcomeCode::DialCanceled),
            CallStatus::Failed => Some(match sip {
                // Not found, gone, address incomplete, does not exist anywhere.
                Some(404 | 410 | 484 | 604) => CallOutcomeCode::DialInvalidNumber,
                Some(486 | 600) => CallOutcomeCode::DialBusy,
                Some(603) => CallOutcomeCode::DialRejected,
                _ => CallOutcomeCode::DialFailed,
            }),
            _ => None,
        }
    }
}

/// A status Twilio does not document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CallStatus {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for CallStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "queued" => CallStatus::Queued,
            "initiated" => CallStatus::Initiated,
            "ringing" => CallStatus::Ringing,
            "in-progress" | "answered" => CallStatus::InProgress,
            "completed" => CallStatus::Completed,
            "busy" => CallStatus::Busy,
            "failed" => CallStatus::Failed,
            "no-answer" => CallStatus::NoAnswer,
            "canceled" => CallStatus::Canceled,
            other => return Err(UnknownStatus(other.to_owned())),
        })
    }
}

/// Twilio's `AnsweredBy` as a verdict: `human`; `machine_start`, `machine_end_beep`,
/// `machine_end_silence`, `machine_end_other` and `fax` are machines; `unknown` is unknown.
pub fn answered_by(value: &str) -> Option<AmdVerdict> {
    match value {
        "human" => Some(AmdVerdict::Human),
        "machine_start"
        | "machine_end_beep"
        | "machine_end_silence"
        | "machine_end_other"
        | "fax" => Some(AmdVerdict::Machine),
        "unknown" => Some(AmdVerdict::Unknown),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_ends_a_call_with_its_outcome_and_sip_causes_refine_failures() {
        let outcome = |s: &str, sip| s.parse::<CallStatus>().unwrap().outcome(sip);
        assert_eq!(outcome("busy", None), Some(CallOutcomeCode::DialBusy));
        assert_eq!(
            outcome("no-answer", None),
            Some(CallOutcomeCode::DialNoAnswer)
        );
        assert_eq!(
            outcome("canceled", None),
            Some(CallOutcomeCode::DialCanceled)
        );
        assert_eq!(
            outcome("failed", Some(404)),
            Some(CallOutcomeCode::DialInvalidNumber)
        );
        assert_eq!(
            outcome("failed", Some(603)),
            Some(CallOutcomeCode::DialRejected)
        );
        assert_eq!(
            outcome("failed", Some(503)),
            Some(CallOutcomeCode::DialFailed)
        );
        assert_eq!(outcome("failed", None), Some(CallOutcomeCode::DialFailed));
        assert_eq!(outcome("ringing", None), None);
        assert_eq!(outcome("completed", Some(200)), None);
        for status in [
            CallStatus::Queued,
            CallStatus::Initiated,
            CallStatus::Ringing,
            CallStatus::InProgress,
            CallStatus::Completed,
            CallStatus::Busy,
            CallStatus::Failed,
            CallStatus::NoAnswer,
            CallStatus::Canceled,
        ] {
            assert_eq!(status.as_str().parse::<CallStatus>(), Ok(status));
            if let Some(code) = status.outcome(None) {
                assert_eq!(status.moves_to(), Some(code.end_state()), "{status:?}");
            }
        }
        assert!("ringing ".parse::<CallStatus>().is_err());
    }

    #[test]
    fn answered_by_values_become_verdicts() {
        assert_eq!(answered_by("human"), Some(AmdVerdict::Human));
        assert_eq!(answered_by("machine_end_beep"), Some(AmdVerdict::Machine));
        assert_eq!(answered_by("fax"), Some(AmdVerdict::Machine));
        assert_eq!(answered_by("unknown"), Some(AmdVerdict::Unknown));
        assert_eq!(answered_by("robot"), None);
    }
}
