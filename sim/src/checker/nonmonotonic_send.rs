//! **nonmonotonic-send**: a process's later acknowledged send to a partition landed at an offset
//! at or below an earlier acknowledged send's offset from the same process to the same partition.
//!
//! Guarantee: a partition's log is append-only and one producer's sends are appended in the
//! order it issued them (Jepsen's `nonmonotonic-send`). "Later" is invoke order within the
//! process; only ok sends carry an offset, so info and fail sends take no part.

use std::collections::BTreeMap;

use super::ops::{self, Send};
use super::{Anomaly, FinalState};
use crate::history::{History, Tp};

pub const KIND: &str = "nonmonotonic-send";

pub fn check(history: &History, _final_state: &FinalState) -> Vec<Anomaly> {
    // The highest acknowledged offset so far per (process, partition), with the send that got it.
    let mut highest: BTreeMap<(u32, &Tp), (i64, Send<'_>)> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for send in ops::sends(history) {
        let Some(offset) = send.offset.filter(|_| send.is_ok()) else {
            continue;
        };
        match highest.get(&(send.process, send.tp)) {
            Some((earlier_offset, earlier)) if offset <= *earlier_offset => {
                anomalies.push(anomaly(&send, offset, earlier, *earlier_offset));
            }
            _ => {
                highest.insert((send.process, send.tp), (offset, send));
            }
        }
    }
    anomalies
}

fn anomaly(send: &Send<'_>, offset: i64, earlier: &Send<'_>, earlier_offset: i64) -> Anomaly {
    Anomaly {
        kind: KIND.to_string(),
        tp: Some(send.tp.clone()),
        value: Some(send.value),
        offset: Some(offset),
        description: format!(
            "process {} sent value {} to {} after value {}, but it landed at offset {} <= {}",
            send.process, send.value, send.tp, earlier.value, offset, earlier_offset
        ),
        events: ops::event_list(earlier.events().into_iter().chain(send.events())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{tp, HistoryBuilder};
    use super::*;

    #[test]
    fn later_send_at_a_lower_offset_is_nonmonotonic() {
        let mut b = HistoryBuilder::new();
        let (first_invoke, first_complete) = b.send_ok(1, tp(0), 10, 5);
        let (second_invoke, second_complete) = b.send_ok(1, tp(0), 11, 3);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, "nonmonotonic-send");
        assert_eq!(anomaly.tp, Some(tp(0)));
        assert_eq!(anomaly.value, Some(11));
        assert_eq!(anomaly.offset, Some(3));
        assert_eq!(
            anomaly.events,
            vec![first_invoke, first_complete, second_invoke, second_complete]
        );
    }

    #[test]
    fn later_send_at_the_same_offset_is_nonmonotonic() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 5);
        b.send_ok(1, tp(0), 11, 5);
        assert_eq!(check(&b.build(), &FinalState::default()).len(), 1);
    }

    #[test]
    fn invoke_order_decides_not_completion_order() {
        let mut b = HistoryBuilder::new();
        let first = b.send_invoke(1, tp(0), 10);
        let second = b.send_invoke(1, tp(0), 11);
        // The second completes first, at a lower offset: still in invoke order, so fine.
        b.send_complete(1, second, crate::history::Outcome::Ok, Some(8));
        b.send_complete(1, first, crate::history::Outcome::Ok, Some(7));
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn other_processes_and_partitions_are_independent() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 5);
        b.send_ok(2, tp(0), 11, 3);
        b.send_ok(1, tp(1), 12, 0);
        b.send_info(1, tp(0), 13);
        b.send_ok(1, tp(0), 14, 6);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }
}
