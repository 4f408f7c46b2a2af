//! The offline checkers: pure functions over the recorded history and the converged final logs,
//! one file per anomaly kind (Jepsen's Kafka set plus kafkasim's acked-write-absent, and the
//! consumer group checkers under `groups/`). Each
//! returns the anomalies it found; `check_all` runs them all and sorts the result so a report
//! is byte-for-byte reproducible.
//!
//! Shared rules, from SIMULATION.md: an `info` send is never assumed absent, a `fail` send is
//! never expected present, and an acknowledged offset below the final log start offset was
//! removed by retention, which is not loss.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::{History, Tp};

pub mod aborted_read;
pub mod acked_write_absent;
pub mod corrupt_batch_kept;
pub mod duplicate;
pub mod fetch_over_limit;
pub mod groups;
pub mod inconsistent_offsets;
pub mod lost_write;
pub mod nonmonotonic_poll;
pub mod nonmonotonic_send;
pub mod poll_skip;
pub mod summary;
pub mod unseen;
pub mod wire;

pub(crate) mod ops;
#[cfg(test)]
pub(crate) mod testing;

/// One violation found by a checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// The anomaly kind, one of `ALL_KINDS` (e.g. "lost-write").
    pub kind: String,
    /// The partition involved, when there is one.
    pub tp: Option<Tp>,
    /// The value involved, when there is one.
    pub value: Option<u64>,
    /// The offset involved, when there is one.
    pub offset: Option<i64>,
    /// One sentence a user can read.
    pub description: String,
    /// History indexes of the operations involved (invokes and completions), ascending.
    pub events: Vec<usize>,
}

impl Anomaly {
    /// The order `check_all` reports anomalies in: kind, partition, offset, value, then the
    /// rest so that the order is total.
    pub fn report_order(&self, other: &Self) -> std::cmp::Ordering {
        (&self.kind, &self.tp, self.offset, self.value)
            .cmp(&(&other.kind, &other.tp, other.offset, other.value))
            .then_with(|| self.events.cmp(&other.events))
            .then_with(|| self.description.cmp(&other.description))
    }
}

/// What the converged cluster holds at the end, read back by the runner after draining.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FinalState {
    /// One log per partition; a partition missing here is treated as an empty log.
    pub logs: BTreeMap<Tp, FinalLog>,
}

/// One partition's converged log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FinalLog {
    /// Offsets below this were removed by retention (not loss).
    pub log_start_offset: i64,
    /// The converged high watermark (equal to every replica's log end offset).
    pub high_watermark: i64,
    /// Every record from log start to high watermark, as (offset, value), in offset order.
    pub records: Vec<(i64, u64)>,
}

/// Every anomaly kind name, sorted.
pub const ALL_KINDS: &[&str] = &[
    aborted_read::KIND,
    acked_write_absent::KIND,
    wire::KIND,
    groups::commit_past_delivery::KIND,
    groups::committed_offset_lost::KIND,
    groups::committed_offset_regression::KIND,
    groups::concurrent_owner::KIND,
    corrupt_batch_kept::KIND,
    duplicate::KIND,
    fetch_over_limit::KIND,
    groups::generation_double_owner::KIND,
    inconsistent_offsets::KIND,
    lost_write::KIND,
    nonmonotonic_poll::KIND,
    nonmonotonic_send::KIND,
    poll_skip::KIND,
    groups::stale_generation_commit::KIND,
    unseen::KIND,
];

/// Runs every checker and returns their anomalies sorted by kind, partition, offset and value.
pub fn check_all(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    let checkers: [fn(&History, &FinalState) -> Vec<Anomaly>; 17] = [
        aborted_read::check,
        acked_write_absent::check,
        duplicate::check,
        fetch_over_limit::check,
        groups::commit_past_delivery::check,
        groups::committed_offset_lost::check,
        groups::committed_offset_regression::check,
        groups::concurrent_owner::check,
        groups::generation_double_owner::check,
        groups::stale_generation_commit::check,
        inconsistent_offsets::check,
        lost_write::check,
        nonmonotonic_poll::check,
        nonmonotonic_send::check,
        poll_skip::check,
        unseen::check,
        wire::check,
    ];
    let mut anomalies: Vec<Anomaly> = checkers
        .iter()
        .flat_map(|check| check(history, final_state))
        .collect();
    anomalies.sort_by(Anomaly::report_order);
    anomalies
}

