//! OffsetForLeaderEpoch (KIP-101, with KIP-279's answer): for each partition, the largest
//! leader epoch ≤ the requested one that this leader knows, and the offset where it ends (the
//! start of the next epoch, or the log end for the latest). Followers use it to find where
//! their log diverges from the leader's before fetching. A request whose current leader epoch
//! is older than the leader's gets FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::protocol::codes::ErrorCode;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let mut response = OffsetForLeaderEpochResponse::default();
    for topic in request.topics {
        let name = topic.topic.0.to_string();
        let mut result = OffsetForLeaderTopicResult::default();
        result.topic = topic.topic.clone();
        for partition in topic.partitions {
            let mut answer = EpochEndOffset::default();
            answer.partition = partition.partition;
            answer.leader_epoch = -1;
            answer.end_offset = -1;
            match broker.partition(&name, partition.partition) {
                None => {
                    answer.error_code = broker
                        .missing_partition_code(&name, partition.partition)
                        .code()
                }
                Some(handle) if !handle.is_leader() => {
                    answer.error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER.code()
                }
                Some(handle) => {
                    let lookup = handle
                        .epoch_end_offset(partition.current_leader_epoch, partition.leader_epoch)
                        .await;
                    match lookup {
                        Ok((epoch, end_offset)) => {
                            answer.leader_epoch = epoch;
                            answer.end_offset = end_offset;
                        }
                        Err(code) => answer.error_code = code.code(),
                    }
                }
            }
            result.partitions.push(answer);
        }
        response.topics.push(result);
    }
    response
}
