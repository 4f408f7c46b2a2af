//! Run one scenario at one seed: build the simulated cluster, run the workloads and the
//! faults (safety), heal, converge, drain, check — and judge the result against the
//! scenario's expectation.
//!
//! A run is a pure function of (scenario, seed, build). Each run gets a fresh OS thread and a
//! fresh madsim runtime created before anything else, because madsim seeds std's HashMap
//! keys only on a fresh thread; the scenario's own random choices come from a ChaCha stream
//! seeded from the seed, apart from madsim's RNG.

pub mod logging;
pub mod panic;

mod drain;
mod groups;
mod judge;
mod replicas;

pub use judge::{judge, Judgement};
pub use replicas::{ReplicaLogs, ReplicaSummary};
pub mod report;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::Runtime;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::checker::groups::liveness::{self, RunEnd};
use crate::checker::{self, Anomaly, FinalState};
use crate::cluster::clock::RunClock;
use crate::cluster::{FiredFault, SimCluster};
use crate::history::{History, Tp};
use crate::nemesis::timeline::timeline_with_nemesis;
use crate::nemesis::Nemesis;
use crate::scenario::{Scenario, Verdict};
use crate::trace::{RunTrace, WhenFired};
use crate::workload::{Recorder, StopAt, Workloads};
use tokio::sync::mpsc::UnboundedReceiver;

/// How long brokers get to come up before the workloads start.
const STARTUP: Duration = Duration::from_millis(500);
/// Extra time after the producers' delivery timeout for the cluster to settle.
const CONVERGE_SLACK: Duration = Duration::from_secs(10);
/// The drain must finish within this much simulated time.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// A run that exceeds its phases by this much simulated time is stopped by madsim.
const TIME_LIMIT_SLACK: Duration = Duration::from_secs(900);

/// Bumped by every run that asks for test-only nondeterminism: a mutable static is exactly
/// the kind of state that makes two runs of one seed differ.
static NONDETERMINISM_FOR_TEST: AtomicU64 = AtomicU64::new(0);

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunData {
    pub verdict: Verdict,
    /// Why the verdict is unknown, if it is.
    pub liveness_failure: Option<String>,
    pub anomalies: Vec<Anomaly>,
    pub faults: Vec<FiredFault>,
    pub final_state: FinalState,
    #[serde(skip)]
    pub history: History,
    pub trace_hash: String,
    pub trace_events: u64,
    pub trace_kinds: BTreeMap<String, u64>,
    pub effects: BTreeMap<String, u64>,
    pub sim_time_ms: u64,
    pub restarts: u64,
    /// The timing knobs this seed drew (BUGGIFY only; see `crate::cluster::knobs`).
    pub knobs: BTreeMap<String, String>,
    /// Every leader election seen, in order.
    pub elections: Vec<crate::online::ElectionSeen>,
    /// Each replica's log as found on its disk at the end, and where replicas first diverge.
    pub replica_logs: ReplicaLogs,
    /// Where and why the run panicked, if it did.
    pub panic: Option<panic::PanicSite>,
}

impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Run a seed on the current thread, which must be fresh (see the module docs).
pub fn run_seed(scenario: &Scenario, seed: u64) -> RunData {
    run_seed_logged(scenario, seed, None)
}

/// Run a seed on the current (fresh) thread, logging to `log_path` if given.
pub fn run_seed_logged(
    scenario: &Scenario,
    seed: u64,
    log_path: Option<&std::path::Path>,
) -> RunData {
    let run = || {
        let mut runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
        runtime.set_time_limit(phase_budget(scenario) + TIME_LIMIT_SLACK);
        runtime.block_on(supervise(scenario.clone(), seed))
    };
    let Some(path) = log_path else { return run() };
    // madsim seeds std's HashMap keys when the first Runtime of a thread is created, and only
    // if no HashMap was made on the thread before. The log subscriber makes HashMaps, and it
    // must be installed before the run's Runtime exists (madsim opens its node spans then), so
    // a throwaway Runtime seeds the keys first.
    drop(Runtime::with_seed_and_config(
        seed,
        madsim::Config::default(),
    ));
    match crate::run::logging::run_subscriber(path) {
        Some(subscriber) => tracing::subscriber::with_default(subscriber, run),
        None => run(),
    }
}