#[cfg(test)]
mod tests {
    use super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    #[test]
    fn all_kinds_is_sorted_and_unique() {
        let mut sorted = ALL_KINDS.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ALL_KINDS);
    }

    #[test]
    fn clean_history_has_no_anomalies() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        b.send_info(1, tp(0), 12);
        b.send_fail(1, tp(0), 13);
        b.send_ok(2, tp(1), 20, 0);
        b.poll(3, &[(tp(0), 0, 10), (tp(0), 1, 11)]);
        b.poll(3, &[(tp(1), 0, 20)]);
        let history = b.build();
        let state = final_state(&[(tp(0), 0, &[(0, 10), (1, 11)]), (tp(1), 0, &[(0, 20)])]);
        assert_eq!(check_all(&history, &state), vec![]);
    }

    #[test]
    fn clean_group_history_has_no_anomalies() {
        // Two members share t/0 and t/1 through a cooperative rebalance, commit what they
        // polled, and a restarted member fetches the commits back.
        let mut b = HistoryBuilder::new();
        for offset in 0..4 {
            b.send_ok(0, tp(0), 10 + offset as u64, offset);
            b.send_ok(0, tp(1), 20 + offset as u64, offset);
        }
        b.join(1, "g", "a", 1);
        b.assign(1, "g", "a", 1, &[tp(0), tp(1)]);
        b.poll(1, &[(tp(0), 0, 10), (tp(0), 1, 11), (tp(1), 0, 20)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 2), (tp(1), 1)]);
        b.join(1, "g", "a", 2);
        b.join(2, "g", "b", 2);
        b.assign(1, "g", "a", 2, &[tp(0)]);
        b.assign(2, "g", "b", 2, &[]);
        b.revoke(1, "g", "a", 2, &[tp(1)]);
        b.join(1, "g", "a", 3);
        b.join(2, "g", "b", 3);
        b.assign(1, "g", "a", 3, &[tp(0)]);
        b.assign(2, "g", "b", 3, &[tp(1)]);
        b.offset_fetch(2, "g", &[(tp(1), 1)]);
        b.poll(2, &[(tp(1), 1, 21), (tp(1), 2, 22), (tp(1), 3, 23)]);
        b.poll(1, &[(tp(0), 2, 12), (tp(0), 3, 13)]);
        b.commit_ok(1, "g", "a", 3, &[(tp(0), 4)]);
        b.commit_ok(2, "g", "b", 3, &[(tp(1), 4)]);
        b.offset_fetch(3, "g", &[(tp(0), 4), (tp(1), 4)]);
        let history = b.build();
        let t0: Vec<(i64, u64)> = (0..4).map(|o| (o, 10 + o as u64)).collect();
        let t1: Vec<(i64, u64)> = (0..4).map(|o| (o, 20 + o as u64)).collect();
        let state = final_state(&[(tp(0), 0, &t0), (tp(1), 0, &t1)]);
        assert_eq!(check_all(&history, &state), vec![]);
    }

    #[test]
    fn every_group_checker_is_registered() {
        let mut b = HistoryBuilder::new();
        b.send_ok(0, tp(0), 10, 0);
        b.send_ok(0, tp(0), 11, 1);
        b.join(1, "g", "a", 1);
        b.assign(1, "g", "a", 1, &[tp(0)]);
        b.poll(1, &[(tp(0), 0, 10)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 2)]); // past offset 1, never polled
        b.join(1, "g", "a", 2);
        b.join(2, "g", "b", 2);
        b.assign(2, "g", "b", 2, &[tp(0)]); // a has not revoked t/0
        b.assign(3, "g", "c", 2, &[tp(0)]); // and c owns it too
        b.poll(2, &[(tp(0), 0, 10)]);
        b.commit_ok(1, "g", "a", 1, &[(tp(0), 1)]); // generation 1 after 2 was assigned
        b.offset_fetch(4, "g", &[(tp(0), -1)]);
        let history = b.build();
        let state = final_state(&[(tp(0), 0, &[(0, 10), (1, 11)])]);
        let mut kinds: Vec<String> = (check_all(&history, &state).into_iter())
            .map(|a| a.kind)
            .collect();
        kinds.dedup();
        assert_eq!(
            kinds,
            vec![
                groups::commit_past_delivery::KIND,
                groups::committed_offset_lost::KIND,
                groups::committed_offset_regression::KIND,
                groups::concurrent_owner::KIND,
                groups::generation_double_owner::KIND,
                groups::stale_generation_commit::KIND,
            ]
        );
    }

    #[test]
    fn large_clean_history_has_no_false_positives() {
        // Over 100k events: 4 producers over 4 partitions, one consumer per partition reading
        // in batches of 10, and a drain holding everything.
        let mut b = HistoryBuilder::new();
        let mut logs: BTreeMap<i32, Vec<(i64, u64)>> = BTreeMap::new();
        for value in 0..50_000u64 {
            let partition = (value % 4) as i32;
            let log = logs.entry(partition).or_default();
            let offset = log.len() as i64;
            b.send_ok((value % 4) as u32, tp(partition), value, offset);
            log.push((offset, value));
        }
        for (&partition, log) in &logs {
            for batch in log.chunks(10) {
                let reads: Vec<(Tp, i64, u64)> = batch
                    .iter()
                    .map(|&(offset, value)| (tp(partition), offset, value))
                    .collect();
                b.poll(100 + partition as u32, &reads);
            }
        }
        let history = b.build();
        assert!(history.events.len() >= 100_000);
        let mut state = FinalState::default();
        for (&partition, log) in &logs {
            let high_watermark = log.len() as i64;
            let records = log.clone();
            state.logs.insert(
                tp(partition),
                FinalLog {
                    log_start_offset: 0,
                    high_watermark,
                    records,
                },
            );
        }
        assert_eq!(check_all(&history, &state), vec![]);
    }

    #[test]
    fn bad_history_reports_sorted_anomalies() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        b.send_ok(1, tp(0), 12, 2);
        b.send_fail(1, tp(1), 20);
        b.poll(3, &[(tp(0), 0, 10), (tp(0), 2, 12)]);
        b.poll(3, &[(tp(1), 0, 20)]);
        let history = b.build();
        // The final log lost value 11, and the failed send's value 20 is present.
        let state = final_state(&[(tp(0), 0, &[(0, 10), (2, 12)]), (tp(1), 0, &[(0, 20)])]);
        let anomalies = check_all(&history, &state);
        let kinds: Vec<(&str, Option<i64>, Option<u64>)> = anomalies
            .iter()
            .map(|a| (a.kind.as_str(), a.offset, a.value))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("aborted-read", Some(0), Some(20)),
                ("acked-write-absent", Some(1), Some(11)),
                ("lost-write", Some(1), Some(11)),
                ("poll-skip", Some(2), Some(12)),
                ("unseen", Some(1), Some(11)),
            ]
        );
        let mut sorted = anomalies.clone();
        sorted.sort_by(Anomaly::report_order);
        assert_eq!(anomalies, sorted);
        assert_eq!(check_all(&history, &state), anomalies, "deterministic");
    }
}
