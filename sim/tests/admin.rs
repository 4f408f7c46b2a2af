//! Kafka's admin surface (issue 11, item 3), request by request against simulated brokers:
//! DescribeCluster, ListOffsets v7+ (MAX_TIMESTAMP and the tiered-storage timestamps),
//! DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, DeleteRecords and
//! CreatePartitions. Each test checks the happy path
//! a client relies on and the error codes Kafka answers malformed or out-of-range input with,
//! and, for config changes, that they take effect on the partitions at once and survive a
//! restart.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    alter_configs_request, incremental_alter_configs_request, AlterConfigsRequest, ApiKey,
    DescribeClusterRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest,
    ListOffsetsRequest, ProduceRequest, ResponseKind,
};
use kafkasim::client::Admin;
use kafkasim::protocol::ErrorCode;
use kafkasim::server::{BrokerConfig, TopicAssignment};
use kafkasim::storage::testing::{encode_batch, TestRecord};
use kafkasim_sim::cluster::broker_addr;
use kafkasim_sim::cluster::clock::EPOCH_MS;
use madsim::runtime::Handle;

mod support;
use support::*;

/// Kafka's `ConfigResource.Type` values.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// Kafka's `ConfigSource` values.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;
/// Kafka's `AlterConfigOp.OpType` values.
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;

/// `n` brokers that all know one another. Topic "t" (2 partitions) lives on broker 1; with
/// two brokers or more, topic "r" has one partition replicated on brokers 1 and 2 (1 leads).
fn cluster(n: i32) -> Vec<BrokerConfig> {
    let mut configs: Vec<BrokerConfig> = (1..=n)
        .map(|id| BrokerConfig::single(id, broker_addr(id)))
        .collect();
    let brokers: Vec<_> = configs.iter().flat_map(|c| c.brokers.clone()).collect();
    let mut topics = vec![TopicAssignment {
        name: "t".into(),
        replicas: vec![vec![1], vec![1]],
        configs: Default::default(),
    }];
    if n >= 2 {
        topics.push(TopicAssignment {
            name: "r".into(),
            replicas: vec![vec![1, 2]],
            configs: Default::default(),
        });
    }
    for config in &mut configs {
        config.brokers = brokers.clone();
        config.topics = topics.clone();
        config
            .configs
            .insert("log.retention.bytes".into(), "1000000".into());
        config
            .configs
            .insert("replica.lag.time.max.ms".into(), "500".into());
    }
    configs
}

// ---------------------------------------------------------------------------------------
// DescribeCluster.

async fn describe_cluster(
    addr: SocketAddr,
    version: i16,
    request: DescribeClusterRequest,
) -> kafka_protocol::messages::DescribeClusterResponse {
    match send_request(addr, ApiKey::DescribeCluster, version, request.into()).await {
        ResponseKind::DescribeCluster(response) => response,
        other => panic!("not a DescribeCluster response: {other:?}"),
    }
}

#[test]
fn describe_cluster_names_the_cluster_and_its_brokers() {
    simulate_cluster(cluster(3), |addrs, _| async move {
        for version in 0..=2 {
            let response = describe_cluster(addrs[1], version, Default::default()).await;
            assert_eq!(response.error_code, ErrorCode::NONE, "v{version}");
            assert_eq!(response.cluster_id.as_str(), "kafkasim");
            // The same stand-in Metadata reports: the lowest broker id.
            assert_eq!(response.controller_id.0, 1);
            let brokers: Vec<(i32, String, i32)> = response
                .brokers
                .iter()
                .map(|b| (b.broker_id.0, b.host.to_string(), b.port))
                .collect();
            let expected: Vec<(i32, String, i32)> = (1..=3)
                .map(|id| {
                    let addr = broker_addr(id);
                    (id, addr.ip().to_string(), addr.port() as i32)
                })
                .collect();
            assert_eq!(brokers, expected, "v{version}");
            assert!(response.brokers.iter().all(|b| !b.is_fenced));
            // Not asked for: the schema's default, Integer.MIN_VALUE.
            assert_eq!(response.cluster_authorized_operations, i32::MIN);
            if version >= 1 {
                assert_eq!(response.endpoint_type, 1);
            }
        }
        let mut asking = DescribeClusterRequest::default();
        asking.include_cluster_authorized_operations = true;
        let response = describe_cluster(addrs[0], 1, asking).await;
        // No authorizer: every cluster operation Kafka defines (ALTER, ALTER_CONFIGS,
        // CLUSTER_ACTION, CREATE, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE).
        assert_eq!(response.cluster_authorized_operations, 8096);
    });
}

#[test]
fn describe_cluster_refuses_other_endpoint_types() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let addr = addrs[0];
        for (endpoint_type, expected) in [
            (2, ErrorCode::MISMATCHED_ENDPOINT_TYPE),
            (0, ErrorCode::UNSUPPORTED_ENDPOINT_TYPE),
            (3, ErrorCode::UNSUPPORTED_ENDPOINT_TYPE),
            (-1, ErrorCode::UNSUPPORTED_ENDPOINT_TYPE),
        ] {
            for version in 1..=2 {
                let mut request = DescribeClusterRequest::default();
                request.endpoint_type = endpoint_type;
                let response = describe_cluster(addr, version, request).await;
                assert_eq!(
                    response.error_code, expected,
                    "endpoint type {endpoint_type} v{version}"
                );
                assert!(response.error_message.is_some());
                assert!(response.brokers.is_empty());
            }
        }
        assert_eq!(ErrorCode::MISMATCHED_ENDPOINT_TYPE.code(), 114);
        assert_eq!(ErrorCode::UNSUPPORTED_ENDPOINT_TYPE.code(), 115);
    });
}

// ---------------------------------------------------------------------------------------
// ListOffsets v7+.

/// Produce one batch of records at `base_timestamp` plus each delta to `topic`-`partition`.
async fn produce(addr: SocketAddr, topic: &str, partition: i32, timestamps: &[i64]) -> ErrorCode {
    let base = timestamps[0];
    let records: Vec<TestRecord> = timestamps
        .iter()
        .map(|ts| {
            let mut record = TestRecord::value(b"v");
            record.timestamp_delta = ts - base;
            record
        })
        .collect();
    let batch = encode_batch(0, -1, base, &records);
    produce_batch(addr, topic, partition, batch, -1, 5_000).await
}

