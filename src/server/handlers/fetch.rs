//! Fetch: read whole batches below the high watermark from each requested partition (a
//! follower's fetch reads to the log end); if fewer than `min_bytes` are available, wait (the
//! fetch purgatory) until more is appended or `max_wait_ms` passes.
//!
//! Byte limits as Kafka's `ReplicaManager.readFromLog` (KIP-74): the response carries at most
//! the request's `max_bytes` (a negative value counts as 0), capped by the broker's
//! `fetch.max.bytes`; partitions are read in request order, each up to the smaller of its `partition_max_bytes` and what is left of the
//! request's `max_bytes`; only the first partition to return data may exceed that, and only by
//! its first batch, so a consumer can always make progress past a batch larger than its limits.
//!
//! Fetch sessions (KIP-227, [`crate::server::fetch_session`]): a request with epoch 0 creates
//! a session, later ones name only what changed and get only partitions with something new; the
//! partitions are then read in session order, under the same byte rule. From v13 topics are
//! named by id (KIP-516): an id this broker does not know is UNKNOWN_TOPIC_ID; a session
//! partition whose topic was deleted and re-created under its name (a new id) is
//! INCONSISTENT_TOPIC_ID. v15 moves the replica id into `replica_state`. A partition answered
//! NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH names the leader this broker knows of, and
//! v16 adds that leader's endpoint (KIP-951).

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    FetchableTopicResponse, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};

use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::fetch_session::{
    FetchContext, ReadPartition, RequestedPartition, SessionKey, SessionRequest,
};
use crate::server::partition::ReadLimit;
use crate::server::Broker;

/// Upper bound on how long one fetch may wait, whatever the client asks.
const FETCH_WAIT_MAX: Duration = Duration::from_secs(30);

/// The first version that names topics by id.
const TOPIC_IDS_SINCE: i16 = 13;

pub async fn handle(broker: &Broker, request: FetchRequest, version: i16) -> FetchResponse {
    let replica_id = if version >= 15 {
        request.replica_state.replica_id.0
    } else {
        request.replica_id.0
    };
    let uses_topic_ids = version >= TOPIC_IDS_SINCE;
    let session = SessionRequest {
        session_id: request.session_id,
        epoch: request.session_epoch,
        uses_topic_ids,
        privileged: replica_id >= 0,
    };
    // A topic's part of the session key, resolved once per topic of the request.
    let topic_key = |name: &TopicName, id: uuid::Uuid| -> (u128, String) {
        if uses_topic_ids {
            let name = broker.topic_name(id.as_u128()).unwrap_or_default();
            (id.as_u128(), name)
        } else {
            (0, name.0.to_string())
        }
    };
    let mut requested: Vec<RequestedPartition> = Vec::new();
    for t in &request.topics {
        let (id, name) = topic_key(&t.topic, t.topic_id);
        requested.extend(t.partitions.iter().map(|p| RequestedPartition {
            key: (id, name.clone(), p.partition),
            fetch_offset: p.fetch_offset,
            partition_max_bytes: p.partition_max_bytes,
            current_leader_epoch: p.current_leader_epoch,
            log_start_offset: p.log_start_offset,
        }));
    }
    let mut forgotten: Vec<SessionKey> = Vec::new();
    for t in &request.forgotten_topics_data {
        let (id, name) = topic_key(&t.topic, t.topic_id);
        forgotten.extend(t.partitions.iter().map(|&p| (id, name.clone(), p)));
    }
    let now_ms = broker.monotonic_ms();
    let context =
        (broker.fetch_sessions.lock().unwrap()).begin(session, requested, &forgotten, now_ms);
    let mut response = FetchResponse::default();
    if let FetchContext::Error(code) = context {
        response.error_code = code.code();
        return response;
    }
    let reads = read_waiting(broker, &request, replica_id, context.partitions()).await;
    let summary: Vec<ReadPartition> = reads.iter().map(|(k, p)| summarize(k, p)).collect();
    let send: Vec<(SessionKey, PartitionData)> = match &context {
        FetchContext::Full(partitions) => {
            let mut cache = broker.fetch_sessions.lock().unwrap();
            let new_id = || madsim::rand::random::<i32>();
            response.session_id = cache.create(session, partitions, &summary, now_ms, new_id);
            reads
        }
        FetchContext::Incremental { session_id, .. } => {
            response.session_id = *session_id;
            let keep = (broker.fetch_sessions.lock().unwrap()).finish(*session_id, &summary);
            let keep: std::collections::BTreeSet<SessionKey> = keep.into_iter().collect();
            reads
                .into_iter()
                .filter(|(k, _)| keep.contains(k))
                .collect()
        }
        FetchContext::Sessionless(_) | FetchContext::Error(_) => reads,
    };
    let mut send = send;
    let leaders = name_leaders(broker, &mut send);
    if version >= 16 {
        response.node_endpoints = endpoints(broker, &leaders);
    }
    response.responses = group_by_topic(send, uses_topic_ids);
    response
}

