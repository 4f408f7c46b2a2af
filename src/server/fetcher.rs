//! The follower side of replication: one task per hosted replicated partition that, while
//! the replica follows someone, fetches from that leader with this broker's replica id,
//! appends what it gets, learns the high watermark, and truncates when its log runs past
//! the leader's. Under the leader-epoch rule (with a controller) a follower first asks the
//! leader where its latest epoch ends (OffsetForLeaderEpoch, KIP-101/279) and cuts its log
//! there, asking again for an older epoch until the two agree; under the high-watermark
//! rule it already cut to its HW when it became a follower.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, ListOffsetsRequest, OffsetForLeaderEpochRequest, RequestKind,
    ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::partition::{Offsets, PartitionHandle, RoleInfo};
use super::Broker;
use crate::client::connection::{ConnError, Connection};
use crate::protocol::codes::ErrorCode;
use crate::replication::{TruncationRule, TruncationStep};

const FETCH_VERSION: i16 = 11;
const LIST_OFFSETS_VERSION: i16 = 5;
const OFFSET_FOR_LEADER_EPOCH_VERSION: i16 = 3;
/// Bound on OffsetForLeaderEpoch rounds: each asks for an older epoch, and epochs are few.
const EPOCH_ROUNDS_MAX: usize = 64;
/// `replica.fetch.max.bytes` (Kafka's default).
const FETCH_BYTES_MAX: i32 = 1_048_576;
/// How long one replica request may take before the connection is considered dead.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Follow whoever leads one partition until the partition goes away.
pub async fn follow(broker: Arc<Broker>, topic: String, partition: i32, handle: PartitionHandle) {
    let mut roles = handle.subscribe_role();
    let client_id = format!("replica-{}", broker.config.node_id);
    loop {
        if broker.is_stopped() {
            return;
        }
        let role = handle.role();
        if role.leader < 0 || role.leader == broker.config.node_id {
            if roles.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(addr) = leader_addr(&broker, role.leader) else {
            tracing::warn!(
                topic,
                partition,
                leader = role.leader,
                "leader has no known address"
            );
            tokio::time::sleep(backoff(&broker)).await;
            continue;
        };
        let conn = match Connection::connect(addr, &client_id, 1, REQUEST_TIMEOUT).await {
            Ok(conn) => conn,
            Err(_) => {
                tokio::time::sleep(backoff(&broker)).await;
                continue;
            }
        };
        if let Err(error) = follow_leader(&broker, &conn, &topic, partition, &handle, role).await {
            tracing::debug!(topic, partition, %error, "replica fetcher reconnecting");
            tokio::time::sleep(backoff(&broker)).await;
        }
    }
}

/// Fetch from the leader of `role` until the role changes.
async fn follow_leader(
    broker: &Broker,
    conn: &Connection,
    topic: &str,
    partition: i32,
    handle: &PartitionHandle,
    role: RoleInfo,
) -> Result<(), ConnError> {
    let epoch_rule = broker.config.truncation == TruncationRule::LeaderEpoch;
    if broker.config.controller.is_some() && epoch_rule {
        truncate_by_epoch(broker, conn, topic, partition, handle, role).await?;
    }
    fetch_loop(broker, conn, topic, partition, handle, role).await
}

/// KIP-101/279: ask the leader where this replica's latest epoch ends, cut there, and ask
/// again for an older epoch until the two agree.
async fn truncate_by_epoch(
    broker: &Broker,
    conn: &Connection,
    topic: &str,
    partition: i32,
    handle: &PartitionHandle,
    role: RoleInfo,
) -> Result<(), ConnError> {
    let mut epoch = handle.latest_epoch().await;
    for _ in 0..EPOCH_ROUNDS_MAX {
        if epoch < 0 {
            return Ok(());
        }
        let answer = offset_for_leader_epoch(broker, conn, topic, partition, role, epoch).await?;
        match handle.truncate_by_epoch(answer).await {
            Ok(TruncationStep::AskAgain { epoch: older, .. }) => epoch = older,
            Ok(_) => return Ok(()),
            Err(code) => return Err(ConnError::Protocol(format!("truncation failed: {code}"))),
        }
    }
    Err(ConnError::Protocol(
        "epoch truncation did not converge".into(),
    ))
}

async fn offset_for_leader_epoch(
    broker: &Broker,
    conn: &Connection,
    topic: &str,
    partition: i32,
    role: RoleInfo,
    epoch: i32,
) -> Result<(i32, i64), ConnError> {
    let mut p = OffsetForLeaderPartition::default();
    p.partition = partition;
    p.current_leader_epoch = role.leader_epoch;
    p.leader_epoch = epoch;
    let mut t = OffsetForLeaderTopic::default();
    t.topic = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut request = OffsetForLeaderEpochRequest::default();
    request.replica_id = BrokerId(broker.config.node_id);
    request.topics = vec![t];
    let response = conn
        .request(
            RequestKind::OffsetForLeaderEpoch(request),
            ApiKey::OffsetForLeaderEpoch,
            OFFSET_FOR_LEADER_EPOCH_VERSION,
            REQUEST_TIMEOUT,
        )
        .await?;
    let ResponseKind::OffsetForLeaderEpoch(response) = response else {
        return Err(ConnError::Protocol(
            "unexpected response to OffsetForLeaderEpoch".into(),
        ));
    };
    let answer = response
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition == partition);
    match answer {
        Some(p) if p.error_code == ErrorCode::NONE => Ok((p.leader_epoch, p.end_offset)),
        Some(p) => Err(ConnError::Protocol(format!(
            "OffsetForLeaderEpoch error {}",
            p.error_code
        ))),
        None => Err(ConnError::Protocol(
            "partition missing from OffsetForLeaderEpoch".into(),
        )),
    }
}

