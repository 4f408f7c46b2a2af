//! Leader elections: re-electing partitions when brokers come and go, and the admin
//! ElectLeaders call (part of Kafka's `ReplicationControlManager`).
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
//!   closes, is therefore reproducible). With them, a fenced broker leaves the ISR even as its
//!   last member (into the ELR): the ISR may empty.
//! - With eligible leader replicas, election is a live ISR member; else a live ELR member
//!   (clean: the ISR becomes it alone); else, once the ISR and the ELR are both empty,
//!   KIP-966's "balanced" unclean recovery: when every last known ELR member is live and has
//!   reported its log end (at registration), the one with the longest log (highest last epoch,
//!   then end offset; assignment order breaks ties); else unclean election if enabled, which
//!   empties the ELR; else the partition waits.
//!
//! # Invariants asserted here
//! - A broker leaving (fenced, shutting down, restarted) never leads the partition afterwards,
//!   and leaves its ISR unless it is the last member without eligible leader replicas.
//! - The chosen leader is a replica; a clean choice is an ISR member, an eligible choice an ELR
//!   member, a recovered choice a live last-known-ELR member.
//!
//! The outcome's own invariants are asserted where it becomes records, in [`super::isr`].

use super::controller::Batch;
use super::isr::Outcome;
use super::records::{ChangeReason, MetadataRecord};
use super::state::{MetadataState, PartitionState};
use super::{Controller, ControllerError, ElectionType};

impl Controller {
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
        self.push_outcome(&mut batch, topic, partition, outcome);
        Ok(self.finish(batch))
    }

    /// Every partition matching `predicate` (in the state as the batch has it now) re-elects
    /// under `step`, in topic then partition order.
    pub(super) fn reelect_where(
        &self,
        batch: &mut Batch,
        predicate: impl Fn(&PartitionState) -> bool,
        step: Reelect,
    ) {
        for (topic, partition) in partitions_where(&batch.scratch, predicate) {
            self.push_reelection(batch, &topic, partition, step);
        }
    }

    pub(super) fn push_reelection(
        &self,
        batch: &mut Batch,
        topic: &str,
        partition: i32,
        step: Reelect,
    ) {
        let current = batch
            .scratch
            .partition(topic, partition)
            .expect("listed partition");
        let unclean = self.unclean_enabled_for(topic);
        let eligible = |b: i32| Some(b) != step.leaving && self.eligible(&batch.scratch, b);
        let longest = |members: &[i32]| self.longest_log(topic, partition, members, &eligible);
        let outcome = self.reelect(current, &eligible, &longest, unclean, &step);
        if let Some(outcome) = outcome {
            self.push_outcome(batch, topic, partition, outcome);
        }
    }

    /// The outcome (if anything changes) of re-electing `current` under `step` (module doc).
    pub(super) fn reelect(
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
        if let Some(leaving) = step.leaving {
            let kept_as_last = !elr_mode && current.isr == [leaving];
            assert_ne!(outcome.leader, leaving, "a leaving broker still leads");
            assert!(
                kept_as_last || !outcome.isr.contains(&leaving),
                "leaving broker {leaving} stays in the ISR {:?}",
                outcome.isr
            );
        }
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
    pub(super) fn elect(&self, current: &PartitionState, outcome: &mut Outcome, choice: Choice) {
        let below_min = self.min_isr(current) > 1;
        assert_choice_allowed(current, outcome, &choice);
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

    /// Unclean recovery's choice among `members` (the last known ELR): none unless every one
    /// is `eligible` and reported its log end; then the longest log, by last epoch then end
    /// offset, assignment order (the order of `members`) breaking ties.
    pub(super) fn longest_log(
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
        let chosen = best.map(|(member, _)| member);
        assert!(chosen.is_none_or(|b| members.contains(&b) && eligible(b)));
        chosen
    }

    pub(super) fn preferred_election(
        &self,
        current: &PartitionState,
    ) -> Result<Outcome, ControllerError> {
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

    pub(super) fn unclean_election(
        &self,
        current: &PartitionState,
    ) -> Result<Outcome, ControllerError> {
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
pub(super) const RETRY_OFFLINE: Reelect = Reelect {
    leaving: None,
    unclean_shutdown: false,
    force: false,
    reason: ChangeReason::BrokerUnfenced,
};

/// How to re-elect one partition.
#[derive(Clone, Copy)]
pub(super) struct Reelect {
    /// A broker going away: ineligible, and removed from the ISR unless it is the last member
    /// (removed even then with eligible leader replicas).
    pub(super) leaving: Option<i32>,
    /// `leaving` is back from an unclean shutdown: it leaves the ELR too and does not join it.
    pub(super) unclean_shutdown: bool,
    /// Elect even if the current leader could stay (a restarted leader), bumping the epoch.
    pub(super) force: bool,
    /// Why, for the record (replaced by `UncleanElection` when that is what happens).
    pub(super) reason: ChangeReason,
}

/// Who may lead, in order of preference.
pub(super) struct Candidates<'a> {
    /// The ISR.
    pub(super) isr: &'a [i32],
    /// The eligible leader replicas.
    pub(super) elr: &'a [i32],
    /// Unclean recovery's pick from the last known ELR, if it can pick now.
    pub(super) recovery: Option<i32>,
}

/// The result of an election for one partition.
pub(super) enum Choice {
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

/// Preferred-first among live ISR members; then live ELR members; then live last known ELR
/// members; then, if `unclean`, the first live replica.
pub(super) fn choose_leader(
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
pub(super) fn partitions_where(
    state: &MetadataState,
    predicate: impl Fn(&PartitionState) -> bool,
) -> Vec<(String, i32)> {
    let matching = state.partitions().filter(|(_, _, p)| predicate(p));
    matching
        .map(|(topic, partition, _)| (topic.to_string(), partition))
        .collect()
}

/// A choice is a replica, taken from the set its kind names: a clean leader from the ISR, an
/// eligible one from the ELR, a recovered one from the last known ELR.
fn assert_choice_allowed(current: &PartitionState, outcome: &Outcome, choice: &Choice) {
    let (leader, from) = match choice {
        Choice::Clean(b) => (*b, Some(&outcome.isr)),
        Choice::Eligible(b) => (*b, Some(&outcome.elr)),
        Choice::Recovered(b) => (*b, Some(&outcome.last_known_elr)),
        Choice::Unclean(b) => (*b, None),
        Choice::Offline => return,
    };
    assert!(
        current.replicas.contains(&leader) && from.is_none_or(|set| set.contains(&leader)),
        "chosen leader {leader} is outside the set its choice names ({from:?})"
    );
}
