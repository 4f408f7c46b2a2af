//! Produce: validate acks, append each partition's batches through its owner, answer with
//! the base offset. acks=all is checked against the ISR before the append
//! (NOT_ENOUGH_REPLICAS) and then waits in the purgatory until the high watermark passes the
//! batch (or the ISR fell below min.insync.replicas: NOT_ENOUGH_REPLICAS_AFTER_APPEND, or the
//! request's timeout: REQUEST_TIMED_OUT). With a single replica the wait ends at once.

use std::time::Duration;

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use crate::env::{buggify, Buggify, Observation};
use crate::protocol::codes::ErrorCode;
use crate::replication::ACKS_ALL;
use crate::server::Broker;

/// How late BUGGIFY's late purgatory completion answers a completed acks=all produce.
const LATE_PURGATORY: Duration = Duration::from_millis(200);

/// Upper bound on how long an acks=all produce waits, whatever the client asks.
const ACKS_WAIT_MAX: Duration = Duration::from_secs(120);

pub async fn handle(broker: &Broker, request: ProduceRequest) -> ProduceResponse {
    let acks_valid = matches!(request.acks, -1..=1);
    let timeout = Duration::from_millis(request.timeout_ms.max(0) as u64).min(ACKS_WAIT_MAX);
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
            let code = if !acks_valid {
                ErrorCode::INVALID_REQUIRED_ACKS
            } else if !known {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            } else {
                let spurious = buggify(&broker.env, Buggify::SpuriousRetriableError);
                match (broker.partition(&name, partition.index), partition.records) {
                    (None, _) => broker.missing_partition_code(&name, partition.index),
                    (Some(_), None) => ErrorCode::INVALID_RECORD,
                    // Refused before the append: the client sees a retriable error and retries.
                    (Some(_), Some(_)) if spurious => ErrorCode::NOT_LEADER_OR_FOLLOWER,
                    (Some(handle), Some(records)) => {
                        match handle.append(records, request.acks).await {
                            Ok(info) => {
                                broker.notify_appended();
                                p.base_offset = info.base_offset;
                                p.log_start_offset = handle.offsets().log_start_offset;
                                if request.acks == ACKS_ALL {
                                    let code =
                                        handle.wait_for_replicas(info.last_offset, timeout).await;
                                    if buggify(&broker.env, Buggify::LatePurgatory) {
                                        tokio::time::sleep(LATE_PURGATORY).await;
                                    }
                                    if code == ErrorCode::NONE {
                                        broker.env.trace.observe(
                                            &Observation::AcksAllAcknowledged {
                                                tp: (&name, partition.index),
                                                last_offset: info.last_offset,
                                                min_insync_replicas: handle.min_insync_replicas(),
                                            },
                                        );
                                    }
                                    code
                                } else {
                                    ErrorCode::NONE
                                }
                            }
                            Err(code) => code,
                        }
                    }
                }
            };
            p.error_code = code.code();
            out.partition_responses.push(p);
        }
        response.responses.push(out);
    }
    response
}
