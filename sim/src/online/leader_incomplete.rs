//! **leader-incomplete**: a clean election chose a leader whose log ends below a committed
//! offset.
//!
//! Rule (SIMULATION.md: a clean new leader holds every committed offset — leader
//! completeness): its log reaches every committed offset and holds the committed batch there
//! (a stale divergent batch counts as missing, as in KIP-279's n = 20 case). It catches KIP-101 scenario 1 and KIP-966's "last replica standing" at the
//! election itself, before any client notices. Committed offsets below the leader's log start
//! were removed by retention, which is allowed. An unclean election waives the rule: the
//! committed prefix is rebased onto the new leader's log (the offline checkers judge the loss).

use super::committed_log_divergence::{describe, first_disagreement};
use super::{anomaly, At, Election, PartitionModel};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "leader-incomplete";

pub fn check(
    tp: &Tp,
    partition: &PartitionModel,
    election: Election,
    isr: &[i32],
    at: At,
) -> Option<Anomaly> {
    let leader = partition.replicas.get(&election.leader);
    let log_end_offset = leader.map_or(0, |replica| replica.log_end_offset);
    // Offsets below the leader's verified end were compared when its HW passed them.
    let differing = leader.and_then(|replica| {
        let to = log_end_offset.min(partition.committed_end);
        first_disagreement(&partition.committed, replica, replica.verified_end, to)
    });
    let (offset, problem) = match differing {
        Some(found) => (
            found.offset,
            format!(
                "it holds {} where {} was committed",
                describe(&found.held),
                describe(&found.committed)
            ),
        ),
        None if log_end_offset < partition.committed_end => (
            log_end_offset,
            format!(
                "its log ends at {log_end_offset}, missing committed offsets {log_end_offset}..{}",
                partition.committed_end
            ),
        ),
        None => return None,
    };
    let what = format!(
        "clean election of broker {} as leader of {tp} at epoch {} (isr {isr:?}): {problem}",
        election.leader, election.leader_epoch
    );
    Some(anomaly(KIND, tp, Some(offset), at, what))
}

/// After an unclean election the new leader's log is the truth: committed offsets it lacks
/// are forgotten (and so are acknowledgements of them and the other replicas' exposed tails).
pub fn rebase_after_unclean(partition: &mut PartitionModel, leader: i32) {
    let end = leader_log_end_offset(partition, leader);
    if end >= partition.committed_end {
        return;
    }
    partition.committed.split_off(&end);
    let straddling = partition
        .committed
        .last_key_value()
        .filter(|(_, c)| c.batch.last_offset >= end)
        .map(|(&base, _)| base);
    if let Some(base) = straddling {
        partition.committed.remove(&base);
    }
    partition.committed_end = end;
    // What the other replicas exposed before the election is forgiven with the rest; they
    // will truncate when they follow the new leader.
    for replica in partition.replicas.values_mut() {
        replica.verified_end = replica.verified_end.max(replica.high_watermark);
    }
    partition.acknowledged_end = partition.acknowledged_end.min(end);
    partition.lost_reported_from = None;
}

fn leader_log_end_offset(partition: &PartitionModel, leader: i32) -> i64 {
    partition
        .replicas
        .get(&leader)
        .map_or(0, |replica| replica.log_end_offset)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn online_leader_incomplete_clean_election_of_a_short_log_is_reported() {
        let mut events = replicated_prefix();
        events.extend([truncated(2, 2), elected(2, 1, &[2], true)]);
        let found = run(&events);
        assert_eq!(found.len(), 1);
        let (index, anomaly) = &found[0];
        assert_eq!(*index, 8);
        assert_eq!(anomaly.kind, "leader-incomplete");
        assert_eq!(anomaly.tp, Some(tp()));
        assert_eq!(anomaly.offset, Some(2));
        assert!(anomaly.description.contains("epoch 1"));
        assert!(anomaly.description.contains("at 80 ms, event 8"));
    }

    #[test]
    fn online_leader_incomplete_complete_leader_is_fine() {
        let mut events = replicated_prefix();
        events.extend([truncated(2, 2), elected(1, 1, &[1], true)]);
        assert_eq!(kinds(&events), vec![]);
    }

    #[test]
    fn online_leader_incomplete_unclean_election_rebases_the_committed_prefix() {
        let mut events = replicated_prefix();
        events.extend([
            acked(1, 3, 2),
            truncated(2, 2),
            elected(2, 1, &[2], false),
            appended(2, 2, 2, 1, 300),
            high_watermark(2, 3),
        ]);
        assert_eq!(kinds(&events), vec![]);
    }
}
