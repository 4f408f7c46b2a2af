//! Metadata: brokers, and for each requested topic its partitions, leader, replicas and ISR
//! from the static cluster map. A single-replica partition's ISR is its replica.
//! "All topics" is a null topic list, or in v0 (where the list cannot be null) an empty one.
//!
//! A requested topic that does not exist is, as in Kafka's `KafkaApis`: INVALID_TOPIC_EXCEPTION
//! if its name is illegal (a client fails at once rather than retrying); created, with the
//! broker's `num.partitions` and `default.replication.factor`, if `auto.create.topics.enable`
//! (default true) and the request allows it (`allow_auto_topic_creation`, v4 and later; always
//! in v0–3); UNKNOWN_TOPIC_OR_PARTITION otherwise. A request for all topics creates none.
//!
//! Topic ids (KIP-516), as Kafka 3.x's `KafkaApis.handleTopicMetadataRequest`: v10 and later
//! answer every topic with its id (the zero id for one that does not exist). v12 lets a request
//! name topics by id: if any requested id is non-zero the request is by id — the names are
//! ignored, every known id is described (name and id), an unknown one is UNKNOWN_TOPIC_ID with
//! no name, and nothing is auto-created. In v10–11 a null name or a non-zero id is refused with
//! INVALID_REQUEST for every requested topic.

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
    let by_id: Vec<uuid::Uuid> = (requested.iter().flatten())
        .map(|t| t.topic_id)
        .filter(|id| !id.is_nil())
        .collect();
    let bad_names = (requested.iter().flatten()).any(|t| t.name.is_none());
    let topic_id = |name: &str| uuid::Uuid::from_u128(broker.topic_id(name).unwrap_or(0));
    response.topics = match requested {
        Some(requested) if version < 12 && (bad_names || !by_id.is_empty()) => requested
            .iter()
            .map(|t| {
                let mut out = MetadataResponseTopic::default();
                out.error_code = ErrorCode::INVALID_REQUEST.code();
                out.name = t.name.clone();
                out.topic_id = t.topic_id;
                out
            })
            .collect(),
        Some(_) if !by_id.is_empty() => {
            let mut ids = by_id;
            ids.sort();
            ids.dedup();
            ids.iter()
                .map(|id| {
                    let found = broker.topic_name(id.as_u128());
                    match found.and_then(|name| topics.iter().find(|t| t.name == name)) {
                        Some(topic) => describe(topic, metadata, *id),
                        None => {
                            let mut out = MetadataResponseTopic::default();
                            out.error_code = ErrorCode::UNKNOWN_TOPIC_ID.code();
                            out.topic_id = *id;
                            out
                        }
                    }
                })
                .collect()
        }
        None => (topics.iter())
            .map(|t| describe(t, metadata, topic_id(&t.name)))
            .collect(),
        Some(requested) => {
            let mut out = Vec::new();
            for t in &requested {
                let name = t
                    .name
                    .as_ref()
                    .map(|n| n.0.as_str().to_string())
                    .unwrap_or_default();
                out.push(match topics.iter().find(|topic| topic.name == name) {
                    Some(topic) => describe(topic, metadata, topic_id(&name)),
                    None => match missing(broker, &name, auto_create).await {
                        Ok(created) => describe(&created, metadata, topic_id(&name)),
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
    topic_id: uuid::Uuid,
) -> MetadataResponseTopic {
    let mut out = MetadataResponseTopic::default();
    out.name = Some(TopicName(str_bytes(&topic.name)));
    out.topic_id = topic_id;
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
