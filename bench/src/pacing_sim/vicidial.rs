//! The VICIdial-like adaptive baseline of the pacing benchmark.
//!
//! A dial level that follows free agents every 15 s, with VICIdial's HARD_LIMIT drop rule.
//!
//! After VICIdial's `AST_VDadapt.pl`: every 15 s, `level ← level · (1 + intensity · (ready −
//! waiting + target_diff) / agents)`, clamped to `[1, max]`; under HARD_LIMIT, once the
//! run-to-date drop (abandon) rate reaches the limit the level falls to 1.0 and stays there while
//! it is over. Dials are placed as RATIO mode places them: `round(level · agents) − engaged`.
//! This is a model of its behaviour for comparison, not VICIdial's code.

use dialler::pacing::Snapshot;

#[derive(Debug, Clone)]
pub struct Vicidial {
    pub max_level: f64,
    pub drop_limit: f64,
    pub intensity: f64,
    level: f64,
    last_update: f64,
    answered: u64,
    dropped: u64,
}

impl Vicidial {
    pub fn new(max_level: f64) -> Self {
        Self {
            max_level,
            drop_limit: 0.03,
            intensity: 1.0,
            level: 1.0,
            last_update: 0.0,
            answered: 0,
            dropped: 0,
        }
    }

    pub fn record_human(&mut self, abandoned: bool) {
        self.answered += 1;
        self.dropped += u64::from(abandoned);
    }

    pub fn decide(&mut self, now: f64, s: &Snapshot<'_>) -> usize {
        if now - self.last_update >= 15.0 {
            self.last_update = now;
            let drop_rate = if self.answered == 0 {
                0.0
            } else {
                self.dropped as f64 / self.answered as f64
            };
            if drop_rate >= self.drop_limit {
                self.level = 1.0;
            } else {
                let agents = s.slots.max(1.0);
                let ready = s.free;
                let change = self.intensity * (ready - s.waiting as f64) / agents;
                self.level = (self.level * (1.0 + change)).clamp(1.0, self.max_level);
            }
        }
        let target = (self.level * s.slots).round();
        let engaged = (s.ringing.len() + s.screening + s.busy.len() + s.waiting) as f64;
        ((target - engaged).max(0.0) as usize).min(s.headroom)
    }
}
