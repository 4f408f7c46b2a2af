//! Kafka's client-side partition assignors as pure functions: the group leader runs one over
//! every member's subscription and the topics' partition counts, and sends each member its
//! share through SyncGroup.
//!
//! - [`range`]: per topic, consecutive ranges, the first `partitions % members` members one
//!   extra (Kafka's `RangeAssignor`).
//! - [`roundrobin`]: all partitions in order dealt round the members (`RoundRobinAssignor`).
//! - [`sticky`]: balanced, and keeps as many previous owners as balance allows
//!   (`StickyAssignor` / `AbstractStickyAssignor`).
//! - [`cooperative`]: the sticky assignment minus the partitions that change owner, which
//!   are handed over only in the next rebalance, after the old owner revoked them (KIP-429).
//!
//! Invariants, asserted on every result ([`assert_assignment_valid`]): each partition of a
//! topic that some member subscribes to and that has metadata is assigned at most once (exactly
//! once for the eager assignors), only to a member subscribed to its topic; each member's list
//! is sorted by (topic, partition); every member appears in the output, possibly empty.
//! Determinism: no hash maps, no randomness; members are ordered as Kafka orders them (Java
//! string order of group.instance.id / member.id), so one input gives one output.
//!
//! Topics a member subscribes to but for which there is no partition count are skipped, as
//! Kafka skips topics without metadata. [`member_data`] turns a JoinGroup subscription into
//! an assignor's input.

use std::collections::{BTreeMap, BTreeSet};

use crate::group::hash::java_string_cmp;

pub mod cooperative;
pub mod member_data;
pub mod range;
pub mod roundrobin;
pub mod sticky;

#[cfg(test)]
mod tests;

/// A topic and a partition index, ordered by topic then partition (Kafka's
/// `TopicPartitionComparator`).
pub type TopicPartition = (String, i32);

/// What an assignor returns: each member's partitions, sorted.
pub type GroupAssignment = BTreeMap<String, Vec<TopicPartition>>;

/// Kafka's `DEFAULT_GENERATION`: ownership with no known generation.
pub const GENERATION_DEFAULT: i32 = -1;

/// One member's subscription as the assignors see it (Kafka's `Subscription`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member's `group.instance.id` when it is a static member; range and roundrobin
    /// order static members by it, so a restarted static member keeps its partitions.
    pub group_instance_id: Option<String>,
    /// Topics the member subscribes to.
    pub topics: BTreeSet<String>,
    /// Partitions the member owns now (KIP-429 `ownedPartitions`, or the eager sticky
    /// assignor's user data); used by sticky and cooperative-sticky only.
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which `owned_partitions` were assigned ([`GENERATION_DEFAULT`] when
    /// unknown). When members claim one partition, the highest generation wins; a tie means
    /// nobody keeps it.
    pub generation_id: i32,
}

/// Every member's subscription, keyed by member id.
pub type Subscriptions = BTreeMap<String, MemberSubscription>;

/// Partition count per topic, from the leader's metadata.
pub type PartitionCounts = BTreeMap<String, i32>;

/// How members give up partitions during a rebalance (Kafka's `RebalanceProtocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RebalanceProtocol {
    /// Every member revokes everything before joining.
    Eager,
    /// Members keep their partitions and revoke only what the assignment moves (KIP-429).
    Cooperative,
}

/// The four assignors Kafka's consumer ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Assignor {
    /// `RangeAssignor`.
    Range,
    /// `RoundRobinAssignor`.
    RoundRobin,
    /// `StickyAssignor`.
    Sticky,
    /// `CooperativeStickyAssignor`.
    CooperativeSticky,
}

impl Assignor {
    /// Every assignor; the first two are Kafka 3.x's default `partition.assignment.strategy`.
    pub const ALL: [Assignor; 4] = [
        Assignor::Range,
        Assignor::CooperativeSticky,
        Assignor::RoundRobin,
        Assignor::Sticky,
    ];

    /// The protocol name members put in JoinGroup.
    pub fn protocol_name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The assignor a JoinGroup protocol name stands for.
    pub fn from_protocol_name(name: &str) -> Option<Assignor> {
        Assignor::ALL
            .into_iter()
            .find(|assignor| assignor.protocol_name() == name)
    }

