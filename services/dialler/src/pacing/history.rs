//! What a campaign's pacer has learnt.
//!
//! How dials resolve and when, how long conversations last, and how many answered calls were
//! abandoned, recently and over the legal window.

use super::overflow::LogNormal;
use std::collections::VecDeque;

/// How a dial resolved, as the dialler saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Answered and classified human: it needs a slot (a machine the screening missed too, which
    /// holds its slot until the bot finds it).
    Human,
    /// Answered by a machine (carrier AMD or the bot): no slot.
    Machine,
    /// Busy, no answer, failed, invalid: never answered.
    Unanswered,
}

/// Dials and conversations kept for estimates (the most recent; older ones age out, so the
/// estimates follow a list whose answer rate changes through the day).
const DIALS_KEPT: usize = 8_000;
const HOLDS_KEPT: usize = 500;

/// Arrivals are learnt from a cohort of the most recently placed dials of those kept that have all
/// had time to resolve: at least `ARRIVAL_COHORT` dials, and more while they hold fewer than
/// `COHORT_PEOPLE` people and span less than `COHORT_SPAN_SECS`. On a cold list dialled fast, a
/// thousand dials are 40 s of dialling and 75 people, and the answer rate they tell is off by a
/// tenth either way from one tick to the next: the pacer then dials in waves, and a fixed ratio,
/// which estimates nothing, was more efficient.
const ARRIVAL_COHORT: usize = 1_000;
const COHORT_PEOPLE: usize = 500;
const COHORT_SPAN_SECS: f64 = 300.0;

/// A cohort is cut to its newest `m` dials when they hold more people than the rest by `WARMED_Z`
/// deviations: the list turned warm, and the older dials would have the pacer dial for a cold one
/// (a recovered list broke a 10-slot pool's hour that way). `m` runs from `WARMED_FROM` dials, and
/// from `WARMED_PEOPLE` people expected in them, to half the cohort. The bar is high: some twenty
/// lengths are tried, and the newest dials lack their slowest ones, mostly unanswered, so a bar
/// of 3 cut steady lists on noise and cost a 200-slot pool 0.06 of utilisation. A list that turns
/// cold keeps its cohort: that only makes the pacer cautious until the cohort turns over.
const WARMED_Z: f64 = 4.5;
const WARMED_FROM: usize = 100;
const WARMED_PEOPLE: f64 = 25.0;

/// Counts of human-answered calls and abandons in fixed time buckets over a rolling span.
#[derive(Debug, Clone)]
pub struct Window {
    bucket_secs: f64,
    span_secs: f64,
    /// (bucket start, answered humans, abandoned), oldest first.
    buckets: VecDeque<(f64, u64, u64)>,
}

impl Window {
    pub fn new(bucket_secs: f64, span_secs: f64) -> Self {
        Self {
            bucket_secs,
            span_secs,
            buckets: VecDeque::new(),
        }
    }

    pub fn record(&mut self, now: f64, abandoned: bool) {
        let start = (now / self.bucket_secs).floor() * self.bucket_secs;
        match self.buckets.back_mut() {
            Some(b) if b.0 == start => {
                b.1 += 1;
                b.2 += u64::from(abandoned);
            }
            _ => self.buckets.push_back((start, 1, u64::from(abandoned))),
        }
        self.prune(now);
    }

    fn prune(&mut self, now: f64) {
        while self
            .buckets
            .front()
            .is_some_and(|b| b.0 + self.bucket_secs <= now - self.span_secs)
        {
            self.buckets.pop_front();
        }
    }

    /// (answered humans, abandoned) within the span before `now`.
    pub fn totals(&self, now: f64) -> (u64, u64) {
        self.buckets
            .iter()
            .filter(|b| b.0 + self.bucket_secs > now - self.span_secs)
            .fold((0, 0), |(n, a), b| (n + b.1, a + b.2))
    }