/// Run a seed on a fresh thread, logging to `log_path` if given, and turn a panic (a broken
/// invariant, a madsim deadlock or time limit) into an `unknown` verdict that names it: its
/// message, and where the panic hook saw it happen (node, `file:line`; see `panic`).
pub fn run_seed_isolated(
    scenario: &Scenario,
    seed: u64,
    log_path: Option<&std::path::Path>,
) -> RunData {
    let scenario = scenario.clone();
    let log_path = log_path.map(|p| p.to_path_buf());
    run_isolated(seed, move || {
        run_seed_logged(&scenario, seed, log_path.as_deref())
    })
}

/// Runs `run` on a fresh thread named for the seed; a panic becomes `RunData::panicked` with
/// what the panic hook noted on that thread.
fn run_isolated(seed: u64, run: impl FnOnce() -> RunData + Send + 'static) -> RunData {
    panic::install_hook();
    let joined = std::thread::Builder::new()
        .name(format!("run-{seed}"))
        .spawn(move || {
            // Caught here, on the run's own thread, where the hook left its note.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|payload| {
                panic::take().unwrap_or_else(|| panic::PanicSite {
                    message: panic::message(&*payload),
                    ..Default::default()
                })
            })
        })
        .expect("spawn run thread")
        .join();
    match joined {
        Ok(Ok(data)) => data,
        Ok(Err(site)) => RunData::panicked(seed, site),
        Err(payload) => RunData::panicked(
            seed,
            panic::PanicSite {
                message: panic::message(&*payload),
                ..Default::default()
            },
        ),
    }
}

impl RunData {
    /// The data of a run that panicked: `unknown`, with where and why.
    pub fn panicked(seed: u64, site: panic::PanicSite) -> RunData {
        let mut data = RunData::failed(site.describe(seed));
        data.panic = Some(site);
        data
    }

    pub fn failed(reason: String) -> RunData {
        RunData {
            verdict: Verdict::Unknown,
            liveness_failure: Some(reason),
            anomalies: Vec::new(),
            faults: Vec::new(),
            final_state: FinalState::default(),
            history: History::new(),
            trace_hash: String::new(),
            trace_events: 0,
            trace_kinds: BTreeMap::new(),
            effects: BTreeMap::new(),
            sim_time_ms: 0,
            restarts: 0,
            knobs: BTreeMap::new(),
            elections: Vec::new(),
            replica_logs: ReplicaLogs::default(),
            panic: None,
        }
    }
}

/// How long after the fault phase outstanding operations may still complete.
fn settle_time(scenario: &Scenario) -> Duration {
    Workloads::of(scenario).settle_time()
}

fn phase_budget(scenario: &Scenario) -> Duration {
    STARTUP
        + Duration::from_millis(scenario.duration_ms)
        + settle_time(scenario)
        + Workloads::of(scenario).catch_up_time()
        + CONVERGE_SLACK
        + DRAIN_TIMEOUT
}

