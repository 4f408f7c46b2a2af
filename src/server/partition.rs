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
use crate::replica_state::{AcksAll, IsrRule, LeaderState, PartitionConfig};
use crate::storage::{batch, AppendInfo, Log, LogConfig, StorageError};

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
}

impl ReplicaConfig {
    /// The static leader: the first replica.
    pub fn leader(&self) -> i32 {
        self.replicas[0]
    }
}

/// What this replica is for its partition.
enum Role {
    Leader(LeaderState),
    Follower { high_watermark: i64 },
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
    Tick,
}

/// A handle to a partition actor; cheap to clone.
#[derive(Clone)]
pub struct PartitionHandle {
    commands: mpsc::Sender<Command>,
    offsets: Subscriber<Offsets>,
    /// The leader this replica follows, or `None` if it leads.
    follows: Option<i32>,
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
        let role = initial_role(env, tp, &mut log, &replica)?;
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
        };
        tokio::spawn(actor.run(receiver));
        Ok(PartitionHandle {
            commands,
            offsets: offsets_rx,
            follows: (replica.leader() != replica.broker_id).then(|| replica.leader()),
            replicated: replica.replicas.len() > 1,
            min_insync_replicas: replica.min_insync_replicas,
        })
    }

    /// The leader this replica follows, or `None` if it is the leader.
    pub fn follows(&self) -> Option<i32> {
        self.follows
    }

    /// Whether this replica leads its partition.
    pub fn is_leader(&self) -> bool {
        self.follows.is_none()
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
    pub async fn replica_read(&self, replica: i32, offset: i64, max_bytes: usize) -> ReadResult {
        let (reply, rx) = oneshot::channel();
        let failed = ReadResult {
            error_code: codes::NOT_LEADER_OR_FOLLOWER,
            records: Bytes::new(),
            offsets: self.offsets(),
        };
        let command = Command::ReplicaRead {
            replica,
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
        return Ok(Role::Follower { high_watermark });
    }
    let config = PartitionConfig {
        replicas: replica.replicas.clone(),
        min_insync_replicas: replica.min_insync_replicas.max(1),
        replica_lag_time_max_ms: replica.replica_lag_time_max_ms,
        strict_min_isr: true,
        isr_rule: IsrRule::Legacy,
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
}

impl Actor {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        while let Some(command) = commands.recv().await {
            let before = offsets_of(&self.log, &self.role, self.online);
            self.handle(command).await;
            let offsets = offsets_of(&self.log, &self.role, self.online);
            self.observe_offsets(&before, &offsets);
            assert!(
                offsets.log_start_offset <= offsets.high_watermark
                    && offsets.high_watermark <= offsets.log_end_offset,
                "{}: log start {} <= HW {} <= LEO {} violated",
                self.dir,
                offsets.log_start_offset,
                offsets.high_watermark,
                offsets.log_end_offset
            );
            self.publisher.send_if_modified(|current| {
                let changed = *current != offsets;
                *current = offsets;
                changed
            });
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
                offset,
                max_bytes,
                reply,
            } => {
                let _ = reply.send(self.replica_read(replica, offset, max_bytes));
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
        let now = self.env.clock.wall_ms();
        // Leader epoch 0: there are no elections in a static cluster map.
        let info = self
            .log
            .append(batches, 0, now)
            .map_err(|error| self.fail(error))?;
        if let Role::Leader(state) = &mut self.role {
            state.on_append(self.log.log_end_offset());
        }
        // The leader assigned offsets from `info.base_offset` on, batch after batch.
        let mut next = info.base_offset;
        for (_, header) in batch::split(batches).unwrap_or_default() {
            let last = next + header.last_offset_delta as i64;
            self.observe_append(next, last, 0, header.crc);
            next = last + 1;
        }
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
        let outcome = match &mut self.role {
            Role::Leader(state) => state.on_follower_fetch(replica, offset, now_ms),
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
        self.env.trace.record(
            "truncate",
            format!("{} {offset} {reason}", self.dir).as_bytes(),
        );
        self.env.trace.effect(effect, 1);
        self.observe_truncation(reason);
        let log_end_offset = self.log.log_end_offset();
        if let Role::Follower { high_watermark } = &mut self.role {
            *high_watermark = (*high_watermark).min(log_end_offset);
        }
        Ok(())
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

    fn record_isr_change(&self, change: &crate::replica_state::IsrChange) {
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
