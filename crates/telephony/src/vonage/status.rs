//! Vonage's call events: the statuses of the event webhook and what each means for a vox call.
//!
//! References: <https://developer.vonage.com/en/voice/voice-api/webhook-reference#event-webhook>
//! (a JSON body with `uuid`, `conversation_uuid`, `from`, `to`, `direction`, `timestamp` and
//! `status`: `started`, `ringing`, `answered`, `busy`, `cancelled`, `unanswered`, `disconnected`,
//! `rejected`, `failed`, `timeout`, `completed`; failures may carry a `detail` such as
//! `invalid_number`, `number_out_of_service`, `restricted` or `declined`) and
//! <https://developer.vonage.com/en/voice/voice-api/concepts/advanced-machine-detection>
//! (`status` `human` or `machine`, with a `sub_state` such as `beep_start`).

use contracts::attach::AmdVerdict;
use contracts::{CallOutcomeCode, CallState};
use std::str::FromStr;

/// `status` of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Started,
    Ringing,
    Answered,
    Busy,
    Cancelled,
    Unanswered,
    Disconnected,
    Rejected,
    Failed,
    Timeout,
    Completed,
    /// Advanced machine detection: a person answered.
    Human,
    /// Advanced machine detection: a machine answered.
    Machine,
}

impl CallStatus {
    pub const ALL: [CallStatus; 13] = [
        CallStatus::Started,
        CallStatus::Ringing,
        CallStatus::Answered,
        CallStatus::Busy,
        CallStatus::Cancelled,
        CallStatus::Unanswered,
        CallStatus::Disconnected,
        CallStatus::Rejected,
        CallStatus::Failed,
        CallStatus::Timeout,
        CallStatus::Completed,
        CallStatus::Human,
        CallStatus::Machine,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Started => "started",
            CallStatus::Ringing => "ringing",
            CallStatus::Answered => "answered",
            CallStatus::Busy => "busy",
            CallStatus::Cancelled => "cancelled",
            CallStatus::Unanswered => "unanswered",
            CallStatus::Disconnected => "disconnected",
            CallStatus::Rejected => "rejected",
            CallStatus::Failed => "failed",
            CallStatus::Timeout => "timeout",
            CallStatus::Completed => "completed",
            CallStatus::Human => "human",
            CallStatus::Machine => "machine",
        }
    }

    /// The outcome of a call that ended with this status before anyone spoke to it; `detail` is
    /// the event's `detail`. `None` for statuses that do not end a call before its answer.
    pub fn outcome(self, detail: Option<&str>) -> Option<CallOutcomeCode> {
        match self {
            CallStatus::Busy => Some(CallOutcomeCode::DialBusy),
            CallStatus::Unanswered | CallStatus::Timeout => Some(CallOutcomeCode::DialNoAnswer),
            CallStatus::Cancelled => Some(CallOutcomeCode::DialCanceled),
            CallStatus::Rejected => Some(match detail {
                Some("invalid_number" | "number_out_of_service") => {
                    CallOutcomeCode::DialInvalidNumber
                }
                _ => CallOutcomeCode::DialRejected,
            }),
            CallStatus::Failed => Some(match detail {
                Some("invalid_number" | "number_out_of_service") => {
                    CallOutcomeCode::DialInvalidNumber
                }
                _ => CallOutcomeCode::DialFailed,
            }),
            CallStatus::Machine => Some(CallOutcomeCode::DialMachine),
            _ => None,
        }
    }

    /// Where the status moves a vox call, when it moves it.
    pub fn moves_to(self, detail: Option<&str>) -> Option<CallState> {
        match self {
            CallStatus::Ringing => Some(CallState::Ringing),
            _ => self.outcome(detail).map(CallOutcomeCode::end_state),
        }
    }

    /// The machine-detection verdict the status gives, when it is one.
    pub fn verdict(self) -> Option<AmdVerdict> {
        match self {
            CallStatus::Human => Some(AmdVerdict::Human),
            CallStatus::Machine => Some(AmdVerdict::Machine),
            _ => None,
        }
    }
}

/// A status Vonage does not document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for CallStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CallStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_final_status_ends_a_call_with_its_outcome_refined_by_the_detail() {
        let outcome = |s: &str, detail| s.parse::<CallStatus>().unwrap().outcome(detail);
        assert_eq!(outcome("busy", None), Some(CallOutcomeCode::DialBusy));
        assert_eq!(
            outcome("unanswered", None),
            Some(CallOutcomeCode::DialNoAnswer)
        );
        assert_eq!(
            outcome("timeout", None),
            Some(CallOutcomeCode::DialNoAnswer)
        );
        assert_eq!(
            outcome("cancelled", None),
            Some(CallOutcomeCode::DialCanceled)
        );
        assert_eq!(
            outcome("rejected", Some("declined")),
            Some(CallOutcomeCode::DialRejected)
        );
        assert_eq!(
            outcome("failed", Some("invalid_number")),
            Some(CallOutcomeCode::DialInvalidNumber)
        );
        assert_eq!(
            outcome("failed", Some("internal_error")),
            Some(CallOutcomeCode::DialFailed)
        );
        assert_eq!(outcome("machine", None), Some(CallOutcomeCode::DialMachine));
        assert_eq!(outcome("completed", None), None);
        assert_eq!(outcome("answered", None), None);
        for status in CallStatus::ALL {
            assert_eq!(status.as_str().parse::<CallStatus>(), Ok(status));
            if let Some(code) = status.outcome(None) {
                assert_eq!(status.moves_to(None), Some(code.end_state()), "{status:?}");
            }
        }
        assert_eq!(CallStatus::Human.verdict(), Some(AmdVerdict::Human));
        assert!("canceled".parse::<CallStatus>().is_err());
    }
}
