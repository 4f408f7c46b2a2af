//! DeleteRecords: move each partition's log start offset up to the requested offset (-1: the
//! high watermark) on its leader, and answer the new log start offset as the low watermark.
//! As Kafka: OFFSET_OUT_OF_RANGE past the high watermark or below -1, NOT_LEADER_OR_FOLLOWER
//! on a follower (or a broker not hosting a partition the cluster has),
//! UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not exist; the low watermark
//! of a refused partition is -1.
//!
//! Kafka waits (up to `timeout_ms`) until every live replica's log start reached the offset
//! and answers the lowest; kafkasim answers the leader's at once, and its followers move
//! their log start to the leader's on their next fetch (see `server::fetcher`).

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::server::Broker;

/// Kafka's `DeleteRecordsResponse.INVALID_LOW_WATERMARK`.
const INVALID_LOW_WATERMARK: i64 = -1;

pub async fn handle(broker: &Broker, request: DeleteRecordsRequest) -> DeleteRecordsResponse {
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
                Some(handle) => handle.delete_records(partition.offset).await,
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
