//! ListOffsets: earliest (-2) is the log start offset, latest (-1) the high watermark,
//! anything else the first offset whose batch timestamp is at or after it.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::protocol::codes;
use crate::server::Broker;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

pub async fn handle(broker: &Broker, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut response = ListOffsetsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str().to_string();
        let mut out = ListOffsetsTopicResponse::default();
        out.name = topic.name.clone();
        for partition in topic.partitions {
            let mut p = ListOffsetsPartitionResponse::default();
            p.partition_index = partition.partition_index;
            p.timestamp = -1;
            p.offset = -1;
            p.leader_epoch = 0;
            match broker.partition(&name, partition.partition_index) {
                None => {
                    let known = broker.topics().iter().any(|t| t.name == name);
                    p.error_code = if known {
                        codes::NOT_LEADER_OR_FOLLOWER
                    } else {
                        codes::UNKNOWN_TOPIC_OR_PARTITION
                    };
                }
                Some(handle) => {
                    let offsets = handle.offsets();
                    match partition.timestamp {
                        EARLIEST => p.offset = offsets.log_start_offset,
                        LATEST => p.offset = offsets.high_watermark,
                        ts => match handle.offset_for_timestamp(ts).await {
                            Ok((offset, timestamp))
                                if offset >= 0 && offset < offsets.high_watermark =>
                            {
                                p.offset = offset;
                                p.timestamp = timestamp;
                            }
                            Ok(_) => {}
                            Err(code) => p.error_code = code,
                        },
                    }
                }
            }
            out.partitions.push(p);
        }
        response.topics.push(out);
    }
    response
}
