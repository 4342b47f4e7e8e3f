//! The workload family: random populations drawn from a seed, so every run meets new ones.
//!
//! The ranges are issue 26's: handle times 20 s–10 min (CV 0.5–1.5), human answer rates 5–50 %,
//! machine and no-answer shares, the ring-time law, steady and non-stationary lists (steps, a
//! collapse, a slow drift, a time-of-day curve), pools of 5–500 slots, and sometimes two or
//! three campaigns sharing the pool. A draw whose pool would need more than `MAX_DIAL_RATE`
//! dials a second is drawn again: more than a trunk carries, and more than the run time allows.

use super::workload::{Population, Trend, Workload};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Dials a second a drawn pool may need at full use.
pub const MAX_DIAL_RATE: f64 = 25.0;

fn log_uniform(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * rng.random::<f64>()).exp()
}

fn round(x: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (x * m).round() / m
}

fn population(rng: &mut StdRng, hours: f64) -> Population {
    let human = round(log_uniform(rng, 0.05, 0.5), 3);
    let machine = round(rng.random_range(0.05..0.35), 3);
    let busy = round(rng.random_range(0.02..0.10), 3);
    let failed = rng.random_range(0.02..0.12);
    let no_answer = round((1.0 - human - machine - busy - failed).max(0.0), 3);
    let trend = match rng.random_range(0..10) {
        0..4 => Trend::Steady,
        4..6 => {
            let steps = rng.random_range(2..=4);
            let mut at: Vec<(f64, f64)> = (0..steps)
                .map(|_| {
                    (
                        round(rng.random_range(0.5..hours), 2),
                        round(rng.random_range(0.3..1.5), 2),
                    )
                })
                .collect();
            at.sort_by(|a, b| a.0.total_cmp(&b.0));
            Trend::Steps { at }
        }
        6..8 => {
            let from = round(rng.random_range(0.5..(hours - 2.0).max(0.6)), 2);
            Trend::Steps {
                at: vec![
                    (from, round(rng.random_range(0.15..0.4), 2)),
                    (from + 2.0, 1.0),
                ],
            }
        }
        8 => Trend::Drift {
            to: round(log_uniform(rng, 0.3, 2.0), 2),
        },
        _ => Trend::Wave {
            amplitude: round(rng.random_range(0.2..0.6), 2),
            period_hours: round(rng.random_range(4.0..10.0), 1),
        },
    };
    Population {
        weight: f64::from(rng.random_range(1..=3u8)),
        human,
        machine,
        no_answer,
        busy,
        handle_mean: round(log_uniform(rng, 20.0, 600.0), 0),
        handle_cv: round(rng.random_range(0.5..1.5), 2),
        answer_median: round(rng.random_range(5.0..15.0), 1),
        answer_sigma: round(rng.random_range(0.3..0.8), 2),
        trend,
    }
}

/// Draw number `index` of the sweep seeded by `seed`: one pool size, one to three campaigns.
pub fn draw(seed: u64, index: usize) -> Workload {
    let mut rng = StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    loop {
        let hours = 8.0;
        let campaigns = match rng.random_range(0..4) {
            0 => rng.random_range(2..=3),
            _ => 1,
        };
        let pool = log_uniform(&mut rng, 5.0, 500.0).round() as usize;
        let w = Workload {
            name: format!("sweep-{seed}-{index}"),
            about: String::new(),
            pools: vec![pool],
            hours,
            campaigns: (0..campaigns)
                .map(|_| population(&mut rng, hours))
                .collect(),
        };
        if w.check().is_ok() && w.dial_rate(pool) <= MAX_DIAL_RATE {
            return w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_workloads_and_another_seed_others() {
        let a = toml::to_string(&draw(7, 3)).unwrap();
        assert_eq!(a, toml::to_string(&draw(7, 3)).unwrap());
        assert_ne!(a, toml::to_string(&draw(8, 3)).unwrap());
    }

    #[test]
    fn every_draw_is_a_valid_workload_within_the_families_ranges() {
        for i in 0..200 {
            let w = draw(1, i);
            w.check().unwrap();
            assert!((5..=500).contains(&w.pools[0]));
            assert!(w.dial_rate(w.pools[0]) <= MAX_DIAL_RATE);
            for c in &w.campaigns {
                assert!((0.05..=0.5).contains(&c.human) && (20.0..=600.0).contains(&c.handle_mean));
            }
            // What is printed reads back as the same workload.
            let text = toml::to_string(&w).unwrap();
            assert_eq!(
                toml::to_string(&Workload::from_toml(&text).unwrap()).unwrap(),
                text
            );
        }
    }
}
