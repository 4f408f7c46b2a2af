//! **acked-write-absent**: an acknowledged send whose value is not in its partition's converged
//! final log, although its acknowledged offset is at or above that log's start offset.
//!
//! Guarantee: with acks=all, an acknowledged record is on at least min.insync.replicas replicas
//! and survives any failure within the failure model, so after healing and convergence it is in
//! the log unless retention deleted it (SIMULATION.md, "Checkers"). Only presence is checked
//! here; a value at a different offset than acknowledged is `inconsistent-offsets`. A partition
//! missing from the final state counts as an empty log. Info sends are never assumed absent and
//! fail sends are never expected present, so neither is checked.

use super::ops;
use super::{Anomaly, FinalState};
use crate::history::History;

pub const KIND: &str = "acked-write-absent";

pub fn check(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    let present = ops::final_values(final_state);
    let mut anomalies = Vec::new();
    for send in ops::sends(history) {
        if !send.is_ok()
            || present
                .get(send.tp)
                .is_some_and(|values| values.contains(&send.value))
        {
            continue;
        }
        let log_start_offset = ops::log_start_offset(final_state, send.tp);
        if send.offset.is_some_and(|offset| offset < log_start_offset) {
            continue;
        }
        let at = send
            .offset
            .map_or(String::new(), |offset| format!("@{offset}"));
        anomalies.push(Anomaly {
            kind: KIND.to_string(),
            tp: Some(send.tp.clone()),
            value: Some(send.value),
            offset: send.offset,
            description: format!(
                "value {} acknowledged at {}{at} is absent from the converged log (log start {})",
                send.value, send.tp, log_start_offset
            ),
            events: send.events(),
        });
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    #[test]
    fn acked_value_missing_from_final_log_is_absent() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        let (invoke, complete) = b.send_ok(1, tp(0), 11, 1);
        // A poll saw it, but the converged log no longer holds it.
        b.poll(2, &[(tp(0), 0, 10), (tp(0), 1, 11)]);
        let anomalies = check(&b.build(), &final_state(&[(tp(0), 0, &[(0, 10)])]));
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, "acked-write-absent");
        assert_eq!(anomaly.tp, Some(tp(0)));
        assert_eq!(anomaly.value, Some(11));
        assert_eq!(anomaly.offset, Some(1));
        assert_eq!(anomaly.events, vec![invoke, complete]);
    }

    #[test]
    fn acked_values_present_are_fine() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        let state = final_state(&[(tp(0), 0, &[(0, 10), (1, 11)])]);
        assert_eq!(check(&b.build(), &state), vec![]);
    }

    #[test]
    fn retention_below_log_start_is_not_absence() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        let state = final_state(&[(tp(0), 1, &[(1, 11)])]);
        assert_eq!(check(&b.build(), &state), vec![]);
    }

    #[test]
    fn info_send_absent_is_fine_and_fail_send_is_not_expected() {
        let mut b = HistoryBuilder::new();
        b.send_info(1, tp(0), 10);
        b.send_fail(1, tp(0), 11);
        assert_eq!(check(&b.build(), &final_state(&[(tp(0), 0, &[])])), vec![]);
    }

    #[test]
    fn missing_partition_counts_as_empty_log() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(3), 10, 0);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].tp, Some(tp(3)));
    }
}
