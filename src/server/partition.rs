//! One partition's owner: an actor task holding the partition's `Log` and its replication
//! role.
//!
//! All reads and writes of a partition go through its command channel, so the log has exactly
//! one owner and no locks. After every change the actor publishes the partition's offsets on
//! a watch channel, which is what delayed fetches and acks=all produces (the purgatory) wait
//! on.
//!
//! A replica is the partition's leader or a follower. The leader's decisions (high
//! watermark, ISR, acks=all) are [`LeaderState`]'s; a follower appends what it fetched from
//! the leader and learns the high watermark from it. Leadership is static in this build (the
//! first replica leads, epoch 0) and ISR changes apply at once (the pre-KIP-497 rule), until
//! the controller exists.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::sync::{Subscriber, Watch};

use crate::env::{Env, Observation};
use crate::protocol::codes;
use crate::replica_state::{AcksAll, IsrChange, IsrRule, LeaderState, PartitionConfig};
use crate::replication::{
    leader_epoch_truncation, LeaderEpochCache, TruncationRule, TruncationStep, UNDEFINED_EPOCH,
};
use crate::storage::{batch, AppendInfo, Log, LogConfig, StorageError};

/// Kafka's FENCED_LEADER_EPOCH: the request's leader epoch is older than the replica's.
pub const FENCED_LEADER_EPOCH: i16 = 74;
/// Kafka's UNKNOWN_LEADER_EPOCH: the request's leader epoch is newer than the replica's.
pub const UNKNOWN_LEADER_EPOCH: i16 = 76;

/// An ISR change a leader proposes to the controller (KIP-497's AlterPartition).
#[derive(Debug, Clone)]
pub struct IsrProposal {
    pub topic: String,
    pub partition: i32,
    pub change: IsrChange,
}

/// Who leads a partition as this replica knows it, published on every role change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleInfo {
    /// The leader's broker id, or -1 while none is known.
    pub leader: i32,
    /// The leader epoch of that leadership (-1 while none is known).
    pub leader_epoch: i32,
}

/// How a replica of this partition is set up.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// This broker.
    pub broker_id: i32,
    /// The assigned replicas, the leader first.
    pub replicas: Vec<i32>,
    /// `min.insync.replicas`.
    pub min_insync_replicas: usize,
    /// `replica.lag.time.max.ms`.
    pub replica_lag_time_max_ms: u64,
    /// The high watermark checkpointed before the last restart, if any.
    pub checkpointed_high_watermark: Option<i64>,
    /// Where ISR changes go when a controller decides leadership (`None`: the static cluster
    /// map of a build without a controller, where the first replica leads at epoch 0 and ISR
    /// changes apply at once).
    pub isr_proposals: Option<mpsc::UnboundedSender<IsrProposal>>,
    /// `[model] truncation`: how a follower made by a leader change cuts its log.
    pub truncation: TruncationRule,
    /// `[model] offset_for_leader_epoch`: how this replica answers OffsetForLeaderEpoch as
    /// leader for an epoch it has no entry for.
    pub epoch_lookup: crate::replication::EpochLookup,
    /// With a controller: the brokers this broker's metadata shows fenced, which a leader
    /// does not propose for the ISR (KIP-841).
    pub ineligible_replicas: Option<Subscriber<std::collections::BTreeSet<i32>>>,
    /// TEST-ONLY planted bugs (see [`crate::planted`]).
    pub planted: crate::planted::PlantedBugs,
}

impl ReplicaConfig {
    /// The static leader: the first replica.
    pub fn leader(&self) -> i32 {
        self.replicas[0]
    }

    /// Whether a controller decides leadership.
    pub fn controlled(&self) -> bool {
        self.isr_proposals.is_some()
    }
}

/// What this replica is for its partition.
enum Role {
    Leader(LeaderState),
    Follower {
        /// The leader followed (-1: none known yet).
        leader: i32,
        leader_epoch: i32,
        high_watermark: i64,
    },
}

impl Role {
    fn info(&self) -> RoleInfo {
        match self {
            Role::Leader(state) => RoleInfo {
                leader: state.leader_id(),
                leader_epoch: state.leader_epoch(),
            },
            Role::Follower {
                leader,
                leader_epoch,
                ..
            } => RoleInfo {
                leader: *leader,
                leader_epoch: *leader_epoch,
            },
        }
    }
}

/// Bound on queued commands per partition: producers beyond it wait (backpressure).
const COMMANDS_QUEUED_MAX: usize = 1024;

/// The offsets of a partition, as published after each change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offsets {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
    /// False once the log directory went offline (fsync failure, disk full).
    pub online: bool,
}

/// What a fetch read from one partition.
#[derive(Debug, Clone)]
pub struct ReadResult {
    pub error_code: i16,
    pub records: Bytes,
    pub offsets: Offsets,
}

enum Command {
    Append {
        batches: Bytes,
        acks: i16,
        reply: oneshot::Sender<Result<AppendInfo, i16>>,
    },
    CheckAcks {
        last_offset: i64,
        reply: oneshot::Sender<Result<AcksAll, i16>>,
    },
    ReplicaRead {
        replica: i32,
        current_leader_epoch: i32,
        offset: i64,
        max_bytes: usize,
        reply: oneshot::Sender<ReadResult>,
    },
    AppendAsFollower {
        batches: Bytes,
        leader_high_watermark: i64,
        reply: oneshot::Sender<Result<(), i16>>,
    },
    TruncateTo {
        offset: i64,
        reply: oneshot::Sender<Result<(), i16>>,
    },
    Read {
        offset: i64,
        max_bytes: usize,
        reply: oneshot::Sender<ReadResult>,
    },
    OffsetForTimestamp {
        timestamp: i64,
        reply: oneshot::Sender<Result<(i64, i64), i16>>,
    },
    Flush {
        reply: oneshot::Sender<Result<(), i16>>,
    },
    /// A clean shutdown: flush, then the actor ends (later commands fail).
    Close {
        reply: oneshot::Sender<Result<(), i16>>,
    },
    Tick,
    /// The controller made this replica the leader.
    BecomeLeader {
        leader_epoch: i32,
        isr: Vec<i32>,
        partition_epoch: i32,
        clean: bool,
    },
    /// The controller made this replica a follower of `leader` (-1: the partition is offline).
    BecomeFollower {
        leader: i32,
        leader_epoch: i32,
    },
    /// The controller published this ISR (a committed AlterPartition, or its own change).
    IsrCommitted {
        isr: Vec<i32>,
        partition_epoch: i32,
    },
    /// The controller refused (or never answered) the pending ISR change.
    IsrRejected,
    /// OffsetForLeaderEpoch on this replica's cache (KIP-279 lookup), checked against the
    /// requester's view of the current leader epoch.
    EpochEndOffset {
        current_leader_epoch: i32,
        epoch: i32,
        reply: oneshot::Sender<Result<(i32, i64), i16>>,
    },
    /// The latest epoch in this replica's cache.
    LatestEpoch {
        reply: oneshot::Sender<i32>,
    },
    /// As leader: the offset where its own leader epoch began.
    LeaderEpochStart {
        reply: oneshot::Sender<Option<i64>>,
    },
    /// A follower acts on its leader's OffsetForLeaderEpoch answer.
    TruncateByEpoch {
        leader_answer: (i32, i64),
        reply: oneshot::Sender<Result<TruncationStep, i16>>,
    },
}

