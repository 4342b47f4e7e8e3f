//! The catalogue of stable call outcome codes (`"<area>.<snake>"`).
//!
//! The codes are stored in the database and shown in the console.
//!
//! Call outcomes are data, not Rust errors: a busy line is a normal end of a call attempt. A code,
//! once shipped, keeps its spelling forever; new codes are added, old ones are never renamed.

use crate::CallState;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! outcome_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal => $state:ident, )+) => {
        /// Why a call attempt ended (or failed to start), as a stable code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum CallOutcomeCode {
            $( $(#[$doc])* #[serde(rename = $code)] $variant, )+
        }

        impl CallOutcomeCode {
            /// Every code in the catalogue.
            pub const ALL: &'static [CallOutcomeCode] = &[$(CallOutcomeCode::$variant),+];

            /// The stable code, e.g. `"dial.busy"`.
            pub fn as_str(self) -> &'static str {
                match self { $(CallOutcomeCode::$variant => $code,)+ }
            }

            /// The terminal call state a call ends in when it ends with this outcome.
            pub fn end_state(self) -> CallState {
                match self { $(CallOutcomeCode::$variant => CallState::$state,)+ }
            }
        }
    };
}

outcome_codes! {
    /// The conversation ran and ended normally.
    CallCompleted = "call.completed" => Completed,
    /// The callee hung up during the conversation.
    CallCallerHangup = "call.caller_hangup" => Completed,
    /// The bot ended the call (the end-call tool or the end of a flow).
    CallBotHangup = "call.bot_hangup" => Completed,
    /// The call reached the bot's maximum duration.
    CallMaxDuration = "call.max_duration" => Completed,
    /// Nobody spoke for longer than the bot's silence timeout.
    CallSilenceTimeout = "call.silence_timeout" => Completed,
    /// The caller stayed silent through the bot's idle prompts; the bot said goodbye and hung up.
    CallIdleTimeout = "call.idle_timeout" => Completed,
    /// The bot transferred the call to a person.
    CallTransferred = "call.transferred" => Completed,
    /// The line was busy.
    DialBusy = "dial.busy" => Busy,
    /// It rang past the ring timeout with no answer.
    DialNoAnswer = "dial.no_answer" => NoAnswer,
    /// The carrier refused or dropped the call before answer.
    DialFailed = "dial.failed" => Failed,
    /// The number does not exist or cannot be dialled; never retried.
    DialInvalidNumber = "dial.invalid_number" => Failed,
    /// The callee rejected the call.
    DialRejected = "dial.rejected" => Busy,
    /// An answering machine answered (carrier AMD or the bot's own detection).
    DialMachine = "dial.machine" => Machine,
    /// An answered call got no agent within the compliance window (the 2-second rule).
    DialAbandoned = "dial.abandoned" => Abandoned,
    /// The dial was canceled before it connected (campaign paused or stopped).
    DialCanceled = "dial.canceled" => Canceled,
    /// No fleet worker had a free slot for an answered call.
    FleetCapacityExhausted = "fleet.capacity_exhausted" => Abandoned,
    /// The attach to a worker failed for a reason other than capacity.
    FleetAttachFailed = "fleet.attach_failed" => Failed,
    /// The worker running the call stopped (crash, restart, lost host).
    FleetWorkerLost = "fleet.worker_lost" => Failed,
    /// The worker could not fetch the runtime config for the call.
    ConfigFetchFailed = "config.fetch_failed" => Failed,
    /// The carrier's media stream sent something the worker could not understand.
    MediaProtocolError = "media.protocol_error" => Failed,
    /// Speech-to-text failed and no fallback could take over.
    ProviderSttFailed = "provider.stt_failed" => Failed,
    /// The language model failed and no fallback could take over.
    ProviderLlmFailed = "provider.llm_failed" => Failed,
    /// Text-to-speech failed and no fallback could take over.
    ProviderTtsFailed = "provider.tts_failed" => Failed,
    /// The number is on the do-not-call list; the attempt never dialled.
    ComplianceDnc = "compliance.dnc" => Canceled,
    /// The contact's local time left the calling window before the dial.
    ComplianceOutsideWindow = "compliance.outside_window" => Canceled,
    /// The stale-call cleanup ended a call stuck past its deadline.
    CleanupStale = "cleanup.stale" => Failed,
    /// An operator canceled the call.
    OperatorCanceled = "operator.canceled" => Canceled,
}

impl fmt::Display for CallOutcomeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown call outcome code {0:?}")]
pub struct UnknownOutcomeCode(pub String);

impl FromStr for CallOutcomeCode {
    type Err = UnknownOutcomeCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CallOutcomeCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| UnknownOutcomeCode(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_shaped_area_dot_snake() {
        let mut seen = HashSet::new();
        for code in CallOutcomeCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} appears twice");
            let (area, name) = text.split_once('.').expect("area.name");
            for part in [area, name] {
                assert!(!part.is_empty());
                assert!(
                    part.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{text} is not snake case"
                );
            }
        }
    }

    #[test]
    fn codes_serialize_as_their_stable_string_and_parse_back() {
        for &code in CallOutcomeCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(
                serde_json::from_str::<CallOutcomeCode>(&json).unwrap(),
                code
            );
            assert_eq!(code.as_str().parse::<CallOutcomeCode>(), Ok(code));
        }
        assert!(serde_json::from_str::<CallOutcomeCode>("\"dial.bussy\"").is_err());
    }

    #[test]
    fn every_code_ends_in_a_terminal_state() {
        for code in CallOutcomeCode::ALL {
            assert!(code.end_state().is_terminal(), "{code}");
        }
        assert_eq!(CallOutcomeCode::DialBusy.end_state(), CallState::Busy);
    }
}
