//! The validated scenario model: what `parse` produces and the runner consumes.
//!
//! Every field here has already been checked: Kafka config keys against the table of configs
//! kafkasim honours, durations parsed, targets resolved to their kind. A scenario that reaches
//! this type can be run.

use std::collections::BTreeMap;

/// A config value as written in the scenario (Kafka configs keep their own names).
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Int(i64),
    Bool(bool),
    Str(String),
}

/// Configs keyed by Kafka's names, e.g. `flush.messages`, `acks`.
pub type Configs = BTreeMap<String, ConfigValue>;

/// One scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Path as given on the command line.
    pub path: String,
    /// Hex SHA-256 of the file's bytes, for the report.
    pub source_hash: String,
    pub name: String,
    /// One sentence: what the scenario shows.
    pub why: String,
    /// Default number of seeds in a sweep.
    pub seeds: u64,
    /// Simulated length of the safety phase.
    pub duration_ms: u64,
    pub cluster: Cluster,
    /// Broker and default topic configs (`[broker]`).
    pub broker: Configs,
    pub model: Model,
    pub topics: Vec<Topic>,
    pub workloads: Vec<Workload>,
    pub faults: Vec<FaultStep>,
    /// Random faults within a declared failure model (`[nemesis]`), if any.
    pub nemesis: Option<Nemesis>,
    pub expect: Expect,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    /// Number of brokers, ids 1..=brokers.
    pub brokers: u32,
    /// Whether a controller node runs (`[model] controller`), for the `controller` target.
    pub controller: bool,
    /// Workload client processes of the run, for the `client(i)` target.
    pub clients: u32,
    /// The workload kind of each client process, in process order: some client faults
    /// (`slow-poll`) apply only to some kinds.
    pub client_kinds: Vec<WorkloadKind>,
    /// `offsets.topic.num.partitions` of `[broker]`, for the `coordinator(group)` target.
    pub offsets_topic_partitions: i32,
}

/// kafkasim's own switches (`[model]`).
#[derive(Debug, Clone)]
pub struct Model {
    /// Test-only: inject wall-clock nondeterminism so `--check-determinism` must exit 3.
    pub nondeterminism_for_test: bool,
    /// Probability that SimDisk keeps each dirty sector at a power loss (default 0.5).
    pub power_loss_keep_probability: f64,
    /// Dirty data older than this becomes durable on its own (default 30 s).
    pub dirty_expire_ms: u64,
    /// A controller node decides leadership (elections, ISR through AlterPartition, leader
    /// epochs); off: the static cluster map, where the first replica always leads at epoch 0.
    pub controller: bool,
    /// How a follower made by a leader change cuts its log (KIP-101's switch).
    pub truncation: kafkasim::replication::TruncationRule,
    /// KIP-841/903-style fencing of restarted brokers; defaults to on under leader epochs and
    /// off under the high-watermark rule (Kafka 0.10 had neither).
    pub fence_restarted_brokers: Option<bool>,
    /// Eligible leader replicas (KIP-966): replicas that left the ISR while it was below
    /// `min.insync.replicas` may lead, and a broker back from an unclean shutdown leaves every
    /// ISR and ELR, so a last replica standing that lost its tail cannot lead on its own word.
    pub eligible_leader_replicas: bool,
    /// How a leader answers OffsetForLeaderEpoch for an epoch it has no entry for: KIP-279's
    /// largest epoch at or below it (the default), or Kafka 0.11's start of the next epoch.
    pub epoch_lookup: kafkasim::replication::EpochLookup,
    /// FoundationDB-style BUGGIFY: each point (tiny follower fetches, follower fetches that
    /// do not wait, forced segment rolls, late acks=all answers, spurious retriable produce
    /// errors) is on for a run with probability 0.25 and then fires with probability 0.05.
    pub buggify: bool,
    /// KIP-207: a new leader answers clients' ListOffsets with OFFSET_NOT_AVAILABLE until its
    /// high watermark reaches the start of its epoch, so the answers never go backwards.
    pub monotonic_list_offsets: bool,
    /// `offsets_load` and `offsets_expiry`: the group coordinator's historical rules.
    pub group_model: kafkasim::server::GroupModel,
    /// TEST-ONLY planted bugs (`planted_bugs = [...]`, see `kafkasim::planted`).
    pub planted_bugs: kafkasim::planted::PlantedBugs,
}

impl Model {
    /// Whether restarted brokers stay fenced until caught up.
    pub fn fences_restarted_brokers(&self) -> bool {
        self.fence_restarted_brokers
            .unwrap_or(self.truncation == kafkasim::replication::TruncationRule::LeaderEpoch)
    }
}

