//! The pacing benchmark's deterministic discrete-event simulation (`pacing.md`).
//!
//! A pool of bot slots, a 2 s dialler tick, dials whose fates come from per-dial random streams,
//! the 2 s grace, and the metrics the team defined.
//!
//! The policy under test is the production pacer (`dialler::pacing::Pacer`) in each of its modes,
//! or the VICIdial-like adaptive baseline (`vicidial.rs`). The pacer sees only what a dialler can
//! observe: free slots, conversation ages, dials ringing, calls being screened, calls waiting,
//! and the classified (not true) outcomes. A freed slot goes to the oldest waiting person who may
//! take it: on a shared pool, as the dialler's engine does, not one a thin campaign holds for its
//! own calls on the way (`pacing::may_take`).

pub mod family;
pub mod judge;
mod vicidial;
pub mod workload;

use dialler::fair_share::{self, Claim};
use dialler::pacing::{self, Lender, Pacer, PacingConfig, Resolution, Snapshot};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
pub use vicidial::Vicidial;
use workload::{Fate, Workload, fate};

/// Slots wait this long for an answered call before it is abandoned.
const GRACE: f64 = 2.0;
const TICK: f64 = 2.0;

/// What decides the dials.
#[derive(Debug, Clone)]
pub enum Policy {
    Pacer(PacingConfig),
    Vicidial(Vicidial),
}

/// One run's results (true figures unless named "observed").
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub utilisation: f64,
    /// Slot-seconds spent on machines AMD called human, over N × T.
    pub fn_waste: f64,
    pub abandon: f64,
    /// The abandon rate of the campaign with the highest, over the run (the legal rate is a
    /// campaign's, so a pool's other campaigns do not dilute it).
    pub worst_run: f64,
    /// The highest abandon rate of any campaign in any clock hour.
    pub worst_hour: f64,
    /// The dialler's own estimate (classified humans).
    pub observed_abandon: f64,
    pub connects_per_hour: f64,
    pub dials_per_hour: f64,
    /// Seconds from classification to a slot, of calls that got one: p50, p95, p99.
    pub wait: [f64; 3],
    /// Per campaign: human talk slot-seconds and true abandon rate.
    pub per_campaign: Vec<(f64, f64)>,
    /// Jain's index of human talk slot-seconds over campaign weights.
    pub jain: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    Tick,
    Answer(usize),
    Classify(usize),
    Unanswered(usize),
    Grace(usize),
    Free(usize),
}

#[derive(Debug, PartialEq)]
struct Scheduled(f64, u64, Event);

impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Earliest first (BinaryHeap is a max-heap), then in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Ringing,
    Screening,
    Waiting,
    Talking,
    Done,
}

#[derive(Debug)]
struct Call {
    campaign: usize,
    dialled: f64,
    fate: Fate,
    phase: Phase,
    classified: f64,
    started: f64,
}

#[derive(Default)]
struct Tally {
    human_talk: f64,
    fn_talk: f64,
    connected: u64,
    abandoned: u64,
    observed_connected: u64,
    observed_abandoned: u64,
    dials: u64,
    waits: Vec<f64>,
}

/// One campaign's dialling state.
struct Campaign {
    deciding: Decider,
    ringing: HashMap<usize, f64>,
    screening: usize,
    busy: HashMap<usize, f64>,
    waiting: usize,
    dialled: u64,
    human_talk: f64,
    connected: u64,
    abandoned: u64,
    /// Per clock hour: (true connected, true abandoned).
    hours: Vec<(u64, u64)>,
}

enum Decider {
    Pacer(Box<Pacer>),
    Vicidial(Vicidial),
}

struct Sim<'w> {
    seed: u64,
    slots: usize,
    horizon: f64,
    workload: &'w Workload,
    queue: BinaryHeap<Scheduled>,
    sequence: u64,
    calls: Vec<Call>,
    campaigns: Vec<Campaign>,
    free: usize,
    /// Answered humans waiting for a slot, oldest first.
    waiting: VecDeque<usize>,
    /// Each campaign's fair share of the slots, and whether it holds its unused share for its
    /// calls on the way (`pacing::held`), as of the last tick.
    shares: Vec<f64>,
    holds: Vec<bool>,
    tally: Tally,
}

