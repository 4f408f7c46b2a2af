//! Kafka's `RangeAssignor` (without KIP-881's rack awareness): topic by topic, the members
//! subscribed to it in Kafka's member order ([`members_in_kafka_order`]) each take a run of
//! consecutive partitions; with `n` partitions and `m` members every member gets `n / m` and
//! the first `n % m` one more. Topics are independent, so the first members of every topic
//! get the extras: co-partitioned topics land on the same member (what range is for), at the
//! price of imbalance across topics.

use super::{
    assert_assignment_valid, empty_assignment, members_in_kafka_order, subscribed_partition_counts,
    GroupAssignment, PartitionCounts, Subscriptions,
};

/// Assigns every subscribed partition with Kafka's range rule.
pub fn assign(counts: &PartitionCounts, subscriptions: &Subscriptions) -> GroupAssignment {
    let mut assignment = empty_assignment(subscriptions);
    let ordered = members_in_kafka_order(subscriptions);
    for (topic, count) in subscribed_partition_counts(counts, subscriptions) {
        let members: Vec<&str> = ordered
            .iter()
            .copied()
            .filter(|member| subscriptions[*member].topics.contains(&topic))
            .collect();
        for (member, partitions) in members.iter().zip(ranges(count, members.len())) {
            let list = assignment.get_mut(*member).expect("member listed");
            list.extend(partitions.map(|partition| (topic.clone(), partition)));
        }
    }
    for list in assignment.values_mut() {
        list.sort();
    }
    assert_assignment_valid(&assignment, counts, subscriptions, true);
    assignment
}

/// The ranges of `count` partitions over `members` members, in member order.
fn ranges(count: i32, members: usize) -> Vec<std::ops::Range<i32>> {
    if members == 0 {
        return Vec::new();
    }
    let members = i32::try_from(members).expect("fewer than 2^31 members");
    let quota = count / members;
    let extra = count % members;
    let ranges: Vec<_> = (0..members)
        .map(|index| {
            let start = index * quota + index.min(extra);
            let len = quota + i32::from(index < extra);
            start..start + len
        })
        .collect();
    assert_eq!(
        ranges.last().map(|range| range.end),
        Some(count),
        "ranges cover the topic"
    );
    ranges
}
