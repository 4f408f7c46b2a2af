//! The partition actor's loop: it runs one command at a time, publishes the partition's
//! offsets and role after each, and asserts the invariants every command must leave in place.
//! The leader's and the follower's commands are carried out in `super::leader` and
//! `super::follower`; the reads, housekeeping and storage-failure handling both sides share
//! are here.
//!
//! Invariants, asserted after every command by [`Actor::check_invariants`]:
//! - `log_start_offset <= high_watermark <= log_end_offset`, as published;
//! - a leader's high watermark never moves back within its leader epoch (it may after a new
//!   election: a new leader starts from the high watermark it held as a follower);
//! - the log end offset moves back only through a truncation of the log's tail;
//! - while the log is online, no epoch cache entry starts past the log end offset (the cache
//!   itself asserts its epochs and start offsets strictly increase).
//!
//! The acks=all rule, that a produce is answered only once the high watermark has passed its
//! batch, is asserted where the answer is decided (`Actor::check_acks`).

use bytes::Bytes;
use tokio::sync::mpsc;

use super::handle::Command;
use super::open::EPOCH_CHECKPOINT;
use super::RoleInfo;
use super::{
    below, offsets_of, storage_error_code, Offsets, ReadLimit, ReadResult, ReplicaConfig, Role,
};
use crate::env::{Env, Observation};
use crate::protocol::ErrorCode;
use crate::replication::{LeaderEpochCache, UNDEFINED_EPOCH};
use crate::storage::{Log, StorageError};
use crate::sync::Watch;

/// One partition's owner (see the module docs).
pub(super) struct Actor {
    pub(super) env: Env,
    /// The log's directory, `topic-partition`, which also names the partition in traces.
    pub(super) dir: String,
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) log: Log,
    /// Leader or follower, with that side's replication state.
    pub(super) role: Role,
    /// Monotonic time zero for the leader's lag bookkeeping.
    pub(super) started: tokio::time::Instant,
    /// Set false when a storage error takes the log directory offline (Kafka's
    /// KafkaStorageException): every later request fails until the broker restarts.
    pub(super) online: bool,
    /// Where the offsets are published after every command.
    pub(super) publisher: Watch<Offsets>,
    /// Who leads, published on every role change.
    pub(super) roles: Watch<RoleInfo>,
    /// The leader epoch cache (epoch → start offset), loaded at open from
    /// `leader-epoch-checkpoint` (see `super::open`), kept in step with every append and
    /// truncation, and written back after every command that changed it.
    pub(super) epochs: LeaderEpochCache,
    /// The cache as `leader-epoch-checkpoint` last held it.
    pub(super) epochs_checkpointed: LeaderEpochCache,
    pub(super) replica: ReplicaConfig,
    /// The last fenced set read from `replica.ineligible_replicas` (refreshed only when it
    /// changes, so a follower fetch copies nothing).
    pub(super) ineligible: std::collections::BTreeSet<i32>,
    /// How many times this actor cut its log's tail: the only way its log end offset may move
    /// back, which [`Actor::check_invariants`] checks.
    pub(super) log_cuts: u64,
}

/// The state a command started from, which the invariants compare its outcome with.
struct Before {
    /// The offsets published before the command.
    offsets: Offsets,
    /// The leader epoch this replica led in, if it led.
    leading_epoch: Option<i32>,
    /// [`Actor::log_cuts`] before the command.
    log_cuts: u64,
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