async fn supervise(scenario: Scenario, seed: u64) -> RunData {
    let clock = RunClock::start();
    let (trace, mut cluster, mut rng, when_rx) = set_up(&scenario, seed, clock);
    tokio::time::sleep(STARTUP).await;

    // Safety: workloads and faults.
    let recorder = Recorder::new(trace.clone(), clock);
    let mut workloads = Workloads::of(&scenario);
    cluster.clients = workloads.start(&scenario, seed, &recorder, clock);
    let (steps, nemesis_counts) = timeline_with_nemesis(&scenario, seed);
    let mut nemesis = Nemesis::new(&scenario, &mut cluster, &trace, &mut rng);
    nemesis.run(&scenario, clock, STARTUP, when_rx, steps).await;
    let (faults, mut restarts) = nemesis.finish();
    workloads.stop(StopAt::FaultsEnd);

    let heal_ms = clock.now_ms();
    let restarted_at_heal: Vec<u32> = (0u32..)
        .zip(&cluster.clients)
        .filter(|(_, client)| !client.alive)
        .map(|(process, _)| process)
        .collect();
    restarts += cluster.heal_all().len() as u64;
    let (mut liveness_failure, readers_stopped_ms) =
        converge(&workloads, &recorder, clock, heal_ms).await;

    // Drain every partition from log start to the high watermark.
    let final_state = match drain::drain(&scenario, clock).await {
        Ok(state) => state,
        Err(reason) => {
            liveness_failure.get_or_insert(reason);
            FinalState::default()
        }
    };
    let mut history = recorder.history();
    history.wire = trace.wire();
    history.wire_recorded = true;
    if liveness_failure.is_none() {
        let end = RunEnd {
            heal_ms,
            deadline_ms: readers_stopped_ms,
            alive: (0u32..)
                .zip(&cluster.clients)
                .filter(|(_, client)| client.alive)
                .map(|(process, _)| process)
                .collect(),
            started_ms: client_starts(&faults, &restarted_at_heal, heal_ms),
        };
        let failures = liveness::check(&history, &final_state, &workloads.groups(), &end);
        if !failures.is_empty() {
            liveness_failure = Some(failures.join("; "));
        }
    }
    let (anomalies, trace_hash, replica_logs) =
        find_anomalies(&scenario, &cluster, &trace, &history, &final_state);
    let verdict = if liveness_failure.is_some() {
        Verdict::Unknown
    } else if anomalies.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    let mut effects = trace.effects();
    for (name, value) in nemesis_counts {
        if value > 0 {
            effects.insert(name.to_string(), value);
        }
    }
    workloads.add_effects(&history, &mut effects);
    add_added_partition_effects(&mut effects, &scenario, &final_state);
    add_lagging_replica_effect(&mut effects, &replica_logs, &final_state);
    for broker in cluster.brokers.values() {
        add_disk_effects(&mut effects, broker);
    }
    let trace_events = trace.events();
    let trace_kinds = trace.kinds();
    let elections = trace.elections();
    let sim_time_ms = clock.now_ms();
    let knobs = std::mem::take(&mut cluster.knobs);
    cluster.end_every_process().await;
    RunData {
        verdict,
        liveness_failure,
        anomalies,
        faults,
        final_state,
        history,
        trace_hash,
        replica_logs,
        trace_events,
        trace_kinds,
        effects,
        sim_time_ms,
        restarts,
        knobs,
        elections,
        panic: None,
    }
}

/// The run's trace, its cluster (every broker started), the supervisor's random stream, and
/// where fired `when` steps arrive once the hook is armed.
fn set_up(
    scenario: &Scenario,
    seed: u64,
    clock: RunClock,
) -> (
    Arc<RunTrace>,
    SimCluster,
    ChaCha8Rng,
    UnboundedReceiver<WhenFired>,
) {
    let trace = RunTrace::new();
    trace.record(
        0,
        "start",
        format!("{} {seed}", scenario.source_hash).as_bytes(),
    );
    if scenario.model.nondeterminism_for_test {
        let n = NONDETERMINISM_FOR_TEST.fetch_add(1, Ordering::Relaxed);
        trace.record(0, "nondeterminism-for-test", &n.to_be_bytes());
    }
    let rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b61_666b_6173_696d);
    let cluster = SimCluster::start(scenario, seed, trace.clone(), clock);
    if scenario.model.buggify {
        for point in crate::nemesis::faults::buggify_points(seed) {
            let name = point.effect().trim_start_matches("buggify.");
            trace.effect(&format!("buggify.on.{name}"), 1);
        }
    }
    let (when_tx, when_rx) = tokio::sync::mpsc::unbounded_channel();
    trace.arm_when(
        &scenario.faults,
        replica_map(scenario),
        cluster.node_ids(),
        when_tx,
    );
    (trace, cluster, rng, when_rx)
}

/// When each client process last started again: a `restart` fault on it, or the heal for one
/// that was dead then. Processes never restarted are left out.
fn client_starts(
    faults: &[FiredFault],
    restarted_at_heal: &[u32],
    heal_ms: u64,
) -> BTreeMap<u32, u64> {
    let mut starts = BTreeMap::new();
    for fault in faults.iter().filter(|f| f.kind == "restart") {
        let process = (fault.target.strip_prefix("client("))
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|index| index.parse::<u32>().ok());
        if let Some(process) = process {
            starts.insert(process, fault.time_ms);
        }
    }
    for &process in restarted_at_heal {
        starts.insert(process, heal_ms);
    }
    starts
}

