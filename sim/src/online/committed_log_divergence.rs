//! **committed-log-divergence**: a replica holds, below its own high watermark, a batch other
//! than the one committed at that offset (different base, last offset, leader epoch or CRC).
//!
//! Rule (SIMULATION.md, committed-log model): once an offset is exposed below any leader's HW
//! its batch is fixed forever and every replica holding that offset agrees — KIP-101 scenario 2
//! is the classic breach. "Holding" means holding as committed, i.e. below the replica's own
//! HW: a deposed leader may keep a stale, never-exposed tail above its HW until it truncates,
//! which Kafka allows. Each replica is compared once per offset (amortised O(log n) per event)
//! when its HW or the committed prefix grows; each committed batch is reported at most once.

use super::model::{overlapping, Batch, ReplicaLog};
use super::{anomaly, At, CommittedBatch, PartitionModel};
use crate::checker::Anomaly;
use crate::history::Tp;
use std::collections::BTreeMap;

pub const KIND: &str = "committed-log-divergence";

pub(crate) fn describe(batch: &Batch) -> String {
    format!(
        "{}..={} (epoch {}, crc {:#010x})",
        batch.base_offset, batch.last_offset, batch.leader_epoch, batch.batch_crc
    )
}

/// A place where a replica's batch differs from the committed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disagreement {
    /// The first offset both batches cover.
    pub offset: i64,
    pub held: Batch,
    pub committed: Batch,
}

/// The first batch of `replica` overlapping `from..to` that differs from a committed batch.
pub fn first_disagreement(
    committed: &BTreeMap<i64, CommittedBatch>,
    replica: &ReplicaLog,
    from: i64,
    to: i64,
) -> Option<Disagreement> {
    if to <= from {
        return None;
    }
    overlapping(&replica.batches, from, to - 1, |b| b.last_offset).find_map(|(_, held)| {
        let (_, fixed) = overlapping(committed, held.base_offset, held.last_offset, |c| {
            c.batch.last_offset
        })
        .find(|(_, c)| c.batch != *held)?;
        Some(Disagreement {
            offset: held.base_offset.max(fixed.batch.base_offset),
            held: *held,
            committed: fixed.batch,
        })
    })
}

/// Compares `broker`'s not yet verified offsets below both its HW and the committed end.
pub fn verify_replica(
    tp: &Tp,
    partition: &mut PartitionModel,
    broker: i32,
    at: At,
) -> Option<Anomaly> {
    let committed_end = partition.committed_end;
    let replica = partition.replicas.get_mut(&broker)?;
    let bound = replica.high_watermark.min(committed_end);
    let from = replica.verified_end;
    replica.verified_end = replica.verified_end.max(bound);
    let found = first_disagreement(&partition.committed, replica, from, bound)?;
    let fixed = partition
        .committed
        .get_mut(&found.committed.base_offset)
        .expect("found in committed");
    if fixed.divergence_reported {
        return None;
    }
    fixed.divergence_reported = true;
    let what = format!(
        "broker {broker} holds {} of {tp} below its high watermark {}, where {} was committed; first differing offset {}",
        describe(&found.held),
        bound,
        describe(&found.committed),
        found.offset
    );
    Some(anomaly(KIND, tp, Some(found.offset), at, what))
}

/// Extends the committed prefix to `end` (exclusive) with `broker`'s batches, then verifies
/// every replica against it. Offsets `broker` does not hold stay uncommitted.
pub fn commit_through(
    tp: &Tp,
    partition: &mut PartitionModel,
    broker: i32,
    end: i64,
    at: At,
) -> Vec<Anomaly> {
    let Some(source) = partition.replicas.get(&broker) else {
        return vec![];
    };
    let end = end.min(source.log_end_offset);
    let start = partition.committed_end;
    if end <= start {
        return vec![];
    }
    let fresh: Vec<Batch> = overlapping(&source.batches, start, end - 1, |b| b.last_offset)
        .map(|(_, batch)| *batch)
        .filter(|batch| {
            overlapping(
                &partition.committed,
                batch.base_offset,
                batch.last_offset,
                |c| c.batch.last_offset,
            )
            .next()
            .is_none()
        })
        .collect();
    for batch in fresh {
        let committed = CommittedBatch {
            batch,
            divergence_reported: false,
        };
        partition.committed.insert(batch.base_offset, committed);
    }
    partition.committed_end = end;
    let brokers: Vec<i32> = partition.replicas.keys().copied().collect();
    brokers
        .into_iter()
        .filter_map(|other| verify_replica(tp, partition, other, at))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn online_divergence_refetched_different_batch_below_hw_is_reported() {
        let mut events = replicated_prefix();
        // Broker 2 cuts committed offsets 2..=3, refetches a different batch there and then
        // learns a HW that covers it.
        events.extend([
            truncated(2, 2),
            appended(2, 2, 3, 1, 555),
            high_watermark(2, 4),
        ]);
        let found = run(&events);
        assert_eq!(found.len(), 1);
        let (index, anomaly) = &found[0];
        assert_eq!(*index, 9);
        assert_eq!(anomaly.kind, "committed-log-divergence");
        assert_eq!(anomaly.tp, Some(tp()));
        assert_eq!(anomaly.offset, Some(2));
        assert!(anomaly.description.contains("at 90 ms, event 9"));
    }

    #[test]
    fn online_divergence_refetching_the_same_batch_is_fine() {
        let mut events = replicated_prefix();
        events.extend([
            truncated(2, 2),
            appended(2, 2, 3, 0, 101),
            high_watermark(2, 4),
        ]);
        assert_eq!(kinds(&events), vec![]);
    }

    #[test]
    fn online_divergence_commit_under_a_differing_replica_hw_is_reported() {
        let events = [
            elected(1, 0, &[1, 2], true),
            appended(1, 0, 1, 0, 100),
            appended(2, 0, 0, 0, 100),
            high_watermark(2, 1),
            high_watermark(1, 2),
        ];
        let found = run(&events);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 4);
        assert_eq!(found[0].1.kind, "committed-log-divergence");
        assert_eq!(found[0].1.offset, Some(0));
    }

    #[test]
    fn online_divergence_stale_tail_above_a_deposed_leaders_hw_is_fine() {
        let events = [
            elected(1, 0, &[1, 2], true),
            appended(1, 0, 1, 0, 100),
            appended(2, 0, 1, 0, 100),
            high_watermark(1, 2),
            high_watermark(2, 2),
            // Leader 1 appends 2..=2 that never commits, then is deposed.
            appended(1, 2, 2, 0, 7),
            elected(2, 1, &[2], true),
            appended(2, 2, 2, 1, 8),
            high_watermark(2, 3),
            // The deposed leader truncates its stale tail and refetches.
            truncated(1, 2),
            appended(1, 2, 2, 1, 8),
            high_watermark(1, 3),
        ];
        assert_eq!(kinds(&events), vec![]);
    }
}
