//! The pacer: how many new dials a campaign places now.
//!
//! It decides from what it can observe (free slots, calls in conversation, ringing, screening and
//! waiting) and what it has learnt.
//!
//! The predictive mode is the state-aware pacer of the team's `bench/pacing.md`: choose the
//! largest `n` such that the expected overflow of human-answered calls over the slots that will be
//! free within a look-ahead `H` stays under `α_eff · E[demand]`, where
//!
//! - supply `S = free + lent + Σ_busy P(call ends within H + grace | its age)`, less what it
//!   holds beyond its share (the handle-time law, lognormal, fitted to the campaign's
//!   conversations, and until then no shorter than its slots have been held; mixed by age with
//!   the law of the machines the bot found on their slots; `lent`, slots the other campaigns of
//!   a shared pool are expected to leave unused, [`lent`]);
//! - demand `D = waiting + Σ_screening P(human | answered) + Σ_ringing P(human within H | still
//!   unresolved at its age) + n · P(human within H | just dialled)` (empirical, from a cohort of
//!   the most recently placed dials that have all resolved, large enough to hold some hundreds
//!   of people, cut to its newest dials when those say the list turned warm, raised as many
//!   times as the people of the dials of the last seconds outnumber what it foresaw for them
//!   (`surge`), and on a clock hour two clumps of abandons would break, raised to the warmth the
//!   list had before a cold spell);
//! - the dials must fit at two look-aheads, the median and the 75th percentile of the time from
//!   dial to a person, so late arrivals are foreseen too;
//! - `O = E[max(0, D − S)]`, from the exact laws of `D` and `S` (sums of independent chances) on
//!   a pool of some tens of slots, whose counts are few and skewed, and under a normal
//!   approximation of `D − S` above;
//! - `α_eff = α · k`, where `α` is the campaign's target (at most `aim_ceiling` of the cap,
//!   lower on a small pool), lowered to what the legal window and the clock hour can still
//!   afford, and `k` corrects the model's bias: the abandons it expected (`Σ α_eff` over the
//!   people answered) against those that happened, over the last `bias_memory_humans` people.
//!
//! It dials progressively (one call per free slot, counting calls already on their way) until it
//! has seen enough human answers, when the legal window can afford no more abandons
//! ([`Applied::LegalGuard`]), and for the rest of a clock hour that has spent its `hour_cap`
//! (5 %, [`Applied::HourGuard`]) or, on a pool of its own, that a single clump of abandons would
//! break. What the window or the hour can afford is otherwise a budget, not a switch: the rate
//! the rest of the period may run at with only a small chance of breaking its cap, abandons
//! counted in clumps (`allowance`), so the pacer slows down as a window nears its cap and is not
//! stopped by the noise of a young one.

mod count;
mod history;
mod lending;
pub mod overflow;
mod surge;

use count::{Count, Reuse, expected_excess};
pub use history::{Arrivals, History, Holds, Resolution, Window};
pub use lending::{Lender, held, lent, may_take};
use overflow::{LogNormal, expected_overflow};

/// How a campaign paces, chosen per campaign.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// One dial per free slot, less the calls already on their way.
    Progressive,
    /// Keep `level × slots` calls dialling or talking (VICIdial's RATIO).
    FixedRatio { level: f64 },
    /// The state-aware predictive pacer.
    Predictive,
}

