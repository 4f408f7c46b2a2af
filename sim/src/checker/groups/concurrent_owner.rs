//! **concurrent-owner**: a member polled records of a partition assigned to it while another
//! member of the same generation (or a later one) still owned that partition, not having
//! revoked it.
//!
//! Guarantee: cooperative rebalancing (KIP-429) never hands a partition to a new owner while
//! its previous owner is still a member holding it: the owner revokes it first, then a later
//! rebalance gives it away, so two members never consume one partition at once. In an eager
//! rebalance every member revokes everything before rejoining, so the same rule holds.
//!
//! Decided in history order. A member owns a partition from the assignment that gives it until
//! it records revoking it (an assignment that leaves a partition out does not end ownership:
//! in a cooperative rebalance the member revokes it after that assignment). The other owner
//! counts only if, at the poll, it had joined or been assigned a generation at least the one
//! in which the poller got the partition: a member removed from the group (a session timeout)
//! is not in that generation, so it may still poll as a zombie — the classic protocol does
//! not fence fetches — and that is not this anomaly.
//!
//! A member whose process crashed owns nothing from then on: a dead process polls nothing,
//! and its restart is a new member. This matters because a coordinator failover can roll the
//! generation number back (generations whose rebalance never completed were never written to
//! `__consumer_offsets`), so a crashed member that had joined such a generation would
//! otherwise look like a member of the new coordinator's lower-numbered ones.
//!
//! Members are known here by member id, not static instance id: a static member that crashes
//! never revokes, and its restart (a new member id) owns nothing until assigned; one that
//! takes over its instance's assignment within a generation is generation-double-owner's
//! business, not a partition moving between owners.

use std::collections::{BTreeMap, BTreeSet};

use super::owner_key;
use crate::checker::{ops, Anomaly, FinalState};
use crate::history::{EventKind, History, Tp};

pub const KIND: &str = "concurrent-owner";

/// A member of one group: (group, owner key).
type Member<'a> = (&'a str, String);

/// What the walk knows at each point of the history.
#[derive(Default)]
struct Owners<'a> {
    /// Partitions each member owns now: partition → (generation it was given in, the
    /// assignment's history index).
    owned: BTreeMap<Member<'a>, BTreeMap<&'a Tp, (i32, usize)>>,
    /// The highest generation each member joined or was assigned.
    generation: BTreeMap<Member<'a>, i32>,
    /// Each process's current member key in each group.
    process_member: BTreeMap<(u32, &'a str), String>,
}

impl<'a> Owners<'a> {
    fn joined(&mut self, process: u32, group: &'a str, owner: String, generation: i32) {
        let latest = self
            .generation
            .entry((group, owner.clone()))
            .or_insert(generation);
        *latest = (*latest).max(generation);
        self.process_member.insert((process, group), owner);
    }

    fn assigned(
        &mut self,
        member: Member<'a>,
        generation: i32,
        partitions: &'a [Tp],
        index: usize,
    ) {
        let owned = self.owned.entry(member).or_default();
        for tp in partitions {
            owned.entry(tp).or_insert((generation, index));
        }
    }

