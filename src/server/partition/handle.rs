//! The commands a partition actor runs and the handle that sends them: one async method per
//! command, each a request on the actor's bounded channel and, for most, a reply on a oneshot.
//! A handle whose actor has ended (a clean shutdown closed it) answers
//! NOT_LEADER_OR_FOLLOWER.

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::{Offsets, ReadLimit, ReadResult, RoleInfo};
use crate::protocol::ErrorCode;
use crate::replication::{AcksAll, TruncationStep, UNDEFINED_EPOCH};
use crate::storage::AppendInfo;
use crate::sync::Subscriber;

/// Bound on queued commands per partition: producers beyond it wait (backpressure).
pub(super) const COMMANDS_QUEUED_MAX: usize = 1024;

/// What a handle asks its actor to do; a command's `reply` carries the answer back. The
/// leader's and the follower's commands are their own enums, run by their own side.
pub(super) enum Command {
    /// A command only a leader carries out (a follower answers NOT_LEADER_OR_FOLLOWER).
    Leader(LeaderCommand),
    /// A command only a follower carries out.
    Follower(FollowerCommand),
    /// A consumer's read, below the high watermark (leader only).
    Read {
        offset: i64,
        limit: ReadLimit,
        reply: oneshot::Sender<ReadResult>,
    },
    OffsetForTimestamp {
        timestamp: i64,
        reply: oneshot::Sender<Result<(i64, i64), ErrorCode>>,
    },
    /// New topic configs (AlterConfigs) for the log and the leader's minimum ISR.
    Reconfigure {
        log_config: crate::storage::LogConfig,
        min_insync_replicas: usize,
        reply: oneshot::Sender<()>,
    },
    /// The first batch holding the largest timestamp (ListOffsets' MAX_TIMESTAMP).
    MaxTimestamp {
        reply: oneshot::Sender<Result<Option<(i64, i64)>, ErrorCode>>,
    },
    Flush {
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    /// A clean shutdown: flush, then the actor ends (later commands fail).
    Close {
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    /// Time-based housekeeping: retention, time rolls and flushes, ISR shrinking.
    Tick,
    /// The latest epoch in this replica's cache.
    LatestEpoch { reply: oneshot::Sender<i32> },
}

/// The leader's commands (see `super::leader`).
pub(super) enum LeaderCommand {
    Append {
        batches: Bytes,
        acks: i16,
        reply: oneshot::Sender<Result<AppendInfo, ErrorCode>>,
    },
    CheckAcks {
        last_offset: i64,
        reply: oneshot::Sender<Result<AcksAll, ErrorCode>>,
    },
    ReplicaRead {
        replica: i32,
        current_leader_epoch: i32,
        offset: i64,
        /// The follower's log start offset, as its fetch reported it (-1: not reported).
        log_start_offset: i64,
        limit: ReadLimit,
        reply: oneshot::Sender<ReadResult>,
    },
    /// DeleteRecords' low watermark (see `LeaderState::low_watermark`).
    LowWatermark {
        reply: oneshot::Sender<Result<Option<i64>, ErrorCode>>,
    },
    /// The controller made this replica the leader.
    BecomeLeader {
        leader_epoch: i32,
        isr: Vec<i32>,
        partition_epoch: i32,
        clean: bool,
    },
    /// The controller published this ISR (a committed AlterPartition, or its own change).
    IsrCommitted { isr: Vec<i32>, partition_epoch: i32 },
    /// The controller refused (or never answered) the pending ISR change.
    IsrRejected,
    /// OffsetForLeaderEpoch on this replica's cache (KIP-279 lookup), checked against the
    /// requester's view of the current leader epoch.
    EpochEndOffset {
        current_leader_epoch: i32,
        epoch: i32,
        reply: oneshot::Sender<Result<(i32, i64), ErrorCode>>,
    },
    /// As leader: the offset where its own leader epoch began.
    LeaderEpochStart { reply: oneshot::Sender<Option<i64>> },
    /// DeleteRecords: move the log start offset to `offset` (-1: the high watermark);
    /// answers the new log start offset (the low watermark).
    DeleteRecords {
        offset: i64,
        reply: oneshot::Sender<Result<i64, ErrorCode>>,
    },
}

/// The follower's commands (see `super::follower`).
pub(super) enum FollowerCommand {
    /// The controller made this replica a follower of `leader` (-1: the partition is offline).
    BecomeFollower { leader: i32, leader_epoch: i32 },
    AppendAsFollower {
        batches: Bytes,
        leader_high_watermark: i64,
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    TruncateTo {
        offset: i64,
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    /// The follower's log ends below its leader's log start: restart it there.
    RestartAtLeaderLogStart {
        offset: i64,
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    /// A follower acts on its leader's OffsetForLeaderEpoch answer.
    TruncateByEpoch {
        leader_answer: (i32, i64),
        reply: oneshot::Sender<Result<TruncationStep, ErrorCode>>,
    },
    /// The leader's log start offset, as its fetch response reported it.
    FollowLogStart {
        leader_log_start_offset: i64,
        reply: oneshot::Sender<()>,
    },
}

impl From<LeaderCommand> for Command {
    fn from(command: LeaderCommand) -> Command {
        Command::Leader(command)
    }
}

impl From<FollowerCommand> for Command {
    fn from(command: FollowerCommand) -> Command {
        Command::Follower(command)
    }
}

/// A handle to a partition actor; cheap to clone.
#[derive(Clone)]
pub struct PartitionHandle {
    /// The actor's command channel.
    pub(super) commands: mpsc::Sender<Command>,
    /// The offsets the actor published last.
    pub(super) offsets: Subscriber<Offsets>,
    /// Who leads, as this replica knows it.
    pub(super) role: Subscriber<RoleInfo>,
    /// This broker.
    pub(super) broker_id: i32,
    /// Whether the partition has more than one replica.
    pub(super) replicated: bool,
    /// `min.insync.replicas`, for reports of acks=all acknowledgements; shared by every
    /// clone, so a dynamic change (AlterConfigs) reaches them all.
    pub(super) min_insync_replicas: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl PartitionHandle {
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
            .send(LeaderCommand::BecomeLeader {
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
            .send(FollowerCommand::BecomeFollower {
                leader,
                leader_epoch,
            })
            .await;
    }

    /// The controller published `isr` at `partition_epoch`.
    pub async fn isr_committed(&self, isr: Vec<i32>, partition_epoch: i32) {
        let _ = self
            .send(LeaderCommand::IsrCommitted {
                isr,
                partition_epoch,
            })
            .await;
    }

    /// The pending ISR change was refused or lost.
    pub async fn isr_rejected(&self) {
        let _ = self.send(LeaderCommand::IsrRejected).await;
    }

    /// OffsetForLeaderEpoch: the largest epoch ≤ `epoch` this replica knows and where it ends.
    pub async fn epoch_end_offset(
        &self,
        current_leader_epoch: i32,
        epoch: i32,
    ) -> Result<(i32, i64), ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(LeaderCommand::EpochEndOffset {
            current_leader_epoch,
            epoch,
            reply,
        })
        .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// As leader, the offset where its leader epoch began (`None` as a follower).
    pub async fn leader_epoch_start(&self) -> Option<i64> {
        let (reply, rx) = oneshot::channel();
        self.send(LeaderCommand::LeaderEpochStart { reply })
            .await
            .ok()?;
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
    ) -> Result<TruncationStep, ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(FollowerCommand::TruncateByEpoch {
            leader_answer,
            reply,
        })
        .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// `min.insync.replicas` of this partition.
    pub fn min_insync_replicas(&self) -> usize {
        self.min_insync_replicas
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Run with new topic configs from now on (AlterConfigs): the log's settings and
    /// `min.insync.replicas`. Returns once the actor has them.
    pub async fn reconfigure(
        &self,
        log_config: crate::storage::LogConfig,
        min_insync_replicas: usize,
    ) -> Result<(), ErrorCode> {
        self.min_insync_replicas
            .store(min_insync_replicas, std::sync::atomic::Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        self.send(Command::Reconfigure {
            log_config,
            min_insync_replicas,
            reply,
        })
        .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)
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
    pub async fn append(&self, batches: Bytes, acks: i16) -> Result<AppendInfo, ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(LeaderCommand::Append {
            batches,
            acks,
            reply,
        })
        .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// The delayed produce (acks=all, and the group coordinator's writes): wait until the
    /// high watermark passes `last_offset`.
    pub async fn wait_for_replicas(
        &self,
        last_offset: i64,
        timeout: std::time::Duration,
    ) -> ErrorCode {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut offsets = self.subscribe();
        loop {
            offsets.borrow_and_update();
            match self.check_acks(last_offset).await {
                Ok(AcksAll::Done) => return ErrorCode::NONE,
                Ok(AcksAll::NotEnoughReplicasAfterAppend) => {
                    return ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                }
                Ok(AcksAll::Pending) => {}
                Err(code) => return code,
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            // Woken by any change of the partition's offsets (the HW moving), or by the timeout.
            match tokio::time::timeout(left, offsets.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return ErrorCode::NOT_LEADER_OR_FOLLOWER,
                Err(_) => return ErrorCode::REQUEST_TIMED_OUT,
            }
        }
    }

    /// Where an acks=all produce whose batch ends at `last_offset` stands.
    pub async fn check_acks(&self, last_offset: i64) -> Result<AcksAll, ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(LeaderCommand::CheckAcks { last_offset, reply })
            .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// A follower's fetch: records its position (which may move the high watermark) and reads
    /// whole batches from `offset` up to the log end.
    pub async fn replica_read(
        &self,
        replica: i32,
        current_leader_epoch: i32,
        (offset, log_start_offset): (i64, i64),
        limit: ReadLimit,
    ) -> ReadResult {
        let (reply, rx) = oneshot::channel();
        let failed = ReadResult {
            error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
            records: Bytes::new(),
            offsets: self.offsets(),
        };
        let command = LeaderCommand::ReplicaRead {
            replica,
            current_leader_epoch,
            offset,
            log_start_offset,
            limit,
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
    ) -> Result<(), ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(FollowerCommand::AppendAsFollower {
            batches,
            leader_high_watermark,
            reply,
        })
        .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// The leader's log start offset, from a fetch response: a follower moves its own up to
    /// it (never past its high watermark), so records DeleteRecords removed on the leader go
    /// from the followers too.
    pub async fn follow_log_start(&self, leader_log_start_offset: i64) {
        let (reply, rx) = oneshot::channel();
        let command = FollowerCommand::FollowLogStart {
            leader_log_start_offset,
            reply,
        };
        if self.send(command).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// The least log start offset over the leader and its ISR followers (`None` while one has
    /// not reported it yet): DeleteRecords answers once it reaches the requested offset.
    pub async fn low_watermark(&self) -> Result<Option<i64>, ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(LeaderCommand::LowWatermark { reply }).await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// DeleteRecords on the leader: the log starts at `offset` (-1: the high watermark) from
    /// now on. Returns the new log start offset; OFFSET_OUT_OF_RANGE past the high watermark
    /// or below -1.
    pub async fn delete_records(&self, offset: i64) -> Result<i64, ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(LeaderCommand::DeleteRecords { offset, reply })
            .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Cut this follower's log at `offset`.
    pub async fn truncate_to(&self, offset: i64) -> Result<(), ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(FollowerCommand::TruncateTo { offset, reply })
            .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// A follower whose log ends below its leader's log start `offset` empties it and
    /// restarts it there (Kafka's `truncateFullyAndStartAt`); nothing happens if its log now
    /// reaches that far.
    pub async fn restart_at_leader_log_start(&self, offset: i64) -> Result<(), ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(FollowerCommand::RestartAtLeaderLogStart { offset, reply })
            .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Read whole batches from `offset` below the high watermark.
    pub async fn read(&self, offset: i64, limit: ReadLimit) -> ReadResult {
        let (reply, rx) = oneshot::channel();
        let failed = ReadResult {
            error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
            records: Bytes::new(),
            offsets: self.offsets(),
        };
        if self
            .send(Command::Read {
                offset,
                limit,
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
    pub async fn offset_for_timestamp(&self, timestamp: i64) -> Result<(i64, i64), ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::OffsetForTimestamp { timestamp, reply })
            .await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// The first batch holding the log's largest timestamp, as (base offset, max timestamp);
    /// `None` when no batch carries a timestamp.
    pub async fn max_timestamp_batch(&self) -> Result<Option<(i64, i64)>, ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::MaxTimestamp { reply }).await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// fsync everything now.
    pub async fn flush(&self) -> Result<(), ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Flush { reply }).await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Flush the log and stop the actor, as a clean shutdown closes each log: whatever was
    /// queued before is done first, and every later command fails with
    /// NOT_LEADER_OR_FOLLOWER, so nothing reaches the log after this returns.
    pub async fn close(&self) -> Result<(), ErrorCode> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Close { reply }).await?;
        rx.await.map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Run time-based housekeeping (flush.ms, segment.ms, retention) now.
    pub async fn tick(&self) {
        let _ = self.commands.send(Command::Tick).await;
    }

    async fn send(&self, command: impl Into<Command>) -> Result<(), ErrorCode> {
        self.commands
            .send(command.into())
            .await
            .map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER)
    }
}