    /// Adds counts recorded elsewhere (the store's report) to the bucket holding `at`.
    pub fn seed(&mut self, at: f64, humans: u64, abandoned: u64) {
        if humans == 0 {
            return;
        }
        let start = (at / self.bucket_secs).floor() * self.bucket_secs;
        match self.buckets.iter_mut().find(|b| b.0 == start) {
            Some(b) => {
                b.1 += humans;
                b.2 += abandoned;
            }
            None => {
                let i = self.buckets.partition_point(|b| b.0 < start);
                self.buckets.insert(i, (start, humans, abandoned));
            }
        }
    }

    /// (answered humans, abandoned) in the bucket that starts at `start`.
    pub fn bucket(&self, start: f64) -> (u64, u64) {
        self.buckets
            .iter()
            .rev()
            .find(|b| b.0 == start)
            .map_or((0, 0), |b| (b.1, b.2))
    }

    /// Abandoned / (answered humans) within the span; `None` before any.
    pub fn rate(&self, now: f64) -> Option<f64> {
        let (n, a) = self.totals(now);
        (n > 0).then(|| a as f64 / n as f64)
    }
}

/// A campaign's history, fed by the dialler as calls resolve and end.
#[derive(Debug, Clone)]
pub struct History {
    /// (when placed, seconds from dial to resolution, resolution) of the most recently resolved
    /// dials.
    dials: VecDeque<(f64, f64, Resolution)>,
    /// (seconds a slot was held, whether the bot found a machine on it) of the most recent calls
    /// that had a slot.
    holds: VecDeque<(f64, bool)>,
    pub(crate) recent: Window,
    pub(crate) legal: Window,
    humans: u64,
    abandons: u64,
    first_connect: Option<f64>,
}

impl History {
    pub fn new(recent_secs: f64, legal_secs: f64) -> Self {
        Self {
            dials: VecDeque::with_capacity(DIALS_KEPT),
            holds: VecDeque::with_capacity(HOLDS_KEPT),
            recent: Window::new(60.0, recent_secs),
            legal: Window::new(3_600.0, legal_secs),
            humans: 0,
            abandons: 0,
            first_connect: None,
        }
    }

    /// A dial placed at `placed` resolved `elapsed` seconds later.
    pub fn record_dial(&mut self, placed: f64, elapsed: f64, resolution: Resolution) {
        if self.dials.len() == DIALS_KEPT {
            self.dials.pop_front();
        }
        self.dials.push_back((placed, elapsed.max(0.0), resolution));
    }

    /// A human-answered call got a slot (`abandoned: false`) or did not in time (`true`).
    pub fn record_human(&mut self, now: f64, abandoned: bool) {
        self.humans += 1;
        self.abandons += u64::from(abandoned);
        if !abandoned && self.first_connect.is_none() {
            self.first_connect = Some(now);
        }
        self.recent.record(now, abandoned);
        self.legal.record(now, abandoned);
    }

    /// A call counted as a human when it was answered was a machine after all: the bot's own
    /// screening found it `held` seconds after it got its slot. (The carrier's late verdict on a
    /// call still waiting for a slot teaches nothing: it held none.)
    ///
    /// Its dial stays one that needed a slot: the pacer predicts the calls that will need one,
    /// and such machines do, until they are found. Its time on the slot is kept apart from the
    /// conversations (slots held by them free sooner, [`Holds`]). It stays in the abandon windows:
    /// an abandoned call's nature is never known, so abandoned / classified-human is the rate that
    /// is unbiased for the people among them (taking the found machines out of the denominator
    /// only would overstate it by the share of machines, a third of the "people" on a cold list).
    pub fn machine_after_all(&mut self, held: f64) {
        self.record_hold(held, true);
    }

    /// Seeds what the store remembers after a restart: the legal window's counts per hour
    /// (`(hour start, humans, abandoned)`) and recent human answers for the feedback window.
    pub fn restore(&mut self, legal_hours: &[(f64, u64, u64)], recent: &[(f64, bool)]) {
        for &(start, humans, abandoned) in legal_hours {
            self.legal.seed(start, humans, abandoned);
            self.humans += humans;
            self.abandons += abandoned;
        }
        for &(at, abandoned) in recent {
            self.recent.record(at, abandoned);
            if !abandoned && self.first_connect.is_none_or(|f| at < f) {
                self.first_connect = Some(at);
            }
        }
    }