/// A handle to a partition actor; cheap to clone.
#[derive(Clone)]
pub struct PartitionHandle {
    commands: mpsc::Sender<Command>,
    offsets: Subscriber<Offsets>,
    /// Who leads, as this replica knows it.
    role: Subscriber<RoleInfo>,
    /// This broker.
    broker_id: i32,
    /// Whether the partition has more than one replica.
    replicated: bool,
    /// `min.insync.replicas`, for reports of acks=all acknowledgements.
    min_insync_replicas: usize,
}

/// The error code a storage failure maps to.
pub fn storage_error_code(error: &StorageError) -> i16 {
    match error {
        StorageError::Corrupt(_) => codes::CORRUPT_MESSAGE,
        StorageError::InvalidRecord(_) => codes::INVALID_RECORD,
        StorageError::TooLarge => codes::MESSAGE_TOO_LARGE,
        StorageError::OffsetOutOfRange { .. } => codes::OFFSET_OUT_OF_RANGE,
        StorageError::Io(_) | StorageError::Offline => codes::KAFKA_STORAGE_ERROR,
    }
}

impl PartitionHandle {
    /// Open (recovering) the log in `dir` and start the actor on the current node, as the
    /// leader or a follower per `replica`.
    pub fn open(
        env: &Env,
        topic: &str,
        partition: i32,
        config: LogConfig,
        replica: ReplicaConfig,
    ) -> Result<PartitionHandle, StorageError> {
        let dir = &format!("{topic}-{partition}");
        let (mut log, report) = Log::open(env.disk.clone(), dir, config, env.clock.wall_ms())?;
        tracing::info!(partition = dir, ?report, "log recovered");
        env.trace
            .record("recovery", format!("{dir} {report:?}").as_bytes());
        env.trace
            .effect("recovery.truncated_bytes", report.truncated_bytes);
        env.trace
            .effect("recovery.corrupt_batches", report.corrupt_batches);
        env.trace
            .effect("recovery.truncations", (report.truncated_bytes > 0) as u64);
        let tp = (topic, partition);
        env.trace.observe(&Observation::Truncated {
            tp,
            offset: log.log_end_offset(),
            reason: "recovery",
        });
        env.trace.observe(&Observation::Recovered { tp });
        let role = initial_role(env, tp, &mut log, &replica)?;
        let (epochs, epochs_checkpointed) = epoch_cache_at_open(env, dir, &log);
        if let Role::Leader(state) = &role {
            let isr = state.isr().to_vec();
            env.trace.observe(&Observation::LeaderElected {
                tp,
                leader_epoch: 0,
                isr: &isr,
                clean: true,
            });
        }
        let offsets = offsets_of(&log, &role, true);
        env.trace.observe(&Observation::HighWatermark {
            tp,
            high_watermark: offsets.high_watermark,
        });
        let (commands, receiver) = mpsc::channel(COMMANDS_QUEUED_MAX);
        let publisher = Watch::new(offsets);
        let offsets_rx = publisher.subscribe();
        let roles = Watch::new(role.info());
        let role_rx = roles.subscribe();
        let actor = Actor {
            env: env.clone(),
            dir: dir.to_string(),
            topic: topic.to_string(),
            partition,
            log,
            role,
            started: tokio::time::Instant::now(),
            online: true,
            publisher,
            roles,
            epochs,
            epochs_checkpointed,
            ineligible: (replica.ineligible_replicas.as_ref())
                .map(|fenced| fenced.borrow())
                .unwrap_or_default(),
            replica: replica.clone(),
        };
        tokio::spawn(actor.run(receiver));
        Ok(PartitionHandle {
            commands,
            offsets: offsets_rx,
            role: role_rx,
            broker_id: replica.broker_id,
            replicated: replica.replicas.len() > 1,
            min_insync_replicas: replica.min_insync_replicas,
        })
    }

    /// Whether this replica leads its partition.
    pub fn is_leader(&self) -> bool {
        self.role.borrow().leader == self.broker_id
    }

    /// Who leads, as this replica knows it.
    pub fn role(&self) -> RoleInfo {
        self.role.borrow()
    }

    /// A receiver that wakes when the role changes (for the follower's fetcher).
    pub fn subscribe_role(&self) -> Subscriber<RoleInfo> {
        self.role.clone()
    }

    /// The controller made this replica the leader at `leader_epoch`.
    pub async fn become_leader(
        &self,
        leader_epoch: i32,
        isr: Vec<i32>,
        partition_epoch: i32,
        clean: bool,
    ) {
        let _ = self
            .send(Command::BecomeLeader {
                leader_epoch,
                isr,
                partition_epoch,
                clean,
            })
            .await;
    }

    /// The controller made this replica a follower of `leader` at `leader_epoch`.
    pub async fn become_follower(&self, leader: i32, leader_epoch: i32) {
        let _ = self
            .send(Command::BecomeFollower {
                leader,
                leader_epoch,
            })
            .await;
    }

    /// The controller published `isr` at `partition_epoch`.
    pub async fn isr_committed(&self, isr: Vec<i32>, partition_epoch: i32) {
        let _ = self
            .send(Command::IsrCommitted {
                isr,
                partition_epoch,
            })
            .await;
    }

