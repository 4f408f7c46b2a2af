//! **retention-above-hw**: retention deleted an offset at or above the replica's high
//! watermark.
//!
//! Rule (SIMULATION.md, online checkers: retention never deletes at or above HW; Kafka only
//! deletes segments wholly below the HW, so nothing uncommitted or unread-able is removed).

use super::model::ReplicaLog;
use super::{anomaly, At};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "retention-above-hw";

pub fn check(
    tp: &Tp,
    broker: i32,
    replica: &ReplicaLog,
    below_offset: i64,
    at: At,
) -> Option<Anomaly> {
    if below_offset <= replica.high_watermark {
        return None;
    }
    let what = format!(
        "retention on broker {broker} deleted {tp} below {below_offset}, at or above its high watermark {}",
        replica.high_watermark
    );
    Some(anomaly(KIND, tp, Some(replica.high_watermark), at, what))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn online_retention_above_hw_is_reported() {
        let events = [
            appended(1, 0, 4, 0, 9),
            high_watermark(1, 2),
            retention(1, 3),
        ];
        assert_eq!(kinds(&events), vec![("retention-above-hw".into(), Some(2))]);
    }

    #[test]
    fn online_retention_up_to_hw_is_fine() {
        let events = [
            appended(1, 0, 4, 0, 9),
            high_watermark(1, 2),
            retention(1, 2),
        ];
        assert_eq!(kinds(&events), vec![]);
    }
}
