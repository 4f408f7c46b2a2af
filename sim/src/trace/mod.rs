//! The run's trace: an ordered SHA-256 over every message a broker received or sent, every
//! disk operation, every fault firing and every history event — and nothing from the wall
//! clock. Two runs with the same scenario, seed and build produce the same hash; the
//! effects counters say what faults did (bytes discarded, CRC failures caught, …).
//!
//! It is also the state-change hook of `when` fault steps: every broker observation feeds the
//! online model, and right after it the armed predicates are evaluated on that model; a step
//! that fires pauses its targets there and then and goes to the supervisor over a channel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kafkasim::env::Trace;
use madsim::task::NodeId;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::UnboundedSender;

#[derive(Default)]
struct State {
    hasher: Sha256,
    events: u64,
    /// Events per kind, for the report.
    kinds: BTreeMap<String, u64>,
    effects: BTreeMap<String, u64>,
    /// What brokers acknowledged and served, decoded from the bytes they wrote.
    wire: Vec<crate::history::wire::WireEvent>,
    /// The online checkers' independent model, fed every replica observation.
    online: crate::online::OnlineChecker,
    /// What the online checkers found, in the order found.
    online_anomalies: Vec<crate::checker::Anomaly>,
    /// The `when` steps still waiting for their edge, while the safety phase lasts.
    when: Option<WhenHook>,
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

/// What the state-change hook needs to fire `when` steps on the spot.
struct WhenHook {
    watch: crate::nemesis::when::WhenWatch,
    steps: Vec<crate::scenario::FaultStep>,
    /// Every partition's replicas in assignment order, for partition targets.
    replicas: BTreeMap<crate::history::Tp, Vec<i32>>,
    /// Each broker's madsim node, to pause it (a NodeHandle would be stale after a restart).
    nodes: BTreeMap<i32, NodeId>,
    /// Where fired steps go; the supervisor applies their actions.
    fired: UnboundedSender<WhenFired>,
}

/// A `when` step whose predicate just turned true.
#[derive(Debug, Clone)]
pub struct WhenFired {
    /// Index among the scenario's `[[fault]]` steps.
    pub step: usize,
    pub time_ms: u64,
    /// The brokers the hook paused on the spot: the targets of the step's immediate actions
    /// (`minority` and `majority` are left to the supervisor's random stream).
    pub paused: Vec<i32>,
}

/// The trace of one run, shared by every node of it.
#[derive(Default)]
pub struct RunTrace {
    state: Mutex<State>,
    /// Each broker's disk, for `corrupt-batch-kept` (weak: a disk holds its node's trace).
    disks: Mutex<BTreeMap<i32, std::sync::Weak<crate::cluster::disk::SimDisk>>>,
    /// When each broker last recovered each partition directory.
    recovered_at: Mutex<BTreeMap<(i32, String), u64>>,
    /// Bad batches already reported, by (broker, file, position), so one is reported once.
    corrupt_reported: Mutex<std::collections::BTreeSet<(i32, String, u64)>>,
}

impl RunTrace {
    pub fn new() -> Arc<RunTrace> {
        Arc::new(RunTrace::default())
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
        let mut state = self.state.lock().unwrap();
        let view = crate::nemesis::when::View {
            online: &state.online,
            replicas: &replicas,
        };
        let watch = crate::nemesis::when::WhenWatch::new(steps, &view);
        if watch.is_empty() {
            return;
        }
        state.when = Some(WhenHook {
            watch,
            steps: steps.to_vec(),
            replicas,
            nodes,
            fired,
        });
    }

    /// Stops evaluating `when` steps (the safety phase is over).
    pub fn disarm_when(&self) {
        self.state.lock().unwrap().when = None;
    }

    /// A partition's latest elected leader and latest ISR as observed (empty before any).
    /// Whether `broker`'s replica of `tp` reaches the end of the committed prefix, as the
    /// online model saw it (a partition no event named has nothing committed).
    pub fn holds_committed(&self, tp: &crate::history::Tp, broker: i32) -> bool {
        let state = self.state.lock().unwrap();
        let Some(partition) = state.online.partition(tp) else {
            return true;
        };
        let end = partition
            .replicas
            .get(&broker)
            .map_or(0, |r| r.log_end_offset);
        end >= partition.committed_end
    }

    pub fn leadership(&self, tp: &crate::history::Tp) -> (Option<i32>, Vec<i32>) {
        let state = self.state.lock().unwrap();
        let Some(partition) = state.online.partition(tp) else {
            return (None, Vec::new());
        };
        let leader = partition.latest_election.map(|election| election.leader);
        (leader, partition.isr.clone())
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
        self.disks
            .lock()
            .unwrap()
            .insert(broker, Arc::downgrade(disk));
    }

    /// `corrupt-batch-kept` on what recovery just left of one replica's log.
    fn check_recovered(&self, broker: i32, time_ms: u64, (topic, partition): (&str, i32)) {
        let dir = format!("{topic}-{partition}");
        self.recovered_at
            .lock()
            .unwrap()
            .insert((broker, dir.clone()), time_ms);
        let found = self.corrupt_batches(broker, &dir, "right after recovery", |_, _| true);
        self.state.lock().unwrap().online_anomalies.extend(found);
    }

