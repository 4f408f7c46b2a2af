//! CreateTopics. With a controller (`[model] controller = true`, or `--controller` in real
//! mode) the request is forwarded to it, as a KRaft broker does: the controller places the
//! replicas over the cluster (or takes a manual assignment), any replication factor up to the
//! registered brokers, and every broker opens its replicas when it applies the metadata. Without
//! one (the static cluster map), every partition of a topic created at run time is placed on
//! the receiving broker (RF 1) and the topic is persisted so it survives a restart.
//!
//! Either way, -1 partitions or replication factor mean the broker's `num.partitions` and
//! `default.replication.factor`.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::config::LOG_CONFIG_KEYS;
use crate::server::{Broker, TopicAssignment};

/// A bound on partitions per topic, so one request cannot exhaust memory.
const PARTITIONS_MAX: i32 = 10_000;

pub async fn handle(broker: &Broker, request: CreateTopicsRequest) -> CreateTopicsResponse {
    if broker.config.controller.is_some() {
        return forward(broker, request).await;
    }
    let mut response = CreateTopicsResponse::default();
    for topic in &request.topics {
        response
            .topics
            .push(match create_here(broker, topic, request.validate_only) {
                Ok(assignment) => {
                    let mut out = CreatableTopicResult::default();
                    out.name = topic.name.clone();
                    out.num_partitions = assignment.replicas.len() as i32;
                    out.replication_factor = 1;
                    // v7: the new topic's id (the zero id for validate_only, as in Kafka).
                    if !request.validate_only {
                        let id = broker.topic_id(&assignment.name).unwrap_or(0);
                        out.topic_id = uuid::Uuid::from_u128(id);
                    }
                    out
                }
                Err((code, message)) => refusal(topic, code, message),
            });
    }
    response
}

/// Without a controller: validate one topic and, unless `validate_only`, create it on this
/// broker and persist it.
fn create_here(
    broker: &Broker,
    topic: &CreatableTopic,
    validate_only: bool,
) -> Result<TopicAssignment, Rejection> {
    let assignment = validate(broker, topic.name.0.as_str(), topic)?;
    if !validate_only {
        broker
            .create_topic(assignment.clone())
            .map_err(|e| (ErrorCode::KAFKA_STORAGE_ERROR, e.to_string()))?;
    }
    Ok(assignment)
}

/// Check names here, fill in the broker's defaults, and let the controller decide the rest.
async fn forward(broker: &Broker, mut request: CreateTopicsRequest) -> CreateTopicsResponse {
    let mut refused = Vec::new();
    let mut forwarded = Vec::new();
    for mut topic in std::mem::take(&mut request.topics) {
        if let Err((code, message)) = validate_name(topic.name.0.as_str()) {
            refused.push(refusal(&topic, code, message));
            continue;
        }
        if let Err(message) = check_configs(broker, &topic) {
            refused.push(refusal(&topic, ErrorCode::INVALID_CONFIG, message));
            continue;
        }
        if topic.assignments.is_empty() {
            if topic.num_partitions == -1 {
                topic.num_partitions = broker
                    .config
                    .num_partitions()
                    .clamp(1, PARTITIONS_MAX as i64) as i32;
            }
            if topic.replication_factor == -1 {
                topic.replication_factor = broker
                    .config
                    .default_replication_factor()
                    .clamp(1, i16::MAX as i64) as i16;
            }
        }
        forwarded.push(topic);
    }
    let mut response = CreateTopicsResponse::default();
    if !forwarded.is_empty() {
        request.topics = forwarded.clone();
        match crate::server::controller_link::forward_create_topics(broker, request).await {
            Ok(answer) => response = answer,
            Err(error) => {
                let message = format!("the controller did not answer: {error}");
                response.topics = forwarded
                    .iter()
                    .map(|t| refusal(t, ErrorCode::REQUEST_TIMED_OUT, message.clone()))
                    .collect();
            }
        }
    }
    response.topics.extend(refused);
    response
}

