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
pub mod report;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkasim::client::consumer::ConsumeError;
use kafkasim::client::{Consumer, ConsumerConfig, OffsetReset};
use madsim::runtime::{Handle, Runtime};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::checker::{self, Anomaly, FinalLog, FinalState};
use crate::cluster::clock::RunClock;
use crate::cluster::{client_ip, FiredFault, SimCluster};
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

/// One replica's final log, read from its disk.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaSummary {
    pub broker: i32,
    pub log_start_offset: i64,
    /// The last high watermark the replica announced.
    pub high_watermark: i64,
    pub log_end_offset: i64,
    pub batches: usize,
}

/// Final replica logs per partition, with the first offset where two replicas disagree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplicaLogs {
    pub partitions: BTreeMap<String, Vec<ReplicaSummary>>,
    pub first_divergent_offset: BTreeMap<String, Option<i64>>,
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

    restarts += cluster.heal_all().len() as u64;
    let mut liveness_failure = converge(&workloads, &recorder, clock).await;

    // Drain every partition from log start to the high watermark.
    let final_state = match drain(&scenario, clock).await {
        Ok(state) => state,
        Err(reason) => {
            liveness_failure.get_or_insert(reason);
            FinalState::default()
        }
    };
    let mut history = recorder.history();
    history.wire = trace.wire();
    history.wire_recorded = true;
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

