//! The simulated cluster: brokers as madsim nodes, each with its SimDisk, fault hooks and
//! wall clock owned here so they outlive kills and restarts (the fault actions that the
//! nemesis applies to them are in `crate::nemesis::apply`).

pub mod clock;
mod controller;
pub mod disk;
pub mod knobs;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use kafkasim::env::Env;
use kafkasim::server::{self, BrokerConfig, BrokerEndpoint, TopicAssignment};
use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle};
use rand::Rng;
use serde::Serialize;

use crate::cluster::clock::{RunClock, SimClock};
use crate::cluster::disk::SimDisk;
use crate::nemesis::faults::NodeFaults;
use crate::scenario::{ConfigValue, Configs, Scenario, Target};
use crate::trace::RunTrace;

/// The port every broker listens on.
pub const BROKER_PORT: u16 = 9092;

/// The controller's node id in fault targets and the trace (brokers are 1..=n).
pub const CONTROLLER_ID: i32 = 100;
/// Fault targets at or above this id are workload clients: `client(i)` is this plus i.
pub const CLIENT_ID_BASE: i32 = 1_000_000;

/// Starts a workload client's task again on its (restarted) node.
pub type ClientRestart = std::sync::Arc<dyn Fn(&NodeHandle) + Send + Sync>;

/// Tells the history a client process died (it records `process-crashed`).
pub type ClientCrashed = Box<dyn Fn() + Send + Sync>;

/// One workload client process as a fault target.
pub struct ClientNode {
    pub node: madsim::task::NodeId,
    /// How to start its task again after a `restart` (workloads that cannot restart: `None`).
    pub restart: Option<ClientRestart>,
    /// Called whenever the process is killed, so the history knows it holds nothing more.
    crashed: ClientCrashed,
    pub alive: bool,
    pub paused: bool,
    pub partitioned: bool,
    /// Its application's `slow-poll` stalls (honoured by group members only; the parser
    /// admits the fault on no other client). Ended by a restart and by the heal phase.
    pub slow_poll: Arc<crate::workload::SlowPoll>,
}

impl ClientNode {
    pub fn new(
        node: madsim::task::NodeId,
        restart: Option<ClientRestart>,
        crashed: ClientCrashed,
        slow_poll: Arc<crate::workload::SlowPoll>,
    ) -> ClientNode {
        ClientNode {
            node,
            restart,
            crashed,
            alive: true,
            paused: false,
            partitioned: false,
            slow_poll,
        }
    }

    /// Kills the process (SIGKILL: nothing it had in flight completes).
    pub fn kill(&mut self) {
        Handle::current().kill(self.node);
        if std::mem::replace(&mut self.alive, false) {
            (self.crashed)();
        }
    }

    /// Kills the process and starts its task again on the fresh node; false (nothing done)
    /// for a workload whose clients cannot restart.
    pub fn restart_process(&mut self) -> bool {
        let Some(restart) = self.restart.clone() else {
            return false;
        };
        self.kill();
        let handle = Handle::current();
        handle.restart(self.node);
        self.alive = true;
        self.paused = false;
        // A new process has no batch in hand.
        self.slow_poll.end();
        restart(&handle.get_node(self.node).expect("a client node exists"));
        true
    }
}

/// The port the controller listens on.
pub const CONTROLLER_PORT: u16 = 9093;

/// The controller's address in the simulated network.
pub fn controller_addr() -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, CONTROLLER_ID as u8)),
        CONTROLLER_PORT,
    )
}

/// A broker's address in the simulated network.
pub fn broker_addr(id: i32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8)), BROKER_PORT)
}

/// Every broker's address, as clients are given them to bootstrap from.
pub fn bootstrap(scenario: &Scenario) -> Vec<SocketAddr> {
    (1..=scenario.cluster.brokers as i32)
        .map(broker_addr)
        .collect()
}

/// The client index of the admin node that sends `elect` (the drain consumer is 999).
pub(crate) const ADMIN_CLIENT_INDEX: u32 = 998;

/// A client node's address.
pub fn client_ip(index: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        10,
        0,
        1 + (index / 250) as u8,
        (index % 250 + 1) as u8,
    ))
}

