//! The metadata log's append and publish path, and its replication to brokers: every batch
//! of records is appended to `__cluster_metadata`, fsynced, and only then published (applied
//! to the controller's state, counted in the log end brokers long-poll on, served by Fetch).
//!
//! # Invariants asserted here
//! - A record is published only once it is durable: every record applied has been fsynced,
//!   except under the TEST-ONLY planted bug `controller-publish-before-fsync`, whose whole
//!   point is to break this rule (the assertion is skipped when it is planted).
//! - The metadata log's offsets strictly increase: the published log end that fetching
//!   brokers see only grows, by the batch's length.
//! - The published state is the fold of exactly the log: the records the controller has
//!   applied are the log's records, one for one.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};

use super::super::records::{encode_all, ChangeReason, MetadataRecord};
use super::super::Controller;
use super::{Core, Node, LOG_DIR, LOG_FILE, RECORDS_PER_FETCH_MAX};
use crate::env::Env;
use crate::metadata::METADATA_TOPIC;
use crate::protocol::ErrorCode;

impl Node {
    /// Append `records` to the log, fsync, then publish them. A failed write is fatal (as in
    /// Kafka): the controller stops serving and a restart rebuilds from the log.
    pub(super) fn commit(&self, core: &mut Core, records: Vec<MetadataRecord>) {
        if records.is_empty() {
            return;
        }
        let bytes = encode_all(&records);
        let disk = &self.env.disk;
        let first = !disk.exists(LOG_FILE);
        let appended = disk.append(LOG_FILE, &bytes);
        let durable = if self.planted.controller_publish_before_fsync {
            // TEST-ONLY planted bug: publish now and leave the fsync to the next tick.
            core.unsynced = true;
            appended.map(|_| ())
        } else {
            appended.and_then(|_| self.sync_log(first))
        };
        if let Err(error) = durable {
            panic!("controller: metadata log write failed ({error}); a restart replays the log");
        }
        if !core.unsynced {
            core.durable_len = core.log.len() + records.len();
        }
        self.env.trace.record("metadata", &bytes);
        trace_elections(&self.env, &records);
        self.publish(core, records);
    }

    /// Applies `records` (just appended) to the controller and serves them to brokers.
    fn publish(&self, core: &mut Core, records: Vec<MetadataRecord>) {
        let end = core.log.len() + records.len();
        // Skipped under the planted bug, which publishes before the fsync on purpose.
        assert!(
            self.planted.controller_publish_before_fsync || core.durable_len >= end,
            "publishing metadata records up to {end} with only {} durable",
            core.durable_len
        );
        core.controller.apply(&records);
        observe_isr_commits(&self.env, &core.controller, &records);
        core.log.extend(records);
        let applied = core.controller.state().records_applied;
        assert_eq!(
            applied, end as u64,
            "the published state is not the fold of the log"
        );
        self.log_end.send_modify(|n| {
            assert!(
                end as u64 > *n,
                "the metadata log end goes from {n} to {end}"
            );
            *n = end as u64;
        });
    }

    /// fsync the log file, and its directory when the file was just created (the directory
    /// itself was made durable when it was created, in [`run`](super::run)).
    pub(super) fn sync_log(&self, created: bool) -> std::io::Result<()> {
        let disk = &self.env.disk;
        disk.fsync(LOG_FILE)?;
        if created {
            disk.fsync_dir(LOG_DIR)?;
        }
        Ok(())
    }

    /// The planted bug's deferred fsync (a no-op otherwise).
    pub(super) fn sync_published(&self, core: &mut Core) {
        if std::mem::take(&mut core.unsynced) {
            if let Err(error) = self.sync_log(true) {
                panic!("controller: metadata log fsync failed ({error})");
            }
            core.durable_len = core.log.len();
        }
    }
}

/// Which rule gave each partition its leader, for the run's effects.
fn trace_elections(env: &Env, records: &[MetadataRecord]) {
    for record in records {
        if let MetadataRecord::PartitionChange(change) = record {
            if change.leader.is_some_and(|leader| leader >= 0) {
                let name = format!("control.elections.{}", change.reason.name());
                env.trace.effect(&name, 1);
            }
        }
    }
}