/// A campaign's pacing settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PacingConfig {
    pub mode: Mode,
    /// Abandoned / human-answered calls the pacer aims for (0.03 = 3 %, a campaign's default; the
    /// aim is at most `aim_ceiling` of the legal cap).
    pub abandon_target: f64,
    /// The legal limit on the abandon rate over `legal_window_secs` (0.03 = 3 %, the US rule).
    pub legal_cap: f64,
    /// The regulatory window (30 days in the US).
    pub legal_window_secs: f64,
    /// The most abandons in any clock hour, as a share of the people answered in it (0.05): the
    /// pacer's own promise, stricter than a regulator's day or month.
    pub hour_cap: f64,
    /// Abandons come in clumps of about this many (people who answer together to a full pool):
    /// what a window or an hour can still afford is counted in clumps.
    pub abandon_clump: f64,
    /// The pacer never aims above this share of the legal cap, whatever the campaign's target:
    /// a realised rate scatters about its aim, and the window must not.
    pub aim_ceiling: f64,
    /// Look-ahead `H`, seconds: the floor of the learnt value (about ring-to-answer plus screening).
    pub lookahead_secs: f64,
    /// How long an answered person may wait for a slot before the call is abandoned (the
    /// 2-second rule): a slot that frees this long after `H` still takes a person who arrived at `H`.
    pub grace_secs: f64,
    /// `H` is learnt as each of these quantiles of the time from dial to a human needing a slot,
    /// and a decision's dials must fit within every one.
    pub lookahead_quantiles: [f64; 2],
    /// The most humans, as a share of the slots, that one decision's dials beyond progressive
    /// are expected to bring.
    pub max_step: f64,
    /// Human answers seen before predictive dialling starts.
    pub warmup_humans: u64,
    /// Pools of at most this many slots aim lower (`small_pool_factor × target`): their abandon
    /// rate is noisy and overshoots.
    pub small_pool_slots: f64,
    pub small_pool_factor: f64,
    /// How often `k` is re-estimated, and the window of the recent abandon rate (for the metrics,
    /// and for how many people the next hour brings).
    pub feedback_every_secs: f64,
    pub feedback_window_secs: f64,
    /// `k`'s memory, in people answered (the older ones weigh less, by `1 − 1/memory` each).
    pub bias_memory_humans: f64,
    /// Its prior: `k` starts at `bias_prior_k` and moves as the evidence outweighs
    /// `bias_prior_abandons` expected abandons. It starts cautious: the model counts the slots
    /// and people of the look-ahead as wholes, and on a small pool a person who answers early
    /// finds no slot that frees late in it; and an hour broken at the start cannot be mended.
    pub bias_prior_abandons: f64,
    pub bias_prior_k: f64,
    /// Handle time assumed before 20 conversations are seen.
    pub prior_handle_mean_secs: f64,
    pub prior_handle_cv: f64,
    /// P(human | answered) assumed before 20 answers are seen.
    pub prior_human_given_answered: f64,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Predictive,
            abandon_target: 0.03,
            legal_cap: 0.03,
            legal_window_secs: 30.0 * 86_400.0,
            aim_ceiling: 0.85,
            hour_cap: 0.05,
            abandon_clump: 2.0,
            lookahead_secs: 8.0,
            grace_secs: 2.0,
            lookahead_quantiles: [0.5, 0.75],
            max_step: 0.03,
            warmup_humans: 50,
            small_pool_slots: 20.0,
            small_pool_factor: 0.75,
            feedback_every_secs: 60.0,
            feedback_window_secs: 1_800.0,
            bias_memory_humans: 2_000.0,
            bias_prior_abandons: 5.0,
            bias_prior_k: 0.5,
            prior_handle_mean_secs: 120.0,
            prior_handle_cv: 0.8,
            prior_human_given_answered: 0.5,
        }
    }
}

/// What the dialler observes of one campaign at a decision.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot<'a> {
    /// The slots this campaign may fill (its fair share of the pool).
    pub slots: f64,
    /// Of those, free now (not in conversation, not promised to a waiting call).
    pub free: f64,
    /// Age in seconds of each of its conversations.
    pub busy: &'a [f64],
    /// Seconds since each of its unanswered dials was placed.
    pub ringing: &'a [f64],
    /// Answered calls being screened for a machine.
    pub screening: usize,
    /// Human-answered calls waiting for a slot.
    pub waiting: usize,
    /// The most new dials allowed now (contacts ready, concurrency and line caps).
    pub headroom: usize,
    /// Slots of the other campaigns' shares lent to this one: what they are expected to leave
    /// unused within the look-ahead ([`lent`]); 0 for a campaign alone.
    pub lent: f64,
    /// Whether other campaigns share the pool. A campaign alone has no neighbour's free slot to
    /// take its surplus person and no holds (`held`) to keep its share for its own people, so an
    /// hour one clump of abandons would break is dialled progressively to its end.
    pub shared: bool,
}

