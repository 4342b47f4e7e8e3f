//! One call's way through the dialler.
//!
//! Placing it, carrier events, attach to a worker (or waiting for one under the 2-second rule), and
//! ending it with an outcome and the contact's next attempt.

use super::{Engine, Live, Phase, secs};
use crate::carrier::Carrier;
use crate::carrier::{CarrierError, CarrierEvent, Dial};
use crate::fleet::AttachError;
use crate::pacing::{self, Resolution};
use chrono::{DateTime, Utc};
use contracts::attach::{AmdVerdict, AttachRequest};
use contracts::runtime_config::CallDirection;
use contracts::telephony::CarrierKind;
use contracts::{CallId, CallOutcomeCode, CallState, CampaignId, ContactId};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use store::{Campaign, Lease, Transition, retry};

/// Calls may not ring for less than this (the minimum ring time rule).
const RING_FLOOR: Duration = Duration::from_secs(15);
/// How long a call's move is asked of a store that cannot be reached (a database restart).
const STORE_OUTAGE: Duration = Duration::from_secs(10);

impl Engine {
    /// Moves the call's record from its current state; a refused move is logged, not fatal.
    ///
    /// A store that cannot be reached is asked again, backing off, for up to [`STORE_OUTAGE`]:
    /// a move lost to a database restart would leave the record a step behind, and every later
    /// move of the call would then be refused (found by the kill test: Postgres restarted
    /// between a call's answer and its attach, and the call stayed `ringing`).
    async fn record(
        &mut self,
        call_id: CallId,
        to: CallState,
        at: DateTime<Utc>,
        build: impl FnOnce(&mut Transition),
    ) {
        let Some(live) = self.live.get_mut(&call_id) else {
            return;
        };
        // Already there, or already over (the telephony edge recorded it): nothing to write.
        if live.state == to || live.state.is_terminal() {
            return;
        }
        let mut transition = Transition::new(call_id, live.state, to, at);
        build(&mut transition);
        let deadline = tokio::time::Instant::now() + STORE_OUTAGE;
        let mut wait = Duration::from_millis(100);
        loop {
            match self.store.transition(transition.clone()).await {
                Ok(_) => live.state = to,
                // The worker took the call while the attach was answered: its config request
                // moved the record to in_progress first, where `attaching` was heading anyway.
                Err(store::StoreError::StaleTransition {
                    actual: CallState::InProgress,
                    ..
                }) if to == CallState::Attaching => {
                    live.state = CallState::InProgress;
                    tracing::debug!(%call_id, "the worker took the call before the attach was recorded");
                }
                // The telephony edge recorded the move (or another end) first: the store has it.
                Err(store::StoreError::StaleTransition { actual, .. })
                    if actual == to || (actual.is_terminal() && to.is_terminal()) =>
                {
                    live.state = actual;
                    tracing::debug!(%call_id, "the call was already {actual}");
                }
                Err(store::StoreError::Database(error))
                    if tokio::time::Instant::now() + wait < deadline =>
                {
                    self.stats.store_errors += 1;
                    tracing::warn!(%call_id, %error, "could not record the call's move to {to}; trying again in {wait:?}");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                    continue;
                }
                Err(error) => {
                    self.stats.store_errors += 1;
                    tracing::warn!(%call_id, %error, "could not record the call's move to {to}");
                }
            }
            return;
        }
    }

    /// Takes on the leased contact's call and places it.
    pub(super) async fn place(
        &mut self,
        campaign: &Campaign,
        carrier: Arc<dyn Carrier>,
        lease: Lease,
        now: DateTime<Utc>,
    ) {
        let call_id = lease.call_id;
        self.live.insert(
            call_id,
            Live {
                carrier,
                campaign: campaign.id,
                contact: lease.contact_id,
                to: lease.phone,
                timezone: lease.timezone,
                from: campaign.config.caller_id.clone(),
                carrier_call_id: String::new(),
                dialled: now,
                answered: None,
                amd: None,
                client: store::dialler_settings::client(&campaign.config.settings),
                state: CallState::Leased,
                phase: Phase::Unplaced,
                adopted: false,
            },
        );
        self.try_place(campaign, call_id, now).await;
    }