/// One broker and the state the harness keeps for it.
pub struct BrokerNode {
    pub id: i32,
    pub(crate) node: NodeHandle,
    pub disk: Arc<SimDisk>,
    pub faults: Arc<NodeFaults>,
    pub clock_offset_ms: Arc<AtomicI64>,
    /// False between a kill (or power loss) and the next restart.
    pub alive: bool,
    /// Set by `shutdown` until the next restart: the process is still running its clean
    /// shutdown (it ends itself), so it must not be left paused.
    pub stopping: bool,
    pub paused: bool,
    pub partitioned: bool,
    /// Set by `silent-death`, so the next restart also brings its network back.
    pub silently_dead: bool,
    /// Set by `expire-session`: its links to the controller are cut until a `heal`.
    pub session_cut: bool,
}

impl BrokerNode {
    /// A node whose process was just started, with no fault in force.
    fn running(
        id: i32,
        node: NodeHandle,
        disk: Arc<SimDisk>,
        faults: Arc<NodeFaults>,
        clock_offset_ms: Arc<AtomicI64>,
    ) -> BrokerNode {
        BrokerNode {
            id,
            node,
            disk,
            faults,
            clock_offset_ms,
            alive: true,
            stopping: false,
            paused: false,
            partitioned: false,
            silently_dead: false,
            session_cut: false,
        }
    }
}

/// A fault that fired, for the report and the trace.
#[derive(Debug, Clone, Serialize)]
pub struct FiredFault {
    pub time_ms: u64,
    pub kind: String,
    pub target: String,
    /// What it did, in a few words (e.g. bytes discarded by a power loss).
    pub detail: String,
    /// Drawn by the `[nemesis]` rather than scripted (left out of reports when false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub random: bool,
}

/// The simulated brokers of one run.
pub struct SimCluster {
    pub brokers: BTreeMap<i32, BrokerNode>,
    /// The controller node, when `[model] controller = true`.
    pub controller: Option<BrokerNode>,
    /// The static cluster map, for resolving partition targets.
    topics: Vec<TopicAssignment>,
    pub(crate) trace: Arc<RunTrace>,
    pub(crate) clock: RunClock,
    /// `[model] power_loss_keep_probability`: how likely an unsynced write survives a power loss.
    pub(crate) keep_probability: f64,
    /// The node `elect` sends its admin requests from, made at the first one.
    pub(crate) admin: Option<NodeHandle>,
    /// The timing knobs this seed drew for every broker (BUGGIFY; see `crate::cluster::knobs`).
    pub knobs: BTreeMap<String, String>,
    /// The workload clients, by process index, ended with the rest by `end_every_process`.
    pub clients: Vec<ClientNode>,
}

fn config_string(value: &ConfigValue) -> String {
    match value {
        ConfigValue::Int(v) => v.to_string(),
        ConfigValue::Bool(v) => v.to_string(),
        ConfigValue::Str(v) => v.clone(),
    }
}

fn config_strings(configs: &Configs) -> BTreeMap<String, String> {
    configs
        .iter()
        .map(|(k, v)| (k.clone(), config_string(v)))
        .collect()
}

/// The static cluster map: replicas of each partition from the scenario's placement, or
/// round robin; the first replica leads.
pub fn assignments(scenario: &Scenario) -> Vec<TopicAssignment> {
    let brokers = scenario.cluster.brokers as i32;
    scenario
        .topics
        .iter()
        .map(|topic| TopicAssignment {
            name: topic.name.clone(),
            replicas: match &topic.placement {
                Some(placement) => placement.clone(),
                // Round robin: partition p's replicas start at broker (p mod brokers) + 1
                // and take the next brokers in order.
                None => (0..topic.partitions)
                    .map(|p| {
                        (0..topic.replication_factor as i32)
                            .map(|i| (p + i) % brokers + 1)
                            .collect()
                    })
                    .collect(),
            },
            configs: config_strings(&topic.config),
        })
        .collect()
}

