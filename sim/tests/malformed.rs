//! Ground rule (STYLE.md, habit 4): malformed bytes from a peer get a Kafka error code or a
//! closed connection, never a panic, and never a hang.
//!
//! Each test starts one simulated broker (topic "t", 2 partitions, `socket.request.max.bytes`
//! 65536) and a client node that opens raw TCP connections and sends one kind of bad request
//! per connection. Every answer is checked against what Kafka does. Afterwards a normal
//! kafkasim producer and consumer must still work on the same broker: proof it survived. A
//! panic on any node fails the madsim runtime and so the test.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreateTopicsRequest, FetchRequest, ListOffsetsRequest,
    MetadataRequest, ProduceRequest, RequestKind, ResponseKind,
};
use kafkasim::client::{
    Admin, Consumer, ConsumerConfig, OffsetReset, Producer, ProducerConfig, ProducerRecord,
};
use kafkasim::protocol::ErrorCode;
use kafkasim::protocol::{self, DecodeError};
use kafkasim::server::{BrokerConfig, TopicAssignment};
use kafkasim::storage::batch;
use kafkasim::storage::testing::{encode_batch, TestRecord};
use kafkasim_sim::cluster::broker_addr;
use kafkasim_sim::cluster::clock::{RunClock, SimClock};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod support;
use support::*;

/// `socket.request.max.bytes` of the broker under test.
const REQUEST_BYTES_MAX: usize = 65_536;
/// Garbage frames sent per run.
const GARBAGE_FRAMES: usize = 300;

fn broker_config() -> BrokerConfig {
    let mut config = BrokerConfig::single(1, broker_addr(1));
    config.topics = vec![TopicAssignment {
        name: "t".into(),
        replicas: vec![vec![1], vec![1]],
        configs: Default::default(),
    }];
    config.configs.insert(
        "socket.request.max.bytes".into(),
        REQUEST_BYTES_MAX.to_string(),
    );
    config
}

/// Run `client` against one fresh broker, then check the broker still serves a producer and
/// a consumer.
fn simulate<F, Fut>(client: F)
where
    F: FnOnce(SocketAddr) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    simulate_cluster(vec![broker_config()], |addrs, clock| async move {
        client(addrs[0]).await;
        broker_still_serves(addrs[0], clock).await;
    });
}

