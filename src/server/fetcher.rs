//! The follower side of replication: one task per followed partition that fetches from the
//! leader with this broker's replica id, appends what it gets, learns the high watermark, and
//! truncates when its log runs past the leader's (the leader's log end is the truth for a
//! follower in this build's static leadership).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, ListOffsetsRequest, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::partition::PartitionHandle;
use super::Broker;
use crate::client::connection::{ConnError, Connection};
use crate::protocol::codes;

const FETCH_VERSION: i16 = 11;
const LIST_OFFSETS_VERSION: i16 = 5;
/// `replica.fetch.wait.max.ms` (Kafka's default).
const FETCH_WAIT_MAX: Duration = Duration::from_millis(500);
/// `replica.fetch.max.bytes` (Kafka's default).
const FETCH_BYTES_MAX: i32 = 1_048_576;
/// How long one replica request may take before the connection is considered dead.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// `replica.fetch.backoff.ms`: the pause after an error.
const BACKOFF: Duration = Duration::from_millis(250);

/// Follow `leader` for one partition until the broker process dies.
pub async fn follow(
    broker: Arc<Broker>,
    topic: String,
    partition: i32,
    leader: i32,
    handle: PartitionHandle,
) {
    let Some(addr) = leader_addr(&broker, leader) else {
        tracing::error!(
            topic,
            partition,
            leader,
            "leader has no known address; not following"
        );
        return;
    };
    let client_id = format!("replica-{}", broker.config.node_id);
    loop {
        let conn = match Connection::connect(addr, &client_id, 1, REQUEST_TIMEOUT).await {
            Ok(conn) => conn,
            Err(_) => {
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        if let Err(error) = fetch_loop(&broker, &conn, &topic, partition, &handle).await {
            tracing::debug!(topic, partition, %error, "replica fetcher reconnecting");
        }
        tokio::time::sleep(BACKOFF).await;
    }
}

fn leader_addr(broker: &Broker, leader: i32) -> Option<SocketAddr> {
    let endpoint = broker.config.brokers.iter().find(|b| b.node_id == leader)?;
    let ip = endpoint.host.parse().ok()?;
    Some(SocketAddr::new(ip, endpoint.port as u16))
}

async fn fetch_loop(
    broker: &Broker,
    conn: &Connection,
    topic: &str,
    partition: i32,
    handle: &PartitionHandle,
) -> Result<(), ConnError> {
    loop {
        let fetch_offset = handle.offsets().log_end_offset;
        let request = fetch_request(broker.config.node_id, topic, partition, fetch_offset);
        let response = conn
            .request(
                RequestKind::Fetch(request),
                ApiKey::Fetch,
                FETCH_VERSION,
                REQUEST_TIMEOUT,
            )
            .await?;
        let ResponseKind::Fetch(response) = response else {
            return Err(ConnError::Protocol("unexpected response to Fetch".into()));
        };
        let Some(data) = response
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == partition)
        else {
            return Err(ConnError::Protocol(
                "partition missing from Fetch response".into(),
            ));
        };
        match data.error_code {
            codes::NONE => {
                let records = data.records.unwrap_or_default();
                if handle
                    .append_as_follower(records, data.high_watermark)
                    .await
                    .is_err()
                {
                    tokio::time::sleep(BACKOFF).await;
                }
                broker.notify_appended();
            }
            codes::OFFSET_OUT_OF_RANGE => {
                // This log runs past the leader's (the leader lost its tail): cut it back.
                let leader_end = list_log_end(broker, conn, topic, partition).await?;
                if leader_end < fetch_offset && handle.truncate_to(leader_end).await.is_err() {
                    tokio::time::sleep(BACKOFF).await;
                }
            }
            _ => tokio::time::sleep(BACKOFF).await,
        }
    }
}

fn fetch_request(replica: i32, topic: &str, partition: i32, fetch_offset: i64) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.fetch_offset = fetch_offset;
    p.current_leader_epoch = -1;
    p.last_fetched_epoch = -1;
    p.log_start_offset = -1;
    p.partition_max_bytes = FETCH_BYTES_MAX;
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut request = FetchRequest::default();
    request.replica_id = BrokerId(replica);
    request.max_wait_ms = FETCH_WAIT_MAX.as_millis() as i32;
    request.min_bytes = 1;
    request.max_bytes = FETCH_BYTES_MAX;
    request.session_id = 0;
    request.session_epoch = -1;
    request.topics = vec![t];
    request
}

/// The leader's log end offset (ListOffsets latest, asked as a replica).
async fn list_log_end(
    broker: &Broker,
    conn: &Connection,
    topic: &str,
    partition: i32,
) -> Result<i64, ConnError> {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = -1;
    p.current_leader_epoch = -1;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut request = ListOffsetsRequest::default();
    request.replica_id = BrokerId(broker.config.node_id);
    request.topics = vec![t];
    let response = conn
        .request(
            RequestKind::ListOffsets(request),
            ApiKey::ListOffsets,
            LIST_OFFSETS_VERSION,
            REQUEST_TIMEOUT,
        )
        .await?;
    let ResponseKind::ListOffsets(response) = response else {
        return Err(ConnError::Protocol(
            "unexpected response to ListOffsets".into(),
        ));
    };
    response
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == partition && p.error_code == codes::NONE)
        .map(|p| p.offset)
        .ok_or_else(|| ConnError::Protocol("no log end offset from the leader".into()))
}
