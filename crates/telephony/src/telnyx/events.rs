//! Telnyx Call Control webhooks: the envelope and the events the edge acts on, typed.
//!
//! Reference: <https://developers.telnyx.com/api-reference/callbacks/call-hangup> and its sibling
//! callback pages (`call-initiated`, `call-answered`, `call-machine-detection-ended`,
//! `call-machine-premium-detection-ended`, `call-machine-greeting-ended`, `streaming-started`,
//! `streaming-stopped`, `streaming-failed`). Every webhook is `{"data": {"record_type": "event",
//! "event_type", "id", "occurred_at", "payload": {"call_control_id", "client_state", ...}},
//! "meta": {...}}`; `id` is unique per event, so a redelivery is recognised by it.

use super::status::{HangupCause, detection_result, sip_code};
use chrono::{DateTime, Utc};
use contracts::attach::AmdVerdict;
use serde_json::Value;

/// One webhook, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// The event's id (the same on every delivery of it).
    pub id: String,
    /// `event_type` as Telnyx names it (`call.hangup`, …).
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub call_control_id: String,
    /// What we set on the command that caused it (base64), when we set something.
    pub client_state: Option<String>,
    pub event: Event,
}

/// Which way a call goes, as `call.initiated` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
}

/// What happened to the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Initiated {
        direction: Direction,
        from: String,
        to: String,
    },
    Answered,
    Hangup {
        cause: HangupCause,
        /// `caller`, `callee` or `unknown`.
        source: String,
        sip: Option<u16>,
    },
    /// `call.machine.detection.ended` or its premium twin.
    MachineDetected {
        verdict: AmdVerdict,
        premium: bool,
    },
    /// `call.machine.greeting.ended` (or premium): whether a beep was heard.
    GreetingEnded {
        beep: bool,
    },
    StreamingStarted,
    StreamingStopped,
    /// `call.speak.ended`: what `actions/speak` said has been said.
    SpeakEnded,
    StreamingFailed {
        reason: String,
    },
    /// An event the edge does not act on (`call.bridged`, `call.dtmf.received`, …).
    Other(String),
}

/// A webhook that is not a Telnyx call event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Telnyx call event: {0}")]
pub struct EventError(pub String);

fn text<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, EventError> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| EventError(format!("{pointer} is missing")))
}