/// KIP-951: a partition answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH names the leader
/// this broker knows of (`current_leader`, a tagged field from v12), so a client can go there
/// without asking Metadata first. Returns those leaders' ids.
fn name_leaders(
    broker: &Broker,
    partitions: &mut [(SessionKey, PartitionData)],
) -> std::collections::BTreeSet<i32> {
    let mut leaders = std::collections::BTreeSet::new();
    let moved = |p: &PartitionData| {
        let code = ErrorCode::from_wire(p.error_code);
        code == ErrorCode::NOT_LEADER_OR_FOLLOWER || code == ErrorCode::FENCED_LEADER_EPOCH
    };
    if !partitions.iter().any(|(_, p)| moved(p)) {
        return leaders;
    }
    let metadata = broker.metadata();
    for ((_, name, index), p) in partitions.iter_mut() {
        if !moved(p) {
            continue;
        }
        let live = metadata.as_ref().and_then(|m| m.partition(name, *index));
        let leader = match live {
            Some(live) => Some((live.leader, live.leader_epoch)),
            // The static cluster map: the first replica leads, at epoch 0.
            None if metadata.is_none() => broker
                .topic(name)
                .and_then(|t| t.replicas.get(*index as usize)?.first().copied())
                .map(|leader| (leader, 0)),
            None => None,
        };
        if let Some((leader, epoch)) = leader.filter(|(leader, _)| *leader >= 0) {
            p.current_leader.leader_id = leader.into();
            p.current_leader.leader_epoch = epoch;
            leaders.insert(leader);
        }
    }
    leaders
}

/// The endpoints of these brokers, for Fetch v16's `node_endpoints`.
fn endpoints(broker: &Broker, ids: &std::collections::BTreeSet<i32>) -> Vec<NodeEndpoint> {
    (broker.config.brokers.iter())
        .filter(|b| ids.contains(&b.node_id))
        .map(|b| {
            let mut out = NodeEndpoint::default();
            out.node_id = b.node_id.into();
            out.host = str_bytes(&b.host);
            out.port = b.port;
            out
        })
        .collect()
}

/// What the session needs to know of one partition's answer.
fn summarize(key: &SessionKey, p: &PartitionData) -> ReadPartition {
    ReadPartition {
        key: key.clone(),
        error_code: ErrorCode::from_wire(p.error_code),
        high_watermark: p.high_watermark,
        last_stable_offset: p.last_stable_offset,
        log_start_offset: p.log_start_offset,
        record_bytes: p.records.as_ref().map_or(0, |r| r.len()),
    }
}

/// The partitions in read order, consecutive ones of a topic under one topic entry (named
/// by id from v13, by name before).
fn group_by_topic(
    partitions: Vec<(SessionKey, PartitionData)>,
    uses_topic_ids: bool,
) -> Vec<FetchableTopicResponse> {
    let mut out: Vec<FetchableTopicResponse> = Vec::new();
    let mut last: Option<(u128, String)> = None;
    for ((id, name, _), data) in partitions {
        let topic = (id, name);
        if last.as_ref() != Some(&topic) {
            let mut entry = FetchableTopicResponse::default();
            if uses_topic_ids {
                entry.topic_id = uuid::Uuid::from_u128(topic.0);
            } else {
                entry.topic = TopicName(str_bytes(&topic.1));
            }
            out.push(entry);
            last = Some(topic);
        }
        out.last_mut().expect("pushed above").partitions.push(data);
    }
    out
}

/// Read `partitions`, waiting for `min_bytes` as the request allows.
async fn read_waiting(
    broker: &Broker,
    request: &FetchRequest,
    replica_id: i32,
    partitions: &[RequestedPartition],
) -> Vec<(SessionKey, PartitionData)> {
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(FETCH_WAIT_MAX);
    let deadline = tokio::time::Instant::now() + wait;
    let mut appended = broker.appended.subscribe();
    loop {
        appended.borrow_and_update();
        let (response, bytes) = read_all(broker, request, replica_id, partitions).await;
        let now = tokio::time::Instant::now();
        if bytes >= request.min_bytes.max(0) as usize || now >= deadline || has_error(&response) {
            return response;
        }
        // Woken by any append on this broker; re-read then. A timeout ends the wait.
        if tokio::time::timeout(
            deadline.saturating_duration_since(tokio::time::Instant::now()),
            appended.changed(),
        )
        .await
        .is_err()
        {
            return read_all(broker, request, replica_id, partitions).await.0;
        }
    }
}

