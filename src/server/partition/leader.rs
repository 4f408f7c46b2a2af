//! The leader's side of the partition actor: produce appends, acks=all checks, followers'
//! fetches, elections, ISR changes and OffsetForLeaderEpoch answers. The decisions are
//! [`LeaderState`]'s; this side carries them out on the log and reports them.
//!
//! Invariants kept here (beyond the actor's, which every command keeps):
//! - an acks=all produce is answered (acknowledged, or NOT_ENOUGH_REPLICAS_AFTER_APPEND) only
//!   once the high watermark has passed its batch (`Actor::check_acks`).
//!
//! [`LeaderState`] asserts its own: the HW within the log and never moving back, the leader
//! in its ISR, the ISR made of distinct replicas.

use bytes::Bytes;

use super::actor::Actor;
use super::handle::LeaderCommand;
use super::{offsets_of, IsrProposal, ReadLimit, ReadResult, Role};
use crate::env::Observation;
use crate::protocol::ErrorCode;
use crate::replication::PartitionConfig;
use crate::replication::{AcksAll, IsrChange, IsrChangeKind, IsrRule, LeaderState};
use crate::storage::{batch, AppendInfo, StorageError};

impl Actor {
    /// Run one of the leader's commands.
    pub(super) async fn handle_leader(&mut self, command: LeaderCommand) {
        match command {
            LeaderCommand::Append {
                batches,
                acks,
                reply,
            } => {
                self.disk_latency().await;
                let result = self.append(&batches, acks);
                let _ = reply.send(result);
            }
            LeaderCommand::CheckAcks { last_offset, reply } => {
                let _ = reply.send(self.check_acks(last_offset));
            }
            LeaderCommand::ReplicaRead {
                replica,
                current_leader_epoch,
                offset,
                log_start_offset,
                limit,
                reply,
            } => {
                let result = match self.check_leader_epoch(current_leader_epoch) {
                    Ok(()) => self.replica_read(replica, offset, limit),
                    Err(code) => self.read_error(code),
                };
                if let Role::Leader(state) = &mut self.role {
                    state.on_follower_log_start(replica, log_start_offset);
                }
                let _ = reply.send(result);
            }
            LeaderCommand::LowWatermark { reply } => {
                let result = match &self.role {
                    Role::Leader(state) if self.online => {
                        Ok(state.low_watermark(self.log.log_start_offset()))
                    }
                    Role::Leader(_) => Err(ErrorCode::KAFKA_STORAGE_ERROR),
                    Role::Follower(_) => Err(ErrorCode::NOT_LEADER_OR_FOLLOWER),
                };
                let _ = reply.send(result);
            }
            LeaderCommand::BecomeLeader {
                leader_epoch,
                isr,
                partition_epoch,
                clean,
            } => self.become_leader(leader_epoch, isr, partition_epoch, clean),
            LeaderCommand::IsrCommitted {
                isr,
                partition_epoch,
            } => self.isr_committed(isr, partition_epoch),
            LeaderCommand::DeleteRecords { offset, reply } => {
                let _ = reply.send(self.delete_records(offset));
            }
            LeaderCommand::IsrRejected => {
                if let Role::Leader(state) = &mut self.role {
                    state.on_isr_change_rejected();
                }
            }
            LeaderCommand::EpochEndOffset {
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
            LeaderCommand::LeaderEpochStart { reply } => {
                let _ = reply.send(self.leader_epoch_start());
            }
        }
    }

    /// Where an acks=all produce whose batch ends at `last_offset` stands.
    fn check_acks(&self, last_offset: i64) -> Result<AcksAll, ErrorCode> {
        let Role::Leader(state) = &self.role else {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        };
        let acks = state.check_acks_all(last_offset);
        assert!(
            acks == AcksAll::Pending || state.high_watermark() > last_offset,
            "{}: acks=all answered {acks:?} for a batch ending at {last_offset} with the high \
             watermark at {}",
            self.dir,
            state.high_watermark()
        );
        Ok(acks)
    }

    /// As leader, the offset where its own leader epoch began.
    fn leader_epoch_start(&self) -> Option<i64> {
        let Role::Leader(state) = &self.role else {
            return None;
        };
        (self.epochs.entries().iter())
            .find(|entry| entry.epoch == state.leader_epoch())
            .map(|entry| entry.start_offset)
    }

    fn append(&mut self, batches: &[u8], acks: i16) -> Result<AppendInfo, ErrorCode> {
        if !self.online {
            return Err(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        let Role::Leader(state) = &self.role else {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        };
        state.check_produce_allowed(acks).map_err(|e| e.code())?;
        let min_insync_replicas = state.config().effective_min_isr();
        let now = self.env.clock.wall_ms();
        let leader_epoch = state.leader_epoch();
        let log_end_offset = self.log.log_end_offset();
        if crate::env::buggify(&self.env, crate::env::Buggify::ForcedSegmentRoll) {
            self.log.roll_before_next_append();
        }
        let info = self
            .log
            .append(batches, leader_epoch, now)
            .map_err(|error| self.fail(error))?;
        if info.duplicate {
            // A retry of a batch the log holds: nothing was appended, the original's offsets
            // are the answer (and acks=all waits for them like for a fresh append).
            assert!(
                info.last_offset < log_end_offset,
                "a duplicate lies in the log"
            );
            self.env.trace.effect("produce.duplicate", 1);
            return Ok(info);
        }
        assert_eq!(
            info.base_offset, log_end_offset,
            "{}: a leader append did not start at the log end offset",
            self.dir
        );
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
        assert_eq!(
            next,
            self.log.log_end_offset(),
            "{}: the appended batches do not end at the log end offset",
            self.dir
        );
        self.env.trace.observe(&Observation::ClientAppended {
            tp: self.tp(),
            acks,
            base_offset: info.base_offset,
            last_offset: next - 1,
            min_insync_replicas,
        });
        Ok(info)
    }

    /// A follower fetched from `offset`: that is its log end offset, which may move the HW
    /// and bring it back into the ISR. It gets whole batches up to the log end.
    fn replica_read(&mut self, replica: i32, offset: i64, limit: ReadLimit) -> ReadResult {
        let now_ms = self.now_ms();
        if let Some(fenced) = &mut self.replica.ineligible_replicas {
            if fenced.has_changed() {
                self.ineligible = fenced.borrow_and_update();
            }
        }
        let eligible = !self.ineligible.contains(&replica);
        let outcome = match &mut self.role {
            Role::Leader(state) => state.on_follower_fetch(replica, offset, now_ms, eligible),
            Role::Follower(_) => return self.read_error(ErrorCode::NOT_LEADER_OR_FOLLOWER),
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
            return self.read_error(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        if offset == offsets.log_end_offset {
            return ReadResult {
                error_code: ErrorCode::NONE,
                records: Bytes::new(),
                offsets,
            };
        }
        match self
            .log
            .read_limited(offset, limit.max_bytes, i64::MAX, limit.min_one)
        {
            Ok(bytes) => ReadResult {
                error_code: ErrorCode::NONE,
                records: Bytes::from(bytes),
                offsets,
            },
            Err(StorageError::OffsetOutOfRange { .. }) => {
                self.read_error(ErrorCode::OFFSET_OUT_OF_RANGE)
            }
            Err(other) => {
                let code = self.fail(other);
                self.read_error(code)
            }
        }
    }

    /// DeleteRecords (Kafka's `deleteRecordsOnLocalLog`): -1 means the high watermark; an
    /// offset below it -1 or past the high watermark is OFFSET_OUT_OF_RANGE; one at or below
    /// the log start changes nothing. Answers the log start offset after.
    fn delete_records(&mut self, offset: i64) -> Result<i64, ErrorCode> {
        if !self.online {
            return Err(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        if !matches!(self.role, Role::Leader(_)) {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        let high_watermark = offsets_of(&self.log, &self.role, self.online).high_watermark;
        let offset = if offset == -1 { high_watermark } else { offset };
        if offset < 0 || offset > high_watermark {
            return Err(ErrorCode::OFFSET_OUT_OF_RANGE);
        }
        self.advance_log_start(offset)?;
        Ok(self.log.log_start_offset())
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
            planted_high_watermark_regress: self.replica.planted.leader_high_watermark_regress,
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
        // KIP-101: a leader's own epoch is its cache's latest, so what it answers to
        // OffsetForLeaderEpoch for older epochs ends where its own began.
        assert_eq!(
            self.epochs.latest_epoch(),
            Some(leader_epoch),
            "{}: leader epoch {leader_epoch} is not the epoch cache's latest",
            self.dir
        );
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

    /// The controller published `isr` at `partition_epoch`: the leader takes it as committed.
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

    /// Followers that stopped catching up leave the ISR: proposed to the controller (KIP-497),
    /// or applied at once in a build without one (the pre-KIP-497 rule).
    pub(super) fn maybe_shrink_isr(&mut self) {
        let now_ms = self.now_ms();
        let change = match &mut self.role {
            Role::Leader(state) => state.maybe_shrink_isr(now_ms),
            Role::Follower(_) => None,
        };
        if let Some(change) = change {
            self.record_isr_change(&change);
        }
    }

    /// Report an ISR change the leader decided, and send it to the controller if there is
    /// one (it is pending until the controller commits it); without a controller it is
    /// already in force.
    fn record_isr_change(&self, change: &IsrChange) {
        tracing::info!(partition = %self.dir, ?change, "ISR change");
        self.env.trace.record(
            "isr",
            format!("{} {:?}", self.dir, change.new_isr).as_bytes(),
        );
        let name = match change.kind {
            IsrChangeKind::Expand => "replication.isr_expansions",
            IsrChangeKind::Shrink => "replication.isr_shrinks",
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
}
