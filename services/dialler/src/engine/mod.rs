//! The dialler's loop body.
//!
//! `tick()` (leadership, running campaigns, fleet supply, pacing, fair share, fenced leases,
//! placing calls) and the reaction to carrier events (`calls.rs`).
//!
//! Time is passed in (`now`), so tests drive ticks and events without sleeping; `run` is the
//! production driver (a tick every `tick` interval, events as they come, and every 100 ms the
//! 2-second rule and the telephony edge's recorded moves, `edge.rs`).

mod breaker;
mod calls;
mod carriers;
mod edge;
mod restore;
mod takeover;

pub use carriers::{AccountCarriers, CarrierFactory};

use crate::carrier::{Carrier, CarrierEvent};
use crate::fair_share::{self, Claim};
use crate::fleet::FleetClient;
use crate::pacing::{self, Applied, Decision, Lender, Mode, Pacer, PacingConfig, Snapshot};
use chrono::{DateTime, Utc};
use contracts::attach::AmdVerdict;
use contracts::health::PacingDecision;
use contracts::{CallId, CallState, CampaignId, ContactId, E164Number, TimeZoneName};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use store::{Campaign, CampaignState, Fence, LeaseRequest, Page, Store, StoreError};
use tokio::sync::mpsc;

/// How the dialler runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This instance's id: the lease owner and leader-lease holder.
    pub owner: String,
    pub tick: Duration,
    /// Contact leases last this long unless renewed (every tick while the call lives).
    pub lease_ttl: Duration,
    /// The leader lease: a standby takes over this long after the leader stops renewing.
    pub leader_ttl: Duration,
    /// An answered human with no slot for this long is abandoned (the 2-second rule).
    pub grace: Duration,
    /// How long a call may ring (at least 15 s).
    pub ring_timeout: Duration,
    /// Played to an abandoned call before hanging up.
    pub abandon_message: String,
}

impl EngineConfig {
    pub fn new(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            tick: Duration::from_secs(2),
            lease_ttl: Duration::from_secs(600),
            leader_ttl: Duration::from_secs(10),
            grace: Duration::from_secs(2),
            ring_timeout: Duration::from_secs(30),
            abandon_message: "Sorry, we called you by mistake. We will not call again today."
                .to_owned(),
        }
    }
}

/// Where a live call is, as the dialler tracks it (its store state is in `state`).
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Leased, not placed yet (the carrier was rate-limiting).
    Unplaced,
    /// Placed, not answered.
    Ringing,
    /// Answered by a human (or no verdict), waiting for a worker since `since`.
    Waiting { since: DateTime<Utc> },
    /// With a worker since `since`.
    Talking { since: DateTime<Utc> },
}

#[derive(Debug, Clone)]
struct Live {
    /// The carrier that placed it.
    carrier: Arc<dyn Carrier>,
    campaign: CampaignId,
    contact: ContactId,
    to: E164Number,
    timezone: TimeZoneName,
    from: Option<E164Number>,
    carrier_call_id: String,
    dialled: DateTime<Utc>,
    answered: Option<DateTime<Utc>>,
    amd: Option<AmdVerdict>,
    /// Whom the campaign calls for, for the registry's client quotas.
    client: Option<String>,
    /// The call's state in the store.
    state: CallState,
    phase: Phase,
    /// Placed by a previous leader and followed since: its contact's lease is that dialler's.
    adopted: bool,
}

/// One campaign's share of a shared pool, and whether it holds what its conversations leave of
/// it for its own calls on the way.
#[derive(Debug, Clone, Copy)]
struct Holding {
    share: f64,
    holds: bool,
}

/// One campaign's live calls as the pacer sees them: conversation ages, ringing ages, calls
/// waiting for a worker, and all of them together.
#[derive(Debug, Default)]
struct Observed {
    busy: Vec<f64>,
    ringing: Vec<f64>,
    waiting: usize,
    in_flight: usize,
}

