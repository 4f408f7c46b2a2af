//! **offset-order**: a replica's offsets broke their order — log start ≤ HW ≤ LEO failed, the
//! log start went down, or a batch was appended anywhere but at the LEO.
//!
//! Rule (SIMULATION.md, online checkers): per replica log start ≤ HW ≤ LEO and the log start
//! only grows; Kafka appends strictly at the log end (TigerBeetle-style invariant: base offsets
//! strictly increasing). A restart may lower the log start once, because its checkpoint is
//! periodic; truncation below the log start is a decrease.

use super::model::{Batch, ReplicaLog};
use super::{anomaly, At};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "offset-order";

/// An append must be a well-formed batch starting exactly at the replica's LEO.
pub fn check_append(
    tp: &Tp,
    broker: i32,
    replica: &ReplicaLog,
    batch: &Batch,
    at: At,
) -> Option<Anomaly> {
    let problem = if batch.last_offset < batch.base_offset {
        "its last offset is below its base offset"
    } else if batch.base_offset != replica.log_end_offset {
        "it does not start at the log end offset"
    } else {
        return None;
    };
    let what = format!(
        "broker {broker} appended {}..={} to {tp} whose log end offset was {}: {problem}",
        batch.base_offset, batch.last_offset, replica.log_end_offset
    );
    Some(anomaly(KIND, tp, Some(batch.base_offset), at, what))
}

/// A truncation below the log start lowers it.
pub fn check_truncate(
    tp: &Tp,
    broker: i32,
    replica: &ReplicaLog,
    offset: i64,
    at: At,
) -> Option<Anomaly> {
    if offset >= replica.log_start_offset || replica.log_start_may_reset {
        return None;
    }
    let what = format!(
        "broker {broker} truncated {tp} at {offset}, below its log start offset {}: the log start went down",
        replica.log_start_offset
    );
    Some(anomaly(KIND, tp, Some(offset), at, what))
}

/// A new HW must lie within log start..=LEO.
pub fn check_high_watermark(
    tp: &Tp,
    broker: i32,
    replica: &ReplicaLog,
    high_watermark: i64,
    at: At,
) -> Option<Anomaly> {
    if replica.log_start_offset <= high_watermark && high_watermark <= replica.log_end_offset {
        return None;
    }
    let what = format!(
        "broker {broker} set the high watermark of {tp} to {high_watermark} outside log start {} ..= log end offset {}",
        replica.log_start_offset, replica.log_end_offset
    );
    Some(anomaly(KIND, tp, Some(high_watermark), at, what))
}

/// A new log start must not go down (except once after a restart) nor pass the LEO.
pub fn check_log_start(
    tp: &Tp,
    broker: i32,
    replica: &ReplicaLog,
    log_start: i64,
    at: At,
) -> Option<Anomaly> {
    let problem = if log_start < replica.log_start_offset && !replica.log_start_may_reset {
        format!("below the previous log start {}", replica.log_start_offset)
    } else if log_start > replica.log_end_offset {
        format!("above the log end offset {}", replica.log_end_offset)
    } else {
        return None;
    };
    let what = format!("broker {broker} moved the log start of {tp} to {log_start}, {problem}");
    Some(anomaly(KIND, tp, Some(log_start), at, what))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn online_offset_order_hw_above_leo_is_reported() {
        let events = [appended(1, 0, 1, 0, 9), high_watermark(1, 3)];
        assert_eq!(kinds(&events), vec![("offset-order".into(), Some(3))]);
    }

    #[test]
    fn online_offset_order_hw_at_leo_is_fine() {
        let events = [appended(1, 0, 1, 0, 9), high_watermark(1, 2)];
        assert_eq!(kinds(&events), vec![]);
    }

    #[test]
    fn online_offset_order_log_start_decrease_is_reported() {
        let events = [
            appended(1, 0, 3, 0, 9),
            high_watermark(1, 4),
            log_start(1, 2),
            log_start(1, 1),
        ];
        let found = run(&events);
        assert_eq!(found.len(), 1);
        let (index, anomaly) = &found[0];
        assert_eq!((*index, anomaly.kind.as_str()), (3, "offset-order"));
        assert_eq!(anomaly.tp, Some(tp()));
        assert_eq!(anomaly.offset, Some(1));
        assert!(anomaly.description.contains("at 30 ms, event 3"));
    }

    #[test]
    fn online_offset_order_log_start_may_reset_once_after_restart() {
        let events = [
            appended(1, 0, 3, 0, 9),
            high_watermark(1, 4),
            log_start(1, 2),
            restarted(1),
            log_start(1, 1),
        ];
        assert_eq!(kinds(&events), vec![]);
    }

    #[test]
    fn online_offset_order_append_gap_is_reported() {
        let events = [appended(1, 0, 1, 0, 9), appended(1, 3, 4, 0, 9)];
        assert_eq!(kinds(&events), vec![("offset-order".into(), Some(3))]);
    }

    #[test]
    fn online_offset_order_append_after_truncation_is_fine() {
        let events = [
            appended(1, 0, 1, 0, 9),
            appended(1, 2, 4, 0, 9),
            truncated(1, 2),
            appended(1, 2, 2, 1, 8),
        ];
        assert_eq!(kinds(&events), vec![]);
    }
}