/// Why a decision was progressive or predictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Progressive,
    /// Predictive is configured but there are not enough human answers yet.
    WarmingUp,
    /// The legal window can afford no more abandons.
    LegalGuard,
    /// This clock hour has spent its abandons.
    HourGuard,
    FixedRatio,
    Predictive,
}

impl Applied {
    /// A stable label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Progressive => "progressive",
            Self::WarmingUp => "warming_up",
            Self::LegalGuard => "legal_guard",
            Self::HourGuard => "hour_guard",
            Self::FixedRatio => "fixed_ratio",
            Self::Predictive => "predictive",
        }
    }
}

/// One pacing decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub dials: usize,
    pub applied: Applied,
    /// The abandon rate the predictive pacer aimed at (`α_eff`).
    pub alpha: f64,
    /// Its expected overflow at the chosen `n`.
    pub expected_overflow: f64,
}

/// One campaign's pacer.
#[derive(Debug, Clone)]
pub struct Pacer {
    pub config: PacingConfig,
    pub history: History,
    k: f64,
    last_feedback: Option<f64>,
    /// People and abandons counted at the last `k` estimate.
    seen: (u64, u64),
    /// Σ α_eff and decisions since the last estimate (progressive ones aim at nothing).
    aimed: (f64, u32),
    /// Abandons that happened and that the aims expected, decayed by the memory.
    bias: (f64, f64),
    /// The start of the last clock hour found too thin for one clump of abandons on a pool of
    /// its own (`too_thin_alone`): it is dialled progressively to its end.
    progressive_hour: Option<f64>,
    /// Since when the pacer has decided without a pause (`PAUSE_SECS`), and its last decision.
    deciding: Option<(f64, f64)>,
}

impl Pacer {
    pub fn new(config: PacingConfig) -> Self {
        let history = History::new(config.feedback_window_secs, config.legal_window_secs);
        Self {
            k: config.bias_prior_k,
            config,
            history,
            last_feedback: None,
            seen: (0, 0),
            aimed: (0.0, 0),
            bias: (0.0, 0.0),
            progressive_hour: None,
            deciding: None,
        }
    }

    /// The correction of the model's bias: expected ÷ realised abandons.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// The abandon rate over the last `feedback_window_secs` and over the legal window.
    pub fn abandon_rates(&self, now: f64) -> (Option<f64>, Option<f64>) {
        (self.history.recent.rate(now), self.history.legal.rate(now))
    }

    /// How many dials to place now.
    pub fn decide(&mut self, now: f64, s: &Snapshot<'_>) -> Decision {
        match self.config.mode {
            Mode::Progressive => return progressive(s, Applied::Progressive),
            Mode::FixedRatio { level } => {
                let target = (level * s.slots).round();
                let engaged = (s.ringing.len() + s.screening + s.busy.len() + s.waiting) as f64;
                let dials = ((target - engaged).max(0.0) as usize).min(s.headroom);
                return Decision {
                    dials,
                    applied: Applied::FixedRatio,
                    alpha: 0.0,
                    expected_overflow: 0.0,
                };
            }
            Mode::Predictive => {}
        }
        let decision = self.decide_predictive(now, s);
        self.aimed.0 += decision.alpha;
        self.aimed.1 += 1;
        decision
    }

