//! Workloads: the client processes a scenario's `[[workload]]` tables describe, each on its
//! own simulated node, that drive kafkasim's clients and record every operation in the
//! history.
//!
//! A workload kind is one file implementing [`Workload`] and one line in [`build`]; the runner
//! starts, stops and reads every workload through [`Workloads`] without naming a kind
//! (STYLE.md, habit 10).

mod configs;
mod consumer;
mod group_consumer;
mod list_offsets;
mod producer;
mod recorder;
mod slow_poll;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle};

pub use configs::{consumer_config, producer_config};
pub use recorder::Recorder;
pub use slow_poll::SlowPoll;

use crate::checker::groups::liveness::GroupExpectation;
use crate::cluster::clock::RunClock;
use crate::cluster::{bootstrap, client_ip, ClientNode};
use crate::history::{EventKind, History};
use crate::scenario::{Scenario, WorkloadKind};

/// When a workload's clients stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAt {
    /// When the fault phase ends, so nothing new is written while the cluster heals and every
    /// outstanding operation completes.
    FaultsEnd,
    /// Once the cluster has converged and readers had time to catch up, before the drain.
    CaughtUp,
}

/// What one client process of a workload starts with.
pub struct Client<'a> {
    /// The client's own node, made for it.
    pub node: &'a NodeHandle,
    /// The process's index among every workload client of the run: it names the node, the
    /// client.id and (for producers) the values it writes.
    pub process: u32,
    /// Partitions of the workload's topic.
    pub partitions: i32,
    pub bootstrap: Vec<SocketAddr>,
    pub recorder: &'a Recorder,
    pub clock: RunClock,
    pub seed: u64,
    /// The process's `slow-poll` state, set by the nemesis; a workload with a poll loop apart
    /// from its heartbeats (group members) waits out its stalls between polls.
    pub slow_poll: &'a std::sync::Arc<SlowPoll>,
}

/// One `[[workload]]` of a scenario: set up its client processes, stop them, and add what it
/// alone knows to the report. Its operations go to the shared [`Recorder`] (the history).
pub trait Workload {
    /// Starts one client process on `client.node`. A workload whose clients can be
    /// restarted (`restart` on `client(i)`) returns how to start the process again on its
    /// restarted node.
    fn start(&mut self, client: Client<'_>) -> Option<crate::cluster::ClientRestart>;

    /// When its clients stop.
    fn stop_at(&self) -> StopAt;

    /// Tells every client to stop; each finishes the operation in hand.
    fn stop(&self);

    /// How long after the fault phase its operations may still be completing (a producer's
    /// `delivery.timeout.ms`): the converge phase waits for them at most this long.
    fn settle_time(&self) -> Duration {
        Duration::ZERO
    }

    /// Adds its own counters to the report's effects, read from the history.
    fn add_effects(&self, _history: &History, _effects: &mut BTreeMap<String, u64>) {}

    /// The consumer group its started clients form, and how long after the heal it may take
    /// to settle and read to the end (`checker::groups::liveness`); `None` if it forms none.
    fn group(&self) -> Option<GroupExpectation> {
        None
    }
}

/// The workload a `[[workload]]` table describes: the one list of workload kinds.
pub fn build(scenario: &Scenario, spec: &crate::scenario::Workload) -> Box<dyn Workload> {
    match spec.kind {
        WorkloadKind::Producer => Box::new(producer::ProducerWorkload::new(spec)),
        WorkloadKind::ListOffsets => Box::new(list_offsets::ListOffsetsWorkload::new(spec)),
        WorkloadKind::Consumer => Box::new(consumer::ConsumerWorkload::new(spec)),
        WorkloadKind::GroupConsumer => Box::new(group_consumer::GroupConsumerWorkload::new(
            spec,
            &scenario.broker,
        )),
    }
}

/// Every workload of a run, in the scenario's order.
pub struct Workloads {
    workloads: Vec<Box<dyn Workload>>,
}

impl Workloads {
    /// The scenario's workloads, not started.
    pub fn of(scenario: &Scenario) -> Workloads {
        Workloads {
            workloads: (scenario.workloads.iter())
                .map(|spec| build(scenario, spec))
                .collect(),
        }
    }

    /// The longest settle time of any workload (zero without any).
    pub fn settle_time(&self) -> Duration {
        let times = self.workloads.iter().map(|w| w.settle_time());
        times.max().unwrap_or_default()
    }

    /// How long after the final heal readers keep running, so that every group can settle
    /// and read to the end: the longest group liveness bound (zero without groups).
    pub fn catch_up_time(&self) -> Duration {
        let bounds = self.groups().into_iter().map(|g| g.bound_ms);
        Duration::from_millis(bounds.max().unwrap_or(0))
    }

    /// Every consumer group the started clients form, one per group id (workloads sharing a
    /// group id are merged: their processes and topics together, the longest bound).
    pub fn groups(&self) -> Vec<GroupExpectation> {
        let mut groups: BTreeMap<String, GroupExpectation> = BTreeMap::new();
        for group in self.workloads.iter().filter_map(|w| w.group()) {
            match groups.get_mut(&group.group) {
                Some(merged) => {
                    merged.topics.extend(group.topics);
                    merged.processes.extend(group.processes);
                    merged.bound_ms = merged.bound_ms.max(group.bound_ms);
                }
                None => {
                    groups.insert(group.group.clone(), group);
                }
            }
        }
        groups.into_values().collect()
    }

    /// Starts every client process, each on a node of its own, in the scenario's order;
    /// returns them (fault targets, ended with the rest of the run).
    pub fn start(
        &mut self,
        scenario: &Scenario,
        seed: u64,
        recorder: &Recorder,
        clock: RunClock,
    ) -> Vec<ClientNode> {
        let handle = Handle::current();
        let mut process = 0u32;
        let mut nodes = Vec::new();
        for (workload, spec) in self.workloads.iter_mut().zip(&scenario.workloads) {
            let partitions = scenario
                .topics
                .iter()
                .find(|t| t.name == spec.topic)
                .map(|t| t.partitions)
                .expect("validated topic");
            for _ in 0..spec.clients {
                let node = handle
                    .create_node()
                    .name(format!("client-{process}"))
                    .ip(client_ip(process))
                    .build();
                let slow_poll = std::sync::Arc::<SlowPoll>::default();
                let restart = workload.start(Client {
                    node: &node,
                    process,
                    partitions,
                    bootstrap: bootstrap(scenario),
                    recorder,
                    clock,
                    seed,
                    slow_poll: &slow_poll,
                });
                let history = recorder.clone();
                let crashed = Box::new(move || history.note(process, EventKind::ProcessCrashed));
                nodes.push(ClientNode::new(node.id(), restart, crashed, slow_poll));
                process += 1;
            }
        }
        nodes
    }

    /// Stops every workload whose clients stop `at` this point of the run.
    pub fn stop(&self, at: StopAt) {
        for workload in self.workloads.iter().filter(|w| w.stop_at() == at) {
            workload.stop();
        }
    }

    /// Every workload's own counters, added to the report's effects.
    pub fn add_effects(&self, history: &History, effects: &mut BTreeMap<String, u64>) {
        for workload in &self.workloads {
            workload.add_effects(history, effects);
        }
    }
}
