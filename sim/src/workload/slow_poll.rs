//! The `slow-poll` fault's seam between the nemesis and a group member's poll loop: an
//! application whose batch takes too long to process, so it stops calling poll while the
//! consumer's background heartbeat task goes on (KIP-62's split of `session.timeout.ms` from
//! `max.poll.interval.ms`). Unlike `pause`, the process keeps running.
//!
//! The harness owns one per client process (it outlives the process's restarts, like a
//! broker's fault hooks); the nemesis sets a stall, the workload's poll loop waits it out
//! between two polls, and a restart or the heal phase ends it early.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How often a stalled poll loop looks whether its stall was ended early (by a restart or
/// the heal phase): a bound on how late it resumes after that.
const STALL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// One client process's slow-application state.
#[derive(Debug, Default)]
pub struct SlowPoll {
    /// When the stall in force ends; `None` while the application keeps up.
    until: Mutex<Option<Instant>>,
}

impl SlowPoll {
    /// The batch in hand takes `duration` more to process: no poll until then. A stall
    /// already in force is extended, never shortened.
    pub fn stall(&self, duration: Duration) {
        assert!(
            !duration.is_zero(),
            "the parser admits only positive stalls"
        );
        let until = Instant::now() + duration;
        let mut current = self.until.lock().unwrap();
        *current = Some(current.map_or(until, |earlier| earlier.max(until)));
    }

    /// Ends the stall in force, if any; true when there was one.
    pub fn end(&self) -> bool {
        self.until.lock().unwrap().take().is_some()
    }

    /// Waits while a stall is in force (returns at once otherwise); how long it waited.
    pub async fn wait(&self) -> Duration {
        let started = Instant::now();
        loop {
            let Some(until) = *self.until.lock().unwrap() else {
                break;
            };
            let now = Instant::now();
            if now >= until {
                let mut current = self.until.lock().unwrap();
                if *current == Some(until) {
                    *current = None;
                }
                continue;
            }
            tokio::time::sleep_until(until.min(now + STALL_CHECK_INTERVAL)).await;
        }
        started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simulate(test: impl std::future::Future<Output = ()> + 'static) {
        madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(test);
    }

    /// madsim's timers fire a few nanoseconds late, never early.
    fn about(waited: Duration, expected: Duration) -> bool {
        waited >= expected && waited < expected + Duration::from_millis(1)
    }

    #[test]
    fn a_stall_holds_the_loop_for_its_duration_and_then_clears() {
        simulate(async {
            let slow = SlowPoll::default();
            assert_eq!(slow.wait().await, Duration::ZERO);
            slow.stall(Duration::from_millis(2_500));
            let waited = slow.wait().await;
            assert!(about(waited, Duration::from_millis(2_500)), "{waited:?}");
            assert!(!slow.end(), "the stall cleared itself");
            assert_eq!(slow.wait().await, Duration::ZERO);
        });
    }

    #[test]
    fn a_longer_stall_extends_and_a_shorter_one_does_not_shorten() {
        simulate(async {
            let slow = SlowPoll::default();
            slow.stall(Duration::from_millis(3_000));
            slow.stall(Duration::from_millis(1_000));
            let waited = slow.wait().await;
            assert!(about(waited, Duration::from_millis(3_000)), "{waited:?}");
        });
    }

    #[test]
    fn ending_a_stall_releases_the_loop_within_the_check_interval() {
        simulate(async {
            let slow = std::sync::Arc::new(SlowPoll::default());
            slow.stall(Duration::from_secs(60));
            let ender = slow.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1_050)).await;
                assert!(ender.end());
            });
            let waited = slow.wait().await;
            assert!(
                waited >= Duration::from_millis(1_050)
                    && waited <= Duration::from_millis(1_050) + STALL_CHECK_INTERVAL,
                "{waited:?}"
            );
        });
    }
}