/// Produce one encoded batch with these acks and timeout; the partition's error code.
async fn produce_batch(
    addr: SocketAddr,
    topic: &str,
    partition: i32,
    batch: Vec<u8>,
    acks: i16,
    timeout_ms: i32,
) -> ErrorCode {
    let mut data = PartitionProduceData::default();
    data.index = partition;
    data.records = Some(Bytes::from(batch));
    let mut topic_data = TopicProduceData::default();
    topic_data.name = topic_name(topic);
    topic_data.partition_data = vec![data];
    let mut request = ProduceRequest::default();
    request.acks = acks;
    request.timeout_ms = timeout_ms;
    request.topic_data = vec![topic_data];
    match send_request(addr, ApiKey::Produce, 8, request.into()).await {
        ResponseKind::Produce(response) => {
            ErrorCode::from_wire(response.responses[0].partition_responses[0].error_code)
        }
        other => panic!("not a Produce response: {other:?}"),
    }
}

/// ListOffsets at `version` for one partition: (error code, offset, timestamp, leader epoch).
async fn list_offset(
    addr: SocketAddr,
    version: i16,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> (ErrorCode, i64, i64, i32) {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = topic_name(topic);
    t.partitions = vec![p];
    let mut request = ListOffsetsRequest::default();
    request.replica_id = kafka_protocol::messages::BrokerId(-1);
    request.topics = vec![t];
    if version >= 10 {
        request.timeout_ms = 1_000;
    }
    match send_request(addr, ApiKey::ListOffsets, version, request.into()).await {
        ResponseKind::ListOffsets(response) => {
            let p = &response.topics[0].partitions[0];
            (
                ErrorCode::from_wire(p.error_code),
                p.offset,
                p.timestamp,
                p.leader_epoch,
            )
        }
        other => panic!("not a ListOffsets response: {other:?}"),
    }
}

#[test]
fn list_offsets_max_timestamp_earliest_local_and_latest_tiered() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let addr = addrs[0];
        // Nothing written yet: no record holds a timestamp.
        let empty = list_offset(addr, 7, "t", 0, -3).await;
        assert_eq!((empty.0, empty.1, empty.2), (ErrorCode::NONE, -1, -1));
        // Offsets 0-1, 2-4 (the largest timestamp, 2100, inside the batch at 3), 5.
        for timestamps in [&[1_000, 1_050][..], &[2_000, 2_100, 2_020], &[1_500]] {
            assert_eq!(produce(addr, "t", 0, timestamps).await, ErrorCode::NONE);
        }
        for version in 7..=10 {
            let (code, offset, timestamp, epoch) = list_offset(addr, version, "t", 0, -3).await;
            assert_eq!(code, ErrorCode::NONE, "v{version}");
            assert_eq!((offset, timestamp), (3, 2_100), "MAX_TIMESTAMP v{version}");
            assert_eq!(epoch, 0);
        }
        // Ties go to the first record holding the largest timestamp.
        assert_eq!(produce(addr, "t", 0, &[2_100]).await, ErrorCode::NONE);
        assert_eq!(list_offset(addr, 7, "t", 0, -3).await.1, 3);
        for version in 8..=10 {
            let earliest_local = list_offset(addr, version, "t", 0, -4).await;
            assert_eq!(
                (earliest_local.0, earliest_local.1),
                (ErrorCode::NONE, 0),
                "EARLIEST_LOCAL v{version}"
            );
        }
        for version in 9..=10 {
            // Nothing is tiered: Kafka answers -1 with no leader epoch.
            let tiered = list_offset(addr, version, "t", 0, -5).await;
            assert_eq!(
                tiered,
                (ErrorCode::NONE, -1, -1, -1),
                "LATEST_TIERED v{version}"
            );
        }
        // The older timestamps are unchanged at the new versions.
        assert_eq!(list_offset(addr, 10, "t", 0, -1).await.1, 7);
        assert_eq!(list_offset(addr, 10, "t", 0, -2).await.1, 0);
        assert_eq!(list_offset(addr, 10, "t", 0, 2_050).await.1, 3);
        // And the usual codes for partitions that are not there.
        assert_eq!(
            list_offset(addr, 8, "t", 5, -3).await.0,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        );
        assert_eq!(
            list_offset(addr, 8, "nope", 0, -4).await.0,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        );
    });
}

// ---------------------------------------------------------------------------------------
// DescribeConfigs.

fn describe_request(
    resources: &[(i8, &str, Option<&[&str]>)],
    include_synonyms: bool,
) -> DescribeConfigsRequest {
    let mut request = DescribeConfigsRequest::default();
    request.include_synonyms = include_synonyms;
    request.resources = resources
        .iter()
        .map(|(resource_type, name, keys)| {
            let mut resource = DescribeConfigsResource::default();
            resource.resource_type = *resource_type;
            resource.resource_name = str_bytes(name);
            resource.configuration_keys =
                keys.map(|keys| keys.iter().map(|k| str_bytes(k)).collect());
            resource
        })
        .collect();
    request
}

async fn describe_configs(
    addr: SocketAddr,
    version: i16,
    request: DescribeConfigsRequest,
) -> Vec<DescribeConfigsResult> {
    match send_request(addr, ApiKey::DescribeConfigs, version, request.into()).await {
        ResponseKind::DescribeConfigs(response) => response.results,
        other => panic!("not a DescribeConfigs response: {other:?}"),
    }
}

/// A topic config's (value, source) as DescribeConfigs v4 reports it.
async fn topic_config(addr: SocketAddr, topic: &str, key: &str) -> (String, i8) {
    let results = describe_configs(
        addr,
        4,
        describe_request(&[(TOPIC, topic, Some(&[key]))], false),
    )
    .await;
    assert_eq!(results[0].error_code, ErrorCode::NONE, "{topic} {key}");
    let config = &results[0].configs[0];
    let value = config
        .value
        .as_ref()
        .map(|v| v.to_string())
        .unwrap_or_default();
    (value, config.config_source)
}