/// Counters for `/metrics`.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub ticks: u64,
    pub dials: u64,
    pub answered: u64,
    pub machines: u64,
    pub abandoned: u64,
    pub attached: u64,
    pub carrier_errors: u64,
    /// Calls a previous leader left before a worker had them, ended by this one.
    pub adopted: u64,
    /// Placements the carrier held back (rate-limiting); the call is placed on a later tick.
    pub rate_limited: u64,
    pub store_errors: u64,
    /// Times the attach breaker stopped dialling (every attach failing: M5).
    pub breaker_trips: u64,
    pub last_tick: Option<DateTime<Utc>>,
    /// The last decision per campaign.
    pub decisions: HashMap<CampaignId, Decision>,
}

/// A decision as the console shows it.
fn shown_decision(
    pacer: &Pacer,
    decision: &Decision,
    slots: f64,
    in_flight: usize,
    now: DateTime<Utc>,
) -> PacingDecision {
    let (recent, legal) = pacer.abandon_rates(secs(now));
    let on_way = (in_flight + decision.dials) as f64;
    PacingDecision {
        applied: decision.applied.label().to_owned(),
        dials: u32::try_from(decision.dials).unwrap_or(u32::MAX),
        slots,
        in_flight: u32::try_from(in_flight).unwrap_or(u32::MAX),
        dial_level: (slots > 0.0).then(|| on_way / slots),
        abandon_target: pacer.config.abandon_target,
        aimed_abandon_rate: decision.alpha,
        abandon_recent: recent,
        abandon_legal: legal,
        answer_rate: pacer.history.answer_rate(),
        aht_seconds: pacer.history.mean_handle(),
    }
}

/// One campaign's figures for `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignMetrics {
    pub campaign: CampaignId,
    pub answer_rate: Option<f64>,
    pub aht_secs: Option<f64>,
    /// Abandon rate over the last 30 minutes and over the legal window.
    pub abandon_recent: Option<f64>,
    pub abandon_legal: Option<f64>,
    pub k: f64,
    pub decision: Option<Decision>,
    pub in_flight: usize,
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickReport {
    pub leader: bool,
    pub campaigns: usize,
    pub fleet_free: u32,
    pub dials: usize,
}

/// The dialler.
pub struct Engine {
    store: Arc<dyn Store>,
    carrier: Arc<dyn Carrier>,
    fleet: Arc<FleetClient>,
    config: EngineConfig,
    fence: Option<Fence>,
    pacers: HashMap<CampaignId, Pacer>,
    live: HashMap<CallId, Live>,
    waiting: VecDeque<CallId>,
    /// Each running campaign's share of the pool and whether it holds the unused slots of it
    /// for its own calls on the way (`pacing::held`), as of the last tick.
    holdings: HashMap<CampaignId, Holding>,
    /// Builds the carriers of campaigns that name a carrier account.
    factory: Option<Arc<dyn CarrierFactory>>,
    accounts: HashMap<contracts::telephony::CarrierAccountId, carriers::Built>,
    /// The last call event read while following the edge's moves.
    edge_cursor: Option<i64>,
    /// The current tick's time and when it began here: a long tick's clock moves on.
    tick_started: Option<(DateTime<Utc>, std::time::Instant)>,
    /// Stops new dials while every attach fails.
    breaker: breaker::Breaker,
    pub stats: Stats,
}

impl Engine {
    /// A campaign's pacer, once a tick has made it.
    pub fn pacer(&self, campaign: CampaignId) -> Option<&Pacer> {
        self.pacers.get(&campaign)
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("owner", &self.config.owner)
            .field("carrier", &self.carrier.name())
            .field("fence", &self.fence)
            .field("live", &self.live.len())
            .field("waiting", &self.waiting.len())
            .finish_non_exhaustive()
    }
}

