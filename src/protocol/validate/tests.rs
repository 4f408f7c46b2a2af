//! The walker against every supported API: valid requests pass and round-trip, truncated,
//! damaged and impossible ones are refused without aborting.

use super::*;
use crate::protocol::{decode_request, encode_request, DecodeError, SUPPORTED};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    create_topics_request, fetch_request, list_offsets_request, metadata_request, produce_request,
    ApiVersionsRequest, BrokerId, CreateTopicsRequest, DeleteTopicsRequest, FetchRequest,
    FindCoordinatorRequest, GroupId, ListOffsetsRequest, MetadataRequest, ProduceRequest,
    RequestHeader, RequestKind, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[test]
fn controller_schemas_cover_exactly_the_controller_versions() {
    for (api_key, min, max) in crate::protocol::CONTROLLER_SUPPORTED {
        let schema = schemas::SCHEMAS
            .iter()
            .chain(schemas::CONTROLLER_SCHEMAS)
            .find(|schema| schema.api_key == *api_key && schema.versions.contains(*min))
            .unwrap_or_else(|| panic!("no schema for {api_key:?}"));
        assert!(schema.versions.contains(*max), "{api_key:?}");
        for version in *min..=*max {
            let flexible = api_key.request_header_version(version) >= 2;
            assert_eq!(
                schema.flexible.contains(version),
                flexible,
                "{api_key:?} v{version}"
            );
        }
    }
}

#[test]
fn controller_requests_with_impossible_lengths_are_refused() {
    // AlterPartition v2 claiming 2^31 topics in a 20-byte body.
    let mut body = vec![0, 0, 0, 1];
    body.extend_from_slice(&7i64.to_be_bytes());
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07, 0]);
    assert!(check_request_body(ApiKey::AlterPartition, 2, &body).is_err());
    // A well-formed heartbeat passes.
    let mut heartbeat = vec![0, 0, 0, 1];
    heartbeat.extend_from_slice(&7i64.to_be_bytes());
    heartbeat.extend_from_slice(&3i64.to_be_bytes());
    heartbeat.extend_from_slice(&[0, 0, 0]);
    assert_eq!(
        check_request_body(ApiKey::BrokerHeartbeat, 0, &heartbeat),
        Ok(())
    );
}

#[test]
fn schemas_cover_exactly_the_supported_versions() {
    assert_eq!(schemas::SCHEMAS.len(), SUPPORTED.len());
    for (api_key, min, max) in SUPPORTED {
        let schema = schemas::SCHEMAS
            .iter()
            .find(|schema| schema.api_key == *api_key)
            .unwrap_or_else(|| panic!("no schema for {api_key:?}"));
        assert_eq!(
            (schema.versions.min, schema.versions.max),
            (*min, *max),
            "{api_key:?}"
        );
        for version in *min..=*max {
            // Flexible exactly where the crate's header is v2 (flexible) too.
            let flexible = api_key.request_header_version(version) >= 2;
            assert_eq!(
                schema.flexible.contains(version),
                flexible,
                "{api_key:?} v{version}"
            );
        }
    }
}

/// A small deterministic generator (splitmix64) for random-ish valid requests.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn i32(&mut self) -> i32 {
        self.next() as i32
    }

    fn i64(&mut self) -> i64 {
        self.next() as i64
    }

    fn text(&mut self) -> StrBytes {
        let length = self.below(6);
        let text: std::string::String = (0..length)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect();
        StrBytes::from_string(text)
    }

    fn topic(&mut self) -> TopicName {
        TopicName(self.text())
    }

    fn group(&mut self) -> GroupId {
        GroupId(self.text())
    }

    /// Zero to five arbitrary bytes.
    fn bytes(&mut self) -> Bytes {
        Bytes::from(
            (0..self.below(6))
                .map(|_| self.next() as u8)
                .collect::<Vec<_>>(),
        )
    }

    /// `None` one time in four when `nullable`.
    fn maybe<T>(&mut self, nullable: bool, value: impl FnOnce(&mut Gen) -> T) -> Option<T> {
        (!nullable || self.below(4) != 0).then(|| value(self))
    }

    /// Zero to two elements.
    fn vec<T>(&mut self, mut element: impl FnMut(&mut Gen) -> T) -> Vec<T> {
        let length = self.below(3);
        (0..length).map(|_| element(self)).collect()
    }

    /// Unknown tagged fields (tags the crate does not know) in flexible versions.
    fn unknown_tags(&mut self, flexible: bool) -> BTreeMap<i32, Bytes> {
        if !flexible {
            return BTreeMap::new();
        }
        let tags = self.vec(|gen| {
            let tag = 100 + gen.below(1_000) as i32;
            let value: Vec<u8> = (0..gen.below(4)).map(|_| gen.next() as u8).collect();
            (tag, Bytes::from(value))
        });
        tags.into_iter().collect()
    }
}

