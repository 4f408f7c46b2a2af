//! Opening a partition: recover its log, load its leader epoch cache, choose the role it
//! starts in, and spawn its actor.
//!
//! With a controller the replica starts as a follower of nobody, keeping its checkpointed high
//! watermark in memory. In the static cluster of a build without a controller the first
//! replica leads at epoch 0 and every other one starts as its follower, cut to its
//! checkpointed high watermark (Kafka 0.10's restart rule).

use tokio::sync::mpsc;

use super::actor::Actor;
use super::handle::COMMANDS_QUEUED_MAX;
use super::{offsets_of, PartitionHandle, ReplicaConfig, Role};
use crate::env::{Env, Observation};
use crate::replication::{
    high_watermark_truncation, FollowerState, IsrRule, LeaderEpochCache, LeaderState,
    PartitionConfig,
};
use crate::storage::{batch, Log, LogConfig, StorageError};
use crate::sync::Watch;

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
            log_cuts: 0,
        };
        tokio::spawn(actor.run(receiver));
        Ok(PartitionHandle {
            commands,
            offsets: offsets_rx,
            role: role_rx,
            broker_id: replica.broker_id,
            replicated: replica.replicas.len() > 1,
            min_insync_replicas: std::sync::Arc::new(replica.min_insync_replicas.into()),
        })
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
        return Ok(Role::Follower(FollowerState::new(
            -1,
            -1,
            checkpointed.min(log_end_offset),
        )));
    }
    if replica.leader() != replica.broker_id {
        let truncate_to = high_watermark_truncation(checkpointed, log_end_offset);
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
        return Ok(Role::Follower(FollowerState::new(
            replica.leader(),
            0,
            high_watermark,
        )));
    }
    let config = PartitionConfig {
        replicas: replica.replicas.clone(),
        min_insync_replicas: replica.min_insync_replicas.max(1),
        replica_lag_time_max_ms: replica.replica_lag_time_max_ms,
        strict_min_isr: true,
        isr_rule: IsrRule::Legacy,
        planted_isr_admit_one_early: replica.planted.isr_admit_one_early,
        planted_skip_min_isr_check: replica.planted.skip_min_isr_check,
        planted_high_watermark_regress: replica.planted.leader_high_watermark_regress,
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

/// The epoch cache of a log: where each leader epoch's first batch starts.
/// Where a partition keeps its leader epoch cache, as Kafka does.
pub(super) const EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

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
