//! **stale-generation-commit**: a commit carrying generation `g ≥ 0` of a group was
//! acknowledged although it was invoked after some member of that group had already been
//! handed an assignment for a generation `> g` — or, for a static member, after another member
//! id had taken over its instance and been handed an assignment.
//!
//! Guarantee: the coordinator accepts a member's commit only for the group's current
//! generation (ILLEGAL_GENERATION otherwise) and only from the member id that holds its static
//! instance now (FENCED_INSTANCE_ID otherwise), so a zombie cannot overwrite its successor's
//! offsets. A SyncGroup is answered only after the group record of that generation is
//! persisted, so once any member holds an assignment for `g' > g` the group never goes back to
//! `g`, across coordinator failovers too.
//!
//! Decided from the client history, not from the order of responses at the wire: a response
//! written later may have been decided earlier (connections write from their own tasks, a held
//! connection writes late), but an assignment recorded before a commit's invoke was answered
//! before the coordinator saw that commit. The client's ok is checked against the wire by
//! client-wire-mismatch. Commits with generation -1 come from outside the group (allowed only
//! while it is empty) and are not judged here.

use std::collections::BTreeMap;

use crate::checker::{ops, Anomaly, FinalState};
use crate::history::{EventKind, History, Outcome};

pub const KIND: &str = "stale-generation-commit";

/// Why a commit, when invoked, could no longer be accepted: a description and the history
/// index of the assignment that shows it.
type Stale = (String, usize);

pub fn check(history: &History, _final_state: &FinalState) -> Vec<Anomaly> {
    // The highest generation any member of a group was assigned so far, and where.
    let mut synced: BTreeMap<&str, (i32, usize)> = BTreeMap::new();
    // The member id that last received an assignment for each (group, instance), and where.
    let mut instance_holder: BTreeMap<(&str, &str), (&str, usize)> = BTreeMap::new();
    // The last assignment each (group, member id) received.
    let mut member_synced: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    // Open commits that were already stale when invoked: op → (invoke index, what, why).
    let mut open: BTreeMap<u64, (usize, String, Vec<Stale>)> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for event in &history.events {
        match &event.kind {
            EventKind::AssignmentReceived {
                group,
                member_id,
                group_instance_id,
                generation,
                ..
            } => {
                let highest = synced
                    .entry(group.as_str())
                    .or_insert((*generation, event.index));
                if *generation > highest.0 {
                    *highest = (*generation, event.index);
                }
                member_synced.insert((group.as_str(), member_id.as_str()), event.index);
                if let Some(instance) = group_instance_id {
                    instance_holder.insert(
                        (group.as_str(), instance.as_str()),
                        (member_id.as_str(), event.index),
                    );
                }
            }
            EventKind::CommitInvoke {
                group,
                member_id,
                group_instance_id,
                generation,
                ..
            } if *generation >= 0 => {
                let mut why = Vec::new();
                if let Some(&(later, index)) =
                    synced.get(group.as_str()).filter(|(g, _)| g > generation)
                {
                    why.push((format!("generation {later} had been assigned"), index));
                }
                let holder = group_instance_id
                    .as_deref()
                    .and_then(|instance| instance_holder.get(&(group.as_str(), instance)));
                let was_member = member_synced.contains_key(&(group.as_str(), member_id.as_str()));
                if let Some(&(holder, index)) =
                    holder.filter(|(h, _)| *h != member_id.as_str() && was_member)
                {
                    why.push((
                        format!("its instance had been taken over by member {holder}"),
                        index,
                    ));
                }
                if !why.is_empty() {
                    let what = format!(
                        "a commit of member {member_id} to group {group} under generation {generation}"
                    );
                    open.insert(event.op, (event.index, what, why));
                }
            }
            EventKind::CommitComplete {
                outcome: Outcome::Ok,
            } => {
                let Some((invoke, what, why)) = open.remove(&event.op) else {
                    continue;
                };
                let reasons: Vec<&str> = why.iter().map(|(text, _)| text.as_str()).collect();
                anomalies.push(Anomaly {
                    kind: KIND.to_string(),
                    tp: None,
                    value: None,
                    offset: None,
                    description: format!(
                        "{what}, invoked at event {invoke}, was acknowledged though {}",
                        reasons.join(" and ")
                    ),
                    events: ops::event_list(
                        why.iter()
                            .map(|&(_, index)| index)
                            .chain([invoke, event.index]),
                    ),
                });
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
    fn commits_of_the_current_generation_are_fine() {
        let mut b = HistoryBuilder::new();
        b.assign(1, "g", "a", 1, &[tp(0)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 3)]);
        // Invoked before generation 2 was handed out, so it may have been accepted under 1.
        let early = b.commit_invoke(1, "g", "a", 1, &[(tp(0), 4)]);
        b.assign(2, "g", "b", 2, &[tp(0)]);
        b.commit_complete(1, early, Outcome::Ok);
        // After it: rejected, as it must be; and a commit from outside the group is not judged.
        let late = b.commit_invoke(1, "g", "a", 1, &[(tp(0), 5)]);
        b.commit_complete(1, late, Outcome::Fail("ILLEGAL_GENERATION".into()));
        b.commit_ok(3, "g", "admin", -1, &[(tp(0), 0)]);
        // A static member's new member id commits after taking over.
        b.assign_static(4, "s", "m1", Some("i"), 1, &[tp(0)]);
        b.assign_static(5, "s", "m2", Some("i"), 1, &[tp(0)]);
        let op = b.commit_invoke_static(5, "s", "m2", Some("i"), 1, &[(tp(0), 1)]);
        b.commit_complete(5, op, Outcome::Ok);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn a_commit_of_an_older_generation_accepted_is_an_anomaly() {
        let mut b = HistoryBuilder::new();
        b.assign(1, "g", "a", 1, &[tp(0)]);
        let newer = b.assign(2, "g", "b", 2, &[tp(0)]);
        let stale = b.commit_ok(1, "g", "a", 1, &[(tp(0), 5)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, KIND);
        assert_eq!(anomalies[0].events, vec![newer, stale.0, stale.1]);
        assert!(anomalies[0]
            .description
            .contains("generation 2 had been assigned"));
    }

    #[test]
    fn a_fenced_static_member_commit_accepted_is_an_anomaly() {
        let mut b = HistoryBuilder::new();
        b.assign_static(1, "s", "m1", Some("i"), 3, &[tp(0)]);
        let successor = b.assign_static(2, "s", "m2", Some("i"), 3, &[tp(0)]);
        let op = b.commit_invoke_static(1, "s", "m1", Some("i"), 3, &[(tp(0), 7)]);
        let done = b.commit_complete(1, op, Outcome::Ok);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].events, vec![successor, done - 1, done]);
        assert!(anomalies[0].description.contains("taken over by member m2"));
    }
}
