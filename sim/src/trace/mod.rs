//! The run's trace: an ordered SHA-256 over every message a broker received or sent, every
//! disk operation, every fault firing and every history event — and nothing from the wall
//! clock. Two runs with the same scenario, seed and build produce the same hash; the
//! effects counters say what faults did (bytes discarded, CRC failures caught, …).
//!
//! The trace keeps only the hash and the effects. Every broker observation and every exchange
//! on a broker's wire is handed, in registration order, to a list of observers: the online
//! model, the wire recorder and, while the safety phase lasts, the `when` hook (which is why
//! it is armed after the others and disarmed when the phase ends).

pub mod corrupt;
pub mod observer;
pub mod online;
pub mod when_hook;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kafkasim::env::Trace;
use madsim::task::NodeId;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::UnboundedSender;

pub use observer::{Observer, Record};
pub use when_hook::WhenFired;

use corrupt::CorruptBatches;
use online::{OnlineObserver, SharedOnline};
use when_hook::WhenHook;
use wire::{SharedWire, WireRecorder};

#[derive(Default)]
struct State {
    hasher: Sha256,
    events: u64,
    /// Events per kind, for the report.
    kinds: BTreeMap<String, u64>,
    effects: BTreeMap<String, u64>,
}

impl State {
    fn record(&mut self, node: i32, kind: &str, bytes: &[u8]) {
        self.hasher.update(node.to_be_bytes());
        self.hasher.update((kind.len() as u32).to_be_bytes());
        self.hasher.update(kind.as_bytes());
        self.hasher.update((bytes.len() as u64).to_be_bytes());
        self.hasher.update(bytes);
        self.events += 1;
        *self.kinds.entry(kind.to_string()).or_default() += 1;
    }
}

/// The name the `when` hook is registered under, to disarm it.
const WHEN_HOOK: &str = "when";

/// The trace of one run, shared by every node of it.
pub struct RunTrace {
    state: Mutex<State>,
    /// Every observer with the name it was registered under, in the order they see things.
    observers: Mutex<Vec<(&'static str, Box<dyn Observer>)>>,
    /// The online checkers' model, which the `when` hook, targets and the end of the run read.
    online: SharedOnline,
    /// What brokers acknowledged and served.
    wire: SharedWire,
    /// `corrupt-batch-kept` on the brokers' disks.
    corrupt: CorruptBatches,
}

impl RunTrace {
    /// A trace with the online model and the wire recorder observing.
    pub fn new() -> Arc<RunTrace> {
        let online = SharedOnline::default();
        let wire = SharedWire::default();
        let trace = RunTrace {
            state: Mutex::default(),
            observers: Mutex::default(),
            online: online.clone(),
            wire: wire.clone(),
            corrupt: CorruptBatches::default(),
        };
        trace.add_observer("online", Box::new(OnlineObserver(online)));
        trace.add_observer("wire", Box::new(WireRecorder(wire)));
        Arc::new(trace)
    }

    /// Registers an observer after the others.
    pub fn add_observer(&self, name: &'static str, observer: Box<dyn Observer>) {
        self.observers.lock().unwrap().push((name, observer));
    }

    /// Unregisters the observers named `name`.
    pub fn remove_observer(&self, name: &str) {
        self.observers.lock().unwrap().retain(|(n, _)| *n != name);
    }

    /// Record an event from `node` (0 = the harness).
    pub fn record(&self, node: i32, kind: &str, bytes: &[u8]) {
        self.state.lock().unwrap().record(node, kind, bytes);
    }

    /// Arms the scenario's `when` steps: from now on every observation evaluates them, and a
    /// step that fires pauses its targets and is sent to `fired`.
    pub fn arm_when(
        &self,
        steps: &[crate::scenario::FaultStep],
        replicas: BTreeMap<crate::history::Tp, Vec<i32>>,
        nodes: BTreeMap<i32, NodeId>,
        fired: UnboundedSender<WhenFired>,
    ) {
        let watch = {
            let model = self.online.lock().unwrap();
            let view = crate::nemesis::when::View {
                online: &model.checker,
                replicas: &replicas,
            };
            crate::nemesis::when::WhenWatch::new(steps, &view)
        };
        if watch.is_empty() {
            return;
        }
        let hook = WhenHook {
            watch,
            steps: steps.to_vec(),
            replicas,
            nodes,
            fired,
            online: self.online.clone(),
        };
        self.add_observer(WHEN_HOOK, Box::new(hook));
    }

    /// Stops evaluating `when` steps (the safety phase is over).
    pub fn disarm_when(&self) {
        self.remove_observer(WHEN_HOOK);
    }