impl Default for Model {
    /// The values a scenario gets when `[model]` does not set them.
    fn default() -> Self {
        Model {
            nondeterminism_for_test: false,
            power_loss_keep_probability: 0.5,
            dirty_expire_ms: 30_000,
            controller: false,
            truncation: kafkasim::replication::TruncationRule::LeaderEpoch,
            fence_restarted_brokers: None,
            eligible_leader_replicas: false,
            epoch_lookup: kafkasim::replication::EpochLookup::Kip279,
            buggify: false,
            monotonic_list_offsets: false,
            group_model: kafkasim::server::GroupModel::default(),
            planted_bugs: kafkasim::planted::PlantedBugs::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    /// Optional explicit placement: replicas (broker ids) per partition. Without it,
    /// partition p is placed round-robin starting at broker (p % brokers) + 1.
    pub placement: Option<Vec<Vec<i32>>>,
    /// Topic-level configs (override `[broker]`).
    pub config: Configs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Producer,
    Consumer,
    /// Members of one consumer group (kafkasim's group consumer, the classic protocol)
    /// subscribed to the topic.
    GroupConsumer,
    /// Asks every partition's leader for its latest offset (ListOffsets) at `rate` per
    /// second, as a lag monitor would; what it reads is checked online
    /// (`list-offsets-regression`), not recorded in the history.
    ListOffsets,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// Number of client processes of this workload.
    pub clients: u32,
    pub topic: String,
    /// Producer: sends per second per client. Consumer: ignored.
    pub rate_per_sec: f64,
    /// Producer: whether records carry a key (murmur2 partitioning) or go to explicit
    /// partitions round-robin.
    pub keyed: bool,
    /// Client configs under Kafka's names (`acks`, `linger.ms`, `retries`, …).
    pub config: Configs,
    /// Group consumer: the group's `group.id` (default "group").
    pub group: String,
    /// Group consumer: whether each member has a `group.instance.id` (KIP-345 static
    /// membership), `<group>-member-<i>` for the workload's i-th client.
    pub static_members: bool,
}

/// What a fault action is aimed at, resolved when its step fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `broker(n)`
    Broker(i32),
    /// `controller`: the controller node (with `[model] controller = true`).
    Controller,
    /// `all`
    All,
    /// `leader(t/p)`: the partition's leader when the step fires (the first replica while
    /// leadership is static).
    Leader { topic: String, partition: i32 },
    /// `follower(t/p, i)`: the i-th follower (1-based) in replica order.
    Follower {
        topic: String,
        partition: i32,
        index: usize,
    },
    /// `isr(t/p)`: every broker in the partition's latest ISR (all its replicas until an ISR
    /// was observed).
    Isr { topic: String, partition: i32 },
    /// `minority`: a random minority of the brokers, (n - 1) / 2 of them.
    Minority,
    /// `majority`: a random majority of the brokers, n / 2 + 1 of them.
    Majority,
    /// `client(i)`: the i-th workload client process of the run (0-based, counted over the
    /// `[[workload]]` tables in order; its node is `client-i`). Only process faults (kill,
    /// pause, resume, restart) and network cuts (partition, heal) apply to it.
    Client(u32),
}

impl Target {
    /// How many brokers the target names in a cluster of `brokers` (for `isr(t/p)`, which
    /// changes during a run, at most every broker).
    pub fn size(&self, brokers: u32) -> u64 {
        match self {
            Target::All | Target::Isr { .. } => u64::from(brokers),
            Target::Minority => u64::from(brokers.saturating_sub(1) / 2),
            Target::Majority => u64::from(brokers / 2 + 1),
            Target::Broker(_)
            | Target::Client(_)
            | Target::Leader { .. }
            | Target::Follower { .. }
            | Target::Controller => 1,
        }
    }
}

/// The fault kinds of SIMULATION.md that this build can fire.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    Kill,
    /// SIGTERM: Kafka's clean shutdown. With a controller, leadership moves off first
    /// (controlled shutdown); then every log is flushed and closed and the clean-shutdown
    /// marker written, and the process exits. `restart` brings it back.
    Shutdown,
    PowerLoss,
    Restart,
    /// Restart with every file gone.
    RestartEmptyDisk,
    Pause,
    Resume,
    /// Cut the target off from every other node (both ways).
    Partition {
        direction: Direction,
    },
    /// End every network fault on the target.
    Heal,
    /// Add this latency to every message to and from the target.
    SlowLink {
        delay_ms: u64,
    },
    /// Close every open connection of the target now.
    ResetConnection,
    /// The next `count` responses of the target are dropped (processed, then the connection
    /// breaks before the reply).
    DropResponse {
        count: u32,
    },
    /// Hold every response of the target for `duration_ms`.
    HoldConnection {
        duration_ms: u64,
    },
    /// Every disk write and fsync of the target takes this long.
    DiskLatency {
        delay_ms: u64,
    },
    /// The target's disk is full: writes fail with ENOSPC until healed.
    Enospc,
    /// The next fsync of the target fails (the log directory goes offline).
    FsyncError,
    /// Flip `count` random bits in the durable bytes of the target's log files.
    BitFlip {
        count: u32,
    },
    /// Shift the target's wall clock by `delta_ms` (may be negative) for good.
    Skew {
        delta_ms: i64,
    },
    /// Jump the target's wall clock by `delta_ms` at once.
    Jump {
        delta_ms: i64,
    },
    /// Force an fsync of the target's files now.
    Flush,
    /// The controller stops hearing the target broker (both links between them cut until a
    /// `heal`): its session expires after `broker.session.timeout.ms` and it is fenced while
    /// it still serves clients and followers that have not learnt of the fencing.
    ExpireSession,
    /// The admin ElectLeaders call, sent to the controller (the target) for one partition or
    /// all of them.
    Elect {
        /// Unclean (a leaderless partition may elect outside the ISR) rather than preferred.
        unclean: bool,
        /// `(topic, partition)`, or `None` for every partition.
        partition: Option<(String, i32)>,
    },
    /// The machine vanishes without a word: its process freezes and its network goes dark,
    /// so peers see no EOF or reset, only silence until their own timeouts fire. `restart`
    /// brings it back.
    SilentDeath,
    /// The admin CreatePartitions call, sent to the target broker (which forwards it to the
    /// controller when there is one): grow `topic` to `count` partitions.
    CreatePartitions {
        topic: String,
        count: i32,
    },
    /// The admin DeleteRecords call, sent to the partition's leader (the target,
    /// `leader(t/p)`): its log starts at `offset` from then on (-1: at the high watermark).
    DeleteRecords {
        topic: String,
        partition: i32,
        offset: i64,
    },
    /// A group member's application is slow: the batch it polled takes `duration_ms` to
    /// process, so it calls poll no more for that long while its heartbeat task goes on
    /// (unlike `pause`, which freezes the whole process). Past `max.poll.interval.ms` the
    /// heartbeat task leaves the group; the next poll rejoins with its partitions lost.
    SlowPoll {
        duration_ms: u64,
    },
}

