//! The online checkers: an independent model of every partition's replicas, fed by the
//! replication events the harness observes as they happen, and checked on every event —
//! never by re-reading the state under test (SIMULATION.md, "Checkers", online part).
//!
//! The model keeps, per partition, each replica's log as (base, last, epoch, CRC) batches with
//! its log start, HW and LEO, the latest leader election, and the *committed prefix*: every
//! batch below `committed_end`, fixed the moment it was exposed — below the current leader's HW,
//! or served to a client by any broker. Each replica is compared with that prefix on the
//! offsets it itself treats as committed (below its own HW), and a clean new leader on every
//! committed offset. One file per anomaly kind; each defines its anomaly in
//! one sentence and cites the rule. Anomalies carry `events: vec![]`; their description names
//! the simulated time and the index of the observed event (0-based, in `observe` order).
//!
//! Unclean elections (`clean: false`) waive the committed prefix: the model rebases it onto
//! the new leader's log, and the loss shows in the offline checkers (lost-write, unseen,
//! acked-write-absent), which is where an allowed unclean election is judged.

use std::collections::BTreeMap;

use crate::checker::Anomaly;
use crate::history::Tp;

pub mod acks_all_underreplicated;
pub mod committed_log_divergence;
pub mod committed_truncated;
pub mod epoch_regression;
pub mod fetch_above_hw;
pub mod isr_member_incomplete;
pub mod leader_incomplete;
pub mod list_offsets_regression;
pub mod metadata_epoch_regression;
pub mod min_isr_violation;
pub mod model;
pub mod observe;
pub mod offset_order;
pub mod replica_agreement;
pub mod retention_above_hw;

#[cfg(test)]
mod scenarios;

pub use model::{Batch, ReplicaLog};
pub use replica_agreement::replica_agreement;

/// Every online anomaly kind name, sorted.
pub const ALL_KINDS: &[&str] = &[
    acks_all_underreplicated::KIND,
    committed_log_divergence::KIND,
    committed_truncated::KIND,
    epoch_regression::KIND,
    fetch_above_hw::KIND,
    isr_member_incomplete::KIND,
    leader_incomplete::KIND,
    list_offsets_regression::KIND,
    metadata_epoch_regression::KIND,
    min_isr_violation::KIND,
    offset_order::KIND,
    replica_agreement::KIND,
    retention_above_hw::KIND,
];

/// What the harness observes, in order, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaEvent {
    /// A replica (leader or follower) appended a batch.
    Appended {
        broker: i32,
        tp: Tp,
        base_offset: i64,
        last_offset: i64,
        leader_epoch: i32,
        batch_crc: u32,
    },
    /// A replica cut its log at `offset` (truncation rule or recovery). An offset above the LEO
    /// means the log was emptied and restarted there (Kafka's truncateFullyAndStartAt).
    Truncated {
        broker: i32,
        tp: Tp,
        offset: i64,
        reason: String,
    },
    /// A replica's HW changed (the leader computes it, followers learn it).
    HighWatermark {
        broker: i32,
        tp: Tp,
        high_watermark: i64,
    },
    /// A replica's log start offset changed.
    LogStart {
        broker: i32,
        tp: Tp,
        log_start_offset: i64,
    },
    /// The controller chose a leader; `clean` is false for an unclean (out-of-ISR) election.
    LeaderElected {
        tp: Tp,
        leader: i32,
        leader_epoch: i32,
        isr: Vec<i32>,
        clean: bool,
    },
    /// A leader's ISR changed (the new ISR is in force).
    IsrChanged {
        tp: Tp,
        leader: i32,
        leader_epoch: i32,
        isr: Vec<i32>,
    },
    /// The leader sent an acks=all produce acknowledgement for a batch ending at `last_offset`.
    AcksAllAcknowledged {
        tp: Tp,
        last_offset: i64,
        leader: i32,
        min_insync_replicas: usize,
    },
    /// A leader answered a client's ListOffsets(latest) with `offset`.
    LatestOffsetListed { broker: i32, tp: Tp, offset: i64 },
    /// A broker served a client fetch of `offsets` (first..=last) and reported this HW.
    ClientFetchServed {
        broker: i32,
        tp: Tp,
        offsets: (i64, i64),
        high_watermark: i64,
    },
    /// Retention deleted every offset below `below_offset` on a replica.
    RetentionDeleted {
        broker: i32,
        tp: Tp,
        below_offset: i64,
    },
    /// A broker restarted: memory lost; disk state as recovered (recovery shows up as
    /// `Truncated` events).
    BrokerRestarted { broker: i32 },
    /// A leader proposed `isr` to the controller (KIP-497), not yet in force.
    IsrProposed {
        tp: Tp,
        leader: i32,
        leader_epoch: i32,
        isr: Vec<i32>,
    },
    /// The controller made a partition's state durable and published it; `incarnations`
    /// are the ISR members' registered incarnations (0: none).
    IsrCommitted {
        tp: Tp,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
        incarnations: Vec<u64>,
        clean: bool,
    },
    /// A broker process started as this incarnation.
    Incarnation { broker: i32, incarnation: u64 },
    /// A leader appended a client's produce (before answering it).
    ClientAppended {
        broker: i32,
        tp: Tp,
        acks: i16,
        offsets: (i64, i64),
        min_insync_replicas: usize,
    },
    /// A broker applied the controller's whole metadata log: the epochs it acts on now.
    MetadataImage {
        broker: i32,
        metadata_offset: i64,
        controller_epoch: i32,
        partitions: Vec<PartitionEpochs>,
    },
}

