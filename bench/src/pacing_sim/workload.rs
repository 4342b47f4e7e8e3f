//! The workloads of the pacing benchmark, read from TOML, and how one dial's fate is drawn.
//!
//! A workload is one or more campaigns sharing a pool, each a population of callees: outcome
//! shares, a ring-time law, a handle-time law, and how its human answer rate moves through the
//! day. `bench/workloads/*.toml` holds the named ones (`pacing.md`'s W1, W2, W3, W5 and the
//! populations that found the pacer's faults); `family.rs` draws new ones. Each dial's fate comes
//! from a random stream of its own.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A named workload: campaigns sharing one pool, run at each pool size.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    /// What population it stands for, in a sentence.
    #[serde(default)]
    pub about: String,
    /// Pool sizes (bot slots) it runs at.
    pub pools: Vec<usize>,
    /// Simulated hours per run.
    #[serde(default = "eight")]
    pub hours: f64,
    #[serde(rename = "campaign")]
    pub campaigns: Vec<Population>,
}

fn eight() -> f64 {
    8.0
}

/// One campaign's population.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Its fair-share weight in the pool.
    #[serde(default = "one")]
    pub weight: f64,
    /// Outcome shares of a dial at the start; failed/SIT is what they leave.
    pub human: f64,
    pub machine: f64,
    pub no_answer: f64,
    pub busy: f64,
    /// Bot handle time of a human, seconds: a lognormal's mean and coefficient of variation.
    pub handle_mean: f64,
    pub handle_cv: f64,
    /// A human's time to answer, seconds: lognormal median and log-deviation (answers after the
    /// 30 s ring timeout are no answers).
    #[serde(default = "nine")]
    pub answer_median: f64,
    #[serde(default = "half")]
    pub answer_sigma: f64,
    /// How the human answer rate moves through the run.
    #[serde(default)]
    pub trend: Trend,
}

fn one() -> f64 {
    1.0
}
fn nine() -> f64 {
    9.0
}
fn half() -> f64 {
    0.5
}

/// A factor on the human answer share through the run; no-answers take up the difference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trend {
    #[default]
    Steady,
    /// From each hour on, the factor given (`[[2, 0.4], [4, 1.0]]`: 0.4 from hour 2, 1 from 4).
    Steps { at: Vec<(f64, f64)> },
    /// A straight line from 1 at the start to `to` at the end of the run.
    Drift { to: f64 },
    /// A time-of-day curve: `1 + amplitude · sin(2π t / period)`.
    Wave { amplitude: f64, period_hours: f64 },
}

/// Outcome shares of a dial at one moment (they sum to at most 1; failed/SIT is the rest).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    pub human: f64,
    pub machine: f64,
    pub no_answer: f64,
    pub busy: f64,
}

impl Population {
    /// The shares in force `t` seconds into the run of `hours` hours.
    pub fn mix_at(&self, t: f64, hours: f64) -> Mix {
        let factor = match &self.trend {
            Trend::Steady => 1.0,
            Trend::Steps { at } => at
                .iter()
                .rev()
                .find(|(h, _)| h * 3_600.0 <= t)
                .map_or(1.0, |s| s.1),
            Trend::Drift { to } => 1.0 + (to - 1.0) * (t / (hours * 3_600.0)).min(1.0),
            Trend::Wave {
                amplitude,
                period_hours,
            } => 1.0 + amplitude * (std::f64::consts::TAU * t / (period_hours * 3_600.0)).sin(),
        };
        let human = (self.human * factor.max(0.0)).min(self.human + self.no_answer);
        Mix {
            human,
            machine: self.machine,
            no_answer: self.no_answer + self.human - human,
            busy: self.busy,
        }
    }

