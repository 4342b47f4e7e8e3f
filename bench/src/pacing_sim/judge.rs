//! The rule a pacer must keep on every workload, and the best fixed ratio that keeps it.
//!
//! The rule (issue 26): every run at most 3 % abandon, every clock hour of every run at most 5 %,
//! for each campaign of a run: the legal abandon rate is a campaign's, so a pool's other
//! campaigns must not dilute one campaign's abandons with their people.
//! A policy is judged over several seeds (the same callees for every policy, see `workload::fate`)
//! and keeps the rule only if every seed's run does. The best compliant fixed ratio is the
//! highest dial level that keeps it, found by growing the level until a run breaks the rule and
//! then bisecting to 1 %: VICIdial's RATIO mode as a supervisor would tune it, knowing the
//! population in advance.

use super::workload::Workload;
use super::{Outcome, Policy, run};
use dialler::pacing::{Mode, PacingConfig};

/// The abandon limits: over a run, and over any clock hour of it.
pub const RUN_CAP: f64 = 0.03;
pub const HOUR_CAP: f64 = 0.05;

/// A policy's runs on one workload and pool size.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    pub outcomes: Vec<Outcome>,
}

impl Judged {
    /// Mean utilisation over the runs.
    pub fn util(&self) -> f64 {
        self.mean(|o| o.utilisation)
    }

    pub fn mean(&self, f: impl Fn(&Outcome) -> f64) -> f64 {
        if self.outcomes.is_empty() {
            return 0.0;
        }
        self.outcomes.iter().map(f).sum::<f64>() / self.outcomes.len() as f64
    }

    /// The highest run abandon rate and the highest hour's, of any campaign.
    pub fn worst(&self) -> (f64, f64) {
        self.outcomes.iter().fold((0.0, 0.0), |(r, h), o| {
            (f64::max(r, o.worst_run), f64::max(h, o.worst_hour))
        })
    }

    /// Every run kept both limits.
    pub fn complies(&self) -> bool {
        let (run, hour) = self.worst();
        run <= RUN_CAP && hour <= HOUR_CAP
    }
}

/// Runs `policy` on every seed, two at a time; with `stop_on_break`, stops at the first pair
/// with a run that broke the rule (the verdict is then known).
pub fn judge(
    w: &Workload,
    policy: &Policy,
    slots: usize,
    seeds: &[u64],
    stop_on_break: bool,
) -> Judged {
    let mut judged = Judged::default();
    for pair in seeds.chunks(2) {
        let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
            let handles: Vec<_> = pair
                .iter()
                .map(|&seed| scope.spawn(move || run(w, policy, slots, w.hours, seed)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a simulation panicked"))
                .collect()
        });
        judged.outcomes.extend(outcomes);
        if stop_on_break && !judged.complies() {
            break;
        }
    }
    judged
}

/// A fixed-ratio policy at `level`.
pub fn ratio(level: f64) -> Policy {
    Policy::Pacer(PacingConfig {
        mode: Mode::FixedRatio { level },
        ..PacingConfig::default()
    })
}

/// The highest fixed dial level that keeps the rule on every seed, and its runs.
pub fn best_ratio(w: &Workload, slots: usize, seeds: &[u64]) -> (f64, Judged) {
    let mut lo = (1.0, judge(w, &ratio(1.0), slots, seeds, false));
    let mut hi = None;
    let mut level: f64 = 1.25;
    while hi.is_none() && level <= 40.0 {
        let j = judge(w, &ratio(level), slots, seeds, true);
        if j.complies() {
            lo = (level, j);
            level *= 1.25;
        } else {
            hi = Some(level);
        }
    }
    let Some(mut hi) = hi else {
        return lo;
    };
    while hi / lo.0 > 1.01 {
        let mid = ((lo.0 * hi).sqrt() * 1_000.0).round() / 1_000.0;
        let j = judge(w, &ratio(mid), slots, seeds, true);
        if j.complies() {
            lo = (mid, j);
        } else {
            hi = mid;
        }
    }
    lo
}
