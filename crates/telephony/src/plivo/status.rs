//! Plivo's call statuses, hang-up cause codes and machine verdicts, mapped to vox's codes.
//!
//! References: <https://support.plivo.com/hc/en-us/articles/360041432532-What-do-the-different-call-statuses-mean->
//! (`CallStatus`: `ringing` to the ring URL, `in-progress` to the answer URL; `completed`, `busy`,
//! `no-answer`, `cancel` (the callee declined without answering, or the call was canceled through
//! the API), `timeout` (a carrier or network timeout while connecting) and `failed` to the hang-up
//! URL), <https://www.plivo.com/docs/voice/troubleshooting/hangup-causes> (`HangupCauseCode`:
//! 1000 canceled through the API, 1010 out of credits, 1020 the simultaneous dial limit, 2000
//! invalid destination, 2010 destination out of service, 2020–2070 other destination issues,
//! 4000 and 4010 normal ends) and <https://www.plivo.com/docs/voice/api/call/make-a-call>
//! (`machine_detection_url` receives `Machine=true|false`).

use contracts::attach::AmdVerdict;
use contracts::{CallOutcomeCode, CallState};
use std::str::FromStr;

/// `CallStatus` of a Plivo callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Ringing,
    /// Answered (the answer URL's request).
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    /// Not answered: declined by the callee, or canceled through the API (cause 1000).
    Cancel,
    /// A carrier or network timeout while connecting.
    Timeout,
    Failed,
}

/// `HangupCauseCode` 1000: canceled through the API before the answer.
pub const CAUSE_CANCELED: u32 = 1000;
/// `HangupCauseCode` 1020: the simultaneous dial limit for the destination was reached.
pub const CAUSE_DIAL_LIMIT: u32 = 1020;
/// `HangupCauseCode` 2000: the destination is not a valid number.
pub const CAUSE_INVALID_DESTINATION: u32 = 2000;
/// `HangupCauseCode` 2010: the destination is out of service.
pub const CAUSE_OUT_OF_SERVICE: u32 = 2010;
/// `HangupCauseCode` 4000: a normal hang-up.
pub const CAUSE_NORMAL: u32 = 4000;

impl CallStatus {
    pub const ALL: [CallStatus; 8] = [
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::Completed,
        CallStatus::Busy,
        CallStatus::NoAnswer,
        CallStatus::Cancel,
        CallStatus::Timeout,
        CallStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Cancel => "cancel",
            CallStatus::Timeout => "timeout",
            CallStatus::Failed => "failed",
        }
    }

    /// The outcome of a call that ended with this status before anyone spoke to it; `cause` is
    /// the callback's `HangupCauseCode`. `None` for statuses that do not end a call, and for
    /// `completed`, whose outcome depends on what happened after the answer.
    pub fn outcome(self, cause: Option<u32>) -> Option<CallOutcomeCode> {
        match self {
            CallStatus::Ringing | CallStatus::InProgress | CallStatus::Completed => None,
            CallStatus::Busy => Some(CallOutcomeCode::DialBusy),
            CallStatus::NoAnswer => Some(CallOutcomeCode::DialNoAnswer),
            CallStatus::Cancel => Some(match cause {
                None | Some(CAUSE_CANCELED) => CallOutcomeCode::DialCanceled,
                Some(_) => CallOutcomeCode::DialRejected,
            }),
            CallStatus::Timeout => Some(CallOutcomeCode::DialFailed),
            CallStatus::Failed => Some(match cause {
                Some(CAUSE_INVALID_DESTINATION | CAUSE_OUT_OF_SERVICE) => {
                    CallOutcomeCode::DialInvalidNumber
                }
                Some(CAUSE_CANCELED) => CallOutcomeCode::DialCanceled,
                _ => CallOutcomeCode::DialFailed,
            }),
        }
    }

    /// Where a status moves a vox call, when it moves it: ringing, or the end its outcome says.
    pub fn moves_to(self, cause: Option<u32>) -> Option<CallState> {
        match self {
            CallStatus::Ringing => Some(CallState::Ringing),
            _ => self.outcome(cause).map(CallOutcomeCode::end_state),
        }
    }
}

/// A status Plivo does not document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CallStatus {0:?}")]
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

/// The machine detection callback's `Machine` as a verdict.
pub fn machine(value: &str) -> Option<AmdVerdict> {
    match value {
        "true" => Some(AmdVerdict::Machine),
        "false" => Some(AmdVerdict::Human),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_final_status_ends_a_call_with_its_outcome_refined_by_the_cause_code() {
        let outcome = |s: &str, cause| s.parse::<CallStatus>().unwrap().outcome(cause);
        assert_eq!(outcome("busy", Some(3000)), Some(CallOutcomeCode::DialBusy));
        assert_eq!(
            outcome("no-answer", None),
            Some(CallOutcomeCode::DialNoAnswer)
        );
        assert_eq!(
            outcome("cancel", Some(CAUSE_CANCELED)),
            Some(CallOutcomeCode::DialCanceled)
        );
        assert_eq!(
            outcome("cancel", Some(3010)),
            Some(CallOutcomeCode::DialRejected)
        );
        assert_eq!(outcome("timeout", None), Some(CallOutcomeCode::DialFailed));
        assert_eq!(
            outcome("failed", Some(CAUSE_INVALID_DESTINATION)),
            Some(CallOutcomeCode::DialInvalidNumber)
        );
        assert_eq!(
            outcome("failed", Some(CAUSE_OUT_OF_SERVICE)),
            Some(CallOutcomeCode::DialInvalidNumber)
        );
        assert_eq!(
            outcome("failed", Some(CAUSE_DIAL_LIMIT)),
            Some(CallOutcomeCode::DialFailed)
        );
        assert_eq!(outcome("completed", Some(CAUSE_NORMAL)), None);
        assert_eq!(outcome("ringing", None), None);
        for status in CallStatus::ALL {
            assert_eq!(status.as_str().parse::<CallStatus>(), Ok(status));
            if let Some(code) = status.outcome(None) {
                assert_eq!(status.moves_to(None), Some(code.end_state()), "{status:?}");
            }
        }
        assert_eq!(CallStatus::Ringing.moves_to(None), Some(CallState::Ringing));
        assert_eq!(CallStatus::InProgress.moves_to(None), None);
        assert!("canceled".parse::<CallStatus>().is_err());
    }

    #[test]
    fn the_machine_parameter_becomes_a_verdict() {
        assert_eq!(machine("true"), Some(AmdVerdict::Machine));
        assert_eq!(machine("false"), Some(AmdVerdict::Human));
        assert_eq!(machine("maybe"), None);
    }
}