    /// The rebalance protocols the assignor supports, the preferred one first (Kafka's
    /// `supportedProtocols()`); the consumer uses the first one every assignor it is
    /// configured with supports.
    pub fn supported_protocols(self) -> &'static [RebalanceProtocol] {
        match self {
            Assignor::CooperativeSticky => {
                &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager]
            }
            _ => &[RebalanceProtocol::Eager],
        }
    }

    /// Runs the assignor.
    pub fn assign(
        self,
        counts: &PartitionCounts,
        subscriptions: &Subscriptions,
    ) -> GroupAssignment {
        match self {
            Assignor::Range => range::assign(counts, subscriptions),
            Assignor::RoundRobin => roundrobin::assign(counts, subscriptions),
            Assignor::Sticky => sticky::assign(counts, subscriptions),
            Assignor::CooperativeSticky => cooperative::assign(counts, subscriptions),
        }
    }
}

/// Kafka's `MemberInfo` order: static members first, by group.instance.id; then dynamic
/// members by member id; both in Java string order. Member id breaks a tie between two
/// members claiming one instance id (Kafka's coordinator never lets that happen).
pub fn members_in_kafka_order(subscriptions: &Subscriptions) -> Vec<&str> {
    let mut members: Vec<(&str, &MemberSubscription)> = subscriptions
        .iter()
        .map(|(id, subscription)| (id.as_str(), subscription))
        .collect();
    members.sort_by(|(left_id, left), (right_id, right)| {
        let by_instance = match (&left.group_instance_id, &right.group_instance_id) {
            (Some(left), Some(right)) => java_string_cmp(left, right),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_instance.then_with(|| java_string_cmp(left_id, right_id))
    });
    members.into_iter().map(|(id, _)| id).collect()
}

/// The topics to assign: subscribed by at least one member and with a partition count.
pub fn subscribed_partition_counts(
    counts: &PartitionCounts,
    subscriptions: &Subscriptions,
) -> BTreeMap<String, i32> {
    let subscribed: BTreeSet<&String> = subscriptions
        .values()
        .flat_map(|subscription| subscription.topics.iter())
        .collect();
    counts
        .iter()
        .filter(|(topic, _)| subscribed.contains(topic))
        .map(|(topic, count)| {
            assert!(*count >= 0, "topic {topic} has {count} partitions");
            (topic.clone(), *count)
        })
        .collect()
}

/// An output map with every member present and no partitions yet.
pub fn empty_assignment(subscriptions: &Subscriptions) -> GroupAssignment {
    subscriptions
        .keys()
        .map(|member| (member.clone(), Vec::new()))
        .collect()
}

/// The postcondition of every assignor. `complete` is false for cooperative-sticky, which
/// withholds partitions changing owner until the next rebalance.
pub fn assert_assignment_valid(
    assignment: &GroupAssignment,
    counts: &PartitionCounts,
    subscriptions: &Subscriptions,
    complete: bool,
) {
    assert!(
        assignment.keys().eq(subscriptions.keys()),
        "assignment members differ from the subscribed members"
    );
    let mut seen: BTreeSet<&TopicPartition> = BTreeSet::new();
    for (member, partitions) in assignment {
        let subscription = &subscriptions[member];
        assert!(
            partitions.windows(2).all(|pair| pair[0] < pair[1]),
            "{member}: unsorted"
        );
        for partition in partitions {
            let (topic, index) = partition;
            assert!(
                subscription.topics.contains(topic),
                "{member} got unsubscribed {topic}"
            );
            let count = counts.get(topic).copied().unwrap_or(0);
            assert!(
                (0..count).contains(index),
                "{member} got {topic}-{index} of {count}"
            );
            assert!(seen.insert(partition), "{topic}-{index} assigned twice");
        }
    }
    if complete {
        let expected: usize = subscribed_partition_counts(counts, subscriptions)
            .values()
            .map(|count| *count as usize)
            .sum();
        assert_eq!(
            seen.len(),
            expected,
            "some subscribed partition is unassigned"
        );
    }
}
