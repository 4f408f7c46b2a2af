//! The run's trace: an ordered SHA-256 over every message a broker received or sent, every
//! disk operation, every fault firing and every history event — and nothing from the wall
//! clock. Two runs with the same scenario, seed and build produce the same hash; the
//! effects counters say what faults did (bytes discarded, CRC failures caught, …).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kafkasim::env::Trace;
use sha2::{Digest, Sha256};

#[derive(Default)]
struct State {
    hasher: Sha256,
    events: u64,
    /// Events per kind, for the report.
    kinds: BTreeMap<String, u64>,
    effects: BTreeMap<String, u64>,
    /// What brokers acknowledged and served, decoded from the bytes they wrote.
    wire: Vec<crate::wire::WireEvent>,
    /// The online checkers' independent model, fed every replica observation.
    online: crate::online::OnlineChecker,
    /// What the online checkers found, in the order found.
    online_anomalies: Vec<crate::checker::Anomaly>,
}

/// The trace of one run, shared by every node of it.
#[derive(Default)]
pub struct RunTrace {
    state: Mutex<State>,
}

impl RunTrace {
    pub fn new() -> Arc<RunTrace> {
        Arc::new(RunTrace::default())
    }

    /// Record an event from `node` (0 = the harness).
    pub fn record(&self, node: i32, kind: &str, bytes: &[u8]) {
        let mut state = self.state.lock().unwrap();
        state.hasher.update(node.to_be_bytes());
        state.hasher.update((kind.len() as u32).to_be_bytes());
        state.hasher.update(kind.as_bytes());
        state.hasher.update((bytes.len() as u64).to_be_bytes());
        state.hasher.update(bytes);
        state.events += 1;
        *state.kinds.entry(kind.to_string()).or_default() += 1;
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

    /// Feed a broker's replica observation to the online checkers, at `time_ms`.
    pub fn observe(&self, broker: i32, time_ms: u64, observation: &kafkasim::env::Observation<'_>) {
        let mut state = self.state.lock().unwrap();
        for event in crate::observe::events(broker, observation) {
            let found = state.online.observe(time_ms, &event);
            state.online_anomalies.extend(found);
        }
    }

    /// Everything the online checkers found, including what only the end shows.
    pub fn online_anomalies(&self) -> Vec<crate::checker::Anomaly> {
        let state = self.state.lock().unwrap();
        let mut all = state.online_anomalies.clone();
        all.extend(state.online.finish());
        all
    }

    /// Each replica's last announced high watermark, as the online model saw it.
    pub fn replica_high_watermarks(&self) -> BTreeMap<(crate::history::Tp, i32), i64> {
        let state = self.state.lock().unwrap();
        let mut out = BTreeMap::new();
        for (tp, partition) in state.online.partitions() {
            for (broker, replica) in &partition.replicas {
                out.insert((tp.clone(), *broker), replica.high_watermark);
            }
        }
        out
    }

    /// The wire-level history so far.
    pub fn wire(&self) -> Vec<crate::wire::WireEvent> {
        self.state.lock().unwrap().wire.clone()
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
        let events = crate::wire::decode(self.node, request, response);
        if !events.is_empty() {
            self.run.state.lock().unwrap().wire.extend(events);
        }
    }
}
