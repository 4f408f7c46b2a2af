//! The follower's side of the partition actor: appending what it fetched, learning the high
//! watermark, and cutting its log when it becomes a follower, when the leader's batches show
//! the logs diverged, or on the leader's OffsetForLeaderEpoch answer. The decisions are the
//! pure functions of [`crate::replication::follower`] and [`crate::replication::truncation`];
//! this side carries them out on the log and reports them.
//!
//! Invariants kept here (beyond the actor's, which every command keeps): every cut of the log
//! goes through `Actor::cut_follower_log`, which counts it (so the actor can tell a truncation
//! from a log end offset that moved back on its own), drops the epoch cache entries past the
//! new log end, and keeps the follower's high watermark within the shorter log.
//! [`FollowerState`] and the follower functions assert their own pre- and postconditions.

use super::actor::Actor;
use super::handle::FollowerCommand;
use super::{offsets_of, Role};
use crate::protocol::ErrorCode;
use crate::replication::follower::{
    epoch_truncation_offset, on_fetched_batches, truncation_on_become_follower,
};
use crate::replication::LeaderEpochCache;
use crate::replication::{leader_epoch_truncation, FetchedBatches, FollowerState, TruncationStep};
use crate::storage::batch;

impl Actor {
    /// Run one of the follower's commands.
    pub(super) async fn handle_follower(&mut self, command: FollowerCommand) {
        match command {
            FollowerCommand::BecomeFollower {
                leader,
                leader_epoch,
            } => self.become_follower(leader, leader_epoch),
            FollowerCommand::TruncateByEpoch {
                leader_answer,
                reply,
            } => {
                let _ = reply.send(self.truncate_by_epoch(leader_answer));
            }
            FollowerCommand::AppendAsFollower {
                batches,
                leader_high_watermark,
                reply,
            } => {
                if !batches.is_empty() {
                    self.disk_latency().await;
                }
                let _ = reply.send(self.append_as_follower(&batches, leader_high_watermark));
            }
            FollowerCommand::TruncateTo { offset, reply } => {
                let _ = reply.send(self.truncate_follower(offset));
            }
            FollowerCommand::RestartAtLeaderLogStart { offset, reply } => {
                let _ = reply.send(self.restart_at_leader_log_start(offset));
            }
            FollowerCommand::FollowLogStart {
                leader_log_start_offset,
                reply,
            } => {
                self.follow_log_start(leader_log_start_offset);
                let _ = reply.send(());
            }
        }
    }

    /// Move this follower's log start up to the leader's, never past its own high watermark
    /// (Kafka's `maybeIncrementLogStartOffset` on a fetch response).
    fn follow_log_start(&mut self, leader_log_start_offset: i64) {
        if !self.online || !matches!(self.role, Role::Follower(_)) {
            return;
        }
        let high_watermark = offsets_of(&self.log, &self.role, self.online).high_watermark;
        let offset = leader_log_start_offset.min(high_watermark);
        if offset > self.log.log_start_offset() {
            let _ = self.advance_log_start(offset);
        }
    }

