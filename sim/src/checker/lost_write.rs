//! **lost-write**: an acknowledged send whose value no one ever read, although a higher offset
//! of the same partition was read.
//!
//! Guarantee: an acknowledged (acks=all) record is committed, and a consumer reading a
//! partition in order sees every committed record below the highest offset it reached (Jepsen's
//! `lost-write`). Like Jepsen, this fires only when a later offset was read; a lost tail shows
//! as `unseen` instead.
//!
//! "Read" means returned by any poll *or* present in the final log: the final log is the drain
//! (Jepsen's final read phase), so it counts both as having read the value and towards the
//! partition's highest read offset. A send acknowledged below the final log start offset is
//! skipped: retention may have removed it before anyone polled, and retention is not loss.

use std::collections::BTreeMap;

use super::ops::{self, Source};
use super::{Anomaly, FinalState};
use crate::history::{History, Tp};

pub const KIND: &str = "lost-write";

pub fn check(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    let read = ops::read_values(history, final_state);
    let highest = highest_read_offsets(history, final_state);
    let mut anomalies = Vec::new();
    for send in ops::sends(history) {
        let Some(offset) = send.offset.filter(|_| send.is_ok()) else {
            continue;
        };
        let Some(&(highest_offset, source)) = highest.get(send.tp) else {
            continue;
        };
        let retained = offset >= ops::log_start_offset(final_state, send.tp);
        if retained && offset < highest_offset && !read.contains_key(&send.value) {
            anomalies.push(Anomaly {
                kind: KIND.to_string(),
                tp: Some(send.tp.clone()),
                value: Some(send.value),
                offset: Some(offset),
                description: format!(
                    "value {} acknowledged at {}@{} was never read, though offset {} was read by {}",
                    send.value,
                    send.tp,
                    offset,
                    highest_offset,
                    describe(source),
                ),
                events: ops::event_list(send.events().into_iter().chain(source.event())),
            });
        }
    }
    anomalies
}

/// The highest offset read in each partition and the first source that read it.
fn highest_read_offsets<'a>(
    history: &'a History,
    final_state: &'a FinalState,
) -> BTreeMap<&'a Tp, (i64, Source)> {
    let mut highest: BTreeMap<&Tp, (i64, Source)> = BTreeMap::new();
    let mut note = |tp: &'a Tp, offset: i64, source: Source| {
        let entry = highest.entry(tp).or_insert((offset, source));
        if offset > entry.0 {
            *entry = (offset, source);
        }
    };
    for poll in ops::polls(history) {
        for read in poll.reads {
            note(&read.tp, read.offset, Source::Poll(poll.complete));
        }
    }
    for (tp, log) in &final_state.logs {
        if let Some(&(offset, _)) = log.records.last() {
            note(tp, offset, Source::FinalLog);
        }
    }
    highest
}

fn describe(source: Source) -> String {
    match source {
        Source::Poll(index) => format!("the poll completing at event {index}"),
        Source::Ack(index) => format!("the send completing at event {index}"),
        Source::FinalLog => "the final drain".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    #[test]
    fn acked_value_skipped_below_a_read_offset_is_lost() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        let (invoke, complete) = b.send_ok(1, tp(0), 11, 1);
        b.send_ok(1, tp(0), 12, 2);
        let (_, poll) = b.poll(2, &[(tp(0), 0, 10), (tp(0), 2, 12)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, "lost-write");
        assert_eq!(anomaly.tp, Some(tp(0)));
        assert_eq!(anomaly.value, Some(11));
        assert_eq!(anomaly.offset, Some(1));
        assert_eq!(anomaly.events, vec![invoke, complete, poll]);
    }

    #[test]
    fn every_acked_value_read_is_not_lost() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        b.poll(2, &[(tp(0), 0, 10), (tp(0), 1, 11)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn a_lost_tail_is_not_a_lost_write() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        b.poll(2, &[(tp(0), 0, 10)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }

    #[test]
    fn the_drain_counts_as_a_read() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        b.send_ok(1, tp(0), 12, 2);
        b.poll(2, &[(tp(0), 2, 12)]);
        let history = b.build();
        // Read by the drain: not lost.
        let drained = final_state(&[(tp(0), 0, &[(0, 10), (1, 11), (2, 12)])]);
        assert_eq!(check(&history, &drained), vec![]);
        // Missing from polls and drain, while the drain reached offset 2: lost.
        let lost = final_state(&[(tp(0), 0, &[(0, 10), (2, 12)])]);
        let anomalies = check(&history, &lost);
        assert_eq!(anomalies.len(), 1);
        assert_eq!(
            (anomalies[0].value, anomalies[0].offset),
            (Some(11), Some(1))
        );
    }

    #[test]
    fn retention_below_log_start_is_not_loss() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        let history = b.build();
        let state = final_state(&[(tp(0), 1, &[(1, 11)])]);
        assert_eq!(check(&history, &state), vec![]);
    }

    #[test]
    fn info_and_fail_sends_are_never_lost() {
        let mut b = HistoryBuilder::new();
        b.send_info(1, tp(0), 10);
        b.send_fail(1, tp(0), 11);
        b.send_ok(1, tp(0), 12, 5);
        b.poll(2, &[(tp(0), 5, 12)]);
        assert_eq!(check(&b.build(), &FinalState::default()), vec![]);
    }
}
