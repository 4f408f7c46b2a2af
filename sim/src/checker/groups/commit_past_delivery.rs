//! **commit-past-delivery**: a group acknowledged a commit of offset `o` for a partition, yet
//! an acknowledged record of that partition below `o` was never returned by any poll of any
//! member of the group.
//!
//! Guarantee: Kafka's at-least-once consumption — a group commits `o` only once its members
//! were handed every record below `o`, so a consumer that resumes from the committed offset
//! misses nothing. Records are required only if they still exist: below the final log start
//! offset (retention, DeleteRecords) or missing from the converged log (compaction; a loss
//! there is acked-write-absent's) they may have gone before a member reached them. With no
//! final log for the partition every acknowledged record is required. Members are the
//! processes that recorded joining or being assigned in the group; a poll counts whenever it
//! happened, since a record re-delivered after the commit was still delivered.

use std::collections::{BTreeMap, BTreeSet};

use super::{commits, member_processes, Commit};
use crate::checker::{ops, Anomaly, FinalState};
use crate::history::{EventKind, History, Tp};

pub const KIND: &str = "commit-past-delivery";

pub fn check(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    let members = member_processes(history);
    let acked = acknowledged(history, final_state);
    let mut anomalies = Vec::new();
    for ((group, tp), commits) in committed(history) {
        let Some(acked) = acked.get(tp) else { continue };
        let polled = polled_by(history, members.get(group), tp);
        // The highest offset committed up to each commit, in completion order (ascending).
        let reach: Vec<i64> = (commits.iter())
            .scan(i64::MIN, |high, (offset, _)| {
                *high = (*high).max(*offset);
                Some(*high)
            })
            .collect();
        let highest = reach.last().copied().unwrap_or(i64::MIN);
        for (&offset, &(value, send)) in acked.range(..highest) {
            if polled.contains(&offset) {
                continue;
            }
            let first = reach.partition_point(|&high| high <= offset);
            let (committed, commit) = &commits[first];
            anomalies.push(Anomaly {
                kind: KIND.to_string(),
                tp: Some(tp.clone()),
                value: Some(value),
                offset: Some(offset),
                description: format!(
                    "group {group} committed {tp} at {committed}, but no member ever polled value {value} acknowledged at offset {offset}"
                ),
                events: ops::event_list(commit.events().into_iter().chain([send])),
            });
        }
    }
    anomalies
}

/// Acknowledged commits per (group, partition) in completion order, with the offset committed.
fn committed(history: &History) -> BTreeMap<(&str, &Tp), Vec<(i64, Commit<'_>)>> {
    let mut ok: Vec<Commit<'_>> = commits(history).into_iter().filter(Commit::is_ok).collect();
    ok.sort_by_key(|c| c.complete);
    let mut by_partition: BTreeMap<(&str, &Tp), Vec<(i64, Commit<'_>)>> = BTreeMap::new();
    for commit in ok {
        for (tp, offset) in commit.offsets {
            (by_partition.entry((commit.group, tp)).or_default()).push((*offset, commit.clone()));
        }
    }
    by_partition
}

/// Acknowledged records that must have been delivered: offset → (value, the send's completion).
fn acknowledged<'a>(
    history: &'a History,
    final_state: &FinalState,
) -> BTreeMap<&'a Tp, BTreeMap<i64, (u64, usize)>> {
    let mut acked: BTreeMap<&Tp, BTreeMap<i64, (u64, usize)>> = BTreeMap::new();
    for send in ops::sends(history).into_iter().filter(|s| s.is_ok()) {
        let (Some(offset), Some(complete)) = (send.offset, send.complete) else {
            continue;
        };
        let still_there = final_state.logs.get(send.tp).is_none_or(|log| {
            offset >= log.log_start_offset
                && log
                    .records
                    .binary_search_by_key(&offset, |&(o, _)| o)
                    .is_ok()
        });
        if still_there {
            acked
                .entry(send.tp)
                .or_default()
                .insert(offset, (send.value, complete));
        }
    }
    acked
}

/// The offsets of `tp` returned by any poll of a member process.
fn polled_by(history: &History, members: Option<&BTreeSet<u32>>, tp: &Tp) -> BTreeSet<i64> {
    let Some(members) = members else {
        return BTreeSet::new();
    };
    (history.events.iter())
        .filter(|event| members.contains(&event.process))
        .filter_map(|event| match &event.kind {
            EventKind::PollComplete { reads, .. } => Some(reads),
            _ => None,
        })
        .flatten()
        .filter(|read| &read.tp == tp)
        .map(|read| read.offset)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    fn produce(b: &mut HistoryBuilder, count: i64) -> Vec<(usize, usize)> {
        (0..count)
            .map(|o| b.send_ok(0, tp(0), 100 + o as u64, o))
            .collect()
    }

    #[test]
    fn committing_what_members_polled_is_fine() {
        let mut b = HistoryBuilder::new();
        produce(&mut b, 4);
        b.assign(1, "g", "a", 1, &[tp(0)]);
        b.poll(1, &[(tp(0), 0, 100), (tp(0), 1, 101)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 2)]);
        // Another member of the group polls the rest; the commit comes before its poll.
        b.assign(2, "g", "b", 2, &[tp(0)]);
        b.commit_ok(2, "g", "b", 2, &[(tp(0), 4)]);
        b.poll(2, &[(tp(0), 2, 102), (tp(0), 3, 103)]);
        let state = final_state(&[(tp(0), 0, &[(0, 100), (1, 101), (2, 102), (3, 103)])]);
        assert_eq!(check(&b.build(), &state), vec![]);
    }

    #[test]
    fn records_retention_or_compaction_removed_are_not_required() {
        let mut b = HistoryBuilder::new();
        produce(&mut b, 4);
        b.assign(1, "g", "a", 1, &[tp(0)]);
        b.poll(1, &[(tp(0), 3, 103)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 4)]);
        // Offset 0 is below the log start, offset 2 was compacted away.
        let state = final_state(&[(tp(0), 1, &[(1, 101), (3, 103)])]);
        let anomalies = check(&b.build(), &state);
        assert_eq!(anomalies.len(), 1);
        assert_eq!(
            (anomalies[0].offset, anomalies[0].value),
            (Some(1), Some(101))
        );
    }

    #[test]
    fn a_commit_past_a_record_no_member_polled_is_an_anomaly() {
        let mut b = HistoryBuilder::new();
        let sends = produce(&mut b, 3);
        b.assign(1, "g", "a", 1, &[tp(0)]);
        b.poll(1, &[(tp(0), 0, 100)]);
        // A process outside the group read offset 1; that does not count for the group.
        b.poll(9, &[(tp(0), 1, 101)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 1)]);
        let past = b.commit_ok(1, "g", "a", 1, &[(tp(0), 3)]);
        b.poll(1, &[(tp(0), 2, 102)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1, "{anomalies:?}");
        assert_eq!(anomalies[0].kind, KIND);
        assert_eq!(
            (anomalies[0].offset, anomalies[0].value),
            (Some(1), Some(101))
        );
        assert_eq!(anomalies[0].events, vec![sends[1].1, past.0, past.1]);
    }
}
