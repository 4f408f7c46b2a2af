//! `Controller`: turns inputs (registrations, heartbeats, time, admin and AlterPartition
//! requests) into metadata records. Pure: no I/O, no clock, no async.
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
//! # Rules followed (Kafka KRaft; eligible leader replicas, KIP-966, behind a switch)
//! - Election: the first replica in assignment order that is in the ISR and unfenced (the
//!   preferred replica first). If no ISR member is live and unclean election is enabled for
//!   the topic, the first live replica in assignment order leads and the ISR becomes that
//!   replica alone; otherwise the leader is -1 (offline) and the ISR is kept.
//! - Every leader change, including to or from -1, bumps `leader_epoch`; every change bumps
//!   `partition_epoch`; an ISR-only change keeps `leader_epoch`.
//! - Without eligible leader replicas, a fenced broker leaves every ISR unless it is the last
//!   member: the ISR never empties, so the last member standing is remembered and leads again
//!   when it comes back (the KIP-966 "last replica standing" hazard, which the ELR switch
//!   below closes, is therefore reproducible).
//! - A broker whose session expired (no heartbeat for `broker_session_timeout_ms`), or that
//!   asked for a controlled shutdown, is fenced; leadership moves off it first.
//!
//! # Eligible leader replicas (`eligible_leader_replicas`, KIP-966)
//! - A replica that leaves the ISR while the ISR left behind is smaller than
//!   `min(min.insync.replicas, RF)` joins the ELR: the high watermark cannot move past it
//!   while the ISR is that small (strict min ISR), so it holds every committed offset. Once
//!   the ISR is back at the minimum the ELR is emptied (the HW may move again); a replica that
//!   rejoins the ISR leaves the ELR.
//! - A fenced broker leaves the ISR even as its last member (into the ELR): the ISR may empty.
//! - A broker that registers a new incarnation after an unclean shutdown (every restart here:
//!   nothing writes a clean-shutdown marker yet) leaves every ISR and ELR, so a last replica
//!   standing that lost its unflushed tail cannot lead again on its own word.
//!   Such a broker joins the partition's last known ELR instead (while the ISR is below the
//!   minimum): it may hold committed offsets the others lost.
//! - Election: a live ISR member; else a live ELR member (clean: the ISR becomes it alone);
//!   else, once the ISR and the ELR are both empty, KIP-966's "balanced" unclean recovery:
//!   when every last known ELR member is live and has reported its log end (at registration),
//!   the one with the longest log (highest last epoch, then end offset; assignment order breaks
//!   ties); else unclean election if enabled, which empties the ELR; else the partition waits.

use std::collections::{BTreeMap, BTreeSet};

use super::records::{
    ChangeReason, EligibleLeadersRecord, Endpoint, MetadataRecord, PartitionChange,
    PartitionRecord, RegisterBroker, ReplicaLogEnd, TopicRecord,
};
use super::state::{MetadataState, PartitionState};
use crate::protocol::codes;

/// Kafka's FENCED_LEADER_EPOCH: the request's leader epoch is not the current one.
pub const FENCED_LEADER_EPOCH: i16 = 74;
/// Kafka's STALE_BROKER_EPOCH: the request comes from an older broker incarnation.
pub const STALE_BROKER_EPOCH: i16 = 77;
/// Kafka's PREFERRED_LEADER_NOT_AVAILABLE.
pub const PREFERRED_LEADER_NOT_AVAILABLE: i16 = 80;
/// Kafka's ELIGIBLE_LEADERS_NOT_AVAILABLE.
pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: i16 = 83;
/// Kafka's ELECTION_NOT_NEEDED.
pub const ELECTION_NOT_NEEDED: i16 = 84;
/// Kafka's INVALID_UPDATE_VERSION: the request's partition epoch is not the current one.
pub const INVALID_UPDATE_VERSION: i16 = 95;
/// Kafka's DUPLICATE_BROKER_REGISTRATION.
pub const DUPLICATE_BROKER_REGISTRATION: i16 = 101;
/// Kafka's BROKER_ID_NOT_REGISTERED.
pub const BROKER_ID_NOT_REGISTERED: i16 = 102;
/// Kafka's INELIGIBLE_REPLICA: a proposed ISR member is fenced or shutting down (KIP-841).
pub const INELIGIBLE_REPLICA: i16 = 107;

/// How AlterPartition requests are validated (SIMULATION.md, "Knobs for modern protections").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlterPartitionMode {
    /// KIP-497 with KIP-841: the leader epoch, the requester being leader, the partition
    /// epoch, and every member being an unfenced broker not shutting down are all checked.
    Kip497,
    /// ZooKeeper-era conditional write: only the partition epoch (zkVersion) is checked, so
    /// fenced or restarted brokers can be put back in the ISR.
    Legacy,
}