fn produce(gen: &mut Gen, version: i16) -> RequestKind {
    let flexible = version >= 9;
    let mut request = ProduceRequest::default();
    request.transactional_id = gen.maybe(true, |gen| TransactionalId(gen.text()));
    request.acks = gen.next() as i16;
    request.timeout_ms = gen.i32();
    request.topic_data = gen.vec(|gen| {
        let mut topic = produce_request::TopicProduceData::default();
        topic.name = gen.topic();
        topic.partition_data = gen.vec(|gen| {
            let mut partition = produce_request::PartitionProduceData::default();
            partition.index = gen.i32();
            partition.records = gen.maybe(true, |gen| {
                Bytes::from(
                    (0..gen.below(20))
                        .map(|_| gen.next() as u8)
                        .collect::<Vec<_>>(),
                )
            });
            partition.unknown_tagged_fields = gen.unknown_tags(flexible);
            partition
        });
        topic.unknown_tagged_fields = gen.unknown_tags(flexible);
        topic
    });
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn fetch(gen: &mut Gen, version: i16) -> RequestKind {
    let flexible = version >= 12;
    let mut request = FetchRequest::default();
    if version <= 14 {
        request.replica_id = BrokerId(-1);
    } else {
        request.replica_state.replica_id = BrokerId(gen.i32());
        request.replica_state.replica_epoch = gen.i64();
    }
    request.max_wait_ms = gen.i32();
    request.min_bytes = gen.i32();
    request.max_bytes = gen.i32();
    request.isolation_level = gen.below(2) as i8;
    if version >= 7 {
        request.session_id = gen.i32();
        request.session_epoch = gen.i32();
    }
    request.topics = gen.vec(|gen| {
        let mut topic = fetch_request::FetchTopic::default();
        if version >= 13 {
            topic.topic_id = uuid::Uuid::from_u128(gen.i64() as u128);
        } else {
            topic.topic = gen.topic();
        }
        topic.partitions = gen.vec(|gen| {
            let mut partition = fetch_request::FetchPartition::default();
            partition.partition = gen.i32();
            if version >= 9 {
                partition.current_leader_epoch = gen.i32();
            }
            partition.fetch_offset = gen.i64();
            if version >= 12 {
                partition.last_fetched_epoch = gen.i32();
            }
            if version >= 5 {
                partition.log_start_offset = gen.i64();
            }
            partition.partition_max_bytes = gen.i32();
            partition.unknown_tagged_fields = gen.unknown_tags(flexible);
            partition
        });
        topic.unknown_tagged_fields = gen.unknown_tags(flexible);
        topic
    });
    if version >= 7 {
        request.forgotten_topics_data = gen.vec(|gen| {
            let mut topic = fetch_request::ForgottenTopic::default();
            if version >= 13 {
                topic.topic_id = uuid::Uuid::from_u128(gen.i64() as u128);
            } else {
                topic.topic = gen.topic();
            }
            topic.partitions = gen.vec(|gen| gen.i32());
            topic.unknown_tagged_fields = gen.unknown_tags(flexible);
            topic
        });
    }
    if version >= 11 {
        request.rack_id = gen.text();
    }
    if flexible {
        request.cluster_id = gen.maybe(true, |gen| gen.text());
    }
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn list_offsets(gen: &mut Gen, version: i16) -> RequestKind {
    let flexible = version >= 6;
    let mut request = ListOffsetsRequest::default();
    request.replica_id = BrokerId(gen.i32());
    if version >= 2 {
        request.isolation_level = gen.below(2) as i8;
    }
    request.topics = gen.vec(|gen| {
        let mut topic = list_offsets_request::ListOffsetsTopic::default();
        topic.name = gen.topic();
        topic.partitions = gen.vec(|gen| {
            let mut partition = list_offsets_request::ListOffsetsPartition::default();
            partition.partition_index = gen.i32();
            if version >= 4 {
                partition.current_leader_epoch = gen.i32();
            }
            partition.timestamp = gen.i64();
            partition.unknown_tagged_fields = gen.unknown_tags(flexible);
            partition
        });
        topic.unknown_tagged_fields = gen.unknown_tags(flexible);
        topic
    });
    if version >= 10 {
        request.timeout_ms = gen.i32();
    }
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn metadata(gen: &mut Gen, version: i16) -> RequestKind {
    let flexible = version >= 9;
    let mut request = MetadataRequest::default();
    request.topics = gen.maybe(version >= 1, |gen| {
        gen.vec(|gen| {
            let mut topic = metadata_request::MetadataRequestTopic::default();
            topic.name = gen.maybe(version >= 10, |gen| gen.topic());
            topic.unknown_tagged_fields = gen.unknown_tags(flexible);
            topic
        })
    });
    if version >= 4 {
        request.allow_auto_topic_creation = gen.below(2) == 0;
    }
    if (8..=10).contains(&version) {
        request.include_cluster_authorized_operations = gen.below(2) == 0;
    }
    if version >= 8 {
        request.include_topic_authorized_operations = gen.below(2) == 0;
    }
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn find_coordinator(gen: &mut Gen, version: i16) -> RequestKind {
    let mut request = FindCoordinatorRequest::default();
    if version <= 3 {
        request.key = gen.text();
    }
    if version >= 1 {
        request.key_type = gen.below(2) as i8;
    }
    if version >= 4 {
        request.coordinator_keys = gen.vec(|gen| gen.text());
    }
    request.unknown_tagged_fields = gen.unknown_tags(version >= 3);
    request.into()
}

fn api_versions(gen: &mut Gen, version: i16) -> RequestKind {
    let mut request = ApiVersionsRequest::default();
    if version >= 3 {
        request.client_software_name = gen.text();
        request.client_software_version = gen.text();
    }
    request.unknown_tagged_fields = gen.unknown_tags(version >= 3);
    request.into()
}

fn create_topics(gen: &mut Gen, version: i16) -> RequestKind {
    let flexible = version >= 5;
    let mut request = CreateTopicsRequest::default();
    request.topics = gen.vec(|gen| {
        let mut topic = create_topics_request::CreatableTopic::default();
        topic.name = gen.topic();
        topic.num_partitions = gen.i32();
        topic.replication_factor = gen.next() as i16;
        topic.assignments = gen.vec(|gen| {
            let mut assignment = create_topics_request::CreatableReplicaAssignment::default();
            assignment.partition_index = gen.i32();
            assignment.broker_ids = gen.vec(|gen| BrokerId(gen.i32()));
            assignment.unknown_tagged_fields = gen.unknown_tags(flexible);
            assignment
        });
        topic.configs = gen.vec(|gen| {
            let mut config = create_topics_request::CreatableTopicConfig::default();
            config.name = gen.text();
            config.value = gen.maybe(true, |gen| gen.text());
            config.unknown_tagged_fields = gen.unknown_tags(flexible);
            config
        });
        topic.unknown_tagged_fields = gen.unknown_tags(flexible);
        topic
    });
    request.timeout_ms = gen.i32();
    request.validate_only = gen.below(2) == 0;
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn delete_topics(gen: &mut Gen, version: i16) -> RequestKind {
    let mut request = DeleteTopicsRequest::default();
    if version >= 6 {
        request.topics = gen.vec(|gen| {
            let mut topic =
                kafka_protocol::messages::delete_topics_request::DeleteTopicState::default();
            topic.name = gen.maybe(true, |gen| gen.topic());
            topic.topic_id = uuid::Uuid::from_u128(gen.i64() as u128);
            topic.unknown_tagged_fields = gen.unknown_tags(true);
            topic
        });
    } else {
        request.topic_names = gen.vec(|gen| gen.topic());
    }
    request.timeout_ms = gen.i32();
    request.unknown_tagged_fields = gen.unknown_tags(version >= 4);
    request.into()
}

fn offset_for_leader_epoch(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::offset_for_leader_epoch_request as epoch_request;
    let flexible = version >= 4;
    let mut request = epoch_request::OffsetForLeaderEpochRequest::default();
    request.replica_id = BrokerId(gen.i32());
    request.topics = gen.vec(|gen| {
        let mut topic = epoch_request::OffsetForLeaderTopic::default();
        topic.topic = gen.topic();
        topic.partitions = gen.vec(|gen| {
            let mut partition = epoch_request::OffsetForLeaderPartition::default();
            partition.partition = gen.i32();
            partition.current_leader_epoch = gen.i32();
            partition.leader_epoch = gen.i32();
            partition.unknown_tagged_fields = gen.unknown_tags(flexible);
            partition
        });
        topic.unknown_tagged_fields = gen.unknown_tags(flexible);
        topic
    });
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn describe_cluster(gen: &mut Gen, version: i16) -> RequestKind {
    let mut request = kafka_protocol::messages::DescribeClusterRequest::default();
    request.include_cluster_authorized_operations = gen.below(2) == 0;
    if version >= 1 {
        request.endpoint_type = gen.next() as i8;
    }
    if version >= 2 {
        request.include_fenced_brokers = gen.below(2) == 0;
    }
    request.unknown_tagged_fields = gen.unknown_tags(true);
    request.into()
}

fn describe_configs(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::describe_configs_request as describe;
    let flexible = version >= 4;
    let mut request = describe::DescribeConfigsRequest::default();
    request.resources = gen.vec(|gen| {
        let mut resource = describe::DescribeConfigsResource::default();
        resource.resource_type = gen.next() as i8;
        resource.resource_name = gen.text();
        resource.configuration_keys = gen.maybe(true, |gen| gen.vec(|gen| gen.text()));
        resource.unknown_tagged_fields = gen.unknown_tags(flexible);
        resource
    });
    request.include_synonyms = gen.below(2) == 0;
    if version >= 3 {
        request.include_documentation = gen.below(2) == 0;
    }
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn alter_configs(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::alter_configs_request as alter;
    let flexible = version >= 2;
    let mut request = alter::AlterConfigsRequest::default();
    request.resources = gen.vec(|gen| {
        let mut resource = alter::AlterConfigsResource::default();
        resource.resource_type = gen.next() as i8;
        resource.resource_name = gen.text();
        resource.configs = gen.vec(|gen| {
            let mut config = alter::AlterableConfig::default();
            config.name = gen.text();
            config.value = gen.maybe(true, |gen| gen.text());
            config.unknown_tagged_fields = gen.unknown_tags(flexible);
            config
        });
        resource.unknown_tagged_fields = gen.unknown_tags(flexible);
        resource
    });
    request.validate_only = gen.below(2) == 0;
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn incremental_alter_configs(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::incremental_alter_configs_request as alter;
    let flexible = version >= 1;
    let mut request = alter::IncrementalAlterConfigsRequest::default();
    request.resources = gen.vec(|gen| {
        let mut resource = alter::AlterConfigsResource::default();
        resource.resource_type = gen.next() as i8;
        resource.resource_name = gen.text();
        resource.configs = gen.vec(|gen| {
            let mut config = alter::AlterableConfig::default();
            config.name = gen.text();
            config.config_operation = gen.next() as i8;
            config.value = gen.maybe(true, |gen| gen.text());
            config.unknown_tagged_fields = gen.unknown_tags(flexible);
            config
        });
        resource.unknown_tagged_fields = gen.unknown_tags(flexible);
        resource
    });
    request.validate_only = gen.below(2) == 0;
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn delete_records(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::delete_records_request as delete;
    let flexible = version >= 2;
    let mut request = delete::DeleteRecordsRequest::default();
    request.topics = gen.vec(|gen| {
        let mut topic = delete::DeleteRecordsTopic::default();
        topic.name = gen.topic();
        topic.partitions = gen.vec(|gen| {
            let mut partition = delete::DeleteRecordsPartition::default();
            partition.partition_index = gen.i32();
            partition.offset = gen.i64();
            partition.unknown_tagged_fields = gen.unknown_tags(flexible);
            partition
        });
        topic.unknown_tagged_fields = gen.unknown_tags(flexible);
        topic
    });
    request.timeout_ms = gen.i32();
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn init_producer_id(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::{InitProducerIdRequest, ProducerId, TransactionalId};
    let mut request = InitProducerIdRequest::default();
    request.transactional_id = gen.maybe(true, |gen| TransactionalId(gen.text()));
    request.transaction_timeout_ms = gen.i32();
    if version >= 3 {
        request.producer_id = ProducerId(gen.i64());
        request.producer_epoch = gen.i32() as i16;
    }
    request.unknown_tagged_fields = gen.unknown_tags(version >= 2);
    request.into()
}

fn create_partitions(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::create_partitions_request as create;
    let flexible = version >= 2;
    let mut request = create::CreatePartitionsRequest::default();
    request.topics = gen.vec(|gen| {
        let mut topic = create::CreatePartitionsTopic::default();
        topic.name = gen.topic();
        topic.count = gen.i32();
        topic.assignments = gen.maybe(true, |gen| {
            gen.vec(|gen| {
                let mut assignment = create::CreatePartitionsAssignment::default();
                assignment.broker_ids = gen.vec(|gen| BrokerId(gen.i32()));
                assignment.unknown_tagged_fields = gen.unknown_tags(flexible);
                assignment
            })
        });
        topic.unknown_tagged_fields = gen.unknown_tags(flexible);
        topic
    });
    request.timeout_ms = gen.i32();
    request.validate_only = gen.below(2) == 0;
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn join_group(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::join_group_request as join;
    let flexible = version >= 6;
    let mut request = join::JoinGroupRequest::default();
    request.group_id = gen.group();
    request.session_timeout_ms = gen.i32();
    if version >= 1 {
        request.rebalance_timeout_ms = gen.i32();
    }
    request.member_id = gen.text();
    if version >= 5 {
        request.group_instance_id = gen.maybe(true, |gen| gen.text());
    }
    request.protocol_type = gen.text();
    request.protocols = gen.vec(|gen| {
        let mut protocol = join::JoinGroupRequestProtocol::default();
        protocol.name = gen.text();
        protocol.metadata = gen.bytes();
        protocol.unknown_tagged_fields = gen.unknown_tags(flexible);
        protocol
    });
    if version >= 8 {
        request.reason = gen.maybe(true, |gen| gen.text());
    }
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn sync_group(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::sync_group_request as sync;
    let flexible = version >= 4;
    let mut request = sync::SyncGroupRequest::default();
    request.group_id = gen.group();
    request.generation_id = gen.i32();
    request.member_id = gen.text();
    if version >= 3 {
        request.group_instance_id = gen.maybe(true, |gen| gen.text());
    }
    if version >= 5 {
        request.protocol_type = gen.maybe(true, |gen| gen.text());
        request.protocol_name = gen.maybe(true, |gen| gen.text());
    }
    request.assignments = gen.vec(|gen| {
        let mut assignment = sync::SyncGroupRequestAssignment::default();
        assignment.member_id = gen.text();
        assignment.assignment = gen.bytes();
        assignment.unknown_tagged_fields = gen.unknown_tags(flexible);
        assignment
    });
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn heartbeat(gen: &mut Gen, version: i16) -> RequestKind {
    let mut request = kafka_protocol::messages::HeartbeatRequest::default();
    request.group_id = gen.group();
    request.generation_id = gen.i32();
    request.member_id = gen.text();
    if version >= 3 {
        request.group_instance_id = gen.maybe(true, |gen| gen.text());
    }
    request.unknown_tagged_fields = gen.unknown_tags(version >= 4);
    request.into()
}

fn leave_group(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::leave_group_request as leave;
    let flexible = version >= 4;
    let mut request = leave::LeaveGroupRequest::default();
    request.group_id = gen.group();
    if version <= 2 {
        request.member_id = gen.text();
    } else {
        request.members = gen.vec(|gen| {
            let mut member = leave::MemberIdentity::default();
            member.member_id = gen.text();
            member.group_instance_id = gen.maybe(true, |gen| gen.text());
            if version >= 5 {
                member.reason = gen.maybe(true, |gen| gen.text());
            }
            member.unknown_tagged_fields = gen.unknown_tags(flexible);
            member
        });
    }
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn offset_commit(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::offset_commit_request as commit;
    let flexible = version >= 8;
    let mut request = commit::OffsetCommitRequest::default();
    request.group_id = gen.group();
    request.generation_id_or_member_epoch = gen.i32();
    request.member_id = gen.text();
    if version >= 7 {
        request.group_instance_id = gen.maybe(true, |gen| gen.text());
    }
    if version <= 4 {
        request.retention_time_ms = gen.i64();
    }
    request.topics = gen.vec(|gen| {
        let mut topic = commit::OffsetCommitRequestTopic::default();
        topic.name = gen.topic();
        topic.partitions = gen.vec(|gen| {
            let mut partition = commit::OffsetCommitRequestPartition::default();
            partition.partition_index = gen.i32();
            partition.committed_offset = gen.i64();
            if version >= 6 {
                partition.committed_leader_epoch = gen.i32();
            }
            partition.committed_metadata = gen.maybe(true, |gen| gen.text());
            partition.unknown_tagged_fields = gen.unknown_tags(flexible);
            partition
        });
        topic.unknown_tagged_fields = gen.unknown_tags(flexible);
        topic
    });
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn offset_fetch(gen: &mut Gen, version: i16) -> RequestKind {
    use kafka_protocol::messages::offset_fetch_request as fetch;
    let flexible = version >= 6;
    let mut request = fetch::OffsetFetchRequest::default();
    if version <= 7 {
        request.group_id = gen.group();
        request.topics = gen.maybe(version >= 2, |gen| {
            gen.vec(|gen| {
                let mut topic = fetch::OffsetFetchRequestTopic::default();
                topic.name = gen.topic();
                topic.partition_indexes = gen.vec(|gen| gen.i32());
                topic.unknown_tagged_fields = gen.unknown_tags(flexible);
                topic
            })
        });
    } else {
        request.groups = gen.vec(|gen| {
            let mut group = fetch::OffsetFetchRequestGroup::default();
            group.group_id = gen.group();
            if version >= 9 {
                group.member_id = gen.maybe(true, |gen| gen.text());
                group.member_epoch = gen.i32();
            }
            group.topics = gen.maybe(true, |gen| {
                gen.vec(|gen| {
                    let mut topic = fetch::OffsetFetchRequestTopics::default();
                    topic.name = gen.topic();
                    topic.partition_indexes = gen.vec(|gen| gen.i32());
                    topic.unknown_tagged_fields = gen.unknown_tags(flexible);
                    topic
                })
            });
            group.unknown_tagged_fields = gen.unknown_tags(flexible);
            group
        });
    }
    if version >= 7 {
        request.require_stable = gen.below(2) == 0;
    }
    request.unknown_tagged_fields = gen.unknown_tags(flexible);
    request.into()
}

fn list_groups(gen: &mut Gen, version: i16) -> RequestKind {
    let mut request = kafka_protocol::messages::ListGroupsRequest::default();
    if version >= 4 {
        request.states_filter = gen.vec(|gen| gen.text());
    }
    if version >= 5 {
        request.types_filter = gen.vec(|gen| gen.text());
    }
    request.unknown_tagged_fields = gen.unknown_tags(version >= 3);
    request.into()
}

fn describe_groups(gen: &mut Gen, version: i16) -> RequestKind {
    let mut request = kafka_protocol::messages::DescribeGroupsRequest::default();
    request.groups = gen.vec(|gen| gen.group());
    if version >= 3 {
        request.include_authorized_operations = gen.below(2) == 0;
    }
    request.unknown_tagged_fields = gen.unknown_tags(version >= 5);
    request.into()
}

fn delete_groups(gen: &mut Gen, version: i16) -> RequestKind {
    let mut request = kafka_protocol::messages::DeleteGroupsRequest::default();
    request.groups_names = gen.vec(|gen| gen.group());
    request.unknown_tagged_fields = gen.unknown_tags(version >= 2);
    request.into()
}

fn offset_delete(gen: &mut Gen, _version: i16) -> RequestKind {
    use kafka_protocol::messages::offset_delete_request as delete;
    let mut request = delete::OffsetDeleteRequest::default();
    request.group_id = gen.group();
    request.topics = gen.vec(|gen| {
        let mut topic = delete::OffsetDeleteRequestTopic::default();
        topic.name = gen.topic();
        topic.partitions = gen.vec(|gen| {
            let mut partition = delete::OffsetDeleteRequestPartition::default();
            partition.partition_index = gen.i32();
            partition
        });
        topic
    });
    request.into()
}

/// A random valid request of `api_key` at `version`, with every field the version has.
fn valid_request(gen: &mut Gen, api_key: ApiKey, version: i16) -> RequestKind {
    match api_key {
        ApiKey::Produce => produce(gen, version),
        ApiKey::Fetch => fetch(gen, version),
        ApiKey::ListOffsets => list_offsets(gen, version),
        ApiKey::Metadata => metadata(gen, version),
        ApiKey::FindCoordinator => find_coordinator(gen, version),
        ApiKey::ApiVersions => api_versions(gen, version),
        ApiKey::CreateTopics => create_topics(gen, version),
        ApiKey::DeleteTopics => delete_topics(gen, version),
        ApiKey::OffsetForLeaderEpoch => offset_for_leader_epoch(gen, version),
        ApiKey::DescribeCluster => describe_cluster(gen, version),
        ApiKey::DescribeConfigs => describe_configs(gen, version),
        ApiKey::AlterConfigs => alter_configs(gen, version),
        ApiKey::DeleteRecords => delete_records(gen, version),
        ApiKey::CreatePartitions => create_partitions(gen, version),
        ApiKey::IncrementalAlterConfigs => incremental_alter_configs(gen, version),
        ApiKey::InitProducerId => init_producer_id(gen, version),
        ApiKey::JoinGroup => join_group(gen, version),
        ApiKey::SyncGroup => sync_group(gen, version),
        ApiKey::Heartbeat => heartbeat(gen, version),
        ApiKey::LeaveGroup => leave_group(gen, version),
        ApiKey::OffsetCommit => offset_commit(gen, version),
        ApiKey::OffsetFetch => offset_fetch(gen, version),
        ApiKey::ListGroups => list_groups(gen, version),
        ApiKey::DescribeGroups => describe_groups(gen, version),
        ApiKey::DeleteGroups => delete_groups(gen, version),
        ApiKey::OffsetDelete => offset_delete(gen, version),
        other => panic!("no generator for {other:?}"),
    }
}

fn encode_body(body: &RequestKind, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    body.encode(&mut buf, version).expect("encode a valid body");
    buf.to_vec()
}

fn frame(api_key: ApiKey, version: i16, body: &RequestKind) -> Bytes {
    let mut header = RequestHeader::default();
    header.request_api_key = api_key as i16;
    header.request_api_version = version;
    header.correlation_id = 7;
    header.client_id = Some(StrBytes::from_static_str("validate"));
    encode_request(&header, body).expect("encode a valid request")
}

/// Every supported (api, version), in order.
fn supported_versions() -> impl Iterator<Item = (ApiKey, i16)> {
    SUPPORTED
        .iter()
        .flat_map(|(api_key, min, max)| (*min..=*max).map(move |version| (*api_key, version)))
}

proptest! {
    /// A valid body walks to exactly its last byte (so each schema is the real layout,
    /// not merely a lenient one), and the whole frame decodes back to the same request.
    #[test]
    fn valid_requests_pass_and_round_trip(seed in any::<u64>()) {
        let mut gen = Gen(seed);
        for (api_key, version) in supported_versions() {
            let request = valid_request(&mut gen, api_key, version);
            let body = encode_body(&request, version);
            prop_assert_eq!(
                walk_body(api_key, version, &body),
                Ok(body.len()),
                "{:?} v{} {:?}", api_key, version, request
            );
            let decoded = decode_request(frame(api_key, version, &request))
                .unwrap_or_else(|e| panic!("{api_key:?} v{version}: {e}"));
            prop_assert_eq!(decoded.body, request, "{:?} v{}", api_key, version);
        }
    }

    /// Every valid body cut short is refused, and so is its frame.
    #[test]
    fn truncated_requests_are_refused(seed in any::<u64>()) {
        let mut gen = Gen(seed);
        for (api_key, version) in supported_versions() {
            let request = valid_request(&mut gen, api_key, version);
            let body = encode_body(&request, version);
            for length in 0..body.len() {
                prop_assert!(
                    check_request_body(api_key, version, &body[..length]).is_err(),
                    "{:?} v{} cut to {} of {} bytes", api_key, version, length, body.len()
                );
            }
            let frame = frame(api_key, version, &request);
            let header_length = frame.len() - body.len();
            for length in header_length..frame.len() {
                prop_assert!(
                    matches!(
                        decode_request(frame.slice(..length)),
                        Err(DecodeError::Malformed(_))
                    ),
                    "{:?} v{} frame cut to {}", api_key, version, length
                );
            }
        }
    }
}

proptest! {
    /// Valid requests of every api and version with a few bytes overwritten by anything:
    /// whatever `decode_request` makes of them, it returns (an abort would end the run).
    #[test]
    fn damaged_requests_never_abort(
        seed in any::<u64>(),
        pick in any::<usize>(),
        damage in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let (api_key, version) = supported_versions().nth(pick % supported_versions().count()).unwrap();
        let request = valid_request(&mut Gen(seed), api_key, version);
        let mut frame = frame(api_key, version, &request).to_vec();
        for (position, byte) in damage {
            let at = position % frame.len();
            frame[at] = byte;
        }
        let _ = decode_request(Bytes::from(frame));
    }
}

fn refusal(api_key: ApiKey, version: i16, body: &[u8]) -> std::string::String {
    match check_request_body(api_key, version, body) {
        Err(error) => error,
        Ok(()) => panic!("{api_key:?} v{version} {body:02x?} passed"),
    }
}

#[test]
fn huge_array_counts_are_refused() {
    // Produce v8: null transactional id, acks, timeout, then i32::MAX topics.
    let mut body = vec![0xff, 0xff, 0, 1, 0, 0, 0, 100];
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    let error = refusal(ApiKey::Produce, 8, &body);
    assert!(error.contains("topic_data"), "{error}");
    // Produce v9, compact: varint u32::MAX, i.e. u32::MAX - 1 topics.
    let mut body = vec![0, 0, 1, 0, 0, 0, 100];
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
    refusal(ApiKey::Produce, 9, &body);
    // DeleteTopics v1: 3 names need at least 6 bytes; 5 remain.
    let mut body = 3i32.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 0, 0, 0, 0]);
    let error = refusal(ApiKey::DeleteTopics, 1, &body);
    assert!(error.contains("needs at least 2 bytes each"), "{error}");
    // A nested array: one Fetch v4 topic ("t") claiming 2^20 partitions.
    let mut body = BytesMut::new();
    body.put_slice(&[0; 17]); // replica id .. isolation level
    body.put_i32(1);
    body.put_i16(1);
    body.put_u8(b't');
    body.put_i32(1 << 20);
    body.put_slice(&[0; 64]);
    let error = refusal(ApiKey::Fetch, 4, &body);
    assert!(error.contains("topics: [0]: partitions"), "{error}");
}

#[test]
fn nulls_are_refused_where_not_nullable() {
    // Metadata: a null topic list means "all topics" from v1; v0 has no null.
    let all_topics = (-1i32).to_be_bytes();
    assert_eq!(check_request_body(ApiKey::Metadata, 1, &all_topics), Ok(()));
    refusal(ApiKey::Metadata, 0, &all_topics);
    // Lengths below -1 are never valid.
    refusal(ApiKey::Metadata, 1, &(-2i32).to_be_bytes());
    // Produce v3 with a null topic_data.
    let mut body = vec![0xff, 0xff, 0, 1, 0, 0, 0, 100];
    body.extend_from_slice(&(-1i32).to_be_bytes());
    let error = refusal(ApiKey::Produce, 3, &body);
    assert!(error.contains("not nullable"), "{error}");
    // A DeleteTopics v4 topic name that is null (compact length 0).
    let error = refusal(ApiKey::DeleteTopics, 4, &[2, 0, 0, 0, 0, 0, 0]);
    assert!(error.contains("topic_names: [0]"), "{error}");
}

/// ApiVersions v3 with two empty strings, then `tagged`.
fn api_versions_v3(tagged: &[u8]) -> Vec<u8> {
    let mut body = vec![1, 1];
    body.extend_from_slice(tagged);
    body
}

#[test]
fn tagged_field_sections_must_be_well_formed() {
    let check = |body: &[u8]| check_request_body(ApiKey::ApiVersions, 3, body);
    // One unknown tag of three bytes is skipped by its size.
    assert_eq!(check(&api_versions_v3(&[1, 7, 3, 9, 9, 9])), Ok(()));
    // Its size runs past the body.
    assert!(check(&api_versions_v3(&[1, 7, 4, 9, 9, 9])).is_err());
    // More tagged fields than the bytes left could hold.
    assert!(check(&api_versions_v3(&[0xff, 0xff, 0xff, 0xff, 0x0f])).is_err());
    // A varint of six bytes, and one overflowing 32 bits.
    assert!(check(&api_versions_v3(&[0x80, 0x80, 0x80, 0x80, 0x80, 0])).is_err());
    assert!(check(&api_versions_v3(&[0x80, 0x80, 0x80, 0x80, 0x10])).is_err());
    // The section is missing altogether.
    assert!(check(&api_versions_v3(&[])).is_err());
}

/// Fetch v12 with no topics, then a tagged section holding cluster_id (tag 0), whose
/// declared size is `size` and whose value is a compact string of `text`.
fn fetch_v12_with_cluster_id(size: u8, text: &[u8]) -> Vec<u8> {
    let mut body = vec![0; 25]; // replica id .. session epoch
    body.extend_from_slice(&[1, 1, 1]); // no topics, no forgotten topics, empty rack id
    body.extend_from_slice(&[1, 0, size, text.len() as u8 + 1]);
    body.extend_from_slice(text);
    body
}

#[test]
fn known_tagged_fields_must_fill_their_size() {
    let check = |body: &[u8]| check_request_body(ApiKey::Fetch, 12, body);
    assert_eq!(check(&fetch_v12_with_cluster_id(3, b"ab")), Ok(()));
    // The crate reads the string, not the size: a mismatch would desynchronise it.
    assert!(check(&fetch_v12_with_cluster_id(2, b"ab")).is_err());
    let mut longer = fetch_v12_with_cluster_id(4, b"ab");
    longer.push(0);
    assert!(check(&longer).is_err());
    // A cluster id claiming more bytes than its tagged field holds.
    assert!(check(&fetch_v12_with_cluster_id(1, &[])).is_ok());
    let mut lying = fetch_v12_with_cluster_id(1, &[]);
    *lying.last_mut().unwrap() = 0x7f;
    assert!(check(&lying).is_err());
}

#[test]
fn group_requests_refuse_impossible_lengths_and_misplaced_nulls() {
    // OffsetFetch v1: group "g", then a null topic list, which only v2 and later allow.
    let mut body = vec![0, 1, b'g'];
    body.extend_from_slice(&(-1i32).to_be_bytes());
    let error = refusal(ApiKey::OffsetFetch, 1, &body);
    assert!(error.contains("topics: null"), "{error}");
    assert_eq!(check_request_body(ApiKey::OffsetFetch, 2, &body), Ok(()));
    // OffsetFetch v8: one group "g" whose topic list is null (compact length 0), then
    // require_stable and the tagged sections; a v9 group also has a member id and epoch.
    let v8 = [2, 2, b'g', 0, 0, 0, 0];
    assert_eq!(check_request_body(ApiKey::OffsetFetch, 8, &v8), Ok(()));
    refusal(ApiKey::OffsetFetch, 9, &v8);
    // JoinGroup v5 claiming 2^20 protocols in a short body.
    let mut body = vec![0, 1, b'g', 0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0xff, 0xff, 0, 0];
    body.extend_from_slice(&(1i32 << 20).to_be_bytes());
    body.extend_from_slice(&[0; 32]);
    let error = refusal(ApiKey::JoinGroup, 5, &body);
    assert!(error.contains("protocols: array of 1048576"), "{error}");
    // LeaveGroup v3 with one member whose member id is null: only its instance id may be.
    let mut body = vec![0, 1, b'g', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
    let error = refusal(ApiKey::LeaveGroup, 3, &body);
    assert!(error.contains("members: [0]: member_id"), "{error}");
    body[7..9].copy_from_slice(&[0, 0]);
    assert_eq!(check_request_body(ApiKey::LeaveGroup, 3, &body), Ok(()));
}
