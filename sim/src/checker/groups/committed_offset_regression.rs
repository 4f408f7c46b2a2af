//! **committed-offset-regression**: an acknowledged commit of offset `o` for a group and
//! partition was invoked after an acknowledged commit of `o' > o` for the same group and
//! partition had completed, so the group's committed offset went back.
//!
//! Guarantee: the coordinator applies a group's commits in the order it receives them, and a
//! commit that completed before another was invoked was received first; the workloads never
//! seek back, so a member only commits positions at or past what the group committed before.
//! Commits whose intervals overlap may be applied in either order, so they are never compared;
//! only acknowledged commits are, since an `info` one may or may not have been applied. A
//! regression may be the broker's (it lost or reordered commits) or a client's (a member that
//! started from a stale position); both break at-least-once consumption.

use std::collections::BTreeMap;

use super::{commits, Commit};
use crate::checker::{ops, Anomaly, FinalState};
use crate::history::{History, Tp};

pub const KIND: &str = "committed-offset-regression";

pub fn check(history: &History, _final_state: &FinalState) -> Vec<Anomaly> {
    let commits = commits(history);
    // Acknowledged commits by completion index, so the walk below sees each at its completion.
    let mut by_completion: BTreeMap<usize, &Commit<'_>> = BTreeMap::new();
    for commit in commits.iter().filter(|c| c.is_ok()) {
        by_completion.insert(commit.complete.expect("ok has a completion"), commit);
    }
    // The highest offset of an acknowledged commit completed so far, per (group, partition),
    // with that commit.
    let mut highest: BTreeMap<(&str, &Tp), (i64, &Commit<'_>)> = BTreeMap::new();
    let mut completions = by_completion.iter().peekable();
    let mut anomalies = Vec::new();
    for commit in &commits {
        while let Some((_, done)) = completions.next_if(|(&index, _)| index < commit.invoke) {
            for (tp, offset) in done.offsets {
                let entry = highest.entry((done.group, tp)).or_insert((*offset, done));
                if *offset > entry.0 {
                    *entry = (*offset, done);
                }
            }
        }
        if !commit.is_ok() {
            continue;
        }
        for (tp, offset) in commit.offsets {
            let Some(&(before, earlier)) = highest.get(&(commit.group, tp)) else {
                continue;
            };
            if *offset < before {
                anomalies.push(Anomaly {
                    kind: KIND.to_string(),
                    tp: Some(tp.clone()),
                    value: None,
                    offset: Some(*offset),
                    description: format!(
                        "group {} committed {tp} at {offset} after a commit of {before} had completed",
                        commit.group
                    ),
                    events: ops::event_list(earlier.events().into_iter().chain(commit.events())),
                });
            }
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{tp, HistoryBuilder};
    use super::*;
    use crate::history::Outcome;

    #[test]
    fn commits_moving_forward_or_overlapping_are_fine() {
        let mut b = HistoryBuilder::new();
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 5), (tp(1), 3)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 7)]);
        // Two overlapping commits may be applied in either order.
        let high = b.commit_invoke(1, "g", "a", 1, &[(tp(0), 9)]);
        let low = b.commit_invoke(2, "g", "b", 1, &[(tp(0), 8)]);
        b.commit_complete(1, high, Outcome::Ok);
        b.commit_complete(2, low, Outcome::Ok);
        // Another group's offsets are its own; an info commit proves nothing.
        b.commit_ok(3, "other", "c", 1, &[(tp(0), 1)]);
        let lost = b.commit_invoke(1, "g", "a", 1, &[(tp(1), 1)]);
        b.commit_complete(1, lost, Outcome::Info("REQUEST_TIMED_OUT".into()));
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn a_lower_commit_after_a_higher_one_completed_is_a_regression() {
        let mut b = HistoryBuilder::new();
        let high = b.commit_ok(1, "g", "a", 1, &[(tp(0), 9)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(1), 2)]);
        let low = b.commit_ok(2, "g", "b", 2, &[(tp(0), 4)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, KIND);
        assert_eq!(
            (anomalies[0].tp.clone(), anomalies[0].offset),
            (Some(tp(0)), Some(4))
        );
        assert_eq!(anomalies[0].events, vec![high.0, high.1, low.0, low.1]);
    }
}