    /// What is wrong with it, if anything.
    fn check(&self) -> Result<(), String> {
        let shares = [
            ("human", self.human),
            ("machine", self.machine),
            ("no_answer", self.no_answer),
            ("busy", self.busy),
        ];
        for (name, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} is {v}: a share is between 0 and 1"));
            }
        }
        let sum: f64 = shares.iter().map(|s| s.1).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!("the shares add up to {sum:.3}, over 1"));
        }
        if self.human <= 0.0 {
            return Err("human is 0: nobody would ever answer".into());
        }
        for (name, v, lo, hi) in [
            ("weight", self.weight, 0.001, 1e3),
            ("handle_mean", self.handle_mean, 1.0, 7_200.0),
            ("handle_cv", self.handle_cv, 0.01, 5.0),
            ("answer_median", self.answer_median, 0.5, 30.0),
            ("answer_sigma", self.answer_sigma, 0.0, 3.0),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(format!("{name} is {v}: it must be within {lo}–{hi}"));
            }
        }
        match &self.trend {
            Trend::Steady => Ok(()),
            Trend::Steps { at } if at.iter().any(|s| s.0 < 0.0 || s.1 < 0.0) => {
                Err("trend.at holds [hour, factor] pairs, neither negative".into())
            }
            Trend::Steps { at } if at.windows(2).any(|w| w[0].0 > w[1].0) => {
                Err("trend.at's hours must be in order".into())
            }
            Trend::Steps { .. } => Ok(()),
            Trend::Drift { to } if *to < 0.0 => Err("trend.to must not be negative".into()),
            Trend::Drift { .. } => Ok(()),
            Trend::Wave {
                amplitude,
                period_hours,
            } if !(0.0..=1.0).contains(amplitude) || *period_hours <= 0.0 => {
                Err("trend.amplitude is within 0–1 and trend.period_hours over 0".into())
            }
            Trend::Wave { .. } => Ok(()),
        }
    }
}

impl Workload {
    /// Reads and checks one workload file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks a workload.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let w: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        w.check()?;
        Ok(w)
    }

    /// What is wrong with it, if anything.
    pub fn check(&self) -> Result<(), String> {
        if self.campaigns.is_empty() {
            return Err("a workload needs at least one [[campaign]]".into());
        }
        if self.pools.is_empty() || self.pools.iter().any(|p| !(1..=5_000).contains(p)) {
            return Err("pools lists pool sizes, each 1–5000 slots".into());
        }
        if !(0.5..=720.0).contains(&self.hours) {
            return Err(format!(
                "hours is {}: it must be within 0.5–720",
                self.hours
            ));
        }
        for (i, c) in self.campaigns.iter().enumerate() {
            c.check().map_err(|e| format!("campaign {}: {e}", i + 1))?;
        }
        Ok(())
    }

    /// Every `*.toml` file in `dir`, by file name.
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>, String> {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: cannot be listed: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        paths.iter().map(|p| Self::from_file(p)).collect()
    }

    /// Dials a second the pool would need at full use (the callees' answer rate at its lowest):
    /// what a run costs.
    pub fn dial_rate(&self, slots: usize) -> f64 {
        let weights: f64 = self.campaigns.iter().map(|c| c.weight).sum();
        self.campaigns
            .iter()
            .map(|c| {
                let lowest = (0..=(self.hours * 4.0) as usize)
                    .map(|q| c.mix_at(q as f64 * 900.0, self.hours).human)
                    .fold(f64::INFINITY, f64::min)
                    .max(0.01);
                slots as f64 * c.weight / weights / c.handle_mean / lowest
            })
            .sum()
    }
}

/// What happens to one dial, in seconds from the moment it is placed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fate {
    /// Never answered: ends at `at` (busy, failed, or the 30 s ring timeout).
    Unanswered { at: f64 },
    /// Answered at `answer`, classified at `classify`; `human` is what AMD says, `truly_human`
    /// the truth; `hold` is how long it holds a slot if it gets one.
    Answered {
        answer: f64,
        classify: f64,
        human: bool,
        truly_human: bool,
        hold: f64,
    },
}

const ORIGINATE: f64 = 0.5;
const RING_TIMEOUT: f64 = 30.0;
const AMD_FP: f64 = 0.02;
const AMD_FN: f64 = 0.10;
const FN_HOLD: f64 = 15.0;