fn has_error(response: &[(SessionKey, PartitionData)]) -> bool {
    response
        .iter()
        .any(|(_, p)| p.error_code != ErrorCode::NONE.code())
}

/// The name to read a partition under, or the code that says why there is none: an id no
/// topic has is UNKNOWN_TOPIC_ID; a name whose topic now has another id (deleted and
/// re-created since the session learned it) INCONSISTENT_TOPIC_ID.
fn resolve(broker: &Broker, (id, name, _): &SessionKey) -> Result<String, ErrorCode> {
    if *id == 0 {
        return Ok(name.clone());
    }
    if name.is_empty() {
        return broker.topic_name(*id).ok_or(ErrorCode::UNKNOWN_TOPIC_ID);
    }
    match broker.topic_id(name) {
        Some(current) if current == *id => Ok(name.clone()),
        Some(_) => Err(ErrorCode::INCONSISTENT_TOPIC_ID),
        None => Err(ErrorCode::UNKNOWN_TOPIC_ID),
    }
}

async fn read_all(
    broker: &Broker,
    request: &FetchRequest,
    replica_id: i32,
    partitions: &[RequestedPartition],
) -> (Vec<(SessionKey, PartitionData)>, usize) {
    let mut out = Vec::with_capacity(partitions.len());
    let mut budget = (request.max_bytes.max(0) as usize).min(broker.config.fetch_max_bytes());
    let mut total = 0usize;
    // Until some partition has returned data, a read returns its first batch whatever its size.
    let mut min_one = true;
    for partition in partitions {
        let index = partition.key.2;
        let mut p = PartitionData::default();
        p.partition_index = index;
        p.high_watermark = -1;
        p.last_stable_offset = -1;
        p.log_start_offset = -1;
        p.aborted_transactions = Some(Vec::new());
        p.preferred_read_replica = (-1).into();
        let name = resolve(broker, &partition.key);
        match name
            .as_ref()
            .map(|name| (name, broker.partition(name, index)))
        {
            Err(code) => p.error_code = code.code(),
            Ok((name, None)) => {
                p.error_code = broker.missing_partition_code(name, index).code();
            }
            Ok((name, Some(handle))) => {
                let limit = ReadLimit {
                    max_bytes: (partition.partition_max_bytes.max(0) as usize).min(budget),
                    min_one,
                };
                let read = if replica_id >= 0 {
                    // A follower's fetch: it reads up to the log end and reports its own.
                    let before = handle.offsets().high_watermark;
                    let read = handle
                        .replica_read(
                            replica_id,
                            partition.current_leader_epoch,
                            (partition.fetch_offset, partition.log_start_offset),
                            limit,
                        )
                        .await;
                    if read.offsets.high_watermark > before {
                        broker.notify_appended();
                    }
                    read
                } else {
                    let read = handle.read(partition.fetch_offset, limit).await;
                    observe_served(broker, name, index, &read);
                    read
                };
                p.error_code = read.error_code.code();
                p.high_watermark = read.offsets.high_watermark;
                p.last_stable_offset = read.offsets.high_watermark;
                p.log_start_offset = read.offsets.log_start_offset;
                total += read.records.len();
                budget = budget.saturating_sub(read.records.len());
                min_one &=
                    read.records.is_empty() || broker.config.planted.fetch_ignores_response_limit;
                p.records = Some(read.records);
            }
        }
        if p.records.is_none() {
            p.records = Some(Bytes::new());
        }
        out.push((partition.key.clone(), p));
    }
    (out, total)
}

/// Report the offsets a client fetch was served, for the online checkers.
fn observe_served(
    broker: &Broker,
    topic: &str,
    partition: i32,
    read: &crate::server::partition::ReadResult,
) {
    let Ok(batches) = crate::storage::batch::split(&read.records) else {
        return;
    };
    let (Some((_, first)), Some((_, last))) = (batches.first(), batches.last()) else {
        return;
    };
    broker
        .env
        .trace
        .observe(&crate::env::Observation::ClientFetchServed {
            tp: (topic, partition),
            first: first.base_offset,
            last: last.last_offset(),
            high_watermark: read.offsets.high_watermark,
        });
}
