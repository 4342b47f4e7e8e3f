//! A campaign's `dialler` settings (pacing, retry policy, daily attempt cap, lockouts).
//!
//! What each key means, its default, and the check that refuses a malformed one naming the field.
//!
//! The settings live in the campaign's free-form `settings.dialler` object so the console and the
//! API can carry them without a schema change per knob; this module is the one place that reads
//! and validates them:
//!
//! ```json
//! {"pacing": "predictive" | "progressive" | "ratio" | {"mode": "ratio", "level": 1.5},
//!  "ratio_level": 1.5,
//!  "retry": {"dial.busy": {"after_minutes": 30}, …},
//!  "max_attempts_per_day": 2,
//!  "carrier_account": 3,
//!  "lockout_hours": {"dial.abandoned": 72, "dial.machine": 24}}
//! ```

use crate::error::{Result, StoreError};
use chrono::Duration;
use contracts::CallOutcomeCode;
use serde_json::Value;

/// Pacing modes a campaign may name.
pub const PACING_MODES: &[&str] = &["predictive", "progressive", "ratio", "fixed_ratio"];

/// The lockout after an outcome when the campaign names none: no call back to an abandoned
/// number within 72 hours (Ofcom's rule for calls without a guaranteed agent), nor to a number a
/// machine answered within 24 hours (the same rule's answer-machine case).
pub fn default_lockout(outcome: CallOutcomeCode) -> Duration {
    match outcome {
        CallOutcomeCode::DialAbandoned => Duration::hours(72),
        CallOutcomeCode::DialMachine => Duration::hours(24),
        _ => Duration::zero(),
    }
}

fn dialler(settings: &Value) -> Option<&Value> {
    settings.get("dialler")
}

/// The carrier account the campaign dials through (`carrier_account`); the dialler's default
/// carrier (the PSTN simulator in `vox up`) when absent.
pub fn carrier_account(settings: &Value) -> Option<contracts::telephony::CarrierAccountId> {
    dialler(settings)?
        .get("carrier_account")?
        .as_i64()
        .filter(|n| *n > 0)
        .map(contracts::telephony::CarrierAccountId)
}

/// The most dials one contact may get in any 24 hours, when the campaign caps it.
/// Whom the campaign calls for (`settings.client`), for the registry's client quotas.
pub fn client(settings: &Value) -> Option<String> {
    settings
        .get("client")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub fn max_attempts_per_day(settings: &Value) -> Option<i64> {
    dialler(settings)?
        .get("max_attempts_per_day")?
        .as_i64()
        .filter(|n| *n > 0)
}

/// How long after `outcome` the contact may not be called again (`lockout_hours`, else
/// [`default_lockout`]; 0 lifts it).
pub fn lockout(settings: &Value, outcome: CallOutcomeCode) -> Duration {
    dialler(settings)
        .and_then(|d| d.get("lockout_hours"))
        .and_then(|l| l.get(outcome.as_str()))
        .and_then(Value::as_f64)
        .filter(|h| h.is_finite() && *h >= 0.0)
        .map(|h| Duration::milliseconds((h * 3_600_000.0) as i64))
        .unwrap_or_else(|| default_lockout(outcome))
}

fn invalid(field: &str, message: impl ToString) -> StoreError {
    StoreError::invalid(format!("dialler.{field}"), message)
}

fn outcome_key(field: &str, key: &str) -> Result<CallOutcomeCode> {
    key.parse::<CallOutcomeCode>().map_err(|_| {
        invalid(
            &format!("{field}.{key}"),
            "is not an outcome code (e.g. dial.busy, dial.no_answer, dial.machine)",
        )
    })
}

fn positive_number(field: &str, value: &Value, min: f64) -> Result<f64> {
    match value.as_f64() {
        Some(v) if v.is_finite() && v >= min => Ok(v),
        _ => Err(invalid(
            field,
            format!("must be a number of at least {min}"),
        )),
    }
}

/// The JSON Schema of a campaign's `dialler` object: exactly what [`check`] accepts, for the API's
/// document.
pub fn schema() -> Value {
    let outcomes: Vec<&str> = CallOutcomeCode::ALL.iter().map(|o| o.as_str()).collect();
    let outcome_names = serde_json::json!({ "type": "string", "enum": outcomes });
    let at_least_one = serde_json::json!({ "type": "number", "minimum": 1 });
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "pacing": {
                "oneOf": [
                    { "type": "string", "enum": PACING_MODES },
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["mode"],
                        "properties": {
                            "mode": { "type": "string", "enum": PACING_MODES },
                            "level": at_least_one
                        }
                    }
                ]
            },
            "ratio_level": at_least_one,
            "retry": {
                "type": "object",
                "propertyNames": outcome_names,
                "additionalProperties": {
                    "type": "object",
                    "required": ["after_minutes"],
                    "properties": {
                        "after_minutes": { "type": "integer", "format": "int64", "minimum": 0 }
                    }
                }
            },
            "carrier_account": { "type": "integer", "format": "int64", "minimum": 1 },
            "max_attempts_per_day": { "type": "integer", "format": "int64", "minimum": 1 },
            "lockout_hours": {
                "type": "object",
                "propertyNames": outcome_names,
                "additionalProperties": { "type": "number", "minimum": 0 }
            }
        }
    })
}

