//! **min-isr-violation**: a leader appended an acks=all produce while the ISR it had
//! announced (at its election or its latest committed ISR change) was smaller than
//! `min.insync.replicas` (effective: at most the replication factor).
//!
//! Rule (Kafka's `Partition.appendRecordsToLeader`): with acks=all the leader checks the ISR
//! before appending and refuses with NOT_ENOUGH_REPLICAS, a definite failure the producer may
//! report at once; only an ISR that shrinks after the append may answer
//! NOT_ENOUGH_REPLICAS_AFTER_APPEND. The ISR is the model's record of what this broker
//! announced as leader, not the broker's own variable.

use super::{anomaly, At, PartitionModel};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "min-isr-violation";

/// Kafka's `acks=all` on the wire.
const ACKS_ALL: i16 = -1;

/// `broker` appended `offsets` (first, last) for a produce with `acks`.
pub fn check(
    tp: &Tp,
    partition: &PartitionModel,
    broker: i32,
    acks: i16,
    offsets: (i64, i64),
    min_insync_replicas: usize,
    at: At,
) -> Option<Anomaly> {
    if acks != ACKS_ALL {
        return None;
    }
    let (leader_epoch, isr) = partition.leader_isr.get(&broker)?;
    if isr.len() >= min_insync_replicas {
        return None;
    }
    let what = format!(
        "{tp}: leader {broker} (epoch {leader_epoch}) appended an acks=all produce at offsets {}..={} while its ISR {isr:?} was below min.insync.replicas {min_insync_replicas}",
        offsets.0, offsets.1
    );
    Some(anomaly(KIND, tp, Some(offsets.0), at, what))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::ReplicaEvent;

    fn client_append(broker: i32, acks: i16, base: i64, last: i64) -> ReplicaEvent {
        ReplicaEvent::ClientAppended {
            broker,
            tp: tp(),
            acks,
            offsets: (base, last),
            min_insync_replicas: 2,
        }
    }

    fn isr_changed(leader: i32, isr: &[i32]) -> ReplicaEvent {
        ReplicaEvent::IsrChanged {
            tp: tp(),
            leader,
            leader_epoch: 0,
            isr: isr.to_vec(),
        }
    }

    #[test]
    fn online_min_isr_violation_acks_all_append_below_min_isr_is_reported() {
        let events = [
            elected(1, 0, &[1, 2], true),
            client_append(1, -1, 0, 4),
            isr_changed(1, &[1]),
            client_append(1, -1, 5, 9),
        ];
        let found = run(&events);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 3);
        assert_eq!(found[0].1.kind, "min-isr-violation");
        assert_eq!(found[0].1.offset, Some(5));
    }

    #[test]
    fn online_min_isr_violation_acks_1_or_a_full_isr_is_fine() {
        let events = [
            elected(1, 0, &[1], true),
            client_append(1, 1, 0, 4),
            isr_changed(1, &[1, 2]),
            client_append(1, -1, 5, 9),
            // Another broker's view does not change what leader 1 acted on.
            elected(2, 1, &[2], true),
            client_append(1, -1, 10, 12),
        ];
        assert_eq!(kinds(&events), vec![]);
    }
}