    /// Append what this follower fetched (unless the leader's batches show the logs diverged,
    /// which cuts the log instead), then learn the leader's high watermark.
    fn append_as_follower(
        &mut self,
        batches: &[u8],
        leader_high_watermark: i64,
    ) -> Result<(), ErrorCode> {
        if !self.online {
            return Err(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        if !matches!(self.role, Role::Follower(_)) {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        if !batches.is_empty() {
            let first = batch::parse_header(batches).map_err(|error| self.fail(error))?;
            let log_end_offset = self.log.log_end_offset();
            if let FetchedBatches::Diverged { truncate_to } =
                on_fetched_batches(first.base_offset, log_end_offset)
            {
                return self.cut_follower_log(
                    truncate_to,
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
        if let Role::Follower(state) = &mut self.role {
            state.on_fetch_response(leader_high_watermark, log_end_offset);
        }
        Ok(())
    }

    /// Cut a follower's log (it is ahead of its leader's).
    fn truncate_follower(&mut self, offset: i64) -> Result<(), ErrorCode> {
        if !matches!(self.role, Role::Follower(_)) {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        self.cut_follower_log(offset, "leader-log-end", "replication.follower_truncations")
    }

    /// The leader's log starts at `offset`, past this follower's log end, so what it lacks is
    /// gone from the leader: empty the log and restart it at `offset` (Kafka's
    /// `truncateFullyAndStartAt`), with an empty epoch cache and the HW at `offset`, and report
    /// it as a truncation above the old end, which the online model reads as a restart.
    fn restart_at_leader_log_start(&mut self, offset: i64) -> Result<(), ErrorCode> {
        if !matches!(self.role, Role::Follower(_)) {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        if offset <= self.log.log_end_offset() {
            return Ok(());
        }
        self.log_cuts += 1;
        self.checked(|log| log.restart_at(offset))?;
        self.epochs = LeaderEpochCache::new();
        self.env.trace.record(
            "truncate",
            format!("{} {offset} leader-log-start", self.dir).as_bytes(),
        );
        self.env
            .trace
            .effect("replication.follower_restarts_at_leader_log_start", 1);
        self.observe_truncation("leader-log-start");
        if let Role::Follower(state) = &mut self.role {
            state.on_restart_at(offset);
        }
        Ok(())
    }

    /// Truncate a follower's log at `offset` for `reason`, report it (trace, `effect`
    /// counter, online observation) and keep its HW within the shorter log.
    fn cut_follower_log(
        &mut self,
        offset: i64,
        reason: &str,
        effect: &str,
    ) -> Result<(), ErrorCode> {
        // Counted before the cut: a cut that fails halfway may still have shortened the log.
        self.log_cuts += 1;
        self.checked(|log| log.truncate_to(offset))?;
        assert!(
            self.log.log_end_offset() <= offset,
            "{}: a cut at {offset} left the log ending at {}",
            self.dir,
            self.log.log_end_offset()
        );
        self.epochs.truncate_from_end(self.log.log_end_offset());
        self.env.trace.record(
            "truncate",
            format!("{} {offset} {reason}", self.dir).as_bytes(),
        );
        self.env.trace.effect(effect, 1);
        self.observe_truncation(reason);
        let log_end_offset = self.log.log_end_offset();
        if let Role::Follower(state) = &mut self.role {
            state.on_truncation(log_end_offset);
        }
        Ok(())
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
        self.role = Role::Follower(FollowerState::new(leader, leader_epoch, high_watermark));
        tracing::info!(partition = %self.dir, leader, leader_epoch, "became follower");
        self.env.trace.record(
            "follower",
            format!("{} {leader} {leader_epoch}", self.dir).as_bytes(),
        );
        let log_end_offset = self.log.log_end_offset();
        let rule = self.replica.truncation;
        if let Some(truncate_to) =
            truncation_on_become_follower(rule, high_watermark, log_end_offset, leader)
        {
            let _ = self.cut_follower_log(
                truncate_to,
                "become-follower-hw",
                "replication.hw_truncations",
            );
        }
    }

    /// KIP-101/279: cut the log where the leader says this replica's epoch history diverges.
    fn truncate_by_epoch(
        &mut self,
        leader_answer: (i32, i64),
    ) -> Result<TruncationStep, ErrorCode> {
        if !matches!(self.role, Role::Follower(_)) {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        let log_end_offset = self.log.log_end_offset();
        let step = leader_epoch_truncation(&self.epochs, log_end_offset, leader_answer);
        let high_watermark = offsets_of(&self.log, &self.role, self.online).high_watermark;
        let log_start_offset = self.log.log_start_offset();
        if let Some(truncate_to) =
            epoch_truncation_offset(step, high_watermark, log_start_offset, log_end_offset)
        {
            self.cut_follower_log(truncate_to, "leader-epoch", "replication.epoch_truncations")?;
        }
        Ok(step)
    }
}