    /// Places a leased call that has not been placed yet: checks compliance once more, then asks
    /// the carrier. A carrier that is rate-limiting keeps the call for the next tick.
    pub(super) async fn try_place(
        &mut self,
        campaign: &Campaign,
        call_id: CallId,
        now: DateTime<Utc>,
    ) {
        let Some(live) = self.live.get(&call_id).cloned() else {
            return;
        };
        // The lease checked these in its transaction; placing may come later (a carrier that is
        // rate-limiting), and a number can join the DNC list in between, so they are checked
        // again at the last moment.
        if let Some((outcome, detail)) = self.recheck(campaign, &live, now).await {
            tracing::info!(%call_id, %outcome, "not dialled: {detail}");
            self.end(call_id, outcome, detail, now).await;
            return;
        }
        // Through the edge, the call is recorded dialling before the carrier hears of it: the
        // carrier's first webhook may reach the edge before its REST call returns, and must find
        // the call dialling (a call held back then stays `dialing` until it is placed).
        let edge = live.carrier.attaches_at_answer();
        if edge && live.state == CallState::Leased && !self.start_following().await {
            return;
        }
        if !self.claim(call_id, live.state, now).await {
            return;
        }
        let bound = self.placement_bound();
        let dial = Dial {
            call_id,
            campaign_id: Some(live.campaign),
            to: live.to.clone(),
            from: live.from.clone(),
            ring_timeout: self.config.ring_timeout.max(RING_FLOOR),
            detect_machine: true,
        };
        let placed = match tokio::time::timeout(bound, live.carrier.place(dial)).await {
            Ok(placed) => placed,
            Err(_) => {
                // It may have rung: not placed again at once, and a new leader may be taking over.
                self.stats.carrier_errors += 1;
                let detail = format!("the carrier did not answer within {bound:?}");
                tracing::warn!(%call_id, "{detail}");
                self.end(call_id, CallOutcomeCode::DialFailed, &detail, now)
                    .await;
                return;
            }
        };
        match placed {
            Ok(carrier_id) => {
                self.stats.dials += 1;
                // Through the edge, the leg is kept at once (where no webhook kept it first): a
                // carrier may say nothing until the answer (Exotel), and a new leader adopts
                // only a ringing call whose leg it knows.
                if edge
                    && let Ok(kind) = live.carrier.name().parse::<CarrierKind>()
                    && let Err(error) = self
                        .store
                        .note_call_leg(call_id, kind, &carrier_id, None)
                        .await
                {
                    self.stats.store_errors += 1;
                    tracing::warn!(%call_id, %error, "could not keep the call's carrier leg");
                }
                if let Some(live) = self.live.get_mut(&call_id) {
                    live.carrier_call_id = carrier_id;
                    live.dialled = now;
                    live.phase = Phase::Ringing;
                }
            }
            Err(error @ (CarrierError::RateLimited(_) | CarrierError::Unavailable(_))) => {
                self.stats.rate_limited += 1;
                tracing::info!(%call_id, %error, "the carrier is rate-limiting; placing the call next tick");
            }
            Err(error) => {
                self.stats.carrier_errors += 1;
                tracing::warn!(%call_id, %error, "placing the call failed");
                self.end(call_id, error.outcome(), &error.to_string(), now)
                    .await;
            }
        }
    }

    /// The most a placement may take: half the leader lease. A call is claimed only while this
    /// instance leads for at least that long, and the carrier is given no longer, so a new
    /// leader (which waits for the lease to lapse) never finds a placement still under way.
    fn placement_bound(&self) -> Duration {
        self.config.leader_ttl / 2
    }

