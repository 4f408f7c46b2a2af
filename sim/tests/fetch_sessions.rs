//! Topic ids (KIP-516) and incremental fetch sessions (KIP-227) on simulated brokers, over
//! raw requests: ids in Metadata that survive a restart and change when a topic is re-created,
//! Fetch v13 by id, a session whose incremental responses carry only what is new, and Fetch
//! v16 naming the leader of a partition led elsewhere (KIP-951).

use std::future::Future;
use std::net::SocketAddr;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteTopicsRequest, FetchRequest, FetchResponse, MetadataRequest,
    MetadataResponse, ProduceRequest, ResponseKind,
};
use kafkasim::protocol::ErrorCode;
use kafkasim::server::{BrokerConfig, BrokerEndpoint, TopicAssignment};
use kafkasim::storage::testing::{encode_batch, TestRecord};
use kafkasim_sim::cluster::broker_addr;
use uuid::Uuid;

mod support;
use support::*;

/// Run `client` against one fresh broker with the static topic "wide" (3 partitions).
fn simulate<F, Fut>(client: F)
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
    simulate_cluster(vec![config], |addrs, _clock| client(addrs[0]));
}

/// Every topic's (name, id) from Metadata v12 for all topics.
async fn topic_ids(addr: SocketAddr) -> Vec<(String, Uuid)> {
    let mut body = MetadataRequest::default();
    body.topics = None;
    let ResponseKind::Metadata(response) =
        send_request(addr, ApiKey::Metadata, 12, body.into()).await
    else {
        panic!("not a Metadata response");
    };
    (response.topics.iter())
        .map(|t| (t.name.as_ref().unwrap().0.to_string(), t.topic_id))
        .collect()
}

fn id_of(ids: &[(String, Uuid)], name: &str) -> Uuid {
    ids.iter().find(|(n, _)| n == name).expect(name).1
}

/// Metadata v12 naming topics by id.
async fn metadata_by_id(addr: SocketAddr, ids: &[Uuid]) -> MetadataResponse {
    let mut body = MetadataRequest::default();
    body.topics = Some(
        ids.iter()
            .map(|id| {
                let mut t = MetadataRequestTopic::default();
                t.topic_id = *id;
                t
            })
            .collect(),
    );
    let ResponseKind::Metadata(response) =
        send_request(addr, ApiKey::Metadata, 12, body.into()).await
    else {
        panic!("not a Metadata response");
    };
    response
}

/// CreateTopics v7 for a 2-partition topic; returns the id it answers with.
async fn create_topic(addr: SocketAddr, name: &str) -> Uuid {
    let mut topic = CreatableTopic::default();
    topic.name = topic_name(name);
    topic.num_partitions = 2;
    topic.replication_factor = 1;
    let mut body = CreateTopicsRequest::default();
    body.topics = vec![topic];
    body.timeout_ms = 5_000;
    let ResponseKind::CreateTopics(response) =
        send_request(addr, ApiKey::CreateTopics, 7, body.into()).await
    else {
        panic!("not a CreateTopics response");
    };
    let result = &response.topics[0];
    assert_eq!(ErrorCode::from_wire(result.error_code), ErrorCode::NONE);
    result.topic_id
}

/// DeleteTopics v6 by id; returns the code and the name it reports.
async fn delete_by_id(addr: SocketAddr, id: Uuid) -> (ErrorCode, Option<String>) {
    let mut topic = DeleteTopicState::default();
    topic.topic_id = id;
    let mut body = DeleteTopicsRequest::default();
    body.topics = vec![topic];
    body.timeout_ms = 5_000;
    let ResponseKind::DeleteTopics(response) =
        send_request(addr, ApiKey::DeleteTopics, 6, body.into()).await
    else {
        panic!("not a DeleteTopics response");
    };
    let result = &response.responses[0];
    (
        ErrorCode::from_wire(result.error_code),
        result.name.as_ref().map(|n| n.0.to_string()),
    )
}

/// Append one record to `topic`-`partition`.
async fn produce(addr: SocketAddr, topic: &str, partition: i32) {
    let mut p = PartitionProduceData::default();
    p.index = partition;
    p.records = Some(encode_batch(0, 0, 0, &[TestRecord::value(b"v")]).into());
    let mut t = TopicProduceData::default();
    t.name = topic_name(topic);
    t.partition_data = vec![p];
    let mut body = ProduceRequest::default();
    body.acks = -1;
    body.timeout_ms = 5_000;
    body.topic_data = vec![t];
    let ResponseKind::Produce(response) = send_request(addr, ApiKey::Produce, 9, body.into()).await
    else {
        panic!("not a Produce response");
    };
    let code = response.responses[0].partition_responses[0].error_code;
    assert_eq!(ErrorCode::from_wire(code), ErrorCode::NONE);
}

