//! **nonmonotonic-poll**: a process read an offset of a partition at or below the offset it
//! read previously from that partition, with no seek on that partition in between.
//!
//! Guarantee: a consumer's position only moves forward unless it is explicitly moved, so the
//! records it reads from one partition have strictly increasing offsets (Jepsen's
//! `nonmonotonic-poll`; allowed under subscribe, where a rebalance may rewind — the workload
//! records that as a seek). Reads are compared across and within polls, in the order returned.

use std::collections::BTreeMap;

use super::{Anomaly, FinalState};
use crate::history::{EventKind, History, Tp};

pub const KIND: &str = "nonmonotonic-poll";

pub fn check(history: &History, _final_state: &FinalState) -> Vec<Anomaly> {
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
                        if read.offset <= previous {
                            anomalies.push(Anomaly {
                                kind: KIND.to_string(),
                                tp: Some(read.tp.clone()),
                                value: Some(read.value),
                                offset: Some(read.offset),
                                description: format!(
                                    "process {} read {}@{} after having read offset {} with no seek between",
                                    event.process, read.tp, read.offset, previous
                                ),
                                events: super::ops::event_list([previous_event, event.index]),
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

#[cfg(test)]
mod tests {
    use super::super::testing::{tp, HistoryBuilder};
    use super::*;

    #[test]
    fn reading_backwards_is_nonmonotonic() {
        let mut b = HistoryBuilder::new();
        let (_, first) = b.poll(1, &[(tp(0), 0, 10), (tp(0), 1, 11)]);
        let (_, second) = b.poll(1, &[(tp(0), 1, 11)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, "nonmonotonic-poll");
        assert_eq!(anomaly.tp, Some(tp(0)));
        assert_eq!(anomaly.value, Some(11));
        assert_eq!(anomaly.offset, Some(1));
        assert_eq!(anomaly.events, vec![first, second]);
    }

    #[test]
    fn backwards_within_one_poll_is_nonmonotonic() {
        let mut b = HistoryBuilder::new();
        b.poll(1, &[(tp(0), 3, 13), (tp(0), 2, 12)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].offset, Some(2));
    }

    #[test]
    fn forward_reads_are_monotonic() {
        let mut b = HistoryBuilder::new();
        b.poll(1, &[(tp(0), 0, 10), (tp(1), 0, 20)]);
        b.poll(1, &[(tp(0), 1, 11), (tp(1), 5, 25)]);
        b.poll(2, &[(tp(0), 0, 10)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn seek_resets_tracking() {
        let mut b = HistoryBuilder::new();
        b.poll(1, &[(tp(0), 0, 10), (tp(0), 1, 11)]);
        b.seek(1, tp(0), 0);
        b.poll(1, &[(tp(0), 0, 10)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn seek_on_another_partition_does_not_reset() {
        let mut b = HistoryBuilder::new();
        b.poll(1, &[(tp(0), 1, 11)]);
        b.seek(1, tp(1), 0);
        b.poll(1, &[(tp(0), 0, 10)]);
        assert_eq!(check(&b.build(), &FinalState::default()).len(), 1);
    }
}