impl FaultKind {
    /// The kebab-case name used in scenario files and reports.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Shutdown => "shutdown",
            FaultKind::PowerLoss => "power-loss",
            FaultKind::Restart => "restart",
            FaultKind::RestartEmptyDisk => "restart-empty-disk",
            FaultKind::Pause => "pause",
            FaultKind::Resume => "resume",
            FaultKind::Partition { .. } => "partition",
            FaultKind::Heal => "heal",
            FaultKind::SlowLink { .. } => "slow-link",
            FaultKind::ResetConnection => "reset-connection",
            FaultKind::DropResponse { .. } => "drop-response",
            FaultKind::HoldConnection { .. } => "hold-connection",
            FaultKind::DiskLatency { .. } => "disk-latency",
            FaultKind::Enospc => "enospc",
            FaultKind::FsyncError => "fsync-error",
            FaultKind::BitFlip { .. } => "bit-flip",
            FaultKind::Skew { .. } => "skew",
            FaultKind::Jump { .. } => "jump",
            FaultKind::Flush => "flush",
            FaultKind::ExpireSession => "expire-session",
            FaultKind::Elect { .. } => "elect",
            FaultKind::SilentDeath => "silent-death",
            FaultKind::CreatePartitions { .. } => "create-partitions",
            FaultKind::DeleteRecords { .. } => "delete-records",
            FaultKind::SlowPoll { .. } => "slow-poll",
        }
    }
}

/// Which way a network partition cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Nothing in or out (the default).
    Both,
    /// The target hears nothing; what it sends still arrives.
    In,
    /// Nothing the target sends arrives; it still hears others.
    Out,
}

/// One action of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub kind: FaultKind,
    pub target: Target,
    /// Delay after the step fires before this action is applied.
    pub after_ms: u64,
}

/// What makes a `[[fault]]` step fire.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `at`: this many ms after the safety phase began.
    At(u64),
    /// `when`: the first time the predicate turns from false to true (edge-triggered,
    /// one-shot), evaluated after every observed state change.
    When(Predicate),
}

