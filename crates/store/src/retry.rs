//! What happens to a contact after an attempt ends: the campaign's retry policy per outcome.
//!
//! The policy lives in the campaign's `dialler.retry` settings as
//! `{"dial.busy": {"after_minutes": 30}, "dial.machine": {"after_minutes": 240}, …}`; an outcome
//! without an entry uses [`default_delay`]. Attempts past the cap, conversations that happened,
//! and invalid numbers are never retried. Shared by the Backend (results a worker posts) and the
//! dialler (calls that end before a worker: busy, no answer, machine, abandoned, failed). A
//! lockout (`dialler_settings::lockout`) is a floor under the delay.

use crate::{Campaign, Contact, ContactNext};
use chrono::{DateTime, Duration, Utc};
use contracts::{CallOutcomeCode, CallState};
use serde_json::Value;

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
    // A lockout (after an abandon or a machine) is a floor under whatever the policy says.
    let lockout = crate::dialler_settings::lockout(&campaign.config.settings, outcome);
    match configured.or_else(|| default_delay(outcome)) {
        Some(delay) if delay >= Duration::zero() => ContactNext::RetryAt(now + delay.max(lockout)),
        _ => ContactNext::Done,
    }
}

/// Spreads a retry by ±10 % of its delay (`u` uniform in `[0, 1)`), so contacts that failed
/// together (a carrier outage, a list imported at once) do not all come due in the same tick.
pub fn jittered(next: ContactNext, now: DateTime<Utc>, u: f64) -> ContactNext {
    match next {
        ContactNext::RetryAt(at) if at > now => {
            let delay = (at - now).num_milliseconds() as f64;
            let spread = delay * 0.2 * (u.clamp(0.0, 1.0) - 0.5);
            ContactNext::RetryAt(at + Duration::milliseconds(spread as i64))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spreads_a_retry_within_ten_percent_of_its_delay() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let at = now + Duration::minutes(100);
        let early = jittered(ContactNext::RetryAt(at), now, 0.0);
        let late = jittered(ContactNext::RetryAt(at), now, 0.999_999);
        assert_eq!(early, ContactNext::RetryAt(at - Duration::minutes(10)));
        let ContactNext::RetryAt(late) = late else {
            panic!()
        };
        assert!(late > at + Duration::minutes(9) && late <= at + Duration::minutes(10));
        assert_eq!(jittered(ContactNext::Done, now, 0.3), ContactNext::Done);
        assert_eq!(
            jittered(ContactNext::RetryAt(now), now, 0.9),
            ContactNext::RetryAt(now)
        );
    }
}