/// Seconds since the epoch: the pacer's clock.
fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The campaign's pacing settings, from `settings.dialler.pacing`: a mode name
/// (`"predictive"`, `"progressive"`, `"ratio"` with `settings.dialler.ratio_level`) or an object
/// `{"mode": …, "level": 1.5}`; predictive when absent. Its abandon target is the campaign's.
pub fn pacing_config(campaign: &Campaign) -> PacingConfig {
    let dialler = campaign.config.settings.get("dialler");
    let pacing = dialler.and_then(|d| d.get("pacing"));
    let mode = pacing
        .and_then(|p| {
            p.as_str()
                .or_else(|| p.get("mode").and_then(|m| m.as_str()))
        })
        .unwrap_or("predictive");
    let level = pacing
        .and_then(|p| p.get("level"))
        .or_else(|| dialler.and_then(|d| d.get("ratio_level")))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(1.0);
    let mode = match mode {
        "progressive" => Mode::Progressive,
        "ratio" | "fixed_ratio" => Mode::FixedRatio { level },
        _ => Mode::Predictive,
    };
    PacingConfig {
        mode,
        abandon_target: campaign.config.abandon_target,
        ..PacingConfig::default()
    }
}

/// Whether `now` is inside the campaign's schedule (`settings.starts_at` … `settings.ends_at`).
pub fn in_schedule(campaign: &Campaign, now: DateTime<Utc>) -> bool {
    let at = |key: &str| {
        campaign
            .config
            .settings
            .get(key)
            .and_then(serde_json::Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    at("starts_at").is_none_or(|s| now >= s) && at("ends_at").is_none_or(|e| now < e)
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        carrier: Arc<dyn Carrier>,
        fleet: Arc<FleetClient>,
        config: EngineConfig,
    ) -> Self {
        Self {
            store,
            carrier,
            fleet,
            config,
            fence: None,
            pacers: HashMap::new(),
            live: HashMap::new(),
            waiting: VecDeque::new(),
            holdings: HashMap::new(),
            factory: None,
            accounts: HashMap::new(),
            edge_cursor: None,
            tick_started: None,
            breaker: breaker::Breaker::default(),
            stats: Stats::default(),
        }
    }

    /// `now` moved on by the time this tick has run, for checks that must not use a stale clock
    /// (a long tick's last placements); `now` itself outside a tick.
    fn clock(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.tick_started {
            Some((at, started)) if at == now => {
                at + chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
            }
            _ => now,
        }
    }

    /// The leader fence, while this instance leads.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }

    /// What each campaign's pacer knows and last decided, for `/metrics`.
    pub fn campaign_metrics(&self, now: DateTime<Utc>) -> Vec<CampaignMetrics> {
        let mut out: Vec<CampaignMetrics> = self
            .pacers
            .iter()
            .map(|(id, pacer)| {
                let (recent, legal) = pacer.abandon_rates(secs(now));
                CampaignMetrics {
                    campaign: *id,
                    answer_rate: pacer.history.answer_rate(),
                    aht_secs: pacer.history.mean_handle(),
                    abandon_recent: recent,
                    abandon_legal: legal,
                    k: pacer.k(),
                    decision: self.stats.decisions.get(id).copied(),
                    in_flight: self.live.values().filter(|l| l.campaign == *id).count(),
                }
            })
            .collect();
        out.sort_by_key(|m| m.campaign.0);
        out
    }

    /// Calls placed and not yet over.
    pub fn active_calls(&self) -> usize {
        self.live.len()
    }

    /// Takes or keeps the leader lease; false while another instance leads. A new lease whose
    /// token is not the next after ours means another dialler led in between (and ended the calls
    /// we were following): we stand down what we had before leading again.
    async fn lead(&mut self, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let ttl = self.config.leader_ttl;
        let mut previous = None;
        if let Some(fence) = &self.fence {
            if self.store.renew_leader(fence, ttl, now).await?.is_some() {
                return Ok(true);
            }
            tracing::warn!(token = fence.token, "lost the dialler leader lease");
            previous = Some(fence.token);
            self.fence = None;
        }
        match self
            .store
            .acquire_leader(&self.config.owner, ttl, now)
            .await?
        {
            Some(lease) => {
                tracing::info!(token = lease.fencing_token, "leading the dialler");
                if previous.is_some_and(|token| lease.fencing_token != token + 1) {
                    self.stand_down().await;
                }
                self.fence = Some(Fence {
                    holder: lease.holder,
                    token: lease.fencing_token,
                });
                self.adopt_orphans(now).await;
                Ok(true)
            }
            None => {
                if previous.is_some() {
                    self.stand_down().await;
                }
                Ok(false)
            }
        }
    }

    /// One iteration of the loop.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<TickReport, StoreError> {
        self.stats.ticks += 1;
        self.stats.last_tick = Some(now);
        self.tick_started = Some((now, std::time::Instant::now()));
        if !self.lead(now).await? {
            return Ok(TickReport::default());
        }
        self.expire_waiting(now).await;
        self.attach_waiting(now).await;
        let campaigns = self
            .store
            .list_campaigns(Page::first(Page::MAX_LIMIT), Some(CampaignState::Running))
            .await?
            .items
            .into_iter()
            .filter(|c| in_schedule(c, now))
            .collect::<Vec<_>>();
        let fleet_free = if campaigns.is_empty() {
            0
        } else {
            match self.fleet.available().await {
                Ok(free) => free,
                Err(error) => {
                    tracing::warn!(%error, "the fleet's free slots are unknown; dialling nothing");
                    0
                }
            }
        };
        self.place_held_back(&campaigns, now).await;
        let allowance = self.breaker.allowance(now);
        let fleet_free = match allowance {
            breaker::Allowance::All => fleet_free,
            breaker::Allowance::Probe => fleet_free.min(1),
            breaker::Allowance::None => 0,
        };
        let mut report = TickReport {
            leader: true,
            campaigns: campaigns.len(),
            fleet_free,
            dials: 0,
        };
        let observed: Vec<Observed> = campaigns.iter().map(|c| self.observe(c.id, now)).collect();
        // The pool: the fleet's free slots plus the ones our own conversations hold.
        let ours: usize = observed.iter().map(|o| o.busy.len()).sum();
        let pool = f64::from(fleet_free) + ours as f64;
        let claims: Vec<Claim> = campaigns
            .iter()
            .map(|c| Claim {
                weight: c.config.weight as f64,
                cap: c.config.concurrency_cap as f64,
            })
            .collect();
        let shares = fair_share::shares(pool, &claims);
        let mut free_left = f64::from(fleet_free) - self.waiting.len() as f64;
        let mut snapshots = Vec::with_capacity(campaigns.len());
        for ((campaign, &share), seen) in campaigns.iter().zip(&shares).zip(&observed) {
            let free = (share - seen.busy.len() as f64 - seen.waiting as f64)
                .max(0.0)
                .min(free_left.max(0.0));
            free_left -= free;
            let headroom =
                (campaign.config.concurrency_cap.max(0) as usize).saturating_sub(seen.in_flight);
            snapshots.push(Snapshot {
                slots: share,
                free,
                busy: &seen.busy,
                ringing: &seen.ringing,
                screening: 0,
                waiting: seen.waiting,
                headroom,
                lent: 0.0,
                shared: campaigns.len() > 1,
            });
            if !self.pacers.contains_key(&campaign.id) {
                let pacer = self.restored_pacer(campaign, now).await;
                self.pacers.insert(campaign.id, pacer);
            }
        }
        // Campaigns sharing the pool lend each other the slots of their shares they will leave
        // unused (`pacing::lent`).
        if snapshots.len() > 1 {
            let lenders: Vec<Lender> = campaigns
                .iter()
                .zip(&snapshots)
                .zip(&claims)
                .map(
                    |((campaign, snapshot), claim)| match self.pacers.get(&campaign.id) {
                        Some(pacer) => pacer.lender(secs(now), snapshot, claim.weight),
                        None => Lender::apart(claim.weight),
                    },
                )
                .collect();
            for (snapshot, lent) in snapshots.iter_mut().zip(pacing::lent(&lenders)) {
                snapshot.lent = lent;
            }
            self.holdings = campaigns
                .iter()
                .zip(&shares)
                .zip(&lenders)
                .map(|((campaign, &share), lender)| {
                    (
                        campaign.id,
                        Holding {
                            share,
                            holds: lender.holds,
                        },
                    )
                })
                .collect();
        } else {
            self.holdings.clear();
        }
        for ((campaign, share), (snapshot, seen)) in campaigns
            .iter()
            .zip(shares)
            .zip(snapshots.iter().zip(&observed))
        {
            let Some(pacer) = self.pacers.get_mut(&campaign.id) else {
                continue;
            };
            pacer.config.abandon_target = campaign.config.abandon_target;
            let decision = pacer.decide(secs(now), snapshot);
            self.stats.decisions.insert(campaign.id, decision);
            let shown = shown_decision(pacer, &decision, share, seen.in_flight, now);
            self.show_decision(campaign.id, &shown, now).await;
            if decision.dials > 0 {
                report.dials += self.dial(campaign, decision.dials, now).await?;
            }
            if decision.applied == Applied::LegalGuard {
                tracing::info!(campaign = %campaign.id, "abandon rate near the legal cap: dialling progressively");
            }
        }
        if allowance == breaker::Allowance::Probe && report.dials > 0 {
            self.breaker.probing(now);
        }
        self.renew_leases(now).await;
        Ok(report)
    }

    /// Keeps the decision where the Backend's live view reads it; a failed write costs nothing
    /// but the view's freshness.
    async fn show_decision(
        &mut self,
        campaign: CampaignId,
        shown: &PacingDecision,
        now: DateTime<Utc>,
    ) {
        let Some(fence) = &self.fence else { return };
        let document = serde_json::to_value(shown).unwrap_or_default();
        if let Err(error) = self
            .store
            .record_pacing(&fence.holder, campaign, &document, now)
            .await
        {
            self.stats.store_errors += 1;
            tracing::warn!(%campaign, %error, "could not keep the pacing decision");
        }
    }

    /// What the pacer sees of one campaign's live calls.
    fn observe(&self, campaign: CampaignId, now: DateTime<Utc>) -> Observed {
        let mut seen = Observed::default();
        for live in self.live.values().filter(|l| l.campaign == campaign) {
            seen.in_flight += 1;
            match live.phase {
                Phase::Talking { since } => seen.busy.push(secs(now) - secs(since)),
                Phase::Unplaced | Phase::Ringing => {
                    seen.ringing.push(secs(now) - secs(live.dialled))
                }
                Phase::Waiting { .. } => seen.waiting += 1,
            }
        }
        seen
    }

    /// Leases up to `n` contacts (fenced) and places a call to each.
    async fn dial(
        &mut self,
        campaign: &Campaign,
        n: usize,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        // No carrier, no lease: a campaign whose account cannot be used dials nobody.
        let carrier = match self.carrier_for(campaign).await {
            Ok(carrier) => carrier,
            Err(error) => {
                self.stats.carrier_errors += 1;
                tracing::warn!(campaign = %campaign.id, %error, "not dialling the campaign");
                return Ok(0);
            }
        };
        let request = LeaseRequest {
            campaign_id: campaign.id,
            owner: self.config.owner.clone(),
            limit: u32::try_from(n).unwrap_or(u32::MAX),
            ttl: self.config.lease_ttl,
            now,
            fence: self.fence.clone(),
        };
        let leases = match self.store.lease_contacts(request).await {
            Ok(leases) => leases,
            Err(StoreError::Fenced { .. }) => {
                tracing::warn!("the lease was fenced off: another dialler leads now");
                self.fence = None;
                self.stand_down().await;
                return Ok(0);
            }
            Err(StoreError::WrongState { .. }) => return Ok(0),
            Err(other) => return Err(other),
        };
        let placed = leases.len();
        for lease in leases {
            self.place(campaign, carrier.clone(), lease, now).await;
        }
        Ok(placed)
    }

    async fn renew_leases(&mut self, now: DateTime<Utc>) {
        let contacts: Vec<ContactId> = self.live.values().map(|l| l.contact).collect();
        if contacts.is_empty() {
            return;
        }
        if let Err(error) = self
            .store
            .renew_leases(&self.config.owner, &contacts, self.config.lease_ttl, now)
            .await
        {
            self.stats.store_errors += 1;
            tracing::warn!(%error, "renewing contact leases failed");
        }
    }

    /// The production driver: ticks on the interval, events as they arrive, the 2-second rule
    /// every 100 ms; returns when `shutdown` resolves.
    pub async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<CarrierEvent>,
        shutdown: impl std::future::Future<Output = ()>,
        mut on_tick: impl FnMut(&Engine, &TickReport),
    ) {
        let mut ticks = tokio::time::interval(self.config.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut grace = tokio::time::interval(Duration::from_millis(100));
        grace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticks.tick() => {
                    match self.tick(Utc::now()).await {
                        Ok(report) => on_tick(&self, &report),
                        Err(error) => {
                            self.stats.store_errors += 1;
                            tracing::error!(%error, "the dialler tick failed");
                        }
                    }
                }
                _ = grace.tick() => {
                    self.expire_waiting(Utc::now()).await;
                    self.follow_edge().await;
                }
                Some(event) = events.recv() => self.on_event(event).await,
            }
        }
        if let Some(fence) = self.fence.take() {
            let _ = self.store.release_leader(&fence).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use store::NewCampaign;

    fn campaign(settings: serde_json::Value) -> Campaign {
        let at = DateTime::parse_from_rfc3339("2026-11-24T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Campaign {
            id: CampaignId(1),
            state: CampaignState::Running,
            config: NewCampaign {
                name: "c".into(),
                bot_id: contracts::BotId(1),
                calling_windows: Default::default(),
                max_attempts: 3,
                concurrency_cap: 10,
                weight: 1,
                abandon_target: 0.025,
                caller_id: None,
                settings,
            },
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn pacing_mode_comes_from_the_campaigns_dialler_settings() {
        let c = campaign(json!({"dialler": {"pacing": "progressive"}}));
        assert_eq!(pacing_config(&c).mode, Mode::Progressive);
        let c = campaign(json!({"dialler": {"pacing": "ratio", "ratio_level": 1.4}}));
        assert_eq!(pacing_config(&c).mode, Mode::FixedRatio { level: 1.4 });
        let c = campaign(json!({"dialler": {"pacing": {"mode": "ratio", "level": 2.0}}}));
        assert_eq!(pacing_config(&c).mode, Mode::FixedRatio { level: 2.0 });
        let c = campaign(json!({}));
        let config = pacing_config(&c);
        assert_eq!(config.mode, Mode::Predictive);
        assert_eq!(config.abandon_target, 0.025);
    }

    #[test]
    fn a_campaign_is_dialled_only_inside_its_schedule() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let c = campaign(
            json!({"starts_at": "2026-12-01T09:00:00Z", "ends_at": "2026-12-24T18:00:00Z"}),
        );
        assert!(!in_schedule(&c, at("2026-11-30T23:59:59Z")));
        assert!(in_schedule(&c, at("2026-12-01T09:00:00Z")));
        assert!(!in_schedule(&c, at("2026-12-24T18:00:00Z")));
        assert!(in_schedule(
            &campaign(json!({"starts_at": null})),
            at("2020-01-01T00:00:00Z")
        ));
    }
}