    /// A conversation that held a slot for `secs` ended.
    pub fn record_conversation(&mut self, secs: f64) {
        self.record_hold(secs, false);
    }

    fn record_hold(&mut self, secs: f64, machine: bool) {
        if self.holds.len() == HOLDS_KEPT {
            self.holds.pop_front();
        }
        self.holds.push_back((secs, machine));
    }

    /// Of the recent calls that had a slot, how many were machines the bot found on it.
    pub fn found_machines(&self) -> usize {
        self.holds.iter().filter(|h| h.1).count()
    }

    fn conversations(&self) -> impl Iterator<Item = f64> + '_ {
        self.holds.iter().filter(|h| !h.1).map(|h| h.0)
    }

    /// How many of the recent conversations ended, and the seconds they held their slots.
    pub fn ended_conversations(&self) -> (usize, f64) {
        self.conversations()
            .fold((0, 0.0), |(n, s), x| (n + 1, s + x))
    }

    /// Human-answered calls seen since the pacer started.
    pub fn humans(&self) -> u64 {
        self.humans
    }

    /// Human-answered calls abandoned since the pacer started.
    pub fn abandons(&self) -> u64 {
        self.abandons
    }

    /// Mean length of the recent conversations (average handle time); `None` before any.
    pub fn mean_handle(&self) -> Option<f64> {
        let (n, sum) = self.ended_conversations();
        (n > 0).then(|| sum / n as f64)
    }

    /// Share of recent dials answered by a person (classified human); `None` before any.
    pub fn answer_rate(&self) -> Option<f64> {
        (!self.dials.is_empty()).then(|| {
            self.dials
                .iter()
                .filter(|d| d.2 == Resolution::Human)
                .count() as f64
                / self.dials.len() as f64
        })
    }

    /// How long slots are held: the conversations' law, fitted to those that ended once there are
    /// 20 and the first connection is three prior means old (`prior` before: early on, the only
    /// conversations to have ended are the short ones, and a fit then would expect slots to free
    /// sooner than they do); and, once the bot has found 10 machines on slots, theirs and their
    /// share of the slots' calls: of those that ended and the `on_slots` still on a slot (machines
    /// are found in seconds and conversations end in minutes, so at a campaign's start the calls
    /// that ended are nearly all machines, and their share among them alone had the pacer expect
    /// every young slot to free at once: 221 dials in one decision on 178 slots of 10-minute calls).
    pub fn holds(&self, now: f64, prior: LogNormal, on_slots: usize) -> Holds {
        let prior_mean = prior.mean();
        let settled = self
            .first_connect
            .is_some_and(|first| now - first >= 3.0 * prior_mean);
        let conversation = if self.conversations().count() < 20 || !settled {
            prior
        } else {
            LogNormal::fit(self.conversations()).unwrap_or(prior)
        };
        let machines: Vec<f64> = self.holds.iter().filter(|h| h.1).map(|h| h.0).collect();
        let machine = (machines.len() >= 10)
            .then(|| LogNormal::fit(machines.iter().copied()))
            .flatten()
            .map(|law| {
                let calls = (self.holds.len() + on_slots) as f64;
                (law, machines.len() as f64 / calls)
            });
        Holds {
            conversation,
            machine,
        }
    }

    /// Of answered calls, the share classified human (`prior` before 20 answers).
    pub fn human_given_answered(&self, prior: f64) -> f64 {
        let (h, m) = self.dials.iter().fold((0u32, 0u32), |(h, m), d| match d.2 {
            Resolution::Human => (h + 1, m),
            Resolution::Machine => (h, m + 1),
            Resolution::Unanswered => (h, m),
        });
        if h + m < 20 {
            return prior;
        }
        f64::from(h) / f64::from(h + m)
    }

    /// The resolution times, sorted, for `Arrivals`: of the most recent dials placed long enough
    /// before `now` that all of them have resolved (the 99th percentile of resolution times).
    ///
    /// Taking the most recently *resolved* dials instead is biased whenever the dial rate moves:
    /// a burst's busy lines resolve in seconds and its people in ten, so just after a burst the
    /// recent resolutions hold few people, the pacer believes the list went cold and dials
    /// harder still (a collapse of the answer rate made it place 1,800 dials in 4 s on a pool of
    /// 200).
    pub fn arrivals(&self, now: f64) -> Arrivals {
        let mut elapsed: Vec<f64> = self.dials.iter().map(|d| d.1).collect();
        elapsed.sort_by(f64::total_cmp);
        let settle = elapsed
            .get(((elapsed.len() as f64 - 1.0) * 0.99).round() as usize)
            .copied()
            .unwrap_or(0.0);
        let mut settled: Vec<&(f64, f64, Resolution)> =
            self.dials.iter().filter(|d| d.0 + settle <= now).collect();
        if settled.len() < 50 {
            settled = self.dials.iter().collect();
        }
        settled.sort_by(|a, b| b.0.total_cmp(&a.0));
        settled.truncate(cohort_len(&settled));
        settled.truncate(warmed(&settled));
        let mut all: Vec<f64> = settled.iter().map(|d| d.1).collect();
        let mut human: Vec<f64> = settled
            .iter()
            .filter(|d| d.2 == Resolution::Human)
            .map(|d| d.1)
            .collect();
        all.sort_by(f64::total_cmp);
        human.sort_by(f64::total_cmp);
        Arrivals {
            all,
            human,
            surge: 1.0,
        }
    }

    /// How many times more people per dial all the kept dials brought than `arrivals`' cohort,
    /// at least 1 and at most `most`: for a list in a cold spell, how much warmer it has been
    /// (and may turn again).
    pub fn warmth(&self, arrivals: &Arrivals, most: f64) -> f64 {
        let people = self
            .dials
            .iter()
            .filter(|d| d.2 == Resolution::Human)
            .count();
        let cohort = arrivals.human.len() as f64 / arrivals.all.len().max(1) as f64;
        if people == 0 || cohort <= 0.0 {
            return 1.0;
        }
        (people as f64 / self.dials.len() as f64 / cohort).clamp(1.0, most)
    }

    /// The resolved dials placed in the last `within` seconds: each one's age and whether it
    /// became a person needing a slot.
    pub fn placed_within(&self, now: f64, within: f64) -> impl Iterator<Item = (f64, bool)> + '_ {
        self.dials
            .iter()
            .filter(move |d| d.0 >= now - within)
            .map(move |d| (now - d.0, d.2 == Resolution::Human))
    }

    /// Of the resolved dials placed between `from` and `by` seconds ago (old enough to have
    /// reached a person within `by`): how many, and how many became people within `by` seconds.
    pub fn early_people(&self, now: f64, from: f64, by: f64) -> (usize, usize) {
        self.dials
            .iter()
            .filter(|d| d.0 >= now - from && d.0 <= now - by)
            .fold((0, 0), |(n, h), d| {
                (
                    n + 1,
                    h + usize::from(d.2 == Resolution::Human && d.1 <= by),
                )
            })
    }
}

