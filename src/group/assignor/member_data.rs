//! What each assignor takes from a member's JoinGroup subscription (Kafka's `memberData`):
//! the topics, the partitions the member says it owns and the generation they are from.
//!
//! - `range` and `roundrobin` ignore ownership; the protocol fields are passed through.
//! - `sticky` (eager) always reads ownership from its own user data, whatever the protocol
//!   fields say: an eager member revoked everything before joining, so only the user data
//!   remembers its previous assignment. Missing or unreadable user data means no ownership.
//! - `cooperative-sticky` takes the protocol's `owned_partitions`; the generation comes from
//!   the protocol field when it is set (v2+, non-negative), else from its user data (a
//!   missing one means no generation, an unreadable one the default generation).
//!
//! The generation is [`GENERATION_DEFAULT`] whenever Kafka's would be absent.

use super::{Assignor, MemberSubscription, GENERATION_DEFAULT};
use crate::group::consumer_protocol::{
    decode_cooperative_user_data, decode_sticky_user_data, Subscription,
};

/// The assignor's view of one member, from its decoded JoinGroup subscription.
pub fn member_subscription(
    assignor: Assignor,
    subscription: &Subscription,
    group_instance_id: Option<String>,
) -> MemberSubscription {
    let (owned_partitions, generation_id) = match assignor {
        Assignor::Range | Assignor::RoundRobin => (
            subscription.owned_partitions.clone(),
            subscription.generation_id,
        ),
        Assignor::Sticky => sticky_ownership(subscription.user_data.as_deref()),
        Assignor::CooperativeSticky => cooperative_ownership(subscription),
    };
    MemberSubscription {
        group_instance_id,
        topics: subscription.topics.iter().cloned().collect(),
        owned_partitions,
        generation_id: generation_id.max(GENERATION_DEFAULT),
    }
}

fn sticky_ownership(user_data: Option<&[u8]>) -> (Vec<(String, i32)>, i32) {
    match user_data {
        None | Some([]) => (Vec::new(), GENERATION_DEFAULT),
        Some(bytes) => match decode_sticky_user_data(bytes) {
            Ok((partitions, generation)) => (partitions, generation.unwrap_or(GENERATION_DEFAULT)),
            Err(_) => (Vec::new(), GENERATION_DEFAULT),
        },
    }
}

