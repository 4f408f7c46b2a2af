//! Fetch: read whole batches below the high watermark from each requested partition (a
//! follower's fetch reads to the log end); if fewer than `min_bytes` are available, wait (the
//! fetch purgatory) until more is appended or `max_wait_ms` passes.
//!
//! Byte limits as Kafka's `ReplicaManager.readFromLog` (KIP-74): the response carries at most
//! the request's `max_bytes` (a negative value counts as 0), capped by the broker's
//! `fetch.max.bytes`; partitions are read in request order, each up to the smaller of its `partition_max_bytes` and what is left of the
//! request's `max_bytes`; only the first partition to return data may exceed that, and only by
//! its first batch, so a consumer can always make progress past a batch larger than its limits.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};

use crate::protocol::codes::ErrorCode;
use crate::server::partition::ReadLimit;
use crate::server::Broker;

/// Upper bound on how long one fetch may wait, whatever the client asks.
const FETCH_WAIT_MAX: Duration = Duration::from_secs(30);

pub async fn handle(broker: &Broker, request: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(FETCH_WAIT_MAX);
    let deadline = tokio::time::Instant::now() + wait;
    let mut appended = broker.appended.subscribe();
    loop {
        appended.borrow_and_update();
        let (response, bytes) = read_all(broker, &request).await;
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
            return read_all(broker, &request).await.0;
        }
    }
}

fn has_error(response: &FetchResponse) -> bool {
    response
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .any(|p| p.error_code != ErrorCode::NONE)
}

async fn read_all(broker: &Broker, request: &FetchRequest) -> (FetchResponse, usize) {
    let mut response = FetchResponse::default();
    let mut budget = (request.max_bytes.max(0) as usize).min(broker.config.fetch_max_bytes());
    let mut total = 0usize;
    // Until some partition has returned data, a read returns its first batch whatever its size.
    let mut min_one = true;
    for topic in &request.topics {
        let name = topic.topic.0.as_str();
        let mut out = FetchableTopicResponse::default();
        out.topic = topic.topic.clone();
        for partition in &topic.partitions {
            let mut p = PartitionData::default();
            p.partition_index = partition.partition;
            p.high_watermark = -1;
            p.last_stable_offset = -1;
            p.log_start_offset = -1;
            p.aborted_transactions = Some(Vec::new());
            p.preferred_read_replica = (-1).into();
            match broker.partition(name, partition.partition) {
                None => {
                    p.error_code = broker
                        .missing_partition_code(name, partition.partition)
                        .code();
                }
                Some(handle) => {
                    let limit = ReadLimit {
                        max_bytes: (partition.partition_max_bytes.max(0) as usize).min(budget),
                        min_one,
                    };
                    let read = if request.replica_id.0 >= 0 {
                        // A follower's fetch: it reads up to the log end and reports its own.
                        let before = handle.offsets().high_watermark;
                        let read = handle
                            .replica_read(
                                request.replica_id.0,
                                partition.current_leader_epoch,
                                partition.fetch_offset,
                                limit,
                            )
                            .await;
                        if read.offsets.high_watermark > before {
                            broker.notify_appended();
                        }
                        read
                    } else {
                        let read = handle.read(partition.fetch_offset, limit).await;
                        observe_served(broker, name, partition.partition, &read);
                        read
                    };
                    p.error_code = read.error_code.code();
                    p.high_watermark = read.offsets.high_watermark;
                    p.last_stable_offset = read.offsets.high_watermark;
                    p.log_start_offset = read.offsets.log_start_offset;
                    total += read.records.len();
                    budget = budget.saturating_sub(read.records.len());
                    min_one &= read.records.is_empty()
                        || broker.config.planted.fetch_ignores_response_limit;
                    p.records = Some(read.records);
                }
            }
            if p.records.is_none() {
                p.records = Some(Bytes::new());
            }
            out.partitions.push(p);
        }
        response.responses.push(out);
    }
    (response, total)
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