/// How many of `settled` (newest first) the arrivals' cohort takes: see `ARRIVAL_COHORT`.
fn cohort_len(settled: &[&(f64, f64, Resolution)]) -> usize {
    let Some(newest) = settled.first().map(|d| d.0) else {
        return 0;
    };
    let mut people = 0;
    for (i, d) in settled.iter().enumerate() {
        people += usize::from(d.2 == Resolution::Human);
        if i + 1 >= ARRIVAL_COHORT && (people >= COHORT_PEOPLE || newest - d.0 > COHORT_SPAN_SECS) {
            return i + 1;
        }
    }
    settled.len()
}

/// The newest part of a cohort (newest first) to keep: all of it unless its newest dials hold
/// significantly more people than the rest (`WARMED_Z`); then the newest `m` that differ most.
fn warmed(cohort: &[&(f64, f64, Resolution)]) -> usize {
    let n = cohort.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0usize);
    for d in cohort {
        prefix.push(prefix[prefix.len() - 1] + usize::from(d.2 == Resolution::Human));
    }
    let total = prefix[n] as f64;
    let share = total / n.max(1) as f64;
    let (mut best, mut keep) = (WARMED_Z, n);
    let mut m = WARMED_FROM.max((WARMED_PEOPLE / share.max(1e-9)).ceil() as usize);
    while m * 2 <= n {
        let (newer, older) = (m as f64, (n - m) as f64);
        let se = (share * (1.0 - share) * (1.0 / newer + 1.0 / older)).sqrt();
        if se > 0.0 {
            let z = (prefix[m] as f64 / newer - (total - prefix[m] as f64) / older) / se;
            if z > best {
                (best, keep) = (z, m);
            }
        }
        m = m * 5 / 4;
    }
    keep
}

