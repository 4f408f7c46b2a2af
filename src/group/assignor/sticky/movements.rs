//! Where partitions moved during one general-path sticky run (Kafka's `PartitionMovements`),
//! so that moving "some partition of topic T from A to B" can undo an earlier move from B to
//! A instead of starting a second one: partitions do not shuffle back and forth between two
//! members within one topic.
//!
//! Invariant (asserted): each partition has at most one record, from its first source to
//! where it is now, and a record never has equal source and destination.

use std::collections::{BTreeMap, BTreeSet};

use super::Tp;

/// A move from one member to another.
type Pair = (usize, usize);

/// The moves made so far, by partition and by topic.
#[derive(Default)]
pub(super) struct Movements {
    /// partition -> (first source, current owner).
    by_partition: BTreeMap<Tp, Pair>,
    /// topic -> (source, destination) -> partitions that moved so.
    by_topic: BTreeMap<usize, BTreeMap<Pair, BTreeSet<Tp>>>,
}

impl Movements {
    /// Records that `partition` moved from `old` to `new`, merging with its earlier move.
    pub(super) fn record(&mut self, partition: Tp, old: usize, new: usize) {
        assert_ne!(old, new, "a partition moved to its own owner");
        match self.forget(partition) {
            Some((source, destination)) => {
                assert_eq!(destination, old, "movement record disagrees with the owner");
                if source != new {
                    self.remember(partition, (source, new));
                }
            }
            None => self.remember(partition, (old, new)),
        }
    }

    /// The partition to move when `partition` should go from `old` to `new`: one of the
    /// topic's partitions that earlier moved from `new` to `partition`'s first owner if
    /// there is one (the smallest such partition), else `partition` itself.
    pub(super) fn partition_to_move(&self, partition: Tp, old: usize, new: usize) -> Tp {
        let Some(topic_moves) = self.by_topic.get(&partition.0) else {
            return partition;
        };
        let source = match self.by_partition.get(&partition) {
            Some(&(source, destination)) => {
                assert_eq!(destination, old, "movement record disagrees with the owner");
                source
            }
            None => old,
        };
        match topic_moves.get(&(new, source)) {
            Some(moved_back) => *moved_back.first().expect("empty movement sets are removed"),
            None => partition,
        }
    }

    fn forget(&mut self, partition: Tp) -> Option<Pair> {
        let pair = self.by_partition.remove(&partition)?;
        let topic_moves = self
            .by_topic
            .get_mut(&partition.0)
            .expect("indexed by topic");
        let moved = topic_moves.get_mut(&pair).expect("indexed by pair");
        moved.remove(&partition);
        if moved.is_empty() {
            topic_moves.remove(&pair);
        }
        if topic_moves.is_empty() {
            self.by_topic.remove(&partition.0);
        }
        Some(pair)
    }

    fn remember(&mut self, partition: Tp, pair: Pair) {
        assert_ne!(pair.0, pair.1);
        self.by_partition.insert(partition, pair);
        let topic_moves = self.by_topic.entry(partition.0).or_default();
        topic_moves.entry(pair).or_default().insert(partition);
    }
}