/// A client Fetch v13 of topic `id`, partitions at these offsets, in a session.
fn fetch_request(
    id: Uuid,
    offsets: &[(i32, i64)],
    session_id: i32,
    epoch: i32,
    forgotten: &[i32],
) -> FetchRequest {
    let mut t = FetchTopic::default();
    t.topic_id = id;
    t.partitions = offsets
        .iter()
        .map(|&(partition, offset)| {
            let mut p = FetchPartition::default();
            p.partition = partition;
            p.fetch_offset = offset;
            p.partition_max_bytes = 1_048_576;
            p
        })
        .collect();
    let mut body = FetchRequest::default();
    body.replica_id = (-1).into();
    body.max_wait_ms = 0;
    body.min_bytes = 0;
    body.max_bytes = 10_000_000;
    body.session_id = session_id;
    body.session_epoch = epoch;
    if !offsets.is_empty() {
        body.topics = vec![t];
    }
    if !forgotten.is_empty() {
        let mut f = ForgottenTopic::default();
        f.topic_id = id;
        f.partitions = forgotten.to_vec();
        body.forgotten_topics_data = vec![f];
    }
    body
}

async fn fetch(addr: SocketAddr, version: i16, body: FetchRequest) -> FetchResponse {
    let ResponseKind::Fetch(response) =
        send_request(addr, ApiKey::Fetch, version, body.into()).await
    else {
        panic!("not a Fetch response");
    };
    response
}

/// (topic id, partition, error, record bytes) of every partition in a response.
fn partitions(response: &FetchResponse) -> Vec<(Uuid, i32, ErrorCode, usize)> {
    (response.responses.iter())
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                let bytes = p.records.as_ref().map_or(0, |r| r.len());
                (
                    t.topic_id,
                    p.partition_index,
                    ErrorCode::from_wire(p.error_code),
                    bytes,
                )
            })
        })
        .collect()
}

/// Every topic has a non-zero id, distinct from the others, that Metadata reports the same
/// after a restart; a topic deleted (by id) and created again gets a new one, and the old id
/// is then unknown.
#[test]
fn topic_ids_are_stable_across_restart_and_new_after_recreate() {
    simulate(|addr| async move {
        let created = create_topic(addr, "fresh").await;
        assert!(!created.is_nil(), "CreateTopics v7 answers with the id");
        let before = topic_ids(addr).await;
        let wide = id_of(&before, "wide");
        assert!(!wide.is_nil());
        assert_eq!(id_of(&before, "fresh"), created);
        assert_ne!(wide, created);

        restart_broker(1);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(topic_ids(addr).await, before, "ids after a restart");

        // Metadata v12 by id: the known id is described by name, nothing is created.
        let response = metadata_by_id(addr, &[created]).await;
        assert_eq!(response.topics.len(), 1);
        assert_eq!(
            response.topics[0].name.as_ref().unwrap().0.as_str(),
            "fresh"
        );
        assert_eq!(response.topics[0].partitions.len(), 2);

        assert_eq!(
            delete_by_id(addr, created).await,
            (ErrorCode::NONE, Some("fresh".to_string()))
        );
        let response = metadata_by_id(addr, &[created]).await;
        assert_eq!(
            ErrorCode::from_wire(response.topics[0].error_code),
            ErrorCode::UNKNOWN_TOPIC_ID
        );
        assert_eq!(
            delete_by_id(addr, created).await.0,
            ErrorCode::UNKNOWN_TOPIC_ID
        );
        let again = create_topic(addr, "fresh").await;
        assert!(!again.is_nil());
        assert_ne!(again, created, "a re-created topic has a new id");
        assert_eq!(id_of(&topic_ids(addr).await, "fresh"), again);
    });
}

/// Fetch v13 names topics by id: records come back under the id; an unknown id is
/// UNKNOWN_TOPIC_ID for its partitions.
#[test]
fn fetch_v13_reads_by_topic_id() {
    simulate(|addr| async move {
        produce(addr, "wide", 1).await;
        let wide = id_of(&topic_ids(addr).await, "wide");
        let response = fetch(addr, 13, fetch_request(wide, &[(1, 0)], 0, -1, &[])).await;
        assert_eq!(response.session_id, 0, "epoch -1 is sessionless");
        let got = partitions(&response);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0, got[0].1, got[0].2), (wide, 1, ErrorCode::NONE));
        assert!(got[0].3 > 0, "the record came back");

        let unknown = Uuid::from_u128(0x1234_5678);
        let response = fetch(addr, 13, fetch_request(unknown, &[(0, 0)], 0, -1, &[])).await;
        assert_eq!(
            partitions(&response),
            vec![(unknown, 0, ErrorCode::UNKNOWN_TOPIC_ID, 0)]
        );
    });
}