    /// The pending ISR change was refused or lost.
    pub async fn isr_rejected(&self) {
        let _ = self.send(Command::IsrRejected).await;
    }

    /// OffsetForLeaderEpoch: the largest epoch ≤ `epoch` this replica knows and where it ends.
    pub async fn epoch_end_offset(
        &self,
        current_leader_epoch: i32,
        epoch: i32,
    ) -> Result<(i32, i64), i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::EpochEndOffset {
            current_leader_epoch,
            epoch,
            reply,
        })
        .await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// As leader, the offset where its leader epoch began (`None` as a follower).
    pub async fn leader_epoch_start(&self) -> Option<i64> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::LeaderEpochStart { reply }).await.ok()?;
        rx.await.ok().flatten()
    }

    /// The latest leader epoch in this replica's log.
    pub async fn latest_epoch(&self) -> i32 {
        let (reply, rx) = oneshot::channel();
        if self.send(Command::LatestEpoch { reply }).await.is_err() {
            return UNDEFINED_EPOCH;
        }
        rx.await.unwrap_or(UNDEFINED_EPOCH)
    }

    /// Act on the leader's OffsetForLeaderEpoch answer (KIP-101/279): truncate, and say
    /// whether to ask again for an older epoch.
    pub async fn truncate_by_epoch(
        &self,
        leader_answer: (i32, i64),
    ) -> Result<TruncationStep, i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::TruncateByEpoch {
            leader_answer,
            reply,
        })
        .await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// `min.insync.replicas` of this partition.
    pub fn min_insync_replicas(&self) -> usize {
        self.min_insync_replicas
    }

    /// Whether the partition has followers (or a leader elsewhere).
    pub fn replicated(&self) -> bool {
        self.replicated
    }

    /// The latest published offsets.
    pub fn offsets(&self) -> Offsets {
        self.offsets.borrow()
    }

    /// A receiver that wakes when the offsets change (for delayed fetches).
    pub fn subscribe(&self) -> Subscriber<Offsets> {
        self.offsets.clone()
    }

    /// Append batches as the leader; returns offsets or a Kafka error code. With acks=all the
    /// ISR is checked first (NOT_ENOUGH_REPLICAS before the append).
    pub async fn append(&self, batches: Bytes, acks: i16) -> Result<AppendInfo, i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Append {
            batches,
            acks,
            reply,
        })
        .await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Where an acks=all produce whose batch ends at `last_offset` stands.
    pub async fn check_acks(&self, last_offset: i64) -> Result<AcksAll, i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::CheckAcks { last_offset, reply }).await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// A follower's fetch: records its position (which may move the high watermark) and reads
    /// whole batches from `offset` up to the log end.
    pub async fn replica_read(
        &self,
        replica: i32,
        current_leader_epoch: i32,
        offset: i64,
        max_bytes: usize,
    ) -> ReadResult {
        let (reply, rx) = oneshot::channel();
        let failed = ReadResult {
            error_code: codes::NOT_LEADER_OR_FOLLOWER,
            records: Bytes::new(),
            offsets: self.offsets(),
        };
        let command = Command::ReplicaRead {
            replica,
            current_leader_epoch,
            offset,
            max_bytes,
            reply,
        };
        if self.send(command).await.is_err() {
            return failed;
        }
        rx.await.unwrap_or(failed)
    }

    /// Append what this follower fetched from the leader, and learn the leader's HW.
    pub async fn append_as_follower(
        &self,
        batches: Bytes,
        leader_high_watermark: i64,
    ) -> Result<(), i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::AppendAsFollower {
            batches,
            leader_high_watermark,
            reply,
        })
        .await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Cut this follower's log at `offset`.
    pub async fn truncate_to(&self, offset: i64) -> Result<(), i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::TruncateTo { offset, reply }).await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Read whole batches from `offset` below the high watermark.
    pub async fn read(&self, offset: i64, max_bytes: usize) -> ReadResult {
        let (reply, rx) = oneshot::channel();
        let failed = ReadResult {
            error_code: codes::NOT_LEADER_OR_FOLLOWER,
            records: Bytes::new(),
            offsets: self.offsets(),
        };
        if self
            .send(Command::Read {
                offset,
                max_bytes,
                reply,
            })
            .await
            .is_err()
        {
            return failed;
        }
        rx.await.unwrap_or(failed)
    }

    /// The first offset whose batch has a timestamp ≥ `timestamp`, and that timestamp.
    pub async fn offset_for_timestamp(&self, timestamp: i64) -> Result<(i64, i64), i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::OffsetForTimestamp { timestamp, reply })
            .await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// fsync everything now.
    pub async fn flush(&self) -> Result<(), i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Flush { reply }).await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Flush the log and stop the actor, as a clean shutdown closes each log: whatever was
    /// queued before is done first, and every later command fails with
    /// NOT_LEADER_OR_FOLLOWER, so nothing reaches the log after this returns.
    pub async fn close(&self) -> Result<(), i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Close { reply }).await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Run time-based housekeeping (flush.ms, segment.ms, retention) now.
    pub async fn tick(&self) {
        let _ = self.commands.send(Command::Tick).await;
    }

    async fn send(&self, command: Command) -> Result<(), i16> {
        self.commands
            .send(command)
            .await
            .map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)
    }
}

