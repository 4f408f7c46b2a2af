//! The group-consumer workload: kafkasim's group consumer (Kafka's classic protocol), every
//! client a member of one group subscribed to the topic, polling until the readers are
//! stopped and then closing (a final commit, then LeaveGroup unless static). It records what
//! the group checkers read: each join, assignment, revocation (and loss, recorded as a
//! revocation by the member that held the partitions), every commit as invoke and
//! completion, every poll, and a seek on every partition newly assigned (its position then
//! comes from the committed offset, so a re-delivery after a rebalance is not a rewind).
//!
//! A client restarted by the nemesis (`restart` on `client(i)`) starts again as a new
//! process of the same member: with `static_members`, the same `group.instance.id`. A
//! `slow-poll` on it makes the loop wait between two polls (the application processing its
//! batch) while the consumer's heartbeat task goes on.
//!
//! Effects, so a scenario can require what a slow member must cause:
//! `group_member.poll_interval_expired` (the heartbeat task left the group because polls
//! stopped for `max.poll.interval.ms`), `group_member.generations_missed` (when such a member
//! joins again: the generations the group formed without it, its new generation minus the
//! one it left minus one) and `group_member.partitions_lost` (partitions members reported
//! lost, having been out of the group).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkasim::client::group::{CommitInvoke, CommitOutcome, MemberInfo};
use kafkasim::client::{CommitReport, GroupConfig, GroupConsumer, GroupListener};
use kafkasim::group::assignor::Assignor;
use madsim::runtime::NodeHandle;

use super::configs::{ms, string_config};
use super::consumer::reads_of;
use super::{Client, Recorder, SlowPoll, StopAt, Workload};
use crate::checker::groups::liveness::GroupExpectation;
use crate::history::{EventKind, History, Outcome, Tp};
use crate::scenario::configs::{int_or_default, Scope};
use crate::scenario::Configs;

/// How long one poll waits for records.
const POLL_TIMEOUT: Duration = Duration::from_millis(500);
/// How often a member reads its group's committed offsets back (OffsetFetch), as a lag
/// monitor would: what committed-offset-lost checks against the acknowledged commits.
const OFFSET_FETCH_INTERVAL: Duration = Duration::from_millis(2_000);
/// The part of the liveness bound the group's own timeouts do not cover: madsim's reconnect
/// backoff once a cut-off node is healed (capped near 10 s), the restarted brokers'
/// elections and the new coordinator's load of the group, and the polls that read to the end.
const LIVENESS_SLACK: Duration = Duration::from_secs(10);

/// A `[[workload]] kind = "group-consumer"`.
pub struct GroupConsumerWorkload {
    spec: crate::scenario::Workload,
    /// Set once readers have caught up; every client of the workload reads it.
    stop: Arc<AtomicBool>,
    /// Clients started so far, numbering the members within the workload.
    started: u32,
    /// The run's process index of each member: for the liveness check, and to count only
    /// its own members' events in the effects.
    processes: BTreeSet<u32>,
    /// How long after the heal the group may take to settle and read to the end.
    liveness_bound: Duration,
    /// The topic's declared partition count: partitions at or above it were added during
    /// the run (`create-partitions`).
    declared_partitions: i32,
}

impl GroupConsumerWorkload {
    pub fn new(spec: &crate::scenario::Workload, broker: &Configs) -> GroupConsumerWorkload {
        GroupConsumerWorkload {
            spec: spec.clone(),
            stop: Arc::default(),
            started: 0,
            processes: BTreeSet::new(),
            liveness_bound: liveness_bound(spec, broker),
            declared_partitions: 0,
        }
    }
}

/// How long after the final heal the group may take to be stable with every live member and
/// to have consumed every partition to its end (`checker::groups::liveness`):
/// - `session.timeout.ms`: a member that died shortly before the heal (its process restarts
///   as a new member) holds the rebalance until its session expires;
/// - `group.initial.rebalance.delay.ms`: a group the faults emptied waits this long before
///   its first rebalance;
/// - 3 × `heartbeat.interval.ms`: members learn of a rebalance at their next heartbeat, then
///   rejoin and sync;
/// - `LIVENESS_SLACK` (10 s): what the group's timeouts do not cover (see there).
///
/// `max.poll.interval.ms` is not in it: a member polls at least every `POLL_TIMEOUT`, so none
/// holds a rebalance up by not polling.
pub fn liveness_bound(spec: &crate::scenario::Workload, broker: &Configs) -> Duration {
    let initial_delay = int_or_default(broker, Scope::Broker, "group.initial.rebalance.delay.ms");
    ms(spec, Scope::Consumer, "session.timeout.ms")
        + Duration::from_millis(initial_delay.max(0) as u64)
        + 3 * ms(spec, Scope::Consumer, "heartbeat.interval.ms")
        + LIVENESS_SLACK
}