#[test]
fn describe_configs_reports_values_sources_and_synonyms() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let addr = addrs[0];
        for version in 1..=4 {
            let results =
                describe_configs(addr, version, describe_request(&[(TOPIC, "t", None)], true))
                    .await;
            assert_eq!(results.len(), 1);
            let result = &results[0];
            assert_eq!(result.error_code, ErrorCode::NONE, "v{version}");
            assert_eq!(
                (result.resource_type, result.resource_name.as_str()),
                (TOPIC, "t")
            );
            let names: Vec<&str> = result.configs.iter().map(|c| c.name.as_str()).collect();
            for key in [
                "retention.ms",
                "min.insync.replicas",
                "max.message.bytes",
                "cleanup.policy",
            ] {
                assert!(
                    names.contains(&key),
                    "v{version}: {key} missing from {names:?}"
                );
            }
            let get = |name: &str| {
                result
                    .configs
                    .iter()
                    .find(|c| c.name.as_str() == name)
                    .unwrap()
            };
            let retention = get("retention.ms");
            assert_eq!(retention.value.as_deref(), Some("604800000"));
            assert_eq!(retention.config_source, DEFAULT_CONFIG);
            assert!(!retention.read_only && !retention.is_sensitive);
            // Set in the broker's file for every topic.
            let retention_bytes = get("retention.bytes");
            assert_eq!(retention_bytes.value.as_deref(), Some("1000000"));
            assert_eq!(retention_bytes.config_source, STATIC_BROKER_CONFIG);
            let synonyms: Vec<(&str, i8)> = retention_bytes
                .synonyms
                .iter()
                .map(|s| (s.name.as_str(), s.source))
                .collect();
            assert_eq!(
                synonyms,
                [
                    ("log.retention.bytes", STATIC_BROKER_CONFIG),
                    ("log.retention.bytes", DEFAULT_CONFIG)
                ]
            );
            // Config types arrive with v3: LONG is 5.
            assert_eq!(retention.config_type, if version >= 3 { 5 } else { 0 });
        }
        // Without include_synonyms none are listed; configuration_keys filters.
        let results = describe_configs(
            addr,
            4,
            describe_request(
                &[(TOPIC, "t", Some(&["segment.bytes", "no.such.key"]))],
                false,
            ),
        )
        .await;
        let configs = &results[0].configs;
        assert_eq!(configs.len(), 1);
        // An empty list asks for everything, as null does.
        let all =
            describe_configs(addr, 4, describe_request(&[(TOPIC, "t", Some(&[]))], false)).await;
        assert_eq!(all[0].configs.len(), 14);
        assert_eq!(configs[0].name.as_str(), "segment.bytes");
        assert!(configs[0].synonyms.is_empty());

        // The broker's own configs: node.id among them; only the topic defaults (under their
        // broker names) can be changed while it runs.
        let results =
            describe_configs(addr, 4, describe_request(&[(BROKER, "1", None)], false)).await;
        assert_eq!(results[0].error_code, ErrorCode::NONE);
        let writable: Vec<&str> = results[0]
            .configs
            .iter()
            .filter(|c| !c.read_only)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            writable,
            [
                "compression.type",
                "log.cleaner.delete.retention.ms",
                "log.cleaner.min.cleanable.ratio",
                "log.cleaner.min.compaction.lag.ms",
                "log.cleanup.policy",
                "log.flush.interval.messages",
                "log.flush.interval.ms",
                "log.index.interval.bytes",
                "log.retention.bytes",
                "log.retention.ms",
                "log.roll.ms",
                "log.segment.bytes",
                "message.max.bytes",
                "min.insync.replicas",
            ]
        );
        let node = results[0]
            .configs
            .iter()
            .find(|c| c.name.as_str() == "node.id")
            .unwrap();
        assert_eq!(node.value.as_deref(), Some("1"));
        let lag = results[0]
            .configs
            .iter()
            .find(|c| c.name.as_str() == "replica.lag.time.max.ms")
            .unwrap();
        assert_eq!(
            (lag.value.as_deref(), lag.config_source),
            (Some("500"), STATIC_BROKER_CONFIG)
        );
        // The cluster-wide default resource: kafkasim has no dynamic defaults.
        let results =
            describe_configs(addr, 4, describe_request(&[(BROKER, "", None)], false)).await;
        assert_eq!(results[0].error_code, ErrorCode::NONE);
        assert!(results[0].configs.is_empty());
    });
}

#[test]
fn describe_configs_errors_are_per_resource() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let results = describe_configs(
            addrs[0],
            4,
            describe_request(
                &[
                    (TOPIC, "nope", None),
                    (TOPIC, "bad$#!name", None),
                    (TOPIC, "", None),
                    (BROKER, "2", None),
                    (BROKER, "one", None),
                    (8, "1", None),
                    (99, "t", None),
                    (TOPIC, "t", Some(&["retention.ms"])),
                ],
                false,
            ),
        )
        .await;
        let codes: Vec<ErrorCode> = results
            .iter()
            .map(|r| ErrorCode::from_wire(r.error_code))
            .collect();
        assert_eq!(
            codes,
            [
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                ErrorCode::INVALID_REQUEST,
                ErrorCode::INVALID_REQUEST,
                ErrorCode::INVALID_REQUEST,
                ErrorCode::INVALID_REQUEST,
                ErrorCode::NONE,
            ]
        );
        for result in &results[..7] {
            assert!(result.error_message.is_some() && result.configs.is_empty());
        }
        assert_eq!(
            results[3].error_message.as_deref(),
            Some("Unexpected broker id, expected 1 or empty string, but received 2")
        );
    });
}

// ---------------------------------------------------------------------------------------
// AlterConfigs and IncrementalAlterConfigs.

/// IncrementalAlterConfigs v1 of one resource: (name, operation, value) per config.
fn incremental(
    resource_type: i8,
    name: &str,
    configs: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    let mut resource = incremental_alter_configs_request::AlterConfigsResource::default();
    resource.resource_type = resource_type;
    resource.resource_name = str_bytes(name);
    resource.configs = configs
        .iter()
        .map(|(key, operation, value)| {
            let mut config = incremental_alter_configs_request::AlterableConfig::default();
            config.name = str_bytes(key);
            config.config_operation = *operation;
            config.value = value.map(str_bytes);
            config
        })
        .collect();
    let mut request = IncrementalAlterConfigsRequest::default();
    request.resources = vec![resource];
    request.validate_only = validate_only;
    request
}

/// The (code, message) of each resource in an IncrementalAlterConfigs response.
async fn incremental_alter(
    addr: SocketAddr,
    version: i16,
    request: IncrementalAlterConfigsRequest,
) -> Vec<(ErrorCode, Option<String>)> {
    match send_request(
        addr,
        ApiKey::IncrementalAlterConfigs,
        version,
        request.into(),
    )
    .await
    {
        ResponseKind::IncrementalAlterConfigs(response) => response
            .responses
            .iter()
            .map(|r| {
                let message = r.error_message.as_ref().map(|m| m.to_string());
                (ErrorCode::from_wire(r.error_code), message)
            })
            .collect(),
        other => panic!("not an IncrementalAlterConfigs response: {other:?}"),
    }
}

/// AlterConfigs of one resource to exactly these configs.
async fn legacy_alter(
    addr: SocketAddr,
    version: i16,
    resource_type: i8,
    name: &str,
    configs: &[(&str, &str)],
) -> ErrorCode {
    let mut resource = alter_configs_request::AlterConfigsResource::default();
    resource.resource_type = resource_type;
    resource.resource_name = str_bytes(name);
    resource.configs = configs
        .iter()
        .map(|(key, value)| {
            let mut config = alter_configs_request::AlterableConfig::default();
            config.name = str_bytes(key);
            config.value = Some(str_bytes(value));
            config
        })
        .collect();
    let mut request = AlterConfigsRequest::default();
    request.resources = vec![resource];
    match send_request(addr, ApiKey::AlterConfigs, version, request.into()).await {
        ResponseKind::AlterConfigs(response) => {
            ErrorCode::from_wire(response.responses[0].error_code)
        }
        other => panic!("not an AlterConfigs response: {other:?}"),
    }
}