fn cooperative_ownership(subscription: &Subscription) -> (Vec<(String, i32)>, i32) {
    let owned = subscription.owned_partitions.clone();
    if subscription.generation_id >= 0 {
        return (owned, subscription.generation_id);
    }
    let generation = match subscription.user_data.as_deref() {
        None => GENERATION_DEFAULT,
        Some(bytes) => decode_cooperative_user_data(bytes).unwrap_or(GENERATION_DEFAULT),
    };
    (owned, generation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::consumer_protocol::{encode_cooperative_user_data, encode_sticky_user_data};

    fn tps(list: &[(&str, i32)]) -> Vec<(String, i32)> {
        list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    fn subscription(
        owned: &[(&str, i32)],
        generation: i32,
        user_data: Option<Vec<u8>>,
    ) -> Subscription {
        Subscription {
            topics: vec!["topic".into()],
            user_data,
            owned_partitions: tps(owned),
            generation_id: generation,
            rack_id: None,
        }
    }

    #[test]
    fn sticky_honours_user_data_over_protocol_fields() {
        // Kafka: StickyAssignorTest.testMemberDataWillHonorUserData and
        // testMemberDataWithInconsistentData
        let user_data = encode_sticky_user_data(&tps(&[("topic1", 0), ("topic2", 1)]), 4);
        let member = member_subscription(
            Assignor::Sticky,
            &subscription(&[("topic", 0)], 5, Some(user_data)),
            None,
        );
        assert_eq!(
            member.owned_partitions,
            tps(&[("topic1", 0), ("topic2", 1)])
        );
        assert_eq!(member.generation_id, 4);
    }

    #[test]
    fn sticky_without_or_with_unreadable_user_data_owns_nothing() {
        for user_data in [None, Some(vec![]), Some(vec![0xFF])] {
            let member = member_subscription(
                Assignor::Sticky,
                &subscription(&[("topic", 0)], 5, user_data),
                None,
            );
            assert!(member.owned_partitions.is_empty());
            assert_eq!(member.generation_id, GENERATION_DEFAULT);
        }
    }

    #[test]
    fn cooperative_prefers_the_protocol_generation() {
        // Kafka: CooperativeStickyAssignorTest.testMemberDataWithEmptyPartitionsAndHigherGeneration
        let user_data = encode_cooperative_user_data(3);
        let member = member_subscription(
            Assignor::CooperativeSticky,
            &subscription(&[], 4, Some(user_data)),
            None,
        );
        assert!(member.owned_partitions.is_empty());
        assert_eq!(member.generation_id, 4);
    }

    #[test]
    fn cooperative_falls_back_to_the_user_data_generation() {
        // Kafka: CooperativeStickyAssignorTest.testMemberDataWithInconsistentData,
        // testDecodeGeneration and testEncodeAndDecodeGeneration (v1 subscriptions)
        let with_user_data =
            subscription(&[("topic", 0)], -1, Some(encode_cooperative_user_data(10)));
        let member = member_subscription(Assignor::CooperativeSticky, &with_user_data, None);
        assert_eq!(
            (member.owned_partitions, member.generation_id),
            (tps(&[("topic", 0)]), 10)
        );
        let without = member_subscription(
            Assignor::CooperativeSticky,
            &subscription(&[], -1, None),
            None,
        );
        assert_eq!(without.generation_id, GENERATION_DEFAULT);
        let unreadable = subscription(&[], -1, Some(vec![1]));
        assert_eq!(
            member_subscription(Assignor::CooperativeSticky, &unreadable, None).generation_id,
            GENERATION_DEFAULT
        );
    }

    fn group_of(
        assignor: Assignor,
        members: Vec<(&str, Subscription)>,
    ) -> super::super::Subscriptions {
        members
            .into_iter()
            .map(|(id, subscription)| {
                (
                    id.to_string(),
                    member_subscription(assignor, &subscription, None),
                )
            })
            .collect()
    }

    #[test]
    fn cooperative_assigns_from_v1_and_v2_subscriptions_alike() {
        // Kafka: CooperativeStickyAssignorTest.testAssignorWithOldVersionSubscriptions (v1:
        // no generation field, the generation in user data)
        let v1 =
            |owned: &[(&str, i32)]| subscription(owned, -1, Some(encode_cooperative_user_data(1)));
        let members = group_of(
            Assignor::CooperativeSticky,
            vec![
                ("consumer1", v1(&[("topic", 0)])),
                ("consumer2", v1(&[("topic", 1)])),
                ("consumer3", subscription(&[], 1, None)),
            ],
        );
        let topics = [("topic".to_string(), 3)].into();
        let result = Assignor::CooperativeSticky.assign(&topics, &members);
        assert_eq!(result["consumer1"], tps(&[("topic", 0)]));
        assert_eq!(result["consumer2"], tps(&[("topic", 1)]));
        assert_eq!(result["consumer3"], tps(&[("topic", 2)]));
    }

    #[test]
    fn sticky_reads_old_and_new_user_data_schemas_together() {
        // Kafka: StickyAssignorTest.testSchemaBackwardCompatibility
        let new_schema = encode_sticky_user_data(&tps(&[("topic", 0), ("topic", 2)]), 1);
        let old_schema = vec![
            0, 0, 0, 1, 0, 5, b't', b'o', b'p', b'i', b'c', 0, 0, 0, 1, 0, 0, 0, 1,
        ];
        let members = group_of(
            Assignor::Sticky,
            vec![
                ("consumer1", subscription(&[], -1, Some(new_schema))),
                ("consumer2", subscription(&[], -1, Some(old_schema))),
                ("consumer3", subscription(&[], -1, None)),
            ],
        );
        assert_eq!(members["consumer2"].owned_partitions, tps(&[("topic", 1)]));
        let topics = [("topic".to_string(), 3)].into();
        let result = Assignor::Sticky.assign(&topics, &members);
        assert!(result.values().all(|partitions| partitions.len() == 1));
        assert!(tps(&[("topic", 0), ("topic", 2)]).contains(&result["consumer1"][0]));
        assert_eq!(result["consumer2"], tps(&[("topic", 1)]));
    }

    #[test]
    fn range_passes_topics_and_instance_id_through() {
        let member = member_subscription(
            Assignor::Range,
            &subscription(&[], 2, None),
            Some("i".into()),
        );
        assert_eq!(member.group_instance_id.as_deref(), Some("i"));
        assert_eq!(member.topics.iter().collect::<Vec<_>>(), ["topic"]);
        assert_eq!(member.generation_id, 2);
    }
}
