//! One partition's owner: an actor task holding the partition's `Log` and its replication
//! role, and the handle the rest of the broker talks to it through.
//!
//! All reads and writes of a partition go through its command channel ([`PartitionHandle`]),
//! so the log has exactly one owner and no locks. After every command the actor publishes the
//! partition's offsets on a watch channel, which delayed fetches and acks=all produces (the
//! purgatory) wait on, and who leads on another, which the follower's fetcher waits on.
//!
//! A replica is its partition's leader or a follower. The decisions belong to the pure state
//! machines of [`crate::replication`]: the leader's ([`LeaderState`]: ISR, high watermark,
//! acks=all) and the follower's ([`FollowerState`], the truncation rules). The actor carries
//! them out on the log and reports them (trace records, effects, observations).
//!
//! Who leads: with a controller, nobody leads at open; the controller's decisions make this
//! replica a leader or a follower at a leader epoch, and ISR changes follow KIP-497: the leader
//! proposes each to the controller (AlterPartition) and the change takes effect once the
//! controller commits it. Without a controller the cluster map is static: the first replica
//! leads at epoch 0 and applies ISR changes at once (the pre-KIP-497 rule).
//!
//! The files: `handle` (the commands and the handle), `open` (recovery and the starting
//! role), `actor` (the command loop and the invariants it asserts after every command),
//! `leader` and `follower` (each side's commands).
//!
//! Invariants, asserted by the actor after every command (see `actor`):
//! - `log_start_offset <= high_watermark <= log_end_offset` on every replica;
//! - a leader's high watermark never moves back within its leader epoch;
//! - the log end offset moves back only through a truncation;
//! - the epoch cache's epochs and start offsets strictly increase, and (while the log is
//!   online) no entry starts past the log end offset;
//! - an acks=all produce is answered only once the high watermark has passed its batch.

mod actor;
mod follower;
mod handle;
mod leader;
mod open;
#[cfg(test)]
mod tests;

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::sync::Subscriber;

use crate::protocol::ErrorCode;
use crate::replication::{FollowerState, IsrChange, LeaderState, TruncationRule};
use crate::storage::{batch, Log, StorageError};

pub use handle::PartitionHandle;

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
    Follower(FollowerState),
}

impl Role {
    fn info(&self) -> RoleInfo {
        match self {
            Role::Leader(state) => RoleInfo {
                leader: state.leader_id(),
                leader_epoch: state.leader_epoch(),
            },
            Role::Follower(state) => RoleInfo {
                leader: state.leader(),
                leader_epoch: state.leader_epoch(),
            },
        }
    }
}

/// The offsets of a partition, as published after each change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offsets {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
    /// False once the log directory went offline (fsync failure, disk full).
    pub online: bool,
}

/// How much one partition may return to a fetch, as Kafka's `ReplicaManager.readFromLog`
/// computes it (KIP-74): at most `max_bytes` (the partition's limit, capped by what is left
/// of the response's), except that the first partition of a response to return data gets its
/// first batch whatever its size (`min_one`), so that a consumer always makes progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimit {
    pub max_bytes: usize,
    pub min_one: bool,
}

impl ReadLimit {
    /// The limit of a read that must return something if anything is there.
    pub fn at_least_one(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            min_one: true,
        }
    }
}

/// What a fetch read from one partition.
#[derive(Debug, Clone)]
pub struct ReadResult {
    pub error_code: ErrorCode,
    pub records: Bytes,
    pub offsets: Offsets,
}

/// The error code a storage failure maps to.
pub fn storage_error_code(error: &StorageError) -> ErrorCode {
    match error {
        StorageError::Corrupt(_) => ErrorCode::CORRUPT_MESSAGE,
        StorageError::InvalidRecord(_) => ErrorCode::INVALID_RECORD,
        StorageError::TooLarge => ErrorCode::MESSAGE_TOO_LARGE,
        StorageError::OffsetOutOfRange { .. } => ErrorCode::OFFSET_OUT_OF_RANGE,
        StorageError::Io(_) | StorageError::Offline => ErrorCode::KAFKA_STORAGE_ERROR,
        StorageError::Producer(crate::txn::ProducerError::InvalidEpoch { .. }) => {
            ErrorCode::INVALID_PRODUCER_EPOCH
        }
        StorageError::Producer(crate::txn::ProducerError::OutOfOrder { .. }) => {
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        }
    }
}

fn offsets_of(log: &Log, role: &Role, online: bool) -> Offsets {
    let high_watermark = match role {
        Role::Leader(state) => state.high_watermark(),
        Role::Follower(state) => state.high_watermark(),
    };
    Offsets {
        log_start_offset: log.log_start_offset(),
        high_watermark: high_watermark.max(log.log_start_offset()),
        log_end_offset: log.log_end_offset(),
        online,
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