    fn decide_predictive(&mut self, now: f64, s: &Snapshot<'_>) -> Decision {
        self.deciding = match self.deciding {
            Some((since, last)) if now - last <= PAUSE_SECS => Some((since, now)),
            _ => Some((now, now)),
        };
        let legal = self.legal_allowance(now);
        if legal <= 0.0 {
            return progressive(s, Applied::LegalGuard);
        }
        let arrivals = self.history.arrivals(now);
        if self.history.humans() < self.config.warmup_humans || !arrivals.is_informed() {
            return progressive(s, Applied::WarmingUp);
        }
        self.feedback(now);
        let hour = self.hour_allowance(now);
        if hour <= 0.0 || self.too_thin_alone(now, s) {
            return progressive(s, Applied::HourGuard);
        }
        let surge = self
            .surge(now, s, &arrivals)
            .max(self.cold_spell(now, &arrivals));
        let arrivals = arrivals.surged(surge);
        // `k` corrects the aim by the model's bias, but a budget is a limit, not an aim: a `k`
        // above 1 (the model expects more abandons than happen) is an estimate from a few
        // abandons, and spending a budget on it broke the small pools' hours, so it raises
        // only the target.
        let budget = hour.min(legal) * self.k.min(1.0);
        let alpha = (self.target(s.slots) * self.k).min(budget);
        self.predictive(now, s, &arrivals, alpha)
    }

    /// People expected in the next `secs`, at the feedback window's rate.
    fn people_within(&self, now: f64, secs: f64) -> f64 {
        let (recent, _) = self.history.recent.totals(now);
        recent as f64 / self.config.feedback_window_secs * secs
    }

    /// The rate the legal window can afford for the next hour: as the clock hour's, but over the
    /// window (a campaign may stop at any time, so it is kept under the cap at every moment).
    fn legal_allowance(&self, now: f64) -> f64 {
        let (humans, abandoned) = self.history.legal.totals(now);
        let rest = self.people_within(now, 3_600.0);
        allowance(
            self.config.legal_cap,
            humans,
            abandoned,
            rest,
            self.config.abandon_clump,
        )
    }

    /// This clock hour's people and abandons so far, and the people the rest of it is expected
    /// to bring.
    fn this_hour(&self, now: f64) -> (u64, u64, f64) {
        let start = hour_start(now);
        let (humans, abandoned) = self.history.legal.bucket(start);
        (
            humans,
            abandoned,
            self.people_within(now, start + 3_600.0 - now),
        )
    }

    /// The rate the rest of this clock hour may run at and keep the hour within `hour_cap`.
    fn hour_allowance(&self, now: f64) -> f64 {
        let (humans, abandoned, rest) = self.this_hour(now);
        allowance(
            self.config.hour_cap,
            humans,
            abandoned,
            rest,
            self.config.abandon_clump,
        )
    }

    /// Whether this clock hour, on a pool of the campaign's own, is one that a single clump of
    /// abandons would break (5 % of fewer than about 40 people), now or earlier in it: then it is
    /// dialled progressively to its end. Its budget (`allowance`) is small but not zero, and on 6
    /// slots of 7-minute calls two people who answered within a second to a full pool broke an
    /// hour of 38. It is kept to the hour's end because the count of people the hour is expected
    /// to bring crosses 40 now and then, and the dials of those moments, on an hour dialled
    /// progressively until then, broke one of 18 people on 5 slots of 10-minute calls. That
    /// count is the rate of the last `feedback_window_secs`, so an hour is judged only once the
    /// pacer has decided that long without a pause: a campaign just started or resumed would
    /// be judged on a window it was not dialling in. A campaign sharing a pool is kept by its
    /// holds instead, and progressive would idle its share.
    fn too_thin_alone(&mut self, now: f64, s: &Snapshot<'_>) -> bool {
        if s.shared {
            return false;
        }
        let start = hour_start(now);
        let steady = self
            .deciding
            .is_some_and(|(since, _)| now - since >= self.config.feedback_window_secs);
        if steady && self.thin_hour(now, ALONE_THIN_CLUMPS) {
            self.progressive_hour = Some(start);
        }
        self.progressive_hour == Some(start)
    }