impl SimCluster {
    /// Create every broker node; each starts its broker process at once.
    pub fn start(
        scenario: &Scenario,
        seed: u64,
        trace: Arc<RunTrace>,
        clock: RunClock,
    ) -> SimCluster {
        let handle = Handle::current();
        let ids: Vec<i32> = (1..=scenario.cluster.brokers as i32).collect();
        let endpoints: Vec<BrokerEndpoint> = ids
            .iter()
            .map(|&id| BrokerEndpoint {
                node_id: id,
                host: broker_addr(id).ip().to_string(),
                port: BROKER_PORT as i32,
            })
            .collect();
        let topics = assignments(scenario);
        let controller = scenario
            .model
            .controller
            .then(|| controller::start_controller(scenario, &topics, &trace, clock));
        let knobs = crate::cluster::knobs::draw(scenario, seed);
        let mut configs = config_strings(&scenario.broker);
        configs.extend(knobs.clone());
        let mut brokers = BTreeMap::new();
        for &id in &ids {
            let (env, disk, faults, clock_offset_ms) = node_env(scenario, id, &trace, clock);
            if scenario.model.buggify {
                faults.enable_buggify(crate::nemesis::faults::buggify_points(seed), seed, id);
            }
            let config = BrokerConfig {
                node_id: id,
                listen: broker_addr(id),
                brokers: endpoints.clone(),
                topics: topics.clone(),
                configs: configs.clone(),
                cluster_id: "kafkasim".into(),
                controller: scenario.model.controller.then(controller_addr),
                truncation: scenario.model.truncation,
                epoch_lookup: scenario.model.epoch_lookup,
                monotonic_list_offsets: scenario.model.monotonic_list_offsets,
                group_model: scenario.model.group_model,
                planted: scenario.model.planted_bugs,
            };
            let node = handle
                .create_node()
                .name(format!("broker-{id}"))
                .ip(broker_addr(id).ip())
                .init(move || {
                    let env = env.clone();
                    let config = config.clone();
                    async move {
                        let sigterm = async {
                            let _ = tokio::signal::ctrl_c().await;
                        };
                        match server::run(env, config, sigterm).await {
                            // The clean shutdown is done: the process exits, and with it
                            // every task it still had (heartbeats, connections).
                            Ok(()) => Handle::current().kill(format!("broker-{id}")),
                            Err(error) => tracing::error!(%error, "broker stopped"),
                        }
                    }
                })
                .build();
            let node = BrokerNode::running(id, node, disk, faults, clock_offset_ms);
            brokers.insert(id, node);
        }
        SimCluster {
            brokers,
            controller,
            topics,
            trace,
            clock,
            keep_probability: scenario.model.power_loss_keep_probability,
            admin: None,
            knobs,
            clients: Vec::new(),
        }
    }

    /// The broker ids a target names, resolved now (see `crate::nemesis::target`):
    /// partition targets from the leader and ISR the online model last observed; `minority`
    /// and `majority` draw their brokers from the run's own random stream.
    pub fn resolve(&self, target: &Target, rng: &mut impl Rng) -> Vec<i32> {
        let brokers: Vec<i32> = self.brokers.keys().copied().collect();
        let partition = |tp: &crate::history::Tp| self.partition_view(tp);
        crate::nemesis::target::resolve(target, &brokers, partition, Some(rng))
    }

    /// Whether `broker`'s replica of every partition it hosts reaches the end of the committed
    /// prefix (as the online model saw it): whatever it lost in a power loss is held again.
    pub fn holds_every_committed_prefix(&self, broker: i32) -> bool {
        self.topics.iter().all(|topic| {
            topic
                .replicas
                .iter()
                .enumerate()
                .all(|(partition, replicas)| {
                    let tp = crate::history::Tp::new(&topic.name, partition as i32);
                    !replicas.contains(&broker) || self.trace.holds_committed(&tp, broker)
                })
        })
    }

    /// A partition's replicas and the leader and ISR the online model last observed.
    fn partition_view(&self, tp: &crate::history::Tp) -> crate::nemesis::target::PartitionView {
        let replicas = self
            .topics
            .iter()
            .find(|t| t.name == tp.topic)
            .and_then(|t| t.replicas.get(tp.partition as usize))
            .cloned()
            .unwrap_or_default();
        let (leader, isr) = self.trace.leadership(tp);
        crate::nemesis::target::PartitionView {
            replicas,
            leader,
            isr,
        }
    }

    /// Each broker's madsim node id, and the controller's, which stay valid across restarts.
    pub fn node_ids(&self) -> BTreeMap<i32, madsim::task::NodeId> {
        self.brokers
            .iter()
            .chain(self.controller.as_ref().map(|c| (&CONTROLLER_ID, c)))
            .map(|(id, node)| (*id, node.node.id()))
            .collect()
    }

