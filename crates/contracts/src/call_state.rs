//! The call state machine: the states a call row moves through and the moves allowed between them.
//!
//! Every transition in the store is a conditional update from the expected state, checked against
//! [`CallState::can_move_to`], so a late or duplicate event cannot move a call backwards.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a call attempt stands.
///
/// Live path: `queued → leased → dialing → ringing → answered → attaching → in_progress →
/// completed`. Ends: `completed | no_answer | busy | failed | machine | abandoned | canceled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Queued,
    Leased,
    Dialing,
    Ringing,
    Answered,
    Attaching,
    InProgress,
    Completed,
    NoAnswer,
    Busy,
    Failed,
    Machine,
    Abandoned,
    Canceled,
}

impl CallState {
    /// Every state, in lifecycle order.
    pub const ALL: [CallState; 14] = [
        CallState::Queued,
        CallState::Leased,
        CallState::Dialing,
        CallState::Ringing,
        CallState::Answered,
        CallState::Attaching,
        CallState::InProgress,
        CallState::Completed,
        CallState::NoAnswer,
        CallState::Busy,
        CallState::Failed,
        CallState::Machine,
        CallState::Abandoned,
        CallState::Canceled,
    ];

    /// Live states that the stale-call reaper ends when they outlive their deadline.
    pub const REAPABLE: [CallState; 6] = [
        CallState::Leased,
        CallState::Dialing,
        CallState::Ringing,
        CallState::Answered,
        CallState::Attaching,
        CallState::InProgress,
    ];

    /// The stable lowercase name stored in the database and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Queued => "queued",
            CallState::Leased => "leased",
            CallState::Dialing => "dialing",
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Attaching => "attaching",
            CallState::InProgress => "in_progress",
            CallState::Completed => "completed",
            CallState::NoAnswer => "no_answer",
            CallState::Busy => "busy",
            CallState::Failed => "failed",
            CallState::Machine => "machine",
            CallState::Abandoned => "abandoned",
            CallState::Canceled => "canceled",
        }
    }

    /// True for the ends: nothing moves a call out of them.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CallState::Completed
                | CallState::NoAnswer
                | CallState::Busy
                | CallState::Failed
                | CallState::Machine
                | CallState::Abandoned
                | CallState::Canceled
        )
    }

    /// Whether a call in `self` may move to `next`. Moves only go forward; ends are final.
    pub fn can_move_to(self, next: CallState) -> bool {
        use CallState::*;
        if self.is_terminal() || self == next {
            return false;
        }
        // Any live call can fail or be canceled (hang-up before answer, operator stop, reaper).
        if matches!(next, Failed | Canceled) {
            return true;
        }
        match self {
            // A call placed on demand (`POST /calls`) dials straight from the queue.
            Queued => matches!(next, Leased | Dialing | Answered),
            Leased => matches!(next, Dialing),
            Dialing => matches!(next, Ringing | Answered | Busy | NoAnswer),
            Ringing => matches!(next, Answered | Busy | NoAnswer | Machine),
            Answered => matches!(next, Attaching | InProgress | Machine | Abandoned),
            Attaching => matches!(next, InProgress | Machine | Abandoned),
            InProgress => matches!(next, Completed | Machine),
            Completed | NoAnswer | Busy | Failed | Machine | Abandoned | Canceled => false,
        }
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of [`CallState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown call state {0:?}")]
pub struct UnknownCallState(pub String);

impl FromStr for CallState {
    type Err = UnknownCallState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CallState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownCallState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_name_parses_back_to_itself() {
        for state in CallState::ALL {
            assert_eq!(state.as_str().parse::<CallState>(), Ok(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert!("ringing ".parse::<CallState>().is_err());
    }

    #[test]
    fn terminal_states_never_move() {
        for from in CallState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in CallState::ALL {
                assert!(!from.can_move_to(to), "{from} -> {to} must be refused");
            }
        }
    }

    #[test]
    fn the_happy_path_is_allowed_and_never_backwards() {
        use CallState::*;
        let path = [
            Queued, Leased, Dialing, Ringing, Answered, Attaching, InProgress, Completed,
        ];
        for pair in path.windows(2) {
            assert!(pair[0].can_move_to(pair[1]), "{} -> {}", pair[0], pair[1]);
            assert!(!pair[1].can_move_to(pair[0]), "{} -> {}", pair[1], pair[0]);
        }
        assert!(!InProgress.can_move_to(Ringing));
        assert!(!Leased.can_move_to(Leased));
    }

    #[test]
    fn reapable_states_are_live() {
        for state in CallState::REAPABLE {
            assert!(!state.is_terminal());
            assert!(state.can_move_to(CallState::Failed));
        }
    }
}
