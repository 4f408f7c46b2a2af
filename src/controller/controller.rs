//! `Controller`: turns inputs (registrations, heartbeats, time, admin and AlterPartition
//! requests) into metadata records. Pure: no I/O, no clock, no async. This file holds the
//! part Kafka's `QuorumController` keeps to itself: the published state, the batch a decision
//! is built in, publishing, and fail-over; the decisions live beside it, split as Kafka splits
//! them: [`cluster_control`](super::cluster_control) (brokers: registration, heartbeats,
//! fencing), [`topics`](super::topics), [`isr`](super::isr) and
//! [`elections`](super::elections) (Kafka's `ReplicationControlManager`).
//!
//! # The durability contract
//! An input method never changes the published state. It returns the records that express its
//! decision; the caller appends them to the metadata log, fsyncs, and only then calls
//! [`Controller::apply`] with them, and only then answers the request or tells brokers. So a
//! decision is published only once it is durable: a controller that crashes before the fsync
//! restarts from a log without it, and nobody ever saw it. One batch is in flight at a time:
//! calling another input method before applying a non-empty batch is a bug and panics. If the
//! append or fsync fails, the process must exit and rebuild from its log (Kafka treats a failed
//! metadata fsync as fatal too).
//!
//! # Invariants asserted here
//! - One batch in flight: no input is taken while a non-empty batch awaits [`Controller::apply`],
//!   and the batch applied next is exactly as long as the one returned.
//! - Across a batch, for every partition that existed before it: `leader_epoch` and
//!   `partition_epoch` never decrease, and a partition whose leader changed has a greater
//!   `leader_epoch` (the metadata state asserts the same record by record).

use std::collections::{BTreeMap, BTreeSet};

use super::records::{
    EligibleLeadersRecord, MetadataRecord, PartitionRecord, RegisterBroker, TopicRecord,
};
use super::state::MetadataState;
use super::ControllerConfig;

/// What a new controller does on taking over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failover {
    /// To persist and apply: the bump of the controller epoch.
    pub records: Vec<MetadataRecord>,
    /// The full state as of after `records`, as records from an empty state: what to resend
    /// to every broker (and a valid snapshot of the log).
    pub full_state: Vec<MetadataRecord>,
}

/// Records being built against a scratch copy of the state, each applied to it when built,
/// so later decisions in the same batch see earlier ones.
pub(super) struct Batch {
    /// The published state plus the records built so far.
    pub(super) scratch: MetadataState,
    /// The records built so far, in order.
    pub(super) records: Vec<MetadataRecord>,
}

impl Batch {
    pub(super) fn push(&mut self, record: MetadataRecord) {
        self.scratch.apply(&record);
        self.records.push(record);
    }
}

/// The controller's decision core: published metadata plus the volatile liveness it tracks.
#[derive(Clone, Debug)]
pub struct Controller {
    /// Settings.
    pub(super) config: ControllerConfig,
    /// Published (durable) metadata.
    pub(super) state: MetadataState,
    /// Last heartbeat or registration of each broker, for session expiry. Volatile: a new
    /// controller starts every session afresh ([`Controller::on_failover`]).
    pub(super) last_heartbeat_ms: BTreeMap<i32, u64>,
    /// Brokers in controlled shutdown: their heartbeats never unfence them. Volatile.
    pub(super) shutting_down: BTreeSet<i32>,
    /// Each replica's `(last epoch, end offset)` as its broker last reported at registration,
    /// by `(topic, partition, broker)`. Volatile: brokers re-register after a fail-over.
    pub(super) log_ends: BTreeMap<(String, i32, i32), (i32, i64)>,
    /// A non-empty batch was returned and not yet applied.
    pub(super) awaiting_apply: bool,
    /// How many records that batch holds: the next [`Controller::apply`] publishes exactly it.
    pub(super) awaiting_len: usize,
}

impl Controller {
    /// A controller over an empty state; replay the metadata log with [`Controller::apply`],
    /// then call [`Controller::on_failover`] before serving.
    pub fn new(config: ControllerConfig) -> Self {
        Controller {
            config,
            state: MetadataState::new(),
            last_heartbeat_ms: BTreeMap::new(),
            shutting_down: BTreeSet::new(),
            log_ends: BTreeMap::new(),
            awaiting_apply: false,
            awaiting_len: 0,
        }
    }

    /// The published metadata.
    pub fn state(&self) -> &MetadataState {
        &self.state
    }

    /// The settings.
    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// Publishes records once they are durable (or replays them from the log at startup).
    pub fn apply(&mut self, records: &[MetadataRecord]) {
        assert!(
            !self.awaiting_apply || records.len() == self.awaiting_len,
            "applying {} records where the batch in flight has {}",
            records.len(),
            self.awaiting_len
        );
        for record in records {
            self.state.apply(record);
        }
        self.awaiting_apply = false;
    }

