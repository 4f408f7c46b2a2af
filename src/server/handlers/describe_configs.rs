//! DescribeConfigs: a topic's effective configs or this broker's, as Kafka's `ConfigHelper`
//! answers (what each value is and where it comes from is `server::config_catalog`'s).
//!
//! Per resource: a topic with an illegal name is INVALID_TOPIC_EXCEPTION, a missing one
//! UNKNOWN_TOPIC_OR_PARTITION; a broker resource must name this broker (its id) or be empty
//! (the cluster-wide dynamic defaults, of which kafkasim has none), anything else is
//! INVALID_REQUEST; so is any resource type but TOPIC and BROKER. `configuration_keys`
//! filters the answer (null: every config), and synonyms are listed only when asked for.

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::config_catalog::{self, DescribedConfig};
use crate::server::Broker;

/// Kafka's `ConfigResource.Type.TOPIC`.
pub const RESOURCE_TOPIC: i8 = 2;
/// Kafka's `ConfigResource.Type.BROKER`.
pub const RESOURCE_BROKER: i8 = 4;

pub(crate) type Rejection = (ErrorCode, String);

pub fn handle(
    broker: &Broker,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut response = DescribeConfigsResponse::default();
    for resource in &request.resources {
        let mut result = DescribeConfigsResult::default();
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name.clone();
        match describe(broker, resource) {
            Ok(configs) => {
                result.configs = configs
                    .iter()
                    .filter(|c| requested(resource, &c.name))
                    .map(|c| encode(c, request.include_synonyms, version))
                    .collect();
            }
            Err((code, message)) => {
                result.error_code = code.code();
                result.error_message = Some(str_bytes(&message));
            }
        }
        response.results.push(result);
    }
    response
}

fn describe(
    broker: &Broker,
    resource: &DescribeConfigsResource,
) -> Result<Vec<DescribedConfig>, Rejection> {
    let name = resource.resource_name.as_str();
    match resource.resource_type {
        RESOURCE_TOPIC => {
            let topic = existing_topic(broker, name)?;
            let dynamic = broker.dynamic_configs();
            Ok(config_catalog::describe_topic(
                broker.config_layers(&dynamic),
                &topic.configs,
            ))
        }
        RESOURCE_BROKER if name.is_empty() => Ok(config_catalog::describe_broker_default(
            &broker.dynamic_configs().default,
        )),
        RESOURCE_BROKER => {
            check_this_broker(broker, name)?;
            let dynamic = broker.dynamic_configs();
            Ok(config_catalog::describe_broker(
                broker.config.node_id,
                broker.config_layers(&dynamic),
            ))
        }
        other => Err((
            ErrorCode::INVALID_REQUEST,
            format!("Unsupported resource type: {other}"),
        )),
    }
}

/// The topic a config request names: INVALID_TOPIC_EXCEPTION for a name Kafka could never
/// have created, UNKNOWN_TOPIC_OR_PARTITION for one that does not exist.
pub(crate) fn existing_topic(
    broker: &Broker,
    name: &str,
) -> Result<crate::server::TopicAssignment, Rejection> {
    if !crate::metadata::is_legal_topic_name(name) {
        return Err((
            ErrorCode::INVALID_TOPIC_EXCEPTION,
            format!("Topic name {name:?} is illegal"),
        ));
    }
    broker.topic(name).ok_or_else(|| {
        (
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            format!("The topic '{name}' does not exist."),
        )
    })
}

/// A broker resource must name this broker by its id.
pub(crate) fn check_this_broker(broker: &Broker, name: &str) -> Result<(), Rejection> {
    let id: i32 = name.parse().map_err(|_| {
        (
            ErrorCode::INVALID_REQUEST,
            format!("Broker id must be an integer, but it is: {name}"),
        )
    })?;
    if id != broker.config.node_id {
        return Err((
            ErrorCode::INVALID_REQUEST,
            format!(
                "Unexpected broker id, expected {} or empty string, but received {name}",
                broker.config.node_id
            ),
        ));
    }
    Ok(())
}

/// Null or empty `configuration_keys` asks for every config, as Kafka's `ConfigHelper`.
fn requested(resource: &DescribeConfigsResource, name: &str) -> bool {
    resource
        .configuration_keys
        .as_ref()
        .filter(|keys| !keys.is_empty())
        .is_none_or(|keys| keys.iter().any(|key| key.as_str() == name))
}

fn encode(
    config: &DescribedConfig,
    include_synonyms: bool,
    version: i16,
) -> DescribeConfigsResourceResult {
    let mut out = DescribeConfigsResourceResult::default();
    out.name = str_bytes(&config.name);
    out.value = Some(str_bytes(&config.value));
    out.read_only = config.read_only;
    out.config_source = config.source as i8;
    out.is_sensitive = false;
    if include_synonyms {
        out.synonyms = config
            .synonyms
            .iter()
            .map(|s| {
                let mut synonym = DescribeConfigsSynonym::default();
                synonym.name = str_bytes(&s.name);
                synonym.value = Some(str_bytes(&s.value));
                synonym.source = s.source as i8;
                synonym
            })
            .collect();
    }
    if version >= 3 {
        out.config_type = config.kind as i8;
    }
    out
}
