//! What happens to a contact after an attempt ends: the campaign's retry policy per outcome.
//!
//! The policy lives in the campaign's `dialler.retry` settings as
//! `{"dial.busy": {"after_minutes": 30}, "dial.machine": {"after_minutes": 240}, …}`; an outcome
//! without an entry uses [`default_delay`]. Attempts past the cap, conversations that happened,
//! and invalid numbers are never retried.

use chrono::{DateTime, Duration, Utc};
use contracts::{CallOutcomeCode, CallState};
use serde_json::Value;
use store::{Campaign, Contact, ContactNext};

/// The wait before a retry when the campaign's policy does not name the outcome.
pub fn default_delay(outcome: CallOutcomeCode) -> Option<Duration> {
    use CallOutcomeCode::*;
    match outcome {
        DialBusy | DialRejected => Some(Duration::minutes(30)),
        DialNoAnswer => Some(Duration::hours(2)),
        DialMachine => Some(Duration::hours(4)),
        DialAbandoned | FleetCapacityExhausted => Some(Duration::hours(1)),
        DialFailed | FleetAttachFailed | FleetWorkerLost | ConfigFetchFailed
        | ProviderSttFailed | ProviderLlmFailed | ProviderTtsFailed | CleanupStale => {
            Some(Duration::minutes(15))
        }
        ComplianceOutsideWindow | DialCanceled | OperatorCanceled => Some(Duration::zero()),
        _ => None,
    }
}

pub fn next_for(
    campaign: &Campaign,
    contact: &Contact,
    outcome: CallOutcomeCode,
    now: DateTime<Utc>,
) -> ContactNext {
    let reached = outcome.end_state() == CallState::Completed;
    let never = matches!(
        outcome,
        CallOutcomeCode::DialInvalidNumber | CallOutcomeCode::ComplianceDnc
    );
    if reached || never || contact.attempts >= campaign.config.max_attempts {
        return ContactNext::Done;
    }
    let configured = campaign
        .config
        .settings
        .pointer(&format!(
            "/dialler/retry/{}",
            outcome.as_str().replace('/', "~1")
        ))
        .and_then(|rule| rule.get("after_minutes"))
        .and_then(Value::as_i64)
        .map(Duration::minutes);
    match configured.or_else(|| default_delay(outcome)) {
        Some(delay) if delay >= Duration::zero() => ContactNext::RetryAt(now + delay),
        _ => ContactNext::Done,
    }
}