/// The role a replica starts in. A follower truncates to its checkpointed high watermark
/// (Kafka 0.10's rule: what is above the HW may not be committed); a leader starts its HW at
/// the checkpoint, or at its log end when it is the only replica.
fn initial_role(
    env: &Env,
    tp: (&str, i32),
    log: &mut Log,
    replica: &ReplicaConfig,
) -> Result<Role, StorageError> {
    let dir = format!("{}-{}", tp.0, tp.1);
    let log_end_offset = log.log_end_offset();
    let checkpointed = replica
        .checkpointed_high_watermark
        .unwrap_or(0)
        .max(log.log_start_offset());
    if replica.controlled() {
        // Nobody leads until the controller says so. The checkpointed HW is kept in memory:
        // under the high-watermark rule, becoming a follower truncates to it.
        return Ok(Role::Follower {
            leader: -1,
            leader_epoch: -1,
            high_watermark: checkpointed.min(log_end_offset),
        });
    }
    if replica.leader() != replica.broker_id {
        let truncate_to = checkpointed.min(log_end_offset);
        if truncate_to < log_end_offset {
            log.truncate_to(truncate_to)?;
            env.trace.record(
                "truncate",
                format!("{dir} {truncate_to} restart-hw").as_bytes(),
            );
            env.trace.effect("replication.restart_truncations", 1);
            env.trace.observe(&Observation::Truncated {
                tp,
                offset: log.log_end_offset(),
                reason: "restart-hw",
            });
        }
        let high_watermark = truncate_to;
        return Ok(Role::Follower {
            leader: replica.leader(),
            leader_epoch: 0,
            high_watermark,
        });
    }
    let config = PartitionConfig {
        replicas: replica.replicas.clone(),
        min_insync_replicas: replica.min_insync_replicas.max(1),
        replica_lag_time_max_ms: replica.replica_lag_time_max_ms,
        strict_min_isr: true,
        isr_rule: IsrRule::Legacy,
        planted_isr_admit_one_early: replica.planted.isr_admit_one_early,
        planted_skip_min_isr_check: replica.planted.skip_min_isr_check,
    };
    let high_watermark = if replica.replicas.len() == 1 {
        log_end_offset
    } else {
        checkpointed.min(log_end_offset)
    };
    let state = LeaderState::new(
        config,
        replica.broker_id,
        0,
        replica.replicas.clone(),
        log_end_offset,
        high_watermark,
        0,
    );
    Ok(Role::Leader(state))
}

fn offsets_of(log: &Log, role: &Role, online: bool) -> Offsets {
    let high_watermark = match role {
        Role::Leader(state) => state.high_watermark(),
        Role::Follower { high_watermark, .. } => *high_watermark,
    };
    Offsets {
        log_start_offset: log.log_start_offset(),
        high_watermark: high_watermark.max(log.log_start_offset()),
        log_end_offset: log.log_end_offset(),
        online,
    }
}

struct Actor {
    env: Env,
    dir: String,
    topic: String,
    partition: i32,
    log: Log,
    role: Role,
    /// Monotonic time zero for the leader's lag bookkeeping.
    started: tokio::time::Instant,
    /// Set false when a storage error takes the log directory offline (Kafka's
    /// KafkaStorageException): every later request fails until the broker restarts.
    online: bool,
    publisher: Watch<Offsets>,
    /// Who leads, published on every role change.
    roles: Watch<RoleInfo>,
    /// The leader epoch cache (epoch → start offset), loaded at open from
    /// `leader-epoch-checkpoint` (see [`epoch_cache_at_open`]), kept in step with every append
    /// and truncation, and written back after every command that changed it.
    epochs: LeaderEpochCache,
    /// The cache as `leader-epoch-checkpoint` last held it.
    epochs_checkpointed: LeaderEpochCache,
    replica: ReplicaConfig,
    /// The last fenced set read from `replica.ineligible_replicas` (refreshed only when it
    /// changes, so a follower fetch copies nothing).
    ineligible: std::collections::BTreeSet<i32>,
}

/// The epoch cache of a log: where each leader epoch's first batch starts.
/// Where a partition keeps its leader epoch cache, as Kafka does.
const EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

/// The epoch cache at open, as Kafka loads it: the partition's `leader-epoch-checkpoint`, cut
/// to the recovered log's end, then the epochs of the batches from the start of its latest
/// entry on (they may have reached the disk while the checkpoint naming their epoch did not).
/// An unreadable checkpoint is rebuilt from the whole log. Returns the cache and the one the
/// file holds.
fn epoch_cache_at_open(env: &Env, dir: &str, log: &Log) -> (LeaderEpochCache, LeaderEpochCache) {
    let path = format!("{dir}/{EPOCH_CHECKPOINT}");
    let on_disk = match LeaderEpochCache::read(&*env.disk, &path) {
        Ok(cache) => cache,
        Err(error) => {
            tracing::warn!(%error, partition = dir, "unreadable leader-epoch checkpoint; rebuilding it from the log");
            LeaderEpochCache::new()
        }
    };
    let mut cache = on_disk.clone();
    cache.truncate_from_end(log.log_end_offset());
    let from = cache.latest_entry().map(|entry| entry.start_offset);
    let from = from
        .unwrap_or(log.log_start_offset())
        .max(log.log_start_offset());
    assign_epochs_of_batches(&mut cache, log, from);
    (cache, on_disk)
}

/// Assign the epoch of every batch of `log` from `from` on to `cache`.
fn assign_epochs_of_batches(cache: &mut LeaderEpochCache, log: &Log, from: i64) {
    let mut offset = from;
    while offset < log.log_end_offset() {
        let Ok(bytes) = log.read(offset, 1 << 20, i64::MAX) else {
            break;
        };
        let Ok(batches) = batch::split(&bytes) else {
            break;
        };
        let Some((_, last)) = batches.last() else {
            break;
        };
        for (_, header) in &batches {
            if header.partition_leader_epoch >= 0 {
                cache.assign(header.partition_leader_epoch, header.base_offset);
            }
        }
        offset = last.last_offset() + 1;
    }
}

