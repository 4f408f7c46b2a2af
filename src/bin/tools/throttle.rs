//! Kafka's `ThroughputThrottler` (tools/ThroughputThrottler.java), as a pure state machine:
//! the caller passes elapsed time in and gets back how long to sleep.
//!
//! A send loop asks [`Throttler::should_throttle`] with the records sent so far and the time
//! since the start; when the average rate is above the target, [`Throttler::throttle`] adds one
//! record's worth of time (1 / target) to a sleep deficit and, once the deficit reaches
//! [`SLEEP_MIN`], returns it as the sleep to take and starts a new deficit. A negative target
//! never throttles.

use std::time::Duration;

/// The shortest sleep worth taking (Kafka's MIN_SLEEP_NS): below it the deficit accumulates.
pub const SLEEP_MIN: Duration = Duration::from_millis(2);

/// Paces a send loop to about `target` records per second.
#[derive(Debug, Clone)]
pub struct Throttler {
    /// Records per second; negative means unthrottled.
    target: f64,
    /// Time one record is worth at the target rate.
    per_record: Duration,
    /// Sleep owed but not yet taken because it was below [`SLEEP_MIN`].
    deficit: Duration,
}

impl Throttler {
    /// `target` records per second, negative for no throttling. Zero is rejected by the flag
    /// parser (Kafka would sleep forever).
    pub fn new(target: f64) -> Self {
        assert!(target != 0.0, "a zero throughput would never send");
        let per_record = if target > 0.0 {
            Duration::from_secs_f64(1.0 / target)
        } else {
            Duration::ZERO
        };
        Throttler {
            target,
            per_record,
            deficit: Duration::ZERO,
        }
    }

    /// Whether `sent` records in `elapsed` is above the target rate.
    pub fn should_throttle(&self, sent: u64, elapsed: Duration) -> bool {
        if self.target < 0.0 {
            return false;
        }
        let seconds = elapsed.as_secs_f64();
        seconds > 0.0 && sent as f64 / seconds > self.target
    }

    /// Owe one record's time; returns the sleep to take now, if the debt is worth sleeping.
    pub fn throttle(&mut self) -> Option<Duration> {
        self.deficit += self.per_record;
        if self.deficit < SLEEP_MIN {
            return None;
        }
        let sleep = self.deficit;
        self.deficit = Duration::ZERO;
        assert!(sleep >= SLEEP_MIN);
        Some(sleep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unthrottled_never_throttles() {
        let throttler = Throttler::new(-1.0);
        assert!(!throttler.should_throttle(u64::MAX, Duration::from_nanos(1)));
    }

    #[test]
    fn throttles_only_above_the_target_rate() {
        let throttler = Throttler::new(1000.0);
        // 1,000 records in 0.5 s is 2,000/s: above.
        assert!(throttler.should_throttle(1000, Duration::from_millis(500)));
        // 1,000 records in 2 s is 500/s: below.
        assert!(!throttler.should_throttle(1000, Duration::from_secs(2)));
        // Nothing elapsed yet: Kafka lets the first sends through.
        assert!(!throttler.should_throttle(1, Duration::ZERO));
    }

    #[test]
    fn sleeps_once_the_deficit_reaches_two_ms() {
        // 1,000/s is 1 ms per record: the first throttle owes 1 ms (too short), the second
        // 2 ms, which is slept and cleared.
        let mut throttler = Throttler::new(1000.0);
        assert_eq!(throttler.throttle(), None);
        assert_eq!(throttler.throttle(), Some(Duration::from_millis(2)));
        assert_eq!(throttler.throttle(), None);
        assert_eq!(throttler.throttle(), Some(Duration::from_millis(2)));
    }

    #[test]
    fn slow_targets_sleep_a_whole_record_at_a_time() {
        let mut throttler = Throttler::new(10.0);
        assert_eq!(throttler.throttle(), Some(Duration::from_millis(100)));
    }

    #[test]
    fn a_paced_loop_lands_near_the_target() {
        // Simulate a loop that sends instantly and only advances time by sleeping.
        let mut throttler = Throttler::new(50_000.0);
        let mut elapsed = Duration::ZERO;
        let sent = 100_000u64;
        for i in 0..sent {
            if throttler.should_throttle(i, elapsed) {
                if let Some(sleep) = throttler.throttle() {
                    elapsed += sleep;
                }
            }
            elapsed += Duration::from_nanos(100);
        }
        let rate = sent as f64 / elapsed.as_secs_f64();
        assert!((45_000.0..55_000.0).contains(&rate), "rate {rate}");
    }
}