    /// Whether `clumps` clumps of abandons would break this clock hour: the abandons it may still
    /// have, 5 % of its people (those it had and those the recent rate promises) less those it
    /// had, are fewer.
    fn thin_hour(&self, now: f64, clumps: f64) -> bool {
        let (humans, abandoned, rest) = self.this_hour(now);
        let room = self.config.hour_cap * (humans as f64 + rest) - abandoned as f64;
        room < clumps * self.config.abandon_clump
    }

    /// The look-ahead `H` at a quantile of the time from dial to a person, within its floor and
    /// a minute.
    fn lookahead(&self, arrivals: &Arrivals, quantile: f64) -> f64 {
        arrivals
            .human_quantile(quantile)
            .map_or(self.config.lookahead_secs, |q| {
                q.clamp(self.config.lookahead_secs, 60.0)
            })
    }

    /// The abandon rate aimed at: the campaign's target, but no higher than `aim_ceiling` of the
    /// cap (a campaign's default target is the 3 % cap itself), and lower on a small pool.
    fn target(&self, slots: f64) -> f64 {
        let target = self
            .config
            .abandon_target
            .min(self.config.legal_cap * self.config.aim_ceiling);
        if slots <= self.config.small_pool_slots {
            target * self.config.small_pool_factor
        } else {
            target
        }
    }

    /// Every `feedback_every_secs`, re-estimates `k`: the people answered since the last estimate
    /// were expected to bring `people × mean α_eff` abandons (the model's promise), and brought
    /// what they brought. `k` is the ratio of the two over the memory, so it settles where aiming
    /// at `target · k` yields the target, without the lag and overshoot of nudging it step by
    /// step against a 30-minute rate.
    fn feedback(&mut self, now: f64) {
        let counted = (self.history.humans(), self.history.abandons());
        let Some(last) = self.last_feedback else {
            self.last_feedback = Some(now);
            self.seen = counted;
            self.aimed = (0.0, 0);
            return;
        };
        if now - last < self.config.feedback_every_secs {
            return;
        }
        self.last_feedback = Some(now);
        let people = counted.0.saturating_sub(self.seen.0) as f64;
        let abandons = counted.1.saturating_sub(self.seen.1) as f64;
        self.seen = counted;
        let aimed = if self.aimed.1 == 0 {
            0.0
        } else {
            self.aimed.0 / f64::from(self.aimed.1)
        };
        self.aimed = (0.0, 0);
        let forget = (1.0 - 1.0 / self.config.bias_memory_humans.max(1.0)).powf(people);
        self.bias.0 = self.bias.0 * forget + abandons;
        self.bias.1 = self.bias.1 * forget + people * aimed;
        let prior = self.config.bias_prior_abandons;
        self.k = ((self.bias.1 + prior * self.config.bias_prior_k) / (self.bias.0 + prior))
            .clamp(0.2, 3.0);
    }

    /// The handle-time law assumed until the campaign's own is learnt: the prior's spread, at the
    /// larger of the prior's mean and what the campaign's slots say so far, the time its
    /// conversations have held slots (those that ended and those still going) over the number
    /// that ended (from 20 ended, that alone). A campaign of 10-minute calls has had none end in
    /// its first minutes, and the prior's 2 minutes had it expect a sixth of its 178 slots to free
    /// at once: 60 to 80 abandons in its first minute of predictive dialling.
    fn handle_prior(&self, busy: &[f64]) -> LogNormal {
        let (ended, ended_secs) = self.history.ended_conversations();
        let held = ended_secs + busy.iter().sum::<f64>();
        let seen = held / ended.max(1) as f64;
        let mean = if ended >= 20 {
            seen
        } else {
            seen.max(self.config.prior_handle_mean_secs)
        };
        LogNormal::from_mean_cv(mean.max(1.0), self.config.prior_handle_cv)
    }

    /// What the campaign has learnt of its slots and its answers: the law of when its busy slots
    /// free, and `P(human | answered)`.
    fn learnt_laws(&self, now: f64, busy: &[f64]) -> (Holds, f64) {
        let handle = self.history.holds(now, self.handle_prior(busy), busy.len());
        let human = self
            .history
            .human_given_answered(self.config.prior_human_given_answered);
        (handle, human)
    }

