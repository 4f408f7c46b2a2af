//! The pure replication state machines: what a leader answers and what a follower decides,
//! with no I/O beyond the checkpoint helpers that take their [`Disk`](crate::env::Disk)
//! as a parameter. The partition actor (`crate::server::partition`) feeds them events and
//! carries out their decisions.
//!
//! - [`leader`]: the leader's decisions (ISR, high watermark, acks=all), Kafka's `Partition`
//!   and `ReplicaManager` on the leader.
//! - [`follower`]: the follower's decisions (its high watermark, what a fetch response or a
//!   leader change does to its log).
//! - [`epoch_cache`]: the leader epoch cache (Kafka's `LeaderEpochFileCache`), epoch → start
//!   offset, and its `leader-epoch-checkpoint` file.
//! - [`checkpoint`]: Kafka's checkpoint text format, shared by the epoch cache and the
//!   high-watermark checkpoint (`replication-offset-checkpoint`).
//! - [`truncation`]: where a follower truncates its log before fetching, under Kafka 0.10's
//!   high-watermark rule or KIP-101/279's leader-epoch rule.
//!
//! Each historical rule is kept beside its fix behind a switch ([`TruncationRule`],
//! [`EpochLookup`]) so scenarios can show the bug and the fix side by side.

pub mod checkpoint;
pub mod epoch_cache;
pub mod follower;
pub mod leader;
pub mod truncation;

pub use checkpoint::{CheckpointError, HighWatermarkCheckpoint};
pub use epoch_cache::{
    EpochEntry, EpochLookup, LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_OFFSET,
};
pub use follower::{FetchedBatches, FollowerState};
pub use leader::{
    AcksAll, FetchOutcome, HwUpdate, IsrChange, IsrChangeKind, IsrRule, LeaderState,
    PartitionConfig, ACKS_ALL,
};
pub use truncation::{
    high_watermark_truncation, leader_epoch_truncation, TruncationRule, TruncationStep,
};