/// Controller settings, under Kafka's names where Kafka has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// `unclean.leader.election.enable` for topics without an override.
    pub unclean_leader_election_enable: bool,
    /// Per-topic `unclean.leader.election.enable` overrides.
    pub topic_unclean_leader_election_enable: BTreeMap<String, bool>,
    /// `min.insync.replicas`: not a floor for the ISR (Kafka's rule); reported by
    /// [`Controller::under_min_isr`] for acks=all producers and checkers.
    pub min_insync_replicas: i32,
    /// `broker.session.timeout.ms`: a broker silent this long is fenced.
    pub broker_session_timeout_ms: u64,
    /// `[model] alter_partition`: which AlterPartition validation to run.
    pub alter_partition: AlterPartitionMode,
    /// `[model]` KIP-841/903-style fencing of restarted brokers: a new incarnation of a known
    /// broker registers fenced, leaves the ISRs it was in, and is unfenced (eligible to lead
    /// and rejoin ISRs) only by a heartbeat that reports it caught up. Off: a restarted broker
    /// is unfenced at once and keeps its ISR memberships.
    pub fence_restarted_brokers: bool,
    /// `[model] eligible_leader_replicas` (KIP-966; module doc). Off: the ISR never empties
    /// and its last member leads again whatever it lost.
    pub eligible_leader_replicas: bool,
    /// TEST-ONLY planted bugs (see [`crate::planted`]); none in real mode.
    pub planted: crate::planted::PlantedBugs,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            unclean_leader_election_enable: false,
            topic_unclean_leader_election_enable: BTreeMap::new(),
            min_insync_replicas: 1,
            broker_session_timeout_ms: 9000,
            alter_partition: AlterPartitionMode::Kip497,
            fence_restarted_brokers: true,
            eligible_leader_replicas: false,
            planted: crate::planted::PlantedBugs::default(),
        }
    }
}

impl ControllerConfig {
    /// Whether unclean leader election is enabled for `topic` (its override, else global).
    pub fn unclean_enabled_for(&self, topic: &str) -> bool {
        let topic_value = self.topic_unclean_leader_election_enable.get(topic);
        topic_value
            .copied()
            .unwrap_or(self.unclean_leader_election_enable)
    }
}

/// Which election the admin ElectLeaders call asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionType {
    /// Move leadership to the preferred replica if it is a live ISR member.
    Preferred,
    /// Give a leaderless partition a leader, from outside the ISR if need be.
    Unclean,
}

/// Why an input was rejected; each maps to one Kafka error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControllerError {
    /// The topic or partition does not exist.
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    /// The broker never registered.
    #[error("broker {0} is not registered")]
    BrokerIdNotRegistered(i32),
    /// The request comes from an older incarnation of the broker.
    #[error("broker {broker_id} incarnation {incarnation} is stale")]
    StaleBrokerEpoch {
        /// The broker.
        broker_id: i32,
        /// The stale incarnation in the request.
        incarnation: u64,
    },
    /// The same incarnation registered again with a different endpoint.
    #[error("broker {0} registered twice with different endpoints")]
    DuplicateBrokerRegistration(i32),
    /// The request's leader epoch is not the partition's current one.
    #[error("leader epoch {request} is not the current {current}")]
    FencedLeaderEpoch {
        /// The epoch in the request.
        request: i32,
        /// The partition's epoch.
        current: i32,
    },
    /// The requester does not lead the partition.
    #[error("broker {0} is not the leader")]
    NotLeaderOrFollower(i32),
    /// The request's partition epoch is not the partition's current one.
    #[error("partition epoch {request} is not the current {current}")]
    InvalidUpdateVersion {
        /// The epoch in the request.
        request: i32,
        /// The partition's epoch.
        current: i32,
    },
    /// A proposed ISR member is fenced, unknown or shutting down.
    #[error("ISR member {0} is fenced or shutting down")]
    IneligibleReplica(i32),
    /// The request is malformed (empty ISR, ISR without the leader, non-replica member…).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The topic already exists.
    #[error("topic {0} already exists")]
    TopicAlreadyExists(String),
    /// The topic name is not legal.
    #[error("invalid topic name {0:?}")]
    InvalidTopic(String),
    /// The partition count is below 1.
    #[error("invalid partition count {0}")]
    InvalidPartitions(i32),
    /// The replication factor is below 1 or above the unfenced brokers.
    #[error("replication factor {requested} with {available} unfenced brokers")]
    InvalidReplicationFactor {
        /// The requested factor.
        requested: i32,
        /// Unfenced brokers available.
        available: usize,
    },
    /// The election would not change anything.
    #[error("election not needed")]
    ElectionNotNeeded,
    /// The preferred replica is not a live ISR member.
    #[error("preferred leader not available")]
    PreferredLeaderNotAvailable,
    /// No live replica can lead.
    #[error("eligible leaders not available")]
    EligibleLeadersNotAvailable,
}

impl ControllerError {
    /// The Kafka error code for the response.
    pub fn code(&self) -> i16 {
        match self {
            ControllerError::UnknownTopicOrPartition => codes::UNKNOWN_TOPIC_OR_PARTITION,
            ControllerError::BrokerIdNotRegistered(_) => BROKER_ID_NOT_REGISTERED,
            ControllerError::StaleBrokerEpoch { .. } => STALE_BROKER_EPOCH,
            ControllerError::DuplicateBrokerRegistration(_) => DUPLICATE_BROKER_REGISTRATION,
            ControllerError::FencedLeaderEpoch { .. } => FENCED_LEADER_EPOCH,
            ControllerError::NotLeaderOrFollower(_) => codes::NOT_LEADER_OR_FOLLOWER,
            ControllerError::InvalidUpdateVersion { .. } => INVALID_UPDATE_VERSION,
            ControllerError::IneligibleReplica(_) => INELIGIBLE_REPLICA,
            ControllerError::InvalidRequest(_) => codes::INVALID_REQUEST,
            ControllerError::TopicAlreadyExists(_) => codes::TOPIC_ALREADY_EXISTS,
            ControllerError::InvalidTopic(_) => codes::INVALID_TOPIC_EXCEPTION,
            ControllerError::InvalidPartitions(_) => codes::INVALID_PARTITIONS,
            ControllerError::InvalidReplicationFactor { .. } => codes::INVALID_REPLICATION_FACTOR,
            ControllerError::ElectionNotNeeded => ELECTION_NOT_NEEDED,
            ControllerError::PreferredLeaderNotAvailable => PREFERRED_LEADER_NOT_AVAILABLE,
            ControllerError::EligibleLeadersNotAvailable => ELIGIBLE_LEADERS_NOT_AVAILABLE,
        }
    }
}

