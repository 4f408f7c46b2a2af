//! The recorder every workload writes its operations to: the history, each event hashed into
//! the run's trace as it is recorded, and the count of sends still in flight.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use crate::cluster::clock::RunClock;
use crate::history::{EventKind, History, Tp};
use crate::trace::RunTrace;

/// The history plus what feeds the trace: every event is hashed as it is recorded.
#[derive(Clone)]
pub struct Recorder {
    history: Arc<Mutex<History>>,
    trace: Arc<RunTrace>,
    clock: RunClock,
    /// Sends invoked and not yet completed.
    pub pending_sends: Arc<AtomicU64>,
}

impl Recorder {
    pub fn new(trace: Arc<RunTrace>, clock: RunClock) -> Recorder {
        Recorder {
            history: Arc::default(),
            trace,
            clock,
            pending_sends: Arc::default(),
        }
    }

    fn hash(&self, process: u32, op: u64, kind: &EventKind) {
        let bytes = serde_json::to_vec(&(process, op, kind)).expect("events serialize");
        self.trace.record(0, "history", &bytes);
    }

    pub fn invoke(&self, process: u32, kind: EventKind) -> u64 {
        self.hash(process, u64::MAX, &kind);
        self.history
            .lock()
            .unwrap()
            .invoke(self.clock.now_ms(), process, kind)
    }

    pub fn complete(&self, process: u32, op: u64, kind: EventKind) {
        self.hash(process, op, &kind);
        self.history
            .lock()
            .unwrap()
            .push(self.clock.now_ms(), process, op, kind);
    }

    pub fn seek(&self, process: u32, tp: Tp, offset: i64) {
        self.note(process, EventKind::Seek { tp, offset });
    }

    /// Record an event that is neither an invoke nor a completion (a join, an assignment).
    pub fn note(&self, process: u32, kind: EventKind) {
        self.hash(process, u64::MAX, &kind);
        let mut history = self.history.lock().unwrap();
        let op = history.next_op();
        history.push(self.clock.now_ms(), process, op, kind);
    }

    /// Add to one of the run's effect counters (what a workload's clients observed, e.g.
    /// a group member leaving because it did not poll in time).
    pub fn effect(&self, name: &str, count: u64) {
        self.trace.effect(name, count);
    }

    pub fn history(&self) -> History {
        self.history.lock().unwrap().clone()
    }
}
