//! The bytes a member sends in JoinGroup and, as leader, in SyncGroup — pure.
//!
//! - [`join_protocols`]: one (protocol name, subscription) per configured assignor, in order
//!   of preference, each carrying the partitions owned and the generation (KIP-429), and the
//!   assignor's own user data (Kafka's `subscriptionUserData`): the eager `sticky` assignor's
//!   previous assignment, `cooperative-sticky`'s generation.
//! - [`leader_assignments`]: the leader runs the coordinator's chosen assignor over every
//!   member's subscription and encodes each member's share.

use std::collections::BTreeSet;

use crate::group::assignor::member_data::member_subscription;
use crate::group::assignor::{Assignor, PartitionCounts, Subscriptions, TopicPartition};
use crate::group::consumer_protocol::{
    decode_subscription, encode_assignment, encode_cooperative_user_data, encode_sticky_user_data,
    encode_subscription, Assignment, ConsumerProtocolError, Subscription,
    CONSUMER_PROTOCOL_VERSION_MAX,
};

/// What a member knows when it joins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JoinState {
    /// Topics subscribed.
    pub topics: BTreeSet<String>,
    /// Partitions owned now (empty for an eager member, which revoked them).
    pub owned: Vec<TopicPartition>,
    /// The generation `owned` (and `previous`) are from; −1 when none.
    pub generation_id: i32,
    /// The last assignment received, which the eager `sticky` assignor remembers in its user
    /// data since an eager member owns nothing when it joins.
    pub previous: Vec<TopicPartition>,
}

/// One member as the leader's JoinGroup answer lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// Its subscription bytes for the chosen protocol.
    pub metadata: Vec<u8>,
}

/// JoinGroup's protocols: (name, subscription bytes) per assignor, in `assignors`' order.
pub fn join_protocols(assignors: &[Assignor], state: &JoinState) -> Vec<(String, Vec<u8>)> {
    assignors
        .iter()
        .map(|assignor| {
            let user_data = match assignor {
                Assignor::Sticky => Some(encode_sticky_user_data(
                    &state.previous,
                    state.generation_id,
                )),
                Assignor::CooperativeSticky => {
                    Some(encode_cooperative_user_data(state.generation_id))
                }
                Assignor::Range | Assignor::RoundRobin => None,
            };
            let subscription = Subscription {
                topics: state.topics.iter().cloned().collect(),
                user_data,
                owned_partitions: state.owned.clone(),
                generation_id: state.generation_id,
                rack_id: None,
            };
            let bytes = encode_subscription(&subscription, CONSUMER_PROTOCOL_VERSION_MAX);
            (assignor.protocol_name().to_string(), bytes)
        })
        .collect()
}

/// The topics any member subscribes to, sorted: the leader needs their partition counts.
pub fn subscribed_topics(members: &[JoinedMember]) -> Result<Vec<String>, ConsumerProtocolError> {
    let mut topics = BTreeSet::new();
    for member in members {
        let (subscription, _) = decode_subscription(&member.metadata)?;
        topics.extend(subscription.topics);
    }
    Ok(topics.into_iter().collect())
}