/// What a new controller does on taking over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failover {
    /// To persist and apply: the bump of the controller epoch.
    pub records: Vec<MetadataRecord>,
    /// The full state as of after `records`, as records from an empty state: what to resend
    /// to every broker (and a valid snapshot of the log).
    pub full_state: Vec<MetadataRecord>,
}

/// Longest legal topic name (Kafka's limit).
const TOPIC_NAME_LEN_MAX: usize = 249;

/// Records being built against a scratch copy of the state, each applied to it when built,
/// so later decisions in the same batch see earlier ones.
struct Batch {
    /// The published state plus the records built so far.
    scratch: MetadataState,
    /// The records built so far, in order.
    records: Vec<MetadataRecord>,
}

impl Batch {
    fn push(&mut self, record: MetadataRecord) {
        self.scratch.apply(&record);
        self.records.push(record);
    }
}

/// The controller's decision core: published metadata plus the volatile liveness it tracks.
#[derive(Clone, Debug)]
pub struct Controller {
    /// Settings.
    config: ControllerConfig,
    /// Published (durable) metadata.
    state: MetadataState,
    /// Last heartbeat or registration of each broker, for session expiry. Volatile: a new
    /// controller starts every session afresh ([`Controller::on_failover`]).
    last_heartbeat_ms: BTreeMap<i32, u64>,
    /// Brokers in controlled shutdown: their heartbeats never unfence them. Volatile.
    shutting_down: BTreeSet<i32>,
    /// Each replica's `(last epoch, end offset)` as its broker last reported at registration,
    /// by `(topic, partition, broker)`. Volatile: brokers re-register after a fail-over.
    log_ends: BTreeMap<(String, i32, i32), (i32, i64)>,
    /// A non-empty batch was returned and not yet applied.
    awaiting_apply: bool,
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
        }
    }

    /// A registering broker's hosted replicas' log ends (volatile; no records). Ignored from
    /// an incarnation older than the one registered: that process is gone.
    pub fn report_log_ends(&mut self, broker_id: i32, incarnation: u64, ends: &[ReplicaLogEnd]) {
        let known = self.state.broker(broker_id).map(|b| b.incarnation);
        if known.is_some_and(|known| incarnation < known) {
            return;
        }
        self.log_ends
            .retain(|(_, _, broker), _| *broker != broker_id);
        for end in ends {
            let key = (end.topic.clone(), end.partition, broker_id);
            self.log_ends.insert(key, (end.last_epoch, end.end_offset));
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
        for record in records {
            self.state.apply(record);
        }
        self.awaiting_apply = false;
    }

    /// A broker (re)registers. A known broker with a greater incarnation restarted: with
    /// `fence_restarted_brokers` it stays fenced, leaves its ISRs (last member kept) and loses
    /// leadership until a caught-up heartbeat; without, it is unfenced at once and partitions
    /// it led are re-elected with a new leader epoch. A brand-new broker is unfenced at once.
    /// With `eligible_leader_replicas`, a restart after an unclean shutdown first removes the
    /// broker from every ISR and ELR. The shutdown was clean when the broker reports, as the
    /// incarnation its clean-shutdown marker named (`previous_incarnation`, KIP-966's previous
    /// broker epoch), the incarnation registered last; anything else — no marker, or a marker
    /// from an older incarnation — is unclean.
    pub fn register_broker(
        &mut self,
        broker_id: i32,
        incarnation: u64,
        endpoint: Endpoint,
        now_ms: u64,
        previous_incarnation: Option<u64>,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let known = self.state.broker(broker_id).cloned();
        if let Some(known) = &known {
            if incarnation < known.incarnation {
                return Err(ControllerError::StaleBrokerEpoch {
                    broker_id,
                    incarnation,
                });
            }
            if incarnation == known.incarnation {
                if known.endpoint != endpoint {
                    return Err(ControllerError::DuplicateBrokerRegistration(broker_id));
                }
                self.last_heartbeat_ms.insert(broker_id, now_ms);
                return Ok(Vec::new());
            }
        }
        self.last_heartbeat_ms.insert(broker_id, now_ms);
        self.shutting_down.remove(&broker_id);
        let clean_shutdown = known
            .as_ref()
            .is_some_and(|known| previous_incarnation == Some(known.incarnation));
        let registration = RegisterBroker {
            broker_id,
            incarnation,
            endpoint,
        };
        batch.push(MetadataRecord::RegisterBroker(registration));
        if known.is_some() && self.config.eligible_leader_replicas && !clean_shutdown {
            self.remove_unclean(&mut batch, broker_id);
        }
        if known.is_some() && self.config.fence_restarted_brokers {
            let reason = ChangeReason::BrokerRestarted;
            self.move_off(&mut batch, broker_id, reason);
        } else {
            self.unfence(&mut batch, broker_id);
            if known.is_some() {
                self.reelect_led_by(&mut batch, broker_id);
            }
        }
        Ok(self.finish(batch))
    }

    /// A broker's heartbeat keeps its session alive. A fenced broker not shutting down is
    /// unfenced when it reports `caught_up` (always, when `fence_restarted_brokers` is off),
    /// and leaderless partitions it can lead get it as leader.
    pub fn heartbeat(
        &mut self,
        broker_id: i32,
        incarnation: u64,
        now_ms: u64,
        caught_up: bool,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let broker = self.state.broker(broker_id);
        let broker = broker.ok_or(ControllerError::BrokerIdNotRegistered(broker_id))?;
        if broker.incarnation != incarnation {
            return Err(ControllerError::StaleBrokerEpoch {
                broker_id,
                incarnation,
            });
        }
        self.last_heartbeat_ms.insert(broker_id, now_ms);
        let may_unfence = caught_up || !self.config.fence_restarted_brokers;
        if broker.fenced && may_unfence && !self.shutting_down.contains(&broker_id) {
            self.unfence(&mut batch, broker_id);
        } else if !broker.fenced && self.config.eligible_leader_replicas {
            // Unclean recovery may have been waiting for this broker's log end (reported at a
            // re-registration, say after a controller fail-over): offline partitions it hosts
            // try again. Nothing changes, and no record is written, if they still cannot.
            self.retry_offline(&mut batch, broker_id);
        }
        Ok(self.finish(batch))
    }

    /// Fences every unfenced broker silent for `broker_session_timeout_ms` or more, in id
    /// order, moving leadership off it first.
    pub fn tick(&mut self, now_ms: u64) -> Vec<MetadataRecord> {
        let mut batch = self.begin();
        let timeout_ms = self.config.broker_session_timeout_ms;
        let mut expired = Vec::new();
        for broker_id in self.state.unfenced_brokers() {
            let last_ms = *self.last_heartbeat_ms.entry(broker_id).or_insert(now_ms);
            if now_ms.saturating_sub(last_ms) >= timeout_ms {
                expired.push(broker_id);
            }
        }
        for broker_id in expired {
            self.fence(&mut batch, broker_id, ChangeReason::BrokerFenced);
        }
        self.finish(batch)
    }

    /// Creates a topic. Replica `j` of partition `p` is `brokers[(start + p + j) % n]` over
    /// the unfenced brokers in id order, with `start` the number of existing topics, so
    /// placement is deterministic and leaders spread across topics. Every replica starts in
    /// the ISR and the first leads at epoch 0.
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        validate_topic_name(name)?;
        if self.state.topics.contains_key(name) {
            return Err(ControllerError::TopicAlreadyExists(name.to_string()));
        }
        if partitions < 1 {
            return Err(ControllerError::InvalidPartitions(partitions));
        }
        let brokers = self.state.unfenced_brokers();
        if replication_factor < 1 || replication_factor as usize > brokers.len() {
            return Err(ControllerError::InvalidReplicationFactor {
                requested: replication_factor,
                available: brokers.len(),
            });
        }
        let topic_id = topic_id_for(name, self.state.records_applied);
        batch.push(MetadataRecord::Topic(TopicRecord {
            name: name.to_string(),
            topic_id,
        }));
        let start = self.state.topics.len();
        for partition in 0..partitions {
            let replicas = place_replicas(&brokers, start + partition as usize, replication_factor);
            batch.push(MetadataRecord::Partition(PartitionRecord {
                topic: name.to_string(),
                partition,
                leader: replicas[0],
                isr: replicas.clone(),
                replicas,
                leader_epoch: 0,
                partition_epoch: 0,
            }));
        }
        Ok(self.finish(batch))
    }

    /// Creates a topic with a given placement (the cluster's initial topics, written into a
    /// new metadata log before any broker registered): replica lists as given, the first
    /// replica leads at epoch 0, every replica in the ISR.
    pub fn bootstrap_topic(
        &mut self,
        name: &str,
        placement: &[Vec<i32>],
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        validate_topic_name(name)?;
        if self.state.topics.contains_key(name) {
            return Err(ControllerError::TopicAlreadyExists(name.to_string()));
        }
        if placement.is_empty() || placement.iter().any(|replicas| replicas.is_empty()) {
            return Err(ControllerError::InvalidPartitions(placement.len() as i32));
        }
        let topic_id = topic_id_for(name, self.state.records_applied);
        batch.push(MetadataRecord::Topic(TopicRecord {
            name: name.to_string(),
            topic_id,
        }));
        for (partition, replicas) in placement.iter().enumerate() {
            batch.push(MetadataRecord::Partition(PartitionRecord {
                topic: name.to_string(),
                partition: partition as i32,
                leader: replicas[0],
                isr: replicas.clone(),
                replicas: replicas.clone(),
                leader_epoch: 0,
                partition_epoch: 0,
            }));
        }
        Ok(self.finish(batch))
    }

    /// Deletes a topic and its partitions.
    pub fn delete_topic(&mut self, name: &str) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        if !self.state.topics.contains_key(name) {
            return Err(ControllerError::UnknownTopicOrPartition);
        }
        batch.push(MetadataRecord::RemoveTopic {
            name: name.to_string(),
        });
        Ok(self.finish(batch))
    }

    /// AlterPartition (KIP-497): the leader proposes a new ISR. Rejected: a stale leader epoch
    /// (FENCED_LEADER_EPOCH), a requester that does not lead (NOT_LEADER_OR_FOLLOWER), a stale
    /// partition epoch (INVALID_UPDATE_VERSION), an ISR that is empty, has duplicates, holds a
    /// non-replica or lacks the leader (INVALID_REQUEST), a fenced or shutting-down member
    /// (INELIGIBLE_REPLICA). A shrink below `min.insync.replicas` is accepted, as in Kafka: it
    /// is what makes acks=all fail with NOT_ENOUGH_REPLICAS. In `Legacy` mode only the
    /// partition epoch and the ISR's shape are checked. Accepted: the partition epoch is bumped,
    /// the leader epoch kept; the response is the partition's state after [`Controller::apply`].
    /// An ISR equal (as a set) to the current one needs no record.
    pub fn alter_partition(
        &mut self,
        broker_id: i32,
        topic: &str,
        partition: i32,
        new_isr: &[i32],
        leader_epoch: i32,
        partition_epoch: i32,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let current = self.state.partition(topic, partition);
        let current = current.ok_or(ControllerError::UnknownTopicOrPartition)?;
        if self.config.alter_partition == AlterPartitionMode::Kip497 {
            if leader_epoch != current.leader_epoch {
                return Err(ControllerError::FencedLeaderEpoch {
                    request: leader_epoch,
                    current: current.leader_epoch,
                });
            }
            if broker_id != current.leader {
                return Err(ControllerError::NotLeaderOrFollower(broker_id));
            }
        }
        if partition_epoch != current.partition_epoch {
            return Err(ControllerError::InvalidUpdateVersion {
                request: partition_epoch,
                current: current.partition_epoch,
            });
        }
        validate_isr_shape(current, new_isr)?;
        if self.config.alter_partition == AlterPartitionMode::Kip497 {
            if let Some(&member) = new_isr.iter().find(|&&b| !self.eligible(&self.state, b)) {
                return Err(ControllerError::IneligibleReplica(member));
            }
        }
        if same_members(&current.isr, new_isr) {
            return Ok(Vec::new());
        }
        let (elr, last_known_elr) = self.elr_after(current, new_isr, None);
        let outcome = Outcome {
            leader: current.leader,
            isr: new_isr.to_vec(),
            bump_leader_epoch: false,
            reason: ChangeReason::AlterPartition,
            elr,
            last_known_elr,
        };
        push_outcome(&mut batch, topic, partition, outcome);
        Ok(self.finish(batch))
    }

    /// Controlled shutdown: leadership moves to other live ISR members and the broker leaves
    /// ISRs (last member kept), then it is fenced. Later heartbeats from this incarnation keep
    /// its session but never unfence it; a new registration ends the shutdown.
    pub fn controlled_shutdown(
        &mut self,
        broker_id: i32,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let broker = self.state.broker(broker_id);
        let broker = broker.ok_or(ControllerError::BrokerIdNotRegistered(broker_id))?;
        self.shutting_down.insert(broker_id);
        if !broker.fenced {
            self.fence(&mut batch, broker_id, ChangeReason::ControlledShutdown);
        }
        Ok(self.finish(batch))
    }

    /// The admin ElectLeaders call for one partition. `Preferred` moves leadership to the
    /// preferred replica if it is a live ISR member. `Unclean` gives a leaderless partition a
    /// leader: a live ISR member if any, else any live replica (with the ISR reset to it),
    /// whatever `unclean.leader.election.enable` says — the admin asked for it.
    pub fn elect_leaders(
        &mut self,
        topic: &str,
        partition: i32,
        election: ElectionType,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let current = self.state.partition(topic, partition);
        let current = current.ok_or(ControllerError::UnknownTopicOrPartition)?;
        let outcome = match election {
            ElectionType::Preferred => self.preferred_election(current)?,
            ElectionType::Unclean => self.unclean_election(current)?,
        };
        push_outcome(&mut batch, topic, partition, outcome);
        Ok(self.finish(batch))
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

    /// Partitions whose ISR is smaller than `min(min.insync.replicas, replication factor)`:
    /// acks=all produce to them fails with NOT_ENOUGH_REPLICAS.
    pub fn under_min_isr(&self) -> Vec<(String, i32)> {
        let min_isr = self.config.min_insync_replicas.max(1) as usize;
        let under = self
            .state
            .partitions()
            .filter(|(_, _, p)| p.isr.len() < min_isr.min(p.replicas.len()));
        under
            .map(|(topic, partition, _)| (topic.to_string(), partition))
            .collect()
    }

    fn begin(&self) -> Batch {
        assert!(
            !self.awaiting_apply,
            "controller input before the previous batch was applied (see the durability contract)"
        );
        Batch {
            scratch: self.state.clone(),
            records: Vec::new(),
        }
    }

    fn finish(&mut self, batch: Batch) -> Vec<MetadataRecord> {
        self.awaiting_apply = !batch.records.is_empty();
        batch.records
    }

    /// Whether `broker_id` may lead or join an ISR in `state`.
    fn eligible(&self, state: &MetadataState, broker_id: i32) -> bool {
        state.is_unfenced(broker_id) && !self.shutting_down.contains(&broker_id)
    }

    /// Leadership and ISR membership move off `broker_id`, then it is fenced.
    fn fence(&self, batch: &mut Batch, broker_id: i32, reason: ChangeReason) {
        self.move_off(batch, broker_id, reason);
        batch.push(MetadataRecord::FenceBroker { broker_id });
    }

    /// Every partition `broker_id` leads or is in the ISR of is re-elected without it.
    fn move_off(&self, batch: &mut Batch, broker_id: i32, reason: ChangeReason) {
        let step = Reelect {
            leaving: Some(broker_id),
            unclean_shutdown: false,
            force: false,
            reason,
        };
        self.reelect_where(batch, |p| p.in_isr(broker_id), step);
    }

    /// KIP-966: a broker back from an unclean shutdown may have lost its unflushed tail, so it
    /// leaves every ISR (even as the last member) and every ELR, and partitions re-elect.
    fn remove_unclean(&self, batch: &mut Batch, broker_id: i32) {
        let step = Reelect {
            leaving: Some(broker_id),
            unclean_shutdown: true,
            force: false,
            reason: ChangeReason::BrokerRestarted,
        };
        let touched = |p: &PartitionState| p.in_isr(broker_id) || p.in_elr(broker_id);
        self.reelect_where(batch, touched, step);
    }

    /// Unfences `broker_id`; leaderless partitions then elect whoever is eligible.
    fn unfence(&self, batch: &mut Batch, broker_id: i32) {
        batch.push(MetadataRecord::UnfenceBroker { broker_id });
        self.reelect_where(batch, |p| p.leader == -1, RETRY_OFFLINE);
    }

    /// Offline partitions hosted on `broker_id` re-elect.
    fn retry_offline(&self, batch: &mut Batch, broker_id: i32) {
        let hosted_offline = |p: &PartitionState| p.leader == -1 && p.replicas.contains(&broker_id);
        self.reelect_where(batch, hosted_offline, RETRY_OFFLINE);
    }

    /// Partitions led by a restarted broker's previous incarnation get a new leader epoch
    /// (possibly the same leader), so followers reconcile their logs with the new process.
    fn reelect_led_by(&self, batch: &mut Batch, broker_id: i32) {
        let step = Reelect {
            leaving: None,
            unclean_shutdown: false,
            force: true,
            reason: ChangeReason::BrokerRestarted,
        };
        self.reelect_where(batch, |p| p.leader == broker_id, step);
    }

    /// Every partition matching `predicate` (in the state as the batch has it now) re-elects
    /// under `step`, in topic then partition order.
    fn reelect_where(
        &self,
        batch: &mut Batch,
        predicate: impl Fn(&PartitionState) -> bool,
        step: Reelect,
    ) {
        for (topic, partition) in partitions_where(&batch.scratch, predicate) {
            self.push_reelection(batch, &topic, partition, step);
        }
    }

    fn push_reelection(&self, batch: &mut Batch, topic: &str, partition: i32, step: Reelect) {
        let current = batch
            .scratch
            .partition(topic, partition)
            .expect("listed partition");
        let unclean = self.config.unclean_enabled_for(topic);
        let eligible = |b: i32| Some(b) != step.leaving && self.eligible(&batch.scratch, b);
        let longest = |members: &[i32]| self.longest_log(topic, partition, members, &eligible);
        let outcome = self.reelect(current, &eligible, &longest, unclean, &step);
        if let Some(outcome) = outcome {
            push_outcome(batch, topic, partition, outcome);
        }
    }

    /// The outcome (if anything changes) of re-electing `current` under `step` (module doc).
    fn reelect(
        &self,
        current: &PartitionState,
        eligible: &dyn Fn(i32) -> bool,
        longest: &dyn Fn(&[i32]) -> Option<i32>,
        unclean: bool,
        step: &Reelect,
    ) -> Option<Outcome> {
        let elr_mode = self.config.eligible_leader_replicas;
        let mut isr = current.isr.clone();
        if let Some(leaving) = step.leaving {
            if isr.len() > 1 || elr_mode {
                isr.retain(|&b| b != leaving);
            }
        }
        let unclean_leaver = step.leaving.filter(|_| step.unclean_shutdown);
        let (elr, last_known_elr) = self.elr_after(current, &isr, unclean_leaver);
        let leader_stays =
            current.leader != -1 && eligible(current.leader) && isr.contains(&current.leader);
        let mut outcome = Outcome {
            leader: current.leader,
            isr,
            bump_leader_epoch: false,
            reason: step.reason,
            elr,
            last_known_elr,
        };
        if !(leader_stays && !step.force) {
            let candidates = Candidates {
                isr: &outcome.isr,
                elr: &outcome.elr,
                recovery: longest(&outcome.last_known_elr),
            };
            let choice = choose_leader(current, &candidates, eligible, unclean);
            self.elect(current, &mut outcome, choice);
        }
        outcome.bump_leader_epoch = step.force && outcome.leader != -1;
        let unchanged = outcome.leader == current.leader
            && outcome.isr == current.isr
            && !outcome.bump_leader_epoch
            && outcome.elr == current.elr
            && outcome.last_known_elr == current.last_known_elr;
        (!unchanged).then_some(outcome)
    }

    /// Makes `choice` the leader of `outcome`: an ELR or last-known-ELR member leads with
    /// itself as the ISR (the lists keep the others while the ISR is below the minimum); an
    /// unclean leader empties both; `Clean` keeps the outcome's ISR and reason.
    fn elect(&self, current: &PartitionState, outcome: &mut Outcome, choice: Choice) {
        let below_min = self.min_isr(current) > 1;
        match choice {
            Choice::Clean(b) => outcome.leader = b,
            Choice::Eligible(b) => {
                outcome.leader = b;
                outcome.isr = vec![b];
                outcome.elr.retain(|&e| e != b && below_min);
                outcome.reason = ChangeReason::EligibleLeaderElection;
            }
            Choice::Recovered(b) => {
                outcome.leader = b;
                outcome.isr = vec![b];
                outcome.last_known_elr.retain(|&e| e != b && below_min);
                outcome.reason = ChangeReason::LastKnownElrRecovery;
            }
            Choice::Unclean(b) => {
                outcome.leader = b;
                outcome.isr = vec![b];
                outcome.elr.clear();
                outcome.last_known_elr.clear();
                outcome.reason = ChangeReason::UncleanElection;
            }
            Choice::Offline => outcome.leader = -1,
        }
    }

    /// `min(min.insync.replicas, RF)` for `current`, at least 1.
    fn min_isr(&self, current: &PartitionState) -> usize {
        let min_isr = self.config.min_insync_replicas.max(1) as usize;
        min_isr.min(current.replicas.len())
    }

    /// The ELR and last known ELR once `current`'s ISR becomes `new_isr` (module doc), with
    /// `unclean_leaver` a broker leaving for an unclean shutdown. Both empty unless
    /// `eligible_leader_replicas` is on.
    fn elr_after(
        &self,
        current: &PartitionState,
        new_isr: &[i32],
        unclean_leaver: Option<i32>,
    ) -> (Vec<i32>, Vec<i32>) {
        if !self.config.eligible_leader_replicas || new_isr.len() >= self.min_isr(current) {
            return (Vec::new(), Vec::new());
        }
        let was_member = |b: &i32| current.in_isr(*b) || current.in_elr(*b);
        let outside_isr = |b: &i32| !new_isr.contains(b);
        let unclean = |b: &i32| Some(*b) == unclean_leaver;
        let replicas = current.replicas.iter().copied();
        let elr: Vec<i32> = replicas
            .clone()
            .filter(|b| was_member(b) && outside_isr(b) && !unclean(b))
            .collect();
        let last_known_elr = replicas
            .filter(|b| current.last_known_elr.contains(b) || (unclean(b) && was_member(b)))
            .filter(|b| outside_isr(b) && !elr.contains(b))
            .collect();
        (elr, last_known_elr)
    }

    /// Unclean recovery's choice among `members` (the last known ELR): none unless every one
    /// is `eligible` and reported its log end; then the longest log, by last epoch then end
    /// offset, assignment order (the order of `members`) breaking ties.
    fn longest_log(
        &self,
        topic: &str,
        partition: i32,
        members: &[i32],
        eligible: &dyn Fn(i32) -> bool,
    ) -> Option<i32> {
        let mut best: Option<(i32, (i32, i64))> = None;
        for &member in members {
            let key = (topic.to_string(), partition, member);
            let end = *self.log_ends.get(&key)?;
            if !eligible(member) {
                return None;
            }
            if best.is_none_or(|(_, best_end)| end > best_end) {
                best = Some((member, end));
            }
        }
        best.map(|(member, _)| member)
    }

    fn preferred_election(&self, current: &PartitionState) -> Result<Outcome, ControllerError> {
        let preferred = current.preferred_leader();
        if current.leader == preferred {
            return Err(ControllerError::ElectionNotNeeded);
        }
        if !current.in_isr(preferred) || !self.eligible(&self.state, preferred) {
            return Err(ControllerError::PreferredLeaderNotAvailable);
        }
        Ok(Outcome {
            leader: preferred,
            isr: current.isr.clone(),
            bump_leader_epoch: true,
            reason: ChangeReason::PreferredElection,
            elr: current.elr.clone(),
            last_known_elr: current.last_known_elr.clone(),
        })
    }

    fn unclean_election(&self, current: &PartitionState) -> Result<Outcome, ControllerError> {
        if current.leader != -1 {
            return Err(ControllerError::ElectionNotNeeded);
        }
        let eligible = |b: i32| self.eligible(&self.state, b);
        let candidates = Candidates {
            isr: &current.isr,
            elr: &current.elr,
            recovery: None,
        };
        let choice = choose_leader(current, &candidates, &eligible, true);
        if matches!(choice, Choice::Offline) {
            return Err(ControllerError::EligibleLeadersNotAvailable);
        }
        let mut outcome = Outcome {
            leader: current.leader,
            isr: current.isr.clone(),
            bump_leader_epoch: true,
            reason: ChangeReason::AdminElection,
            elr: current.elr.clone(),
            last_known_elr: current.last_known_elr.clone(),
        };
        self.elect(current, &mut outcome, choice);
        Ok(outcome)
    }
}

