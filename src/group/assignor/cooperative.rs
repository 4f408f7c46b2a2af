//! Kafka's `CooperativeStickyAssignor` (KIP-429): the sticky assignment, minus every
//! partition that would change owner in this rebalance. Members keep consuming what they
//! keep; the old owner revokes what it lost and rejoins, and the next rebalance hands the
//! revoked partitions to their new owners (then nobody else owns them, so nothing is held
//! back).
//!
//! The rule: a partition is withheld from the member the sticky algorithm gave it to unless
//! that member was its owner going in (after resolving conflicting claims by generation),
//! whenever any member claimed it. So a partition another member claims is never assigned
//! in the same round — also when two members of one generation claimed it, or when a
//! lower-generation member claimed it and lost it to a higher one. (Kafka's general path
//! compares the raw claims instead, so there a member that lost a claim to a higher
//! generation could be handed the partition in the same round; this is stricter.)
//!
//! Invariant asserted: each member's partitions are a subset of its sticky partitions.

use std::collections::BTreeSet;

use super::sticky::{self, StickyInput, Tp};
use super::{assert_assignment_valid, GroupAssignment, PartitionCounts, Subscriptions};

/// Assigns with the sticky algorithm and withholds partitions changing owner.
pub fn assign(counts: &PartitionCounts, subscriptions: &Subscriptions) -> GroupAssignment {
    let input = StickyInput::new(counts, subscriptions);
    let outcome = sticky::run(&input);
    let kept: Vec<BTreeSet<Tp>> = outcome
        .assignment
        .iter()
        .enumerate()
        .map(|(member, partitions)| {
            let keeps = |partition: &&Tp| {
                !outcome.claimed.contains(*partition)
                    || outcome.previous_owner.get(*partition) == Some(&member)
            };
            partitions.iter().filter(keeps).copied().collect()
        })
        .collect();
    for (member, partitions) in kept.iter().enumerate() {
        assert!(
            partitions.is_subset(&outcome.assignment[member]),
            "withholding added a partition"
        );
    }
    let assignment = input.to_group_assignment(&kept, subscriptions);
    assert_assignment_valid(&assignment, counts, subscriptions, false);
    assignment
}