    /// Whether `broker`'s replica of `tp` reaches the end of the committed prefix, as the
    /// online model saw it (a partition no event named has nothing committed).
    pub fn holds_committed(&self, tp: &crate::history::Tp, broker: i32) -> bool {
        self.online.lock().unwrap().holds_committed(tp, broker)
    }

    /// A partition's latest elected leader and latest ISR as observed (empty before any).
    pub fn leadership(&self, tp: &crate::history::Tp) -> (Option<i32>, Vec<i32>) {
        self.online.lock().unwrap().leadership(tp)
    }

    /// Add to an effect counter.
    pub fn effect(&self, name: &str, count: u64) {
        if count > 0 {
            *self
                .state
                .lock()
                .unwrap()
                .effects
                .entry(name.to_string())
                .or_default() += count;
        }
    }

    /// The hash so far, as hex.
    pub fn hash(&self) -> String {
        let state = self.state.lock().unwrap();
        let digest = state.hasher.clone().finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    pub fn events(&self) -> u64 {
        self.state.lock().unwrap().events
    }

    pub fn kinds(&self) -> BTreeMap<String, u64> {
        self.state.lock().unwrap().kinds.clone()
    }

    pub fn effects(&self) -> BTreeMap<String, u64> {
        self.state.lock().unwrap().effects.clone()
    }

    /// Lets `corrupt-batch-kept` read `broker`'s disk.
    pub fn register_disk(&self, broker: i32, disk: &Arc<crate::cluster::disk::SimDisk>) {
        self.corrupt.register_disk(broker, disk);
    }

    /// `corrupt-batch-kept` over every broker's logs at the end of the run.
    pub fn corrupt_batches_at_end(&self) -> Vec<crate::checker::Anomaly> {
        self.corrupt.at_end()
    }

    /// Hand a broker's replica observation, at `time_ms`, to every observer, then hash the
    /// records they asked for. A recovery is first checked for corrupt batches it kept.
    pub fn observe(&self, broker: i32, time_ms: u64, observation: &kafkasim::env::Observation<'_>) {
        if let kafkasim::env::Observation::Recovered { tp } = observation {
            let found = self.corrupt.check_recovered(broker, time_ms, *tp);
            self.online.lock().unwrap().anomalies.extend(found);
        }
        let mut records = Vec::new();
        for (_, observer) in self.observers.lock().unwrap().iter_mut() {
            observer.observe(broker, time_ms, observation, &mut records);
        }
        let mut state = self.state.lock().unwrap();
        for (kind, bytes) in records {
            state.record(0, kind, &bytes);
        }
    }

    /// Hand a request `node` received and its response to every observer.
    pub fn exchange(&self, node: i32, request: &[u8], response: &[u8]) {
        for (_, observer) in self.observers.lock().unwrap().iter_mut() {
            observer.exchange(node, request, response);
        }
    }

    /// Every leader election the online model saw, in order.
    pub fn elections(&self) -> Vec<crate::online::ElectionSeen> {
        self.online.lock().unwrap().checker.elections().to_vec()
    }

    /// Everything the online checkers found, including what only the end shows.
    pub fn online_anomalies(&self) -> Vec<crate::checker::Anomaly> {
        self.online.lock().unwrap().all_anomalies()
    }

    /// Each replica's last announced high watermark, as the online model saw it.
    pub fn replica_high_watermarks(&self) -> BTreeMap<(crate::history::Tp, i32), i64> {
        self.online.lock().unwrap().replica_high_watermarks()
    }

    /// The wire-level history so far.
    pub fn wire(&self) -> Vec<crate::history::wire::WireEvent> {
        self.wire.lock().unwrap().clone()
    }

    /// A `Trace` for one node.
    pub fn for_node(self: &Arc<Self>, node: i32) -> Arc<NodeTrace> {
        Arc::new(NodeTrace {
            node,
            run: self.clone(),
        })
    }
}

/// One node's view of the run trace.
pub struct NodeTrace {
    node: i32,
    run: Arc<RunTrace>,
}

impl Trace for NodeTrace {
    fn record(&self, kind: &str, bytes: &[u8]) {
        self.run.record(self.node, kind, bytes);
    }

    fn effect(&self, name: &str, count: u64) {
        self.run.effect(name, count);
    }

    fn observe(&self, observation: &kafkasim::env::Observation<'_>) {
        let time_ms =
            madsim::time::TimeHandle::try_current().map_or(0, |t| t.elapsed().as_millis() as u64);
        self.run.observe(self.node, time_ms, observation);
    }

    fn exchange(&self, request: &[u8], response: &[u8]) {
        self.run.exchange(self.node, request, response);
    }
}
