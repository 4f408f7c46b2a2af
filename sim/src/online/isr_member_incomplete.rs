//! **isr-member-incomplete**: a replica was added to a partition's ISR — proposed by its
//! leader, committed by the controller, or applied by a leader with no controller — while its
//! log, as the model saw it, ended below the partition's committed end.
//!
//! Rule (Kafka's `isFollowerInSync`, KIP-101/KIP-966): an ISR member holds every committed
//! offset, because a clean election may pick any member and the HW is the minimum over the
//! members. A leader admits a follower only once its log end reaches the HW and the start of
//! the leader's epoch, and the controller commits only what a leader proposed (or its own
//! elections from the ISR and ELR). Unclean elections and KIP-966's last-known-ELR recovery
//! (its unclean recovery) waive the rule; what they lose is judged by the offline checkers.

use super::{anomaly, At, PartitionModel};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "isr-member-incomplete";

/// The members of `isr` not in `before` whose model log end is below the committed end;
/// `who` says who added them (for the description).
pub fn check(
    tp: &Tp,
    partition: &PartitionModel,
    before: Option<&[i32]>,
    isr: &[i32],
    who: &str,
    at: At,
) -> Vec<Anomaly> {
    let committed_end = partition.committed_end;
    isr.iter()
        .filter(|member| !before.unwrap_or(&[]).contains(member))
        .filter_map(|&member| {
            let log_end_offset = partition
                .replicas
                .get(&member)
                .map_or(0, |replica| replica.log_end_offset);
            (log_end_offset < committed_end).then(|| {
                let what = format!(
                    "{tp}: broker {member} joined the ISR {isr:?} ({who}) with its log ending at {log_end_offset}, below the committed end {committed_end}"
                );
                anomaly(KIND, tp, Some(log_end_offset), at, what)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::ReplicaEvent;

    fn proposed(leader: i32, epoch: i32, isr: &[i32]) -> ReplicaEvent {
        ReplicaEvent::IsrProposed {
            tp: tp(),
            leader,
            leader_epoch: epoch,
            isr: isr.to_vec(),
        }
    }

    fn committed(leader: i32, isr: &[i32], clean: bool) -> ReplicaEvent {
        ReplicaEvent::IsrCommitted {
            tp: tp(),
            leader,
            leader_epoch: 0,
            partition_epoch: 1,
            isr: isr.to_vec(),
            incarnations: vec![0; isr.len()],
            clean,
        }
    }

    /// Leader 1 alone in the ISR with HW 4; follower 2 holds only 0..=1 (log end 2).
    fn behind() -> Vec<ReplicaEvent> {
        vec![
            committed(1, &[1], true),
            elected(1, 0, &[1], true),
            appended(1, 0, 1, 0, 100),
            appended(2, 0, 1, 0, 100),
            appended(1, 2, 3, 0, 101),
            high_watermark(1, 4),
        ]
    }

    #[test]
    fn online_isr_member_incomplete_proposal_below_the_committed_end_is_reported() {
        let mut events = behind();
        events.push(proposed(1, 0, &[1, 2]));
        let found = run(&events);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 6);
        assert_eq!(found[0].1.kind, "isr-member-incomplete");
        assert_eq!(found[0].1.offset, Some(2));
    }

    #[test]
    fn online_isr_member_incomplete_controller_commit_below_the_committed_end_is_reported() {
        // A controller that forgot its log bootstraps the partition again with every replica.
        let mut events = behind();
        events.push(committed(1, &[1, 2, 3], true));
        let found = kinds(&events);
        assert_eq!(
            found,
            vec![
                ("isr-member-incomplete".into(), Some(2)),
                ("isr-member-incomplete".into(), Some(0)),
            ]
        );
    }

    #[test]
    fn online_isr_member_incomplete_caught_up_member_or_unclean_commit_is_fine() {
        let mut events = behind();
        events.extend([
            committed(2, &[2], false),
            appended(2, 2, 3, 0, 101),
            proposed(1, 0, &[1, 2]),
            committed(1, &[1, 2], true),
            // Members already in the ISR are not re-checked when another joins.
            committed(1, &[1, 2, 3], false),
        ]);
        assert_eq!(kinds(&events), vec![]);
    }

    #[test]
    fn online_isr_member_incomplete_a_dead_incarnation_known_to_the_controller_is_not_checked() {
        // Broker 2 restarted empty as incarnation 8 while the controller still knew it as 7 (a
        // heartbeat of the dead process arrived late); once it knows 8, the check applies.
        let incarnation = |b, i| ReplicaEvent::Incarnation {
            broker: b,
            incarnation: i,
        };
        let committed_as = |isr: &[i32], known: &[u64]| ReplicaEvent::IsrCommitted {
            tp: tp(),
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 2,
            isr: isr.to_vec(),
            incarnations: known.to_vec(),
            clean: true,
        };
        let mut events = behind();
        events.extend([
            incarnation(2, 8),
            committed_as(&[1, 2], &[1, 7]),
            committed_as(&[1], &[1]),
            committed_as(&[1, 2], &[1, 8]),
        ]);
        let found = run(&events);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 9);
        assert_eq!(found[0].1.offset, Some(2));
    }

    #[test]
    fn online_isr_member_incomplete_static_leader_applying_at_once_is_checked() {
        let events = vec![
            elected(1, 0, &[1], true),
            appended(1, 0, 3, 0, 100),
            high_watermark(1, 4),
            ReplicaEvent::IsrChanged {
                tp: tp(),
                leader: 1,
                leader_epoch: 0,
                isr: vec![1, 2],
            },
        ];
        assert_eq!(
            kinds(&events),
            vec![("isr-member-incomplete".into(), Some(0))]
        );
    }
}