/// Converge, once the cluster is healed: every outstanding send completes (ok, fail or info
/// by its delivery timeout) while the cluster settles; then readers catch up on what is there
/// and stop. A liveness failure if sends were still pending at the deadline.
async fn converge(workloads: &Workloads, recorder: &Recorder, clock: RunClock) -> Option<String> {
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
    tokio::time::sleep(Duration::from_secs(2)).await;
    workloads.stop(StopAt::CaughtUp);
    tokio::time::sleep(Duration::from_secs(1)).await;
    liveness_failure
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
    let (divergence, replica_logs) = replica_agreement(scenario, cluster, trace);
    anomalies.extend(divergence);
    anomalies.sort_by(checker::Anomaly::report_order);
    (anomalies, trace_hash, replica_logs)
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

/// Compare every partition's replicas batch by batch, as their disks hold them at the end, up
/// to the high watermark they share (the offline half of replica agreement).
fn replica_agreement(
    scenario: &Scenario,
    cluster: &SimCluster,
    trace: &RunTrace,
) -> (Vec<checker::Anomaly>, ReplicaLogs) {
    let high_watermarks = trace.replica_high_watermarks();
    let mut logs: BTreeMap<(Tp, i32), Vec<(i64, i64, i32, u32)>> = BTreeMap::new();
    let mut shared_hw: BTreeMap<Tp, i64> = BTreeMap::new();
    let mut summaries = ReplicaLogs::default();
    for topic in crate::cluster::assignments(scenario) {
        for (index, replicas) in topic.replicas.iter().enumerate() {
            let tp = Tp::new(topic.name.clone(), index as i32);
            let dir = format!("{}-{}", topic.name, index);
            for broker in replicas {
                let Some(node) = cluster.brokers.get(broker) else {
                    continue;
                };
                let batches = disk_batches(&*node.disk, &dir);
                let high_watermark = high_watermarks
                    .get(&(tp.clone(), *broker))
                    .copied()
                    .unwrap_or(0);
                let hw = shared_hw.entry(tp.clone()).or_insert(high_watermark);
                *hw = (*hw).min(high_watermark);
                summaries
                    .partitions
                    .entry(tp.to_string())
                    .or_default()
                    .push(ReplicaSummary {
                        broker: *broker,
                        log_start_offset: batches.first().map_or(0, |b| b.0),
                        high_watermark,
                        log_end_offset: batches.last().map_or(0, |b| b.1 + 1),
                        batches: batches.len(),
                    });
                logs.insert((tp.clone(), *broker), batches);
            }
        }
    }
    let (anomalies, first) = crate::online::replica_agreement(&logs, &shared_hw);
    summaries.first_divergent_offset = first
        .into_iter()
        .map(|(tp, offset)| (tp.to_string(), offset))
        .collect();
    (anomalies, summaries)
}

/// (base offset, last offset, leader epoch, CRC) of every batch in a partition directory's
/// segments, in offset order; a torn or unreadable tail ends the list.
fn disk_batches(disk: &dyn kafkasim::env::Disk, dir: &str) -> Vec<(i64, i64, i32, u32)> {
    let mut out = Vec::new();
    let files = disk.list_dir(dir).unwrap_or_default();
    for file in files.iter().filter(|f| f.ends_with(".log")) {
        let Ok(bytes) = disk.read_all(&format!("{dir}/{file}")) else {
            break;
        };
        let Ok(batches) = kafkasim::storage::batch::split(&bytes) else {
            break;
        };
        out.extend(batches.iter().map(|(_, h)| {
            (
                h.base_offset,
                h.last_offset(),
                h.partition_leader_epoch,
                h.crc,
            )
        }));
    }
    out
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

/// Read every partition from log start to the high watermark with a fresh consumer on a
/// fresh node.
async fn drain(scenario: &Scenario, clock: RunClock) -> Result<FinalState, String> {
    let node = Handle::current()
        .create_node()
        .name("drain")
        .ip(client_ip(999))
        .build();
    let scenario = scenario.clone();
    let task = node.spawn(async move {
        let deadline = clock.now_ms() + DRAIN_TIMEOUT.as_millis() as u64;
        let mut config = ConsumerConfig::new(crate::cluster::bootstrap(&scenario));
        config.client_id = "drain".into();
        config.auto_offset_reset = OffsetReset::Earliest;
        config.request_timeout = Duration::from_secs(5);
        let mut consumer = Consumer::new(config);
        let mut state = FinalState::default();
        for topic in &scenario.topics {
            for partition in 0..topic.partitions {
                let log =
                    drain_partition(&mut consumer, &topic.name, partition, clock, deadline).await?;
                state
                    .logs
                    .insert(Tp::new(topic.name.clone(), partition), log);
            }
        }
        Ok(state)
    });
    task.await.map_err(|e| format!("drain task failed: {e}"))?
}

async fn drain_partition(
    consumer: &mut Consumer,
    topic: &str,
    partition: i32,
    clock: RunClock,
    deadline: u64,
) -> Result<FinalLog, String> {
    let timed_out = || {
        format!(
            "drain of {topic}/{partition} did not finish in {} s",
            DRAIN_TIMEOUT.as_secs()
        )
    };
    let (log_start, high_watermark) = loop {
        let start = consumer
            .list_offset(topic, partition, -2)
            .await
            .ok()
            .flatten();
        let end = consumer
            .list_offset(topic, partition, -1)
            .await
            .ok()
            .flatten();
        if let (Some(start), Some(end)) = (start, end) {
            break (start, end);
        }
        if clock.now_ms() >= deadline {
            return Err(timed_out());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    consumer.assign(&[(topic.to_string(), partition)]);
    consumer.seek(topic, partition, log_start);
    let mut records = Vec::new();
    while consumer.position(topic, partition).unwrap_or(log_start) < high_watermark {
        if clock.now_ms() >= deadline {
            return Err(timed_out());
        }
        let polled = match consumer.poll(Duration::from_millis(500)).await {
            Ok(polled) => polled,
            // The broker serves a batch that fails its CRC: what follows cannot be read (the
            // checkers see it missing, and corrupt-batch-kept names the replica that kept it).
            Err(ConsumeError::Corrupt { .. }) => break,
            Err(e) => return Err(format!("drain of {topic}/{partition}: {e}")),
        };
        for record in polled {
            let value = record
                .value
                .as_deref()
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let (Some(value), true) = (value, record.offset < high_watermark) {
                records.push((record.offset, value));
            }
        }
    }
    Ok(FinalLog {
        log_start_offset: log_start,
        high_watermark,
        records,
    })
}

/// What the run showed against what the scenario expects.
#[derive(Debug, Clone, Serialize)]
pub struct Judgement {
    pub passed: bool,
    /// Anomaly kinds found, sorted.
    pub shown: Vec<String>,
    /// `must` kinds that did not show.
    pub missing: Vec<String>,
    /// Kinds found that are neither `must` nor `allow`.
    pub unexpected: Vec<String>,
    /// Minimums not met, in words.
    pub unmet_minimums: Vec<String>,
}

/// Judge a run against `[expect]`.
pub fn judge(scenario: &Scenario, data: &RunData) -> Judgement {
    let expect = &scenario.expect;
    let mut shown: Vec<String> = data.anomalies.iter().map(|a| a.kind.clone()).collect();
    shown.sort();
    shown.dedup();
    let missing: Vec<String> = expect
        .must
        .iter()
        .filter(|k| !shown.contains(k))
        .cloned()
        .collect();
    let unexpected: Vec<String> = shown
        .iter()
        .filter(|k| {
            !expect.must.contains(k)
                && !expect.allow.contains(k)
                && !expect.must_fraction.contains_key(*k)
        })
        .cloned()
        .collect();
    let counts = checker::summary::count(&data.history);
    let mut unmet = Vec::new();
    if counts.sends_ok < expect.min_acknowledged {
        unmet.push(format!(
            "acknowledged {} < {}",
            counts.sends_ok, expect.min_acknowledged
        ));
    }
    if (data.faults.len() as u64) < expect.min_faults {
        unmet.push(format!(
            "faults {} < {}",
            data.faults.len(),
            expect.min_faults
        ));
    }
    for (kind, min) in &expect.min_faults_by_kind {
        let fired = data.faults.iter().filter(|f| &f.kind == kind).count() as u64;
        if fired < *min {
            unmet.push(format!("{kind} faults {fired} < {min}"));
        }
    }
    for (effect, min) in &expect.min_effects {
        let seen = data.effects.get(effect).copied().unwrap_or(0);
        if seen < *min {
            unmet.push(format!("effect {effect} {seen} < {min}"));
        }
    }
    let passed = data.verdict != Verdict::Unknown
        && missing.is_empty()
        && unexpected.is_empty()
        && unmet.is_empty();
    Judgement {
        passed,
        shown,
        missing,
        unexpected,
        unmet_minimums: unmet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
