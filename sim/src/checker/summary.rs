//! Operation counts by outcome, for the report: how much the run actually did, so that a run
//! that did nothing cannot pass.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::history::{EventKind, History, Outcome, Tp};

/// Sends, polls and group commits by how they completed, plus the records polls returned.
/// Group figures are left out of the report while zero, so runs without groups report as
/// before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpCounts {
    /// Sends acknowledged.
    pub sends_ok: u64,
    /// Sends that definitely did not take effect.
    pub sends_fail: u64,
    /// Sends that may have taken effect, including sends with no completion by the end.
    pub sends_info: u64,
    /// Polls that completed normally.
    pub polls_ok: u64,
    /// Polls that definitely failed.
    pub polls_fail: u64,
    /// Polls with an unknown outcome, including polls with no completion by the end.
    pub polls_info: u64,
    /// Records returned by all polls.
    pub records_read: u64,
    /// Offset commits acknowledged.
    #[serde(skip_serializing_if = "is_zero")]
    pub commits_ok: u64,
    /// Offset commits that definitely did not take effect.
    #[serde(skip_serializing_if = "is_zero")]
    pub commits_fail: u64,
    /// Offset commits that may have taken effect, including ones with no completion.
    #[serde(skip_serializing_if = "is_zero")]
    pub commits_info: u64,
    /// Assignments group members received (one per member per completed rebalance).
    #[serde(skip_serializing_if = "is_zero")]
    pub assignments_received: u64,
    /// Records a group's members were handed again after some member of the group had already
    /// polled them: re-delivery after a rebalance or a crash, which at-least-once allows.
    #[serde(skip_serializing_if = "is_zero")]
    pub records_redelivered: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// The kinds of operation with an invoke and a completion.
enum Op {
    Send,
    Poll,
    Commit,
    OffsetFetch,
}

/// Counts every operation by outcome. An invoke with no completion counts as info, as in Jepsen.
pub fn count(history: &History) -> OpCounts {
    let mut counts = OpCounts::default();
    // Invokes still waiting for a completion.
    let mut open: BTreeMap<u64, Op> = BTreeMap::new();
    for event in &history.events {
        match &event.kind {
            EventKind::SendInvoke { .. } => {
                open.insert(event.op, Op::Send);
            }
            EventKind::PollInvoke => {
                open.insert(event.op, Op::Poll);
            }
            EventKind::CommitInvoke { .. } => {
                open.insert(event.op, Op::Commit);
            }
            EventKind::OffsetFetchInvoke { .. } => {
                open.insert(event.op, Op::OffsetFetch);
            }
            EventKind::CommitComplete { outcome } => {
                open.remove(&event.op);
                let slot = match outcome {
                    Outcome::Ok => &mut counts.commits_ok,
                    Outcome::Fail(_) => &mut counts.commits_fail,
                    Outcome::Info(_) => &mut counts.commits_info,
                };
                *slot += 1;
            }
            EventKind::OffsetFetchComplete { .. } => {
                open.remove(&event.op);
            }
            EventKind::AssignmentReceived { .. } => counts.assignments_received += 1,
            EventKind::GroupJoined { .. }
            | EventKind::PartitionsRevoked { .. }
            | EventKind::ProcessCrashed => {}
            EventKind::SendComplete { outcome, .. } => {
                open.remove(&event.op);
                let slot = match outcome {
                    Outcome::Ok => &mut counts.sends_ok,
                    Outcome::Fail(_) => &mut counts.sends_fail,
                    Outcome::Info(_) => &mut counts.sends_info,
                };
                *slot += 1;
            }
            EventKind::PollComplete { outcome, reads } => {
                open.remove(&event.op);
                let slot = match outcome {
                    Outcome::Ok => &mut counts.polls_ok,
                    Outcome::Fail(_) => &mut counts.polls_fail,
                    Outcome::Info(_) => &mut counts.polls_info,
                };
                *slot += 1;
                counts.records_read += reads.len() as u64;
            }
            EventKind::Seek { .. } => {}
        }
    }
    for op in open.into_values() {
        match op {
            Op::Send => counts.sends_info += 1,
            Op::Poll => counts.polls_info += 1,
            Op::Commit => counts.commits_info += 1,
            Op::OffsetFetch => {}
        }
    }
    counts.records_redelivered = redelivered(history);
    counts
}

/// Polled records of a group that some member of the group had polled before.
fn redelivered(history: &History) -> u64 {
    let members = super::groups::member_processes(history);
    let mut seen: BTreeSet<(&str, &Tp, i64)> = BTreeSet::new();
    let mut again = 0;
    for event in &history.events {
        let EventKind::PollComplete { reads, .. } = &event.kind else {
            continue;
        };
        let groups = (members.iter()).filter(|(_, processes)| processes.contains(&event.process));
        for (group, _) in groups {
            for read in reads {
                if !seen.insert((group, &read.tp, read.offset)) {
                    again += 1;
                }
            }
        }
    }
    again
}

#[cfg(test)]
mod tests {
    use super::super::testing::{tp, HistoryBuilder};
    use super::*;

    #[test]
    fn counts_operations_by_outcome() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        b.send_fail(1, tp(0), 12);
        b.send_info(1, tp(0), 13);
        b.send_invoke(1, tp(0), 14); // never completes
        b.poll(2, &[(tp(0), 0, 10), (tp(0), 1, 11)]);
        b.poll(2, &[]);
        b.seek(2, tp(0), 0);
        assert_eq!(
            count(&b.build()),
            OpCounts {
                sends_ok: 2,
                sends_fail: 1,
                sends_info: 2,
                polls_ok: 2,
                polls_fail: 0,
                polls_info: 0,
                records_read: 2,
                ..OpCounts::default()
            }
        );
    }

    #[test]
    fn counts_group_operations_and_redelivery() {
        let mut b = HistoryBuilder::new();
        b.assign(1, "g", "a", 1, &[tp(0)]);
        b.poll(1, &[(tp(0), 0, 10), (tp(0), 1, 11)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 1)]);
        b.commit_invoke(1, "g", "a", 1, &[(tp(0), 2)]); // never completes
                                                        // a crashed before committing 2; b is handed offset 1 again, which is allowed.
        b.assign(2, "g", "b", 2, &[tp(0)]);
        b.poll(2, &[(tp(0), 1, 11), (tp(0), 2, 12)]);
        // A process outside the group reading the same records is not re-delivery.
        b.poll(3, &[(tp(0), 0, 10)]);
        let counts = count(&b.build());
        assert_eq!(
            (
                counts.commits_ok,
                counts.commits_info,
                counts.assignments_received
            ),
            (1, 1, 2)
        );
        assert_eq!(counts.records_redelivered, 1);
        assert_eq!(counts.records_read, 5);
    }

    #[test]
    fn group_counts_stay_out_of_reports_while_zero() {
        let json = serde_json::to_value(OpCounts::default()).unwrap();
        assert!(json.get("commits_ok").is_none());
        assert!(json.get("sends_ok").is_some());
    }

    #[test]
    fn empty_history_counts_nothing() {
        assert_eq!(count(&History::new()), OpCounts::default());
    }
}