    /// Forgets the batch just decided without applying it: a `validate_only` request asked
    /// whether it would be accepted, not for it to happen.
    pub fn discard(&mut self, records: Vec<MetadataRecord>) {
        assert!(
            !self.awaiting_apply || records.len() == self.awaiting_len,
            "discarding {} records where the batch in flight has {}",
            records.len(),
            self.awaiting_len
        );
        self.awaiting_apply = false;
    }

    /// A new controller takes over (after a restart, once the log is replayed): the controller
    /// epoch is bumped, every registered broker gets a fresh session from `now_ms`, and the
    /// full state comes back for resending to brokers. Records of a batch never applied are
    /// forgotten: they were not durable.
    pub fn on_failover(&mut self, now_ms: u64) -> Failover {
        self.awaiting_apply = false;
        self.shutting_down.clear();
        self.last_heartbeat_ms = self.state.brokers.keys().map(|&id| (id, now_ms)).collect();
        let mut batch = self.begin();
        batch.push(MetadataRecord::ControllerEpoch {
            controller_epoch: self.state.controller_epoch + 1,
        });
        let full_state = snapshot_of(&batch.scratch);
        Failover {
            records: self.finish(batch),
            full_state,
        }
    }

    /// The published state as records from an empty state (a snapshot of the log).
    pub fn snapshot(&self) -> Vec<MetadataRecord> {
        snapshot_of(&self.state)
    }

    pub(super) fn begin(&self) -> Batch {
        assert!(
            !self.awaiting_apply,
            "controller input before the previous batch was applied (see the durability contract)"
        );
        Batch {
            scratch: self.state.clone(),
            records: Vec::new(),
        }
    }

    pub(super) fn finish(&mut self, batch: Batch) -> Vec<MetadataRecord> {
        if !batch.records.is_empty() {
            assert_epochs_grow(&self.state, &batch.scratch);
        }
        self.awaiting_apply = !batch.records.is_empty();
        self.awaiting_len = batch.records.len();
        batch.records
    }
}

/// Postcondition of a batch: every partition that was in `before` and still is in `after`
/// (the same topic, not deleted and re-created) has a `leader_epoch` and `partition_epoch` no
/// smaller than before, and a greater `leader_epoch` if its leader changed.
fn assert_epochs_grow(before: &MetadataState, after: &MetadataState) {
    for (name, topic) in &before.topics {
        let Some(now) = after.topics.get(name) else {
            continue;
        };
        if now.topic_id != topic.topic_id {
            continue;
        }
        for (&partition, old) in &topic.partitions {
            let new = &now.partitions[&partition];
            assert!(
                new.leader_epoch >= old.leader_epoch,
                "{name}-{partition}: the leader epoch went back from {old:?} to {new:?}"
            );
            assert!(
                new.partition_epoch >= old.partition_epoch,
                "{name}-{partition}: the partition epoch went back from {old:?} to {new:?}"
            );
            assert!(
                new.leader == old.leader || new.leader_epoch > old.leader_epoch,
                "{name}-{partition}: leader {} -> {} without a new leader epoch",
                old.leader,
                new.leader
            );
        }
    }
}

/// `state` as records that rebuild it from an empty state.
fn snapshot_of(state: &MetadataState) -> Vec<MetadataRecord> {
    let mut records = Vec::new();
    if state.controller_epoch > 0 {
        records.push(MetadataRecord::ControllerEpoch {
            controller_epoch: state.controller_epoch,
        });
    }
    for (&broker_id, broker) in &state.brokers {
        records.push(MetadataRecord::RegisterBroker(RegisterBroker {
            broker_id,
            incarnation: broker.incarnation,
            endpoint: broker.endpoint.clone(),
        }));
        if !broker.fenced {
            records.push(MetadataRecord::UnfenceBroker { broker_id });
        }
    }
    for (name, topic) in &state.topics {
        records.push(MetadataRecord::Topic(TopicRecord {
            name: name.clone(),
            topic_id: topic.topic_id,
        }));
        for (&partition, p) in &topic.partitions {
            records.push(MetadataRecord::Partition(PartitionRecord {
                topic: name.clone(),
                partition,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
            }));
            if !p.elr.is_empty() || !p.last_known_elr.is_empty() {
                records.push(MetadataRecord::EligibleLeaders(EligibleLeadersRecord {
                    topic: name.clone(),
                    partition,
                    elr: p.elr.clone(),
                    last_known_elr: p.last_known_elr.clone(),
                }));
            }
        }
    }
    records
}