/// Leaderless partitions try again to find a leader (nobody leaves).
const RETRY_OFFLINE: Reelect = Reelect {
    leaving: None,
    unclean_shutdown: false,
    force: false,
    reason: ChangeReason::BrokerUnfenced,
};

/// How to re-elect one partition.
#[derive(Clone, Copy)]
struct Reelect {
    /// A broker going away: ineligible, and removed from the ISR unless it is the last member
    /// (removed even then with eligible leader replicas).
    leaving: Option<i32>,
    /// `leaving` is back from an unclean shutdown: it leaves the ELR too and does not join it.
    unclean_shutdown: bool,
    /// Elect even if the current leader could stay (a restarted leader), bumping the epoch.
    force: bool,
    /// Why, for the record (replaced by `UncleanElection` when that is what happens).
    reason: ChangeReason,
}

/// Who may lead, in order of preference.
struct Candidates<'a> {
    /// The ISR.
    isr: &'a [i32],
    /// The eligible leader replicas.
    elr: &'a [i32],
    /// Unclean recovery's pick from the last known ELR, if it can pick now.
    recovery: Option<i32>,
}

/// The result of an election for one partition.
enum Choice {
    /// A live ISR member.
    Clean(i32),
    /// A live eligible leader replica (the ISR had no live member).
    Eligible(i32),
    /// A live member of the last known ELR (the ISR and ELR had emptied).
    Recovered(i32),
    /// A live replica outside the ISR.
    Unclean(i32),
    /// Nobody can lead.
    Offline,
}

