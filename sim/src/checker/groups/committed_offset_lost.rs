//! **committed-offset-lost**: an OffsetFetch returned, for a partition, an offset lower than
//! an acknowledged commit of that group and partition that completed before the fetch was
//! invoked, and no other commit explains the lower value.
//!
//! Guarantee: an acknowledged commit is durable — it was persisted to `__consumer_offsets`
//! before the answer — so a later OffsetFetch, from any coordinator after any failover, returns
//! it or something committed after it. A lower value is explained only by a commit of exactly
//! that value (acknowledged, info, or never completed; a failed one never applied) that was
//! invoked before the fetch completed and did not complete before the acknowledged one was
//! invoked, so it may have been applied after it. A fetched -1 (no committed offset) is never
//! explained. Offsets legitimately disappear only when the group is deleted or its offsets
//! expire (offsets.retention.minutes); no workload does either yet, and when one does this
//! checker must forget the group's commits at that event.

use std::collections::BTreeMap;

use super::{commits, offset_fetches, Commit, OffsetFetch};
use crate::checker::{ops, Anomaly, FinalState};
use crate::history::{History, Tp};

pub const KIND: &str = "committed-offset-lost";

/// One commit of one partition: the offset and the commit it belongs to.
type PartitionCommit<'a, 'h> = (i64, &'a Commit<'h>);

pub fn check(history: &History, _final_state: &FinalState) -> Vec<Anomaly> {
    let commits = commits(history);
    let mut by_partition: BTreeMap<(&str, &Tp), Vec<PartitionCommit<'_, '_>>> = BTreeMap::new();
    for commit in commits.iter().filter(|c| !c.is_fail()) {
        for (tp, offset) in commit.offsets {
            (by_partition.entry((commit.group, tp)).or_default()).push((*offset, commit));
        }
    }
    let mut anomalies = Vec::new();
    for fetch in offset_fetches(history) {
        for (tp, fetched) in fetch.offsets {
            let Some(partition) = by_partition.get(&(fetch.group, tp)) else {
                continue;
            };
            if let Some((offset, commit)) = unexplained(partition, &fetch, *fetched) {
                anomalies.push(Anomaly {
                    kind: KIND.to_string(),
                    tp: Some(tp.clone()),
                    value: None,
                    offset: Some(*fetched),
                    description: format!(
                        "an OffsetFetch of group {} returned {fetched} for {tp}, below the commit of {offset} acknowledged before it was invoked",
                        fetch.group
                    ),
                    events: ops::event_list(
                        commit.events().into_iter().chain([fetch.invoke, fetch.complete]),
                    ),
                });
            }
        }
    }
    anomalies
}

/// The highest acknowledged commit completed before `fetch` was invoked that the fetched
/// offset is below and that no other commit explains.
fn unexplained<'a, 'h>(
    partition: &[PartitionCommit<'a, 'h>],
    fetch: &OffsetFetch<'_>,
    fetched: i64,
) -> Option<PartitionCommit<'a, 'h>> {
    let done_before =
        |commit: &Commit<'_>, index: usize| commit.complete.is_some_and(|c| c < index);
    let explains = |acked: &Commit<'_>, (offset, commit): &PartitionCommit<'_, '_>| {
        *offset == fetched
            && !std::ptr::eq(*commit, acked)
            && commit.invoke < fetch.complete
            && !done_before(commit, acked.invoke)
    };
    (partition.iter())
        .filter(|(offset, commit)| commit.is_ok() && *offset > fetched)
        .filter(|(_, commit)| done_before(commit, fetch.invoke))
        .filter(|(_, acked)| !partition.iter().any(|other| explains(acked, other)))
        .max_by_key(|(offset, commit)| (*offset, commit.invoke))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{tp, HistoryBuilder};
    use super::*;
    use crate::history::Outcome;

    #[test]
    fn fetching_the_last_commit_or_a_later_one_is_fine() {
        let mut b = HistoryBuilder::new();
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 5)]);
        b.offset_fetch(2, "g", &[(tp(0), 5), (tp(1), -1)]);
        // A commit still in flight when the fetch runs may already show.
        let op = b.commit_invoke(1, "g", "a", 1, &[(tp(0), 8)]);
        b.offset_fetch(2, "g", &[(tp(0), 8)]);
        b.commit_complete(1, op, Outcome::Ok);
        // A lower commit that overlapped the acknowledged one may have been applied after it.
        let low = b.commit_invoke(3, "g", "c", 1, &[(tp(0), 6)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 9)]);
        b.commit_complete(3, low, Outcome::Info("REQUEST_TIMED_OUT".into()));
        b.offset_fetch(2, "g", &[(tp(0), 6)]);
        // Another group's fetch says nothing about this one.
        b.offset_fetch(2, "other", &[(tp(0), -1)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn a_fetch_below_an_acknowledged_commit_is_an_anomaly() {
        let mut b = HistoryBuilder::new();
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 5)]);
        let acked = b.commit_ok(1, "g", "a", 1, &[(tp(0), 9)]);
        // A failed commit of the fetched value explains nothing: it was never applied.
        let op = b.commit_invoke(3, "g", "c", 1, &[(tp(0), 5)]);
        b.commit_complete(3, op, Outcome::Fail("ILLEGAL_GENERATION".into()));
        let fetch = b.offset_fetch(2, "g", &[(tp(0), 5), (tp(1), -1)]);
        // The group's offsets vanished altogether after a coordinator failover.
        let gone = b.offset_fetch(2, "g", &[(tp(0), -1)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 2, "{anomalies:?}");
        assert_eq!(anomalies[0].kind, KIND);
        assert_eq!(anomalies[0].offset, Some(5));
        assert_eq!(
            anomalies[0].events,
            vec![acked.0, acked.1, fetch.0, fetch.1]
        );
        assert_eq!(anomalies[1].offset, Some(-1));
        assert_eq!(anomalies[1].events, vec![acked.0, acked.1, gone.0, gone.1]);
    }
}