    fn predictive(&self, now: f64, s: &Snapshot<'_>, arrivals: &Arrivals, alpha: f64) -> Decision {
        let (handle, human) = self.learnt_laws(now, s.busy);
        // Each H covers a share of the human arrivals of a dial placed now; a dial's human who
        // lands after H is in no decision's demand until the next ticks, when it can no longer be
        // un-dialled. So the dials must fit at the median arrival and at a late one: a list whose
        // people turn scarce is dialled hard, and its late arrivals (machines screened as people)
        // land together past a short H (they made 34 % abandon in the first minutes of a
        // collapse).
        let balances = self.config.lookahead_quantiles.map(|quantile| {
            let h = self.lookahead(arrivals, quantile);
            Balance::at(h, self.config.grace_secs, s, arrivals, &handle, human)
        });
        if balances[0].q_new <= 0.0 {
            // No recent dial became a human within H: nothing to predict from.
            return Decision {
                alpha,
                ..progressive(s, Applied::WarmingUp)
            };
        }
        let supply = balances[0].supply;
        // At most the dials expected to bring, beyond progressive, `step × slots` humans or the
        // slots expected to free within H, whichever is more, per decision: when few calls are in
        // flight (the first predictive decision, a resumed campaign) the model would place them
        // all at once, and the humans of one burst land together, past what H foresaw; but a
        // pool of short calls frees more than `step × slots` in H, and a cap below that is a cap
        // on the dial rate (it held a pool of 40 s calls to 0.6 of its slots).
        let per_human = 1.0 / arrivals.human_share().max(0.01);
        let turnover = supply - s.free.max(0.0);
        let step = ((self.config.max_step * s.slots).max(turnover) * per_human)
            .ceil()
            .max(1.0) as usize;
        let most = s.headroom.min(progressive_dials(s) + step);
        // `O(n) − α·E[D(n)]` is convex in n, so the n that fit are one run of numbers: walk up
        // to its end. It may start above 0: with no demand yet, `O(0)` is a crumb of the supply's
        // spread that `α·E[D]` only covers once a few dials are counted.
        // On a small pool the people to come are counted exactly, one dial more at each `n`.
        let mut exact: Vec<Option<Count>> = balances
            .iter()
            .map(|b| b.exact.as_ref().map(|e| e.demand.clone()))
            .collect();
        let mut dials = 0;
        let mut found = false;
        for n in 0..=most {
            let fits = balances.iter().zip(&exact).all(|(b, demand)| {
                let (o, d) = b.overflow_given(n, demand.as_ref());
                // The tolerance lets a pacer with no demand at all dial (O is then a crumb).
                o <= alpha * d + 1e-9
            });
            if fits {
                dials = n;
                found = true;
            } else if found {
                break;
            }
            for (b, demand) in balances.iter().zip(&mut exact) {
                if let Some(demand) = demand {
                    demand.add(b.q_new);
                }
            }
        }
        // Never fewer than progressive: its dials each have a free slot waiting, so they cannot
        // be abandoned, and a cautious α on a small pool held it under progressive.
        let dials = dials.max(progressive_dials(s));
        Decision {
            dials,
            applied: Applied::Predictive,
            alpha,
            expected_overflow: balances[0].overflow(dials).0,
        }
    }
}

/// Supply and demand of slots within one look-ahead `H`.
#[derive(Debug, Clone)]
struct Balance {
    /// `free + Σ_busy P(call ends within H + grace | its age)`, and its variance.
    supply: f64,
    supply_var: f64,
    /// People already waiting or expected from calls screening and ringing within H.
    demand: f64,
    demand_var: f64,
    /// P(a dial placed now is a person needing a slot within H).
    q_new: f64,
    /// The chance that a person who gets a slot within H frees it again within H + grace, for a
    /// later person of the same look-ahead (`Holds::freed_again_within`), and the slots other
    /// campaigns lend (in `supply`), which serve one person each.
    reuse: Reuse,
    /// The exact laws, on a pool small enough (`EXACT_TERMS`).
    exact: Option<Exact>,
}

