//! Idempotent producers (KIP-98) over raw requests on one simulated broker: InitProducerId
//! hands out distinct ids (also after a restart), a retried batch is answered with its
//! original offset and stored once (also after a restart, from the state rebuilt from the
//! log), a gap is OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch INVALID_PRODUCER_EPOCH, and a
//! transactional id is refused while transactions do not exist.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, InitProducerIdRequest, ProduceRequest, ResponseKind, TransactionalId,
};
use kafkasim::protocol::ErrorCode;
use kafkasim::server::{BrokerConfig, TopicAssignment};
use kafkasim::storage::batch;
use kafkasim::storage::testing::{encode_batch_with_producer, TestRecord};
use kafkasim_sim::cluster::broker_addr;

mod support;
use support::*;

fn simulate<F, Fut>(client: F)
where
    F: FnOnce(SocketAddr) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut config = BrokerConfig::single(1, broker_addr(1));
    config.topics = vec![TopicAssignment {
        name: "t".into(),
        replicas: vec![vec![1]],
        // The batches carry timestamp 0 (1970): retention would delete them, producer state
        // and all, once a restart lets segment.ms roll the segment.
        configs: [("retention.ms".to_string(), "-1".to_string())].into(),
    }];
    simulate_cluster(vec![config], |addrs, _clock| client(addrs[0]));
}

/// InitProducerId at `version`: (error code, producer id, epoch).
async fn init_producer_id(
    addr: SocketAddr,
    version: i16,
    transactional_id: Option<&str>,
) -> (ErrorCode, i64, i16) {
    let mut body = InitProducerIdRequest::default();
    body.transactional_id = transactional_id.map(|id| TransactionalId(str_bytes(id)));
    body.transaction_timeout_ms = 60_000;
    let ResponseKind::InitProducerId(response) =
        send_request(addr, ApiKey::InitProducerId, version, body.into()).await
    else {
        panic!("not an InitProducerId response");
    };
    (
        ErrorCode::from_wire(response.error_code),
        response.producer_id.0,
        response.producer_epoch,
    )
}

/// Produce one batch of `count` records of producer (`id`, `epoch`) from `sequence`:
/// (error code, base offset).
async fn produce(
    addr: SocketAddr,
    id: i64,
    epoch: i16,
    sequence: i32,
    count: usize,
) -> (ErrorCode, i64) {
    let records: Vec<TestRecord> = (0..count)
        .map(|i| TestRecord::value(format!("{id}-{sequence}-{i}").as_bytes()))
        .collect();
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(encode_batch_with_producer(0, 0, 0, &records, id, epoch, sequence).into());
    let mut t = TopicProduceData::default();
    t.name = topic_name("t");
    t.partition_data = vec![p];
    let mut body = ProduceRequest::default();
    body.acks = -1;
    body.timeout_ms = 5_000;
    body.topic_data = vec![t];
    let ResponseKind::Produce(response) = send_request(addr, ApiKey::Produce, 9, body.into()).await
    else {
        panic!("not a Produce response");
    };
    let p = &response.responses[0].partition_responses[0];
    (ErrorCode::from_wire(p.error_code), p.base_offset)
}

/// Every batch of t-0 as (producer id, base sequence, base offset).
async fn log_batches(addr: SocketAddr) -> Vec<(i64, i32, i64)> {
    let mut p = FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = 0;
    p.partition_max_bytes = 1_048_576;
    let mut t = FetchTopic::default();
    t.topic = topic_name("t");
    t.partitions = vec![p];
    let mut body = FetchRequest::default();
    body.replica_id = (-1).into();
    body.max_wait_ms = 10;
    body.max_bytes = 1_048_576;
    body.topics = vec![t];
    let ResponseKind::Fetch(response) = send_request(addr, ApiKey::Fetch, 12, body.into()).await
    else {
        panic!("not a Fetch response");
    };
    let records = response.responses[0].partitions[0]
        .records
        .clone()
        .unwrap_or_default();
    batch::split(&records)
        .expect("whole batches")
        .into_iter()
        .map(|(_, h)| (h.producer_id, h.base_sequence, h.base_offset))
        .collect()
}

#[test]
fn a_retried_batch_is_stored_once_and_answered_with_its_offset() {
    simulate(|addr| async move {
        let (code, id, epoch) = init_producer_id(addr, 4, None).await;
        assert_eq!((code, epoch), (ErrorCode::NONE, 0));
        assert!(id >= 0);
        assert_eq!(produce(addr, id, 0, 0, 3).await, (ErrorCode::NONE, 0));
        assert_eq!(produce(addr, id, 0, 3, 2).await, (ErrorCode::NONE, 3));
        // The same batch again (a retry after a lost response): its first offset, no copy.
        assert_eq!(produce(addr, id, 0, 0, 3).await, (ErrorCode::NONE, 0));
        assert_eq!(produce(addr, id, 0, 3, 2).await, (ErrorCode::NONE, 3));
        assert_eq!(log_batches(addr).await, vec![(id, 0, 0), (id, 3, 3)]);
        // A gap, and an epoch older than the one the partition knows.
        let (code, _) = produce(addr, id, 0, 7, 1).await;
        assert_eq!(code, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_eq!(produce(addr, id, 1, 0, 1).await, (ErrorCode::NONE, 5));
        let (code, _) = produce(addr, id, 0, 5, 1).await;
        assert_eq!(code, ErrorCode::INVALID_PRODUCER_EPOCH);
        assert_eq!(log_batches(addr).await.len(), 3);

        // After a restart the state is rebuilt from the log: the retry is still recognised,
        // and a new producer id differs from every earlier one.
        restart_broker(1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(produce(addr, id, 1, 0, 1).await, (ErrorCode::NONE, 5));
        let (code, _) = produce(addr, id, 1, 2, 1).await;
        assert_eq!(code, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_eq!(log_batches(addr).await.len(), 3);
        let (code, second, _) = init_producer_id(addr, 0, None).await;
        assert_eq!(code, ErrorCode::NONE);
        assert_ne!(second, id, "a restarted broker hands out a fresh id");
        let (_, third, _) = init_producer_id(addr, 2, None).await;
        assert!(third != second && third != id);
    });
}

#[test]
fn a_transactional_id_is_refused_until_transactions_exist() {
    simulate(|addr| async move {
        let (code, id, _) = init_producer_id(addr, 3, Some("txn")).await;
        assert_eq!((code, id), (ErrorCode::COORDINATOR_NOT_AVAILABLE, -1));
        let (code, _, _) = init_producer_id(addr, 1, Some("")).await;
        assert_eq!(code, ErrorCode::INVALID_REQUEST);
    });
}
