//! Kafka's `RoundRobinAssignor`: all partitions of the subscribed topics, sorted by (topic,
//! partition), are dealt one by one round the members in Kafka's member order
//! ([`members_in_kafka_order`]); a member not subscribed to a partition's topic is skipped
//! for that partition (and the deal goes on from the member after the one that took it).
//! When every member subscribes to the same topics the counts differ by at most one.

use super::{
    assert_assignment_valid, empty_assignment, members_in_kafka_order, subscribed_partition_counts,
    GroupAssignment, PartitionCounts, Subscriptions,
};

/// Assigns every subscribed partition with Kafka's round-robin rule.
pub fn assign(counts: &PartitionCounts, subscriptions: &Subscriptions) -> GroupAssignment {
    let mut assignment = empty_assignment(subscriptions);
    let members = members_in_kafka_order(subscriptions);
    let mut next = 0usize;
    for (topic, count) in subscribed_partition_counts(counts, subscriptions) {
        for partition in 0..count {
            // Some member subscribes to `topic` (that is how it got here), so this ends
            // within one lap.
            let taker = (0..members.len())
                .map(|step| (next + step) % members.len())
                .find(|index| subscriptions[members[*index]].topics.contains(&topic))
                .expect("a subscribed member");
            let list = assignment.get_mut(members[taker]).expect("member listed");
            list.push((topic.clone(), partition));
            next = (taker + 1) % members.len();
        }
    }
    assert_assignment_valid(&assignment, counts, subscriptions, true);
    assignment
}