    /// Run commands until the channel closes or a `Close` ends the actor.
    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        while let Some(command) = commands.recv().await {
            if let Command::Close { reply } = command {
                let result = self.checked(|log| log.flush());
                self.checkpoint_epochs();
                let _ = reply.send(result);
                return;
            }
            let before = self.before();
            self.handle(command).await;
            let offsets = offsets_of(&self.log, &self.role, self.online);
            self.observe_offsets(&before.offsets, &offsets);
            self.checkpoint_epochs();
            self.check_invariants(&before, &offsets);
            self.publisher.send_if_changed(offsets);
            self.roles.send_if_changed(self.role.info());
        }
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Leader(command) => self.handle_leader(command).await,
            Command::Follower(command) => self.handle_follower(command).await,
            Command::Read {
                offset,
                limit,
                reply,
            } => {
                let _ = reply.send(self.read(offset, limit));
            }
            Command::OffsetForTimestamp { timestamp, reply } => {
                let result = if self.online {
                    Ok(self.log.offset_for_timestamp(timestamp).unwrap_or((-1, -1)))
                } else {
                    Err(ErrorCode::KAFKA_STORAGE_ERROR)
                };
                let _ = reply.send(result);
            }
            Command::Reconfigure {
                log_config,
                min_insync_replicas,
                reply,
            } => {
                self.reconfigure(log_config, min_insync_replicas);
                let _ = reply.send(());
            }
            Command::MaxTimestamp { reply } => {
                let result = if self.online {
                    Ok(self.log.max_timestamp_batch())
                } else {
                    Err(ErrorCode::KAFKA_STORAGE_ERROR)
                };
                let _ = reply.send(result);
            }
            Command::Flush { reply } => {
                let result = self.checked(|log| log.flush());
                let _ = reply.send(result);
            }
            Command::Close { .. } => unreachable!("handled by run"),
            Command::Tick => self.tick(),
            Command::LatestEpoch { reply } => {
                let _ = reply.send(self.epochs.latest_epoch().unwrap_or(UNDEFINED_EPOCH));
            }
        }
    }

    /// New topic configs: the log runs with its new settings from the next append or tick;
    /// a leader applies the new `min.insync.replicas` at once (which may let its HW advance).
    fn reconfigure(
        &mut self,
        mut log_config: crate::storage::LogConfig,
        min_insync_replicas: usize,
    ) {
        let min_insync_replicas = min_insync_replicas.max(1);
        log_config.planted_recovery_keeps_bad_crc =
            self.log.config().planted_recovery_keeps_bad_crc;
        log_config.planted_producer_state_not_replicated =
            self.log.config().planted_producer_state_not_replicated;
        self.log.set_config(log_config);
        self.replica.min_insync_replicas = min_insync_replicas;
        if let Role::Leader(state) = &mut self.role {
            state.set_min_insync_replicas(min_insync_replicas);
        }
    }

    /// Move the log start offset to `offset` (at most the high watermark), durably, deleting
    /// the segments wholly below it.
    pub(super) fn advance_log_start(&mut self, offset: i64) -> Result<(), ErrorCode> {
        let trace = self.env.trace.clone();
        self.checked(|log| {
            let deleted_bytes = log.advance_log_start_offset(offset)?;
            trace.effect("delete_records.deleted_bytes", deleted_bytes);
            Ok(())
        })
    }

    /// Time-based housekeeping (flush.ms, segment.ms, retention, compaction once the dirty ratio
    /// reaches min.cleanable.dirty.ratio), then ISR shrinking.
    fn tick(&mut self) {
        let now = self.env.clock.wall_ms();
        let trace = self.env.trace.clone();
        let high_watermark = offsets_of(&self.log, &self.role, self.online).high_watermark;
        let _ = self.checked(|log| {
            let report = log.tick(now)?;
            trace.effect(
                "retention.deleted_segments",
                report.deleted_segments.len() as u64,
            );
            trace.effect("retention.deleted_bytes", report.deleted_bytes);
            trace.effect("log.time_rolls", report.rolled as u64);
            trace.effect("log.time_flushes", report.flushed as u64);
            if log.cleaning_due(now, high_watermark) {
                let cleaned = log.clean(now, high_watermark)?;
                trace.effect("cleaner.cleaned_segments", cleaned.cleaned_segments);
                trace.effect("cleaner.removed_records", cleaned.removed_records);
            }
            Ok(())
        });
        self.maybe_shrink_isr();
    }

    /// The state the invariants compare the next command's outcome with.
    fn before(&self) -> Before {
        Before {
            offsets: offsets_of(&self.log, &self.role, self.online),
            leading_epoch: self.leading_epoch(),
            log_cuts: self.log_cuts,
        }
    }

    /// The leader epoch this replica leads in, if it leads.
    fn leading_epoch(&self) -> Option<i32> {
        match &self.role {
            Role::Leader(state) => Some(state.leader_epoch()),
            Role::Follower(_) => None,
        }
    }

    /// Asserts the invariants every command must leave in place (the module's list), given
    /// the state it started from and the offsets it leaves.
    fn check_invariants(&self, before: &Before, after: &Offsets) {
        assert!(
            after.log_start_offset <= after.high_watermark
                && after.high_watermark <= after.log_end_offset,
            "{}: log start {} <= HW {} <= LEO {} violated",
            self.dir,
            after.log_start_offset,
            after.high_watermark,
            after.log_end_offset
        );
        let leading_epoch = self.leading_epoch();
        if before.leading_epoch.is_some() && leading_epoch == before.leading_epoch {
            assert!(
                after.high_watermark >= before.offsets.high_watermark,
                "{}: leader high watermark moved back from {} to {} within leader epoch {:?}",
                self.dir,
                before.offsets.high_watermark,
                after.high_watermark,
                leading_epoch
            );
        }
        assert!(
            after.log_end_offset >= before.offsets.log_end_offset
                || self.log_cuts > before.log_cuts,
            "{}: log end offset moved back from {} to {} without a truncation",
            self.dir,
            before.offsets.log_end_offset,
            after.log_end_offset
        );
        if let (Some(latest), true) = (self.epochs.latest_entry(), self.online) {
            assert!(
                latest.start_offset <= after.log_end_offset,
                "{}: leader epoch {} starts at {}, past the log end offset {}",
                self.dir,
                latest.epoch,
                latest.start_offset,
                after.log_end_offset
            );
        }
    }

    pub(super) fn tp(&self) -> (&str, i32) {
        (&self.topic, self.partition)
    }

    pub(super) fn observe_append(
        &self,
        base_offset: i64,
        last_offset: i64,
        leader_epoch: i32,
        crc: u32,
    ) {
        self.env.trace.observe(&Observation::Appended {
            tp: self.tp(),
            base_offset,
            last_offset,
            leader_epoch,
            crc,
        });
    }

    pub(super) fn observe_truncation(&self, reason: &str) {
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
    pub(super) async fn disk_latency(&self) {
        let delay = self.env.net.disk_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub(super) fn read_error(&self, error_code: ErrorCode) -> ReadResult {
        ReadResult {
            error_code,
            records: Bytes::new(),
            offsets: offsets_of(&self.log, &self.role, self.online),
        }
    }

    /// A request naming `current_leader_epoch` (-1: unchecked) is for this leadership.
    pub(super) fn check_leader_epoch(&self, current_leader_epoch: i32) -> Result<(), ErrorCode> {
        let mine = self.role.info().leader_epoch;
        if current_leader_epoch < 0 || current_leader_epoch == mine {
            Ok(())
        } else if current_leader_epoch < mine {
            Err(ErrorCode::FENCED_LEADER_EPOCH)
        } else {
            Err(ErrorCode::UNKNOWN_LEADER_EPOCH)
        }
    }

    fn read(&mut self, offset: i64, limit: ReadLimit) -> ReadResult {
        if matches!(self.role, Role::Follower { .. }) {
            return self.read_error(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        let offsets = offsets_of(&self.log, &self.role, self.online);
        if !self.online {
            return ReadResult {
                error_code: ErrorCode::KAFKA_STORAGE_ERROR,
                records: Bytes::new(),
                offsets,
            };
        }
        if offset == offsets.high_watermark {
            return ReadResult {
                error_code: ErrorCode::NONE,
                records: Bytes::new(),
                offsets,
            };
        }
        let read = self.log.read_limited(
            offset,
            limit.max_bytes,
            offsets.high_watermark,
            limit.min_one,
        );
        match read {
            Ok(bytes) => ReadResult {
                error_code: ErrorCode::NONE,
                records: Bytes::from(below(bytes, offsets.high_watermark)),
                offsets,
            },
            Err(error) => {
                let code = match error {
                    StorageError::OffsetOutOfRange { .. } => ErrorCode::OFFSET_OUT_OF_RANGE,
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

    pub(super) fn checked(
        &mut self,
        f: impl FnOnce(&mut Log) -> Result<(), StorageError>,
    ) -> Result<(), ErrorCode> {
        if !self.online {
            return Err(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        f(&mut self.log).map_err(|error| self.fail(error))
    }

    /// Map a storage error to its code; I/O errors take the log directory offline.
    pub(super) fn fail(&mut self, error: StorageError) -> ErrorCode {
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
