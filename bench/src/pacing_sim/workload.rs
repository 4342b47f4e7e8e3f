//! The workloads of the pacing benchmark and how one dial's fate is drawn.
//!
//! `pacing.md`'s W1, W2, W3 (non-stationary) and W5 (three campaigns on one pool); each dial's fate
//! comes from its own random stream.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Outcome shares of a dial (they sum to 1).
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub human: f64,
    pub machine: f64,
    pub no_answer: f64,
    pub busy: f64,
    // failed/SIT is the rest
}

pub const W1_MIX: Mix = Mix {
    human: 0.25,
    machine: 0.25,
    no_answer: 0.30,
    busy: 0.08,
};
pub const W2_MIX: Mix = Mix {
    human: 0.10,
    machine: 0.25,
    no_answer: 0.45,
    busy: 0.08,
};
const MID_MIX: Mix = Mix {
    human: 0.15,
    machine: 0.25,
    no_answer: 0.40,
    busy: 0.08,
};

/// One campaign's population.
#[derive(Debug, Clone)]
pub struct Population {
    /// The mix in force from each start time (seconds), in order.
    pub mixes: Vec<(f64, Mix)>,
    pub handle_mean: f64,
    pub handle_cv: f64,
    pub weight: f64,
}

impl Population {
    fn steady(mix: Mix, handle_mean: f64) -> Self {
        Self {
            mixes: vec![(0.0, mix)],
            handle_mean,
            handle_cv: 0.8,
            weight: 1.0,
        }
    }

    fn mix_at(&self, t: f64) -> Mix {
        self.mixes
            .iter()
            .rev()
            .find(|(start, _)| *start <= t)
            .map_or(self.mixes[0].1, |m| m.1)
    }
}

/// A named workload: campaigns sharing one pool.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: &'static str,
    pub campaigns: Vec<Population>,
}

pub fn w1() -> Workload {
    Workload {
        name: "W1",
        campaigns: vec![Population::steady(W1_MIX, 120.0)],
    }
}

pub fn w2() -> Workload {
    Workload {
        name: "W2",
        campaigns: vec![Population::steady(W2_MIX, 60.0)],
    }
}

/// W1's list whose human answers step 25 % → 10 % → 25 % → 10 % every two hours.
pub fn w3() -> Workload {
    let hours = |h: f64| h * 3_600.0;
    Workload {
        name: "W3",
        campaigns: vec![Population {
            mixes: vec![
                (0.0, W1_MIX),
                (hours(2.0), W2_MIX),
                (hours(4.0), W1_MIX),
                (hours(6.0), W2_MIX),
            ],
            ..Population::steady(W1_MIX, 120.0)
        }],
    }
}

/// Three campaigns, weights 3:2:1, 25 %, 15 % and 10 % human answers, one pool.
pub fn w5() -> Workload {
    let weighted = |mix, weight| Population {
        weight,
        ..Population::steady(mix, 120.0)
    };
    Workload {
        name: "W5",
        campaigns: vec![
            weighted(W1_MIX, 3.0),
            weighted(MID_MIX, 2.0),
            weighted(W2_MIX, 1.0),
        ],
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

/// The fate of dial number `index` of campaign `campaign`, placed at `t`: drawn from a stream of
/// its own, so every policy meets the same callee on its n-th dial (common random numbers).
pub fn fate(seed: u64, campaign: usize, index: u64, t: f64, population: &Population) -> Fate {
    let mut rng = StdRng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((campaign as u64) << 48) ^ index,
    );
    let mix = population.mix_at(t);
    let u: f64 = rng.random();
    let uniform = |rng: &mut StdRng, lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
    let handle = {
        let sigma2 = (1.0 + population.handle_cv.powi(2)).ln();
        let mu = population.handle_mean.ln() - sigma2 / 2.0;
        (mu + sigma2.sqrt() * normal(&mut rng)).exp()
    };
    let amd_error: f64 = rng.random();
    if u < mix.human {
        let answer = 9.0 * (0.5 * normal(&mut rng)).exp();
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
