//! Metadata: brokers, and for each requested topic its partitions, leader, replicas and ISR
//! from the static cluster map. A single-replica partition's ISR is its replica.
//! "All topics" is a null topic list, or in v0 (where the list cannot be null) an empty one.
//!
//! A requested topic that does not exist is, as in Kafka's `KafkaApis`: INVALID_TOPIC_EXCEPTION
//! if its name is illegal (a client fails at once rather than retrying); created, with the
//! broker's `num.partitions` and `default.replication.factor`, if `auto.create.topics.enable`
//! (default true) and the request allows it (`allow_auto_topic_creation`, v4 and later; always
//! in v0–3); UNKNOWN_TOPIC_OR_PARTITION otherwise. A request for all topics creates none.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::{create_topics, str_bytes};
use crate::protocol::codes::ErrorCode;
use crate::server::{Broker, TopicAssignment};

pub async fn handle(broker: &Broker, request: MetadataRequest, version: i16) -> MetadataResponse {
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
    let auto_create = version < 4 || request.allow_auto_topic_creation;
    let requested = request
        .topics
        .filter(|requested| version >= 1 || !requested.is_empty());
    response.topics = match requested {
        None => topics.iter().map(|t| describe(t, metadata)).collect(),
        Some(requested) => {
            let mut out = Vec::new();
            for t in &requested {
                let name = t
                    .name
                    .as_ref()
                    .map(|n| n.0.as_str().to_string())
                    .unwrap_or_default();
                out.push(match topics.iter().find(|topic| topic.name == name) {
                    Some(topic) => describe(topic, metadata),
                    None => match missing(broker, &name, auto_create).await {
                        Ok(created) => describe(&created, metadata),
                        Err(code) => {
                            let mut out = MetadataResponseTopic::default();
                            out.error_code = code.code();
                            out.name = Some(TopicName(str_bytes(&name)));
                            out
                        }
                    },
                });
            }
            out
        }
    };
    response
}

/// A requested topic that does not exist: created, or the code that says why not. A topic
/// the controller is creating (or could not create yet) is LEADER_NOT_AVAILABLE until its
/// metadata arrives (the client asks again), as in Kafka.
async fn missing(broker: &Broker, name: &str, allowed: bool) -> Result<TopicAssignment, ErrorCode> {
    create_topics::validate_name(name).map_err(|(code, _)| code)?;
    if !(allowed && broker.config.auto_create_topics_enable()) {
        return Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    }
    match create_topics::auto_create(broker, name).await {
        Ok(Some(created)) => Ok(created),
        Ok(None) => Err(ErrorCode::LEADER_NOT_AVAILABLE),
        // Created meanwhile by another request: describe it next time.
        Err((ErrorCode::TOPIC_ALREADY_EXISTS, _)) => Err(ErrorCode::LEADER_NOT_AVAILABLE),
        // With a controller, as Kafka's AutoTopicCreationManager: the creation is the
        // controller's business and the client only learns the topic is not there yet, so it
        // asks again (and the next Metadata tries again), e.g. while the brokers that could
        // host it are still fenced after a start.
        Err((code, message)) if broker.config.controller.is_some() => {
            tracing::info!(topic = name, %code, %message, "auto topic creation refused; the client will ask again");
            Err(ErrorCode::LEADER_NOT_AVAILABLE)
        }
        Err((code, message)) => {
            tracing::warn!(topic = name, %message, "auto topic creation failed");
            Err(code)
        }
    }
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