    /// The process died: whatever its members owned, it polls no more.
    fn crashed(&mut self, process: u32) {
        let members: Vec<((u32, &'a str), String)> = (self.process_member.range((process, "")..))
            .take_while(|((p, _), _)| *p == process)
            .map(|(key, owner)| (*key, owner.clone()))
            .collect();
        for ((_, group), owner) in members {
            self.owned.remove(&(group, owner));
            self.process_member.remove(&(process, group));
        }
    }

    fn revoked(&mut self, member: &Member<'a>, partitions: &[Tp]) {
        if let Some(owned) = self.owned.get_mut(member) {
            for tp in partitions {
                owned.remove(tp);
            }
        }
    }

    /// Previous owners of `tp` in `group`: other members that were given it before
    /// `generation`, still own it, and are in `generation` or a later one. (Two members given
    /// it in one generation are generation-double-owner's.)
    fn rivals(&self, group: &str, me: &str, tp: &Tp, generation: i32) -> Vec<(&String, usize)> {
        (self.owned.iter())
            .filter(|((g, owner), _)| *g == group && owner != me)
            .filter(|(member, _)| {
                self.generation
                    .get(*member)
                    .is_some_and(|&g| g >= generation)
            })
            .filter_map(|((_, owner), owned)| owned.get(tp).map(|&given| (owner, given)))
            .filter(|&(_, (given, _))| given < generation)
            .map(|(owner, (_, index))| (owner, index))
            .collect()
    }
}

pub fn check(history: &History, _final_state: &FinalState) -> Vec<Anomaly> {
    let mut owners = Owners::default();
    let mut anomalies = Vec::new();
    // (group, partition, poller, generation, rival) already reported.
    let mut reported: BTreeSet<(&str, &Tp, String, i32, String)> = BTreeSet::new();
    for event in &history.events {
        match &event.kind {
            EventKind::GroupJoined {
                group,
                member_id,
                generation,
                ..
            } => {
                let owner = owner_key(member_id, None);
                owners.joined(event.process, group, owner, *generation);
            }
            EventKind::AssignmentReceived {
                group,
                member_id,
                generation,
                partitions,
                ..
            } => {
                let owner = owner_key(member_id, None);
                owners.joined(event.process, group, owner.clone(), *generation);
                owners.assigned(
                    (group.as_str(), owner),
                    *generation,
                    partitions,
                    event.index,
                );
            }
            EventKind::PartitionsRevoked {
                group,
                member_id,
                partitions,
                ..
            } => {
                let owner = owner_key(member_id, None);
                owners.revoked(&(group.as_str(), owner), partitions);
            }
            EventKind::ProcessCrashed => owners.crashed(event.process),
            EventKind::PollComplete { reads, .. } => {
                let polled: BTreeSet<&Tp> = reads.iter().map(|r| &r.tp).collect();
                for ((process, group), me) in owners.process_member.range((event.process, "")..) {
                    if *process != event.process {
                        break;
                    }
                    let Some(mine) = owners.owned.get(&(*group, me.clone())) else {
                        continue;
                    };
                    for tp in &polled {
                        let Some(&(generation, assigned)) = mine.get(tp) else {
                            continue;
                        };
                        for (rival, rival_index) in owners.rivals(group, me, tp, generation) {
                            let key = (*group, *tp, me.clone(), generation, rival.clone());
                            if reported.insert(key) {
                                anomalies.push(Anomaly {
                                    kind: KIND.to_string(),
                                    tp: Some((*tp).clone()),
                                    value: None,
                                    offset: None,
                                    description: format!(
                                        "{me} of group {group} polled {tp}, assigned to it in generation {generation}, while {rival} (in that generation or later) still owned it"
                                    ),
                                    events: ops::event_list([assigned, rival_index, event.index]),
                                });
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{tp, HistoryBuilder};
    use super::*;

    #[test]
    fn a_partition_moved_in_two_steps_is_fine() {
        let mut b = HistoryBuilder::new();
        b.join(1, "g", "a", 1);
        b.assign(1, "g", "a", 1, &[tp(0), tp(1)]);
        b.poll(1, &[(tp(0), 0, 10), (tp(1), 0, 20)]);
        // Generation 2: b joins; t/1 is to move, so it goes to nobody yet.
        b.join(1, "g", "a", 2);
        b.join(2, "g", "b", 2);
        b.assign(1, "g", "a", 2, &[tp(0)]);
        b.assign(2, "g", "b", 2, &[]);
        b.poll(1, &[(tp(1), 1, 21)]);
        b.revoke(1, "g", "a", 2, &[tp(1)]);
        // Generation 3: now b gets it.
        b.join(1, "g", "a", 3);
        b.join(2, "g", "b", 3);
        b.assign(1, "g", "a", 3, &[tp(0)]);
        b.assign(2, "g", "b", 3, &[tp(1)]);
        b.poll(2, &[(tp(1), 2, 22)]);
        b.poll(1, &[(tp(0), 1, 11)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn a_zombie_outside_the_new_generation_is_not_an_owner() {
        let mut b = HistoryBuilder::new();
        b.join(1, "g", "a", 1);
        b.assign(1, "g", "a", 1, &[tp(0)]);
        // a is paused, its session expires, and b gets t/0 in generation 2 without a.
        b.join(2, "g", "b", 2);
        b.assign(2, "g", "b", 2, &[tp(0)]);
        b.poll(2, &[(tp(0), 0, 10)]);
        b.poll(1, &[(tp(0), 0, 10)]);
        // a finds out, gives its partitions up as lost, and rejoins later.
        b.revoke(1, "g", "a", 1, &[tp(0)]);
        b.join(1, "g", "a", 3);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn a_crashed_static_member_owns_nothing_after_its_restart() {
        let mut b = HistoryBuilder::new();
        b.join(1, "g", "a1", 1);
        b.assign_static(1, "g", "a1", Some("i"), 1, &[tp(0)]);
        // The process crashes without revoking; after its session expired b got t/0.
        b.join(2, "g", "b", 2);
        b.assign(2, "g", "b", 2, &[tp(0)]);
        // Restarted under a new member id, the instance rejoins; b keeps polling until it
        // revokes t/0 for the instance.
        b.join(1, "g", "a2", 3);
        b.join(2, "g", "b", 3);
        b.assign_static(1, "g", "a2", Some("i"), 3, &[]);
        b.poll(2, &[(tp(0), 0, 10)]);
        b.revoke(2, "g", "b", 3, &[tp(0)]);
        b.assign_static(1, "g", "a2", Some("i"), 4, &[tp(0)]);
        b.poll(1, &[(tp(0), 1, 11)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    /// Seed 87 of the cooperative-sticky random sweep, reduced: a rebalance that never
    /// completes (generation 15) is lost with its coordinator, the new one loads generation 1
    /// and numbers the next rebalance 2.
    fn rolled_back_generations(crash: bool) -> History {
        let mut b = HistoryBuilder::new();
        b.join(1, "g", "a", 1);
        b.assign(1, "g", "a", 1, &[tp(0)]);
        b.poll(1, &[(tp(0), 0, 10)]);
        b.join(1, "g", "a", 15);
        if crash {
            b.crash(1);
        }
        b.join(2, "g", "b", 2);
        b.assign(2, "g", "b", 2, &[tp(0)]);
        b.poll(2, &[(tp(0), 1, 11)]);
        b.build()
    }

    #[test]
    fn a_crashed_member_owns_nothing_even_in_a_generation_numbered_again() {
        let history = rolled_back_generations(true);
        assert_eq!(check(&history, &FinalState::default()), vec![]);
    }

    #[test]
    fn a_live_member_of_a_higher_generation_still_counts_as_owner() {
        let anomalies = check(&rolled_back_generations(false), &FinalState::default());
        assert_eq!(anomalies.len(), 1, "{anomalies:?}");
        assert_eq!(anomalies[0].tp, Some(tp(0)));
    }

    #[test]
    fn a_crash_ends_only_that_process_s_ownership() {
        let mut b = HistoryBuilder::new();
        b.join(1, "g", "a", 1);
        b.join(2, "g", "b", 1);
        b.join(3, "g", "c", 1);
        b.assign(1, "g", "a", 1, &[tp(0)]);
        b.assign(2, "g", "b", 1, &[tp(1)]);
        b.assign(3, "g", "c", 1, &[]);
        b.crash(2);
        b.join(1, "g", "a", 2);
        b.join(3, "g", "c", 2);
        // The assignor wrongly gives c a's partition while a still owns it.
        b.assign(3, "g", "c", 2, &[tp(0), tp(1)]);
        b.poll(3, &[(tp(0), 0, 10), (tp(1), 0, 20)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1, "{anomalies:?}");
        assert_eq!(anomalies[0].tp, Some(tp(0)));
    }

    #[test]
    fn polling_before_the_previous_owner_revoked_is_an_anomaly() {
        let mut b = HistoryBuilder::new();
        b.join(1, "g", "a", 1);
        b.assign(1, "g", "a", 1, &[tp(0), tp(1)]);
        b.join(1, "g", "a", 2);
        b.join(2, "g", "b", 2);
        b.assign(1, "g", "a", 2, &[tp(0)]);
        // The assignor gave t/1 to b in the same generation a still holds it.
        let given = b.assign(2, "g", "b", 2, &[tp(1)]);
        let (_, poll) = b.poll(2, &[(tp(1), 3, 23)]);
        b.poll(2, &[(tp(1), 4, 24)]);
        b.revoke(1, "g", "a", 2, &[tp(1)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1, "{anomalies:?}");
        assert_eq!(anomalies[0].kind, KIND);
        assert_eq!(anomalies[0].tp, Some(tp(1)));
        assert_eq!(anomalies[0].events, vec![1, given, poll]);
        assert!(anomalies[0].description.contains("member b"));
    }
}