/// Refuses a `dialler` object with an unknown key or a value of the wrong shape.
pub fn check(settings: &Value) -> Result<()> {
    let Some(dialler) = dialler(settings) else {
        return Ok(());
    };
    if dialler.is_null() {
        return Ok(());
    }
    let Some(object) = dialler.as_object() else {
        return Err(StoreError::invalid("dialler", "must be an object"));
    };
    for (key, value) in object {
        match key.as_str() {
            "pacing" => check_pacing(value)?,
            "ratio_level" => {
                positive_number("ratio_level", value, 1.0)?;
            }
            "retry" => check_retry(value)?,
            "carrier_account" => match value.as_i64() {
                Some(n) if n >= 1 => {}
                _ => {
                    return Err(invalid(
                        "carrier_account",
                        "must be the id of a carrier account",
                    ));
                }
            },
            "max_attempts_per_day" => match value.as_i64() {
                Some(n) if n >= 1 => {}
                _ => {
                    return Err(invalid(
                        "max_attempts_per_day",
                        "must be a whole number of at least 1",
                    ));
                }
            },
            "lockout_hours" => {
                let Some(map) = value.as_object() else {
                    return Err(invalid(
                        "lockout_hours",
                        "must be an object of outcome → hours",
                    ));
                };
                for (outcome, hours) in map {
                    outcome_key("lockout_hours", outcome)?;
                    positive_number(&format!("lockout_hours.{outcome}"), hours, 0.0)?;
                }
            }
            other => {
                return Err(invalid(
                    other,
                    "is not a dialler setting (pacing, ratio_level, retry, max_attempts_per_day, lockout_hours)",
                ));
            }
        }
    }
    Ok(())
}

fn check_pacing(value: &Value) -> Result<()> {
    let mode = match value {
        Value::String(mode) => mode.as_str(),
        Value::Object(map) => {
            if let Some(level) = map.get("level") {
                positive_number("pacing.level", level, 1.0)?;
            }
            if let Some(unknown) = map.keys().find(|k| !matches!(k.as_str(), "mode" | "level")) {
                return Err(invalid(
                    &format!("pacing.{unknown}"),
                    "is not a pacing setting (mode, level)",
                ));
            }
            map.get("mode").and_then(Value::as_str).unwrap_or("")
        }
        _ => "",
    };
    if PACING_MODES.contains(&mode) {
        Ok(())
    } else {
        Err(invalid(
            "pacing",
            format!("must be one of {}", PACING_MODES.join(", ")),
        ))
    }
}

fn check_retry(value: &Value) -> Result<()> {
    let Some(map) = value.as_object() else {
        return Err(invalid(
            "retry",
            "must be an object of outcome → {after_minutes}",
        ));
    };
    for (outcome, rule) in map {
        outcome_key("retry", outcome)?;
        let field = format!("retry.{outcome}.after_minutes");
        match rule.get("after_minutes").and_then(Value::as_i64) {
            Some(m) if m >= 0 => {}
            _ => {
                return Err(invalid(
                    &field,
                    "must be a whole number of minutes, 0 or more",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(settings: Value) -> String {
        match check(&settings) {
            Err(StoreError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn well_formed_dialler_settings_pass_the_check() {
        let settings = json!({"dialler": {
            "pacing": {"mode": "ratio", "level": 1.6},
            "retry": {"dial.busy": {"after_minutes": 45}},
            "max_attempts_per_day": 2,
            "lockout_hours": {"dial.abandoned": 48, "dial.machine": 0}
        }});
        check(&settings).unwrap();
        check(&json!({})).unwrap();
        check(&json!({"dialler": {"pacing": "progressive"}})).unwrap();
    }

    #[test]
    fn malformed_dialler_settings_are_refused_naming_the_field() {
        assert_eq!(
            field_of(json!({"dialler": {"pacing": "fast"}})),
            "dialler.pacing"
        );
        assert_eq!(
            field_of(json!({"dialler": {"pacing": {"mode": "ratio", "level": 0.5}}})),
            "dialler.pacing.level"
        );
        assert_eq!(
            field_of(json!({"dialler": {"retry": {"dial.bsy": {"after_minutes": 5}}}})),
            "dialler.retry.dial.bsy"
        );
        assert_eq!(
            field_of(json!({"dialler": {"retry": {"dial.busy": {"after_minutes": -5}}}})),
            "dialler.retry.dial.busy.after_minutes"
        );
        assert_eq!(
            field_of(json!({"dialler": {"max_attempts_per_day": 0}})),
            "dialler.max_attempts_per_day"
        );
        assert_eq!(
            field_of(json!({"dialler": {"lockout_hours": {"dial.machine": "a day"}}})),
            "dialler.lockout_hours.dial.machine"
        );
        assert_eq!(field_of(json!({"dialler": {"pace": 1}})), "dialler.pace");
        assert_eq!(field_of(json!({"dialler": [1]})), "dialler");
    }

    #[test]
    fn lockouts_default_to_three_days_after_an_abandon_and_a_day_after_a_machine() {
        let none = json!({});
        assert_eq!(
            lockout(&none, CallOutcomeCode::DialAbandoned),
            Duration::hours(72)
        );
        assert_eq!(
            lockout(&none, CallOutcomeCode::DialMachine),
            Duration::hours(24)
        );
        assert_eq!(lockout(&none, CallOutcomeCode::DialBusy), Duration::zero());
        let set = json!({"dialler": {"lockout_hours": {"dial.machine": 0, "dial.busy": 1.5}}});
        assert_eq!(
            lockout(&set, CallOutcomeCode::DialMachine),
            Duration::zero()
        );
        assert_eq!(
            lockout(&set, CallOutcomeCode::DialBusy),
            Duration::minutes(90)
        );
        assert_eq!(max_attempts_per_day(&none), None);
        assert_eq!(
            max_attempts_per_day(&json!({"dialler": {"max_attempts_per_day": 2}})),
            Some(2)
        );
    }
}
