//! **aborted-read** (Jepsen's G1a): a value whose send completed `fail` was returned by a poll or
//! is in the final log.
//!
//! Guarantee: `fail` is recorded only for errors returned before the append (SIMULATION.md,
//! "History"), so a failed send definitely did not take effect and its value must never exist.

use std::collections::BTreeMap;

use super::ops::{self, Observation, Source};
use super::{Anomaly, FinalState};
use crate::history::History;

pub const KIND: &str = "aborted-read";

pub fn check(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    let mut found: BTreeMap<u64, Vec<Observation<'_>>> = BTreeMap::new();
    for observation in ops::observations(history, final_state) {
        if !matches!(observation.source, Source::Ack(_)) {
            found
                .entry(observation.value)
                .or_default()
                .push(observation);
        }
    }
    let mut anomalies = Vec::new();
    for send in ops::sends(history) {
        let Some(seen) = found.get(&send.value).filter(|_| send.is_fail()) else {
            continue;
        };
        let first = seen.iter().min().expect("non-empty");
        anomalies.push(Anomaly {
            kind: KIND.to_string(),
            tp: Some(first.tp.clone()),
            value: Some(send.value),
            offset: Some(first.offset),
            description: format!(
                "value {} was sent to {} and failed, yet was found at {}@{}",
                send.value, send.tp, first.tp, first.offset
            ),
            events: ops::event_list(
                send.events()
                    .into_iter()
                    .chain(seen.iter().filter_map(|o| o.source.event())),
            ),
        });
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    #[test]
    fn failed_value_read_by_a_poll_is_an_aborted_read() {
        let mut b = HistoryBuilder::new();
        let (invoke, complete) = b.send_fail(1, tp(0), 10);
        let (_, poll) = b.poll(2, &[(tp(0), 4, 10)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, "aborted-read");
        assert_eq!(anomaly.tp, Some(tp(0)));
        assert_eq!(anomaly.value, Some(10));
        assert_eq!(anomaly.offset, Some(4));
        assert_eq!(anomaly.events, vec![invoke, complete, poll]);
    }

    #[test]
    fn failed_value_in_the_final_log_is_an_aborted_read() {
        let mut b = HistoryBuilder::new();
        b.send_fail(1, tp(0), 10);
        let anomalies = check(&b.build(), &final_state(&[(tp(0), 0, &[(0, 10)])]));
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].offset, Some(0));
    }

    #[test]
    fn info_value_read_is_fine_and_failed_value_unread_is_fine() {
        let mut b = HistoryBuilder::new();
        b.send_info(1, tp(0), 10);
        b.send_fail(1, tp(0), 11);
        b.poll(2, &[(tp(0), 0, 10)]);
        assert_eq!(
            check(&b.build(), &final_state(&[(tp(0), 0, &[(0, 10)])])),
            vec![]
        );
    }
}
