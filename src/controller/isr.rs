//! ISR changes and eligible leader replicas: AlterPartition, the ELR bookkeeping every ISR
//! change goes through, and the one place an outcome becomes records (part of Kafka's
//! `ReplicationControlManager`).
//!
//! # Rules followed
//! - AlterPartition (KIP-497, with KIP-841's eligibility check) changes the ISR only: the
//!   partition epoch is bumped, the leader and its epoch kept.
//! - Eligible leader replicas (`eligible_leader_replicas`, KIP-966): a replica that leaves the
//!   ISR while the ISR left behind is smaller than `min(min.insync.replicas, RF)` joins the
//!   ELR: the high watermark cannot move past it while the ISR is that small (strict min ISR),
//!   so it holds every committed offset. Once the ISR is back at the minimum the ELR is
//!   emptied (the HW may move again); a replica that rejoins the ISR leaves the ELR.
//!
//! # Invariants asserted here (on every outcome, before it becomes records)
//! - The ISR is duplicate-free and a subset of the replicas; it is empty only with eligible
//!   leader replicas on.
//! - The leader is -1 (offline) or a member of the ISR (an unclean election makes the ISR the
//!   new leader alone, so this holds for unclean leaders too).
//! - A newly elected leader (a change of leader, or a new epoch for the same one) is an
//!   unfenced broker not in controlled shutdown: a fenced broker is never elected.
//! - The ELR and last known ELR that an ISR change leaves are outside the new ISR.
//! - The records pushed leave the partition exactly as the outcome says (leader, ISR, ELR and
//!   last known ELR), and bump `leader_epoch` by one exactly when the leader changes (or a
//!   restarted leader gets a new epoch); an ISR-only change keeps the leader and its epoch.

use std::collections::BTreeSet;

use super::controller::Batch;
use super::records::{ChangeReason, EligibleLeadersRecord, MetadataRecord, PartitionChange};
use super::state::{MetadataState, PartitionState};
use super::{AlterPartitionMode, Controller, ControllerError};

impl Controller {
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
        self.push_outcome(&mut batch, topic, partition, outcome);
        Ok(self.finish(batch))
    }

    /// `min(min.insync.replicas, RF)` for `current`, at least 1.
    pub(super) fn min_isr(&self, current: &PartitionState) -> usize {
        let min_isr = self.config.min_insync_replicas.max(1) as usize;
        min_isr.min(current.replicas.len())
    }

    /// The ELR and last known ELR once `current`'s ISR becomes `new_isr` (module doc), with
    /// `unclean_leaver` a broker leaving for an unclean shutdown. Both empty unless
    /// `eligible_leader_replicas` is on.
    pub(super) fn elr_after(
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
            .collect::<Vec<i32>>();
        let in_isr = |b: &i32| new_isr.contains(b);
        assert!(
            !elr.iter().any(in_isr) && !last_known_elr.iter().any(in_isr),
            "the ELR {elr:?} or last known ELR {last_known_elr:?} overlaps the ISR {new_isr:?}"
        );
        (elr, last_known_elr)
    }

    /// Pushes the records that make `outcome` true of the partition: a `PartitionChange` if its
    /// leader, ISR or epoch changes, then an `EligibleLeaders` if its ELR differs from the one the
    /// change leaves.
    pub(super) fn push_outcome(
        &self,
        batch: &mut Batch,
        topic: &str,
        partition: i32,
        outcome: Outcome,
    ) {
        let (leader, isr) = (outcome.leader, outcome.isr.clone());
        let (elr, last_known_elr) = (outcome.elr.clone(), outcome.last_known_elr.clone());
        self.push_outcome_records(batch, topic, partition, outcome);
        let after = batch.scratch.partition(topic, partition);
        let after = after.expect("listed partition");
        assert!(
            after.leader == leader && after.isr == isr,
            "{topic}-{partition}: the records leave leader {} and ISR {:?}, not {leader} {isr:?}",
            after.leader,
            after.isr
        );
        assert!(
            after.elr == elr && after.last_known_elr == last_known_elr,
            "{topic}-{partition}: the records leave the ELR {:?} / {:?}, not {elr:?} / \
             {last_known_elr:?}",
            after.elr,
            after.last_known_elr
        );
    }

    fn push_outcome_records(
        &self,
        batch: &mut Batch,
        topic: &str,
        partition: i32,
        outcome: Outcome,
    ) {
        let current = batch.scratch.partition(topic, partition);
        let current = current.expect("listed partition").clone();
        let leader_changed = outcome.leader != current.leader || outcome.bump_leader_epoch;
        self.assert_outcome(&batch.scratch, &current, &outcome, leader_changed);
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
        assert_eq!(
            after.leader_epoch,
            current.leader_epoch + leader_changed as i32,
            "{topic}-{partition}: the leader epoch grows exactly when the leader changes"
        );
        if after.elr != outcome.elr || after.last_known_elr != outcome.last_known_elr {
            batch.push(MetadataRecord::EligibleLeaders(EligibleLeadersRecord {
                topic: topic.to_string(),
                partition,
                elr: outcome.elr,
                last_known_elr: outcome.last_known_elr,
            }));
        }
    }

    /// Preconditions of an outcome about to become records (module doc): the ISR is a
    /// duplicate-free subset of the replicas, empty only with eligible leader replicas; the
    /// leader is -1 or in the ISR; a newly elected leader is eligible in `state`.
    fn assert_outcome(
        &self,
        state: &MetadataState,
        current: &PartitionState,
        outcome: &Outcome,
        leader_changed: bool,
    ) {
        let isr = &outcome.isr;
        let distinct: BTreeSet<i32> = isr.iter().copied().collect();
        assert_eq!(distinct.len(), isr.len(), "ISR {isr:?} repeats a member");
        assert!(
            isr.iter().all(|b| current.replicas.contains(b)),
            "ISR {isr:?} is not a subset of the replicas {:?}",
            current.replicas
        );
        assert!(
            !isr.is_empty() || self.config.eligible_leader_replicas,
            "the ISR empties without eligible leader replicas"
        );
        assert!(
            outcome.leader == -1 || isr.contains(&outcome.leader),
            "leader {} is not in the ISR {isr:?}",
            outcome.leader
        );
        let elected = leader_changed && outcome.leader != -1;
        assert!(
            !elected || self.eligible(state, outcome.leader),
            "broker {} is elected while fenced or shutting down",
            outcome.leader
        );
    }
}

/// A partition's leadership and ISR after a decision, before it becomes a record.
pub(super) struct Outcome {
    /// The new leader, -1 for none.
    pub(super) leader: i32,
    /// The new ISR.
    pub(super) isr: Vec<i32>,
    /// Bump the leader epoch even if the leader is the same one (a restarted leader).
    pub(super) bump_leader_epoch: bool,
    /// Why.
    pub(super) reason: ChangeReason,
    /// The eligible leader replicas after the decision.
    pub(super) elr: Vec<i32>,
    /// The last known ELR after the decision.
    pub(super) last_known_elr: Vec<i32>,
}

/// A proposed ISR must be non-empty, duplicate-free, within the replicas and hold the leader.
pub(super) fn validate_isr_shape(
    current: &PartitionState,
    new_isr: &[i32],
) -> Result<(), ControllerError> {
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

pub(super) fn same_members(a: &[i32], b: &[i32]) -> bool {
    let a: BTreeSet<i32> = a.iter().copied().collect();
    let b: BTreeSet<i32> = b.iter().copied().collect();
    a == b
}