    /// `corrupt-batch-kept` over every broker's logs at the end of the run, leaving out bad
    /// batches that a bit flip hit after the replica's last recovery (nothing read them yet).
    pub fn corrupt_batches_at_end(&self) -> Vec<crate::checker::Anomaly> {
        let brokers: Vec<i32> = self.disks.lock().unwrap().keys().copied().collect();
        let recovered_at = self.recovered_at.lock().unwrap().clone();
        let mut found = Vec::new();
        for broker in brokers {
            let flips = self.disk(broker).map(|d| d.bit_flips()).unwrap_or_default();
            let counts = |path: &str, batch: &crate::checker::corrupt_batch_kept::BadBatch| {
                let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
                let since = recovered_at.get(&(broker, dir.to_string())).copied();
                !flips.iter().any(|flip| {
                    flip.path == path
                        && (batch.position..batch.end).contains(&flip.offset)
                        && since.is_none_or(|t| flip.time_ms >= t)
                })
            };
            found.extend(self.corrupt_batches(broker, "", "at the end of the run", counts));
        }
        found
    }

    fn disk(&self, broker: i32) -> Option<Arc<crate::cluster::disk::SimDisk>> {
        self.disks.lock().unwrap().get(&broker)?.upgrade()
    }

    /// The bad batches under `dir` on `broker`'s disk that `counts` keeps and that were not
    /// reported before, as anomalies.
    fn corrupt_batches(
        &self,
        broker: i32,
        dir: &str,
        when: &str,
        counts: impl Fn(&str, &crate::checker::corrupt_batch_kept::BadBatch) -> bool,
    ) -> Vec<crate::checker::Anomaly> {
        use crate::checker::corrupt_batch_kept as check;
        let Some(disk) = self.disk(broker) else {
            return Vec::new();
        };
        let mut reported = self.corrupt_reported.lock().unwrap();
        let mut found = Vec::new();
        for (path, bytes) in disk.peek_logs(dir) {
            for batch in check::scan(&bytes) {
                let new = reported.insert((broker, path.clone(), batch.position));
                if new && counts(&path, &batch) {
                    found.push(check::anomaly(broker, &path, &batch, when));
                }
            }
        }
        found
    }

    /// Feed a broker's replica observation to the online checkers, at `time_ms`.
    pub fn observe(&self, broker: i32, time_ms: u64, observation: &kafkasim::env::Observation<'_>) {
        if let kafkasim::env::Observation::Recovered { tp } = observation {
            self.check_recovered(broker, time_ms, *tp);
        }
        let mut state = self.state.lock().unwrap();
        for event in crate::online::observe::events(broker, observation) {
            let found = state.online.observe(time_ms, &event);
            state.online_anomalies.extend(found);
        }
        fire_when_steps(&mut state, time_ms);
    }

    /// Every leader election the online model saw, in order.
    pub fn elections(&self) -> Vec<crate::online::ElectionSeen> {
        self.state.lock().unwrap().online.elections().to_vec()
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
    pub fn wire(&self) -> Vec<crate::history::wire::WireEvent> {
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

/// Evaluates the armed `when` steps after an observation; a step that fires pauses the
/// targets of its immediate actions at once, is recorded, and goes to the supervisor.
fn fire_when_steps(state: &mut State, time_ms: u64) {
    let Some(hook) = state.when.as_mut() else {
        return;
    };
    let view = crate::nemesis::when::View {
        online: &state.online,
        replicas: &hook.replicas,
    };
    // `all` names the brokers; the controller is paused only when a step names it.
    let brokers: Vec<i32> = hook
        .nodes
        .keys()
        .copied()
        .filter(|&id| id != crate::cluster::CONTROLLER_ID)
        .collect();
    let mut records = Vec::new();
    for step in hook.watch.poll(&view) {
        let mut paused: Vec<i32> = hook.steps[step]
            .actions
            .iter()
            .filter(|action| action.after_ms == 0)
            .flat_map(|action| view.resolve(&action.target, &brokers))
            .filter(|id| hook.nodes.contains_key(id))
            .collect();
        paused.sort();
        paused.dedup();
        let handle = madsim::runtime::Handle::current();
        for id in &paused {
            handle.pause(hook.nodes[id]);
        }
        let crate::scenario::Trigger::When(predicate) = &hook.steps[step].trigger else {
            unreachable!("only when steps are armed");
        };
        records.push(format!(
            "{time_ms} step {step} when {} paused {paused:?}",
            predicate.text
        ));
        // The supervisor outlives the safety phase, so a send fails only once the run is over.
        let _ = hook.fired.send(WhenFired {
            step,
            time_ms,
            paused,
        });
    }
    for record in records {
        state.record(0, "when", record.as_bytes());
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
        let events = crate::history::wire::decode(self.node, request, response);
        if !events.is_empty() {
            self.run.state.lock().unwrap().wire.extend(events);
        }
    }
}
