//! The pacer: how many new dials a campaign places now.
//!
//! It decides from what it can observe (free slots, calls in conversation, ringing, screening and
//! waiting) and what it has learnt.
//!
//! The predictive mode is the state-aware pacer of the team's `bench/pacing.md`: choose the
//! largest `n` such that the expected overflow of human-answered calls over the slots that will be
//! free within a look-ahead `H` stays under `α_eff · E[demand]`, where
//!
//! - supply `S = free + Σ_busy P(call ends within H + grace | its age)` (the handle-time law, lognormal,
//!   fitted to the campaign's conversations, mixed by age with the law of the machines the bot
//!   found on their slots);
//! - demand `D = waiting + Σ_screening P(human | answered) + Σ_ringing P(human within H | still
//!   unresolved at its age) + n · P(human within H | just dialled)` (empirical, from the most
//!   recently placed dials that have all resolved);
//! - the dials must fit at two look-aheads, the median and the 75th percentile of the time from
//!   dial to a person, so late arrivals are foreseen too;
//! - `O = E[max(0, D − S)]` under a normal approximation of `D − S`;
//! - `α_eff = α_target · k`, and every minute `k ← k · exp(g · (α_target − observed) / α_target)`
//!   on the abandon rate observed over the last 30 minutes, `k ∈ [0.2, 3]`.
//!
//! It dials progressively (one call per free slot, counting calls already on their way) until it
//! has seen enough human answers, whenever the legal window's abandon rate reaches the guard
//! (95 % of its cap), and for the rest of a clock hour that has spent its abandons (`hour_cap`,
//! 5 %: the aim is lowered as the hour's allowance shrinks); on the way to the legal guard, from 70 % of the cap, the abandon it aims at tapers to
//! nothing, so it slows down rather than flapping between modes.

mod history;
pub mod overflow;

pub use history::{Arrivals, History, Holds, Resolution, Window};
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
    /// Abandoned / human-answered calls the pacer aims for (0.02 = 2 %).
    pub abandon_target: f64,
    /// The legal limit on the abandon rate over `legal_window_secs` (0.03 = 3 %, the US rule).
    pub legal_cap: f64,
    /// The regulatory window (30 days in the US).
    pub legal_window_secs: f64,
    /// Fall back to progressive when the legal window's rate reaches this share of the cap.
    pub legal_guard: f64,
    /// The most abandons in any clock hour, as a share of the people answered in it (0.05): the
    /// pacer's own promise, stricter than a regulator's day or month.
    pub hour_cap: f64,
    /// From this share of the cap up to `legal_guard`, the abandon the pacer aims at shrinks
    /// linearly to nothing, so it slows down as the window nears its cap instead of switching.
    pub legal_taper_from: f64,
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
    /// Feedback: period, window and gain of the `k` update.
    pub feedback_every_secs: f64,
    pub feedback_window_secs: f64,
    pub feedback_gain: f64,
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
            abandon_target: 0.02,
            legal_cap: 0.03,
            legal_window_secs: 30.0 * 86_400.0,
            legal_guard: 0.95,
            legal_taper_from: 0.7,
            hour_cap: 0.05,
            lookahead_secs: 8.0,
            grace_secs: 2.0,
            lookahead_quantiles: [0.5, 0.75],
            max_step: 0.03,
            warmup_humans: 50,
            small_pool_slots: 20.0,
            small_pool_factor: 0.75,
            feedback_every_secs: 60.0,
            feedback_window_secs: 1_800.0,
            feedback_gain: 0.1,
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
}

/// Why a decision was progressive or predictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Progressive,
    /// Predictive is configured but there are not enough human answers yet.
    WarmingUp,
    /// The legal window's abandon rate is near its cap.
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
}

impl Pacer {
    pub fn new(config: PacingConfig) -> Self {
        let history = History::new(config.feedback_window_secs, config.legal_window_secs);
        Self {
            config,
            history,
            k: 1.0,
            last_feedback: None,
        }
    }