    /// The last check before the carrier hears of a call (M12): the store moves it `leased →
    /// dialing` (or finds a held-back one still `dialing`) only while this instance's leader
    /// lease is valid past the placement's bound. A lease about to lapse in a long tick is
    /// renewed first; when another dialler leads, or the call moved on (a new leader ended it),
    /// nothing is placed.
    async fn claim(&mut self, call_id: CallId, from: CallState, now: DateTime<Utc>) -> bool {
        let bound = chrono::Duration::from_std(self.placement_bound()).unwrap_or_default();
        for renewed in [false, true] {
            let Some(fence) = self.fence.clone() else {
                return false;
            };
            let at = self.clock(now);
            let error = match self
                .store
                .claim_dial(&fence, call_id, from, at, at + bound)
                .await
            {
                Ok(_) => {
                    if let Some(live) = self.live.get_mut(&call_id) {
                        live.state = CallState::Dialing;
                    }
                    return true;
                }
                Err(error) => error,
            };
            match error {
                store::StoreError::Fenced { .. } if !renewed => {
                    let ttl = self.config.leader_ttl;
                    match self.store.renew_leader(&fence, ttl, at).await {
                        Ok(Some(_)) => continue,
                        Ok(None) => {
                            // The next tick's renewal fails too, and stands our calls down.
                            tracing::warn!(%call_id, "another dialler leads now: not placed");
                            return false;
                        }
                        Err(error) => {
                            self.stats.store_errors += 1;
                            tracing::warn!(%call_id, %error, "could not renew the leader lease");
                            return false;
                        }
                    }
                }
                store::StoreError::StaleTransition { actual, .. } => {
                    tracing::info!(%call_id, "the call is {actual} already: not placed");
                    if actual.is_terminal() {
                        self.live.remove(&call_id);
                        self.waiting.retain(|id| *id != call_id);
                    } else if let Some(live) = self.live.get_mut(&call_id) {
                        live.state = actual;
                    }
                    return false;
                }
                error => {
                    self.stats.store_errors += 1;
                    tracing::warn!(%call_id, %error, "could not claim the call before placing it");
                    return false;
                }
            }
        }
        false
    }

    /// Places the calls a rate-limiting carrier held back; those of a campaign that stopped
    /// running (or left its schedule) are canceled and their contacts come due again.
    pub(super) async fn place_held_back(&mut self, running: &[Campaign], now: DateTime<Utc>) {
        let held: Vec<(CallId, CampaignId)> = self
            .live
            .iter()
            .filter(|(_, l)| l.phase == Phase::Unplaced)
            .map(|(id, l)| (*id, l.campaign))
            .collect();
        for (call_id, campaign_id) in held {
            match running.iter().find(|c| c.id == campaign_id) {
                Some(campaign) => self.try_place(campaign, call_id, now).await,
                None => {
                    self.end(
                        call_id,
                        CallOutcomeCode::DialCanceled,
                        "the campaign stopped before the call was placed",
                        now,
                    )
                    .await;
                }
            }
        }
    }

    /// The compliance checks just before dialling: the DNC list and the contact's calling window.
    async fn recheck(
        &mut self,
        campaign: &Campaign,
        live: &Live,
        now: DateTime<Utc>,
    ) -> Option<(CallOutcomeCode, &'static str)> {
        if !campaign.config.calling_windows.allows(live.timezone, now) {
            return Some((
                CallOutcomeCode::ComplianceOutsideWindow,
                "the contact's calling window closed before the call was placed",
            ));
        }
        match self.store.is_dnc(live.to.as_str()).await {
            Ok(false) => None,
            Ok(true) => Some((
                CallOutcomeCode::ComplianceDnc,
                "the number joined the do-not-call list before the call was placed",
            )),
            Err(error) => {
                // Unsure is not allowed: a number is dialled only when known to be callable.
                self.stats.store_errors += 1;
                tracing::warn!(%error, "the DNC check failed; not dialling");
                Some((
                    CallOutcomeCode::DialCanceled,
                    "the DNC list could not be checked",
                ))
            }
        }
    }