/// Converge, once the cluster is healed: every outstanding send completes (ok, fail or info
/// by its delivery timeout) while the cluster settles; then readers catch up on what is there
/// and stop — at least 2 s after the sends settled, and no earlier than the heal plus the
/// longest consumer-group liveness bound (`Workloads::catch_up_time`), so that a group that
/// must rebalance after a restart can. Returns a liveness failure if sends were still pending
/// at the deadline, and when the readers were told to stop.
async fn converge(
    workloads: &Workloads,
    recorder: &Recorder,
    clock: RunClock,
    heal_ms: u64,
) -> (Option<String>, u64) {
    let converge_deadline =
        clock.now_ms() + (workloads.settle_time() + CONVERGE_SLACK).as_millis() as u64;
    while recorder.pending_sends.load(Ordering::Relaxed) > 0 && clock.now_ms() < converge_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut liveness_failure = None;
    let pending = recorder.pending_sends.load(Ordering::Relaxed);
    if pending > 0 {
        liveness_failure = Some(format!(
            "{pending} sends still pending after the converge deadline"
        ));
    }
    // Let consumers catch up on what is there, then stop them.
    let catch_up_until = heal_ms + workloads.catch_up_time().as_millis() as u64;
    let catch_up_ms = catch_up_until.saturating_sub(clock.now_ms()).max(2_000);
    tokio::time::sleep(Duration::from_millis(catch_up_ms)).await;
    let readers_stopped_ms = clock.now_ms();
    workloads.stop(StopAt::CaughtUp);
    tokio::time::sleep(Duration::from_secs(1)).await;
    (liveness_failure, readers_stopped_ms)
}

/// Every anomaly the checkers find, in report order, with the trace hash (taken once
/// everything that feeds it is done) and the replicas' final logs.
fn find_anomalies(
    scenario: &Scenario,
    cluster: &SimCluster,
    trace: &RunTrace,
    history: &History,
    final_state: &FinalState,
) -> (Vec<Anomaly>, String, ReplicaLogs) {
    let mut anomalies = checker::check_all(history, final_state);
    anomalies.extend(trace.online_anomalies());
    anomalies.extend(trace.corrupt_batches_at_end());
    // Everything above is in the trace; reading the replicas' disks below is not.
    let trace_hash = trace.hash();
    let (divergence, replica_logs) = replicas::replica_agreement(scenario, cluster, trace);
    anomalies.extend(divergence);
    anomalies.sort_by(checker::Anomaly::report_order);
    (anomalies, trace_hash, replica_logs)
}

/// For partitions added during the run (`create-partitions`): how many the drain read and how
/// many records they hold, so a scenario can require that the new partitions were used.
fn add_added_partition_effects(
    effects: &mut BTreeMap<String, u64>,
    scenario: &Scenario,
    final_state: &FinalState,
) {
    for (tp, log) in &final_state.logs {
        let declared = scenario.topics.iter().find(|t| t.name == tp.topic);
        if declared.is_some_and(|t| tp.partition >= t.partitions) {
            *effects.entry("drain.added_partitions".into()).or_default() += 1;
            *effects
                .entry("drain.records_in_added_partitions".into())
                .or_default() += log.records.len() as u64;
        }
    }
}

/// `replicas.behind_at_end`: replicas whose log, as their disk holds it after the run, ends
/// below the high watermark the drain read up to (a follower that never caught up once every
/// fault healed). Counted only when some are.
fn add_lagging_replica_effect(
    effects: &mut BTreeMap<String, u64>,
    replica_logs: &replicas::ReplicaLogs,
    final_state: &FinalState,
) {
    let mut behind = 0;
    for (tp, log) in &final_state.logs {
        let Some(replicas) = replica_logs.partitions.get(&tp.to_string()) else {
            continue;
        };
        behind += replicas
            .iter()
            .filter(|r| r.log_end_offset < log.high_watermark)
            .count() as u64;
    }
    if behind > 0 {
        effects.insert("replicas.behind_at_end".into(), behind);
    }
}