impl Actor {
    /// Write `leader-epoch-checkpoint` if the cache changed since it was last written
    /// (atomically and durably), as Kafka flushes it after every change.
    fn checkpoint_epochs(&mut self) {
        if self.epochs == self.epochs_checkpointed || !self.online {
            return;
        }
        let path = format!("{}/{EPOCH_CHECKPOINT}", self.dir);
        match self.epochs.write(&*self.env.disk, &path) {
            Ok(()) => self.epochs_checkpointed = self.epochs.clone(),
            Err(error) => {
                tracing::warn!(%error, partition = %self.dir, "leader-epoch checkpoint failed")
            }
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        while let Some(command) = commands.recv().await {
            if let Command::Close { reply } = command {
                let result = self.checked(|log| log.flush());
                self.checkpoint_epochs();
                let _ = reply.send(result);
                return;
            }
            let before = offsets_of(&self.log, &self.role, self.online);
            self.handle(command).await;
            let offsets = offsets_of(&self.log, &self.role, self.online);
            self.observe_offsets(&before, &offsets);
            self.checkpoint_epochs();
            assert!(
                offsets.log_start_offset <= offsets.high_watermark
                    && offsets.high_watermark <= offsets.log_end_offset,
                "{}: log start {} <= HW {} <= LEO {} violated",
                self.dir,
                offsets.log_start_offset,
                offsets.high_watermark,
                offsets.log_end_offset
            );
            self.publisher.send_if_changed(offsets);
            self.roles.send_if_changed(self.role.info());
        }
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Append {
                batches,
                acks,
                reply,
            } => {
                self.disk_latency().await;
                let result = self.append(&batches, acks);
                let _ = reply.send(result);
            }
            Command::CheckAcks { last_offset, reply } => {
                let result = match &self.role {
                    Role::Leader(state) => Ok(state.check_acks_all(last_offset)),
                    Role::Follower { .. } => Err(codes::NOT_LEADER_OR_FOLLOWER),
                };
                let _ = reply.send(result);
            }
            Command::ReplicaRead {
                replica,
                current_leader_epoch,
                offset,
                max_bytes,
                reply,
            } => {
                let result = match self.check_leader_epoch(current_leader_epoch) {
                    Ok(()) => self.replica_read(replica, offset, max_bytes),
                    Err(code) => self.read_error(code),
                };
                let _ = reply.send(result);
            }
            Command::BecomeLeader {
                leader_epoch,
                isr,
                partition_epoch,
                clean,
            } => self.become_leader(leader_epoch, isr, partition_epoch, clean),
            Command::BecomeFollower {
                leader,
                leader_epoch,
            } => self.become_follower(leader, leader_epoch),
            Command::IsrCommitted {
                isr,
                partition_epoch,
            } => self.isr_committed(isr, partition_epoch),
            Command::IsrRejected => {
                if let Role::Leader(state) = &mut self.role {
                    state.on_isr_change_rejected();
                }
            }
            Command::EpochEndOffset {
                current_leader_epoch,
                epoch,
                reply,
            } => {
                let result = self.check_leader_epoch(current_leader_epoch).map(|()| {
                    let lookup = self.replica.epoch_lookup;
                    let log_end_offset = self.log.log_end_offset();
                    self.epochs.lookup_end_offset(lookup, epoch, log_end_offset)
                });
                let _ = reply.send(result);
            }
            Command::LatestEpoch { reply } => {
                let _ = reply.send(self.epochs.latest_epoch().unwrap_or(UNDEFINED_EPOCH));
            }
            Command::LeaderEpochStart { reply } => {
                let start = match &self.role {
                    Role::Leader(state) => self
                        .epochs
                        .entries()
                        .iter()
                        .find(|entry| entry.epoch == state.leader_epoch())
                        .map(|entry| entry.start_offset),
                    Role::Follower { .. } => None,
                };
                let _ = reply.send(start);
            }
            Command::TruncateByEpoch {
                leader_answer,
                reply,
            } => {
                let _ = reply.send(self.truncate_by_epoch(leader_answer));
            }
            Command::AppendAsFollower {
                batches,
                leader_high_watermark,
                reply,
            } => {
                if !batches.is_empty() {
                    self.disk_latency().await;
                }
                let _ = reply.send(self.append_as_follower(&batches, leader_high_watermark));
            }
            Command::TruncateTo { offset, reply } => {
                let _ = reply.send(self.truncate_follower(offset));
            }
            Command::Read {
                offset,
                max_bytes,
                reply,
            } => {
                let _ = reply.send(self.read(offset, max_bytes));
            }
            Command::OffsetForTimestamp { timestamp, reply } => {
                let result = if self.online {
                    Ok(self.log.offset_for_timestamp(timestamp).unwrap_or((-1, -1)))
                } else {
                    Err(codes::KAFKA_STORAGE_ERROR)
                };
                let _ = reply.send(result);
            }
            Command::Flush { reply } => {
                let result = self.checked(|log| log.flush());
                let _ = reply.send(result);
            }
            Command::Close { .. } => unreachable!("handled by run"),
            Command::Tick => {
                let now = self.env.clock.wall_ms();
                let trace = self.env.trace.clone();
                let _ = self.checked(|log| {
                    let report = log.tick(now)?;
                    trace.effect(
                        "retention.deleted_segments",
                        report.deleted_segments.len() as u64,
                    );
                    trace.effect("retention.deleted_bytes", report.deleted_bytes);
                    trace.effect("log.time_rolls", report.rolled as u64);
                    trace.effect("log.time_flushes", report.flushed as u64);
                    Ok(())
                });
                self.maybe_shrink_isr();
            }
        }
    }

    fn append(&mut self, batches: &[u8], acks: i16) -> Result<AppendInfo, i16> {
        if !self.online {
            return Err(codes::KAFKA_STORAGE_ERROR);
        }
        let Role::Leader(state) = &self.role else {
            return Err(codes::NOT_LEADER_OR_FOLLOWER);
        };
        state.check_produce_allowed(acks).map_err(|e| e.code())?;
        let min_insync_replicas = state.config().effective_min_isr();
        let now = self.env.clock.wall_ms();
        let leader_epoch = state.leader_epoch();
        if crate::env::buggify(&self.env, crate::env::Buggify::ForcedSegmentRoll) {
            self.log.roll_before_next_append();
        }
        let info = self
            .log
            .append(batches, leader_epoch, now)
            .map_err(|error| self.fail(error))?;
        self.epochs.assign(leader_epoch, info.base_offset);
        if let Role::Leader(state) = &mut self.role {
            state.on_append(self.log.log_end_offset());
        }
        // The leader assigned offsets from `info.base_offset` on, batch after batch.
        let mut next = info.base_offset;
        for (_, header) in batch::split(batches).unwrap_or_default() {
            let last = next + header.last_offset_delta as i64;
            self.observe_append(next, last, leader_epoch, header.crc);
            next = last + 1;
        }
        self.env.trace.observe(&Observation::ClientAppended {
            tp: self.tp(),
            acks,
            base_offset: info.base_offset,
            last_offset: next - 1,
            min_insync_replicas,
        });
        Ok(info)
    }

    fn tp(&self) -> (&str, i32) {
        (&self.topic, self.partition)
    }

