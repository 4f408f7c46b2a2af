//! The consumer group checkers: what a group coordinator and its members guarantee about who
//! owns a partition when, and about committed offsets. One file per anomaly kind, each a pure
//! function over the history (and, where said, the wire history and the final logs).
//!
//! This module holds the read-only views they share: commits and offset fetches paired with
//! their completions, assignments as received, and which processes belong to which group.
//!
//! Shared rules: history order is real-time order (one simulated clock, events recorded as they
//! happen), so an event recorded before an invoke happened before the broker saw that request.
//! Only that is used to order a client's requests against what other clients saw; wire order
//! is response order and is never used that way. Group deletion and offset expiry would reset
//! a group's generations and offsets; no workload records either yet, and a checker that
//! meets them will have to reset its state at that event.

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{EventKind, History, Outcome, Tp};

pub mod commit_past_delivery;
pub mod committed_offset_lost;
pub mod committed_offset_regression;
pub mod concurrent_owner;
pub mod generation_double_owner;
pub mod liveness;
pub mod stale_generation_commit;

/// Who a member is across the member ids it is given: its static instance id when it has one
/// (a restarted static member inherits its predecessor's place), its member id otherwise.
pub(crate) fn owner_key(member_id: &str, group_instance_id: Option<&str>) -> String {
    match group_instance_id {
        Some(instance) => format!("instance {instance}"),
        None => format!("member {member_id}"),
    }
}

/// One OffsetCommit operation.
#[derive(Debug, Clone)]
pub(crate) struct Commit<'a> {
    pub group: &'a str,
    pub member_id: &'a str,
    pub generation: i32,
    /// The next offset to consume, per partition.
    pub offsets: &'a [(Tp, i64)],
    /// History index of the invoke.
    pub invoke: usize,
    /// History index of the completion; `None` if the run ended first (treated as info).
    pub complete: Option<usize>,
    pub outcome: Option<&'a Outcome>,
}

impl Commit<'_> {
    /// Acknowledged: every partition answered NONE.
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Some(Outcome::Ok))
    }

    /// Definitely not applied.
    pub fn is_fail(&self) -> bool {
        matches!(self.outcome, Some(Outcome::Fail(_)))
    }

    /// The history indexes of the invoke and the completion.
    pub fn events(&self) -> Vec<usize> {
        std::iter::once(self.invoke).chain(self.complete).collect()
    }
}

/// Every commit in invoke order, paired with its completion by op id.
pub(crate) fn commits(history: &History) -> Vec<Commit<'_>> {
    let mut commits: Vec<Commit<'_>> = Vec::new();
    let mut position_by_op: BTreeMap<u64, usize> = BTreeMap::new();
    for event in &history.events {
        match &event.kind {
            EventKind::CommitInvoke {
                group,
                member_id,
                generation,
                offsets,
                ..
            } => {
                position_by_op.insert(event.op, commits.len());
                commits.push(Commit {
                    group,
                    member_id,
                    generation: *generation,
                    offsets,
                    invoke: event.index,
                    complete: None,
                    outcome: None,
                });
            }
            EventKind::CommitComplete { outcome } => {
                if let Some(&position) = position_by_op.get(&event.op) {
                    commits[position].complete = Some(event.index);
                    commits[position].outcome = Some(outcome);
                }
            }
            _ => {}
        }
    }
    commits
}

/// One OffsetFetch operation that completed ok.
#[derive(Debug, Clone)]
pub(crate) struct OffsetFetch<'a> {
    pub group: &'a str,
    pub invoke: usize,
    pub complete: usize,
    /// Every requested partition's committed offset, -1 for none.
    pub offsets: &'a [(Tp, i64)],
}

/// Every ok OffsetFetch, in completion order.
pub(crate) fn offset_fetches(history: &History) -> Vec<OffsetFetch<'_>> {
    let mut invokes: BTreeMap<u64, (&str, usize)> = BTreeMap::new();
    let mut fetches = Vec::new();
    for event in &history.events {
        match &event.kind {
            EventKind::OffsetFetchInvoke { group, .. } => {
                invokes.insert(event.op, (group, event.index));
            }
            EventKind::OffsetFetchComplete {
                outcome: Outcome::Ok,
                offsets,
            } => {
                if let Some(&(group, invoke)) = invokes.get(&event.op) {
                    fetches.push(OffsetFetch {
                        group,
                        invoke,
                        complete: event.index,
                        offsets,
                    });
                }
            }
            _ => {}
        }
    }
    fetches
}

/// The processes that recorded any membership event (a join or an assignment) in each group.
pub(crate) fn member_processes(history: &History) -> BTreeMap<&str, BTreeSet<u32>> {
    let mut members: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for event in &history.events {
        match &event.kind {
            EventKind::GroupJoined { group, .. } | EventKind::AssignmentReceived { group, .. } => {
                members.entry(group).or_default().insert(event.process);
            }
            _ => {}
        }
    }
    members
}

#[cfg(test)]
mod tests {
    use super::super::testing::{tp, HistoryBuilder};
    use super::*;

    #[test]
    fn commits_pair_with_their_completions() {
        let mut b = HistoryBuilder::new();
        let ok = b.commit_ok(1, "g", "m1", 1, &[(tp(0), 5)]);
        b.commit_invoke(1, "g", "m1", 1, &[(tp(0), 6)]);
        let history = b.build();
        let commits = commits(&history);
        assert_eq!(commits.len(), 2);
        assert!(commits[0].is_ok());
        assert_eq!(commits[0].events(), vec![ok.0, ok.1]);
        assert_eq!(commits[1].outcome, None);
        assert!(!commits[1].is_ok() && !commits[1].is_fail());
    }

    #[test]
    fn static_members_are_known_by_their_instance() {
        assert_eq!(owner_key("m1", Some("i1")), owner_key("m2", Some("i1")));
        assert_ne!(owner_key("m1", None), owner_key("m2", None));
    }
}