    /// Reacts to what the carrier reports.
    pub async fn on_event(&mut self, event: CarrierEvent) {
        let call_id = event.call_id();
        let Some(live) = self.live.get(&call_id).cloned() else {
            tracing::debug!(%call_id, "an event for a call this dialler does not track");
            return;
        };
        match event {
            CarrierEvent::Ringing { at, .. } => {
                if live.state == CallState::Dialing {
                    self.record(call_id, CallState::Ringing, at, |_| {}).await;
                }
            }
            CarrierEvent::Answered { at, amd, .. } => self.answered(call_id, at, amd).await,
            CarrierEvent::Connected { at, .. } => {
                if let Phase::Waiting { .. } = live.phase {
                    self.stats.attached += 1;
                    if let Some(pacer) = self.pacers.get_mut(&live.campaign) {
                        pacer.history.record_human(secs(at), false);
                    }
                    if let Some(live) = self.live.get_mut(&call_id) {
                        live.phase = Phase::Talking { since: at };
                        live.state = CallState::Attaching;
                    }
                }
            }
            CarrierEvent::Ended {
                at,
                outcome,
                detail,
                ..
            } => match live.phase {
                Phase::Unplaced | Phase::Ringing => {
                    let resolution = if outcome == CallOutcomeCode::DialMachine {
                        self.stats.machines += 1;
                        Resolution::Machine
                    } else {
                        Resolution::Unanswered
                    };
                    self.learn(&live, at, resolution);
                    self.end(call_id, outcome, &detail, at).await;
                    self.release_held(at).await;
                }
                Phase::Waiting { .. } if outcome == CallOutcomeCode::DialMachine => {
                    // The carrier's verdict came after the answer (asynchronous AMD), before
                    // the call had a slot: it held none, so the pacer has nothing to learn.
                    self.stats.machines += 1;
                    self.end(call_id, outcome, &detail, at).await;
                }
                Phase::Waiting { .. } => {
                    // The callee hung up while waiting for a slot: it was abandoned.
                    self.abandon(call_id, at, false).await;
                }
                Phase::Talking { since } if outcome == CallOutcomeCode::DialMachine => {
                    // The bot's own screening found a machine: the slot is free again, and the
                    // pacer learns how long a machine held it, not a conversation with a person.
                    self.stats.machines += 1;
                    self.machine_after_all(&live, since, at);
                    self.live.remove(&call_id);
                    self.attach_waiting(at).await;
                }
                Phase::Talking { since } => {
                    // The worker posts the result; the slot is free again.
                    if let Some(pacer) = self.pacers.get_mut(&live.campaign) {
                        pacer.history.record_conversation(secs(at) - secs(since));
                    }
                    self.live.remove(&call_id);
                    self.attach_waiting(at).await;
                }
            },
        }
    }

    /// A call learnt as a human at its answer was a machine, found on its slot at `at` after
    /// holding it since `since` (see `History::machine_after_all`).
    fn machine_after_all(&mut self, live: &Live, since: DateTime<Utc>, at: DateTime<Utc>) {
        if let Some(pacer) = self.pacers.get_mut(&live.campaign) {
            pacer.history.machine_after_all(secs(at) - secs(since));
        }
    }

    fn learn(&mut self, live: &Live, at: DateTime<Utc>, resolution: Resolution) {
        if let Some(pacer) = self.pacers.get_mut(&live.campaign) {
            pacer.history.record_dial(
                secs(live.dialled),
                secs(at) - secs(live.dialled),
                resolution,
            );
        }
    }

    async fn answered(&mut self, call_id: CallId, at: DateTime<Utc>, amd: Option<AmdVerdict>) {
        self.stats.answered += 1;
        if let Some(live) = self.live.get_mut(&call_id) {
            live.answered = Some(at);
            live.amd = amd;
        }
        self.record(call_id, CallState::Answered, at, |t| {
            t.detail = amd.map(|v| json!({ "amd": v }));
        })
        .await;
        let Some(live) = self.live.get(&call_id).cloned() else {
            return;
        };
        if amd == Some(AmdVerdict::Machine) {
            self.stats.machines += 1;
            self.learn(&live, at, Resolution::Machine);
            if !live.carrier.attaches_at_answer()
                && let Err(error) = live.carrier.play_and_hang_up(call_id, "").await
            {
                tracing::warn!(%call_id, %error, "hanging up on a machine failed");
            }
            self.end(
                call_id,
                CallOutcomeCode::DialMachine,
                "the carrier detected a machine",
                at,
            )
            .await;
            self.release_held(at).await;
            return;
        }
        // A human, or no verdict: the bot screens for a machine itself once attached.
        self.learn(&live, at, Resolution::Human);
        if let Some(live) = self.live.get_mut(&call_id) {
            live.phase = Phase::Waiting { since: at };
        }
        if live.carrier.attaches_at_answer() {
            // The edge attaches it (or abandons it) and records which: `Connected` or `Ended`.
            return;
        }
        self.waiting.push_back(call_id);
        self.attach_waiting(at).await;
    }

