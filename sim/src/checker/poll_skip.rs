//! **poll-skip**: a process's successive reads of a partition jumped over offsets known to exist
//! in that partition, with no seek on that partition in between.
//!
//! Guarantee: a consumer reading a partition in order receives every record between its
//! position and the high watermark, so consecutive reads from one partition are consecutive
//! records of its log (Jepsen's `poll-skip`; allowed under subscribe, where a rebalance may move
//! the position — the workload records that as a seek). Offsets "known to exist" are the union
//! of every offset observed by any poll, any ok send acknowledgement and the final log, so gaps
//! that no one ever saw (control records, compaction) are not skips.

use std::collections::{BTreeMap, BTreeSet};

use super::ops;
use super::{Anomaly, FinalState};
use crate::history::{EventKind, History, Read, Tp};

pub const KIND: &str = "poll-skip";

pub fn check(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    let observations = ops::observations(history, final_state);
    let known = ops::known_offsets(&observations);
    // The last offset read per (process, partition), with the poll completion that read it.
    let mut last: BTreeMap<(u32, &Tp), (i64, usize)> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for event in &history.events {
        match &event.kind {
            EventKind::Seek { tp, .. } => {
                last.remove(&(event.process, tp));
            }
            EventKind::PollComplete { reads, .. } => {
                for read in reads {
                    let key = (event.process, &read.tp);
                    if let Some(&(previous, previous_event)) = last.get(&key) {
                        let skipped = skipped_offsets(&known, read, previous);
                        if let Some(&first_skipped) = skipped.first() {
                            anomalies.push(Anomaly {
                                kind: KIND.to_string(),
                                tp: Some(read.tp.clone()),
                                value: Some(read.value),
                                offset: Some(read.offset),
                                description: format!(
                                    "process {} read {}@{} right after offset {}, skipping {} known offset(s) starting at {}",
                                    event.process, read.tp, read.offset, previous, skipped.len(), first_skipped
                                ),
                                events: ops::event_list([previous_event, event.index]),
                            });
                        }
                    }
                    last.insert(key, (read.offset, event.index));
                }
            }
            _ => {}
        }
    }
    anomalies
}

/// Known offsets strictly between the previous read and this one (empty unless moving forward).
fn skipped_offsets(known: &BTreeMap<&Tp, BTreeSet<i64>>, read: &Read, previous: i64) -> Vec<i64> {
    if read.offset <= previous + 1 {
        return Vec::new();
    }
    known
        .get(&read.tp)
        .map(|offsets| offsets.range(previous + 1..read.offset).copied().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    #[test]
    fn jumping_over_a_known_offset_is_a_skip() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 11, 1);
        let (_, first) = b.poll(2, &[(tp(0), 0, 10)]);
        let (_, second) = b.poll(2, &[(tp(0), 2, 12)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, "poll-skip");
        assert_eq!(anomaly.tp, Some(tp(0)));
        assert_eq!(anomaly.value, Some(12));
        assert_eq!(anomaly.offset, Some(2));
        assert_eq!(anomaly.events, vec![first, second]);
    }

    #[test]
    fn offset_known_only_from_the_final_log_counts() {
        let mut b = HistoryBuilder::new();
        b.poll(2, &[(tp(0), 0, 10), (tp(0), 2, 12)]);
        let state = final_state(&[(tp(0), 0, &[(0, 10), (1, 11), (2, 12)])]);
        let anomalies = check(&b.build(), &state);
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].offset, Some(2));
    }

    #[test]
    fn gaps_no_one_observed_are_not_skips() {
        let mut b = HistoryBuilder::new();
        // Offset 1 might be a transaction marker: nobody ever saw a record there.
        b.poll(2, &[(tp(0), 0, 10), (tp(0), 2, 12)]);
        b.poll(2, &[(tp(0), 3, 13)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn seek_resets_tracking() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 11, 1);
        b.poll(2, &[(tp(0), 0, 10)]);
        b.seek(2, tp(0), 2);
        b.poll(2, &[(tp(0), 2, 12)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn other_processes_are_independent() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 11, 1);
        b.poll(2, &[(tp(0), 0, 10)]);
        b.poll(3, &[(tp(0), 2, 12)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }
}