/// A `[[fault]]` step: actions applied together when its trigger fires.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultStep {
    pub trigger: Trigger,
    pub actions: Vec<Action>,
}

/// A `when` predicate: comparisons that must all hold (`&&`).
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    /// The predicate as written, for the trace and the report.
    pub text: String,
    pub comparisons: Vec<Comparison>,
}

/// `left op right`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub left: Operand,
    pub op: CompareOp,
    pub right: Operand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CompareOp {
    pub fn holds<T: Ord>(self, left: T, right: T) -> bool {
        match self {
            CompareOp::Lt => left < right,
            CompareOp::Le => left <= right,
            CompareOp::Gt => left > right,
            CompareOp::Ge => left >= right,
            CompareOp::Eq => left == right,
            CompareOp::Ne => left != right,
        }
    }
}

/// One side of a comparison. Integer operands compare with any operator; broker operands
/// (`leader(t/p)`, `broker(n)`) only with `==` and `!=`, and only with each other.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Int(i64),
    /// `leo(t/p, TARGET)`: the log end offset of one replica.
    LogEndOffset {
        topic: String,
        partition: i32,
        replica: Target,
    },
    /// `hw(t/p, TARGET)`: the high watermark one replica last announced.
    HighWatermark {
        topic: String,
        partition: i32,
        replica: Target,
    },
    /// `isr_size(t/p)`: brokers in the latest ISR.
    IsrSize {
        topic: String,
        partition: i32,
    },
    /// `leader_epoch(t/p)`: the epoch of the latest election.
    LeaderEpoch {
        topic: String,
        partition: i32,
    },
    /// `leader(t/p)`: the latest elected leader, a broker.
    Leader {
        topic: String,
        partition: i32,
    },
    /// `broker(n)`, a broker.
    Broker(i32),
}

impl Operand {
    /// Whether the operand names a broker rather than a number.
    pub fn is_broker(&self) -> bool {
        matches!(self, Operand::Leader { .. } | Operand::Broker(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    Unknown,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
        }
    }
}

/// `[expect]`: what the run must show.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Anomaly kinds that must show on every seed.
    pub must: Vec<String>,
    /// Anomaly kinds that may show.
    pub allow: Vec<String>,
    /// Anomaly kinds that must show on at least this fraction of the seeds a sweep runs (for
    /// random faults); any one seed may or may not show them.
    pub must_fraction: BTreeMap<String, f64>,
    /// Minimum acknowledged (ok) sends.
    pub min_acknowledged: u64,
    /// Minimum fault actions fired, in total.
    pub min_faults: u64,
    /// Minimum firings per fault kind name (e.g. `bit-flip` → 1).
    pub min_faults_by_kind: BTreeMap<String, u64>,
    /// Minimum observed effects by name (e.g. `disk.bytes_discarded` → 1, see SIMULATION.md).
    pub min_effects: BTreeMap<String, u64>,
}

/// `[nemesis]`: random faults at a stated rate, each ended after a random delay, drawn from the
/// run's own random stream within a declared failure model.
#[derive(Debug, Clone, PartialEq)]
pub struct Nemesis {
    /// Mean time between two random fault starts (exponentially distributed gaps).
    pub interval_ms: u64,
    /// The fault kinds drawn from, with their weights (all 1 when written as a list).
    pub kinds: Vec<(FaultKind, u32)>,
    /// Each fault is ended after a delay drawn uniformly from this inclusive range.
    pub recover_after_ms: (u64, u64),
    /// Whether draws that would break the failure model are skipped.
    pub failure_model: FailureModel,
    /// `targets` includes "clients": the group-consumer workloads' members are drawn too
    /// (kill, pause, partition; restarted, resumed, healed), outside any replica's count.
    pub clients: bool,
    /// `targets` includes "controller": the controller is drawn too, for the kinds it can
    /// suffer (see `crate::nemesis::schedule::CONTROLLER_KINDS`).
    pub controller: bool,
}

/// Which failure model a `[nemesis]` keeps to (SIMULATION.md, Faults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureModel {
    /// At most RF−1 replicas of any partition unavailable, and at most min.insync.replicas−1
    /// of them having lost unsynced data, at any moment; a draw that would break this is
    /// skipped.
    Within,
    /// The scenario tests outside the model: every draw fires.
    Outside,
}

impl FailureModel {
    pub fn name(self) -> &'static str {
        match self {
            FailureModel::Within => "within",
            FailureModel::Outside => "outside",
        }
    }
}