    /// Gives free workers to waiting calls, oldest first, until one finds none.
    pub(super) async fn attach_waiting(&mut self, now: DateTime<Utc>) {
        let mut next = 0;
        while let Some(&call_id) = self.waiting.get(next) {
            if !self.may_take(call_id, now).await {
                next += 1;
                continue;
            }
            match self.attach(call_id, now).await {
                Ok(()) => {
                    self.breaker.succeeded();
                    self.waiting.remove(next);
                    if let Some(live) = self.live.get(&call_id)
                        && let Some(pacer) = self.pacers.get_mut(&live.campaign)
                    {
                        pacer.history.record_human(secs(now), false);
                    }
                }
                Err(AttachError::NoCapacity {
                    failed, reasons, ..
                }) => {
                    // Failing (not merely busy) everywhere: the fleet cannot take calls now.
                    if failed > 0 && self.breaker.failed(now) {
                        self.stats.breaker_trips += 1;
                        tracing::warn!(
                            reasons = %reasons.join("; "),
                            "every attach is failing: no new dials for {} s",
                            super::breaker::Breaker::COOLDOWN.num_seconds()
                        );
                    }
                    return;
                }
                Err(refused @ AttachError::Refused { .. }) => {
                    self.waiting.remove(next);
                    let detail = refused.to_string();
                    if let Some(live) = self.live.get(&call_id) {
                        let _ = live.carrier.play_and_hang_up(call_id, "").await;
                    }
                    self.end(call_id, CallOutcomeCode::FleetAttachFailed, &detail, now)
                        .await;
                }
            }
        }
    }

    /// A dial on the way that ends without a person leaves what its campaign held of the pool
    /// (`pacing::held`) to the calls waiting.
    async fn release_held(&mut self, at: DateTime<Utc>) {
        if self.holdings.values().any(|h| h.holds) {
            self.attach_waiting(at).await;
        }
    }

    /// Whether waiting call `call_id` may take a free worker now: beyond its campaign's share, not
    /// one that a campaign in a thin clock hour holds for its own calls on the way
    /// (`pacing::may_take`). Asks the fleet how many are free only when some other campaign holds.
    async fn may_take(&self, call_id: CallId, now: DateTime<Utc>) -> bool {
        let Some(campaign) = self.live.get(&call_id).map(|l| l.campaign) else {
            return true;
        };
        if !self.holdings.iter().any(|(c, h)| h.holds && *c != campaign) {
            return true;
        }
        let held: usize = self
            .holdings
            .iter()
            .filter(|(c, _)| **c != campaign)
            .map(|(&c, h)| {
                let seen = self.observe(c, now);
                let on_way = seen.ringing.len() + seen.waiting;
                pacing::held(h.holds, h.share, seen.busy.len(), on_way)
            })
            .sum();
        let own = self
            .holdings
            .get(&campaign)
            .map_or(f64::INFINITY, |h| h.share);
        let busy = self.observe(campaign, now).busy.len();
        // An unknown count lets the fleet decide, as before holds.
        let free = self
            .fleet
            .available()
            .await
            .map_or(usize::MAX, |f| f as usize);
        pacing::may_take(free, busy, own, held)
    }

    async fn attach(&mut self, call_id: CallId, now: DateTime<Utc>) -> Result<(), AttachError> {
        let Some(live) = self.live.get(&call_id).cloned() else {
            return Ok(());
        };
        let request = AttachRequest {
            call_id,
            direction: CallDirection::Outbound,
            campaign_id: Some(live.campaign),
            carrier: live.carrier.name().to_owned(),
            carrier_call_id: live.carrier_call_id.clone(),
            media_protocol: live.carrier.media_protocol(),
            from: live.from.clone(),
            to: Some(live.to.clone()),
            answered_at: live.answered.unwrap_or_else(Utc::now),
            amd: live.amd,
            client: live.client.clone(),
        };
        let accepted = self.fleet.attach(&request).await?;
        self.record(call_id, CallState::Attaching, now, |t| {
            t.worker_id = Some(accepted.worker_id.clone());
        })
        .await;
        if let Err(error) = live.carrier.connect(call_id, &accepted.media_url).await {
            // The callee is gone: the worker's reservation expires and records the call.
            tracing::warn!(%call_id, %error, "connecting the media to the worker failed");
        }
        self.stats.attached += 1;
        if let Some(live) = self.live.get_mut(&call_id) {
            live.phase = Phase::Talking { since: now };
        }
        Ok(())
    }

