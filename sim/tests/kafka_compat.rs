//! What real Kafka clients hit, reproduced on one simulated broker over raw requests
//! (issue 11's two bugs): a Fetch that overshot its byte budget, which librdkafka rejects and
//! retries forever; and Metadata for an illegal topic name answered with a retriable code.
//! Also topic auto-creation through Metadata (`auto.create.topics.enable`).

use std::future::Future;
use std::net::SocketAddr;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    RequestKind, ResponseKind, TopicName,
};
use kafkasim::protocol::ErrorCode;
use kafkasim::server::{BrokerConfig, TopicAssignment};
use kafkasim::storage::batch;
use kafkasim::storage::testing::{encode_batch, TestRecord};
use kafkasim_sim::checker::fetch_over_limit::{self, FetchedPartition};
use kafkasim_sim::cluster::broker_addr;
use kafkasim_sim::history::Tp;

mod support;
use support::*;

const FETCH_VERSION: i16 = 12;
const METADATA_VERSION: i16 = 9;

/// Run `client` against one fresh broker with topic "wide" (3 partitions) and `configs`.
fn simulate<F, Fut>(configs: &[(&str, &str)], client: F)
where
    F: FnOnce(SocketAddr) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut config = BrokerConfig::single(1, broker_addr(1));
    config.topics = vec![TopicAssignment {
        name: "wide".into(),
        replicas: vec![vec![1]; 3],
        configs: Default::default(),
    }];
    for (key, value) in configs {
        config.configs.insert(key.to_string(), value.to_string());
    }
    simulate_cluster(vec![config], |addrs, _clock| client(addrs[0]));
}

async fn request(
    addr: SocketAddr,
    api_key: ApiKey,
    version: i16,
    body: RequestKind,
) -> ResponseKind {
    send_request(addr, api_key, version, body).await
}

fn name(topic: &str) -> TopicName {
    topic_name(topic)
}

/// Append one batch holding one record of `size` bytes to `topic`-`partition`.
async fn produce_record(addr: SocketAddr, topic: &str, partition: i32, size: usize) {
    let mut p = PartitionProduceData::default();
    p.index = partition;
    p.records = Some(encode_batch(0, 0, 0, &[TestRecord::value(&vec![b'x'; size])]).into());
    let mut t = TopicProduceData::default();
    t.name = name(topic);
    t.partition_data = vec![p];
    let mut body = ProduceRequest::default();
    body.acks = -1;
    body.timeout_ms = 5_000;
    body.topic_data = vec![t];
    let ResponseKind::Produce(response) = request(addr, ApiKey::Produce, 9, body.into()).await
    else {
        panic!("not a Produce response");
    };
    let code = response.responses[0].partition_responses[0].error_code;
    assert_eq!(code, ErrorCode::NONE, "produce to {topic}-{partition}");
}

async fn fetch(
    addr: SocketAddr,
    max_bytes: i32,
    offsets: &[i64; 3],
) -> (FetchRequest, FetchResponse) {
    let mut t = FetchTopic::default();
    t.topic = name("wide");
    t.partitions = (0..3)
        .map(|partition| {
            let mut p = FetchPartition::default();
            p.partition = partition;
            p.fetch_offset = offsets[partition as usize];
            p.partition_max_bytes = 1_048_576;
            p
        })
        .collect();
    let mut body = FetchRequest::default();
    body.replica_id = (-1).into();
    body.max_wait_ms = 10;
    body.min_bytes = 1;
    body.max_bytes = max_bytes;
    body.topics = vec![t];
    let ResponseKind::Fetch(response) =
        request(addr, ApiKey::Fetch, FETCH_VERSION, body.clone().into()).await
    else {
        panic!("not a Fetch response");
    };
    (body, response)
}

/// The response's partitions as the wire checker sees them.
fn fetched(request: &FetchRequest, response: &FetchResponse) -> Vec<FetchedPartition> {
    response.responses[0]
        .partitions
        .iter()
        .map(|p| {
            let records = p.records.as_deref().unwrap_or_default();
            assert_eq!(p.error_code, ErrorCode::NONE);
            FetchedPartition {
                tp: Tp::new("wide", p.partition_index),
                partition_max_bytes: request.topics[0].partitions[p.partition_index as usize]
                    .partition_max_bytes,
                bytes: records.len(),
                single_batch: fetch_over_limit::is_single_batch(records),
            }
        })
        .collect()
}