/// Tell the online checkers about every ISR this batch of records committed, with the
/// partition's whole state after it (a change record carries only what changed). An unclean
/// election and KIP-966's last-known-ELR recovery (its unclean recovery: the longest log among
/// replicas that left both the ISR and the ELR) are not clean: they may elect a replica that
/// misses committed data, and say so.
fn observe_isr_commits(env: &Env, controller: &Controller, records: &[MetadataRecord]) {
    for record in records {
        let (topic, partition, clean) = match record {
            MetadataRecord::Partition(p) => (&p.topic, p.partition, true),
            MetadataRecord::PartitionChange(change) if change.isr.is_some() => (
                &change.topic,
                change.partition,
                !matches!(
                    change.reason,
                    ChangeReason::UncleanElection | ChangeReason::LastKnownElrRecovery
                ),
            ),
            _ => continue,
        };
        let Some(state) = controller.state().partition(topic, partition) else {
            continue;
        };
        let incarnations: Vec<u64> = state
            .isr
            .iter()
            .map(|&b| controller.state().broker(b).map_or(0, |b| b.incarnation))
            .collect();
        env.trace.observe(&crate::env::Observation::IsrCommitted {
            tp: (topic, partition),
            leader: state.leader,
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            isr: &state.isr,
            incarnations: &incarnations,
            clean,
        });
    }
}

/// The controller epoch in force at `offset` of `log`: the latest `ControllerEpoch` record at
/// or before it (0 before any), as a broker that applied the log through `offset` holds it.
fn epoch_at(log: &[MetadataRecord], offset: usize) -> i32 {
    log[..=offset]
        .iter()
        .rev()
        .find_map(|record| match record {
            MetadataRecord::ControllerEpoch { controller_epoch } => Some(*controller_epoch),
            _ => None,
        })
        .unwrap_or(0)
}

/// A broker replicates the metadata log: records from `fetch_offset`, waiting up to
/// `max_wait_ms` when there are none yet. An offset past the log's end, or one whose previous
/// record was written under another controller epoch than the broker's `last_fetched_epoch`
/// (a broker that saw a log this controller does not have: KRaft's diverging epoch), gets
/// OFFSET_OUT_OF_RANGE, and the broker starts over.
pub(super) async fn fetch(node: &Node, request: FetchRequest) -> FetchResponse {
    let (fetch_offset, last_fetched_epoch) = request
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .map(|p| (p.fetch_offset, p.last_fetched_epoch))
        .unwrap_or((0, -1));
    let mut log_end = node.log_end.subscribe();
    if fetch_offset == log_end.borrow() as i64 {
        let wait = Duration::from_millis(request.max_wait_ms.clamp(0, 10_000) as u64);
        let _ = tokio::time::timeout(wait, log_end.changed()).await;
    }
    let core = node.core.lock().unwrap();
    let end = core.log.len() as i64;
    let mut data = PartitionData::default();
    data.partition_index = 0;
    data.high_watermark = end;
    data.last_stable_offset = end;
    data.log_start_offset = 0;
    let diverged = |offset: i64| {
        offset > 0 && last_fetched_epoch >= 0 && {
            epoch_at(&core.log, offset as usize - 1) != last_fetched_epoch
        }
    };
    if fetch_offset < 0 || fetch_offset > end || diverged(fetch_offset) {
        data.error_code = ErrorCode::OFFSET_OUT_OF_RANGE.code();
    } else {
        let from = fetch_offset as usize;
        let to = (from + RECORDS_PER_FETCH_MAX).min(core.log.len());
        data.records = Some(Bytes::from(encode_all(&core.log[from..to])));
    }
    data.current_leader.leader_id = BrokerId(node.env.node_id);
    data.current_leader.leader_epoch = core.controller.state().controller_epoch;
    let mut topic = FetchableTopicResponse::default();
    topic.topic = kafka_protocol::messages::TopicName(METADATA_TOPIC.into());
    topic.partitions = vec![data];
    let mut response = FetchResponse::default();
    response.responses = vec![topic];
    response
}