/// A config change reaches the partitions at once: `max.message.bytes` refuses the next
/// produce, `retention.ms` deletes old segments at the next housekeeping tick. DELETE brings
/// the default back; validate_only changes nothing; AlterConfigs replaces the whole set.
#[test]
fn config_changes_take_effect_on_the_partitions_at_once() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let addr = addrs[0];
        assert_eq!(produce(addr, "t", 0, &[EPOCH_MS]).await, ErrorCode::NONE);
        let small = incremental(TOPIC, "t", &[("max.message.bytes", SET, Some("20"))], false);
        // validate_only: accepted, and nothing changes.
        let mut checking = small.clone();
        checking.validate_only = true;
        assert_eq!(
            incremental_alter(addr, 1, checking).await,
            [(ErrorCode::NONE, None)]
        );
        assert_eq!(produce(addr, "t", 0, &[EPOCH_MS]).await, ErrorCode::NONE);
        assert_eq!(
            topic_config(addr, "t", "max.message.bytes").await,
            ("1048588".to_string(), DEFAULT_CONFIG)
        );
        for version in 0..=1 {
            assert_eq!(
                incremental_alter(addr, version, small.clone()).await,
                [(ErrorCode::NONE, None)]
            );
        }
        assert_eq!(
            produce(addr, "t", 1, &[EPOCH_MS]).await,
            ErrorCode::MESSAGE_TOO_LARGE
        );
        assert_eq!(
            topic_config(addr, "t", "max.message.bytes").await,
            ("20".to_string(), DYNAMIC_TOPIC_CONFIG)
        );
        let back = incremental(TOPIC, "t", &[("max.message.bytes", DELETE, None)], false);
        assert_eq!(
            incremental_alter(addr, 1, back).await,
            [(ErrorCode::NONE, None)]
        );
        assert_eq!(produce(addr, "t", 1, &[EPOCH_MS]).await, ErrorCode::NONE);
        assert_eq!(
            topic_config(addr, "t", "max.message.bytes").await.1,
            DEFAULT_CONFIG
        );

        // Small segments, kept forever: four more batches, several segments, nothing deleted.
        for version in 0..=2 {
            let code = legacy_alter(
                addr,
                version,
                TOPIC,
                "t",
                &[("segment.bytes", "100"), ("retention.ms", "-1")],
            )
            .await;
            assert_eq!(code, ErrorCode::NONE, "AlterConfigs v{version}");
        }
        for _ in 0..4 {
            assert_eq!(produce(addr, "t", 0, &[EPOCH_MS]).await, ErrorCode::NONE);
        }
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(list_offset(addr, 6, "t", 0, -2).await.1, 0);
        // The batches are about a second old now: a 500 ms retention deletes every segment
        // but the active one at the next tick.
        let expire = incremental(TOPIC, "t", &[("retention.ms", SET, Some("500"))], false);
        assert_eq!(
            incremental_alter(addr, 1, expire).await,
            [(ErrorCode::NONE, None)]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let earliest = list_offset(addr, 6, "t", 0, -2).await.1;
        let latest = list_offset(addr, 6, "t", 0, -1).await.1;
        assert!(
            earliest > 0 && earliest < latest,
            "log start {earliest}, end {latest}"
        );

        // AlterConfigs replaces the set: what it leaves out goes back to the default.
        let code = legacy_alter(addr, 1, TOPIC, "t", &[("flush.messages", "1")]).await;
        assert_eq!(code, ErrorCode::NONE);
        assert_eq!(
            topic_config(addr, "t", "retention.ms").await.1,
            DEFAULT_CONFIG
        );
        assert_eq!(
            topic_config(addr, "t", "flush.messages").await,
            ("1".to_string(), DYNAMIC_TOPIC_CONFIG)
        );
    });
}

/// `min.insync.replicas` raised on a partition whose follower is gone: the leader refuses
/// acks=all writes at once with NOT_ENOUGH_REPLICAS, and accepts them again when lowered.
#[test]
fn min_insync_replicas_change_reaches_the_leader() {
    simulate_cluster(cluster(2), |addrs, _| async move {
        let leader = addrs[0];
        assert_eq!(produce(leader, "r", 0, &[EPOCH_MS]).await, ErrorCode::NONE);
        Handle::current().kill(broker_node(2));
        // replica.lag.time.max.ms is 500: the leader is alone in the ISR after it.
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        assert_eq!(produce(leader, "r", 0, &[EPOCH_MS]).await, ErrorCode::NONE);
        let two = incremental(
            TOPIC,
            "r",
            &[("min.insync.replicas", SET, Some("2"))],
            false,
        );
        assert_eq!(
            incremental_alter(leader, 1, two).await,
            [(ErrorCode::NONE, None)]
        );
        assert_eq!(
            produce(leader, "r", 0, &[EPOCH_MS]).await,
            ErrorCode::NOT_ENOUGH_REPLICAS
        );
        let one = incremental(TOPIC, "r", &[("min.insync.replicas", DELETE, None)], false);
        assert_eq!(
            incremental_alter(leader, 1, one).await,
            [(ErrorCode::NONE, None)]
        );
        assert_eq!(produce(leader, "r", 0, &[EPOCH_MS]).await, ErrorCode::NONE);
    });
}

/// Altered configs are persisted: after a restart the broker describes them and its
/// partitions run with them, for a topic of the static map and one created at run time. A
/// topic deleted and created again starts from its own configs.
#[test]
fn altered_configs_survive_a_restart() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let addr = addrs[0];
        let mut admin = Admin::new(vec![addr], Duration::from_secs(5));
        admin
            .create_topic("created", 1, 1, &[])
            .await
            .expect("create");
        admin
            .create_topic("again", 1, 1, &[])
            .await
            .expect("create");
        for topic in ["t", "created", "again"] {
            let change = incremental(
                TOPIC,
                topic,
                &[
                    ("max.message.bytes", SET, Some("20")),
                    ("cleanup.policy", APPEND, Some("delete")),
                ],
                false,
            );
            assert_eq!(
                incremental_alter(addr, 1, change).await,
                [(ErrorCode::NONE, None)]
            );
        }
        admin.delete_topic("again").await.expect("delete");
        admin
            .create_topic("again", 1, 1, &[])
            .await
            .expect("create again");
        restart_broker(1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        for topic in ["t", "created"] {
            assert_eq!(
                topic_config(addr, topic, "max.message.bytes").await,
                ("20".to_string(), DYNAMIC_TOPIC_CONFIG),
                "{topic}"
            );
            assert_eq!(
                produce(addr, topic, 0, &[EPOCH_MS]).await,
                ErrorCode::MESSAGE_TOO_LARGE,
                "{topic}"
            );
        }
        assert_eq!(
            topic_config(addr, "again", "max.message.bytes").await.1,
            DEFAULT_CONFIG
        );
        assert_eq!(
            produce(addr, "again", 0, &[EPOCH_MS]).await,
            ErrorCode::NONE
        );
    });
}