/// The configs of a topic to be created through the controller, checked as AlterConfigs
/// checks them: known topic configs with valid values, none null or named twice.
fn check_configs(broker: &Broker, topic: &CreatableTopic) -> Result<(), String> {
    let mut configs = BTreeMap::new();
    for config in &topic.configs {
        let Some(value) = &config.value else {
            return Err(format!(
                "Null value not supported for topic configs: {}",
                config.name.as_str()
            ));
        };
        if configs
            .insert(config.name.to_string(), value.to_string())
            .is_some()
        {
            return Err(format!("Duplicate config key {}", config.name.as_str()));
        }
    }
    crate::server::config_catalog::check_topic_configs(&broker.broker_configs(), &configs)
}

/// A refusal of one topic.
fn refusal(topic: &CreatableTopic, code: ErrorCode, message: String) -> CreatableTopicResult {
    let mut out = CreatableTopicResult::default();
    out.name = topic.name.clone();
    out.num_partitions = -1;
    out.replication_factor = -1;
    out.error_code = code.code();
    out.error_message = Some(str_bytes(&message));
    out
}

/// Why a topic cannot be created: the code for the client and a message.
pub(super) type Rejection = (ErrorCode, String);

/// Kafka's `Topic.validate` (`crate::metadata::is_legal_topic_name`).
pub(super) fn validate_name(name: &str) -> Result<(), Rejection> {
    if crate::metadata::is_legal_topic_name(name) {
        Ok(())
    } else {
        Err((
            ErrorCode::INVALID_TOPIC_EXCEPTION,
            format!("illegal topic name {name:?}"),
        ))
    }
}

/// Create a topic Metadata named (`auto.create.topics.enable`), with the broker's
/// `num.partitions` and `default.replication.factor`, by the path CreateTopics takes. With a
/// controller the topic exists once the metadata carrying it arrives: `Ok(None)` then.
pub(super) async fn auto_create(
    broker: &Broker,
    name: &str,
) -> Result<Option<TopicAssignment>, Rejection> {
    create_with(broker, name, -1, -1, &[]).await
}

/// Create a topic the broker itself needs (`__consumer_offsets`) with these partitions,
/// replication factor and configs (-1: the broker's defaults), by the path CreateTopics takes.
pub(super) async fn create_with(
    broker: &Broker,
    name: &str,
    num_partitions: i32,
    replication_factor: i16,
    configs: &[(&str, String)],
) -> Result<Option<TopicAssignment>, Rejection> {
    let mut topic = CreatableTopic::default();
    topic.name = kafka_protocol::messages::TopicName(str_bytes(name));
    topic.num_partitions = num_partitions;
    topic.replication_factor = replication_factor;
    topic.configs = configs
        .iter()
        .map(|(key, value)| {
            let mut config =
                kafka_protocol::messages::create_topics_request::CreatableTopicConfig::default();
            config.name = str_bytes(key);
            config.value = Some(str_bytes(value));
            config
        })
        .collect();
    if broker.config.controller.is_some() {
        let mut request = CreateTopicsRequest::default();
        request.topics = vec![topic];
        request.timeout_ms = 5_000;
        let response = forward(broker, request).await;
        return match response.topics.first() {
            Some(t) if t.error_code == ErrorCode::NONE => Ok(None),
            Some(t) => Err((
                ErrorCode::from_wire(t.error_code),
                t.error_message
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            )),
            None => Err((
                ErrorCode::UNKNOWN_SERVER_ERROR,
                "no answer for the topic".into(),
            )),
        };
    }
    create_here(broker, &topic, false).map(Some)
}

fn validate(
    broker: &Broker,
    name: &str,
    topic: &CreatableTopic,
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
    crate::server::config::log_config(&broker.broker_configs(), &configs)
        .map_err(|e| (ErrorCode::INVALID_CONFIG, e))?;
    let node = broker.config.node_id;
    Ok(TopicAssignment {
        name: name.to_string(),
        replicas: vec![vec![node]; partitions as usize],
        configs,
    })
}
