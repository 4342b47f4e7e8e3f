//! Weighted fair share of the fleet's slots across running campaigns, with per-campaign caps.
//!
//! Water-filling: every campaign gets slots in proportion to its weight; a campaign capped below
//! its proportional share (its concurrency cap, or the calls it can still make) keeps only its
//! cap, and what it leaves is shared again among the others by weight.

/// One campaign's claim on the pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claim {
    /// Relative weight (> 0); a campaign with weight 0 gets nothing.
    pub weight: f64,
    /// The most slots it can use (its concurrency cap, or `f64::INFINITY`).
    pub cap: f64,
}

/// Each claim's share of `slots`, in claim order. Shares are fractional (a pacer's supply is an
/// expectation anyway); they sum to `min(slots, Σ caps)`.
pub fn shares(slots: f64, claims: &[Claim]) -> Vec<f64> {
    let mut share = vec![0.0; claims.len()];
    let mut open: Vec<usize> = (0..claims.len())
        .filter(|&i| claims[i].weight > 0.0 && claims[i].cap > 0.0)
        .collect();
    let mut left = slots.max(0.0);
    while !open.is_empty() && left > 1e-9 {
        let total: f64 = open.iter().map(|&i| claims[i].weight).sum();
        // Campaigns whose proportional share would pass their cap are settled at the cap.
        let capped: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&i| claims[i].cap - share[i] <= left * claims[i].weight / total)
            .collect();
        if capped.is_empty() {
            for &i in &open {
                share[i] += left * claims[i].weight / total;
            }
            break;
        }
        for &i in &capped {
            left -= claims[i].cap - share[i];
            share[i] = claims[i].cap;
        }
        open.retain(|i| !capped.contains(i));
    }
    share
}

/// Jain's fairness index of `allocations` normalised by `weights`: 1.0 when every campaign got
/// exactly its weighted share, 1/n when one got everything.
pub fn jain_index(allocations: &[f64], weights: &[f64]) -> f64 {
    let x: Vec<f64> = allocations
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(a, w)| a / w)
        .collect();
    let sum: f64 = x.iter().sum();
    let squares: f64 = x.iter().map(|v| v * v).sum();
    if squares == 0.0 {
        return 1.0;
    }
    sum * sum / (x.len() as f64 * squares)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(weight: f64, cap: f64) -> Claim {
        Claim { weight, cap }
    }

    #[test]
    fn slots_are_split_by_weight_when_no_campaign_is_capped() {
        let s = shares(
            60.0,
            &[
                claim(3.0, f64::INFINITY),
                claim(2.0, f64::INFINITY),
                claim(1.0, f64::INFINITY),
            ],
        );
        assert_eq!(s, vec![30.0, 20.0, 10.0]);
    }

    #[test]
    fn a_capped_campaign_leaves_its_surplus_to_the_others_by_weight() {
        let s = shares(
            60.0,
            &[
                claim(3.0, 6.0),
                claim(2.0, f64::INFINITY),
                claim(1.0, f64::INFINITY),
            ],
        );
        assert!((s[0] - 6.0).abs() < 1e-9);
        assert!((s[1] - 36.0).abs() < 1e-9, "{s:?}");
        assert!((s[2] - 18.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn shares_never_exceed_caps_and_sum_to_what_can_be_used() {
        let s = shares(100.0, &[claim(1.0, 10.0), claim(5.0, 20.0)]);
        assert_eq!(s, vec![10.0, 20.0]);
    }

    #[test]
    fn a_campaign_with_zero_weight_gets_nothing() {
        let s = shares(
            10.0,
            &[claim(0.0, f64::INFINITY), claim(1.0, f64::INFINITY)],
        );
        assert_eq!(s, vec![0.0, 10.0]);
    }

    #[test]
    fn jain_index_is_one_for_weighted_shares_and_low_for_a_monopoly() {
        assert!((jain_index(&[30.0, 20.0, 10.0], &[3.0, 2.0, 1.0]) - 1.0).abs() < 1e-12);
        let monopoly = jain_index(&[60.0, 0.0, 0.0], &[3.0, 2.0, 1.0]);
        assert!((monopoly - 1.0 / 3.0).abs() < 1e-12, "{monopoly}");
    }
}