fn add_disk_effects(effects: &mut BTreeMap<String, u64>, broker: &crate::cluster::BrokerNode) {
    let disk = broker.disk.stats();
    let net = broker.faults.effects();
    for (name, value) in [
        ("disk.bytes_discarded", disk.bytes_discarded),
        ("disk.sectors_torn", disk.sectors_torn),
        ("disk.files_lost", disk.files_lost),
        ("disk.bits_flipped", disk.bits_flipped),
        ("disk.enospc_errors", disk.enospc_errors),
        ("disk.fsync_errors", disk.fsync_errors),
        ("disk.power_losses", disk.power_losses),
        ("net.responses_dropped", net.responses_dropped),
        ("net.connections_reset", net.connections_reset),
        ("net.messages_delayed", net.messages_delayed),
        ("disk.writes_delayed", net.disk_writes_delayed),
    ] {
        if value > 0 {
            *effects.entry(name.to_string()).or_default() += value;
        }
    }
}

/// Every partition's replicas in assignment order.
fn replica_map(scenario: &Scenario) -> BTreeMap<Tp, Vec<i32>> {
    crate::cluster::assignments(scenario)
        .into_iter()
        .flat_map(|topic| {
            topic
                .replicas
                .into_iter()
                .enumerate()
                .map(move |(p, replicas)| (Tp::new(topic.name.clone(), p as i32), replicas))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use madsim::runtime::Handle;

    /// A client's last start is its latest `restart` fault, or the heal if it was dead then;
    /// broker restarts and other client faults are not starts.
    #[test]
    fn client_starts_come_from_restart_faults_and_the_heal() {
        let fault = |time_ms, kind: &str, target: &str| FiredFault {
            time_ms,
            kind: kind.into(),
            target: target.into(),
            detail: String::new(),
            random: false,
        };
        let faults = [
            fault(100, "restart", "client(1)"),
            fault(200, "restart", "broker(1)"),
            fault(300, "kill", "client(2)"),
            fault(400, "restart", "client(1)"),
            fault(500, "kill", "client(3)"),
        ];
        let starts = client_starts(&faults, &[3], 900);
        assert_eq!(starts, BTreeMap::from([(1, 400), (3, 900)]));
    }

    /// A tripped assertion on a broker's node ends the run as `unknown`, and the run's data
    /// names the assertion, the node and the line.
    #[test]
    fn a_panicking_node_makes_the_run_unknown_with_message_node_and_location() {
        let data = run_isolated(42, || {
            let runtime = Runtime::with_seed_and_config(42, madsim::Config::default());
            runtime.block_on(async {
                let node = Handle::current().create_node().name("broker-3").build();
                let task = node.spawn(async {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let (high_watermark, log_end_offset) = (9, 4);
                    assert!(
                        high_watermark <= log_end_offset,
                        "high_watermark {high_watermark} > log_end_offset {log_end_offset}"
                    );
                });
                let _ = task.await;
                RunData::failed("the node did not panic".into())
            })
        });
        assert_eq!(data.verdict, Verdict::Unknown);
        let site = data.panic.clone().expect("the panic is reported");
        assert_eq!(site.message, "high_watermark 9 > log_end_offset 4");
        assert_eq!(site.node.as_deref(), Some("broker-3"));
        assert_eq!(site.sim_time_ms, Some(250));
        let location = site.location.as_deref().unwrap_or_default();
        assert!(location.starts_with("sim/src/run/mod.rs:"), "{location}");
        let reason = data.liveness_failure.clone().unwrap_or_default();
        assert!(
            reason.starts_with("run panicked (seed 42) on broker-3 at sim/src/run/mod.rs:")
                && reason.ends_with(": high_watermark 9 > log_end_offset 4"),
            "{reason}"
        );

        // The report carries the same, with the line that reproduces the run.
        let smoke = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/smoke/produce-consume.toml");
        let scenario = crate::scenario::load(&smoke).expect("the smoke scenario");
        let judgement = judge(&scenario, &data);
        let json = report::run_report(&scenario, 42, &data, &judgement, 0);
        assert_eq!(json["verdict"], "unknown");
        assert_eq!(
            json["panic"]["message"],
            "high_watermark 9 > log_end_offset 4"
        );
        assert_eq!(json["panic"]["node"], "broker-3");
        assert_eq!(json["panic"]["repro"], json["repro"]);
        let repro = json["repro"].as_str().unwrap_or_default();
        assert!(repro.contains("produce-consume.toml --seed 42"), "{repro}");
    }
}