/// How long a slot is held by the call on it: a conversation, or a machine the screening missed
/// until the bot finds it.
#[derive(Debug, Clone, Copy)]
pub struct Holds {
    pub conversation: LogNormal,
    /// The found machines' law and their share of the calls that had a slot.
    pub machine: Option<(LogNormal, f64)>,
}

impl Holds {
    /// P(a slot held for `age` seconds frees within `h` more). Which kind of call is on it is not
    /// known, but its age tells: a machine is found early, so an old call is most likely a
    /// conversation (the two laws weighed by each one's chance of lasting `age`).
    pub fn ends_within(&self, age: f64, h: f64) -> f64 {
        let conversation = self.conversation.ends_within(age, h);
        let Some((machine, share)) = self.machine else {
            return conversation;
        };
        let lasted_machine = share * (1.0 - machine.cdf(age));
        let lasted_conversation = (1.0 - share) * (1.0 - self.conversation.cdf(age));
        let total = lasted_machine + lasted_conversation;
        if total <= 1e-12 {
            return conversation;
        }
        (lasted_machine * machine.ends_within(age, h) + lasted_conversation * conversation) / total
    }

    /// P(a person who lands within `h` frees her slot again within `h + grace`): the mean, over
    /// when she lands (`landed(t)`, the chance that she has by `t`), of a new hold's chance of
    /// ending in the time left. A pool of short calls (or of machines the bot finds) serves
    /// more than one person of a look-ahead with some of its slots.
    pub fn freed_again_within(&self, h: f64, grace: f64, landed: impl Fn(f64) -> f64) -> f64 {
        const STEPS: usize = 16;
        let (mut weighed, mut total) = (0.0, 0.0);
        for i in 0..STEPS {
            let (from, to) = (
                h * i as f64 / STEPS as f64,
                h * (i + 1) as f64 / STEPS as f64,
            );
            let p = (landed(to) - landed(from)).max(0.0);
            weighed += p * self.ends_within(0.0, h + grace - (from + to) / 2.0);
            total += p;
        }
        if total <= 0.0 { 0.0 } else { weighed / total }
    }
}

/// The empirical law of when dials turn into humans who need a slot.
#[derive(Debug, Clone)]
pub struct Arrivals {
    all: Vec<f64>,
    human: Vec<f64>,
    /// How many times more people the newest dials bring than the cohort says (1 but in a surge).
    surge: f64,
}

impl Arrivals {
    /// Enough resolved dials to estimate from.
    pub fn is_informed(&self) -> bool {
        self.all.len() >= 50
    }

    /// The same, but the newest dials bring `surge` times the people the cohort says.
    pub fn surged(self, surge: f64) -> Self {
        Self {
            surge: surge.max(1.0),
            ..self
        }
    }

    /// The share of recent dials that became humans needing a slot.
    pub fn human_share(&self) -> f64 {
        if self.all.is_empty() {
            return 0.0;
        }
        (self.human.len() as f64 / self.all.len() as f64 * self.surge).min(1.0)
    }

