//! DeleteRecords: move each partition's log start offset up to the requested offset (-1: the
//! high watermark) on its leader, and answer the new log start offset as the low watermark.
//! As Kafka: OFFSET_OUT_OF_RANGE past the high watermark or below -1, NOT_LEADER_OR_FOLLOWER
//! on a follower (or a broker not hosting a partition the cluster has),
//! UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not exist; the low watermark
//! of a refused partition is -1.
//!
//! As Kafka's DelayedDeleteRecords, the answer waits (up to `timeout_ms`) until the low
//! watermark — the least log start offset over the leader and its ISR followers, as their
//! fetches report it — reaches the new log start, and then answers it; past the timeout the
//! partition is REQUEST_TIMED_OUT. Followers move their log start to the leader's on their
//! next fetch (see `server::fetcher`) and report it on the one after.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use std::time::Duration;

use crate::protocol::codes::ErrorCode;
use crate::server::partition::PartitionHandle;
use crate::server::Broker;

/// Kafka's `DeleteRecordsResponse.INVALID_LOW_WATERMARK`.
const INVALID_LOW_WATERMARK: i64 = -1;

/// How often a waiting DeleteRecords looks at the low watermark again.
const LOW_WATERMARK_POLL: Duration = Duration::from_millis(50);

pub async fn handle(broker: &Broker, request: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let wait = Duration::from_millis(request.timeout_ms.max(0) as u64);
    let deadline = tokio::time::Instant::now() + wait;
    let mut response = DeleteRecordsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str().to_string();
        let mut out = DeleteRecordsTopicResult::default();
        out.name = topic.name.clone();
        for partition in topic.partitions {
            let index = partition.partition_index;
            let mut p = DeleteRecordsPartitionResult::default();
            p.partition_index = index;
            let result = match broker.partition(&name, index) {
                None => Err(broker.missing_partition_code(&name, index)),
                Some(handle) => match handle.delete_records(partition.offset).await {
                    Ok(start) => wait_for_low_watermark(&handle, start, deadline).await,
                    Err(code) => Err(code),
                },
            };
            match result {
                Ok(low_watermark) => p.low_watermark = low_watermark,
                Err(code) => {
                    p.error_code = code.code();
                    p.low_watermark = INVALID_LOW_WATERMARK;
                }
            }
            out.partitions.push(p);
        }
        response.topics.push(out);
    }
    response
}

/// The delayed DeleteRecords: the low watermark once it reached `log_start_offset`, or
/// REQUEST_TIMED_OUT at `deadline` (checked at least once, so a zero timeout still answers a
/// partition whose replicas all have it).
async fn wait_for_low_watermark(
    handle: &PartitionHandle,
    log_start_offset: i64,
    deadline: tokio::time::Instant,
) -> Result<i64, ErrorCode> {
    loop {
        if let Some(low) = handle.low_watermark().await? {
            if low >= log_start_offset {
                return Ok(low);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ErrorCode::REQUEST_TIMED_OUT);
        }
        tokio::time::sleep(LOW_WATERMARK_POLL).await;
    }
}
