//! CreateTopics: validate and create topics on this broker. Until the controller exists,
//! every partition of a topic created at run time is placed on the receiving broker (RF 1);
//! the topic is persisted so it survives a restart.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::config::LOG_CONFIG_KEYS;
use crate::server::{Broker, TopicAssignment};

/// Kafka's limit on topic name length.
const TOPIC_NAME_LENGTH_MAX: usize = 249;
/// A bound on partitions per topic, so one request cannot exhaust memory.
const PARTITIONS_MAX: i32 = 10_000;

pub fn handle(broker: &Broker, request: CreateTopicsRequest) -> CreateTopicsResponse {
    let mut response = CreateTopicsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str().to_string();
        let mut out = CreatableTopicResult::default();
        out.name = topic.name.clone();
        out.num_partitions = -1;
        out.replication_factor = -1;
        let result = validate(broker, &name, &topic).and_then(|assignment| {
            if request.validate_only {
                return Ok(assignment);
            }
            broker
                .create_topic(assignment.clone())
                .map_err(|e| (ErrorCode::KAFKA_STORAGE_ERROR, e.to_string()))?;
            Ok(assignment)
        });
        match result {
            Ok(assignment) => {
                out.num_partitions = assignment.replicas.len() as i32;
                out.replication_factor = 1;
            }
            Err((code, message)) => {
                out.error_code = code.code();
                out.error_message = Some(str_bytes(&message));
            }
        }
        response.topics.push(out);
    }
    response
}

/// Why a topic cannot be created: the code for the client and a message.
pub(super) type Rejection = (ErrorCode, String);

/// Kafka's `Topic.validate`: 1 to 249 characters of `[a-zA-Z0-9._-]`, and not "." or "..".
pub(super) fn validate_name(name: &str) -> Result<(), Rejection> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.len() > TOPIC_NAME_LENGTH_MAX
        || !name.chars().all(legal)
    {
        return Err((
            ErrorCode::INVALID_TOPIC_EXCEPTION,
            format!("illegal topic name {name:?}"),
        ));
    }
    Ok(())
}

/// Create a topic Metadata named (`auto.create.topics.enable`), with the broker's
/// `num.partitions` and `default.replication.factor`, by the path CreateTopics takes.
pub(super) fn auto_create(broker: &Broker, name: &str) -> Result<TopicAssignment, Rejection> {
    let mut topic = kafka_protocol::messages::create_topics_request::CreatableTopic::default();
    topic.num_partitions = i32::try_from(broker.config.num_partitions()).unwrap_or(0);
    topic.replication_factor =
        i16::try_from(broker.config.default_replication_factor()).unwrap_or(0);
    let assignment = validate(broker, name, &topic)?;
    broker
        .create_topic(assignment.clone())
        .map_err(|e| (ErrorCode::KAFKA_STORAGE_ERROR, e.to_string()))?;
    Ok(assignment)
}

fn validate(
    broker: &Broker,
    name: &str,
    topic: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<TopicAssignment, Rejection> {
    validate_name(name)?;
    if broker.topics().iter().any(|t| t.name == name) {
        return Err((
            ErrorCode::TOPIC_ALREADY_EXISTS,
            format!("topic {name:?} already exists"),
        ));
    }
    let partitions = match topic.num_partitions {
        -1 => broker
            .config
            .num_partitions()
            .clamp(1, PARTITIONS_MAX as i64) as i32,
        n if (1..=PARTITIONS_MAX).contains(&n) => n,
        n => {
            return Err((
                ErrorCode::INVALID_PARTITIONS,
                format!("num_partitions {n} out of range"),
            ))
        }
    };
    let replication_factor = match topic.replication_factor {
        -1 => broker.config.default_replication_factor(),
        n => i64::from(n),
    };
    if replication_factor != 1 {
        return Err((
            ErrorCode::INVALID_REPLICATION_FACTOR,
            "replication is not implemented yet: replication_factor must be 1".into(),
        ));
    }
    if !topic.assignments.is_empty() {
        return Err((
            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            "manual replica assignment is not supported".into(),
        ));
    }
    let mut configs = BTreeMap::new();
    for config in &topic.configs {
        let key = config.name.as_str();
        if !LOG_CONFIG_KEYS.contains(&key) {
            return Err((
                ErrorCode::INVALID_CONFIG,
                format!("unknown or unsupported topic config {key:?}"),
            ));
        }
        if let Some(value) = &config.value {
            configs.insert(key.to_string(), value.as_str().to_string());
        }
    }
    crate::server::config::log_config(&broker.config.configs, &configs)
        .map_err(|e| (ErrorCode::INVALID_CONFIG, e))?;
    let node = broker.config.node_id;
    Ok(TopicAssignment {
        name: name.to_string(),
        replicas: vec![vec![node]; partitions as usize],
        configs,
    })
}
