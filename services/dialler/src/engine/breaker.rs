//! The attach breaker: stops new dials while the fleet fails every attach (M5).
//!
//! Workers that cannot reach the Backend still report free slots, but refuse every attach; a
//! dialler that kept dialling would abandon every person who answered. After
//! [`Breaker::THRESHOLD`] attach attempts in a row failed (not merely busy), no new call is dialled
//! for [`Breaker::COOLDOWN`]; then one call at a time probes until an attach succeeds.

use chrono::{DateTime, Utc};

/// How many new calls the fleet may be given now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// As many as it has free slots.
    All,
    /// One, to see whether attaching works again.
    Probe,
    /// None: the last attaches all failed.
    None,
}

#[derive(Debug, Default, Clone)]
pub struct Breaker {
    failures: u32,
    open_until: Option<DateTime<Utc>>,
}

impl Breaker {
    /// Attach attempts failing in a row that stop dialling.
    pub const THRESHOLD: u32 = 3;
    /// How long no new call is dialled once it trips.
    pub const COOLDOWN: chrono::Duration = chrono::Duration::seconds(30);

    pub fn allowance(&self, now: DateTime<Utc>) -> Allowance {
        match self.open_until {
            Some(until) if now < until => Allowance::None,
            Some(_) => Allowance::Probe,
            None => Allowance::All,
        }
    }

    /// Whether it stops dials now (for health and metrics).
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.allowance(now) == Allowance::None
    }

    /// A probe call was dialled: no other until it attaches, fails, or a cooldown passes.
    pub fn probing(&mut self, now: DateTime<Utc>) {
        self.open_until = Some(now + Self::COOLDOWN);
    }

    /// An attach succeeded: the fleet works.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    /// An attach attempt failed at every worker it tried; true when this opens the breaker.
    pub fn failed(&mut self, now: DateTime<Utc>) -> bool {
        self.failures += 1;
        if self.failures < Self::THRESHOLD || self.is_open(now) {
            return false;
        }
        self.open_until = Some(now + Self::COOLDOWN);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn three_failures_stop_dials_for_the_cooldown_then_one_call_probes() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap();
        let at = |s| t0 + chrono::Duration::seconds(s);
        let mut breaker = Breaker::default();
        assert!(!breaker.failed(at(0)));
        assert!(!breaker.failed(at(1)));
        assert_eq!(breaker.allowance(at(1)), Allowance::All);
        assert!(breaker.failed(at(2)));
        assert_eq!(breaker.allowance(at(3)), Allowance::None);
        assert_eq!(breaker.allowance(at(32)), Allowance::Probe);
        breaker.probing(at(32));
        assert_eq!(breaker.allowance(at(33)), Allowance::None);
        // The probe fails: still no dials until the cooldown from the probe is over.
        assert!(!breaker.failed(at(36)));
        assert_eq!(breaker.allowance(at(40)), Allowance::None);
        assert_eq!(breaker.allowance(at(62)), Allowance::Probe);
        // A probe that attaches ends it.
        breaker.succeeded();
        assert_eq!(breaker.allowance(at(40)), Allowance::All);
        assert!(!breaker.failed(at(41)));
    }
}