#[test]
fn alter_configs_errors_get_kafkas_codes() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let addr = addrs[0];
        let one = |resource_type, name: &str, configs: &[(&str, i8, Option<&str>)]| {
            incremental(resource_type, name, configs, false)
        };
        let set = |key: &'static str, value: &'static str| (key, SET, Some(value));
        let cases: Vec<(&str, IncrementalAlterConfigsRequest, ErrorCode, Option<&str>)> = vec![
            (
                "unknown key",
                one(TOPIC, "t", &[set("no.such.config", "1")]),
                ErrorCode::INVALID_CONFIG,
                Some("Unknown topic config name: no.such.config"),
            ),
            (
                "value below Kafka's bound",
                one(TOPIC, "t", &[set("min.insync.replicas", "0")]),
                ErrorCode::INVALID_CONFIG,
                Some("Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"),
            ),
            (
                "not a number",
                one(TOPIC, "t", &[set("retention.ms", "soon")]),
                ErrorCode::INVALID_CONFIG,
                None,
            ),
            (
                "append to a config that is not a list",
                one(TOPIC, "t", &[("retention.ms", APPEND, Some("1"))]),
                ErrorCode::INVALID_CONFIG,
                Some("Config value append is not allowed for config key: retention.ms"),
            ),
            (
                "unknown operation",
                one(TOPIC, "t", &[("retention.ms", 9, Some("1"))]),
                ErrorCode::INVALID_REQUEST,
                None,
            ),
            (
                "null value for SET",
                one(TOPIC, "t", &[("retention.ms", SET, None)]),
                ErrorCode::INVALID_REQUEST,
                Some("Null value not supported for : retention.ms"),
            ),
            (
                "the same key twice",
                one(TOPIC, "t", &[set("retention.ms", "1"), set("retention.ms", "2")]),
                ErrorCode::INVALID_REQUEST,
                Some("Error due to duplicate config keys"),
            ),
            (
                "missing topic",
                one(TOPIC, "nope", &[set("retention.ms", "1")]),
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                None,
            ),
            (
                "illegal topic name",
                one(TOPIC, "bad$#!name", &[set("retention.ms", "1")]),
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                None,
            ),
            (
                "the default topic resource",
                one(TOPIC, "", &[set("retention.ms", "1")]),
                ErrorCode::INVALID_REQUEST,
                Some("Default topic resources are not allowed."),
            ),
            (
                "a read-only broker config",
                one(BROKER, "1", &[set("replica.lag.time.max.ms", "1")]),
                ErrorCode::INVALID_REQUEST,
                Some("Invalid config value for resource ConfigResource(type=BROKER, name='1'): Cannot update these configs dynamically: Set(replica.lag.time.max.ms)"),
            ),
            (
                "a dynamic broker config with a bad value",
                one(BROKER, "", &[set("log.retention.ms", "-5")]),
                ErrorCode::INVALID_CONFIG,
                None,
            ),
            (
                "another broker",
                one(BROKER, "2", &[]),
                ErrorCode::INVALID_REQUEST,
                None,
            ),
            (
                "an unsupported resource type",
                one(99, "t", &[set("retention.ms", "1")]),
                ErrorCode::INVALID_REQUEST,
                None,
            ),
            ("an empty broker change", one(BROKER, "1", &[]), ErrorCode::NONE, None),
        ];
        for (what, request, code, message) in cases {
            let answer = incremental_alter(addr, 1, request).await;
            assert_eq!(answer.len(), 1, "{what}");
            assert_eq!(answer[0].0, code, "{what}: {:?}", answer[0].1);
            if code != ErrorCode::NONE {
                assert!(answer[0].1.is_some(), "{what}: no message");
            }
            if let Some(message) = message {
                assert_eq!(answer[0].1.as_deref(), Some(message), "{what}");
            }
        }
        // A resource named twice: both answered INVALID_REQUEST, the other one applied.
        let mut twice = incremental(TOPIC, "t", &[set("retention.ms", "1000")], false);
        let other = incremental(TOPIC, "t", &[set("flush.ms", "1000")], false).resources;
        twice.resources.extend(other);
        twice
            .resources
            .extend(incremental(BROKER, "1", &[], false).resources);
        let answer = incremental_alter(addr, 1, twice).await;
        let codes: Vec<ErrorCode> = answer.iter().map(|(code, _)| *code).collect();
        assert_eq!(
            codes,
            [
                ErrorCode::INVALID_REQUEST,
                ErrorCode::INVALID_REQUEST,
                ErrorCode::NONE
            ]
        );
        // Nothing of the refused requests took effect.
        let results =
            describe_configs(addr, 4, describe_request(&[(TOPIC, "t", None)], false)).await;
        assert!(results[0]
            .configs
            .iter()
            .all(|c| c.config_source != DYNAMIC_TOPIC_CONFIG));
        // AlterConfigs checks the same way.
        assert_eq!(
            legacy_alter(addr, 2, TOPIC, "t", &[("no.such.config", "1")]).await,
            ErrorCode::INVALID_CONFIG
        );
        assert_eq!(
            legacy_alter(addr, 2, TOPIC, "nope", &[("retention.ms", "1")]).await,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        );
        assert_eq!(
            legacy_alter(addr, 0, BROKER, "1", &[("replica.lag.time.max.ms", "1")]).await,
            ErrorCode::INVALID_REQUEST
        );
    });
}

// ---------------------------------------------------------------------------------------
// DeleteRecords.

/// DeleteRecords at `version`: (topic, partition, offset) each; answers (code, low watermark)
/// per partition, in request order.
async fn delete_records(
    addr: SocketAddr,
    version: i16,
    targets: &[(&str, i32, i64)],
) -> Vec<(ErrorCode, i64)> {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    let mut request = kafka_protocol::messages::DeleteRecordsRequest::default();
    request.timeout_ms = 5_000;
    for (topic, partition, offset) in targets {
        let mut p = DeleteRecordsPartition::default();
        p.partition_index = *partition;
        p.offset = *offset;
        let mut t = DeleteRecordsTopic::default();
        t.name = topic_name(topic);
        t.partitions = vec![p];
        request.topics.push(t);
    }
    request.timeout_ms = 5_000;
    delete_records_request(addr, version, request).await
}