    fn observe_append(&self, base_offset: i64, last_offset: i64, leader_epoch: i32, crc: u32) {
        self.env.trace.observe(&Observation::Appended {
            tp: self.tp(),
            base_offset,
            last_offset,
            leader_epoch,
            crc,
        });
    }

    fn observe_truncation(&self, reason: &str) {
        self.env.trace.observe(&Observation::Truncated {
            tp: self.tp(),
            offset: self.log.log_end_offset(),
            reason,
        });
    }

    /// Report high watermark and log start changes made by the last command.
    fn observe_offsets(&self, before: &Offsets, after: &Offsets) {
        if after.log_start_offset != before.log_start_offset {
            self.env.trace.observe(&Observation::LogStart {
                tp: self.tp(),
                log_start_offset: after.log_start_offset,
            });
        }
        if after.high_watermark != before.high_watermark {
            self.env.trace.observe(&Observation::HighWatermark {
                tp: self.tp(),
                high_watermark: after.high_watermark,
            });
        }
    }

    /// Wait out the injected latency of the disk write about to happen (a slow disk).
    async fn disk_latency(&self) {
        let delay = self.env.net.disk_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A follower fetched from `offset`: that is its log end offset, which may move the HW
    /// and bring it back into the ISR. It gets whole batches up to the log end.
    fn replica_read(&mut self, replica: i32, offset: i64, max_bytes: usize) -> ReadResult {
        let now_ms = self.now_ms();
        if let Some(fenced) = &mut self.replica.ineligible_replicas {
            if fenced.has_changed() {
                self.ineligible = fenced.borrow_and_update();
            }
        }
        let eligible = !self.ineligible.contains(&replica);
        let outcome = match &mut self.role {
            Role::Leader(state) => state.on_follower_fetch(replica, offset, now_ms, eligible),
            Role::Follower { .. } => return self.read_error(codes::NOT_LEADER_OR_FOLLOWER),
        };
        if let Err(error) = outcome {
            return self.read_error(error.code());
        }
        if let Ok(outcome) = &outcome {
            if let Some(change) = &outcome.isr_change {
                self.record_isr_change(change);
            }
        }
        let offsets = offsets_of(&self.log, &self.role, self.online);
        if !self.online {
            return self.read_error(codes::KAFKA_STORAGE_ERROR);
        }
        if offset == offsets.log_end_offset {
            return ReadResult {
                error_code: codes::NONE,
                records: Bytes::new(),
                offsets,
            };
        }
        match self.log.read(offset, max_bytes, i64::MAX) {
            Ok(bytes) => ReadResult {
                error_code: codes::NONE,
                records: Bytes::from(bytes),
                offsets,
            },
            Err(StorageError::OffsetOutOfRange { .. }) => {
                self.read_error(codes::OFFSET_OUT_OF_RANGE)
            }
            Err(other) => {
                let code = self.fail(other);
                self.read_error(code)
            }
        }
    }

    fn read_error(&self, error_code: i16) -> ReadResult {
        ReadResult {
            error_code,
            records: Bytes::new(),
            offsets: offsets_of(&self.log, &self.role, self.online),
        }
    }

    fn append_as_follower(
        &mut self,
        batches: &[u8],
        leader_high_watermark: i64,
    ) -> Result<(), i16> {
        if !self.online {
            return Err(codes::KAFKA_STORAGE_ERROR);
        }
        if !matches!(self.role, Role::Follower { .. }) {
            return Err(codes::NOT_LEADER_OR_FOLLOWER);
        }
        if !batches.is_empty() {
            let first = batch::parse_header(batches).map_err(|error| self.fail(error))?;
            let log_end_offset = self.log.log_end_offset();
            if first.base_offset < log_end_offset {
                // The leader's batches are laid out differently from here on: this log
                // diverged (the leader lost and rewrote its tail). Cut back to before the
                // leader's batch and fetch again from there.
                return self.cut_follower_log(
                    first.base_offset,
                    "diverged",
                    "replication.divergent_truncations",
                );
            }
            let now = self.env.clock.wall_ms();
            self.log
                .append_as_follower(batches, now)
                .map_err(|error| self.fail(error))?;
            for (_, header) in batch::split(batches).unwrap_or_default() {
                if header.partition_leader_epoch >= 0 {
                    self.epochs
                        .assign(header.partition_leader_epoch, header.base_offset);
                }
                self.observe_append(
                    header.base_offset,
                    header.last_offset(),
                    header.partition_leader_epoch,
                    header.crc,
                );
            }
        }
        let log_end_offset = self.log.log_end_offset();
        if let Role::Follower { high_watermark, .. } = &mut self.role {
            // A follower's HW is the leader's, capped by what it holds itself.
            *high_watermark = leader_high_watermark.min(log_end_offset).max(0);
        }
        Ok(())
    }

    /// Cut a follower's log (it is ahead of its leader's).
    fn truncate_follower(&mut self, offset: i64) -> Result<(), i16> {
        if !matches!(self.role, Role::Follower { .. }) {
            return Err(codes::NOT_LEADER_OR_FOLLOWER);
        }
        self.cut_follower_log(offset, "leader-log-end", "replication.follower_truncations")
    }

    /// Truncate a follower's log at `offset` for `reason`, report it (trace, `effect`
    /// counter, online observation) and keep its HW within the shorter log.
    fn cut_follower_log(&mut self, offset: i64, reason: &str, effect: &str) -> Result<(), i16> {
        self.checked(|log| log.truncate_to(offset))?;
        self.epochs.truncate_from_end(self.log.log_end_offset());
        self.env.trace.record(
            "truncate",
            format!("{} {offset} {reason}", self.dir).as_bytes(),
        );
        self.env.trace.effect(effect, 1);
        self.observe_truncation(reason);
        let log_end_offset = self.log.log_end_offset();
        if let Role::Follower { high_watermark, .. } = &mut self.role {
            *high_watermark = (*high_watermark).min(log_end_offset);
        }
        Ok(())
    }

    /// A request naming `current_leader_epoch` (-1: unchecked) is for this leadership.
    fn check_leader_epoch(&self, current_leader_epoch: i32) -> Result<(), i16> {
        let mine = self.role.info().leader_epoch;
        if current_leader_epoch < 0 || current_leader_epoch == mine {
            Ok(())
        } else if current_leader_epoch < mine {
            Err(FENCED_LEADER_EPOCH)
        } else {
            Err(UNKNOWN_LEADER_EPOCH)
        }
    }

    fn partition_config(&self) -> PartitionConfig {
        PartitionConfig {
            replicas: self.replica.replicas.clone(),
            min_insync_replicas: self.replica.min_insync_replicas.max(1),
            replica_lag_time_max_ms: self.replica.replica_lag_time_max_ms,
            strict_min_isr: true,
            isr_rule: IsrRule::Kip497,
            planted_isr_admit_one_early: self.replica.planted.isr_admit_one_early,
            planted_skip_min_isr_check: self.replica.planted.skip_min_isr_check,
        }
    }

    /// The controller elected this replica: it leads from its log end, starting the HW where
    /// it stood (a follower's HW, or the checkpoint after a restart).
    fn become_leader(
        &mut self,
        leader_epoch: i32,
        isr: Vec<i32>,
        partition_epoch: i32,
        clean: bool,
    ) {
        if let Role::Leader(state) = &self.role {
            if state.leader_epoch() == leader_epoch {
                return;
            }
        }
        let log_end_offset = self.log.log_end_offset();
        let high_watermark = offsets_of(&self.log, &self.role, self.online)
            .high_watermark
            .min(log_end_offset);
        let state = LeaderState::new(
            self.partition_config(),
            self.replica.broker_id,
            leader_epoch,
            isr.clone(),
            log_end_offset,
            high_watermark,
            self.now_ms(),
        )
        .with_partition_epoch(partition_epoch);
        self.role = Role::Leader(state);
        self.epochs.assign(leader_epoch, log_end_offset);
        tracing::info!(partition = %self.dir, leader_epoch, ?isr, "became leader");
        self.env.trace.record(
            "leader",
            format!("{} {leader_epoch} {isr:?}", self.dir).as_bytes(),
        );
        self.env.trace.effect("replication.elections_won", 1);
        self.env.trace.observe(&Observation::LeaderElected {
            tp: self.tp(),
            leader_epoch,
            isr: &isr,
            clean,
        });
    }

    /// The controller made this replica a follower. Under the high-watermark rule it cuts its
    /// log to its high watermark now (Kafka 0.10's makeFollowers); under leader epochs the
    /// fetcher asks the leader where its epoch ends first.
    fn become_follower(&mut self, leader: i32, leader_epoch: i32) {
        let info = self.role.info();
        if info.leader == leader && info.leader_epoch == leader_epoch {
            return;
        }
        let high_watermark = offsets_of(&self.log, &self.role, self.online).high_watermark;
        self.role = Role::Follower {
            leader,
            leader_epoch,
            high_watermark,
        };
        tracing::info!(partition = %self.dir, leader, leader_epoch, "became follower");
        self.env.trace.record(
            "follower",
            format!("{} {leader} {leader_epoch}", self.dir).as_bytes(),
        );
        let below_log_end = high_watermark < self.log.log_end_offset();
        if self.replica.truncation == TruncationRule::HighWatermark && below_log_end && leader >= 0
        {
            let _ = self.cut_follower_log(
                high_watermark,
                "become-follower-hw",
                "replication.hw_truncations",
            );
        }
    }

    fn isr_committed(&mut self, isr: Vec<i32>, partition_epoch: i32) {
        let Role::Leader(state) = &mut self.role else {
            return;
        };
        let before = state.isr().to_vec();
        state.on_isr_change_committed(isr.clone(), partition_epoch);
        if state.isr() != before.as_slice() {
            let leader_epoch = state.leader_epoch();
            self.env.trace.observe(&Observation::IsrChanged {
                tp: self.tp(),
                leader_epoch,
                isr: &isr,
            });
        }
    }

    /// KIP-101/279: cut the log where the leader says this replica's epoch history diverges.
    fn truncate_by_epoch(&mut self, leader_answer: (i32, i64)) -> Result<TruncationStep, i16> {
        if !matches!(self.role, Role::Follower { .. }) {
            return Err(codes::NOT_LEADER_OR_FOLLOWER);
        }
        let log_end_offset = self.log.log_end_offset();
        let step = leader_epoch_truncation(&self.epochs, log_end_offset, leader_answer);
        let truncate_to = match step {
            TruncationStep::Truncate(offset) => offset,
            TruncationStep::AskAgain { truncate_to, .. } => truncate_to,
            TruncationStep::TruncateToHighWatermark => {
                offsets_of(&self.log, &self.role, self.online).high_watermark
            }
        };
        if truncate_to < log_end_offset {
            self.cut_follower_log(
                truncate_to.max(self.log.log_start_offset()),
                "leader-epoch",
                "replication.epoch_truncations",
            )?;
        }
        Ok(step)
    }

    /// Followers that stopped catching up leave the ISR (applied at once: the pre-KIP-497
    /// rule, with no controller to ask).
    fn maybe_shrink_isr(&mut self) {
        let now_ms = self.now_ms();
        let change = match &mut self.role {
            Role::Leader(state) => state.maybe_shrink_isr(now_ms),
            Role::Follower { .. } => None,
        };
        if let Some(change) = change {
            self.record_isr_change(&change);
        }
    }

    fn record_isr_change(&self, change: &IsrChange) {
        tracing::info!(partition = %self.dir, ?change, "ISR change");
        self.env.trace.record(
            "isr",
            format!("{} {:?}", self.dir, change.new_isr).as_bytes(),
        );
        let name = match change.kind {
            crate::replica_state::IsrChangeKind::Expand => "replication.isr_expansions",
            crate::replica_state::IsrChangeKind::Shrink => "replication.isr_shrinks",
        };
        self.env.trace.effect(name, 1);
        if let Some(proposals) = &self.replica.isr_proposals {
            // KIP-497: the change is pending until the controller publishes it.
            self.env.trace.observe(&Observation::IsrProposed {
                tp: self.tp(),
                leader_epoch: change.leader_epoch,
                isr: &change.new_isr,
            });
            let _ = proposals.send(IsrProposal {
                topic: self.topic.clone(),
                partition: self.partition,
                change: change.clone(),
            });
            return;
        }
        if let Role::Leader(state) = &self.role {
            self.env.trace.observe(&Observation::IsrChanged {
                tp: self.tp(),
                leader_epoch: state.leader_epoch(),
                isr: &change.new_isr,
            });
        }
    }

    fn read(&mut self, offset: i64, max_bytes: usize) -> ReadResult {
        if matches!(self.role, Role::Follower { .. }) {
            return self.read_error(codes::NOT_LEADER_OR_FOLLOWER);
        }
        let offsets = offsets_of(&self.log, &self.role, self.online);
        if !self.online {
            return ReadResult {
                error_code: codes::KAFKA_STORAGE_ERROR,
                records: Bytes::new(),
                offsets,
            };
        }
        if offset == offsets.high_watermark {
            return ReadResult {
                error_code: codes::NONE,
                records: Bytes::new(),
                offsets,
            };
        }
        match self.log.read(offset, max_bytes, offsets.high_watermark) {
            Ok(bytes) => ReadResult {
                error_code: codes::NONE,
                records: Bytes::from(below(bytes, offsets.high_watermark)),
                offsets,
            },
            Err(error) => {
                let code = match error {
                    StorageError::OffsetOutOfRange { .. } => codes::OFFSET_OUT_OF_RANGE,
                    other => self.fail(other),
                };
                ReadResult {
                    error_code: code,
                    records: Bytes::new(),
                    offsets,
                }
            }
        }
    }

    fn checked(&mut self, f: impl FnOnce(&mut Log) -> Result<(), StorageError>) -> Result<(), i16> {
        if !self.online {
            return Err(codes::KAFKA_STORAGE_ERROR);
        }
        f(&mut self.log).map_err(|error| self.fail(error))
    }

    /// Map a storage error to its code; I/O errors take the log directory offline.
    fn fail(&mut self, error: StorageError) -> i16 {
        let code = storage_error_code(&error);
        if let StorageError::Io(e) = &error {
            if e.kind() == std::io::ErrorKind::StorageFull {
                self.env.trace.effect("storage.enospc", 1);
            }
        }
        // A full disk fails the write without taking the directory offline (nothing was
        // written); any other I/O failure does, like Kafka's KafkaStorageException.
        let disk_full =
            matches!(&error, StorageError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull);
        if !disk_full && matches!(error, StorageError::Io(_) | StorageError::Offline) {
            tracing::warn!(partition = %self.dir, %error, "log directory offline");
            self.env.trace.record("offline", self.dir.as_bytes());
            self.env.trace.effect("storage.offline", 1);
            self.online = false;
        }
        code
    }
}

/// Only the whole batches of `bytes` that end below `high_watermark`. The HW is normally a
/// batch boundary, but a leader restarting from a checkpointed HW can have it inside a batch,
/// and a client must never see a record at or above it.
fn below(mut bytes: Vec<u8>, high_watermark: i64) -> Vec<u8> {
    let Ok(batches) = batch::split(&bytes) else {
        return bytes;
    };
    if let Some((position, _)) = batches
        .iter()
        .find(|(_, header)| header.last_offset() >= high_watermark)
    {
        bytes.truncate(*position);
    }
    bytes
}

/// How often the broker runs time-based log housekeeping.
pub const TICK_INTERVAL: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::env::{Clock, Disk, MemDisk, NoNetFaults, NoTrace};
    use crate::storage::testing::{encode_batch, TestRecord};