/// Runs `policy` on `workload` with `slots` slots for `hours` simulated hours.
pub fn run(workload: &Workload, policy: &Policy, slots: usize, hours: f64, seed: u64) -> Outcome {
    let campaigns = workload
        .campaigns
        .iter()
        .map(|_| Campaign {
            deciding: match policy {
                Policy::Pacer(config) => Decider::Pacer(Box::new(Pacer::new(config.clone()))),
                Policy::Vicidial(v) => Decider::Vicidial(v.clone()),
            },
            ringing: HashMap::new(),
            screening: 0,
            busy: HashMap::new(),
            waiting: 0,
            dialled: 0,
            human_talk: 0.0,
            connected: 0,
            abandoned: 0,
            hours: vec![(0, 0); hours.ceil() as usize],
        })
        .collect();
    let mut sim = Sim {
        seed,
        slots,
        horizon: hours * 3_600.0,
        workload,
        queue: BinaryHeap::new(),
        sequence: 0,
        calls: Vec::new(),
        campaigns,
        free: slots,
        waiting: VecDeque::new(),
        shares: Vec::new(),
        holds: vec![false; workload.campaigns.len()],
        tally: Tally::default(),
    };
    sim.schedule(0.0, Event::Tick);
    while let Some(Scheduled(t, _, event)) = sim.queue.pop() {
        if t >= sim.horizon {
            break;
        }
        sim.handle(t, event);
    }
    sim.outcome()
}