/// A partition's leadership and ISR after a decision, before it becomes a record.
struct Outcome {
    /// The new leader, -1 for none.
    leader: i32,
    /// The new ISR.
    isr: Vec<i32>,
    /// Bump the leader epoch even if the leader is the same one (a restarted leader).
    bump_leader_epoch: bool,
    /// Why.
    reason: ChangeReason,
    /// The eligible leader replicas after the decision.
    elr: Vec<i32>,
    /// The last known ELR after the decision.
    last_known_elr: Vec<i32>,
}

/// Pushes the records that make `outcome` true of the partition: a `PartitionChange` if its
/// leader, ISR or epoch changes, then an `EligibleLeaders` if its ELR differs from the one the
/// change leaves.
fn push_outcome(batch: &mut Batch, topic: &str, partition: i32, outcome: Outcome) {
    let current = batch.scratch.partition(topic, partition);
    let current = current.expect("listed partition").clone();
    let leader_changed = outcome.leader != current.leader || outcome.bump_leader_epoch;
    if leader_changed || outcome.isr != current.isr {
        let isr_changed = outcome.isr != current.isr;
        batch.push(MetadataRecord::PartitionChange(PartitionChange {
            topic: topic.to_string(),
            partition,
            leader: leader_changed.then_some(outcome.leader),
            isr: isr_changed.then(|| outcome.isr.clone()),
            leader_epoch: current.leader_epoch + leader_changed as i32,
            partition_epoch: current.partition_epoch + 1,
            reason: outcome.reason,
        }));
    }
    let after = batch
        .scratch
        .partition(topic, partition)
        .expect("listed partition");
    if after.elr != outcome.elr || after.last_known_elr != outcome.last_known_elr {
        batch.push(MetadataRecord::EligibleLeaders(EligibleLeadersRecord {
            topic: topic.to_string(),
            partition,
            elr: outcome.elr,
            last_known_elr: outcome.last_known_elr,
        }));
    }
}

