//! The only seam between the broker and the outside world.
//!
//! Everything nondeterministic or fallible that the broker touches — the disk, the wall clock,
//! the network's fault hooks and the trace of what happened — enters through [`Env`]. In real
//! mode each piece is a thin pass-through ([`FsDisk`], [`SystemClock`], [`NoNetFaults`]); in
//! simulation the harness in `sim/` swaps in SimDisk, a skewable per-node clock and the fault
//! injector. Randomness comes from `madsim::rand` (seeded under simulation) and tasks are
//! spawned with `tokio::spawn` (madsim-tokio), so no OS thread is ever started by the broker.

mod disk;
mod net;
pub mod observe;

pub use disk::{create_dir_durable, Disk, FsDisk, MemDisk};
pub use net::{buggify, Buggify, ConnInfo, NetAction, NetHooks, NoNetFaults, NoTrace, Trace};
pub use observe::{Observation, PartitionEpochs};

use std::sync::Arc;

/// Wall-clock time as a broker sees it: used for record timestamps, `segment.ms`,
/// `retention.ms` and other deadlines that Kafka defines on wall time. Timeouts use
/// monotonic time (`tokio::time::Instant`) instead, so a skewed clock cannot stall them.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch on this node's (possibly skewed) clock.
    fn wall_ms(&self) -> i64;
}

/// The machine's clock, for real mode.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn wall_ms(&self) -> i64 {
        // This is the only place in src/ that reads the wall clock; under simulation a
        // SimClock from sim/ is used instead.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// What one broker process gets from its environment.
#[derive(Clone)]
pub struct Env {
    /// Broker id (Kafka's `node.id`), used in logs and in the trace.
    pub node_id: i32,
    /// The log directory's disk.
    pub disk: Arc<dyn Disk>,
    /// This node's wall clock.
    pub clock: Arc<dyn Clock>,
    /// Fault hooks consulted around every request and response on a connection.
    pub net: Arc<dyn NetHooks>,
    /// Where messages and decisions are recorded for the run's trace hash.
    pub trace: Arc<dyn Trace>,
}

impl Env {
    /// A real-mode environment: real files under `dir`, the system clock, no faults.
    pub fn real(node_id: i32, dir: impl Into<std::path::PathBuf>) -> Self {
        Env {
            node_id,
            disk: Arc::new(FsDisk::new(dir)),
            clock: Arc::new(SystemClock),
            net: Arc::new(NoNetFaults),
            trace: Arc::new(NoTrace),
        }
    }
}
