//! Metadata: brokers, and for each requested topic its partitions, leader, replicas and ISR
//! from the static cluster map. A single-replica partition's ISR is its replica.
//! "All topics" is a null topic list, or in v0 (where the list cannot be null) an empty one.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::{Broker, TopicAssignment};

pub fn handle(broker: &Broker, request: MetadataRequest, version: i16) -> MetadataResponse {
    let mut response = MetadataResponse::default();
    response.cluster_id = Some(str_bytes(&broker.config.cluster_id));
    // No controller yet: report the lowest broker id, as a stand-in clients never rely on.
    response.controller_id = BrokerId(
        broker
            .config
            .brokers
            .iter()
            .map(|b| b.node_id)
            .min()
            .unwrap_or(-1),
    );
    response.brokers = broker
        .config
        .brokers
        .iter()
        .map(|b| {
            let mut out = MetadataResponseBroker::default();
            out.node_id = BrokerId(b.node_id);
            out.host = str_bytes(&b.host);
            out.port = b.port;
            out
        })
        .collect();
    let topics = broker.topics();
    let live = broker.metadata();
    let metadata = live.as_ref();
    let requested = request
        .topics
        .filter(|requested| version >= 1 || !requested.is_empty());
    response.topics = match requested {
        None => topics.iter().map(|t| describe(t, metadata)).collect(),
        Some(requested) => requested
            .iter()
            .map(|t| {
                let name = t
                    .name
                    .as_ref()
                    .map(|n| n.0.as_str().to_string())
                    .unwrap_or_default();
                match topics.iter().find(|topic| topic.name == name) {
                    Some(topic) => describe(topic, metadata),
                    None => {
                        let mut out = MetadataResponseTopic::default();
                        out.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code();
                        out.name = Some(TopicName(str_bytes(&name)));
                        out
                    }
                }
            })
            .collect(),
    };
    response
}

fn describe(
    topic: &TopicAssignment,
    metadata: Option<&crate::metadata::MetadataState>,
) -> MetadataResponseTopic {
    let mut out = MetadataResponseTopic::default();
    out.name = Some(TopicName(str_bytes(&topic.name)));
    out.partitions = topic
        .replicas
        .iter()
        .enumerate()
        .map(|(index, replicas)| {
            let mut p = MetadataResponsePartition::default();
            p.partition_index = index as i32;
            p.leader_id = BrokerId(replicas.first().copied().unwrap_or(-1));
            p.leader_epoch = 0;
            p.replica_nodes = replicas.iter().map(|r| BrokerId(*r)).collect();
            p.isr_nodes = replicas.iter().map(|r| BrokerId(*r)).collect();
            if let Some(live) = metadata.and_then(|m| m.partition(&topic.name, index as i32)) {
                // With a controller: leadership and ISR as the metadata log says.
                p.leader_id = BrokerId(live.leader);
                p.leader_epoch = live.leader_epoch;
                p.isr_nodes = live.isr.iter().map(|r| BrokerId(*r)).collect();
                if live.leader < 0 {
                    p.error_code = ErrorCode::LEADER_NOT_AVAILABLE.code();
                }
            }
            p
        })
        .collect();
    out
}