/// Parses a webhook's body.
pub fn parse(body: &[u8]) -> Result<Webhook, EventError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| EventError(format!("not JSON: {e}")))?;
    let kind = text(&value, "/data/event_type")?;
    let payload = |name: &str| text(&value, &format!("/data/payload/{name}"));
    let occurred_at = DateTime::parse_from_rfc3339(text(&value, "/data/occurred_at")?)
        .map_err(|e| EventError(format!("occurred_at: {e}")))?
        .with_timezone(&Utc);
    let event = match kind {
        "call.initiated" => Event::Initiated {
            direction: match payload("direction")? {
                "incoming" => Direction::Incoming,
                "outgoing" => Direction::Outgoing,
                other => return Err(EventError(format!("direction {other:?}"))),
            },
            from: payload("from")?.to_owned(),
            to: payload("to")?.to_owned(),
        },
        "call.answered" => Event::Answered,
        "call.hangup" => Event::Hangup {
            // A cause Telnyx adds later is read as unspecified, not refused: the call still ends.
            cause: payload("hangup_cause")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(HangupCause::Unspecified),
            source: payload("hangup_source").unwrap_or("unknown").to_owned(),
            sip: payload("sip_hangup_cause").ok().and_then(sip_code),
        },
        "call.machine.detection.ended" | "call.machine.premium.detection.ended" => {
            let result = payload("result")?;
            Event::MachineDetected {
                verdict: detection_result(result)
                    .ok_or_else(|| EventError(format!("detection result {result:?}")))?,
                premium: kind.contains("premium"),
            }
        }
        "call.machine.greeting.ended" | "call.machine.premium.greeting.ended" => {
            Event::GreetingEnded {
                beep: payload("result")? == "beep_detected",
            }
        }
        "call.speak.ended" => Event::SpeakEnded,
        "streaming.started" => Event::StreamingStarted,
        "streaming.stopped" => Event::StreamingStopped,
        "streaming.failed" => Event::StreamingFailed {
            reason: payload("failure_reason").unwrap_or("unknown").to_owned(),
        },
        other => Event::Other(other.to_owned()),
    };
    Ok(Webhook {
        id: text(&value, "/data/id")?.to_owned(),
        event_type: kind.to_owned(),
        occurred_at,
        call_control_id: payload("call_control_id")?.to_owned(),
        client_state: value
            .pointer("/data/payload/client_state")
            .and_then(Value::as_str)
            .map(str::to_owned),
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn webhook(kind: &str, payload: Value) -> Vec<u8> {
        let mut payload = payload;
        payload["call_control_id"] =
            json!("v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg");
        payload["client_state"] = json!("aGF2ZSBhIG5pY2UgZGF5ID1d");
        json!({"data": {"record_type": "event", "event_type": kind,
            "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
            "occurred_at": "2018-02-02T22:25:27.521992Z", "payload": payload},
            "meta": {"attempt": 1, "delivered_to": "https://vox.example/hooks"}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_documented_hangup_example_reads_as_a_rejected_call() {
        let parsed = parse(&webhook(
            "call.hangup",
            json!({"connection_id": "7267xxxxxxxxxxxxxx", "from": "+35319605860",
                "to": "+35319605860", "start_time": "2018-02-02T22:20:27.521992Z",
                "state": "hangup", "hangup_cause": "call_rejected", "hangup_source": "caller",
                "sip_hangup_cause": "603"}),
        ))
        .unwrap();
        assert_eq!(parsed.id, "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0");
        assert_eq!(
            parsed.call_control_id,
            "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg"
        );
        assert_eq!(
            parsed.client_state.as_deref(),
            Some("aGF2ZSBhIG5pY2UgZGF5ID1d")
        );
        assert_eq!(
            parsed.event,
            Event::Hangup {
                cause: HangupCause::CallRejected,
                source: "caller".into(),
                sip: Some(603)
            }
        );
    }

    #[test]
    fn each_event_the_edge_acts_on_is_typed_and_the_rest_are_named() {
        let event = |kind: &str, payload: Value| parse(&webhook(kind, payload)).unwrap().event;
        assert_eq!(
            event(
                "call.initiated",
                json!({"direction": "incoming", "from": "+14155550100", "to": "+14155550199",
                    "state": "parked"})
            ),
            Event::Initiated {
                direction: Direction::Incoming,
                from: "+14155550100".into(),
                to: "+14155550199".into()
            }
        );
        assert_eq!(event("call.answered", json!({})), Event::Answered);
        assert_eq!(
            event(
                "call.machine.premium.detection.ended",
                json!({"result": "human_residence"})
            ),
            Event::MachineDetected {
                verdict: AmdVerdict::Human,
                premium: true
            }
        );
        assert_eq!(
            event("call.machine.detection.ended", json!({"result": "machine"})),
            Event::MachineDetected {
                verdict: AmdVerdict::Machine,
                premium: false
            }
        );
        assert_eq!(
            event(
                "call.machine.greeting.ended",
                json!({"result": "beep_detected"})
            ),
            Event::GreetingEnded { beep: true }
        );
        assert_eq!(
            event(
                "streaming.failed",
                json!({"failure_reason": "connection_failed"})
            ),
            Event::StreamingFailed {
                reason: "connection_failed".into()
            }
        );
        assert_eq!(
            event("call.hangup", json!({"hangup_cause": "gremlins"})),
            Event::Hangup {
                cause: HangupCause::Unspecified,
                source: "unknown".into(),
                sip: None
            }
        );
        assert_eq!(
            event("call.bridged", json!({})),
            Event::Other("call.bridged".into())
        );
    }

    #[test]
    fn a_body_that_is_not_a_call_event_is_refused_naming_what_is_missing() {
        assert!(parse(b"not json").is_err());
        let error = parse(br#"{"data": {"event_type": "call.answered"}}"#).unwrap_err();
        assert!(error.0.contains("occurred_at"), "{error}");
        let bad = webhook(
            "call.initiated",
            json!({"direction": "sideways", "from": "a", "to": "b"}),
        );
        assert!(parse(&bad).unwrap_err().0.contains("sideways"));
    }
}