    /// The 2-second rule: a call that waited `grace` for a slot hears the message and is
    /// abandoned.
    pub(super) async fn expire_waiting(&mut self, now: DateTime<Utc>) {
        let grace = chrono::Duration::from_std(self.config.grace).unwrap_or_default();
        let expired: Vec<CallId> = self
            .waiting
            .iter()
            .copied()
            .filter(|id| {
                matches!(self.live.get(id).map(|l| &l.phase), Some(Phase::Waiting { since }) if now - *since >= grace)
            })
            .collect();
        for call_id in expired {
            self.abandon(call_id, now, true).await;
        }
    }

    async fn abandon(&mut self, call_id: CallId, now: DateTime<Utc>, play: bool) {
        self.waiting.retain(|id| *id != call_id);
        self.stats.abandoned += 1;
        if let Some(live) = self.live.get(&call_id)
            && let Some(pacer) = self.pacers.get_mut(&live.campaign)
        {
            pacer.history.record_human(secs(now), true);
        }
        if play && let Some(live) = self.live.get(&call_id) {
            let message = self.config.abandon_message.clone();
            if let Err(error) = live.carrier.play_and_hang_up(call_id, &message).await {
                tracing::warn!(%call_id, %error, "playing the abandon message failed");
            }
        }
        let detail = if play {
            "no worker was free within the grace period"
        } else {
            "the callee hung up while waiting for a worker"
        };
        self.end(call_id, CallOutcomeCode::DialAbandoned, detail, now)
            .await;
    }

    /// Records the call's end with `outcome` and schedules the contact's next attempt.
    pub(super) async fn end(
        &mut self,
        call_id: CallId,
        outcome: CallOutcomeCode,
        detail: &str,
        now: DateTime<Utc>,
    ) {
        let Some(live) = self.live.get(&call_id).cloned() else {
            return;
        };
        let end_state = outcome.end_state();
        // Some ends need the answer recorded first (a machine or an abandon after ringing).
        if matches!(end_state, CallState::Machine | CallState::Abandoned)
            && matches!(live.state, CallState::Dialing | CallState::Ringing)
        {
            self.record(call_id, CallState::Answered, now, |_| {}).await;
        }
        let detail = detail.to_owned();
        self.record(call_id, end_state, now, |t| {
            t.outcome = Some(outcome);
            t.detail = Some(json!({ "detail": detail }));
        })
        .await;
        self.live.remove(&call_id);
        self.schedule_next(&live, outcome, now).await;
    }

    async fn schedule_next(&mut self, live: &Live, outcome: CallOutcomeCode, now: DateTime<Utc>) {
        let owner = (!live.adopted).then(|| self.config.owner.clone());
        self.schedule_contact(live.contact, live.campaign, owner.as_deref(), outcome, now)
            .await;
    }

    /// Ends the lease on `contact` held by `owner` (or by whoever holds it, for a call another
    /// dialler left) with the campaign's next attempt after `outcome`, jittered.
    pub(super) async fn schedule_contact(
        &mut self,
        contact: ContactId,
        campaign: CampaignId,
        owner: Option<&str>,
        outcome: CallOutcomeCode,
        now: DateTime<Utc>,
    ) {
        let next = async {
            let campaign = self.store.campaign(campaign).await?;
            let row = self.store.contact(contact).await?;
            let Some(owner) = owner.map(str::to_owned).or_else(|| row.lease_owner.clone()) else {
                return Ok(());
            };
            let next = retry::jittered(
                retry::next_for(&campaign, &row, outcome, now),
                now,
                rand::random::<f64>(),
            );
            self.store
                .finish_attempt(contact, &owner, outcome.as_str(), next, now)
                .await
        };
        if let Err(error) = next.await {
            self.stats.store_errors += 1;
            tracing::warn!(%contact, %error, "could not schedule the contact's next attempt");
        }
    }
}