/// The case librdkafka hit: three partitions of 900 KiB records and `fetch.max.bytes`
/// 1,000,000. Every response must stay within Kafka's limits (one oversized first batch at
/// most), and the consumer must still read every record, one batch per round trip.
#[test]
fn fetch_stays_within_its_byte_budget_and_still_makes_progress() {
    simulate(&[], |addr| async move {
        const RECORD: usize = 900 * 1024;
        for partition in 0..3 {
            for _ in 0..2 {
                produce_record(addr, "wide", partition, RECORD).await;
            }
        }
        let mut offsets = [0i64; 3];
        let mut round_trips = 0;
        while offsets.iter().sum::<i64>() < 6 {
            round_trips += 1;
            assert!(round_trips <= 12, "no progress: offsets {offsets:?}");
            let (request, response) = fetch(addr, 1_000_000, &offsets).await;
            let parts = fetched(&request, &response);
            let total: usize = parts.iter().map(|p| p.bytes).sum();
            assert_eq!(
                fetch_over_limit::excesses(request.max_bytes, &parts),
                vec![],
                "a {total}-byte response to a Fetch with max_bytes 1,000,000"
            );
            for p in &response.responses[0].partitions {
                let records = p.records.clone().unwrap_or_default();
                for (_, header) in batch::split(&records).expect("whole batches") {
                    offsets[p.partition_index as usize] = header.last_offset() + 1;
                }
            }
        }
        assert_eq!(offsets, [2, 2, 2]);
        assert_eq!(round_trips, 6, "one 900 KiB batch per response");

        // Small batches: the budget is shared in request order, and max_bytes 0 (or less)
        // still gives the first batch of the first partition with data, and nothing more.
        for limit in [0, -5] {
            let (request, response) = fetch(addr, limit, &[2, 0, 0]).await;
            let parts = fetched(&request, &response);
            assert_eq!(fetch_over_limit::excesses(limit, &parts), vec![]);
            let sizes: Vec<usize> = parts.iter().map(|p| p.bytes).collect();
            assert_eq!(sizes[0], 0, "partition 0 is read to its end");
            assert!(parts[1].single_batch, "max_bytes {limit}: {sizes:?}");
            assert_eq!(sizes[2], 0, "max_bytes {limit}: {sizes:?}");
        }
    });
}

async fn metadata(
    addr: SocketAddr,
    version: i16,
    topics: &[&str],
    auto_create: bool,
) -> MetadataResponse {
    let mut body = MetadataRequest::default();
    body.topics = Some(
        topics
            .iter()
            .map(|topic| {
                let mut t = MetadataRequestTopic::default();
                t.name = Some(name(topic));
                t
            })
            .collect(),
    );
    // The field arrived in v4; before, it must keep its default (true).
    body.allow_auto_topic_creation = auto_create || version < 4;
    let ResponseKind::Metadata(response) =
        request(addr, ApiKey::Metadata, version, body.into()).await
    else {
        panic!("not a Metadata response");
    };
    response
}

fn codes(response: &MetadataResponse) -> Vec<(String, ErrorCode, usize)> {
    response
        .topics
        .iter()
        .map(|t| {
            (
                t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default(),
                ErrorCode::from_wire(t.error_code),
                t.partitions.len(),
            )
        })
        .collect()
}

/// An illegal name is INVALID_TOPIC_EXCEPTION (not retriable: a producer fails at once),
/// whether or not the request allows auto-creation; a legal missing name is created with
/// `num.partitions` when allowed (always in v0–3), UNKNOWN_TOPIC_OR_PARTITION otherwise.
#[test]
fn metadata_rejects_illegal_names_and_auto_creates_legal_ones() {
    simulate(&[("num.partitions", "4")], |addr| async move {
        for auto_create in [false, true] {
            let response = metadata(
                addr,
                METADATA_VERSION,
                &["bad$#!name", "..", &"x".repeat(250)],
                auto_create,
            )
            .await;
            for (topic, code, _) in codes(&response) {
                assert_eq!(code, ErrorCode::INVALID_TOPIC_EXCEPTION, "{topic:?}");
                assert!(!code.is_retriable());
            }
        }
        let response = metadata(addr, METADATA_VERSION, &["later", "wide"], false).await;
        assert_eq!(
            codes(&response),
            vec![
                ("later".into(), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, 0),
                ("wide".into(), ErrorCode::NONE, 3)
            ]
        );
        let response = metadata(addr, METADATA_VERSION, &["later"], true).await;
        assert_eq!(codes(&response), vec![("later".into(), ErrorCode::NONE, 4)]);
        let leaders: Vec<i32> = response.topics[0]
            .partitions
            .iter()
            .map(|p| p.leader_id.0)
            .collect();
        assert_eq!(leaders, vec![1; 4]);
        // Metadata v3 has no allow_auto_topic_creation field: old clients always create.
        let response = metadata(addr, 3, &["old-client"], false).await;
        assert_eq!(
            codes(&response),
            vec![("old-client".into(), ErrorCode::NONE, 4)]
        );
        // The created topics are real: they take writes, and are listed from now on.
        produce_record(addr, "later", 3, 10).await;
        produce_record(addr, "old-client", 0, 10).await;
        let response = metadata(addr, METADATA_VERSION, &["later", "old-client"], false).await;
        assert_eq!(
            codes(&response),
            vec![
                ("later".into(), ErrorCode::NONE, 4),
                ("old-client".into(), ErrorCode::NONE, 4)
            ]
        );
    });
}

#[test]
fn auto_creation_can_be_turned_off() {
    simulate(
        &[("auto.create.topics.enable", "false")],
        |addr| async move {
            for version in [3, METADATA_VERSION] {
                let response = metadata(addr, version, &["later"], true).await;
                assert_eq!(
                    codes(&response),
                    vec![("later".into(), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, 0)],
                    "Metadata v{version}"
                );
            }
        },
    );
}