    /// The feedback multiplier on the abandon target.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// The abandon rate over the last `feedback_window_secs` and over the legal window.
    pub fn abandon_rates(&self, now: f64) -> (Option<f64>, Option<f64>) {
        (self.history.recent.rate(now), self.history.legal.rate(now))
    }

    /// How many dials to place now.
    pub fn decide(&mut self, now: f64, s: &Snapshot<'_>) -> Decision {
        let progressive = |applied| Decision {
            dials: progressive_dials(s),
            applied,
            alpha: 0.0,
            expected_overflow: 0.0,
        };
        match self.config.mode {
            Mode::Progressive => return progressive(Applied::Progressive),
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
        if let Some(rate) = self.history.legal.rate(now)
            && rate >= self.config.legal_cap * self.config.legal_guard
        {
            return progressive(Applied::LegalGuard);
        }
        let arrivals = self.history.arrivals(now);
        if self.history.humans() < self.config.warmup_humans || !arrivals.is_informed() {
            return progressive(Applied::WarmingUp);
        }
        self.feedback(now, s.slots);
        let hour = self.hour_allowance(now);
        if hour <= 0.0 {
            return progressive(Applied::HourGuard);
        }
        // `k` is also how far the realised rate is from the aim (it settles where aiming at
        // `target · k` yields `target`), so the hour's allowance is aimed at through it too.
        let alpha = (self.target(s.slots) * self.legal_taper(now)).min(hour) * self.k;
        self.predictive(now, s, &arrivals, alpha)
    }

    /// The abandon rate the rest of this clock hour may run at and still keep the hour within
    /// `hour_cap` with two standard deviations to spare: the rest of the hour may have `allowed`
    /// abandons, and at a rate α its abandons are about Poisson with mean `m = α · rest`, so
    /// `m + 2√m ≤ allowed`. An hour of few people is noisy: in an hour of 30, two abandons break
    /// 5 %, and this allows next to none once the first has happened. People still to come this
    /// hour are estimated from the feedback window's rate.
    fn hour_allowance(&self, now: f64) -> f64 {
        let start = (now / 3_600.0).floor() * 3_600.0;
        let (humans, abandoned) = self.history.legal.bucket(start);
        let (recent, _) = self.history.recent.totals(now);
        let rest = recent as f64 / self.config.feedback_window_secs * (start + 3_600.0 - now);
        if rest < 1.0 {
            return f64::INFINITY;
        }
        let allowed = self.config.hour_cap * (humans as f64 + rest) - abandoned as f64;
        if allowed <= 0.0 {
            return 0.0;
        }
        ((1.0 + allowed).sqrt() - 1.0).powi(2) / rest
    }

    /// 1 while the legal window is well under its cap, falling to 0 at the guard.
    fn legal_taper(&self, now: f64) -> f64 {
        let Some(rate) = self.history.legal.rate(now) else {
            return 1.0;
        };
        let from = self.config.legal_cap * self.config.legal_taper_from;
        let to = self.config.legal_cap * self.config.legal_guard;
        if to <= from {
            return 1.0;
        }
        ((to - rate) / (to - from)).clamp(0.0, 1.0)
    }

    /// The abandon rate aimed at: the campaign's target, but no higher than where the legal
    /// taper starts (a campaign's default target is the 3 % cap itself; aimed at, it keeps the
    /// pacer in the taper, lurching between bold and timid, which cost W1 at 50 slots 0.02 of
    /// its utilisation against aiming at 2 %), and lower on a small pool.
    fn target(&self, slots: f64) -> f64 {
        let target = self
            .config
            .abandon_target
            .min(self.config.legal_cap * self.config.legal_taper_from);
        if slots <= self.config.small_pool_slots {
            target * self.config.small_pool_factor
        } else {
            target
        }
    }

    /// Every `feedback_every_secs`, nudge `k` by how the recent abandon rate compares to target.
    fn feedback(&mut self, now: f64, slots: f64) {
        let Some(last) = self.last_feedback else {
            self.last_feedback = Some(now);
            return;
        };
        if now - last < self.config.feedback_every_secs {
            return;
        }
        self.last_feedback = Some(now);
        let (humans, abandoned) = self.history.recent.totals(now);
        if humans < 20 {
            return;
        }
        let target = self.target(slots);
        let observed = abandoned as f64 / humans as f64;
        self.k = (self.k * (self.config.feedback_gain * (target - observed) / target).exp())
            .clamp(0.2, 3.0);
    }

    fn predictive(&self, now: f64, s: &Snapshot<'_>, arrivals: &Arrivals, alpha: f64) -> Decision {
        let prior = LogNormal::from_mean_cv(
            self.config.prior_handle_mean_secs,
            self.config.prior_handle_cv,
        );
        let handle = self.history.holds(now, prior);
        let human = self
            .history
            .human_given_answered(self.config.prior_human_given_answered);
        // Each H covers a share of the human arrivals of a dial placed now; a dial's human who
        // lands after H is in no decision's demand until the next ticks, when it can no longer be
        // un-dialled. So the dials must fit at the median arrival and at a late one: a list whose
        // people turn scarce is dialled hard, and its late arrivals (machines screened as people)
        // land together past a short H (they made 34 % abandon in the first minutes of a
        // collapse).
        let balances = self.config.lookahead_quantiles.map(|quantile| {
            let h = arrivals
                .human_quantile(quantile)
                .map_or(self.config.lookahead_secs, |q| {
                    q.clamp(self.config.lookahead_secs, 60.0)
                });
            Balance::at(h, self.config.grace_secs, s, arrivals, &handle, human)
        });
        let fits = |n: usize| {
            balances.iter().all(|b| {
                let (o, d) = b.overflow(n);
                // The tolerance lets a pacer with no demand at all dial (O is then a crumb).
                o <= alpha * d + 1e-9
            })
        };
        if balances[0].q_new <= 0.0 {
            // No recent dial became a human within H: nothing to predict from.
            return Decision {
                dials: progressive_dials(s),
                applied: Applied::WarmingUp,
                alpha,
                expected_overflow: 0.0,
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
        let mut dials = 0;
        let mut found = false;
        for n in 0..=most {
            if fits(n) {
                dials = n;
                found = true;
            } else if found {
                break;
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
#[derive(Debug, Clone, Copy)]
struct Balance {
    /// `free + Σ_busy P(call ends within H + grace | its age)`, and its variance.
    supply: f64,
    supply_var: f64,
    /// People already waiting or expected from calls screening and ringing within H.
    demand: f64,
    demand_var: f64,
    /// P(a dial placed now is a person needing a slot within H).
    q_new: f64,
}

impl Balance {
    fn at(
        h: f64,
        grace: f64,
        s: &Snapshot<'_>,
        arrivals: &Arrivals,
        handle: &Holds,
        human: f64,
    ) -> Self {
        let (mut supply, mut supply_var) = (s.free.max(0.0), 0.0);
        for &age in s.busy {
            let p = handle.ends_within(age, h + grace);
            supply += p;
            supply_var += p * (1.0 - p);
        }
        let (mut demand, mut demand_var) = (s.waiting as f64, 0.0);
        demand += s.screening as f64 * human;
        demand_var += s.screening as f64 * human * (1.0 - human);
        for &age in s.ringing {
            let q = arrivals.human_within(age, h);
            demand += q;
            demand_var += q * (1.0 - q);
        }
        Self {
            supply,
            supply_var,
            demand,
            demand_var,
            q_new: arrivals.human_within(0.0, h),
        }
    }

    /// The expected overflow `O` and demand `E[D]` with `n` more dials.
    fn overflow(&self, n: usize) -> (f64, f64) {
        let n = n as f64;
        let d = self.demand + n * self.q_new;
        let var = self.demand_var + n * self.q_new * (1.0 - self.q_new) + self.supply_var;
        (expected_overflow(d - self.supply, var.sqrt()), d)
    }
}

/// One dial per free slot, less the calls already on their way to one.
fn progressive_dials(s: &Snapshot<'_>) -> usize {
    let on_the_way = (s.ringing.len() + s.screening + s.waiting) as f64;
    ((s.free - on_the_way).max(0.0).floor() as usize).min(s.headroom)
}

#[cfg(test)]
mod tests;
