//! **fetch-above-hw**: a client fetch was served an offset at or above the serving broker's
//! high watermark.
//!
//! Rule (SIMULATION.md, online checkers: client fetches return only offsets below the leader's
//! HW; Kafka's consumers read below HW). The bound is the lower of the HW the model last saw
//! the broker announce and the HW the response itself reported, so a response that lies about
//! its HW is caught too.

use super::model::ReplicaLog;
use super::{anomaly, At};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "fetch-above-hw";

pub fn check(
    tp: &Tp,
    broker: i32,
    replica: &ReplicaLog,
    offsets: (i64, i64),
    reported_high_watermark: i64,
    at: At,
) -> Option<Anomaly> {
    let (first, last) = offsets;
    let bound = replica.high_watermark.min(reported_high_watermark);
    if last < bound {
        return None;
    }
    let what = format!(
        "broker {broker} served {tp} offsets {first}..={last} to a client, at or above its high watermark {} (response said {reported_high_watermark})",
        replica.high_watermark
    );
    Some(anomaly(KIND, tp, Some(first.max(bound)), at, what))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn online_fetch_above_hw_is_reported() {
        let mut events = replicated_prefix();
        events.extend([appended(1, 4, 6, 0, 102), fetched(1, 2, 5, 4)]);
        assert_eq!(kinds(&events), vec![("fetch-above-hw".into(), Some(4))]);
    }

    #[test]
    fn online_fetch_claiming_a_higher_hw_than_announced_is_reported() {
        let mut events = replicated_prefix();
        events.extend([appended(1, 4, 6, 0, 102), fetched(1, 4, 4, 7)]);
        assert_eq!(kinds(&events), vec![("fetch-above-hw".into(), Some(4))]);
    }

    #[test]
    fn online_fetch_below_hw_is_fine() {
        let mut events = replicated_prefix();
        events.extend([appended(1, 4, 6, 0, 102), fetched(1, 2, 3, 4)]);
        assert_eq!(kinds(&events), vec![]);
    }
}
