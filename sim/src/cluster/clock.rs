//! Simulated time as the harness and the brokers see it.
//!
//! madsim has one global clock; kafkasim adds a per-node wall clock on top of it that can be
//! skewed or jump, for timestamps, retention and `segment.ms`. Timeouts use madsim's
//! monotonic `Instant`, which no clock fault touches.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use kafkasim::env::Clock;
use tokio::time::Instant;

/// Wall-clock time at simulated time zero: 2024-01-01T00:00:00Z. A constant, so runs
/// never depend on when they happen.
pub const EPOCH_MS: i64 = 1_704_067_200_000;

/// The run's start, to turn madsim instants into milliseconds since the run began.
#[derive(Clone, Copy)]
pub struct RunClock {
    start: Instant,
}

impl RunClock {
    /// Must be called inside the runtime.
    pub fn start() -> RunClock {
        RunClock {
            start: Instant::now(),
        }
    }

    /// Simulated milliseconds since the run began.
    pub fn now_ms(&self) -> u64 {
        Instant::now()
            .saturating_duration_since(self.start)
            .as_millis() as u64
    }
}

/// A node's wall clock: run time plus the epoch plus this node's offset.
pub struct SimClock {
    run: RunClock,
    /// Accumulated skew and jumps, in ms; shared with the harness that changes it.
    pub offset_ms: Arc<AtomicI64>,
}

impl SimClock {
    pub fn new(run: RunClock, offset_ms: Arc<AtomicI64>) -> SimClock {
        SimClock { run, offset_ms }
    }
}

impl Clock for SimClock {
    fn wall_ms(&self) -> i64 {
        EPOCH_MS + self.run.now_ms() as i64 + self.offset_ms.load(Ordering::Relaxed)
    }
}
