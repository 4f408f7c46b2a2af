//! OffsetDelete (KIP-496): a group's committed offsets of topics no member subscribes to.

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse, TopicName};

use super::join_group::error_of;
use super::str_bytes;
use crate::group::coordinator::api::Response;
use crate::server::Broker;

pub async fn handle(broker: &Broker, request: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let group_id = request.group_id.0.to_string();
    let partitions: Vec<(String, i32)> = (request.topics.iter())
        .flat_map(|t| {
            let name = t.name.0.to_string();
            t.partitions
                .iter()
                .map(move |p| (name.clone(), p.partition_index))
        })
        .collect();
    let now_ms = broker.env.clock.wall_ms();
    let answer = broker
        .groups
        .call(now_ms, |c, _, token| {
            c.delete_offsets(token, &group_id, &partitions)
        })
        .await;
    let mut response = OffsetDeleteResponse::default();
    let (error, results) = match answer {
        Response::OffsetDelete(error, results) => (error, results),
        other => (error_of(&other), Vec::new()),
    };
    response.error_code = error.code();
    for (topic, partition, error) in results {
        let index = match response
            .topics
            .iter()
            .position(|t| t.name.0.as_str() == topic)
        {
            Some(index) => index,
            None => {
                let mut t = OffsetDeleteResponseTopic::default();
                t.name = TopicName(str_bytes(&topic));
                response.topics.push(t);
                response.topics.len() - 1
            }
        };
        let mut p = OffsetDeleteResponsePartition::default();
        p.partition_index = partition;
        p.error_code = error.code();
        response.topics[index].partitions.push(p);
    }
    response
}