/// Preferred-first among live ISR members; then live ELR members; then live last known ELR
/// members; then, if `unclean`, the first live replica.
fn choose_leader(
    current: &PartitionState,
    candidates: &Candidates,
    eligible: &dyn Fn(i32) -> bool,
    unclean: bool,
) -> Choice {
    let replicas = current.replicas.iter().copied();
    let live_in = |set: &[i32]| replicas.clone().find(|b| set.contains(b) && eligible(*b));
    if let Some(b) = live_in(candidates.isr) {
        return Choice::Clean(b);
    }
    if let Some(b) = live_in(candidates.elr) {
        return Choice::Eligible(b);
    }
    if candidates.isr.is_empty() && candidates.elr.is_empty() {
        if let Some(b) = candidates.recovery {
            return Choice::Recovered(b);
        }
    }
    match replicas.clone().find(|b| eligible(*b)) {
        Some(b) if unclean => Choice::Unclean(b),
        _ => Choice::Offline,
    }
}

/// `(topic, partition)` of every partition in `state` matching `predicate`, in order.
fn partitions_where(
    state: &MetadataState,
    predicate: impl Fn(&PartitionState) -> bool,
) -> Vec<(String, i32)> {
    let matching = state.partitions().filter(|(_, _, p)| predicate(p));
    matching
        .map(|(topic, partition, _)| (topic.to_string(), partition))
        .collect()
}

