use super::*;
use bytes::Bytes;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as WireOwned;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use proptest::prelude::*;

fn sample_subscription() -> Subscription {
    Subscription {
        topics: vec!["a".into(), "bc".into()],
        user_data: Some(vec![0xCA, 0xFE]),
        owned_partitions: vec![("a".into(), 1), ("a".into(), 0), ("bc".into(), 2)],
        generation_id: 7,
        rack_id: Some("r1".into()),
    }
}

/// The v3 encoding of [`sample_subscription`], written out field by field.
fn sample_subscription_v3_bytes() -> Vec<u8> {
    let mut bytes = vec![0, 3]; // version
    bytes.extend([0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c']); // topics
    bytes.extend([0, 0, 0, 2, 0xCA, 0xFE]); // user data
    bytes.extend([0, 0, 0, 2]); // owned: two topics
    bytes.extend([0, 1, b'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]); // a: [0, 1] (sorted)
    bytes.extend([0, 2, b'b', b'c', 0, 0, 0, 1, 0, 0, 0, 2]); // bc: [2]
    bytes.extend([0, 0, 0, 7]); // generation
    bytes.extend([0, 2, b'r', b'1']); // rack
    bytes
}

#[test]
fn subscription_v3_encodes_to_the_hand_built_bytes() {
    assert_eq!(
        encode_subscription(&sample_subscription(), 3),
        sample_subscription_v3_bytes()
    );
}

#[test]
fn subscription_v3_hand_built_bytes_decode() {
    let (decoded, version) = decode_subscription(&sample_subscription_v3_bytes()).unwrap();
    assert_eq!(version, 3);
    let mut expected = sample_subscription();
    expected.owned_partitions.sort();
    assert_eq!(decoded, expected);
}

#[test]
fn subscription_v0_has_only_topics_and_user_data() {
    let bytes = encode_subscription(&sample_subscription(), 0);
    let mut expected = vec![0, 0, 0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c'];
    expected.extend([0, 0, 0, 2, 0xCA, 0xFE]);
    assert_eq!(bytes, expected);
    let (decoded, version) = decode_subscription(&bytes).unwrap();
    assert_eq!(version, 0);
    assert!(decoded.owned_partitions.is_empty());
    assert_eq!(decoded.generation_id, GENERATION_ID_DEFAULT);
    assert_eq!(decoded.rack_id, None);
}

#[test]
fn subscription_v1_and_v2_stop_before_generation_and_rack() {
    let v1 = encode_subscription(&sample_subscription(), 1);
    let v2 = encode_subscription(&sample_subscription(), 2);
    assert_eq!(v2.len(), v1.len() + 4, "v2 adds only the generation");
    assert_eq!(
        decode_subscription(&v1).unwrap().0.generation_id,
        GENERATION_ID_DEFAULT
    );
    assert_eq!(decode_subscription(&v2).unwrap().0.generation_id, 7);
    assert_eq!(decode_subscription(&v2).unwrap().0.rack_id, None);
}

#[test]
fn null_user_data_and_null_rack_are_minus_one_lengths() {
    let subscription = Subscription {
        topics: vec!["t".into()],
        ..Subscription::default()
    };
    let bytes = encode_subscription(&subscription, 3);
    let mut expected = vec![0, 3, 0, 0, 0, 1, 0, 1, b't'];
    expected.extend([0xFF, 0xFF, 0xFF, 0xFF]); // null user data
    expected.extend([0, 0, 0, 0]); // no owned partitions
    expected.extend([0, 0, 0, 0]); // generation 0 (Default, not -1: it is what we encoded)
    expected.extend([0xFF, 0xFF]); // null rack
    assert_eq!(bytes, expected);
    assert_eq!(decode_subscription(&bytes).unwrap().0, subscription);
}

#[test]
fn newer_subscription_version_reads_as_v3_and_ignores_trailing_fields() {
    let mut bytes = sample_subscription_v3_bytes();
    bytes[1] = 9; // a future version
    bytes.extend([1, 2, 3]); // a field appended by that version
    let (decoded, version) = decode_subscription(&bytes).unwrap();
    assert_eq!(version, 9);
    assert_eq!(decoded.rack_id.as_deref(), Some("r1"));
}

#[test]
fn negative_version_is_rejected() {
    let error = decode_subscription(&[0xFF, 0xFF, 0, 0, 0, 0]).unwrap_err();
    assert_eq!(
        error,
        ConsumerProtocolError::UnsupportedVersion {
            what: "subscription",
            version: -1
        }
    );
    assert!(matches!(
        decode_assignment(&[0x80, 0]),
        Err(ConsumerProtocolError::UnsupportedVersion { .. })
    ));
}

#[test]
fn truncated_subscription_is_an_underflow_at_every_cut() {
    let bytes = sample_subscription_v3_bytes();
    for cut in 0..bytes.len() {
        let result = decode_subscription(&bytes[..cut]);
        assert!(
            matches!(result, Err(ConsumerProtocolError::Underflow { .. })),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn null_topics_array_and_bad_utf8_are_errors() {
    let null_topics = [0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
    assert!(matches!(
        decode_subscription(&null_topics),
        Err(ConsumerProtocolError::InvalidLength {
            field: "topics",
            length: -1,
            ..
        })
    ));
    let bad_utf8 = [0, 0, 0, 0, 0, 1, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    assert!(matches!(
        decode_subscription(&bad_utf8),
        Err(ConsumerProtocolError::InvalidUtf8 { .. })
    ));
}

#[test]
fn huge_declared_array_fails_without_allocating_it() {
    // 2^31-1 topics declared, none present.
    let bytes = [0, 0, 0x7F, 0xFF, 0xFF, 0xFF];
    assert!(matches!(
        decode_subscription(&bytes),
        Err(ConsumerProtocolError::Underflow { .. })
    ));
}

#[test]
fn assignment_encodes_to_the_hand_built_bytes() {
    let assignment = Assignment {
        partitions: vec![("b".into(), 3), ("a".into(), 0), ("b".into(), 1)],
        user_data: None,
    };
    let bytes = encode_assignment(&assignment, 1);
    let mut expected = vec![0, 1, 0, 0, 0, 2];
    expected.extend([0, 1, b'b', 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1]); // b first: seen first
    expected.extend([0, 1, b'a', 0, 0, 0, 1, 0, 0, 0, 0]);
    expected.extend([0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(bytes, expected);
    let (decoded, version) = decode_assignment(&bytes).unwrap();
    assert_eq!(version, 1);
    assert_eq!(
        decoded.partitions,
        vec![("b".into(), 3), ("b".into(), 1), ("a".into(), 0)]
    );
    assert_eq!(decoded.user_data, None);
}

#[test]
fn empty_assignment_with_user_data_round_trips() {
    let assignment = Assignment {
        partitions: vec![],
        user_data: Some(vec![1, 2, 3]),
    };
    for version in 0..=3 {
        let bytes = encode_assignment(&assignment, version);
        assert_eq!(
            bytes,
            [
                vec![0, version as u8, 0, 0, 0, 0, 0, 0, 0, 3],
                vec![1, 2, 3]
            ]
            .concat()
        );
        assert_eq!(
            decode_assignment(&bytes).unwrap(),
            (assignment.clone(), version)
        );
    }
}

fn wire_subscription(subscription: &Subscription) -> ConsumerProtocolSubscription {
    let mut owned: Vec<WireOwned> = Vec::new();
    let mut sorted = subscription.owned_partitions.clone();
    sorted.sort();
    for (topic, partition) in sorted {
        match owned.last_mut() {
            Some(last) if last.topic.0.as_str() == topic => last.partitions.push(partition),
            _ => owned.push(
                WireOwned::default()
                    .with_topic(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    let mut topics = subscription.topics.clone();
    topics.sort();
    ConsumerProtocolSubscription::default()
        .with_topics(topics.into_iter().map(StrBytes::from_string).collect())
        .with_user_data(subscription.user_data.clone().map(Bytes::from))
        .with_owned_partitions(owned)
        .with_generation_id(subscription.generation_id)
        .with_rack_id(subscription.rack_id.clone().map(StrBytes::from_string))
}

fn topic_name() -> impl Strategy<Value = String> {
    "[a-z._-]{1,6}"
}

fn subscription_strategy() -> impl Strategy<Value = Subscription> {
    (
        proptest::collection::btree_set(topic_name(), 0..4),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        proptest::collection::btree_set((topic_name(), 0i32..100), 0..6),
        any::<i32>(),
        proptest::option::of("[a-z0-9]{0,5}"),
    )
        .prop_map(
            |(topics, user_data, owned, generation_id, rack_id)| Subscription {
                topics: topics.into_iter().collect(),
                user_data,
                owned_partitions: owned.into_iter().collect(),
                generation_id,
                rack_id,
            },
        )
}

#[test]
fn sticky_user_data_v1_hand_built_bytes() {
    let partitions = vec![("t2".to_string(), 1), ("t1".to_string(), 0)];
    let bytes = encode_sticky_user_data(&partitions, 5);
    let mut expected = vec![0, 0, 0, 2];
    expected.extend([0, 2, b't', b'1', 0, 0, 0, 1, 0, 0, 0, 0]);
    expected.extend([0, 2, b't', b'2', 0, 0, 0, 1, 0, 0, 0, 1]);
    expected.extend([0, 0, 0, 5]);
    assert_eq!(bytes, expected);
    let (decoded, generation) = decode_sticky_user_data(&bytes).unwrap();
    assert_eq!(decoded, vec![("t1".to_string(), 0), ("t2".to_string(), 1)]);
    assert_eq!(generation, Some(5));
}

#[test]
fn sticky_user_data_v0_has_no_generation() {
    // Kafka: StickyAssignorTest.testSchemaBackwardCompatibility writes the old schema.
    let bytes = [0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 2];
    assert_eq!(
        decode_sticky_user_data(&bytes).unwrap(),
        (vec![("t".to_string(), 2)], None)
    );
    assert!(decode_sticky_user_data(&bytes[..5]).is_err());
}

#[test]
fn cooperative_user_data_is_the_generation() {
    // Kafka: CooperativeStickyAssignorTest.testEncodeAndDecodeGeneration
    assert_eq!(encode_cooperative_user_data(10), [0, 0, 0, 10]);
    assert_eq!(
        decode_cooperative_user_data(&encode_cooperative_user_data(-1)),
        Ok(-1)
    );
    assert!(decode_cooperative_user_data(&[0, 0]).is_err());
}

proptest! {
    #[test]
    fn user_data_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_sticky_user_data(&bytes);
        let _ = decode_cooperative_user_data(&bytes);
    }

    #[test]
    fn subscription_round_trips_at_v3(subscription in subscription_strategy()) {
        let bytes = encode_subscription(&subscription, 3);
        prop_assert_eq!(decode_subscription(&bytes).unwrap(), (subscription, 3));
    }

    #[test]
    fn subscription_bytes_match_the_kafka_protocol_crate(
        subscription in subscription_strategy(), version in 0i16..=3
    ) {
        // An independent encoder: the generated kafka-protocol message, with the version prefix.
        let mut theirs = version.to_be_bytes().to_vec();
        wire_subscription(&subscription).encode(&mut theirs, version).unwrap();
        prop_assert_eq!(&encode_subscription(&subscription, version), &theirs);
        let mut body = Bytes::from(theirs[2..].to_vec());
        let decoded_by_them = ConsumerProtocolSubscription::decode(&mut body, version).unwrap();
        let (ours, _) = decode_subscription(&theirs).unwrap();
        let their_topics: Vec<String> =
            decoded_by_them.topics.iter().map(|t| t.as_str().to_string()).collect();
        prop_assert_eq!(ours.topics, their_topics);
        prop_assert_eq!(ours.generation_id, decoded_by_them.generation_id);
    }

    #[test]
    fn assignment_round_trips_and_matches_the_kafka_protocol_crate(
        partitions in proptest::collection::btree_set((topic_name(), 0i32..50), 0..8),
        user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        version in 0i16..=3,
    ) {
        let partitions: Vec<(String, i32)> = partitions.into_iter().collect();
        let assignment = Assignment { partitions: partitions.clone(), user_data };
        let bytes = encode_assignment(&assignment, version);
        prop_assert_eq!(decode_assignment(&bytes).unwrap(), (assignment, version));
        let mut body = Bytes::from(bytes[2..].to_vec());
        let theirs = ConsumerProtocolAssignment::decode(&mut body, version).unwrap();
        let flattened: Vec<(String, i32)> = theirs
            .assigned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t.topic.0.as_str().to_string(), *p)))
            .collect();
        prop_assert_eq!(flattened, partitions);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_subscription(&bytes);
        let _ = decode_assignment(&bytes);
    }

    #[test]
    fn corrupted_valid_bytes_never_panic(
        subscription in subscription_strategy(), index in any::<prop::sample::Index>(), byte in any::<u8>()
    ) {
        let mut bytes = encode_subscription(&subscription, 3);
        let at = index.index(bytes.len());
        bytes[at] = byte;
        let _ = decode_subscription(&bytes);
        let _ = decode_assignment(&bytes);
    }
}