/// The leader's SyncGroup assignments: (member id, assignment bytes) for every member, in
/// member id order, each encoded at the version its subscription used (at most 3).
pub fn leader_assignments(
    assignor: Assignor,
    members: &[JoinedMember],
    counts: &PartitionCounts,
) -> Result<Vec<(String, Vec<u8>)>, ConsumerProtocolError> {
    let mut subscriptions = Subscriptions::new();
    let mut versions = std::collections::BTreeMap::new();
    for member in members {
        let (subscription, version) = decode_subscription(&member.metadata)?;
        versions.insert(
            member.member_id.clone(),
            version.min(CONSUMER_PROTOCOL_VERSION_MAX),
        );
        subscriptions.insert(
            member.member_id.clone(),
            member_subscription(assignor, &subscription, member.group_instance_id.clone()),
        );
    }
    let assignment = assignor.assign(counts, &subscriptions);
    Ok(assignment
        .into_iter()
        .map(|(member_id, partitions)| {
            let bytes = encode_assignment(
                &Assignment {
                    partitions,
                    user_data: None,
                },
                versions[&member_id],
            );
            (member_id, bytes)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::consumer_protocol::{decode_assignment, decode_sticky_user_data};

    fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
        list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    fn state(owned: &[(&str, i32)], generation: i32) -> JoinState {
        JoinState {
            topics: ["t".to_string()].into(),
            owned: tps(owned),
            generation_id: generation,
            previous: tps(owned),
        }
    }

    fn member(id: &str, assignors: &[Assignor], state: &JoinState, index: usize) -> JoinedMember {
        JoinedMember {
            member_id: id.into(),
            group_instance_id: None,
            metadata: join_protocols(assignors, state)[index].1.clone(),
        }
    }

    fn decoded(assignments: &[(String, Vec<u8>)]) -> Vec<(String, Vec<TopicPartition>)> {
        assignments
            .iter()
            .map(|(id, bytes)| (id.clone(), decode_assignment(bytes).unwrap().0.partitions))
            .collect()
    }

    #[test]
    fn protocols_follow_the_configured_order_and_carry_ownership() {
        let assignors = [
            Assignor::CooperativeSticky,
            Assignor::Sticky,
            Assignor::Range,
        ];
        let protocols = join_protocols(&assignors, &state(&[("t", 1)], 4));
        let names: Vec<&str> = protocols.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["cooperative-sticky", "sticky", "range"]);
        let (cooperative, _) = decode_subscription(&protocols[0].1).unwrap();
        assert_eq!(cooperative.owned_partitions, tps(&[("t", 1)]));
        assert_eq!(cooperative.generation_id, 4);
        let (sticky, _) = decode_subscription(&protocols[1].1).unwrap();
        let user_data = decode_sticky_user_data(&sticky.user_data.unwrap()).unwrap();
        assert_eq!(user_data, (tps(&[("t", 1)]), Some(4)));
        let (range, _) = decode_subscription(&protocols[2].1).unwrap();
        assert_eq!(range.topics, ["t"]);
        assert_eq!(range.user_data, None);
    }

    #[test]
    fn range_leader_splits_partitions_between_members() {
        let fresh = state(&[], -1);
        let members = [
            member("a", &[Assignor::Range], &fresh, 0),
            member("b", &[Assignor::Range], &fresh, 0),
        ];
        assert_eq!(subscribed_topics(&members).unwrap(), ["t"]);
        let counts = [("t".to_string(), 3)].into();
        let result = leader_assignments(Assignor::Range, &members, &counts).unwrap();
        assert_eq!(
            decoded(&result),
            [
                ("a".to_string(), tps(&[("t", 0), ("t", 1)])),
                ("b".to_string(), tps(&[("t", 2)]))
            ]
        );
    }

    #[test]
    fn cooperative_leader_withholds_a_partition_still_owned_by_another() {
        // a owned everything in generation 1; b joins: whatever moves to b is withheld.
        let coop = [Assignor::CooperativeSticky];
        let members = [
            member("a", &coop, &state(&[("t", 0), ("t", 1)], 1), 0),
            member("b", &coop, &state(&[], -1), 0),
        ];
        let counts = [("t".to_string(), 2)].into();
        let result =
            decoded(&leader_assignments(Assignor::CooperativeSticky, &members, &counts).unwrap());
        assert_eq!(result[0].1.len(), 1, "a keeps one partition: {result:?}");
        assert!(result[1].1.is_empty(), "b waits a round: {result:?}");
    }

    #[test]
    fn a_malformed_subscription_is_an_error_not_a_panic() {
        let bad = JoinedMember {
            member_id: "a".into(),
            group_instance_id: None,
            metadata: vec![0, 3, 0xff],
        };
        assert!(subscribed_topics(std::slice::from_ref(&bad)).is_err());
        assert!(leader_assignments(Assignor::Range, &[bad], &Default::default()).is_err());
    }
}