impl Sim<'_> {
    fn schedule(&mut self, at: f64, event: Event) {
        self.sequence += 1;
        self.queue.push(Scheduled(at, self.sequence, event));
    }

    fn handle(&mut self, now: f64, event: Event) {
        match event {
            Event::Tick => {
                self.tick(now);
                self.schedule(now + TICK, Event::Tick);
            }
            Event::Answer(id) => {
                let c = self.calls[id].campaign;
                self.campaigns[c].ringing.remove(&id);
                self.campaigns[c].screening += 1;
                self.calls[id].phase = Phase::Screening;
            }
            Event::Unanswered(id) => {
                let call = &mut self.calls[id];
                call.phase = Phase::Done;
                let campaign = &mut self.campaigns[call.campaign];
                campaign.ringing.remove(&id);
                campaign.learn_dial(call.dialled, now - call.dialled, Resolution::Unanswered);
                self.admit(now);
            }
            Event::Classify(id) => self.classify(now, id),
            Event::Grace(id) => {
                if self.calls[id].phase == Phase::Waiting {
                    self.abandon(now, id);
                }
            }
            Event::Free(id) => {
                let call = &mut self.calls[id];
                call.phase = Phase::Done;
                let held = now - call.started;
                let machine = matches!(
                    call.fate,
                    Fate::Answered {
                        truly_human: false,
                        ..
                    }
                );
                let campaign = &mut self.campaigns[call.campaign];
                campaign.busy.remove(&id);
                // A machine the screening missed is found by the bot on its slot: the dialler
                // hears it as the call's `dial.machine` result (`History::machine_after_all`).
                if let Decider::Pacer(p) = &mut campaign.deciding {
                    if machine {
                        p.history.machine_after_all(held);
                    } else {
                        p.history.record_conversation(held);
                    }
                }
                self.free += 1;
                self.admit(now);
            }
        }
    }

    fn classify(&mut self, now: f64, id: usize) {
        let Fate::Answered { human, .. } = self.calls[id].fate else {
            return;
        };
        let c = self.calls[id].campaign;
        let call = &mut self.calls[id];
        call.classified = now;
        let dialled = call.dialled;
        let elapsed = now - dialled;
        let campaign = &mut self.campaigns[c];
        campaign.screening -= 1;
        if !human {
            call.phase = Phase::Done;
            campaign.learn_dial(dialled, elapsed, Resolution::Machine);
            self.admit(now);
            return;
        }
        campaign.learn_dial(dialled, elapsed, Resolution::Human);
        if self.may_take(c) {
            self.connect(now, id);
        } else {
            self.calls[id].phase = Phase::Waiting;
            self.campaigns[c].waiting += 1;
            self.waiting.push_back(id);
            self.schedule(now + GRACE, Event::Grace(id));
        }
    }

    /// What the campaigns other than `c` hold of the free slots now.
    fn held_by_others(&self, c: usize) -> usize {
        self.campaigns
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != c)
            .map(|(j, other)| {
                let on_way = other.ringing.len() + other.screening + other.waiting;
                pacing::held(self.holds[j], self.shares[j], other.busy.len(), on_way)
            })
            .sum()
    }

    /// Whether a person of campaign `c` may take a free slot now.
    fn may_take(&self, c: usize) -> bool {
        let busy = self.campaigns[c].busy.len();
        pacing::may_take(self.free, busy, self.shares[c], self.held_by_others(c))
    }

    /// Connects the waiting people, oldest first, that may take a free slot.
    fn admit(&mut self, now: f64) {
        while let Some(at) =
            (0..self.waiting.len()).find(|&i| self.may_take(self.calls[self.waiting[i]].campaign))
        {
            let next = self.waiting.remove(at).expect("an index of the queue");
            self.connect(now, next);
        }
    }

    /// A slot takes call `id` (classified human) now.
    fn connect(&mut self, now: f64, id: usize) {
        let call = &mut self.calls[id];
        let Fate::Answered {
            truly_human, hold, ..
        } = call.fate
        else {
            return;
        };
        let campaign = &mut self.campaigns[call.campaign];
        if call.phase == Phase::Waiting {
            campaign.waiting -= 1;
        }
        call.phase = Phase::Talking;
        call.started = now;
        self.free -= 1;
        campaign.busy.insert(id, now);
        campaign.learn_human(now, false);
        self.tally.observed_connected += 1;
        self.tally.waits.push(now - call.classified);
        let talk = hold.min(self.horizon - now).max(0.0);
        if truly_human {
            self.tally.human_talk += talk;
            campaign.human_talk += talk;
            campaign.connected += 1;
            self.tally.connected += 1;
            campaign.hours[(call.classified / 3_600.0) as usize].0 += 1;
        } else {
            self.tally.fn_talk += talk;
        }
        self.schedule(now + hold, Event::Free(id));
    }

    fn abandon(&mut self, now: f64, id: usize) {
        let call = &mut self.calls[id];
        call.phase = Phase::Done;
        self.waiting.retain(|w| *w != id);
        let campaign = &mut self.campaigns[call.campaign];
        campaign.waiting -= 1;
        campaign.learn_human(now, true);
        self.tally.observed_abandoned += 1;
        if let Fate::Answered {
            truly_human: true, ..
        } = call.fate
        {
            campaign.abandoned += 1;
            self.tally.abandoned += 1;
            campaign.hours[(call.classified / 3_600.0) as usize].1 += 1;
        }
    }

    fn tick(&mut self, now: f64) {
        let claims: Vec<Claim> = self
            .workload
            .campaigns
            .iter()
            .map(|p| Claim {
                weight: p.weight,
                cap: f64::INFINITY,
            })
            .collect();
        let shares = fair_share::shares(self.slots as f64, &claims);
        let promised = self.waiting.len();
        let mut pool_free = self.free.saturating_sub(promised) as f64;
        let slots = self.slots;
        let ages: Vec<(Vec<f64>, Vec<f64>)> = self
            .campaigns
            .iter()
            .map(|c| {
                (
                    c.busy.values().map(|s| now - s).collect(),
                    c.ringing.values().map(|d| now - d).collect(),
                )
            })
            .collect();
        let mut snapshots = Vec::with_capacity(self.campaigns.len());
        for ((campaign, &share), (busy, ringing)) in self.campaigns.iter().zip(&shares).zip(&ages) {
            // Its free share: what its share leaves after its own conversations, within the pool's.
            let free = (share - busy.len() as f64 - campaign.waiting as f64)
                .max(0.0)
                .min(pool_free);
            pool_free -= free;
            snapshots.push(Snapshot {
                slots: share,
                free,
                busy,
                ringing,
                screening: campaign.screening,
                waiting: campaign.waiting,
                headroom: 10 * slots,
                lent: 0.0,
                shared: self.campaigns.len() > 1,
            });
        }
        // The production pacers of a shared pool lend each other their spare slots, as the
        // dialler's engine does.
        if snapshots.len() > 1 {
            let lenders: Vec<Lender> = self
                .campaigns
                .iter()
                .zip(&snapshots)
                .zip(&claims)
                .map(|((c, s), claim)| match &c.deciding {
                    Decider::Pacer(p) => p.lender(now, s, claim.weight),
                    Decider::Vicidial(_) => Lender::apart(claim.weight),
                })
                .collect();
            for (snapshot, lent) in snapshots.iter_mut().zip(pacing::lent(&lenders)) {
                snapshot.lent = lent;
            }
            self.holds = lenders.iter().map(|l| l.holds).collect();
        }
        self.shares = shares;
        self.admit(now);
        let decisions: Vec<usize> = self
            .campaigns
            .iter_mut()
            .zip(&snapshots)
            .map(|(campaign, snapshot)| match &mut campaign.deciding {
                Decider::Pacer(p) => p.decide(now, snapshot).dials,
                Decider::Vicidial(v) => v.decide(now, snapshot),
            })
            .collect();
        // Dials change only their own campaign's ringing set, so deciding all first is the same.
        for (c, dials) in decisions.into_iter().enumerate() {
            for _ in 0..dials {
                self.dial(now, c);
            }
        }
    }

    fn dial(&mut self, now: f64, c: usize) {
        let index = self.campaigns[c].dialled;
        self.campaigns[c].dialled += 1;
        self.tally.dials += 1;
        let fate = fate(
            self.seed,
            c,
            index,
            now,
            self.workload.hours,
            &self.workload.campaigns[c],
        );
        let id = self.calls.len();
        self.calls.push(Call {
            campaign: c,
            dialled: now,
            fate,
            phase: Phase::Ringing,
            classified: 0.0,
            started: 0.0,
        });
        self.campaigns[c].ringing.insert(id, now);
        match fate {
            Fate::Unanswered { at } => self.schedule(now + at, Event::Unanswered(id)),
            Fate::Answered {
                answer, classify, ..
            } => {
                self.schedule(now + answer, Event::Answer(id));
                self.schedule(now + classify, Event::Classify(id));
            }
        }
    }

    fn outcome(mut self) -> Outcome {
        let capacity = self.slots as f64 * self.horizon;
        let hours = self.horizon / 3_600.0;
        let rate = |connected: u64, abandoned: u64| {
            if connected + abandoned == 0 {
                0.0
            } else {
                abandoned as f64 / (connected + abandoned) as f64
            }
        };
        let t = &mut self.tally;
        t.waits.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            t.waits
                .get(((t.waits.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let per_campaign: Vec<(f64, f64)> = self
            .campaigns
            .iter()
            .map(|c| (c.human_talk, rate(c.connected, c.abandoned)))
            .collect();
        let weights: Vec<f64> = self.workload.campaigns.iter().map(|p| p.weight).collect();
        let talk: Vec<f64> = per_campaign.iter().map(|c| c.0).collect();
        Outcome {
            utilisation: t.human_talk / capacity,
            fn_waste: t.fn_talk / capacity,
            abandon: rate(t.connected, t.abandoned),
            worst_run: self
                .campaigns
                .iter()
                .map(|c| rate(c.connected, c.abandoned))
                .fold(0.0, f64::max),
            worst_hour: self
                .campaigns
                .iter()
                .flat_map(|c| c.hours.iter())
                .map(|h| rate(h.0, h.1))
                .fold(0.0, f64::max),
            observed_abandon: rate(t.observed_connected, t.observed_abandoned),
            connects_per_hour: t.connected as f64 / hours,
            dials_per_hour: t.dials as f64 / hours,
            wait: [pct(0.5), pct(0.95), pct(0.99)],
            jain: fair_share::jain_index(&talk, &weights),
            per_campaign,
        }
    }
}

impl Campaign {
    fn learn_dial(&mut self, placed: f64, elapsed: f64, resolution: Resolution) {
        if let Decider::Pacer(p) = &mut self.deciding {
            p.history.record_dial(placed, elapsed, resolution);
        }
    }

    fn learn_human(&mut self, now: f64, abandoned: bool) {
        match &mut self.deciding {
            Decider::Pacer(p) => p.history.record_human(now, abandoned),
            Decider::Vicidial(v) => v.record_human(abandoned),
        }
    }
}
