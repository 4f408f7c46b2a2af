//! Kafka's `StickyAssignor` (the algorithm of `AbstractStickyAssignor`): a balanced assignment
//! that keeps as many partitions with their previous owners as balance allows.
//!
//! Previous ownership comes from each member's owned partitions and generation (KIP-341 /
//! KIP-429): when several members claim one partition, the claim from the highest generation
//! wins; two claims from the same generation cancel out, and nobody keeps the partition.
//!
//! Two paths, as in Kafka:
//! - constrained ([`constrained`]), when every member subscribes to the same topics: with
//!   `P` partitions and `M` members every member ends with `floor(P/M)` or `ceil(P/M)`
//!   partitions (exactly `P % M` members with the larger count) and keeps
//!   `min(previous, its quota)` of the partitions it owned;
//! - general ([`general`]), otherwise: partitions go to the least-loaded eligible member, then
//!   partitions move towards balance (preferring to return a partition to its owner of an
//!   older generation), and the result is kept only if it is better balanced than before.
//!
//! Invariants asserted: every subscribed partition is assigned exactly once, to a member
//! subscribed to its topic; on the constrained path every member's count is one of the two
//! quotas. Determinism: members are handled in Java string order of member id where Kafka
//! iterates a `HashMap`, so ties are broken the same way every time — but not always the way
//! Kafka breaks them (e.g. which of several members owning `max_quota` keeps the extra one).
//! Kafka's general path also picks "any" partition of a reverse move from a hash set; here it
//! is the smallest.
//!
//! Deviations from Kafka, all for robustness: a member's duplicate claims of one partition
//! count once (Kafka would cancel a member's claim against itself), claims of partitions that
//! do not exist are ignored, and a partition is handed back to its older-generation owner only
//! if that owner still subscribes to the topic.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    assert_assignment_valid, empty_assignment, subscribed_partition_counts, GroupAssignment,
    PartitionCounts, Subscriptions, TopicPartition,
};
use crate::group::hash::java_string_cmp;

mod constrained;
mod general;
mod movements;

/// A partition as the algorithm handles it: (topic index, partition). Topic indices follow
/// topic name order, so this orders like [`TopicPartition`].
pub(crate) type Tp = (usize, i32);

/// The sticky assignor's input, normalised: members and topics numbered, ownership resolved.
pub(crate) struct StickyInput {
    /// Member ids in Java string order; a member is its index here.
    pub(crate) members: Vec<String>,
    /// Subscribed topics with a partition count, in name order; a topic is its index here.
    pub(crate) topics: Vec<String>,
    /// Partition count of each topic.
    pub(crate) counts: Vec<i32>,
    /// Each member's subscribed topics (only those with a partition count).
    pub(crate) member_topics: Vec<BTreeSet<usize>>,
    /// Each member's existing claims, deduplicated, in claim order.
    pub(crate) claims: Vec<Vec<Tp>>,
    /// Each member's generation.
    pub(crate) generations: Vec<i32>,
    /// The highest generation any member reported.
    pub(crate) generation_max: i32,
    /// Ownership after resolving conflicting claims: each member's partitions.
    pub(crate) owned: Vec<Vec<Tp>>,
    /// Partitions claimed by two members of one generation (kept by neither).
    pub(crate) claimed_in_same_generation: BTreeSet<Tp>,
    /// Whether every member subscribes to the same topics (Kafka compares the raw topic sets).
    pub(crate) all_subscriptions_equal: bool,
}

/// What the sticky algorithm produced, with what cooperative-sticky needs to know about it.
pub(crate) struct StickyOutcome {
    /// The new assignment, per member index.
    pub(crate) assignment: Vec<BTreeSet<Tp>>,
    /// The owner each partition started from (after conflict resolution), if any.
    pub(crate) previous_owner: BTreeMap<Tp, usize>,
    /// Every existing partition some member claimed, whether or not it kept the claim.
    pub(crate) claimed: BTreeSet<Tp>,
}

/// Assigns every subscribed partition with Kafka's sticky algorithm.
pub fn assign(counts: &PartitionCounts, subscriptions: &Subscriptions) -> GroupAssignment {
    let input = StickyInput::new(counts, subscriptions);
    let outcome = run(&input);
    let assignment = input.to_group_assignment(&outcome.assignment, subscriptions);
    assert_assignment_valid(&assignment, counts, subscriptions, true);
    assignment
}

/// Runs the path Kafka would pick for this input.
pub(crate) fn run(input: &StickyInput) -> StickyOutcome {
    let (assignment, previous_owner) = if input.members.is_empty() {
        (Vec::new(), BTreeMap::new())
    } else if input.all_subscriptions_equal {
        constrained::assign(input)
    } else {
        general::assign(input)
    };
    let claimed = input.claims.iter().flatten().copied().collect();
    StickyOutcome {
        assignment,
        previous_owner,
        claimed,
    }
}