fn normal(rng: &mut StdRng) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The fate of dial number `index` of campaign `campaign`, placed at `t` in a run of `hours`:
/// drawn from a stream of its own, so every policy meets the same callee on its n-th dial (common
/// random numbers).
pub fn fate(
    seed: u64,
    campaign: usize,
    index: u64,
    t: f64,
    hours: f64,
    population: &Population,
) -> Fate {
    let mut rng = StdRng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((campaign as u64) << 48) ^ index,
    );
    let mix = population.mix_at(t, hours);
    let u: f64 = rng.random();
    let uniform = |rng: &mut StdRng, lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
    let handle = {
        let sigma2 = (1.0 + population.handle_cv.powi(2)).ln();
        let mu = population.handle_mean.ln() - sigma2 / 2.0;
        (mu + sigma2.sqrt() * normal(&mut rng)).exp()
    };
    let amd_error: f64 = rng.random();
    if u < mix.human {
        let answer = population.answer_median * (population.answer_sigma * normal(&mut rng)).exp();
        if answer > RING_TIMEOUT {
            return Fate::Unanswered {
                at: ORIGINATE + RING_TIMEOUT,
            };
        }
        let answer = ORIGINATE + answer;
        Fate::Answered {
            answer,
            classify: answer + uniform(&mut rng, 1.5, 2.5),
            human: amd_error >= AMD_FP,
            truly_human: true,
            hold: handle,
        }
    } else if u < mix.human + mix.machine {
        let answer = ORIGINATE + uniform(&mut rng, 18.0, 28.0);
        Fate::Answered {
            answer,
            classify: answer + uniform(&mut rng, 3.0, 4.0),
            human: amd_error < AMD_FN,
            truly_human: false,
            hold: FN_HOLD,
        }
    } else if u < mix.human + mix.machine + mix.no_answer {
        Fate::Unanswered {
            at: ORIGINATE + RING_TIMEOUT,
        }
    } else if u < mix.human + mix.machine + mix.no_answer + mix.busy {
        Fate::Unanswered {
            at: ORIGINATE + uniform(&mut rng, 2.0, 6.0),
        }
    } else {
        Fate::Unanswered {
            at: ORIGINATE + uniform(&mut rng, 1.0, 4.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W3: &str = r#"
name = "W3"
pools = [10]
[[campaign]]
human = 0.25
machine = 0.25
no_answer = 0.30
busy = 0.08
handle_mean = 120
handle_cv = 0.8
trend = { kind = "steps", at = [[2, 0.4], [4, 1.0]] }
"#;

    #[test]
    fn a_step_trend_moves_the_human_share_and_no_answers_take_up_the_difference() {
        let w = Workload::from_toml(W3).unwrap();
        let c = &w.campaigns[0];
        assert_eq!(c.mix_at(3_600.0, 8.0).human, 0.25);
        let low = c.mix_at(2.5 * 3_600.0, 8.0);
        assert!((low.human - 0.10).abs() < 1e-12);
        assert!((low.no_answer - 0.45).abs() < 1e-12);
        assert_eq!(c.mix_at(5.0 * 3_600.0, 8.0).human, 0.25);
    }

    #[test]
    fn a_workload_whose_shares_pass_one_is_refused_with_the_reason() {
        let bad = W3.replace("busy = 0.08", "busy = 0.5");
        let e = Workload::from_toml(&bad).unwrap_err();
        assert!(e.contains("campaign 1: the shares add up to 1.300"), "{e}");
        let unknown = W3.replace("busy = 0.08", "busy = 0.08\nbusyy = 1");
        assert!(Workload::from_toml(&unknown).is_err());
    }

    #[test]
    fn every_named_workload_file_reads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
        let all = Workload::load_dir(&dir).unwrap();
        assert!(all.iter().any(|w| w.name == "W1"), "W1 is among them");
    }
}
