//! **committed-truncated**: a truncation removed the last copy of a committed offset — after
//! it, no replica's log reaches that offset.
//!
//! Rule (SIMULATION.md, committed-log model: a committed batch is fixed forever). How it
//! relates to the other kinds: a single replica truncating committed data is not an anomaly by
//! itself — Kafka 0.10's HW truncation and KIP-101's epoch truncation both do it routinely —
//! provided the replica refetches the same batch, which `committed-log-divergence` checks. A
//! clean leader lacking committed data is `leader-incomplete`, reported at the election. This
//! kind fires at the moment the loss becomes permanent (every copy gone; offsets below a log
//! start were removed by retention, which is not loss), once per newly lost range.

use super::{anomaly, At, PartitionModel};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "committed-truncated";

pub fn check(
    tp: &Tp,
    broker: i32,
    partition: &mut PartitionModel,
    offset: i64,
    reason: &str,
    at: At,
) -> Option<Anomaly> {
    let held_end = partition.max_log_end_offset();
    if held_end >= partition.committed_end {
        return None;
    }
    if partition
        .lost_reported_from
        .is_some_and(|from| held_end >= from)
    {
        return None;
    }
    partition.lost_reported_from = Some(held_end);
    let what = format!(
        "broker {broker} truncated {tp} at {offset} ({reason}); committed offsets {held_end}..{} are now held by no replica",
        partition.committed_end
    );
    Some(anomaly(KIND, tp, Some(held_end), at, what))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn online_committed_truncated_last_copy_is_reported() {
        let mut events = replicated_prefix();
        events.extend([truncated(2, 2), truncated(1, 3)]);
        let found = run(&events);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 8);
        assert_eq!(found[0].1.kind, "committed-truncated");
        assert_eq!(found[0].1.tp, Some(tp()));
        // Truncating at 3 removes the whole batch 2..=3.
        assert_eq!(found[0].1.offset, Some(2));
    }

    #[test]
    fn online_committed_truncated_one_follower_is_fine() {
        let mut events = replicated_prefix();
        events.extend([truncated(2, 2), truncated(1, 4)]);
        assert_eq!(kinds(&events), vec![]);
    }
}