/// The people to come and the slots to free within H as exact counts, and what is certain now.
#[derive(Debug, Clone)]
struct Exact {
    waiting: f64,
    demand: Count,
    free: f64,
    supply: Count,
    over: f64,
}

/// The pacer counts exactly when a balance has at most this many chances (calls on slots,
/// screening and ringing): a pool of some tens of slots. Above, the counts are sums of so many
/// chances that the normal approximation is close, and the exact laws cost more.
const EXACT_TERMS: usize = 150;

impl Balance {
    fn at(
        h: f64,
        grace: f64,
        s: &Snapshot<'_>,
        arrivals: &Arrivals,
        handle: &Holds,
        human: f64,
    ) -> Self {
        // Each chance is worked out once and goes into the normal law's moments and, on a pool
        // small enough, into the exact count.
        let counted = s.busy.len() + s.screening + s.ringing.len() <= EXACT_TERMS;
        let (mut frees, mut people) = (Count::none(), Count::none());
        let free = s.free.max(0.0) + s.lent.max(0.0);
        let (mut supply, mut supply_var) = (free, 0.0);
        for &age in s.busy {
            let p = handle.ends_within(age, h + grace);
            supply += p;
            supply_var += p * (1.0 - p);
            if counted {
                frees.add(p);
            }
        }
        // A campaign holding more than its share (its people took slots another campaign's calls
        // freed) gives back what it holds beyond: those slots are the other campaigns' when they
        // free. Counted as its own, they let a campaign of short calls take over a shared pool
        // and starve the others, whose people then find no slot.
        let over = (s.busy.len() as f64 + s.waiting as f64 - s.slots).max(0.0);
        supply = (supply - over).max(0.0);
        let (mut demand, mut demand_var) = (s.waiting as f64, 0.0);
        demand += s.screening as f64 * human;
        demand_var += s.screening as f64 * human * (1.0 - human);
        if counted {
            people = people.with(s.screening, human);
        }
        for &age in s.ringing {
            let q = arrivals.human_within(age, h);
            demand += q;
            demand_var += q * (1.0 - q);
            if counted {
                people.add(q);
            }
        }
        let exact = counted.then_some(Exact {
            waiting: s.waiting as f64,
            demand: people,
            free,
            supply: frees,
            over,
        });
        Self {
            supply,
            supply_var,
            demand,
            demand_var,
            q_new: arrivals.human_within(0.0, h),
            reuse: Reuse {
                share: handle.freed_again_within(h, grace, |t| arrivals.human_within(0.0, t)),
                lent: s.lent.max(0.0),
            },
            exact,
        }
    }

    /// The expected overflow `O` and demand `E[D]` with `n` more dials.
    fn overflow(&self, n: usize) -> (f64, f64) {
        let demand = self.exact.as_ref().map(|e| e.demand.with(n, self.q_new));
        self.overflow_given(n, demand.as_ref())
    }

    /// The same, given the exact count of the people to come with those dials (when this
    /// balance counts exactly).
    fn overflow_given(&self, n: usize, demand: Option<&Count>) -> (f64, f64) {
        let d = self.demand + n as f64 * self.q_new;
        if let (Some(e), Some(demand)) = (&self.exact, demand) {
            let o = expected_excess(e.waiting, demand, e.free, &e.supply, e.over, self.reuse);
            return (o, d);
        }
        let var = self.demand_var + n as f64 * self.q_new * (1.0 - self.q_new) + self.supply_var;
        // A person who gets a slot may free it again within H (a short call, a machine the bot
        // finds), and a later person of the same H takes it: each slot of the campaign's serves
        // `1 + reuse` of the people who find one (a pool of 28 s calls used 0.83 of its slots at
        // 0.5 % abandon, its model foreseeing fifteen times that).
        let supply =
            self.supply + self.reuse.share * d.min((self.supply - self.reuse.lent).max(0.0));
        (expected_overflow(d - supply, var.sqrt()), d)
    }
}

