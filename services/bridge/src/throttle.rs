//! `Throttle`, a sliding-window limit per caller, for requests that cost the fleet (test calls,
//! website widget calls).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// At most `max` requests per key within `window`.
#[derive(Debug)]
pub struct Throttle {
    max: usize,
    window: Duration,
    taken: parking_lot::Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    /// Keys kept before the ones whose window is over are swept.
    const MAX_KEYS: usize = 10_000;

    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            taken: Default::default(),
        }
    }

    /// Takes one request for `key` at `now`, or `Err` with the whole seconds until one is free.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        self.take_up_to(key, self.max, now)
    }

    /// [`Throttle::take`] with this key's own limit (a widget's, set per key); at least one.
    pub fn take_up_to(&self, key: &str, max: usize, now: Instant) -> Result<(), u64> {
        let max = max.max(1);
        let mut taken = self.taken.lock();
        if taken.len() >= Self::MAX_KEYS {
            taken.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let times = taken.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= max {
            let oldest = *times.front().expect("max is at least one");
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_quota_per_window_and_others_are_not_held_back() {
        let throttle = Throttle::new(2, Duration::from_secs(60));
        let start = Instant::now();
        assert_eq!(throttle.take("a", start), Ok(()));
        assert_eq!(throttle.take("a", start + Duration::from_secs(10)), Ok(()));
        assert_eq!(throttle.take("a", start + Duration::from_secs(20)), Err(40));
        assert_eq!(throttle.take("b", start + Duration::from_secs(20)), Ok(()));
        // The first one has left the window.
        assert_eq!(throttle.take("a", start + Duration::from_secs(60)), Ok(()));
        assert_eq!(
            throttle.take("a", start + Duration::from_millis(60_500)),
            Err(10)
        );
    }
}