impl Workload for GroupConsumerWorkload {
    fn start(&mut self, client: Client<'_>) -> Option<crate::cluster::ClientRestart> {
        let member = self.started;
        self.started += 1;
        self.processes.insert(client.process);
        self.declared_partitions = client.partitions;
        let config = group_config(&self.spec, client.bootstrap.clone(), client.process, member);
        let recorder = client.recorder.clone();
        let topic = self.spec.topic.clone();
        let process = client.process;
        let stop = self.stop.clone();
        let slow_poll = client.slow_poll.clone();
        let start: crate::cluster::ClientRestart = Arc::new(move |node: &NodeHandle| {
            let (config, recorder, topic, stop, slow_poll) = (
                config.clone(),
                recorder.clone(),
                topic.clone(),
                stop.clone(),
                slow_poll.clone(),
            );
            node.spawn(run_member(
                config, topic, process, recorder, stop, slow_poll,
            ));
        });
        start(client.node);
        Some(start)
    }

    fn stop_at(&self) -> StopAt {
        StopAt::CaughtUp
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn group(&self) -> Option<GroupExpectation> {
        Some(GroupExpectation {
            group: self.spec.group.clone(),
            topics: BTreeSet::from([self.spec.topic.clone()]),
            processes: self.processes.clone(),
            bound_ms: self.liveness_bound.as_millis() as u64,
        })
    }

    /// For partitions added to the topic during the run: how many of them the group's
    /// members were ever assigned (`group.added_partitions_assigned`) and how many records
    /// they polled from them (`group.records_polled_from_added_partitions`), so a scenario
    /// can require that the group rebalanced over the new partitions and consumed them. And
    /// `group.static_rejoins_without_rebalance`: static members whose process crashed and
    /// whose restart was assigned in the very generation it had (KIP-345: the coordinator
    /// swapped the member id and handed the assignment back, no rebalance).
    fn add_effects(&self, history: &History, effects: &mut BTreeMap<String, u64>) {
        let added =
            |tp: &Tp| tp.topic == self.spec.topic && tp.partition >= self.declared_partitions;
        let mut assigned: BTreeSet<&Tp> = BTreeSet::new();
        let mut polled: u64 = 0;
        // Per process: the generation of its last assignment, and that of the one it had
        // when it crashed, until its restart is assigned again.
        let mut last_generation: BTreeMap<u32, i32> = BTreeMap::new();
        let mut crashed_in: BTreeMap<u32, i32> = BTreeMap::new();
        let mut static_rejoins_in_place: u64 = 0;
        let own = (history.events.iter()).filter(|event| self.processes.contains(&event.process));
        for event in own {
            match &event.kind {
                EventKind::ProcessCrashed => {
                    if let Some(&generation) = last_generation.get(&event.process) {
                        crashed_in.insert(event.process, generation);
                    }
                }
                EventKind::AssignmentReceived {
                    partitions,
                    generation,
                    group_instance_id,
                    ..
                } => {
                    assigned.extend(partitions.iter().filter(|tp| added(tp)));
                    let before = crashed_in.remove(&event.process);
                    if group_instance_id.is_some() && before == Some(*generation) {
                        static_rejoins_in_place += 1;
                    }
                    last_generation.insert(event.process, *generation);
                }
                EventKind::PollComplete { reads, .. } => {
                    polled += reads.iter().filter(|read| added(&read.tp)).count() as u64;
                }
                _ => {}
            }
        }
        if !assigned.is_empty() {
            *effects
                .entry("group.added_partitions_assigned".into())
                .or_default() += assigned.len() as u64;
        }
        if polled > 0 {
            *effects
                .entry("group.records_polled_from_added_partitions".into())
                .or_default() += polled;
        }
        if static_rejoins_in_place > 0 {
            *effects
                .entry("group.static_rejoins_without_rebalance".into())
                .or_default() += static_rejoins_in_place;
        }
    }
}

/// The member's configs: the workload's Kafka configs, Kafka's defaults where it is silent.
fn group_config(
    spec: &crate::scenario::Workload,
    bootstrap: Vec<std::net::SocketAddr>,
    process: u32,
    member: u32,
) -> GroupConfig {
    let consumer = super::consumer_config(spec, bootstrap.clone(), process);
    let mut config = GroupConfig::new(bootstrap, &spec.group);
    config.consumer = consumer;
    config.consumer.client_id = format!("member-{process}");
    config.group_instance_id = spec
        .static_members
        .then(|| format!("{}-member-{member}", spec.group));
    config.session_timeout = ms(spec, Scope::Consumer, "session.timeout.ms");
    config.heartbeat_interval = ms(spec, Scope::Consumer, "heartbeat.interval.ms");
    config.max_poll_interval = ms(spec, Scope::Consumer, "max.poll.interval.ms");
    config.auto_commit_interval = ms(spec, Scope::Consumer, "auto.commit.interval.ms");
    config.metadata_max_age = ms(spec, Scope::Consumer, "metadata.max.age.ms");
    config.enable_auto_commit =
        string_config(spec, Scope::Consumer, "enable.auto.commit") == "true";
    let strategy = string_config(spec, Scope::Consumer, "partition.assignment.strategy");
    config.assignment_strategy = vec![match strategy.as_str() {
        "roundrobin" => Assignor::RoundRobin,
        "sticky" => Assignor::Sticky,
        "cooperative-sticky" => Assignor::CooperativeSticky,
        _ => Assignor::Range,
    }];
    config
}

/// Records the member's callbacks into the history.
struct HistoryListener {
    recorder: Recorder,
    process: u32,
    group: String,
    /// `group.instance.id`, for static members.
    instance: Option<String>,
    /// Commit ids (the consumer's numbering) to history op ids.
    commits: std::collections::BTreeMap<u64, u64>,
}

fn tps(partitions: &[(String, i32)]) -> Vec<Tp> {
    partitions
        .iter()
        .map(|(topic, partition)| Tp::new(topic.clone(), *partition))
        .collect()
}

impl HistoryListener {
    fn revoked(&mut self, member: &MemberInfo, partitions: &[(String, i32)]) {
        if partitions.is_empty() {
            return;
        }
        self.recorder.note(
            self.process,
            EventKind::PartitionsRevoked {
                group: self.group.clone(),
                member_id: member.member_id.clone(),
                group_instance_id: member.group_instance_id.clone(),
                generation: member.generation_id,
                partitions: tps(partitions),
            },
        );
    }
}

impl GroupListener for HistoryListener {
    fn on_partitions_revoked(&mut self, member: &MemberInfo, partitions: &[(String, i32)]) {
        self.revoked(member, partitions);
    }