    /// The broker with `id`, or the controller for [`CONTROLLER_ID`].
    pub fn node(&self, id: i32) -> &BrokerNode {
        match self.controller.as_ref() {
            Some(controller) if id == CONTROLLER_ID => controller,
            _ => &self.brokers[&id],
        }
    }

    /// The broker with `id`, or the controller for [`CONTROLLER_ID`], to change.
    pub fn node_mut(&mut self, id: i32) -> &mut BrokerNode {
        match self.controller.as_mut() {
            Some(controller) if id == CONTROLLER_ID => controller,
            _ => self
                .brokers
                .get_mut(&id)
                .expect("targets are validated against the cluster"),
        }
    }

    /// Kill every node of the run (brokers, controller, admin, workload clients) once it is
    /// over. madsim keeps a finished run's tasks (and everything they hold: logs, histories)
    /// alive after its runtime is dropped; a killed node's tasks are dropped the next time
    /// they are polled, which the short sleep lets happen.
    pub async fn end_every_process(&mut self) {
        let handle = Handle::current();
        let servers = self.brokers.values().chain(self.controller.as_ref());
        let servers = servers.map(|b| b.node.id());
        let admin = self.admin.as_ref().map(|a| a.id());
        for node in servers
            .chain(admin)
            .chain(self.clients.iter().map(|c| c.node))
        {
            handle.kill(node);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    /// End every fault: network and disk faults off, paused brokers resumed, dead ones
    /// restarted (with whatever their disk kept). Clock offsets stay: a skewed clock is not
    /// a fault that heals.
    pub fn heal_all(&mut self) -> Vec<i32> {
        let handle = Handle::current();
        let mut restarted = Vec::new();
        for broker in self.brokers.values_mut().chain(self.controller.as_mut()) {
            heal_broker(broker);
            broker.silently_dead = false;
            if broker.paused && broker.alive {
                handle.resume(broker.node.id());
                broker.paused = false;
            }
            if !broker.alive {
                // A dead broker (killed, powered off or silently dead) comes back by restart.
                broker.paused = false;
                handle.kill(broker.node.id());
                handle.restart(broker.node.id());
                broker.alive = true;
                broker.stopping = false;
                restarted.push(broker.id);
            }
        }
        // Clients come back too: a frozen or cut-off one resumes, a killed one that can
        // restart (a group member) starts again; one that cannot stays dead.
        for client in &mut self.clients {
            if client.partitioned {
                NetSim::current().unclog_node(client.node);
                client.partitioned = false;
            }
            if client.paused && client.alive {
                handle.resume(client.node);
                client.paused = false;
            }
            client.slow_poll.end();
            if !client.alive {
                client.restart_process();
            }
        }
        self.trace
            .record(0, "heal", format!("{restarted:?}").as_bytes());
        restarted
    }
}

/// What the harness keeps for one node across its restarts (its disk, fault hooks and clock
/// offset), and the environment its process gets.
fn node_env(
    scenario: &Scenario,
    id: i32,
    trace: &Arc<RunTrace>,
    clock: RunClock,
) -> (Env, Arc<SimDisk>, Arc<NodeFaults>, Arc<AtomicI64>) {
    let node_trace = trace.for_node(id);
    let disk = Arc::new(
        SimDisk::new(move || clock.now_ms())
            .with_trace(node_trace.clone())
            .with_dirty_expire_ms(scenario.model.dirty_expire_ms),
    );
    if id != CONTROLLER_ID {
        trace.register_disk(id, &disk);
    }
    let faults = Arc::new(NodeFaults::default());
    let clock_offset_ms = Arc::new(AtomicI64::new(0));
    let env = Env {
        node_id: id,
        disk: disk.clone(),
        clock: Arc::new(SimClock::new(clock, clock_offset_ms.clone())),
        net: faults.clone(),
        trace: node_trace,
    };
    (env, disk, faults, clock_offset_ms)
}

/// Ends a node's network and disk faults (a partition, link and disk delays, held and
/// dropped responses, a full disk).
pub(crate) fn heal_broker(broker: &mut BrokerNode) {
    if broker.partitioned {
        NetSim::current().unclog_node(broker.node.id());
        broker.partitioned = false;
    }
    broker.faults.heal();
    broker.disk.set_enospc(false);
}
