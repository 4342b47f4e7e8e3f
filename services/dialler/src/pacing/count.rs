//! Counts of independent chances, exactly: the Poisson-binomial law and one count's excess.
//!
//! On a small pool the pacer's counts are a few chances each (a dozen calls ringing, a few slots
//! that may free), and the abandon rates it aims at are far in their tails, where the normal
//! approximation is off either way: a count of people from many small chances is skewed, with a
//! longer upper tail than the normal law's, and the normal law spreads a count of a few chances
//! over fractions of a person. There the pacer computes the overflow from the exact laws.

/// Probabilities below this are dropped from a law's upper end (they change no decision).
const NEGLIGIBLE: f64 = 1e-13;

/// The law of a count of independent events, each with its own chance (a Poisson-binomial).
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    /// `pmf[i]` = P(count = i).
    pmf: Vec<f64>,
}

impl Default for Count {
    fn default() -> Self {
        Self::none()
    }
}

impl Count {
    /// A count that is surely 0.
    pub fn none() -> Self {
        Self { pmf: vec![1.0] }
    }

    /// Adds one event of chance `p`.
    pub fn add(&mut self, p: f64) {
        let p = p.clamp(0.0, 1.0);
        if p == 0.0 {
            return;
        }
        self.pmf.push(0.0);
        for i in (1..self.pmf.len()).rev() {
            self.pmf[i] = self.pmf[i] * (1.0 - p) + self.pmf[i - 1] * p;
        }
        self.pmf[0] *= 1.0 - p;
        while self.pmf.len() > 1 && self.pmf.last().is_some_and(|&x| x < NEGLIGIBLE) {
            self.pmf.pop();
        }
    }

    /// The same count with `n` more events of chance `p` each.
    pub fn with(&self, n: usize, p: f64) -> Self {
        let mut count = self.clone();
        for _ in 0..n {
            count.add(p);
        }
        count
    }

    /// P(count = i) for each i from 0.
    pub fn pmf(&self) -> &[f64] {
        &self.pmf
    }
}

/// How many more people a slot serves within the look-ahead: a person who gets one may free it
/// again in time for another (`share`, the chance of that), but a slot lent by another campaign
/// serves one person and is the pool's again after her.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reuse {
    pub share: f64,
    pub lent: f64,
}

/// `E[max(0, waiting + D − slots)]`: the people (`waiting` now, `D` to come) beyond the slots
/// (`B = max(0, free + S − over)`: `free` now, `S` to free, less `over` held beyond a share; those
/// not lent serve `1 + share` people each), `D` and `S` independent.
pub fn expected_excess(
    waiting: f64,
    demand: &Count,
    free: f64,
    supply: &Count,
    over: f64,
    reuse: Reuse,
) -> f64 {
    let mut total = 0.0;
    for (s, ps) in supply.pmf().iter().enumerate() {
        if *ps == 0.0 {
            continue;
        }
        let base = (free + s as f64 - over).max(0.0);
        let slots = base + reuse.share * (base - reuse.lent).max(0.0);
        let mut excess = 0.0;
        for (d, pd) in demand.pmf().iter().enumerate() {
            let people = waiting + d as f64;
            if people > slots {
                excess += pd * (people - slots);
            }
        }
        total += ps * excess;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean(c: &Count) -> f64 {
        c.pmf().iter().enumerate().map(|(i, p)| i as f64 * p).sum()
    }

    #[test]
    fn a_count_of_equal_chances_is_binomial() {
        let c = Count::none().with(3, 0.5);
        let want = [0.125, 0.375, 0.375, 0.125];
        for (got, want) in c.pmf().iter().zip(want) {
            assert!((got - want).abs() < 1e-12);
        }
        assert!((mean(&c) - 1.5).abs() < 1e-12);
    }

    #[test]
    fn a_count_of_unequal_chances_sums_to_one_and_keeps_the_mean() {
        let mut c = Count::none();
        for p in [0.1, 0.9, 0.3, 0.0, 1.0] {
            c.add(p);
        }
        assert!((c.pmf().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((mean(&c) - 2.3).abs() < 1e-12);
        // The certain event makes 0 impossible.
        assert_eq!(c.pmf()[0], 0.0);
    }

    #[test]
    fn the_excess_counts_people_beyond_the_slots_in_every_case() {
        // One person surely waiting, one slot free with chance ½: ½ person left over.
        let free = Count::none().with(1, 0.5);
        let got = expected_excess(1.0, &Count::none(), 0.0, &free, 0.0, Reuse::default());
        assert!((got - 0.5).abs() < 1e-12);
        // Two people with chance ½ each, one slot free now: only both at once overflow (¼).
        let people = Count::none().with(2, 0.5);
        let got = expected_excess(0.0, &people, 1.0, &Count::none(), 0.0, Reuse::default());
        assert!((got - 0.25).abs() < 1e-12);
        // A slot held beyond the share is not the campaign's.
        let got = expected_excess(0.0, &people, 1.0, &Count::none(), 1.0, Reuse::default());
        assert!((got - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_slot_freed_again_within_the_look_ahead_serves_part_of_another_person_unless_it_was_lent() {
        // Two people surely coming, one slot free, and a half chance that the first one's call
        // ends in time for the second: half a person left over.
        let two = Count::none().with(2, 1.0);
        let reuse = Reuse {
            share: 0.5,
            lent: 0.0,
        };
        let got = expected_excess(0.0, &two, 1.0, &Count::none(), 0.0, reuse);
        assert!((got - 0.5).abs() < 1e-12);
        // The same slot lent by another campaign serves the first person only.
        let lent = Reuse { lent: 1.0, ..reuse };
        let got = expected_excess(0.0, &two, 1.0, &Count::none(), 0.0, lent);
        assert!((got - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_normal_approximation_under_counts_a_small_pools_upper_tail() {
        // Twenty calls ringing with a 10 % chance each, four slots free: the exact overflow is
        // well above what a normal law of the same mean and variance gives.
        let people = Count::none().with(20, 0.1);
        let exact = expected_excess(0.0, &people, 4.0, &Count::none(), 0.0, Reuse::default());
        let normal = super::super::overflow::expected_overflow(2.0 - 4.0, (20.0 * 0.09f64).sqrt());
        assert!(exact > 1.3 * normal, "exact {exact}, normal {normal}");
    }
}