    fn on_partitions_lost(&mut self, member: &MemberInfo, partitions: &[(String, i32)]) {
        self.recorder
            .effect("group_member.partitions_lost", partitions.len() as u64);
        self.revoked(member, partitions);
    }

    fn on_partitions_assigned(&mut self, member: &MemberInfo, partitions: &[(String, i32)]) {
        self.recorder.note(
            self.process,
            EventKind::AssignmentReceived {
                group: self.group.clone(),
                member_id: member.member_id.clone(),
                group_instance_id: member.group_instance_id.clone(),
                generation: member.generation_id,
                partitions: tps(partitions),
            },
        );
        // Positions of newly assigned partitions come from the committed offsets.
        for tp in tps(partitions) {
            self.recorder.seek(self.process, tp, -1);
        }
    }

    fn on_commit_invoked(&mut self, commit: &CommitInvoke) {
        let op = self.recorder.invoke(
            self.process,
            EventKind::CommitInvoke {
                group: self.group.clone(),
                member_id: commit.member_id.clone(),
                group_instance_id: self.instance.clone(),
                generation: commit.generation_id,
                offsets: commit
                    .offsets
                    .iter()
                    .map(|((topic, partition), offset)| {
                        (Tp::new(topic.clone(), *partition), *offset)
                    })
                    .collect(),
            },
        );
        self.commits.insert(commit.id, op);
    }

