//! Following the telephony edge: the moves it recorded for the dialler's calls as carrier events.
//!
//! The calls are those placed through a carrier that attaches at answer.
//! The store is the channel: the edge keeps each webhook and the call's move before the carrier
//! gets its 2xx, and this dialler reads the call events after its cursor (every 100 ms in `run`).
//! The cursor starts at the newest event before the first such call is placed, so every move of
//! a followed call comes after it.

use super::Engine;
use carrier::CarrierEvent;
use contracts::attach::AmdVerdict;
use contracts::{CallOutcomeCode, CallState};
use store::CallEvent;

/// Events read per store round trip.
const BATCH: u32 = 500;

/// The carrier event a recorded move means, when it means one.
pub(super) fn carrier_event(event: &CallEvent) -> Option<CarrierEvent> {
    let (call_id, at) = (event.call_id, event.at);
    let detail = |key: &str| {
        event
            .detail
            .as_ref()
            .and_then(|d| d.get(key))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    Some(match event.to_state {
        CallState::Ringing => CarrierEvent::Ringing { call_id, at },
        CallState::Answered => CarrierEvent::Answered {
            call_id,
            at,
            amd: event
                .detail
                .as_ref()
                .and_then(|d| d.get("amd"))
                .and_then(|v| serde_json::from_value::<AmdVerdict>(v.clone()).ok()),
        },
        CallState::Attaching | CallState::InProgress => CarrierEvent::Connected { call_id, at },
        end if end.is_terminal() => CarrierEvent::Ended {
            call_id,
            at,
            outcome: event.outcome.unwrap_or(match end {
                CallState::Busy => CallOutcomeCode::DialBusy,
                CallState::NoAnswer => CallOutcomeCode::DialNoAnswer,
                CallState::Machine => CallOutcomeCode::DialMachine,
                CallState::Abandoned => CallOutcomeCode::DialAbandoned,
                CallState::Canceled => CallOutcomeCode::DialCanceled,
                CallState::Completed => CallOutcomeCode::CallCompleted,
                _ => CallOutcomeCode::DialFailed,
            }),
            detail: detail("detail").unwrap_or_else(|| format!("the call ended {end}")),
        },
        _ => return None,
    })
}

impl Engine {
    /// Starts following the edge's events from the newest one, before the first call to follow
    /// is placed; false when the store cannot say where they end.
    pub(super) async fn start_following(&mut self) -> bool {
        if self.edge_cursor.is_some() {
            return true;
        }
        match self.store.last_call_event_id().await {
            Ok(last) => {
                self.edge_cursor = Some(last);
                true
            }
            Err(error) => {
                self.stats.store_errors += 1;
                tracing::warn!(%error, "could not find where the call events end");
                false
            }
        }
    }

    /// Reads the call events recorded since the last read and reacts to those of calls this
    /// dialler follows through an edge carrier.
    pub async fn follow_edge(&mut self) {
        if self.fence.is_none() {
            return;
        }
        let Some(mut cursor) = self.edge_cursor else {
            return;
        };
        if !self.live.values().any(|l| l.carrier.attaches_at_answer()) {
            // Nothing to follow: the next edge call starts from the newest event again.
            self.edge_cursor = None;
            return;
        }
        loop {
            let events = match self.store.call_events_after(cursor, BATCH).await {
                Ok(events) => events,
                Err(error) => {
                    self.stats.store_errors += 1;
                    tracing::warn!(%error, "could not read the edge's call events");
                    return;
                }
            };
            let full = events.len() == BATCH as usize;
            for event in events {
                cursor = event.id;
                self.edge_cursor = Some(cursor);
                let Some(live) = self
                    .live
                    .get_mut(&event.call_id)
                    .filter(|l| l.carrier.attaches_at_answer())
                else {
                    continue;
                };
                // The store's state is the truth: the reaction below records only what is new.
                if live.state.can_move_to(event.to_state) {
                    live.state = event.to_state;
                }
                if let Some(carrier_event) = carrier_event(&event) {
                    self.on_event(carrier_event).await;
                }
            }
            if !full {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use contracts::CallId;
    use serde_json::json;

    fn event(
        to: CallState,
        outcome: Option<CallOutcomeCode>,
        detail: serde_json::Value,
    ) -> CallEvent {
        CallEvent {
            id: 1,
            call_id: CallId(7),
            from_state: None,
            to_state: to,
            outcome,
            detail: Some(detail),
            at: Utc::now(),
        }
    }

    #[test]
    fn the_edges_moves_become_the_carrier_events_they_mean() {
        assert!(matches!(
            carrier_event(&event(CallState::Answered, None, json!({"amd": "machine"}))),
            Some(CarrierEvent::Answered {
                amd: Some(AmdVerdict::Machine),
                ..
            })
        ));
        assert!(matches!(
            carrier_event(&event(CallState::Attaching, None, json!({}))),
            Some(CarrierEvent::Connected { .. })
        ));
        assert!(matches!(
            carrier_event(&event(CallState::Busy, None, json!({"detail": "busy"}))),
            Some(CarrierEvent::Ended { outcome: CallOutcomeCode::DialBusy, ref detail, .. }) if detail == "busy"
        ));
        assert!(matches!(
            carrier_event(&event(
                CallState::Failed,
                Some(CallOutcomeCode::DialInvalidNumber),
                json!({})
            )),
            Some(CarrierEvent::Ended {
                outcome: CallOutcomeCode::DialInvalidNumber,
                ..
            })
        ));
        assert!(carrier_event(&event(CallState::Dialing, None, json!({}))).is_none());
    }
}