async fn delete_records_request(
    addr: SocketAddr,
    version: i16,
    request: kafka_protocol::messages::DeleteRecordsRequest,
) -> Vec<(ErrorCode, i64)> {
    match send_request(addr, ApiKey::DeleteRecords, version, request.into()).await {
        ResponseKind::DeleteRecords(response) => response
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .map(|p| (ErrorCode::from_wire(p.error_code), p.low_watermark))
            .collect(),
        other => panic!("not a DeleteRecords response: {other:?}"),
    }
}

/// The log start moves and stays moved (across a restart); every refusal is Kafka's code
/// with low watermark -1.
#[test]
fn delete_records_moves_the_log_start() {
    simulate_cluster(cluster(2), |addrs, _| async move {
        let (leader, follower) = (addrs[0], addrs[1]);
        for timestamps in [[1_000, 1_001], [2_000, 2_001], [3_000, 3_001]] {
            assert_eq!(produce(leader, "t", 0, &timestamps).await, ErrorCode::NONE);
        }
        assert_eq!(produce(leader, "r", 0, &[EPOCH_MS]).await, ErrorCode::NONE);
        for version in 0..=2 {
            let answer = delete_records(leader, version, &[("t", 0, 3)]).await;
            assert_eq!(answer, [(ErrorCode::NONE, 3)], "v{version}");
        }
        assert_eq!(list_offset(leader, 6, "t", 0, -2).await.1, 3);
        // A timestamp before the new start answers the new start.
        assert_eq!(list_offset(leader, 6, "t", 0, 0).await.1, 3);
        let answer = delete_records(
            leader,
            2,
            &[
                ("t", 0, 1),
                ("t", 0, 7),
                ("t", 0, -2),
                ("t", 1, 0),
                ("t", 2, 0),
                ("nope", 0, 0),
                ("r", 0, -1),
            ],
        )
        .await;
        assert_eq!(
            answer,
            [
                (ErrorCode::NONE, 3),
                (ErrorCode::OFFSET_OUT_OF_RANGE, -1),
                (ErrorCode::OFFSET_OUT_OF_RANGE, -1),
                (ErrorCode::NONE, 0),
                (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1),
                (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1),
                (ErrorCode::NONE, 1),
            ]
        );
        // On broker 2: a follower of "r", and no replica of "t".
        let answer = delete_records(follower, 1, &[("r", 0, 0), ("t", 0, 0)]).await;
        assert_eq!(
            answer,
            [
                (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1),
                (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1),
            ]
        );
        assert_eq!(
            delete_records(leader, 0, &[("t", 0, -1)]).await,
            [(ErrorCode::NONE, 6)],
            "-1 deletes up to the high watermark"
        );
        restart_broker(1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(list_offset(leader, 6, "t", 0, -2).await.1, 6);
        assert_eq!(list_offset(leader, 6, "t", 0, -1).await.1, 6);
    });
}

/// One record to `topic`-`partition` with these acks; the partition's error code.
async fn produce_acks(addr: SocketAddr, topic: &str, partition: i32, acks: i16) -> ErrorCode {
    let batch = encode_batch(0, -1, EPOCH_MS, &[TestRecord::value(b"v")]);
    produce_batch(addr, topic, partition, batch, acks, 2_000).await
}

/// Dynamic broker configs (AlterConfigs on a BROKER resource): the cluster-wide default ("")
/// and this broker's own (its id) set the topic defaults at once for every topic without its
/// own override, are described with their sources (own 2, default 3, static 4), and survive
/// a restart. Before, every broker config was read-only.
#[test]
fn dynamic_broker_configs_take_effect_and_survive_a_restart() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let addr = addrs[0];
        let set = |key: &'static str, value: &'static str| (key, SET, Some(value));
        // t has no retention.ms override: it follows the broker's.
        let default = incremental(BROKER, "", &[set("log.retention.ms", "7200000")], false);
        assert_eq!(
            incremental_alter(addr, 1, default).await,
            [(ErrorCode::NONE, None)]
        );
        assert_eq!(
            topic_config(addr, "t", "retention.ms").await,
            ("7200000".to_string(), 3)
        );
        // This broker's own value wins over the cluster-wide default.
        let own = incremental(BROKER, "1", &[set("log.retention.ms", "3600000")], false);
        assert_eq!(
            incremental_alter(addr, 1, own).await,
            [(ErrorCode::NONE, None)]
        );
        assert_eq!(
            topic_config(addr, "t", "retention.ms").await,
            ("3600000".to_string(), 2)
        );
        // The default resource describes only its dynamic configs.
        let described =
            describe_configs(addr, 4, describe_request(&[(BROKER, "", None)], false)).await;
        let names: Vec<(&str, Option<&str>, i8)> = described[0]
            .configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_deref(), c.config_source))
            .collect();
        assert_eq!(names, [("log.retention.ms", Some("7200000"), 3)]);
        // The partitions run with it at once: a 20-byte message.max.bytes refuses any batch.
        assert_eq!(produce(addr, "t", 0, &[EPOCH_MS]).await, ErrorCode::NONE);
        let tiny = incremental(BROKER, "", &[set("message.max.bytes", "20")], false);
        assert_eq!(
            incremental_alter(addr, 1, tiny).await,
            [(ErrorCode::NONE, None)]
        );
        assert_eq!(
            produce(addr, "t", 0, &[EPOCH_MS]).await,
            ErrorCode::MESSAGE_TOO_LARGE
        );
        restart_broker(1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            topic_config(addr, "t", "retention.ms").await,
            ("3600000".to_string(), 2)
        );
        assert_eq!(
            produce(addr, "t", 0, &[EPOCH_MS]).await,
            ErrorCode::MESSAGE_TOO_LARGE
        );
        // DELETE takes it back: the topic's default again.
        let delete = incremental(BROKER, "", &[("message.max.bytes", DELETE, None)], false);
        assert_eq!(
            incremental_alter(addr, 1, delete).await,
            [(ErrorCode::NONE, None)]
        );
        assert_eq!(produce(addr, "t", 0, &[EPOCH_MS]).await, ErrorCode::NONE);
    });
}

/// As Kafka's DelayedDeleteRecords: the answer waits until the ISR follower's log start
/// (reported in its fetches) reached the new start, and answers that low watermark; a
/// follower that cannot report it in time makes it REQUEST_TIMED_OUT. Before, the leader
/// answered its own log start at once.
#[test]
fn delete_records_waits_for_the_isr_followers_log_start() {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    simulate_cluster(cluster(2), |addrs, _| async move {
        let leader = addrs[0];
        for _ in 0..3 {
            assert_eq!(produce_acks(leader, "r", 0, -1).await, ErrorCode::NONE);
        }
        assert_eq!(
            delete_records(leader, 2, &[("r", 0, 2)]).await,
            [(ErrorCode::NONE, 2)]
        );
        // The follower dies while in the ISR: nobody reports its log start any more.
        Handle::current().kill(broker_node(2));
        let mut p = DeleteRecordsPartition::default();
        p.partition_index = 0;
        p.offset = 3;
        let mut t = DeleteRecordsTopic::default();
        t.name = topic_name("r");
        t.partitions = vec![p];
        let mut request = kafka_protocol::messages::DeleteRecordsRequest::default();
        request.topics = vec![t];
        request.timeout_ms = 300;
        assert_eq!(
            delete_records_request(leader, 2, request).await,
            [(ErrorCode::REQUEST_TIMED_OUT, -1)]
        );
        // The leader's own log start moved all the same, as in Kafka.
        assert_eq!(list_offset(leader, 6, "r", 0, -2).await.1, 3);
    });
}