    /// The `p` quantile of the time from dial to a human needing a slot; `None` before any.
    pub fn human_quantile(&self, p: f64) -> Option<f64> {
        if self.human.is_empty() {
            return None;
        }
        let i = ((self.human.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
        Some(self.human[i])
    }

    /// P(a dial still unresolved `age` seconds after it was placed becomes a human needing a slot
    /// within the next `h` seconds), from the recent dials that were still unresolved at that age.
    pub fn human_within(&self, age: f64, h: f64) -> f64 {
        let later = |v: &[f64], t: f64| v.len() - v.partition_point(|x| *x <= t);
        let unresolved = later(&self.all, age);
        if unresolved == 0 {
            return 0.0;
        }
        let humans = later(&self.human, age) - later(&self.human, age + h);
        (humans as f64 / unresolved as f64 * self.surge).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_forgets_what_is_older_than_its_span() {
        let mut w = Window::new(60.0, 1_800.0);
        w.record(0.0, true);
        w.record(10.0, false);
        assert_eq!(w.totals(100.0), (2, 1));
        w.record(1_900.0, false);
        assert_eq!(w.totals(1_900.0), (1, 0));
    }

    #[test]
    fn human_within_counts_humans_among_dials_unresolved_at_that_age() {
        let mut h = History::new(1_800.0, 86_400.0);
        for t in [5.0, 10.0, 20.0] {
            h.record_dial(0.0, t, Resolution::Human);
        }
        h.record_dial(0.0, 30.0, Resolution::Unanswered);
        let a = h.arrivals(100.0);
        // At age 0 all four are unresolved; two become human by 12 s.
        assert!((a.human_within(0.0, 12.0) - 0.5).abs() < 1e-12);
        // At age 12 two are left (20 s human, 30 s unanswered): one within 12 s.
        assert!((a.human_within(12.0, 12.0) - 0.5).abs() < 1e-12);
        // Past every resolution: nothing is expected.
        assert_eq!(a.human_within(40.0, 12.0), 0.0);
    }

    /// A history of `n` dials placed `gap` seconds apart from `from`, one in `every` a person.
    fn dialled(h: &mut History, from: f64, n: usize, gap: f64, every: usize) {
        for i in 0..n {
            let resolution = if i % every == 0 {
                Resolution::Human
            } else {
                Resolution::Unanswered
            };
            h.record_dial(from + i as f64 * gap, 5.0, resolution);
        }
    }

    #[test]
    fn the_cohort_grows_past_a_thousand_dials_until_it_holds_enough_people() {
        // A cold list dialled fast: 3,000 dials in 30 s hold 150 people, all of them taken.
        let mut cold = History::new(1_800.0, 86_400.0);
        dialled(&mut cold, 0.0, 3_000, 0.01, 20);
        assert_eq!(cold.arrivals(100.0).all.len(), 3_000);
        // A warm one: a thousand dials hold 500 people, enough.
        let mut warm = History::new(1_800.0, 86_400.0);
        dialled(&mut warm, 0.0, 3_000, 0.01, 2);
        assert_eq!(warm.arrivals(100.0).all.len(), 1_000);
        // A slow one: its thousand newest dials span more than five minutes already.
        let mut slow = History::new(1_800.0, 86_400.0);
        dialled(&mut slow, 0.0, 3_000, 1.0, 20);
        assert_eq!(slow.arrivals(4_000.0).all.len(), 1_000);
    }

    #[test]
    fn a_list_that_turns_warm_is_learnt_from_its_newest_dials() {
        let mut h = History::new(1_800.0, 86_400.0);
        dialled(&mut h, 0.0, 2_000, 0.5, 20);
        dialled(&mut h, 1_000.0, 400, 0.5, 4);
        let a = h.arrivals(1_500.0);
        assert!(a.all.len() <= 400, "{}", a.all.len());
        assert!((a.human_share() - 0.25).abs() < 0.02, "{}", a.human_share());
        // A list that turns cold keeps its cohort: the pacer is only cautious a while.
        let mut h = History::new(1_800.0, 86_400.0);
        dialled(&mut h, 0.0, 2_000, 0.5, 4);
        dialled(&mut h, 1_000.0, 400, 0.5, 20);
        assert_eq!(h.arrivals(1_500.0).all.len(), 1_000);
    }

    #[test]
    fn a_cold_spell_is_measured_against_the_warmth_of_every_kept_dial() {
        // 2,000 dials of which a fourth became people, then 1,200 of which a twentieth did: the
        // cohort is the newest thousand (a twentieth), all the kept dials a 560th of 3,200.
        let mut h = History::new(1_800.0, 86_400.0);
        dialled(&mut h, 0.0, 2_000, 0.5, 4);
        dialled(&mut h, 1_000.0, 1_200, 0.5, 20);
        let a = h.arrivals(1_700.0);
        assert!(
            (a.human_share() - 0.05).abs() < 1e-12,
            "{}",
            a.human_share()
        );
        assert!(
            (h.warmth(&a, 5.0) - 3.5).abs() < 1e-9,
            "{}",
            h.warmth(&a, 5.0)
        );
        assert_eq!(h.warmth(&a, 2.0), 2.0);
        // A steady list is as warm as it has been; a warming one is not in a cold spell.
        let mut steady = History::new(1_800.0, 86_400.0);
        dialled(&mut steady, 0.0, 3_000, 0.5, 10);
        assert!((steady.warmth(&steady.arrivals(1_600.0), 5.0) - 1.0).abs() < 1e-9);
        let mut warming = History::new(1_800.0, 86_400.0);
        dialled(&mut warming, 0.0, 2_000, 0.5, 20);
        dialled(&mut warming, 1_000.0, 1_200, 0.5, 4);
        assert_eq!(warming.warmth(&warming.arrivals(1_700.0), 5.0), 1.0);
    }

    #[test]
    fn the_machines_share_counts_the_calls_still_on_slots() {
        // A campaign of long calls a minute old: ten machines found, no conversation ended yet,
        // ninety calls still on slots. A tenth of its calls were machines, not all of them.
        let mut h = History::new(1_800.0, 86_400.0);
        for i in 0..10 {
            h.machine_after_all(12.0 + f64::from(i % 3));
        }
        let prior = LogNormal::from_mean_cv(120.0, 0.8);
        let (_, share) = h.holds(60.0, prior, 90).machine.unwrap();
        assert!((share - 0.1).abs() < 1e-12);
        // A slot 5 s old is a machine about to be found a tenth of the time, not nearly always.
        let young = h.holds(60.0, prior, 90).ends_within(5.0, 10.0);
        assert!(young < 0.2, "{young}");
        assert!(h.holds(60.0, prior, 0).ends_within(5.0, 10.0) > 0.9);
    }

    #[test]
    fn a_machine_found_on_a_slot_still_needed_one_and_frees_young_slots_sooner() {
        let mut h = History::new(1_800.0, 86_400.0);
        h.record_dial(0.0, 9.0, Resolution::Human);
        h.record_dial(0.0, 11.0, Resolution::Human);
        h.record_human(20.0, false);
        h.record_human(21.0, true);
        for i in 0..30 {
            h.record_conversation(60.0 + f64::from(i % 5) * 10.0);
        }
        let prior = LogNormal::from_mean_cv(120.0, 0.8);
        let before = h.holds(10_000.0, prior, 0);
        assert!(before.machine.is_none());
        for i in 0..10 {
            h.machine_after_all(12.0 + f64::from(i % 3));
        }
        // Both dials needed a slot, and the abandon windows are as they were.
        assert_eq!(h.answer_rate(), Some(1.0));
        assert_eq!(h.recent.totals(30.0), (2, 1));
        assert_eq!(h.humans(), 2);
        // A fourth of the slots' calls were machines found in about 13 s: a young slot is one of
        // them a fourth of the time and frees within 10 s then; one older than that is a
        // conversation.
        let holds = h.holds(10_000.0, prior, 0);
        let (_, share) = holds.machine.unwrap();
        assert!((share - 0.25).abs() < 1e-12);
        let young = holds.ends_within(5.0, 10.0);
        assert!((0.2..0.3).contains(&young), "{young}: {holds:?}");
        assert!(before.ends_within(5.0, 10.0) < 0.05, "{before:?}");
        let old = holds.ends_within(40.0, 10.0) - before.ends_within(40.0, 10.0);
        assert!(old.abs() < 1e-3, "{old}");
        assert!((h.mean_handle().unwrap() - 80.0).abs() < 1e-9);
    }
}
