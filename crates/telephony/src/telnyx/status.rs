//! Telnyx's `call.hangup` causes and machine-detection results, mapped to vox's codes.
//!
//! Reference: <https://developers.telnyx.com/api-reference/callbacks/call-hangup> (`hangup_cause`
//! is `call_rejected`, `normal_clearing`, `originator_cancel`, `timeout`, `time_limit`,
//! `user_busy`, `not_found` or `unspecified`; `hangup_source` is `caller`, `callee` or `unknown`;
//! `sip_hangup_cause` the SIP code, or `unspecified`) and
//! <https://developers.telnyx.com/docs/voice/programmable-voice/answering-machine-detection>
//! (`call.machine.detection.ended`: `human`, `machine`, `not_sure`;
//! `call.machine.premium.detection.ended`: `human_residence`, `human_business`, `machine`,
//! `silence`, `fax_detected`, `not_sure`).

use contracts::CallOutcomeCode;
use contracts::attach::AmdVerdict;
use std::str::FromStr;

/// `hangup_cause` of a `call.hangup` webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupCause {
    CallRejected,
    NormalClearing,
    OriginatorCancel,
    /// The callee did not answer within the dial's `timeout_secs`.
    Timeout,
    /// The call reached its `time_limit_secs`.
    TimeLimit,
    UserBusy,
    NotFound,
    Unspecified,
}

impl HangupCause {
    pub const ALL: [HangupCause; 8] = [
        HangupCause::CallRejected,
        HangupCause::NormalClearing,
        HangupCause::OriginatorCancel,
        HangupCause::Timeout,
        HangupCause::TimeLimit,
        HangupCause::UserBusy,
        HangupCause::NotFound,
        HangupCause::Unspecified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HangupCause::CallRejected => "call_rejected",
            HangupCause::NormalClearing => "normal_clearing",
            HangupCause::OriginatorCancel => "originator_cancel",
            HangupCause::Timeout => "timeout",
            HangupCause::TimeLimit => "time_limit",
            HangupCause::UserBusy => "user_busy",
            HangupCause::NotFound => "not_found",
            HangupCause::Unspecified => "unspecified",
        }
    }

    /// The outcome of a call that hung up with this cause before it was answered; `sip` is the
    /// webhook's `sip_hangup_cause` (refines `unspecified`). After an answer the outcome is the
    /// conversation's, so the caller of this asks only for unanswered calls.
    pub fn unanswered_outcome(self, sip: Option<u16>) -> CallOutcomeCode {
        if sip == Some(403) {
            // "403 User channel limit exceeded": the account's trunk, not the callee, refused;
            // the call is tried again later.
            return CallOutcomeCode::DialFailed;
        }
        match self {
            HangupCause::UserBusy => CallOutcomeCode::DialBusy,
            HangupCause::Timeout => CallOutcomeCode::DialNoAnswer,
            HangupCause::CallRejected => CallOutcomeCode::DialRejected,
            HangupCause::NotFound => CallOutcomeCode::DialInvalidNumber,
            // We hung up (or cancelled) first.
            HangupCause::OriginatorCancel => CallOutcomeCode::DialCanceled,
            HangupCause::NormalClearing | HangupCause::TimeLimit | HangupCause::Unspecified => {
                match sip {
                    Some(404 | 410 | 484 | 604) => CallOutcomeCode::DialInvalidNumber,
                    Some(486 | 600) => CallOutcomeCode::DialBusy,
                    Some(480 | 408) => CallOutcomeCode::DialNoAnswer,
                    Some(603) => CallOutcomeCode::DialRejected,
                    _ => CallOutcomeCode::DialFailed,
                }
            }
        }
    }
}

/// A cause Telnyx does not document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hangup_cause {0:?}")]
pub struct UnknownCause(pub String);

impl FromStr for HangupCause {
    type Err = UnknownCause;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        HangupCause::ALL
            .into_iter()
            .find(|cause| cause.as_str() == text)
            .ok_or_else(|| UnknownCause(text.to_owned()))
    }
}

/// `sip_hangup_cause` as a SIP code (`unspecified` and anything else not a code: `None`).
pub fn sip_code(value: &str) -> Option<u16> {
    value.parse().ok().filter(|code| (100..700).contains(code))
}

/// A machine-detection result as a verdict, from either the standard or the premium detector.
/// `not_sure` is unknown; `silence` is unknown too (nobody spoke: a person who waits, or a
/// machine with no greeting), so the bot listens; `fax_detected` is a machine.
pub fn detection_result(value: &str) -> Option<AmdVerdict> {
    match value {
        "human" | "human_residence" | "human_business" => Some(AmdVerdict::Human),
        "machine" | "fax_detected" => Some(AmdVerdict::Machine),
        "not_sure" | "silence" => Some(AmdVerdict::Unknown),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_cause_reads_back_and_ends_an_unanswered_call_with_its_outcome() {
        for cause in HangupCause::ALL {
            assert_eq!(cause.as_str().parse::<HangupCause>(), Ok(cause));
        }
        let outcome = |c: &str, sip: &str| {
            c.parse::<HangupCause>()
                .unwrap()
                .unanswered_outcome(sip_code(sip))
        };
        assert_eq!(outcome("user_busy", "486"), CallOutcomeCode::DialBusy);
        assert_eq!(
            outcome("timeout", "unspecified"),
            CallOutcomeCode::DialNoAnswer
        );
        assert_eq!(
            outcome("call_rejected", "603"),
            CallOutcomeCode::DialRejected
        );
        assert_eq!(
            outcome("not_found", "404"),
            CallOutcomeCode::DialInvalidNumber
        );
        assert_eq!(
            outcome("originator_cancel", "487"),
            CallOutcomeCode::DialCanceled
        );
        // `unspecified` and `normal_clearing` before an answer: the SIP code decides.
        assert_eq!(
            outcome("unspecified", "484"),
            CallOutcomeCode::DialInvalidNumber
        );
        assert_eq!(
            outcome("normal_clearing", "480"),
            CallOutcomeCode::DialNoAnswer
        );
        assert_eq!(outcome("unspecified", "503"), CallOutcomeCode::DialFailed);
        // The account over its channel limit: failed (tried again), whatever the cause says.
        assert_eq!(outcome("call_rejected", "403"), CallOutcomeCode::DialFailed);
        assert_eq!(
            outcome("unspecified", "unspecified"),
            CallOutcomeCode::DialFailed
        );
        assert_eq!(
            "hung_up".parse::<HangupCause>(),
            Err(UnknownCause("hung_up".into()))
        );
        assert_eq!(sip_code("999"), None);
    }

    #[test]
    fn standard_and_premium_detection_results_become_verdicts() {
        assert_eq!(detection_result("human"), Some(AmdVerdict::Human));
        assert_eq!(detection_result("human_business"), Some(AmdVerdict::Human));
        assert_eq!(detection_result("machine"), Some(AmdVerdict::Machine));
        assert_eq!(detection_result("fax_detected"), Some(AmdVerdict::Machine));
        assert_eq!(detection_result("not_sure"), Some(AmdVerdict::Unknown));
        assert_eq!(detection_result("silence"), Some(AmdVerdict::Unknown));
        assert_eq!(detection_result("beep_detected"), None);
    }
}