/// A producer and a consumer on the broker that took the abuse: one record to each partition
/// of "t" and to a topic created now, all read back.
async fn broker_still_serves(addr: SocketAddr, clock: RunClock) {
    let mut admin = Admin::new(vec![addr], Duration::from_secs(5));
    admin
        .create_topic("after", 1, 1, &[])
        .await
        .expect("create topic after the abuse");
    let producer = Producer::new(
        ProducerConfig::new(vec![addr]),
        Arc::new(SimClock::new(clock, Arc::default())),
    );
    let targets = [("t", 0), ("t", 1), ("after", 0)];
    for (topic, partition) in targets {
        let (_, delivery) = producer
            .send(ProducerRecord {
                topic: topic.into(),
                partition: Some(partition),
                key: None,
                value: Some(Bytes::from(format!("survived {topic}-{partition}"))),
            })
            .await
            .expect("send");
        delivery
            .await
            .expect("delivery reply")
            .expect("record acknowledged");
    }
    let mut config = ConsumerConfig::new(vec![addr]);
    config.auto_offset_reset = OffsetReset::Earliest;
    let mut consumer = Consumer::new(config);
    consumer.assign(&targets.map(|(t, p)| (t.to_string(), p)));
    let mut seen = Vec::new();
    for _ in 0..20 {
        for record in consumer.poll(Duration::from_secs(1)).await.expect("poll") {
            seen.push(record.value.expect("value"));
        }
        if seen.len() >= targets.len() {
            break;
        }
    }
    for (topic, partition) in targets {
        let value = format!("survived {topic}-{partition}");
        assert!(
            seen.iter().any(|v| v[..] == *value.as_bytes()),
            "{value:?} not consumed; got {seen:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Framing and headers.

#[test]
fn framing_errors_close_the_connection() {
    simulate(|addr| async move {
        expect_close(addr, &(-2i32).to_be_bytes(), "negative size").await;
        expect_close(addr, &i32::MIN.to_be_bytes(), "most negative size").await;
        let mut too_large = ((REQUEST_BYTES_MAX + 1) as i32).to_be_bytes().to_vec();
        too_large.extend_from_slice(&[0; 64]);
        expect_close(addr, &too_large, "frame above socket.request.max.bytes").await;
        expect_close(addr, &i32::MAX.to_be_bytes(), "2 GiB frame").await;
        expect_close(addr, &size_prefixed(&[]), "empty frame").await;
        expect_close(
            addr,
            &size_prefixed(&[0, 18, 0]),
            "frame shorter than a header",
        )
        .await;

        // A frame cut short, then the client goes away: the broker must just drop it.
        let mut stream = connect(addr).await;
        let mut truncated = 100i32.to_be_bytes().to_vec();
        truncated.extend_from_slice(&[0, 18, 0, 3, 0, 0, 0, 1, 0, 0]);
        send_raw(&mut stream, &truncated).await;
        drop(stream);
        // And a size prefix cut short.
        let mut stream = connect(addr).await;
        send_raw(&mut stream, &[0, 0]).await;
        drop(stream);
    });
}

#[test]
fn unknown_apis_and_unsupported_versions() {
    simulate(|addr| async move {
        let frame = |key: i16, version: i16, correlation_id: i32| {
            let mut body = BytesMut::new();
            body.put_i16(key);
            body.put_i16(version);
            body.put_i32(correlation_id);
            body.put_i16(-1); // null client id
            size_prefixed(&body)
        };
        expect_close(addr, &frame(1_000, 0, 1), "unknown api key").await;
        expect_close(addr, &frame(-1, 0, 1), "negative api key").await;
        // LeaderAndIsr: a real Kafka api that kafkasim does not implement.
        expect_close(addr, &frame(4, 0, 1), "unimplemented api").await;
        expect_close(addr, &frame(3, 99, 1), "Metadata v99").await;
        expect_close(addr, &frame(0, 2, 1), "Produce v2").await;
        expect_close(addr, &frame(1, -1, 1), "Fetch v-1").await;

        // ApiVersions at an unknown version gets the v0 error response (KIP-511), and the
        // connection stays usable for a supported version.
        let mut stream = connect(addr).await;
        send_raw(&mut stream, &frame(18, 99, 42)).await;
        let Answer::Frame(bytes) = answer(&mut stream).await else {
            panic!("ApiVersions v99 got no answer");
        };
        let (correlation_id, response) =
            protocol::decode_response(ApiKey::ApiVersions, 0, bytes).expect("v0 response");
        assert_eq!(correlation_id, 42);
        let ResponseKind::ApiVersions(response) = response else {
            panic!("not an ApiVersions response");
        };
        assert_eq!(response.error_code, ErrorCode::UNSUPPORTED_VERSION);
        assert_eq!(response.error_code, 35);
        assert!(response
            .api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::Produce as i16));
        let ResponseKind::ApiVersions(response) = round_trip(
            &mut stream,
            ApiKey::ApiVersions,
            3,
            ApiVersionsRequest::default().into(),
        )
        .await
        else {
            panic!("not an ApiVersions response");
        };
        assert_eq!(response.error_code, ErrorCode::NONE);
    });
}

/// Random frames, each on its own connection. Whatever `decode_request` makes of a frame
/// decides the answer: a decodable request gets a response with its correlation id (or, for
/// Produce with acks=0, nothing), an unsupported ApiVersions the v0 error response, anything
/// else a closed connection.
#[test]
fn garbage_frames_get_an_answer_or_a_close() {
    simulate(|addr| async move {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let mut outcomes = [0usize; 3];
        for round in 0..GARBAGE_FRAMES {
            let frame = garbage_frame(&mut rng);
            let expected = protocol::decode_request(frame.clone());
            let mut stream = connect(addr).await;
            send_raw(&mut stream, &size_prefixed(&frame)).await;
            let got = answer(&mut stream).await;
            let what = format!("garbage frame {round} {frame:02x?}: decodes as {expected:?}");
            match (&expected, &got) {
                (Ok(request), Answer::Frame(bytes)) => {
                    let version = request.header.request_api_version;
                    let (correlation_id, _) =
                        protocol::decode_response(request.api_key, version, bytes.clone())
                            .unwrap_or_else(|e| panic!("{what}: undecodable response: {e}"));
                    assert_eq!(correlation_id, request.header.correlation_id, "{what}");
                    outcomes[0] += 1;
                }
                (Ok(request), Answer::Nothing) => {
                    let silent = matches!(&request.body, RequestKind::Produce(p) if p.acks == 0);
                    assert!(silent, "{what}: no answer and no close");
                    outcomes[1] += 1;
                }
                (Err(DecodeError::UnsupportedVersion { api_key: 18, .. }), Answer::Frame(_)) => {
                    outcomes[0] += 1;
                }
                (Err(_), Answer::Closed) => outcomes[2] += 1,
                _ => panic!("{what}: got {got:?}"),
            }
        }
        // The generator must reach both the handlers and the framing errors.
        assert!(
            outcomes[0] > 10 && outcomes[2] > 10,
            "outcomes {outcomes:?}"
        );
    });
}

/// Half fully random bytes; half a complete supported header (null client id) followed by a
/// random body, so the body's bytes reach the body decoder. Any byte
/// values: a length the frame cannot hold is refused by `protocol::validate` before
/// kafka-protocol 0.18 would reserve memory for it (see
/// `protocol::tests::huge_array_length_is_malformed`), and half of these bodies use only
/// small byte values, whose lengths are more often plausible, so the handlers are reached too.
fn garbage_frame(rng: &mut ChaCha8Rng) -> Bytes {
    let length = rng.gen_range(0..300);
    if rng.gen_bool(0.5) {
        return Bytes::from((0..length).map(|_| rng.gen::<u8>()).collect::<Vec<u8>>());
    }
    let (key, min, max) = protocol::SUPPORTED[rng.gen_range(0..protocol::SUPPORTED.len())];
    let mut frame = BytesMut::new();
    frame.put_i16(key as i16);
    let version = rng.gen_range(min..=max);
    frame.put_i16(version);
    frame.put_i32(rng.gen());
    frame.put_i16(-1);
    if key.request_header_version(version) >= 2 {
        frame.put_u8(0);
    }
    let byte_max = if rng.gen_bool(0.5) { 2 } else { u8::MAX };
    for _ in 0..length {
        frame.put_u8(rng.gen_range(0..=byte_max));
    }
    frame.freeze()
}

// ---------------------------------------------------------------------------------------
// Produce.

const PRODUCE_VERSION: i16 = 8;

fn produce(topic: &str, partition: i32, acks: i16, records: Option<Vec<u8>>) -> RequestKind {
    let mut data = PartitionProduceData::default();
    data.index = partition;
    data.records = records.map(Bytes::from);
    let mut topic_data = TopicProduceData::default();
    topic_data.name = topic_name(topic);
    topic_data.partition_data = vec![data];
    let mut request = ProduceRequest::default();
    request.acks = acks;
    request.timeout_ms = 5_000;
    request.topic_data = vec![topic_data];
    request.into()
}

/// The error code of the single partition in a Produce response.
async fn produce_error(addr: SocketAddr, request: RequestKind) -> ErrorCode {
    let ResponseKind::Produce(response) =
        send_request(addr, ApiKey::Produce, PRODUCE_VERSION, request).await
    else {
        panic!("not a Produce response");
    };
    let partition = &response.responses[0].partition_responses[0];
    if partition.error_code != ErrorCode::NONE {
        assert_eq!(partition.base_offset, -1, "a failed append has no offset");
    }
    ErrorCode::from_wire(partition.error_code)
}

fn valid_batch() -> Vec<u8> {
    encode_batch(0, -1, 1_700_000_000_000, &[TestRecord::value(b"v")])
}

/// Recompute a batch's CRC after editing fields it covers, so only the edit is wrong.
fn reseal(batch: &mut [u8]) {
    let crc = batch::compute_crc(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

#[test]
fn produce_errors_are_per_partition_codes() {
    simulate(|addr| async move {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let garbage: Vec<u8> = (0..200).map(|_| rng.gen()).collect();
        let cases: Vec<(&str, Option<Vec<u8>>, ErrorCode)> = vec![
            ("garbage records", Some(garbage), ErrorCode::CORRUPT_MESSAGE),
            (
                "short records",
                Some(vec![0; 20]),
                ErrorCode::CORRUPT_MESSAGE,
            ),
            ("null records", None, ErrorCode::INVALID_RECORD),
            ("empty records", Some(Vec::new()), ErrorCode::INVALID_RECORD),
            (
                "bad crc",
                Some({
                    let mut b = valid_batch();
                    let last = b.len() - 1;
                    b[last] ^= 0x01;
                    b
                }),
                ErrorCode::CORRUPT_MESSAGE,
            ),
            (
                "length longer than the batch",
                Some({
                    let mut b = valid_batch();
                    let length = (b.len() - 12 + 10) as i32;
                    b[8..12].copy_from_slice(&length.to_be_bytes());
                    b
                }),
                ErrorCode::CORRUPT_MESSAGE,
            ),
            (
                "length shorter than the batch",
                Some({
                    let mut b = valid_batch();
                    let length = (b.len() - 12 - 3) as i32;
                    b[8..12].copy_from_slice(&length.to_be_bytes());
                    b
                }),
                ErrorCode::CORRUPT_MESSAGE,
            ),
            (
                "negative length",
                Some({
                    let mut b = valid_batch();
                    b[8..12].copy_from_slice(&(-1i32).to_be_bytes());
                    b
                }),
                ErrorCode::CORRUPT_MESSAGE,
            ),
            (
                "trailing bytes after a batch",
                Some({
                    let mut b = valid_batch();
                    b.extend_from_slice(&[0; 7]);
                    b
                }),
                ErrorCode::CORRUPT_MESSAGE,
            ),
            (
                "magic 1",
                Some({
                    let mut b = valid_batch();
                    b[16] = 1;
                    b
                }),
                ErrorCode::CORRUPT_MESSAGE,
            ),
            (
                "record count disagrees with last offset delta",
                Some({
                    let mut b = valid_batch();
                    b[57..61].copy_from_slice(&5i32.to_be_bytes());
                    reseal(&mut b);
                    b
                }),
                ErrorCode::INVALID_RECORD,
            ),
            (
                "zero records",
                Some({
                    let mut b = valid_batch();
                    b[57..61].copy_from_slice(&0i32.to_be_bytes());
                    reseal(&mut b);
                    b
                }),
                ErrorCode::INVALID_RECORD,
            ),
            (
                "record count lies, consistently with last offset delta",
                Some({
                    let mut b = valid_batch();
                    b[23..27].copy_from_slice(&(i32::MAX - 1).to_be_bytes());
                    b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
                    reseal(&mut b);
                    b
                }),
                ErrorCode::INVALID_RECORD,
            ),
            (
                "record length runs past the batch",
                Some({
                    let mut b = valid_batch();
                    b[61] = 0x7e; // zigzag varint 63: longer than the bytes left
                    reseal(&mut b);
                    b
                }),
                ErrorCode::INVALID_RECORD,
            ),
            (
                "bytes after the last record",
                Some({
                    let mut b = valid_batch();
                    b.push(0);
                    let length = (b.len() - 12) as i32;
                    b[8..12].copy_from_slice(&length.to_be_bytes());
                    reseal(&mut b);
                    b
                }),
                ErrorCode::INVALID_RECORD,
            ),
        ];
        for (what, records, expected) in cases {
            let code = produce_error(addr, produce("t", 0, -1, records)).await;
            assert_eq!(code, expected, "{what}");
        }
        let batch = || Some(valid_batch());
        let code = produce_error(addr, produce("nope", 0, -1, batch())).await;
        assert_eq!(code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "unknown topic");
        for partition in [2, -1, i32::MAX] {
            let code = produce_error(addr, produce("t", partition, -1, batch())).await;
            // Kafka answers UNKNOWN_TOPIC_OR_PARTITION for a partition the topic lacks.
            assert_eq!(
                code,
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                "partition {partition} out of range"
            );
        }
        for acks in [5, -2, i16::MIN] {
            let code = produce_error(addr, produce("t", 0, acks, batch())).await;
            assert_eq!(code, ErrorCode::INVALID_REQUIRED_ACKS, "acks={acks}");
            assert_eq!(code.code(), 21);
        }
        // Nothing above was appended: the first good batch lands at offset 0.
        let ResponseKind::Produce(response) = send_request(
            addr,
            ApiKey::Produce,
            PRODUCE_VERSION,
            produce("t", 0, -1, batch()),
        )
        .await
        else {
            panic!("not a Produce response");
        };
        let partition = &response.responses[0].partition_responses[0];
        assert_eq!(partition.error_code, ErrorCode::NONE);
        assert_eq!(partition.base_offset, 0);
    });
}

// ---------------------------------------------------------------------------------------
// Fetch, ListOffsets, CreateTopics, Metadata.

const FETCH_VERSION: i16 = 11;

fn fetch(
    topic: &str,
    partition: i32,
    offset: i64,
    max_bytes: i32,
    partition_max: i32,
) -> RequestKind {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = partition_max;
    let mut t = FetchTopic::default();
    t.topic = topic_name(topic);
    t.partitions = vec![p];
    let mut request = FetchRequest::default();
    request.replica_id = (-1).into();
    request.max_wait_ms = 100;
    request.min_bytes = 1;
    request.max_bytes = max_bytes;
    request.topics = vec![t];
    request.into()
}

async fn fetch_error(addr: SocketAddr, request: RequestKind) -> (i16, Bytes) {
    let ResponseKind::Fetch(response) =
        send_request(addr, ApiKey::Fetch, FETCH_VERSION, request).await
    else {
        panic!("not a Fetch response");
    };
    let p = &response.responses[0].partitions[0];
    (p.error_code, p.records.clone().unwrap_or_default())
}

#[test]
fn fetch_list_offsets_create_topics_metadata_errors() {
    simulate(|addr| async move {
        // One record in t-0, so fetches have something to refuse.
        let code = produce_error(addr, produce("t", 0, -1, Some(valid_batch()))).await;
        assert_eq!(code, ErrorCode::NONE);

        let (code, records) = fetch_error(addr, fetch("t", 0, 0, -1, -1)).await;
        assert_eq!(code, ErrorCode::NONE, "negative max bytes");
        assert!(
            !records.is_empty(),
            "Kafka returns the first batch whatever max_bytes says"
        );
        for offset in [-1, -2, i64::MIN, 2, i64::MAX] {
            let (code, records) = fetch_error(addr, fetch("t", 0, offset, 1 << 20, 1 << 20)).await;
            assert_eq!(
                code,
                ErrorCode::OFFSET_OUT_OF_RANGE,
                "fetch offset {offset}"
            );
            assert!(records.is_empty());
        }
        let (code, _) = fetch_error(addr, fetch("nope", 0, 0, 1 << 20, 1 << 20)).await;
        assert_eq!(code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        for partition in [2, -1] {
            let (code, _) = fetch_error(addr, fetch("t", partition, 0, 1 << 20, 1 << 20)).await;
            assert_eq!(
                code,
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                "fetch partition {partition}"
            );
        }

        // A timestamp lookup decodes the stored batch: the one record of t-0 is the answer.
        let lookup = |topic: &str, partition: i32, timestamp: i64| {
            let mut p = ListOffsetsPartition::default();
            p.partition_index = partition;
            p.timestamp = timestamp;
            let mut t = ListOffsetsTopic::default();
            t.name = topic_name(topic);
            t.partitions = vec![p];
            let mut body = ListOffsetsRequest::default();
            body.replica_id = (-1).into();
            body.topics = vec![t];
            RequestKind::from(body)
        };
        let ResponseKind::ListOffsets(response) =
            send_request(addr, ApiKey::ListOffsets, 6, lookup("t", 0, 0)).await
        else {
            panic!("not a ListOffsets response");
        };
        let p = &response.topics[0].partitions[0];
        assert_eq!((p.error_code, p.offset), (ErrorCode::NONE.code(), 0));
        for (topic, partition, timestamp) in [
            ("nope", 0, -1),
            ("t", 2, -1),
            ("t", -1, -2),
            ("t", i32::MAX, 0),
        ] {
            let ResponseKind::ListOffsets(response) = send_request(
                addr,
                ApiKey::ListOffsets,
                6,
                lookup(topic, partition, timestamp),
            )
            .await
            else {
                panic!("not a ListOffsets response");
            };
            let p = &response.topics[0].partitions[0];
            assert_eq!(
                p.error_code,
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                "ListOffsets {topic}-{partition}"
            );
            assert_eq!(p.offset, -1);
        }

        let long = "x".repeat(250);
        for (name, partitions, replication, expected) in [
            ("", 1, 1, ErrorCode::INVALID_TOPIC_EXCEPTION),
            (".", 1, 1, ErrorCode::INVALID_TOPIC_EXCEPTION),
            ("..", 1, 1, ErrorCode::INVALID_TOPIC_EXCEPTION),
            ("a/b", 1, 1, ErrorCode::INVALID_TOPIC_EXCEPTION),
            ("sp ace", 1, 1, ErrorCode::INVALID_TOPIC_EXCEPTION),
            ("ünï", 1, 1, ErrorCode::INVALID_TOPIC_EXCEPTION),
            (long.as_str(), 1, 1, ErrorCode::INVALID_TOPIC_EXCEPTION),
            ("zero", 0, 1, ErrorCode::INVALID_PARTITIONS),
            ("negative", -5, 1, ErrorCode::INVALID_PARTITIONS),
            ("huge", i32::MAX, 1, ErrorCode::INVALID_PARTITIONS),
            ("rf0", 1, 0, ErrorCode::INVALID_REPLICATION_FACTOR),
            ("t", 1, 1, ErrorCode::TOPIC_ALREADY_EXISTS),
        ] {
            let mut topic = CreatableTopic::default();
            topic.name = topic_name(name);
            topic.num_partitions = partitions;
            topic.replication_factor = replication;
            let mut body = CreateTopicsRequest::default();
            body.timeout_ms = 5_000;
            body.topics = vec![topic];
            let ResponseKind::CreateTopics(response) =
                send_request(addr, ApiKey::CreateTopics, 5, body.into()).await
            else {
                panic!("not a CreateTopics response");
            };
            assert_eq!(
                response.topics[0].error_code, expected,
                "CreateTopics {name:?}"
            );
        }

        // A missing topic, with auto-creation refused (v4 and later; earlier versions always
        // create: tests/kafka_compat.rs).
        for version in [4, 9, 12] {
            let mut topic = MetadataRequestTopic::default();
            topic.name = Some(topic_name("nope"));
            let mut body = MetadataRequest::default();
            body.topics = Some(vec![topic]);
            body.allow_auto_topic_creation = false;
            let ResponseKind::Metadata(response) =
                send_request(addr, ApiKey::Metadata, version, body.into()).await
            else {
                panic!("not a Metadata response");
            };
            assert_eq!(response.topics.len(), 1);
            assert_eq!(
                response.topics[0].error_code,
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                "Metadata v{version}"
            );
        }
        // None of the refused topics exists now.
        let mut all = MetadataRequest::default();
        all.topics = None;
        let ResponseKind::Metadata(response) =
            send_request(addr, ApiKey::Metadata, 12, all.into()).await
        else {
            panic!("not a Metadata response");
        };
        let names: Vec<String> = response
            .topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
            .collect();
        assert_eq!(names, vec!["t".to_string()]);
    });
}
