//! Leadership changes and live calls.
//!
//! A new leader ends the calls a dead leader left before a worker had them (their carrier events
//! went to the dead process) and frees their contacts; a dialler that loses the lease stands down
//! its own.
//!
//! A call placed through an edge carrier (Twilio and the others behind the Backend's edge) that
//! is still ringing is adopted: its moves reach the store whoever leads, so the new leader follows
//! it to its end. Any other call placed by another dialler and not yet with a worker (`leased`,
//! `dialing`, `ringing`, `answered`) cannot be followed from here: its progress arrives at the
//! process that placed it.
//! The new leader asks the carrier to hang it up (best effort), ends it, and hands its contact
//! back: a call that rang ends `dial.canceled` (its retry is due at once, so nothing is lost), one
//! a person answered and nobody spoke to ends `dial.abandoned` (it was, and the legal window must
//! count it). Calls with a worker are the worker's; it posts their results.

use super::{Engine, Live, Phase};
use chrono::{DateTime, Utc};
use contracts::runtime_config::CallDirection;
use contracts::{CallOutcomeCode, CallState};
use serde_json::json;
use store::{CallFilter, Page, Transition};

/// States of a call the dialler follows before a worker has it.
const DIALLER_STATES: [CallState; 4] = [
    CallState::Leased,
    CallState::Dialing,
    CallState::Ringing,
    CallState::Answered,
];

impl Engine {
    /// Ends every outbound call in a dialler-owned state that this instance is not following.
    /// Runs when this instance becomes the leader.
    pub(super) async fn adopt_orphans(&mut self, now: DateTime<Utc>) {
        for state in DIALLER_STATES {
            let filter = CallFilter {
                state: Some(state),
                direction: Some(CallDirection::Outbound),
                ..CallFilter::default()
            };
            let mut page = Page::first(Page::MAX_LIMIT);
            loop {
                let listed = match self.store.list_calls(filter.clone(), page).await {
                    Ok(listed) => listed,
                    Err(error) => {
                        self.stats.store_errors += 1;
                        tracing::warn!(%error, "could not list the calls a previous dialler left");
                        return;
                    }
                };
                for call in listed.items {
                    if !self.live.contains_key(&call.id) {
                        self.end_orphan(call, now).await;
                    }
                }
                match listed.next_after {
                    Some(after) => page.after = Some(after),
                    None => break,
                }
            }
        }
    }

    /// Follows a call a previous leader placed through an edge carrier and that is still ringing:
    /// its moves reach the store whoever leads, so it is adopted rather than ended (ending it
    /// would free its contact while the phone may still ring). False when it is not such a call.
    async fn adopt(&mut self, call: &store::Call, now: DateTime<Utc>) -> bool {
        if !matches!(call.state, CallState::Dialing | CallState::Ringing) {
            return false;
        }
        let (Some(campaign_id), Some(contact_id), Some(sid)) = (
            call.campaign_id,
            call.contact_id,
            call.carrier_call_id.as_deref(),
        ) else {
            return false;
        };
        let Ok(campaign) = self.store.campaign(campaign_id).await else {
            return false;
        };
        let Ok(carrier) = self.carrier_for(&campaign).await else {
            return false;
        };
        if !carrier.attaches_at_answer() || !self.start_following().await {
            return false;
        }
        let Ok(contact) = self.store.contact(contact_id).await else {
            return false;
        };
        carrier.follow(call.id, sid);
        // The store may have moved on between the listing and the cursor: read it again.
        let state = match self.store.call(call.id).await {
            Ok(now_call) if !now_call.state.is_terminal() => now_call.state,
            _ => return false,
        };
        self.live.insert(
            call.id,
            Live {
                carrier,
                campaign: campaign_id,
                contact: contact_id,
                to: contact.phone,
                timezone: contact.timezone,
                from: call.from.clone(),
                carrier_call_id: sid.to_owned(),
                dialled: call.created_at,
                answered: call.answered_at,
                amd: None,
                client: store::dialler_settings::client(&campaign.config.settings),
                state,
                phase: if state == CallState::Answered {
                    Phase::Waiting {
                        since: call.answered_at.unwrap_or(now),
                    }
                } else {
                    Phase::Ringing
                },
                adopted: true,
            },
        );
        self.stats.adopted += 1;
        tracing::info!(call_id = %call.id, "following a call the previous dialler placed");
        true
    }

    async fn end_orphan(&mut self, call: store::Call, now: DateTime<Utc>) {
        if self.adopt(&call, now).await {
            return;
        }
        let (outcome, detail) = if call.state == CallState::Answered {
            (
                CallOutcomeCode::DialAbandoned,
                "answered while the dialler that placed it stopped; nobody was connected",
            )
        } else {
            (
                CallOutcomeCode::DialCanceled,
                "the dialler that placed it stopped before it was answered",
            )
        };
        // Through the carrier that placed it: the campaign's account, else the default.
        let carrier = match call.campaign_id {
            Some(id) => match self.store.campaign(id).await {
                Ok(campaign) => self.carrier_for(&campaign).await.ok(),
                Err(_) => None,
            },
            None => None,
        }
        .unwrap_or_else(|| self.carrier.clone());
        if let Some(leg) = call.carrier_call_id.as_deref() {
            carrier.follow(call.id, leg);
        }
        if let Err(error) = carrier.cancel(call.id).await {
            tracing::debug!(call_id = %call.id, %error, "the carrier could not cancel an orphaned call");
        }
        let mut transition = Transition::new(call.id, call.state, outcome.end_state(), now);
        transition.outcome = Some(outcome);
        transition.detail = Some(json!({ "detail": detail, "adopted_by": self.config.owner }));
        if let Err(error) = self.store.transition(transition).await {
            // Another writer moved it first (a worker, the reaper): nothing to adopt.
            tracing::debug!(call_id = %call.id, %error, "an orphaned call moved on its own");
            return;
        }
        self.stats.adopted += 1;
        if outcome == CallOutcomeCode::DialAbandoned {
            self.stats.abandoned += 1;
        }
        tracing::info!(call_id = %call.id, %outcome, "ended a call the previous dialler left");
        if let (Some(contact), Some(campaign)) = (call.contact_id, call.campaign_id) {
            self.schedule_contact(contact, campaign, None, outcome, now)
                .await;
        }
    }

    /// This instance lost the leader lease: it hangs up what it was dialling (the new leader ends
    /// those calls in the store and redials their contacts) and follows nothing any more.
    pub(super) async fn stand_down(&mut self) {
        let live: Vec<_> = self.live.drain().collect();
        self.waiting.clear();
        for (call_id, call) in live {
            let hung_up = match call.phase {
                Phase::Unplaced | Phase::Talking { .. } => Ok(()),
                Phase::Ringing => call.carrier.cancel(call_id).await,
                // The edge attaches or abandons those itself.
                Phase::Waiting { .. } if call.carrier.attaches_at_answer() => Ok(()),
                Phase::Waiting { .. } => {
                    let message = self.config.abandon_message.clone();
                    call.carrier.play_and_hang_up(call_id, &message).await
                }
            };
            if let Err(error) = hung_up {
                tracing::debug!(%call_id, %error, "hanging up while standing down failed");
            }
        }
    }
}
