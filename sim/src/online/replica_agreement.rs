//! Offline, at the end: replicas compared batch by batch below the partition's high watermark,
//! reporting **replica-divergence** at the first offset where two replicas hold different
//! batches (different base, last offset, leader epoch or CRC). Its own kind, apart from the
//! online `committed-log-divergence`: a committed batch can be lost and rewritten (every copy
//! gone in a multiple power loss) with the replicas agreeing again afterwards, and this kind
//! says whether they ended up disagreeing (KIP-101 scenario 2).
//!
//! Rule (SIMULATION.md, committed-log model; TigerBeetle's storage checker compares replicas
//! byte for byte): below the HW every replica holding an offset holds the same batch. Offsets
//! a replica does not hold (below its log start, above its LEO) are not compared.

use std::collections::BTreeMap;

use super::committed_log_divergence::describe;
use super::model::{overlapping, Batch};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "replica-divergence";

/// One replica's batch as read back: (base offset, last offset, leader epoch, CRC).
pub type BatchTuple = (i64, i64, i32, u32);

/// The first divergence found in one partition.
struct Divergence {
    offset: i64,
    first: (i32, Batch),
    second: (i32, Batch),
}

/// Compares every partition's replicas below its HW (a partition missing from `hw` is compared
/// nowhere). Returns one anomaly per divergent partition and, for every partition named in
/// either map, its first divergent offset.
pub fn replica_agreement(
    logs: &BTreeMap<(Tp, i32), Vec<BatchTuple>>,
    hw: &BTreeMap<Tp, i64>,
) -> (Vec<Anomaly>, BTreeMap<Tp, Option<i64>>) {
    let mut by_tp: BTreeMap<&Tp, Vec<(i32, &[BatchTuple])>> = BTreeMap::new();
    for ((tp, broker), batches) in logs {
        by_tp.entry(tp).or_default().push((*broker, batches));
    }
    let mut first_divergent: BTreeMap<Tp, Option<i64>> =
        hw.keys().map(|tp| (tp.clone(), None)).collect();
    let mut anomalies = vec![];
    for (tp, replicas) in by_tp {
        let high_watermark = hw.get(tp).copied().unwrap_or(0);
        let divergence = first_divergence(&replicas, high_watermark);
        first_divergent.insert(tp.clone(), divergence.as_ref().map(|d| d.offset));
        anomalies.extend(divergence.map(|d| anomaly(tp, high_watermark, &d)));
    }
    (anomalies, first_divergent)
}

fn to_batch(&(base_offset, last_offset, leader_epoch, batch_crc): &BatchTuple) -> Batch {
    Batch {
        base_offset,
        last_offset,
        leader_epoch,
        batch_crc,
    }
}

/// Builds a reference from the replicas in broker order and keeps the lowest offset where a
/// replica's batch differs from the reference batch it overlaps.
fn first_divergence(replicas: &[(i32, &[BatchTuple])], high_watermark: i64) -> Option<Divergence> {
    let mut reference: BTreeMap<i64, (i32, Batch)> = BTreeMap::new();
    let mut found: Option<Divergence> = None;
    for &(broker, batches) in replicas {
        for batch in batches.iter().map(to_batch) {
            if batch.base_offset >= high_watermark {
                break;
            }
            let differing = overlapping(
                &reference,
                batch.base_offset,
                batch.last_offset,
                |(_, b)| b.last_offset,
            )
            .map(|(_, &held)| held)
            .next();
            match differing {
                None => {
                    reference.insert(batch.base_offset, (broker, batch));
                }
                Some((other, held)) if held != batch => {
                    let offset = batch.base_offset.max(held.base_offset);
                    if found.as_ref().is_none_or(|d| offset < d.offset) {
                        found = Some(Divergence {
                            offset,
                            first: (other, held),
                            second: (broker, batch),
                        });
                    }
                }
                Some(_) => {}
            }
        }
    }
    found
}

fn anomaly(tp: &Tp, high_watermark: i64, divergence: &Divergence) -> Anomaly {
    let (first, first_batch) = divergence.first;
    let (second, second_batch) = divergence.second;
    Anomaly {
        kind: KIND.to_string(),
        tp: Some(tp.clone()),
        value: None,
        offset: Some(divergence.offset),
        description: format!(
            "at the end, below high watermark {high_watermark} of {tp}, broker {first} holds {} and broker {second} holds {} at offset {}",
            describe(&first_batch),
            describe(&second_batch),
            divergence.offset
        ),
        events: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::tp;
    use super::*;

    fn logs(replicas: &[(i32, &[BatchTuple])]) -> BTreeMap<(Tp, i32), Vec<BatchTuple>> {
        replicas
            .iter()
            .map(|(broker, batches)| ((tp(), *broker), batches.to_vec()))
            .collect()
    }

    #[test]
    fn online_replica_agreement_divergence_below_hw_is_reported() {
        let logs = logs(&[
            (1, &[(0, 1, 0, 10), (2, 2, 0, 11), (3, 3, 0, 12)]),
            (2, &[(0, 1, 0, 10), (2, 2, 0, 11), (3, 3, 1, 99)]),
        ]);
        let hw = BTreeMap::from([(tp(), 4)]);
        let (anomalies, first) = replica_agreement(&logs, &hw);
        assert_eq!(first, BTreeMap::from([(tp(), Some(3))]));
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, "replica-divergence");
        assert_eq!(anomalies[0].tp, Some(tp()));
        assert_eq!(anomalies[0].offset, Some(3));
    }

    #[test]
    fn online_replica_agreement_divergence_at_or_above_hw_is_fine() {
        let logs = logs(&[
            (1, &[(0, 1, 0, 10), (2, 2, 0, 11), (3, 3, 0, 12)]),
            (2, &[(0, 1, 0, 10), (2, 2, 0, 11), (3, 3, 1, 99)]),
            // A lagging replica and one whose log start is later are not divergent.
            (3, &[(0, 1, 0, 10)]),
            (4, &[(2, 2, 0, 11)]),
        ]);
        let hw = BTreeMap::from([(tp(), 3)]);
        let (anomalies, first) = replica_agreement(&logs, &hw);
        assert_eq!(anomalies, vec![]);
        assert_eq!(first, BTreeMap::from([(tp(), None)]));
    }
}