impl StickyInput {
    /// Numbers members and topics and resolves conflicting ownership claims.
    pub(crate) fn new(counts: &PartitionCounts, subscriptions: &Subscriptions) -> StickyInput {
        let assignable = subscribed_partition_counts(counts, subscriptions);
        let topics: Vec<String> = assignable.keys().cloned().collect();
        let topic_index: BTreeMap<&str, usize> = topics
            .iter()
            .enumerate()
            .map(|(index, topic)| (topic.as_str(), index))
            .collect();
        let mut members: Vec<String> = subscriptions.keys().cloned().collect();
        members.sort_by(|left, right| java_string_cmp(left, right));
        let mut input = StickyInput {
            counts: assignable.values().copied().collect(),
            member_topics: Vec::new(),
            claims: Vec::new(),
            generations: Vec::new(),
            generation_max: super::GENERATION_DEFAULT,
            owned: vec![Vec::new(); members.len()],
            claimed_in_same_generation: BTreeSet::new(),
            all_subscriptions_equal: true,
            members,
            topics: topics.clone(),
        };
        for member in &input.members {
            let subscription = &subscriptions[member];
            let subscribed = subscription.topics.iter();
            input.member_topics.push(
                subscribed
                    .filter_map(|t| topic_index.get(t.as_str()).copied())
                    .collect(),
            );
            let mut seen = BTreeSet::new();
            let claims = subscription
                .owned_partitions
                .iter()
                .filter_map(|(topic, partition)| {
                    let topic = *topic_index.get(topic.as_str())?;
                    let exists = (0..assignable[&topics[topic]]).contains(partition);
                    (exists && seen.insert((topic, *partition))).then_some((topic, *partition))
                });
            input.claims.push(claims.collect());
            input.generations.push(subscription.generation_id);
            input.generation_max = input.generation_max.max(subscription.generation_id);
        }
        let first_topics = input
            .members
            .first()
            .map(|member| &subscriptions[member].topics);
        input.all_subscriptions_equal = subscriptions
            .values()
            .all(|subscription| Some(&subscription.topics) == first_topics);
        input.resolve_ownership();
        input
    }

    /// Kafka's rule for members claiming one partition: members are visited in order; a
    /// later claim from a higher generation takes the partition, from a lower one is ignored,
    /// and from the same generation removes it from the earlier claimant too.
    fn resolve_ownership(&mut self) {
        // partition -> the member whose claim was seen last and was not ignored
        let mut claimant: BTreeMap<Tp, usize> = BTreeMap::new();
        for member in 0..self.members.len() {
            let generation = self.generations[member];
            for &partition in &self.claims[member] {
                let Some(&other) = claimant.get(&partition) else {
                    self.owned[member].push(partition);
                    claimant.insert(partition, member);
                    continue;
                };
                let other_generation = self.generations[other];
                if generation == other_generation {
                    self.claimed_in_same_generation.insert(partition);
                    self.owned[other].retain(|owned| *owned != partition);
                    claimant.insert(partition, member);
                } else if generation > other_generation {
                    self.owned[member].push(partition);
                    self.owned[other].retain(|owned| *owned != partition);
                    claimant.insert(partition, member);
                }
            }
        }
        let owned: Vec<&Tp> = self.owned.iter().flatten().collect();
        let distinct: BTreeSet<&Tp> = owned.iter().copied().collect();
        assert_eq!(
            owned.len(),
            distinct.len(),
            "a partition has two resolved owners"
        );
    }

    /// Every partition of the given topics, topics in the given order.
    pub(crate) fn partitions_of(&self, topics: impl IntoIterator<Item = usize>) -> Vec<Tp> {
        topics
            .into_iter()
            .flat_map(|topic| (0..self.counts[topic]).map(move |p| (topic, p)))
            .collect()
    }

    /// Converts per-member-index partition sets back to member ids and topic names.
    pub(crate) fn to_group_assignment(
        &self,
        assignment: &[BTreeSet<Tp>],
        subscriptions: &Subscriptions,
    ) -> GroupAssignment {
        let mut result = empty_assignment(subscriptions);
        for (member, partitions) in assignment.iter().enumerate() {
            let list = result
                .get_mut(&self.members[member])
                .expect("member listed");
            list.extend(
                partitions
                    .iter()
                    .map(|&(topic, partition)| self.topic_partition(topic, partition)),
            );
        }
        result
    }

    fn topic_partition(&self, topic: usize, partition: i32) -> TopicPartition {
        (self.topics[topic].clone(), partition)
    }
}

#[cfg(test)]
mod tests;