/// One partition's leadership in a broker's metadata image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionEpochs {
    pub tp: Tp,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}

/// When an event was observed: simulated time and its index among observed events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub time_ms: u64,
    pub index: usize,
}

/// A committed batch: fixed forever once exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommittedBatch {
    pub batch: Batch,
    /// Set once a divergence from this batch was reported, so one lost batch is one anomaly.
    pub divergence_reported: bool,
}

/// The latest leader election of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Election {
    pub leader: i32,
    pub leader_epoch: i32,
}

/// One leader election as the new leader announced it, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ElectionSeen {
    pub time_ms: u64,
    pub partition: String,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    /// False for an election from outside the ISR.
    pub clean: bool,
}

/// The model of one partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionModel {
    /// Every replica seen in an event, by broker id.
    pub replicas: BTreeMap<i32, ReplicaLog>,
    /// The committed batches, keyed by base offset.
    pub committed: BTreeMap<i64, CommittedBatch>,
    /// One past the highest committed offset.
    pub committed_end: i64,
    /// The broker whose HW commits: the latest elected leader, until it restarts.
    pub leader: Option<i32>,
    /// The election with the highest epoch seen.
    pub latest_election: Option<Election>,
    /// The ISR last announced by the latest leader (at its election or a later change).
    pub isr: Vec<i32>,
    /// Every leader epoch announced, with its leader.
    pub elections: BTreeMap<i32, i32>,
    /// Every replica that ever appended each batch, keyed by (base, last, epoch, CRC).
    pub held_by: BTreeMap<(i64, i64, i32, u32), std::collections::BTreeSet<i32>>,
    /// The highest offset a ListOffsets(latest) answer gave (reset by an unclean election).
    pub latest_listed: Option<i64>,
    /// One past the highest offset acknowledged to an acks=all producer.
    pub acknowledged_end: i64,
    /// The ISR the controller last committed, once it committed one.
    pub controller_isr: Option<Vec<i32>>,
    /// Each broker's own latest (leader epoch, ISR) as leader: what it acts on.
    pub leader_isr: BTreeMap<i32, (i32, Vec<i32>)>,
    /// Committed offsets at or above this were already reported lost everywhere.
    pub lost_reported_from: Option<i64>,
}

impl PartitionModel {
    pub fn replica(&mut self, broker: i32) -> &mut ReplicaLog {
        self.replicas.entry(broker).or_default()
    }

    /// The largest LEO over the replicas: committed offsets at or above it are held nowhere.
    pub fn max_log_end_offset(&self) -> i64 {
        self.replicas
            .values()
            .map(|replica| replica.log_end_offset)
            .max()
            .unwrap_or(0)
    }
}