    struct ZeroClock;
    impl Clock for ZeroClock {
        fn wall_ms(&self) -> i64 {
            0
        }
    }

    fn env(disk: &Arc<dyn Disk>) -> Env {
        Env {
            node_id: 1,
            disk: disk.clone(),
            clock: Arc::new(ZeroClock),
            net: Arc::new(NoNetFaults),
            trace: Arc::new(NoTrace),
        }
    }

    fn controlled_replica() -> ReplicaConfig {
        let (proposals, _) = mpsc::unbounded_channel();
        ReplicaConfig {
            broker_id: 1,
            replicas: vec![1],
            min_insync_replicas: 1,
            replica_lag_time_max_ms: 30_000,
            checkpointed_high_watermark: None,
            isr_proposals: Some(proposals),
            truncation: TruncationRule::LeaderEpoch,
            epoch_lookup: crate::replication::EpochLookup::Kip279,
            ineligible_replicas: None,
            planted: Default::default(),
        }
    }

    fn checkpoint(disk: &Arc<dyn Disk>) -> String {
        let bytes = disk.read_all("t-0/leader-epoch-checkpoint").unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn leader_epoch_checkpoint_is_written_on_change_and_read_at_open() {
        let runtime = madsim::runtime::Runtime::new();
        runtime.block_on(async {
            let disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
            let env = env(&disk);
            let open = || {
                let config = LogConfig::default();
                PartitionHandle::open(&env, "t", 0, config, controlled_replica()).unwrap()
            };
            let records = [TestRecord::value(b"a"), TestRecord::value(b"b")];
            let two = || Bytes::from(encode_batch(0, 0, 0, &records));
            let handle = open();
            handle.become_leader(3, vec![1], 0, true).await;
            handle.append(two(), 1).await.unwrap();
            handle.become_leader(5, vec![1], 1, true).await;
            handle.append(two(), 1).await.unwrap();
            // Commands run in order: once this answers, every checkpoint before it is out.
            assert_eq!(handle.latest_epoch().await, 5);
            let text = checkpoint(&disk);
            assert!(text.contains("3 0") && text.contains("5 2"), "{text}");
            // Where epoch 3 ends, asked of a reopened leader at epoch 6: the answer comes from
            // the checkpoint, not from the batches — a hand-written checkpoint that names
            // epoch 2 for offsets 0..2 shows it (the batches say 3).
            let path = "t-0/leader-epoch-checkpoint";
            let ask = |handle: PartitionHandle| async move {
                handle.become_leader(6, vec![1], 2, true).await;
                handle.epoch_end_offset(6, 3).await.unwrap()
            };
            assert_eq!(ask(open()).await, (3, 2));
            LeaderEpochCache::from_entries([(2, 0), (5, 2)])
                .write(&*disk, path)
                .unwrap();
            assert_eq!(ask(open()).await, (2, 2));
            // An unreadable checkpoint is rebuilt from the log's batches.
            disk.write_file(path, b"garbage").unwrap();
            assert_eq!(ask(open()).await, (3, 2));
        });
    }
}