/// A session: the full fetch returns every partition and a session id; an incremental fetch
/// returns only the partition that got a record; a forgotten partition is not returned even
/// when it gets one; a wrong epoch, an unknown session, and a v12 request in a session made
/// with ids are refused with Kafka's codes; epoch -1 closes the session.
#[test]
fn incremental_fetches_return_only_what_is_new() {
    simulate(|addr| async move {
        let wide = id_of(&topic_ids(addr).await, "wide");
        let all = [(0, 0), (1, 0), (2, 0)];
        let response = fetch(addr, 13, fetch_request(wide, &all, 0, 0, &[])).await;
        let session = response.session_id;
        assert!(session > 0, "epoch 0 creates a session");
        assert_eq!(
            partitions(&response).len(),
            3,
            "a full response has every partition"
        );

        // Nothing new: an empty incremental response.
        let response = fetch(addr, 13, fetch_request(wide, &[], session, 1, &[])).await;
        assert_eq!(ErrorCode::from_wire(response.error_code), ErrorCode::NONE);
        assert_eq!(response.session_id, session);
        assert!(
            partitions(&response).is_empty(),
            "{:?}",
            partitions(&response)
        );

        produce(addr, "wide", 1).await;
        let response = fetch(addr, 13, fetch_request(wide, &[], session, 2, &[])).await;
        let got = partitions(&response);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].1, got[0].2), (1, ErrorCode::NONE));
        assert!(got[0].3 > 0);

        // Forget partition 1, then give both 1 and 2 a record: only 2 comes back.
        let response = fetch(addr, 13, fetch_request(wide, &[], session, 3, &[1])).await;
        assert!(partitions(&response).is_empty());
        produce(addr, "wide", 1).await;
        produce(addr, "wide", 2).await;
        let response = fetch(addr, 13, fetch_request(wide, &[], session, 4, &[])).await;
        let got: Vec<i32> = partitions(&response).iter().map(|p| p.1).collect();
        assert_eq!(got, vec![2]);

        let response = fetch(addr, 13, fetch_request(wide, &[], session, 9, &[])).await;
        assert_eq!(
            ErrorCode::from_wire(response.error_code),
            ErrorCode::INVALID_FETCH_SESSION_EPOCH
        );
        let response = fetch(addr, 13, fetch_request(wide, &[], session + 1, 5, &[])).await;
        assert_eq!(
            ErrorCode::from_wire(response.error_code),
            ErrorCode::FETCH_SESSION_ID_NOT_FOUND
        );
        let mut by_name = fetch_request(wide, &[], session, 5, &[]);
        by_name.topics.clear();
        let response = fetch(addr, 12, by_name).await;
        assert_eq!(
            ErrorCode::from_wire(response.error_code),
            ErrorCode::FETCH_SESSION_TOPIC_ID_ERROR
        );

        // Epoch 5 is still the next one; -1 then closes the session.
        let response = fetch(addr, 13, fetch_request(wide, &[], session, 5, &[])).await;
        assert_eq!(ErrorCode::from_wire(response.error_code), ErrorCode::NONE);
        let response = fetch(addr, 13, fetch_request(wide, &[(0, 0)], session, -1, &[])).await;
        assert_eq!(response.session_id, 0);
        assert_eq!(partitions(&response).len(), 1);
        let response = fetch(addr, 13, fetch_request(wide, &[], session, 6, &[])).await;
        assert_eq!(
            ErrorCode::from_wire(response.error_code),
            ErrorCode::FETCH_SESSION_ID_NOT_FOUND
        );
    });
}

/// KIP-951 in Fetch v16: a partition this broker does not lead is NOT_LEADER_OR_FOLLOWER with
/// the leader it knows of (`current_leader`) and that leader's endpoint (`node_endpoints`).
#[test]
fn fetch_v16_names_the_leader_of_a_partition_led_elsewhere() {
    let topic = TopicAssignment {
        name: "split".into(),
        replicas: vec![vec![1], vec![2]],
        configs: Default::default(),
    };
    let endpoints: Vec<BrokerEndpoint> = [1, 2]
        .iter()
        .map(|&id| BrokerEndpoint {
            node_id: id,
            host: broker_addr(id).ip().to_string(),
            port: broker_addr(id).port() as i32,
        })
        .collect();
    let configs: Vec<BrokerConfig> = [1, 2]
        .iter()
        .map(|&id| {
            let mut config = BrokerConfig::single(id, broker_addr(id));
            config.brokers = endpoints.clone();
            config.topics = vec![topic.clone()];
            config
        })
        .collect();
    simulate_cluster(configs, |addrs, _clock| async move {
        let split = id_of(&topic_ids(addrs[0]).await, "split");
        assert_eq!(
            id_of(&topic_ids(addrs[1]).await, "split"),
            split,
            "one id everywhere"
        );
        let body = fetch_request(split, &[(0, 0), (1, 0)], 0, -1, &[]);
        let response = fetch(addrs[0], 16, body).await;
        let got = partitions(&response);
        assert_eq!(
            got.iter().map(|p| (p.1, p.2)).collect::<Vec<_>>(),
            vec![(0, ErrorCode::NONE), (1, ErrorCode::NOT_LEADER_OR_FOLLOWER)]
        );
        let moved = &response.responses[0].partitions[1];
        assert_eq!(moved.current_leader.leader_id.0, 2);
        assert_eq!(moved.current_leader.leader_epoch, 0);
        assert_eq!(response.node_endpoints.len(), 1);
        assert_eq!(response.node_endpoints[0].node_id.0, 2);
        assert_eq!(
            response.node_endpoints[0].port,
            broker_addr(2).port() as i32
        );
    });
}
