//! The pacer's watch for a list that turns warm faster than its arrivals' cohort can tell.
//!
//! The cohort (`History::arrivals`) is of dials that have all resolved, so it is a minute or more
//! behind the list. When a list turns warm (a cold spell ends), its people flood in on the calls
//! dialled for a cold one, and the clock hour breaks before the cohort sees them. The pacer
//! looks for the surge among the newest dials, those still ringing included, and foresees as
//! many times more people as it finds there (`Pacer::surge`). On an hour too thin to wait for
//! the surge to show, it foresees the warmth the list had before its cold spell
//! (`Pacer::cold_spell`).

use super::{Arrivals, Pacer, Snapshot, THIN_HOUR_CLUMPS};

/// The newest dials watched for a surge of people: placed in the last `SURGE_FROM` seconds, their
/// people counted if they came within `SURGE_BY` seconds of the dial (most people answer within
/// 15 s).
const SURGE_FROM: f64 = 150.0;
const SURGE_BY: f64 = 15.0;
/// The windows of newest dials, in seconds, whose people so far are weighed against what the
/// cohort says their ages should have brought (`Pacer::early_surge`), and the deviations a
/// surplus must reach in one of them.
const EARLY_WINDOWS: [f64; 3] = [20.0, 40.0, 80.0];
const EARLY_Z: f64 = 3.0;
/// The most times more people than the cohort says that a decision foresees.
const SURGE_MOST: f64 = 5.0;

impl Pacer {
    /// How many times more people the newest dials bring than the arrivals' cohort foresees: 1
    /// unless a surge is seen by either of two looks, the larger when both see one.
    pub(super) fn surge(&self, now: f64, s: &Snapshot<'_>, arrivals: &Arrivals) -> f64 {
        self.early_surge(now, s, arrivals)
            .max(self.settled_surge(now, s, arrivals))
    }

    /// The surge seen in the people the dials of the last 20, 40 or 80 s (`EARLY_WINDOWS`) have
    /// brought so far, against what the cohort says they should have by their ages: each dial,
    /// `a` seconds old, was to have become a person by now with the cohort's chance of a person
    /// within `a`, those still ringing included. Where the people outnumber that sum by
    /// `EARLY_Z` deviations, and are at least three, the surge is their ratio to it (the largest
    /// of the windows that see one). The youngest dials tell a little each, so a list that turns
    /// warm is seen a dozen seconds after it does, as its first people answer, and the shortest
    /// window, its dials nearly all of the warm list, tells how much warmer. On 95 slots of
    /// 5-minute calls, a list back from two hours at a sixth of its answer rate had brought forty
    /// people too many before `settled_surge` or the cohort saw it, and broke the hour at 5.9 %.
    fn early_surge(&self, now: f64, s: &Snapshot<'_>, arrivals: &Arrivals) -> f64 {
        let longest = EARLY_WINDOWS[EARLY_WINDOWS.len() - 1];
        let ringing = s
            .ringing
            .iter()
            .filter(|&&age| age <= longest)
            .map(|&age| (age, false));
        // (people, expected people, variance) per window.
        let mut seen = [(0.0, 0.0, 0.0); EARLY_WINDOWS.len()];
        for (age, person) in self.history.placed_within(now, longest).chain(ringing) {
            let p = arrivals.human_within(0.0, age);
            for (window, seen) in EARLY_WINDOWS.iter().zip(&mut seen) {
                if age <= *window {
                    seen.0 += f64::from(u8::from(person));
                    seen.1 += p;
                    seen.2 += p * (1.0 - p);
                }
            }
        }
        seen.iter()
            .filter(|(people, expected, var)| {
                *people >= 3.0 && *people > expected + EARLY_Z * var.sqrt()
            })
            .map(|(people, expected, _)| (people / expected.max(0.5)).min(SURGE_MOST))
            .fold(1.0, f64::max)
    }

    /// The surge seen in the dials of the last `SURGE_FROM` seconds that are old enough to tell:
    /// significantly more (two deviations) of them became people within `SURGE_BY` seconds of
    /// their dial than the cohort says. Slower than `early_surge`, but it weighs more dials, and
    /// so sees a list that turns only a little warmer. Counting early people among the newest
    /// dials is not fooled by a change in the dial rate.
    pub(super) fn settled_surge(&self, now: f64, s: &Snapshot<'_>, arrivals: &Arrivals) -> f64 {
        let (resolved, people) = self.history.early_people(now, SURGE_FROM, SURGE_BY);
        let ringing = s
            .ringing
            .iter()
            .filter(|&&age| (SURGE_BY..=SURGE_FROM).contains(&age))
            .count();
        let expected = (resolved + ringing) as f64 * arrivals.human_within(0.0, SURGE_BY);
        let people = people as f64;
        if people >= 3.0 && people > expected + 2.0 * expected.sqrt() {
            (people / expected.max(0.5)).min(SURGE_MOST)
        } else {
            1.0
        }
    }

    /// How many times more people the dials may bring than the cohort says, on a clock hour that
    /// `THIN_HOUR_CLUMPS` clumps of abandons would break (5 % of fewer than 80 people): as many as
    /// the kept dials brought, when the list is in a cold spell (`History::warmth`), else 1. In a
    /// cold spell a campaign of so few people has dialled many calls for each slot, and when the
    /// list turns warm again they bring a person each at once, before the surge is seen (`surge`
    /// needs three). On 3.5 slots of 6-minute calls sharing a pool, the first minute after a cold
    /// spell ended broke an hour of 12 people with one abandon. Fewer dials on a campaign that
    /// small cost little: it had slots free while its list was cold.
    pub(super) fn cold_spell(&self, now: f64, arrivals: &Arrivals) -> f64 {
        if self.thin_hour(now, THIN_HOUR_CLUMPS) {
            self.history.warmth(arrivals, SURGE_MOST)
        } else {
            1.0
        }
    }
}
