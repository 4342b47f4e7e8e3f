//! The normal-approximation arithmetic of the pacer.
//!
//! The standard normal CDF and PDF, the lognormal hazard, and the expected overflow E[max(0, X)].

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// The standard normal density.
pub fn phi(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// The standard normal CDF, through `erfc` (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
pub fn big_phi(x: f64) -> f64 {
    0.5 * erfc(-x * FRAC_1_SQRT_2)
}

/// The standard normal quantile: `x` with `Φ(x) = p`, by bisection (to 1e-12).
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0, 40.0);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if big_phi(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// E[max(0, X)] for X ~ Normal(mean, sd²); `max(0, mean)` when `sd` is 0.
pub fn expected_overflow(mean: f64, sd: f64) -> f64 {
    if sd <= 1e-12 {
        return mean.max(0.0);
    }
    let z = mean / sd;
    mean * big_phi(z) + sd * phi(z)
}

/// A lognormal distribution by the mean and standard deviation of its logarithm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogNormal {
    pub mu: f64,
    pub sigma: f64,
}

impl LogNormal {
    /// The lognormal with this mean and coefficient of variation.
    pub fn from_mean_cv(mean: f64, cv: f64) -> Self {
        let sigma2 = (1.0 + cv * cv).ln();
        Self {
            mu: mean.ln() - sigma2 / 2.0,
            sigma: sigma2.sqrt(),
        }
    }

    /// Fitted to positive samples (their logs' mean and deviation); `None` under two samples.
    pub fn fit(samples: impl Iterator<Item = f64>) -> Option<Self> {
        let logs: Vec<f64> = samples.filter(|s| *s > 0.0).map(f64::ln).collect();
        if logs.len() < 2 {
            return None;
        }
        let n = logs.len() as f64;
        let mu = logs.iter().sum::<f64>() / n;
        let var = logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / (n - 1.0);
        Some(Self {
            mu,
            sigma: var.sqrt().max(0.05),
        })
    }

    /// Its mean, `e^(μ + σ²/2)`.
    pub fn mean(&self) -> f64 {
        (self.mu + self.sigma * self.sigma / 2.0).exp()
    }

    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        big_phi((x.ln() - self.mu) / self.sigma)
    }

    /// P(X ≤ t + h | X > t): the chance that something this old ends within `h`.
    pub fn ends_within(&self, age: f64, h: f64) -> f64 {
        let survived = 1.0 - self.cdf(age);
        if survived <= 1e-12 {
            return 1.0;
        }
        ((self.cdf(age + h) - self.cdf(age)) / survived).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        for (x, want) in [
            (0.0, 0.5),
            (1.0, 0.841_344_7),
            (-1.96, 0.024_997_9),
            (3.0, 0.998_650_1),
        ] {
            assert!((big_phi(x) - want).abs() < 1e-6, "Φ({x}) = {}", big_phi(x));
        }
    }

    #[test]
    fn expected_overflow_is_the_mean_for_a_certain_positive_and_half_sd_times_density_at_zero() {
        assert_eq!(expected_overflow(3.0, 0.0), 3.0);
        assert_eq!(expected_overflow(-3.0, 0.0), 0.0);
        // E[max(0, X)] for X ~ N(0, 1) is 1/√(2π).
        assert!((expected_overflow(0.0, 1.0) - 0.398_942_3).abs() < 1e-6);
    }

    #[test]
    fn lognormal_from_mean_and_cv_has_that_mean() {
        let d = LogNormal::from_mean_cv(120.0, 0.8);
        assert!((d.mean() - 120.0).abs() < 1e-9);
    }

    #[test]
    fn a_call_is_likelier_to_end_soon_the_longer_it_has_lasted_under_a_light_tail() {
        let d = LogNormal::from_mean_cv(120.0, 0.3);
        assert!(d.ends_within(150.0, 12.0) > d.ends_within(30.0, 12.0));
        assert!(d.ends_within(0.0, 12.0) < 0.01);
    }
}
