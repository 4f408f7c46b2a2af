//! Operation counts by outcome, for the report: how much the run actually did, so that a run
//! that did nothing cannot pass.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::{EventKind, History, Outcome};

/// Sends and polls by how they completed, plus the records polls returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpCounts {
    /// Sends acknowledged.
    pub sends_ok: u64,
    /// Sends that definitely did not take effect.
    pub sends_fail: u64,
    /// Sends that may have taken effect, including sends with no completion by the end.
    pub sends_info: u64,
    /// Polls that completed normally.
    pub polls_ok: u64,
    /// Polls that definitely failed.
    pub polls_fail: u64,
    /// Polls with an unknown outcome, including polls with no completion by the end.
    pub polls_info: u64,
    /// Records returned by all polls.
    pub records_read: u64,
}

/// Counts every operation by outcome. An invoke with no completion counts as info, as in Jepsen.
pub fn count(history: &History) -> OpCounts {
    let mut counts = OpCounts::default();
    // Invokes still waiting for a completion: op → is a send.
    let mut open: BTreeMap<u64, bool> = BTreeMap::new();
    for event in &history.events {
        match &event.kind {
            EventKind::SendInvoke { .. } => {
                open.insert(event.op, true);
            }
            EventKind::PollInvoke => {
                open.insert(event.op, false);
            }
            EventKind::SendComplete { outcome, .. } => {
                open.remove(&event.op);
                let slot = match outcome {
                    Outcome::Ok => &mut counts.sends_ok,
                    Outcome::Fail(_) => &mut counts.sends_fail,
                    Outcome::Info(_) => &mut counts.sends_info,
                };
                *slot += 1;
            }
            EventKind::PollComplete { outcome, reads } => {
                open.remove(&event.op);
                let slot = match outcome {
                    Outcome::Ok => &mut counts.polls_ok,
                    Outcome::Fail(_) => &mut counts.polls_fail,
                    Outcome::Info(_) => &mut counts.polls_info,
                };
                *slot += 1;
                counts.records_read += reads.len() as u64;
            }
            EventKind::Seek { .. } => {}
        }
    }
    for is_send in open.into_values() {
        if is_send {
            counts.sends_info += 1;
        } else {
            counts.polls_info += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::super::testing::{tp, HistoryBuilder};
    use super::*;

    #[test]
    fn counts_operations_by_outcome() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(0), 11, 1);
        b.send_fail(1, tp(0), 12);
        b.send_info(1, tp(0), 13);
        b.send_invoke(1, tp(0), 14); // never completes
        b.poll(2, &[(tp(0), 0, 10), (tp(0), 1, 11)]);
        b.poll(2, &[]);
        b.seek(2, tp(0), 0);
        assert_eq!(
            count(&b.build()),
            OpCounts {
                sends_ok: 2,
                sends_fail: 1,
                sends_info: 2,
                polls_ok: 2,
                polls_fail: 0,
                polls_info: 0,
                records_read: 2,
            }
        );
    }

    #[test]
    fn empty_history_counts_nothing() {
        assert_eq!(count(&History::new()), OpCounts::default());
    }
}
