//! **unseen**: an acknowledged send whose value no poll returned and the final log does not hold.
//!
//! Guarantee: an acknowledged record is durable and readable, so by the end of the run (after
//! the drain) someone must have seen it (Jepsen's `unseen`; it is how a lost tail shows up,
//! where `lost-write` cannot fire). A send acknowledged below the final log start offset is
//! skipped: retention may have removed it before anyone polled, and retention is not loss.
//! Info and fail sends are never expected to be seen.

use super::ops;
use super::{Anomaly, FinalState};
use crate::history::History;

pub const KIND: &str = "unseen";

pub fn check(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    let read = ops::read_values(history, final_state);
    let mut anomalies = Vec::new();
    for send in ops::sends(history) {
        if !send.is_ok() || read.contains_key(&send.value) {
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
                "value {} acknowledged at {}{at} was never read by any poll nor found in the final log",
                send.value, send.tp
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
    fn acked_value_never_seen_is_unseen() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        let (invoke, complete) = b.send_ok(1, tp(0), 11, 1);
        b.poll(2, &[(tp(0), 0, 10)]);
        let anomalies = check(&b.build(), &final_state(&[(tp(0), 0, &[(0, 10)])]));
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, "unseen");
        assert_eq!(anomaly.tp, Some(tp(0)));
        assert_eq!(anomaly.value, Some(11));
        assert_eq!(anomaly.offset, Some(1));
        assert_eq!(anomaly.events, vec![invoke, complete]);
    }

    #[test]
    fn value_seen_only_in_the_final_log_is_seen() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        assert_eq!(
            check(&b.build(), &final_state(&[(tp(0), 0, &[(0, 10)])])),
            vec![]
        );
    }

    #[test]
    fn info_and_fail_sends_may_be_unseen() {
        let mut b = HistoryBuilder::new();
        b.send_info(1, tp(0), 10);
        b.send_fail(1, tp(0), 11);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn retention_below_log_start_is_not_unseen() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        assert_eq!(
            check(&b.build(), &final_state(&[(tp(0), 1, &[(1, 11)])])),
            vec![]
        );
    }
}
