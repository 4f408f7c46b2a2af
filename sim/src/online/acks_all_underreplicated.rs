//! **acks-all-underreplicated**: an acks=all acknowledgement was sent for a batch that fewer
//! than min.insync.replicas replicas had held by then, or for a batch that was never committed
//! by the end of the run.
//!
//! Rule (SIMULATION.md: an acks=all acknowledgement is sent only when at least
//! min.insync.replicas replicas hold the batch; kafka-facts: the leader acks once the HW
//! passes the batch). "Held" is judged on the model's replica logs: a replica holds the batch
//! when it appended the very batch the leader acknowledges (same offsets, epoch and CRC). It
//! counts if it held it at any moment before the acknowledgement, not only at the moment the
//! answer goes out: Kafka moves the HW on the fetch offsets its followers last reported, and
//! a follower may lose power between that report and the delayed answer — a loss the failure
//! model counts, not a premature acknowledgement.

use super::{anomaly, At, PartitionModel};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "acks-all-underreplicated";

pub fn check(
    tp: &Tp,
    partition: &PartitionModel,
    leader: i32,
    last_offset: i64,
    min_insync_replicas: usize,
    at: At,
) -> Option<Anomaly> {
    let acknowledged = partition
        .replicas
        .get(&leader)
        .and_then(|replica| replica.batch_at(last_offset));
    let holders: Vec<i32> = match acknowledged {
        None => vec![],
        Some(batch) => {
            let held_by = partition.held_by.get(&batch.identity());
            held_by
                .map(|set| set.iter().copied().collect())
                .unwrap_or_default()
        }
    };
    if holders.len() >= min_insync_replicas {
        return None;
    }
    let what = format!(
        "leader {leader} acknowledged acks=all through offset {last_offset} of {tp} with min.insync.replicas={min_insync_replicas}, but only brokers {holders:?} ever held the batch"
    );
    Some(anomaly(KIND, tp, Some(last_offset), at, what))
}

/// At the end: an acknowledged offset that was never committed (exposed below a leader's HW).
pub fn never_committed(tp: &Tp, partition: &PartitionModel) -> Option<Anomaly> {
    if partition.acknowledged_end <= partition.committed_end {
        return None;
    }
    Some(Anomaly {
        kind: KIND.to_string(),
        tp: Some(tp.clone()),
        value: None,
        offset: Some(partition.committed_end),
        description: format!(
            "acks=all acknowledged {tp} through offset {}, but by the end only offsets below {} were committed (at the end of the run)",
            partition.acknowledged_end - 1,
            partition.committed_end
        ),
        events: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn online_acks_all_with_one_holder_is_reported() {
        let mut events = replicated_prefix();
        events.extend([
            appended(1, 4, 5, 0, 102),
            high_watermark(1, 6),
            acked(1, 5, 2),
        ]);
        let found = run(&events);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 9);
        assert_eq!(found[0].1.kind, "acks-all-underreplicated");
        assert_eq!(found[0].1.tp, Some(tp()));
        assert_eq!(found[0].1.offset, Some(5));
        assert!(found[0].1.description.contains("brokers [1]"));
    }

    #[test]
    fn online_acks_all_after_a_holder_lost_the_committed_batch_is_fine() {
        // Committed while brokers 1 and 2 held it; 2 lost it (a power loss) before the
        // delayed acknowledgement went out.
        let mut events = replicated_prefix();
        events.extend([
            appended(1, 4, 5, 0, 102),
            appended(2, 4, 5, 0, 102),
            high_watermark(1, 6),
            truncated(2, 4),
            acked(1, 5, 2),
        ]);
        assert_eq!(kinds(&events), vec![]);
    }

    #[test]
    fn online_acks_all_with_enough_holders_is_fine() {
        let mut events = replicated_prefix();
        events.extend([
            appended(1, 4, 5, 0, 102),
            appended(2, 4, 5, 0, 102),
            high_watermark(1, 6),
            acked(1, 5, 2),
        ]);
        assert_eq!(kinds(&events), vec![]);
    }

    #[test]
    fn online_acks_all_never_committed_is_reported_at_finish() {
        let mut events = replicated_prefix();
        events.extend([
            appended(1, 4, 5, 0, 102),
            appended(2, 4, 5, 0, 102),
            acked(1, 5, 2),
        ]);
        let found = run(&events);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, events.len());
        assert_eq!(found[0].1.kind, "acks-all-underreplicated");
        assert_eq!(found[0].1.offset, Some(4));
    }
}