/// A follower that was down while DeleteRecords moved the leader's log start past its log
/// end fetches out of range when it comes back; it must empty its log, restart it at the
/// leader's log start (Kafka's truncateFullyAndStartAt) and rejoin the ISR. Before, it only
/// ever cut its log back, so it fetched out of range for good and acks=all with
/// min.insync.replicas=2 stayed NOT_ENOUGH_REPLICAS.
#[test]
fn a_follower_behind_the_leaders_log_start_restarts_there_and_rejoins() {
    simulate_cluster(cluster(2), |addrs, _| async move {
        let leader = addrs[0];
        assert_eq!(produce_acks(leader, "r", 0, -1).await, ErrorCode::NONE);
        Handle::current().kill(broker_node(2));
        for _ in 0..3 {
            assert_eq!(produce_acks(leader, "r", 0, 1).await, ErrorCode::NONE);
        }
        // The follower falls behind; replica.lag.time.max.ms is 500, so the ISR shrinks to
        // the leader alone and the high watermark reaches the log end.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            delete_records(leader, 2, &[("r", 0, -1)]).await,
            [(ErrorCode::NONE, 4)]
        );
        // From now on acks=all needs the follower back in the ISR.
        let min_isr = incremental(2, "r", &[("min.insync.replicas", SET, Some("2"))], false);
        let answer = incremental_alter(leader, 1, min_isr).await;
        assert_eq!(answer, [(ErrorCode::NONE, None)]);
        assert_eq!(
            produce_acks(leader, "r", 0, -1).await,
            ErrorCode::NOT_ENOUGH_REPLICAS
        );
        Handle::current().restart(broker_node(2));
        let mut code = ErrorCode::NOT_ENOUGH_REPLICAS;
        for _ in 0..40 {
            code = produce_acks(leader, "r", 0, -1).await;
            if code == ErrorCode::NONE {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(code, ErrorCode::NONE, "the follower never rejoined the ISR");
    });
}

// ---------------------------------------------------------------------------------------
// CreatePartitions.

/// CreatePartitions at `version`: (topic, count, assignments) each; answers (code, message)
/// per topic.
async fn create_partitions(
    addr: SocketAddr,
    version: i16,
    topics: &[(&str, i32, Option<Vec<Vec<i32>>>)],
    validate_only: bool,
) -> Vec<(ErrorCode, Option<String>)> {
    use kafka_protocol::messages::create_partitions_request::{
        CreatePartitionsAssignment, CreatePartitionsTopic,
    };
    let mut request = kafka_protocol::messages::CreatePartitionsRequest::default();
    request.timeout_ms = 5_000;
    request.validate_only = validate_only;
    for (name, count, assignments) in topics {
        let mut topic = CreatePartitionsTopic::default();
        topic.name = topic_name(name);
        topic.count = *count;
        topic.assignments = assignments.as_ref().map(|assignments| {
            assignments
                .iter()
                .map(|ids| {
                    let mut assignment = CreatePartitionsAssignment::default();
                    assignment.broker_ids = ids
                        .iter()
                        .map(|&id| kafka_protocol::messages::BrokerId(id))
                        .collect();
                    assignment
                })
                .collect()
        });
        request.topics.push(topic);
    }
    match send_request(addr, ApiKey::CreatePartitions, version, request.into()).await {
        ResponseKind::CreatePartitions(response) => response
            .results
            .iter()
            .map(|r| {
                let message = r.error_message.as_ref().map(|m| m.to_string());
                (ErrorCode::from_wire(r.error_code), message)
            })
            .collect(),
        other => panic!("not a CreatePartitions response: {other:?}"),
    }
}

/// New partitions are served at once (Metadata lists them, produce and ListOffsets reach
/// them) and survive a restart, for a topic of the static map and one created at run time;
/// validate_only changes nothing.
#[test]
fn create_partitions_grows_topics_for_good() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let addr = addrs[0];
        let mut admin = Admin::new(vec![addr], Duration::from_secs(5));
        admin
            .create_topic("created", 1, 1, &[])
            .await
            .expect("create");
        let ok = (ErrorCode::NONE, None);
        assert_eq!(
            create_partitions(addr, 3, &[("t", 3, None)], true).await,
            [ok.clone()]
        );
        assert_eq!(
            admin.describe_topic("t").await.expect("t").len(),
            2,
            "validate_only"
        );
        for version in 0..=3 {
            let count = 3 + version as i32;
            let assignments = (version % 2 == 1).then(|| vec![vec![1]]);
            let answer =
                create_partitions(addr, version, &[("t", count, assignments)], false).await;
            assert_eq!(answer, [ok.clone()], "v{version}");
        }
        let answer = create_partitions(addr, 3, &[("created", 4, None)], false).await;
        assert_eq!(answer, [ok.clone()]);
        assert_eq!(admin.describe_topic("t").await.expect("t").len(), 6);
        assert_eq!(produce(addr, "t", 5, &[EPOCH_MS]).await, ErrorCode::NONE);
        assert_eq!(
            produce(addr, "created", 3, &[EPOCH_MS]).await,
            ErrorCode::NONE
        );
        restart_broker(1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut admin = Admin::new(vec![addr], Duration::from_secs(5));
        assert_eq!(admin.describe_topic("t").await.expect("t").len(), 6);
        assert_eq!(
            admin
                .describe_topic("created")
                .await
                .expect("created")
                .len(),
            4
        );
        assert_eq!(list_offset(addr, 6, "t", 5, -1).await.1, 1);
        assert_eq!(list_offset(addr, 6, "created", 3, -1).await.1, 1);
    });
}