/// Replicas for the partition at round-robin position `position`.
fn place_replicas(brokers: &[i32], position: usize, replication_factor: i32) -> Vec<i32> {
    let replicas = 0..replication_factor as usize;
    replicas
        .map(|j| brokers[(position + j) % brokers.len()])
        .collect()
}

/// A deterministic, never-zero, never-reused topic id: the metadata offset of its record in
/// the high half (unique per topic record) and an FNV-1a hash of the name in the low half.
fn topic_id_for(name: &str, records_applied: u64) -> u128 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    ((records_applied as u128 + 1) << 64) | hash as u128
}

/// Kafka's topic name rules: 1 to 249 of `[a-zA-Z0-9._-]`, and not `.` or `..`.
fn validate_topic_name(name: &str) -> Result<(), ControllerError> {
    let legal_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let legal = !name.is_empty()
        && name.len() <= TOPIC_NAME_LEN_MAX
        && legal_chars
        && name != "."
        && name != "..";
    if legal {
        Ok(())
    } else {
        Err(ControllerError::InvalidTopic(name.to_string()))
    }
}

/// A proposed ISR must be non-empty, duplicate-free, within the replicas and hold the leader.
fn validate_isr_shape(current: &PartitionState, new_isr: &[i32]) -> Result<(), ControllerError> {
    let invalid = |why: String| Err(ControllerError::InvalidRequest(why));
    if new_isr.is_empty() {
        return invalid("the ISR may not be empty".into());
    }
    let distinct: BTreeSet<i32> = new_isr.iter().copied().collect();
    if distinct.len() != new_isr.len() {
        return invalid(format!("duplicate ISR members in {new_isr:?}"));
    }
    if let Some(b) = new_isr.iter().find(|b| !current.replicas.contains(b)) {
        return invalid(format!("ISR member {b} is not a replica"));
    }
    if current.leader == -1 || !new_isr.contains(&current.leader) {
        return invalid(format!(
            "ISR {new_isr:?} lacks the leader {}",
            current.leader
        ));
    }
    Ok(())
}

fn same_members(a: &[i32], b: &[i32]) -> bool {
    let a: BTreeSet<i32> = a.iter().copied().collect();
    let b: BTreeSet<i32> = b.iter().copied().collect();
    a == b
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
