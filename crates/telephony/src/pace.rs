//! `Pacer`: keeps a REST client to its account's calls-per-second limit (Twilio's and Plivo's CPS).

use parking_lot::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Hands out one placement slot per `1 / calls_per_second`.
#[derive(Debug)]
pub(crate) struct Pacer {
    gap: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub(crate) fn new(calls_per_second: f64) -> Self {
        Self {
            gap: Duration::from_secs_f64(1.0 / calls_per_second.max(0.01)),
            next: Mutex::new(None),
        }
    }

    /// Takes the next slot, or says how long until one is free.
    pub(crate) fn take(&self) -> Result<(), Duration> {
        let now = Instant::now();
        let mut next = self.next.lock();
        match *next {
            Some(at) if at > now => Err(at - now),
            _ => {
                *next = Some(now + self.gap);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_slot_is_handed_out_per_gap() {
        let pacer = Pacer::new(2.0);
        assert_eq!(pacer.take(), Ok(()));
        assert_eq!(pacer.take(), Err(Duration::from_millis(500)));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(pacer.take(), Ok(()));
    }
}