#[test]
fn create_partitions_errors_get_kafkas_codes() {
    simulate_cluster(cluster(2), |addrs, _| async move {
        let addr = addrs[0];
        let code = |answer: Vec<(ErrorCode, Option<String>)>| {
            assert!(answer
                .iter()
                .all(|(code, message)| code.is_none() || message.is_some()));
            answer.into_iter().map(|(code, _)| code).collect::<Vec<_>>()
        };
        let answer = create_partitions(
            addr,
            3,
            &[
                ("t", 2, None),
                ("t", 1, None),
                ("nope", 3, None),
                ("r", 2, None),
            ],
            false,
        )
        .await;
        assert_eq!(
            answer[0],
            (
                ErrorCode::INVALID_REQUEST,
                Some("Duplicate topic in request.".to_string())
            )
        );
        assert_eq!(
            code(answer),
            [
                ErrorCode::INVALID_REQUEST,
                ErrorCode::INVALID_REQUEST,
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                // "r" has two replicas per partition: kafkasim cannot place them.
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ]
        );
        let cases: Vec<(&str, i32, Option<Vec<Vec<i32>>>, ErrorCode)> = vec![
            ("t", 2, None, ErrorCode::INVALID_PARTITIONS),
            ("t", 1, None, ErrorCode::INVALID_PARTITIONS),
            ("t", -1, None, ErrorCode::INVALID_PARTITIONS),
            ("t", i32::MAX, None, ErrorCode::INVALID_PARTITIONS),
            (
                "t",
                4,
                Some(vec![vec![1]]),
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ),
            (
                "t",
                3,
                Some(vec![vec![]]),
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ),
            (
                "t",
                3,
                Some(vec![vec![1, 1]]),
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ),
            (
                "t",
                3,
                Some(vec![vec![7]]),
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ),
            (
                "t",
                3,
                Some(vec![vec![1, 2]]),
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ),
            (
                "t",
                3,
                Some(vec![vec![2]]),
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ),
        ];
        for (topic, count, assignments, expected) in cases {
            let what = format!("{topic} to {count} with {assignments:?}");
            let answer = create_partitions(addr, 1, &[(topic, count, assignments)], false).await;
            assert_eq!(code(answer), [expected], "{what}");
        }
        // None of it changed the topic.
        let mut admin = Admin::new(vec![addr], Duration::from_secs(5));
        assert_eq!(admin.describe_topic("t").await.expect("t").len(), 2);
    });
}

// ---------------------------------------------------------------------------------------
// kafkasim's own Admin client.

/// The Admin client's calls for the new APIs, on two brokers: a config change to the
/// replicated topic reaches both of its brokers.
#[test]
fn the_admin_client_describes_alters_and_deletes() {
    simulate_cluster(cluster(2), |addrs, _| async move {
        let mut admin = Admin::new(vec![addrs[1]], Duration::from_secs(5));
        let cluster = admin.describe_cluster().await.expect("describe cluster");
        assert_eq!(cluster.cluster_id, "kafkasim");
        assert_eq!(cluster.controller_id, 1);
        let ids: Vec<i32> = cluster.brokers.iter().map(|b| b.0).collect();
        assert_eq!(ids, [1, 2]);

        let change = [
            ("retention.ms".to_string(), Some("60000".to_string())),
            ("flush.messages".to_string(), None),
        ];
        admin
            .alter_topic_configs("r", &change)
            .await
            .expect("alter");
        let configs = admin.describe_topic_configs("r").await.expect("describe");
        let retention = configs.iter().find(|c| c.name == "retention.ms").unwrap();
        assert_eq!(retention.value.as_deref(), Some("60000"));
        assert_eq!(retention.source, DYNAMIC_TOPIC_CONFIG);
        for &addr in &addrs {
            assert_eq!(
                topic_config(addr, "r", "retention.ms").await,
                ("60000".to_string(), DYNAMIC_TOPIC_CONFIG)
            );
        }
        let refused = admin
            .alter_topic_configs("r", &[("no.such".to_string(), Some("1".to_string()))])
            .await
            .unwrap_err();
        assert!(
            matches!(refused, kafkasim::client::AdminError::Kafka { code, .. } if code == ErrorCode::INVALID_CONFIG),
            "{refused:?}"
        );

        for _ in 0..2 {
            assert_eq!(
                produce(addrs[0], "t", 1, &[EPOCH_MS]).await,
                ErrorCode::NONE
            );
        }
        assert_eq!(admin.delete_records("t", 1, -1).await, Ok(2));
        let out_of_range = admin.delete_records("t", 1, 5).await.unwrap_err();
        assert!(
            matches!(out_of_range, kafkasim::client::AdminError::Kafka { code, .. } if code == ErrorCode::OFFSET_OUT_OF_RANGE),
            "{out_of_range:?}"
        );
    });
}

// ---------------------------------------------------------------------------------------
// Malformed bodies of the new APIs.

/// A request header (null client id) for `api_key` at `version`, then `body`.
fn raw_frame(api_key: ApiKey, version: i16, body: &[u8]) -> Vec<u8> {
    let mut frame = BytesMut::new();
    frame.put_i16(api_key as i16);
    frame.put_i16(version);
    frame.put_i32(1);
    frame.put_i16(-1);
    if api_key.request_header_version(version) >= 2 {
        frame.put_u8(0);
    }
    frame.extend_from_slice(body);
    size_prefixed(&frame)
}

/// Bodies that cannot be decoded close the connection, as for every other API: lengths the
/// frame cannot hold (refused before kafka-protocol would reserve memory for them), bodies
/// cut short, and versions kafkasim does not list.
#[test]
fn malformed_admin_requests_close_the_connection() {
    simulate_cluster(cluster(1), |addrs, _| async move {
        let addr = addrs[0];
        let huge_array = i32::MAX.to_be_bytes();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "DescribeConfigs v1 claiming 2^31 resources",
                raw_frame(ApiKey::DescribeConfigs, 1, &huge_array),
            ),
            (
                "AlterConfigs v0 claiming 2^31 resources",
                raw_frame(ApiKey::AlterConfigs, 0, &huge_array),
            ),
            (
                "IncrementalAlterConfigs v0 claiming 2^31 resources",
                raw_frame(ApiKey::IncrementalAlterConfigs, 0, &huge_array),
            ),
            (
                "IncrementalAlterConfigs v1 with a topic name longer than the frame",
                raw_frame(ApiKey::IncrementalAlterConfigs, 1, &[2, 2, 0x7f, b't']),
            ),
            (
                "DescribeCluster v1 without its endpoint type",
                raw_frame(ApiKey::DescribeCluster, 1, &[0]),
            ),
            (
                "ListOffsets v10 without its timeout",
                raw_frame(ApiKey::ListOffsets, 10, &[0xff, 0xff, 0xff, 0xff, 0, 1]),
            ),
            (
                "DescribeCluster v3",
                raw_frame(ApiKey::DescribeCluster, 3, &[0, 1, 0, 0]),
            ),
            (
                "DescribeConfigs v0",
                raw_frame(ApiKey::DescribeConfigs, 0, &[0, 0, 0, 0, 0]),
            ),
        ];
        for (what, frame) in cases {
            expect_close(addr, &frame, what).await;
        }
        // The broker still answers.
        let response = describe_cluster(addr, 0, Default::default()).await;
        assert_eq!(response.error_code, ErrorCode::NONE);
    });
}