/// `poisson_mean_within` by the normal approximation: `m + z√m ≤ k + ½`.
fn normal_mean_within(k: u64, tail: f64) -> f64 {
    let z = -overflow::normal_quantile(tail);
    let root = (k as f64 + 0.5 + z * z / 4.0).sqrt() - z / 2.0;
    root * root
}

/// An hour that this many clumps of abandons would break is thin: its dials foresee the list
/// turning warm again (`Pacer::cold_spell`).
const THIN_HOUR_CLUMPS: f64 = 2.0;

/// An hour of a campaign alone on its pool that this many clumps of abandons would break is
/// dialled progressively to its end (`Pacer::too_thin_alone`).
const ALONE_THIN_CLUMPS: f64 = 1.0;

/// A pacer not asked to decide for this long was paused (its campaign stopped, or its dialler):
/// what it counts over a recent window no longer tells the rate its people come at.
const PAUSE_SECS: f64 = 60.0;

/// How unlikely the rest of a period may be to break its cap: 0.5 %. An hour is judged alone, and
/// a pacer runs thousands of them.
const PERIOD_TAIL: f64 = 0.005;

/// The rate the rest of a period may run at and keep the period within `cap` but for a
/// `PERIOD_TAIL` chance: the period has had `humans` people and `abandoned` abandons, and `rest`
/// more people are expected; the rest may have `allowed = cap · (humans + rest) − abandoned`
/// abandons. They come in clumps of `clump` (people who answer together to a full pool), the
/// clumps about Poisson: at a rate α their count has mean `α · rest / clump`, and more than
/// `⌊allowed / clump⌋` of them may have only a `PERIOD_TAIL` chance. An hour of few people is
/// where this bites: a 10-slot pool of 6-minute calls has 80 people an hour, and 5 abandons, two
/// clumps and a single, break 5 %. 0 when nothing is left (a period already over its cap
/// included); unbounded when no one more is expected.
fn allowance(cap: f64, humans: u64, abandoned: u64, rest: f64, clump: f64) -> f64 {
    let clump = clump.max(1.0);
    let allowed = cap * (humans as f64 + rest) - abandoned as f64;
    if abandoned > 0 && allowed <= 0.0 {
        return 0.0;
    }
    if rest < 1.0 {
        return f64::INFINITY;
    }
    clump * poisson_mean_within((allowed / clump).floor().max(0.0) as u64, PERIOD_TAIL) / rest
}

/// The largest Poisson mean `m` with `P(X > k) ≤ tail`: exactly (by bisection on the CDF) for
/// small `k`, by the normal approximation with a continuity correction above 200.
fn poisson_mean_within(k: u64, tail: f64) -> f64 {
    if k > 200 {
        return normal_mean_within(k, tail);
    }
    let kf = k as f64;
    let cdf = |m: f64| {
        let (mut term, mut sum) = ((-m).exp(), 0.0);
        for i in 0..=k {
            sum += term;
            term *= m / (i + 1) as f64;
        }
        sum
    };
    let (mut lo, mut hi) = (0.0, kf + 10.0 * (kf + 1.0).sqrt() + 10.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if 1.0 - cdf(mid) <= tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The start of the clock hour holding `now`.
fn hour_start(now: f64) -> f64 {
    (now / 3_600.0).floor() * 3_600.0
}

/// A progressive decision, for `applied`'s reason.
fn progressive(s: &Snapshot<'_>, applied: Applied) -> Decision {
    Decision {
        dials: progressive_dials(s),
        applied,
        alpha: 0.0,
        expected_overflow: 0.0,
    }
}

/// One dial per free slot, less the calls already on their way to one.
fn progressive_dials(s: &Snapshot<'_>) -> usize {
    let on_the_way = (s.ringing.len() + s.screening + s.waiting) as f64;
    ((s.free - on_the_way).max(0.0).floor() as usize).min(s.headroom)
}

#[cfg(test)]
mod tests;