/// The independent model and the online checks over it.
#[derive(Debug, Clone, Default)]
pub struct OnlineChecker {
    /// Every partition seen, by topic-partition.
    partitions: BTreeMap<Tp, PartitionModel>,
    /// How many events were observed, which is the next event's index.
    observed: usize,
    /// Every election, the first time its epoch was announced, in observation order.
    elections: Vec<ElectionSeen>,
    /// Each broker's latest metadata image, for `metadata-epoch-regression`.
    images: BTreeMap<i32, metadata_epoch_regression::Image>,
    /// Each broker's current process incarnation.
    incarnations: BTreeMap<i32, u64>,
}

pub(crate) fn anomaly(kind: &str, tp: &Tp, offset: Option<i64>, at: At, what: String) -> Anomaly {
    Anomaly {
        kind: kind.to_string(),
        tp: Some(tp.clone()),
        value: None,
        offset,
        description: format!("{what} (at {} ms, event {})", at.time_ms, at.index),
        events: vec![],
    }
}

impl OnlineChecker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The model of `tp`, if any event named it.
    pub fn partitions(&self) -> impl Iterator<Item = (&Tp, &PartitionModel)> {
        self.partitions.iter()
    }

    /// Every leader election seen, in order.
    pub fn elections(&self) -> &[ElectionSeen] {
        &self.elections
    }

    /// The model of one partition, if any event named it.
    pub fn partition(&self, tp: &Tp) -> Option<&PartitionModel> {
        self.partitions.get(tp)
    }

    /// Applies one observed event to the model and returns what it broke, in the order found.
    pub fn observe(&mut self, time_ms: u64, event: &ReplicaEvent) -> Vec<Anomaly> {
        let at = At {
            time_ms,
            index: self.observed,
        };
        self.observed += 1;
        match event {
            ReplicaEvent::Appended { .. }
            | ReplicaEvent::Truncated { .. }
            | ReplicaEvent::HighWatermark { .. }
            | ReplicaEvent::LogStart { .. }
            | ReplicaEvent::RetentionDeleted { .. } => self.observe_log(at, event),
            ReplicaEvent::LeaderElected { .. }
            | ReplicaEvent::IsrChanged { .. }
            | ReplicaEvent::IsrProposed { .. }
            | ReplicaEvent::IsrCommitted { .. } => self.observe_leadership(at, event),
            ReplicaEvent::AcksAllAcknowledged { .. }
            | ReplicaEvent::LatestOffsetListed { .. }
            | ReplicaEvent::ClientFetchServed { .. }
            | ReplicaEvent::ClientAppended { .. } => self.observe_client(at, event),
            ReplicaEvent::BrokerRestarted { .. }
            | ReplicaEvent::Incarnation { .. }
            | ReplicaEvent::MetadataImage { .. } => self.observe_process(at, event),
        }
    }

    /// A replica's own log: appends, truncations, its high watermark and log start, retention.
    fn observe_log(&mut self, at: At, event: &ReplicaEvent) -> Vec<Anomaly> {
        match event {
            ReplicaEvent::Appended {
                broker,
                tp,
                base_offset,
                last_offset,
                leader_epoch,
                batch_crc,
            } => {
                let batch = Batch {
                    base_offset: *base_offset,
                    last_offset: *last_offset,
                    leader_epoch: *leader_epoch,
                    batch_crc: *batch_crc,
                };
                self.on_appended(at, tp, *broker, batch)
            }
            ReplicaEvent::Truncated {
                broker,
                tp,
                offset,
                reason,
            } => self.on_truncated(at, tp, *broker, *offset, reason),
            ReplicaEvent::HighWatermark {
                broker,
                tp,
                high_watermark,
            } => self.on_high_watermark(at, tp, *broker, *high_watermark),
            ReplicaEvent::LogStart {
                broker,
                tp,
                log_start_offset,
            } => self.on_log_start(at, tp, *broker, *log_start_offset),
            ReplicaEvent::RetentionDeleted {
                broker,
                tp,
                below_offset,
            } => self.on_retention(at, tp, *broker, *below_offset),
            _ => unreachable!("not a log event"),
        }
    }

    /// Leadership: elections and the ISR as leaders and the controller change it.
    fn observe_leadership(&mut self, at: At, event: &ReplicaEvent) -> Vec<Anomaly> {
        match event {
            ReplicaEvent::LeaderElected {
                tp,
                leader,
                leader_epoch,
                isr,
                clean,
            } => {
                let election = Election {
                    leader: *leader,
                    leader_epoch: *leader_epoch,
                };
                self.on_leader_elected(at, tp, election, isr, *clean)
            }
            ReplicaEvent::IsrChanged {
                tp,
                leader,
                leader_epoch,
                isr,
            } => {
                // With a controller the commit was checked when the controller made it.
                let static_map = self.partition_mut(tp).controller_isr.is_none();
                let found = match static_map {
                    true => self.check_leader_isr(at, tp, *leader, *leader_epoch, isr, "applied"),
                    false => vec![],
                };
                self.on_isr_changed(tp, *leader, *leader_epoch, isr);
                found
            }
            ReplicaEvent::IsrProposed {
                tp,
                leader,
                leader_epoch,
                isr,
            } => self.check_leader_isr(at, tp, *leader, *leader_epoch, isr, "proposed"),
            ReplicaEvent::IsrCommitted {
                tp,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
                incarnations,
                clean,
            } => {
                // A member the controller knows only as an older, dead incarnation is not
                // checked: the new process registers (and so leaves the ISR) before it may
                // act on any partition state.
                let stale: Vec<i32> = isr
                    .iter()
                    .zip(incarnations)
                    .filter(|(b, &known)| {
                        known != 0 && self.incarnations.get(b).is_some_and(|&now| now > known)
                    })
                    .map(|(b, _)| *b)
                    .collect();
                let partition = self.partition_mut(tp);
                let mut before = partition.controller_isr.replace(isr.clone());
                if !clean {
                    return vec![];
                }
                before.get_or_insert_with(Vec::new).extend(stale);
                let who = format!(
                    "committed by the controller (leader {leader}, leader epoch {leader_epoch}, partition epoch {partition_epoch})"
                );
                isr_member_incomplete::check(tp, partition, before.as_deref(), isr, &who, at)
            }
            _ => unreachable!("not a leadership event"),
        }
    }

    /// What clients were told: acknowledgements, listed offsets, served fetches.
    fn observe_client(&mut self, at: At, event: &ReplicaEvent) -> Vec<Anomaly> {
        match event {
            ReplicaEvent::AcksAllAcknowledged {
                tp,
                last_offset,
                leader,
                min_insync_replicas,
            } => self.on_acks_all(at, tp, *leader, *last_offset, *min_insync_replicas),
            ReplicaEvent::LatestOffsetListed { broker, tp, offset } => {
                let partition = self.partition_mut(tp);
                list_offsets_regression::check(tp, partition, *broker, *offset, at)
                    .into_iter()
                    .collect()
            }
            ReplicaEvent::ClientFetchServed {
                broker,
                tp,
                offsets,
                high_watermark,
            } => self.on_fetch(at, tp, *broker, *offsets, *high_watermark),
            ReplicaEvent::ClientAppended {
                broker,
                tp,
                acks,
                offsets,
                min_insync_replicas,
            } => {
                let partition = self.partition_mut(tp);
                min_isr_violation::check(
                    tp,
                    partition,
                    *broker,
                    *acks,
                    *offsets,
                    *min_insync_replicas,
                    at,
                )
                .into_iter()
                .collect()
            }
            _ => unreachable!("not a client event"),
        }
    }

    /// Processes: restarts, incarnations and the metadata image each broker holds.
    fn observe_process(&mut self, at: At, event: &ReplicaEvent) -> Vec<Anomaly> {
        match event {
            ReplicaEvent::BrokerRestarted { broker } => {
                self.on_restart(*broker);
                vec![]
            }
            ReplicaEvent::Incarnation {
                broker,
                incarnation,
            } => {
                self.incarnations.insert(*broker, *incarnation);
                vec![]
            }
            ReplicaEvent::MetadataImage {
                broker,
                metadata_offset,
                controller_epoch,
                partitions,
            } => {
                let image = metadata_epoch_regression::Image::new(
                    *metadata_offset,
                    *controller_epoch,
                    partitions,
                );
                let previous = self.images.insert(*broker, image.clone());
                metadata_epoch_regression::check(*broker, previous.as_ref(), &image, at)
            }
            _ => unreachable!("not a process event"),
        }
    }

    /// End-of-run checks that cannot be decided earlier: every acks=all acknowledgement was
    /// eventually committed (see `acks_all_underreplicated::never_committed`).
    pub fn finish(&self) -> Vec<Anomaly> {
        self.partitions
            .iter()
            .filter_map(|(tp, partition)| acks_all_underreplicated::never_committed(tp, partition))
            .collect()
    }

    fn partition_mut(&mut self, tp: &Tp) -> &mut PartitionModel {
        if !self.partitions.contains_key(tp) {
            self.partitions
                .insert(tp.clone(), PartitionModel::default());
        }
        self.partitions.get_mut(tp).expect("just inserted")
    }

    fn on_appended(&mut self, at: At, tp: &Tp, broker: i32, batch: Batch) -> Vec<Anomaly> {
        let partition = self.partition_mut(tp);
        partition
            .held_by
            .entry(batch.identity())
            .or_default()
            .insert(broker);
        let replica = partition.replica(broker);
        let found = offset_order::check_append(tp, broker, replica, &batch, at);
        replica.append(batch);
        found.into_iter().collect()
    }

    fn on_truncated(
        &mut self,
        at: At,
        tp: &Tp,
        broker: i32,
        offset: i64,
        reason: &str,
    ) -> Vec<Anomaly> {
        let partition = self.partition_mut(tp);
        let replica = partition.replica(broker);
        let mut found: Vec<Anomaly> = offset_order::check_truncate(tp, broker, replica, offset, at)
            .into_iter()
            .collect();
        replica.truncate(offset);
        found.extend(committed_truncated::check(
            tp, broker, partition, offset, reason, at,
        ));
        found
    }

    fn on_high_watermark(
        &mut self,
        at: At,
        tp: &Tp,
        broker: i32,
        high_watermark: i64,
    ) -> Vec<Anomaly> {
        let partition = self.partition_mut(tp);
        let replica = partition.replica(broker);
        let mut found: Vec<Anomaly> =
            offset_order::check_high_watermark(tp, broker, replica, high_watermark, at)
                .into_iter()
                .collect();
        replica.high_watermark = high_watermark;
        if partition.leader == Some(broker) {
            found.extend(committed_log_divergence::commit_through(
                tp,
                partition,
                broker,
                high_watermark,
                at,
            ));
        }
        // A no-op when the commit above already verified every replica.
        found.extend(committed_log_divergence::verify_replica(
            tp, partition, broker, at,
        ));
        found
    }

    fn on_log_start(&mut self, at: At, tp: &Tp, broker: i32, log_start: i64) -> Vec<Anomaly> {
        let replica = self.partition_mut(tp).replica(broker);
        let found = offset_order::check_log_start(tp, broker, replica, log_start, at);
        replica.log_start_may_reset = false;
        replica.delete_below(log_start);
        replica.log_start_offset = log_start;
        found.into_iter().collect()
    }

    fn on_leader_elected(
        &mut self,
        at: At,
        tp: &Tp,
        election: Election,
        isr: &[i32],
        clean: bool,
    ) -> Vec<Anomaly> {
        let partition = self.partition_mut(tp);
        partition
            .leader_isr
            .insert(election.leader, (election.leader_epoch, isr.to_vec()));
        let mut found: Vec<Anomaly> =
            epoch_regression::check(tp, &partition.elections, election, at)
                .into_iter()
                .collect();
        let first_announcement = !partition.elections.contains_key(&election.leader_epoch);
        partition
            .elections
            .entry(election.leader_epoch)
            .or_insert(election.leader);
        if first_announcement {
            self.elections.push(ElectionSeen {
                time_ms: at.time_ms,
                partition: tp.to_string(),
                leader: election.leader,
                leader_epoch: election.leader_epoch,
                isr: isr.to_vec(),
                clean,
            });
        }
        let partition = self.partition_mut(tp);
        let stale = partition
            .latest_election
            .is_some_and(|latest| election.leader_epoch < latest.leader_epoch);
        if stale {
            // A replica adopting an older term late (it was paused): the latest leader's view
            // stays the model's.
            return found;
        }
        if clean {
            found.extend(leader_incomplete::check(tp, partition, election, isr, at));
        } else {
            leader_incomplete::rebase_after_unclean(partition, election.leader);
            partition.latest_listed = None;
        }
        partition.leader = Some(election.leader);
        let newer = partition
            .latest_election
            .is_none_or(|latest| election.leader_epoch > latest.leader_epoch);
        if newer {
            partition.latest_election = Some(election);
            partition.isr = isr.to_vec();
        }
        found
    }

    /// `isr-member-incomplete` for an ISR that `leader` proposed or applied, against the ISR
    /// it announced last.
    fn check_leader_isr(
        &mut self,
        at: At,
        tp: &Tp,
        leader: i32,
        leader_epoch: i32,
        isr: &[i32],
        how: &str,
    ) -> Vec<Anomaly> {
        let partition = self.partition_mut(tp);
        let before = partition
            .leader_isr
            .get(&leader)
            .map(|(_, isr)| isr.clone());
        let who = format!("{how} by leader {leader} at epoch {leader_epoch}");
        isr_member_incomplete::check(tp, partition, before.as_deref(), isr, &who, at)
    }

    /// The latest leader's ISR changed; an older leader's late report is ignored.
    fn on_isr_changed(&mut self, tp: &Tp, leader: i32, leader_epoch: i32, isr: &[i32]) {
        let partition = self.partition_mut(tp);
        partition
            .leader_isr
            .insert(leader, (leader_epoch, isr.to_vec()));
        let current = partition
            .latest_election
            .is_none_or(|latest| latest.leader == leader && latest.leader_epoch == leader_epoch);
        if current {
            partition.isr = isr.to_vec();
        }
    }

    fn on_acks_all(
        &mut self,
        at: At,
        tp: &Tp,
        leader: i32,
        last_offset: i64,
        min_insync_replicas: usize,
    ) -> Vec<Anomaly> {
        let partition = self.partition_mut(tp);
        partition.acknowledged_end = partition.acknowledged_end.max(last_offset + 1);
        acks_all_underreplicated::check(tp, partition, leader, last_offset, min_insync_replicas, at)
            .into_iter()
            .collect()
    }

    fn on_fetch(
        &mut self,
        at: At,
        tp: &Tp,
        broker: i32,
        offsets: (i64, i64),
        high_watermark: i64,
    ) -> Vec<Anomaly> {
        let (first, last) = offsets;
        if last < first {
            return vec![];
        }
        let partition = self.partition_mut(tp);
        let mut found: Vec<Anomaly> = fetch_above_hw::check(
            tp,
            broker,
            partition.replica(broker),
            offsets,
            high_watermark,
            at,
        )
        .into_iter()
        .collect();
        // What a client read is exposed, whoever served it (a deposed leader included).
        found.extend(committed_log_divergence::commit_through(
            tp,
            partition,
            broker,
            last + 1,
            at,
        ));
        found
    }

    fn on_retention(&mut self, at: At, tp: &Tp, broker: i32, below: i64) -> Vec<Anomaly> {
        let replica = self.partition_mut(tp).replica(broker);
        let found = retention_above_hw::check(tp, broker, replica, below, at);
        replica.delete_below(below);
        found.into_iter().collect()
    }

    fn on_restart(&mut self, broker: i32) {
        for partition in self.partitions.values_mut() {
            if let Some(replica) = partition.replicas.get_mut(&broker) {
                replica.log_start_may_reset = true;
            }
            if partition.leader == Some(broker) {
                partition.leader = None;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Event constructors for the online checkers' tests.

    use super::*;

    pub fn tp() -> Tp {
        Tp::new("t", 0)
    }

    pub fn appended(broker: i32, base: i64, last: i64, epoch: i32, crc: u32) -> ReplicaEvent {
        ReplicaEvent::Appended {
            broker,
            tp: tp(),
            base_offset: base,
            last_offset: last,
            leader_epoch: epoch,
            batch_crc: crc,
        }
    }

    pub fn truncated(broker: i32, offset: i64) -> ReplicaEvent {
        ReplicaEvent::Truncated {
            broker,
            tp: tp(),
            offset,
            reason: "test".to_string(),
        }
    }

    pub fn high_watermark(broker: i32, high_watermark: i64) -> ReplicaEvent {
        ReplicaEvent::HighWatermark {
            broker,
            tp: tp(),
            high_watermark,
        }
    }

    pub fn log_start(broker: i32, log_start_offset: i64) -> ReplicaEvent {
        ReplicaEvent::LogStart {
            broker,
            tp: tp(),
            log_start_offset,
        }
    }

    pub fn listed(broker: i32, offset: i64) -> ReplicaEvent {
        ReplicaEvent::LatestOffsetListed {
            broker,
            tp: tp(),
            offset,
        }
    }

    pub fn elected(leader: i32, epoch: i32, isr: &[i32], clean: bool) -> ReplicaEvent {
        ReplicaEvent::LeaderElected {
            tp: tp(),
            leader,
            leader_epoch: epoch,
            isr: isr.to_vec(),
            clean,
        }
    }

    pub fn acked(leader: i32, last_offset: i64, min_insync_replicas: usize) -> ReplicaEvent {
        ReplicaEvent::AcksAllAcknowledged {
            tp: tp(),
            last_offset,
            leader,
            min_insync_replicas,
        }
    }

    pub fn fetched(broker: i32, first: i64, last: i64, high_watermark: i64) -> ReplicaEvent {
        ReplicaEvent::ClientFetchServed {
            broker,
            tp: tp(),
            offsets: (first, last),
            high_watermark,
        }
    }

    pub fn retention(broker: i32, below_offset: i64) -> ReplicaEvent {
        ReplicaEvent::RetentionDeleted {
            broker,
            tp: tp(),
            below_offset,
        }
    }

    pub fn restarted(broker: i32) -> ReplicaEvent {
        ReplicaEvent::BrokerRestarted { broker }
    }

    /// Feeds `events` at 10 ms apart and returns every anomaly, with its event's index.
    pub fn run(events: &[ReplicaEvent]) -> Vec<(usize, Anomaly)> {
        let mut checker = OnlineChecker::new();
        let mut found = vec![];
        for (index, event) in events.iter().enumerate() {
            for anomaly in checker.observe(10 * index as u64, event) {
                found.push((index, anomaly));
            }
        }
        found.extend(checker.finish().into_iter().map(|a| (events.len(), a)));
        found
    }

    /// (kind, offset) of every anomaly, in order found.
    pub fn kinds(events: &[ReplicaEvent]) -> Vec<(String, Option<i64>)> {
        run(events)
            .into_iter()
            .map(|(_, a)| (a.kind, a.offset))
            .collect()
    }

    /// Leader 1 and follower 2 at epoch 0, both holding batches 0..=1 and 2..=3; HW 4.
    pub fn replicated_prefix() -> Vec<ReplicaEvent> {
        vec![
            elected(1, 0, &[1, 2], true),
            appended(1, 0, 1, 0, 100),
            appended(2, 0, 1, 0, 100),
            appended(1, 2, 3, 0, 101),
            appended(2, 2, 3, 0, 101),
            high_watermark(1, 4),
            high_watermark(2, 4),
        ]
    }

    #[test]
    fn online_all_kinds_is_sorted_and_unique() {
        let mut sorted = ALL_KINDS.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ALL_KINDS);
    }

    #[test]
    fn online_healthy_replication_has_no_anomalies() {
        let mut events = replicated_prefix();
        events.extend([
            acked(1, 3, 2),
            fetched(1, 0, 3, 4),
            retention(1, 2),
            log_start(1, 2),
            retention(2, 2),
            log_start(2, 2),
            elected(2, 1, &[1, 2], true),
            truncated(1, 4),
            appended(2, 4, 4, 1, 102),
            appended(1, 4, 4, 1, 102),
            high_watermark(2, 5),
        ]);
        assert_eq!(kinds(&events), vec![]);
    }
}
