//! Exotel's call statuses and status-callback events, mapped to vox's codes.
//!
//! References: <https://developer.exotel.com/docs/voice-v1/api-reference/status-callback>
//! (`Status`: `completed`, `failed`, `busy` or `no-answer` once the call is over; `EventType`
//! `answered` or `terminal`) and <https://developer.exotel.com/docs/references/error-codes>
//! (the call statuses `queued`, `ringing`, `in-progress`, `completed`, `failed`, `busy`,
//! `no-answer`, `canceled`).

use contracts::{CallOutcomeCode, CallState};
use std::str::FromStr;

/// `Status` of an Exotel call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Failed,
    Busy,
    NoAnswer,
    Canceled,
}

impl CallStatus {
    pub const ALL: [CallStatus; 8] = [
        CallStatus::Queued,
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::Completed,
        CallStatus::Failed,
        CallStatus::Busy,
        CallStatus::NoAnswer,
        CallStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Canceled => "canceled",
        }
    }

    /// The outcome of a call that ended with this status before anyone spoke to it. `None` for
    /// statuses that do not end a call, and for `completed`, whose outcome depends on what
    /// happened after the answer.
    pub fn outcome(self) -> Option<CallOutcomeCode> {
        match self {
            CallStatus::Busy => Some(CallOutcomeCode::DialBusy),
            CallStatus::NoAnswer => Some(CallOutcomeCode::DialNoAnswer),
            CallStatus::Failed => Some(CallOutcomeCode::DialFailed),
            CallStatus::Canceled => Some(CallOutcomeCode::DialCanceled),
            CallStatus::Queued
            | CallStatus::Ringing
            | CallStatus::InProgress
            | CallStatus::Completed => None,
        }
    }

    /// Where a status moves a vox call, when it moves it: ringing, or the end its outcome says.
    pub fn moves_to(self) -> Option<CallState> {
        match self {
            CallStatus::Ringing => Some(CallState::Ringing),
            _ => self.outcome().map(CallOutcomeCode::end_state),
        }
    }
}

/// A status Exotel does not document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Status {0:?}")]
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

/// `EventType` of a status callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The callee answered (the flow starts).
    Answered,
    /// The call is over.
    Terminal,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Answered => "answered",
            EventType::Terminal => "terminal",
        }
    }

    /// The callback's `EventType`; a callback without one is the terminal one (Exotel sends
    /// `EventType` only to accounts that subscribe to events).
    pub fn parse(text: Option<&str>) -> Result<Self, UnknownStatus> {
        match text.map(str::trim) {
            None | Some("") | Some("terminal") => Ok(EventType::Terminal),
            Some("answered") => Ok(EventType::Answered),
            Some(other) => Err(UnknownStatus(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_reads_back_and_the_failures_end_the_call() {
        for status in CallStatus::ALL {
            assert_eq!(status.as_str().parse::<CallStatus>(), Ok(status));
        }
        assert_eq!(CallStatus::Busy.moves_to(), Some(CallState::Busy));
        assert_eq!(CallStatus::NoAnswer.moves_to(), Some(CallState::NoAnswer));
        assert_eq!(
            CallStatus::Canceled.outcome(),
            Some(CallOutcomeCode::DialCanceled)
        );
        assert_eq!(CallStatus::Failed.moves_to(), Some(CallState::Failed));
        assert_eq!(CallStatus::Completed.moves_to(), None);
        assert_eq!(CallStatus::Ringing.moves_to(), Some(CallState::Ringing));
        assert!("hung-up".parse::<CallStatus>().is_err());
    }

    #[test]
    fn a_callback_without_an_event_type_is_the_terminal_one() {
        assert_eq!(EventType::parse(None), Ok(EventType::Terminal));
        assert_eq!(EventType::parse(Some("answered")), Ok(EventType::Answered));
        assert!(EventType::parse(Some("dial")).is_err());
    }
}
