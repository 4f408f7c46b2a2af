//! Produce: validate acks, append each partition's batches through its owner, answer with
//! the base offset. acks=all waits for the high watermark to pass the batch; with a single
//! replica (its own ISR) that is the moment the append returns.

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use crate::protocol::codes;
use crate::server::Broker;

pub async fn handle(broker: &Broker, request: ProduceRequest) -> ProduceResponse {
    let acks_valid = matches!(request.acks, -1..=1);
    let mut response = ProduceResponse::default();
    for topic in request.topic_data {
        let name = topic.name.0.as_str().to_string();
        let known = broker.topics().iter().any(|t| t.name == name);
        let mut out = TopicProduceResponse::default();
        out.name = topic.name.clone();
        for partition in topic.partition_data {
            let mut p = PartitionProduceResponse::default();
            p.index = partition.index;
            p.base_offset = -1;
            p.log_append_time_ms = -1;
            p.log_start_offset = -1;
            p.error_code = if !acks_valid {
                codes::INVALID_REQUIRED_ACKS
            } else if !known {
                codes::UNKNOWN_TOPIC_OR_PARTITION
            } else {
                match (broker.partition(&name, partition.index), partition.records) {
                    (None, _) => broker.missing_partition_code(&name, partition.index),
                    (Some(_), None) => codes::INVALID_RECORD,
                    (Some(handle), Some(records)) => match handle.append(records).await {
                        Ok(info) => {
                            broker.notify_appended();
                            p.base_offset = info.base_offset;
                            p.log_start_offset = handle.offsets().log_start_offset;
                            codes::NONE
                        }
                        Err(code) => code,
                    },
                }
            };
            out.partition_responses.push(p);
        }
        response.responses.push(out);
    }
    response
}