fn leader_addr(broker: &Broker, leader: i32) -> Option<SocketAddr> {
    let endpoint = broker.config.brokers.iter().find(|b| b.node_id == leader)?;
    let ip = endpoint.host.parse().ok()?;
    Some(SocketAddr::new(ip, endpoint.port as u16))
}

/// The role changed (or the partition went away): this fetch loop is over.
fn role_changed(handle: &PartitionHandle, role: RoleInfo) -> bool {
    handle.role() != role
}

async fn fetch_loop(
    broker: &Broker,
    conn: &Connection,
    topic: &str,
    partition: i32,
    handle: &PartitionHandle,
    role: RoleInfo,
) -> Result<(), ConnError> {
    loop {
        if role_changed(handle, role) || broker.is_stopped() {
            return Ok(());
        }
        let offsets = handle.offsets();
        let mut request = fetch_request(broker, topic, partition, &offsets);
        let fetch_offset = offsets.log_end_offset;
        if crate::env::buggify(&broker.env, crate::env::Buggify::TinyFetch) {
            for p in request
                .topics
                .iter_mut()
                .flat_map(|t| t.partitions.iter_mut())
            {
                p.partition_max_bytes = 1;
            }
        }
        if crate::env::buggify(&broker.env, crate::env::Buggify::NoFetchWait) {
            request.max_wait_ms = 0;
        }
        if broker.config.controller.is_some() {
            request.topics[0].partitions[0].current_leader_epoch = role.leader_epoch;
        }
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
        match ErrorCode::from_wire(data.error_code) {
            ErrorCode::NONE => {
                let records = data.records.unwrap_or_default();
                if handle
                    .append_as_follower(records, data.high_watermark)
                    .await
                    .is_err()
                {
                    tokio::time::sleep(backoff(broker)).await;
                }
                // DeleteRecords on the leader: the follower's log starts there too.
                if data.log_start_offset > handle.offsets().log_start_offset {
                    handle.follow_log_start(data.log_start_offset).await;
                }
                broker.notify_appended();
            }
            ErrorCode::OFFSET_OUT_OF_RANGE => {
                // Kafka's `handleOutOfRangeError`. This log runs past the leader's (the leader
                // lost its tail): cut it back. Or it ends below the leader's log start
                // (DeleteRecords or retention removed what it lacks): restart it there.
                let leader_end = list_log_end(broker, conn, topic, partition).await?;
                let done = if leader_end < fetch_offset {
                    handle.truncate_to(leader_end).await.is_ok()
                } else {
                    let leader_start = list_log_start(broker, conn, topic, partition).await?;
                    leader_start > fetch_offset
                        && handle
                            .restart_at_leader_log_start(leader_start)
                            .await
                            .is_ok()
                };
                if !done {
                    tokio::time::sleep(backoff(broker)).await;
                }
            }
            _ => tokio::time::sleep(backoff(broker)).await,
        }
    }
}

/// `replica.fetch.backoff.ms`: the pause after an error.
fn backoff(broker: &Broker) -> Duration {
    Duration::from_millis(broker.config.replica_fetch_backoff_ms())
}

/// A follower's fetch from its log end, reporting its log start (which the leader's
/// DeleteRecords waits for).
fn fetch_request(broker: &Broker, topic: &str, partition: i32, offsets: &Offsets) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.fetch_offset = offsets.log_end_offset;
    p.current_leader_epoch = -1;
    p.last_fetched_epoch = -1;
    p.log_start_offset = offsets.log_start_offset;
    p.partition_max_bytes = FETCH_BYTES_MAX;
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut request = FetchRequest::default();
    request.replica_id = BrokerId(broker.config.node_id);
    request.max_wait_ms = broker.config.replica_fetch_wait_max_ms() as i32;
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
    list_offset(broker, conn, topic, partition, -1).await
}

/// The leader's log start offset (ListOffsets EARLIEST, as a replica asks).
async fn list_log_start(
    broker: &Broker,
    conn: &Connection,
    topic: &str,
    partition: i32,
) -> Result<i64, ConnError> {
    list_offset(broker, conn, topic, partition, -2).await
}

async fn list_offset(
    broker: &Broker,
    conn: &Connection,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<i64, ConnError> {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = timestamp;
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
        .find(|p| p.partition_index == partition && p.error_code == ErrorCode::NONE)
        .map(|p| p.offset)
        .ok_or_else(|| ConnError::Protocol(format!("no offset for {timestamp} from the leader")))
}
