//! OffsetCommit: partitions of topics the cluster does not have are refused here
//! (UNKNOWN_TOPIC_OR_PARTITION); the rest go to the coordinator, which answers once their
//! records are committed to `__consumer_offsets`.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, TopicName};

use super::join_group::error_of;
use super::str_bytes;
use crate::group::coordinator::api::{self, Response};
use crate::protocol::codes::ErrorCode;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let mut errors: BTreeMap<(String, i32), ErrorCode> = BTreeMap::new();
    let mut partitions = Vec::new();
    for topic in &request.topics {
        let name = topic.name.0.to_string();
        let count = broker.topic(&name).map_or(0, |t| t.replicas.len() as i32);
        for p in &topic.partitions {
            if !(0..count).contains(&p.partition_index) {
                errors.insert(
                    (name.clone(), p.partition_index),
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                );
                continue;
            }
            partitions.push(api::PartitionCommit {
                topic: name.clone(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
            });
        }
    }
    if !partitions.is_empty() {
        let commit = api::CommitRequest {
            group_id: request.group_id.0.to_string(),
            generation_id: request.generation_id_or_member_epoch,
            member_id: request.member_id.to_string(),
            group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
            partitions,
            version,
        };
        let now_ms = broker.env.clock.wall_ms();
        let answer = broker
            .groups
            .call(now_ms, |c, now, token| {
                c.commit_offsets(now, token, &commit)
            })
            .await;
        match answer {
            Response::OffsetCommit(results) => {
                for (topic, partition, error) in results {
                    errors.insert((topic, partition), error);
                }
            }
            other => {
                for p in &commit.partitions {
                    errors.insert((p.topic.clone(), p.partition), error_of(&other));
                }
            }
        }
    }
    let mut response = OffsetCommitResponse::default();
    for topic in &request.topics {
        let name = topic.name.0.to_string();
        let mut out = OffsetCommitResponseTopic::default();
        out.name = TopicName(str_bytes(&name));
        for p in &topic.partitions {
            let mut partition = OffsetCommitResponsePartition::default();
            partition.partition_index = p.partition_index;
            let error = errors.get(&(name.clone(), p.partition_index));
            partition.error_code = error.map_or(ErrorCode::UNKNOWN_SERVER_ERROR, |e| *e).code();
            out.partitions.push(partition);
        }
        response.topics.push(out);
    }
    response
}