    fn on_commit_completed(&mut self, report: &CommitReport) {
        let Some(op) = self.commits.remove(&report.invoke.id) else {
            return;
        };
        let outcome = match &report.outcome {
            CommitOutcome::Ok => Outcome::Ok,
            CommitOutcome::Fail(error) => Outcome::Fail(format!("{error:?}")),
            CommitOutcome::Info(error) => Outcome::Info(format!("{error:?}")),
        };
        self.recorder
            .complete(self.process, op, EventKind::CommitComplete { outcome });
    }
}

/// One member: subscribes, polls until `stop` (waiting out `slow_poll`'s stalls between
/// polls), then closes.
async fn run_member(
    config: GroupConfig,
    topic: String,
    process: u32,
    recorder: Recorder,
    stop: Arc<AtomicBool>,
    slow_poll: Arc<SlowPoll>,
) {
    let group = config.group_id.clone();
    let protocol = config
        .assignment_strategy
        .first()
        .map(|a| a.protocol_name().to_string())
        .unwrap_or_default();
    let instance = config.group_instance_id.clone();
    let listener = HistoryListener {
        recorder: recorder.clone(),
        process,
        group: group.clone(),
        instance: instance.clone(),
        commits: Default::default(),
    };
    let mut consumer = GroupConsumer::new(config, Box::new(listener));
    consumer.subscribe(&[topic]);
    let mut generation = -1;
    // The generation the member left when its heartbeat task saw polls stop, until it joins
    // again.
    let mut left_generation: Option<i32> = None;
    let mut next_offset_fetch = tokio::time::Instant::now() + OFFSET_FETCH_INTERVAL;
    while !stop.load(Ordering::Relaxed) {
        let op = recorder.invoke(process, EventKind::PollInvoke);
        let result = consumer.poll(POLL_TIMEOUT).await;
        for (topic, partition, offset) in consumer.take_resets() {
            recorder.seek(process, Tp::new(topic, partition), offset);
        }
        let kind = match result {
            Ok(records) => EventKind::PollComplete {
                outcome: Outcome::Ok,
                reads: reads_of(&records),
            },
            Err(error) => EventKind::PollComplete {
                outcome: Outcome::Fail(error.to_string()),
                reads: Vec::new(),
            },
        };
        recorder.complete(process, op, kind);
        if consumer.take_poll_expired() {
            recorder.effect("group_member.poll_interval_expired", 1);
            left_generation = left_generation.or(Some(generation));
        }
        let now = tokio::time::Instant::now();
        if now >= next_offset_fetch {
            next_offset_fetch = now + OFFSET_FETCH_INTERVAL;
            fetch_committed(&mut consumer, &group, process, &recorder).await;
        }
        if consumer.generation_id() != generation {
            generation = consumer.generation_id();
            if let Some(left) = left_generation.filter(|_| generation >= 0) {
                // A static member may come back into the very generation it left (KIP-345:
                // the coordinator hands its assignment back without a rebalance).
                let missed = (generation - left - 1).max(0) as u64;
                recorder.effect("group_member.generations_missed", missed);
                left_generation = None;
            }
            if generation >= 0 {
                recorder.note(
                    process,
                    EventKind::GroupJoined {
                        group: group.clone(),
                        member_id: consumer.member_id(),
                        group_instance_id: instance.clone(),
                        generation,
                        protocol: Some(protocol.clone()),
                        leader: false,
                    },
                );
            }
        }
        slow_poll.wait().await;
    }
    consumer.close().await;
}

/// Read back the committed offsets of the member's partitions and record what came back.
async fn fetch_committed(
    consumer: &mut GroupConsumer,
    group: &str,
    process: u32,
    recorder: &Recorder,
) {
    let partitions = consumer.assignment();
    if partitions.is_empty() {
        return;
    }
    let op = recorder.invoke(
        process,
        EventKind::OffsetFetchInvoke {
            group: group.to_string(),
            partitions: tps(&partitions),
        },
    );
    let kind = match consumer.committed(&partitions).await {
        Ok(committed) => EventKind::OffsetFetchComplete {
            outcome: Outcome::Ok,
            offsets: committed
                .iter()
                .map(|((topic, partition), offset)| {
                    (Tp::new(topic.clone(), *partition), offset.unwrap_or(-1))
                })
                .collect(),
        },
        Err(error) => EventKind::OffsetFetchComplete {
            outcome: Outcome::Fail(error.to_string()),
            offsets: Vec::new(),
        },
    };
    recorder.complete(process, op, kind);
}
