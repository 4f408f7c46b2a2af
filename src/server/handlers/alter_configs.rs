//! AlterConfigs: replace a topic's config overrides with the request's set (a config left
//! out goes back to the broker's or Kafka's default), and the part IncrementalAlterConfigs
//! shares with it: finding the resource, checking the new set, applying or (with
//! `validate_only`) only checking it.
//!
//! Codes, as Kafka's brokers and controller answer: a resource named twice in one request is
//! INVALID_REQUEST for both; a config named twice in one resource INVALID_REQUEST; an unknown
//! topic config or a bad value INVALID_CONFIG, with Kafka's message; an illegal topic name
//! INVALID_TOPIC_EXCEPTION, the empty one (the default topic resource) INVALID_REQUEST, a
//! missing topic UNKNOWN_TOPIC_OR_PARTITION. kafkasim has no dynamic broker configs: a broker
//! resource (this broker, or empty for the cluster default) accepts an empty change and
//! answers any key with INVALID_REQUEST ("Cannot update these configs dynamically"), as
//! Kafka does for its read-only broker configs.
//!
//! Without a controller, a change takes effect at once on this broker's partitions of the
//! topic and is persisted in its `__cluster/topic-configs` (see `Broker::alter_topic_configs`).
//! With one, as in KRaft, the checked change is forwarded to the controller, which writes it
//! to the metadata log as ConfigRecords and answers once they are durable; every broker
//! applies them to its partitions of the topic when it applies the records.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use super::describe_configs::{
    check_this_broker, existing_topic, Rejection, RESOURCE_BROKER, RESOURCE_TOPIC,
};
use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::config_catalog;
use crate::server::Broker;

/// A topic's overrides, by config name.
pub(crate) type Configs = BTreeMap<String, String>;

pub async fn handle(broker: &Broker, request: AlterConfigsRequest) -> AlterConfigsResponse {
    let duplicated = duplicated_resources(
        request
            .resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    let mut response = AlterConfigsResponse::default();
    for resource in &request.resources {
        let key = (resource.resource_type, resource.resource_name.to_string());
        let names: Vec<&str> = resource.configs.iter().map(|c| c.name.as_str()).collect();
        let result = if duplicated.contains(&key) {
            Err(duplicate_resource())
        } else {
            // The new set replaces the old; a null value sets nothing.
            let replacement: Configs = resource
                .configs
                .iter()
                .filter_map(|c| {
                    let value = c.value.as_ref()?;
                    Some((c.name.to_string(), value.to_string()))
                })
                .collect();
            alter(
                broker,
                resource.resource_type,
                resource.resource_name.as_str(),
                &names,
                |_| Ok(replacement),
                request.validate_only,
            )
            .await
        };
        let mut out = AlterConfigsResourceResponse::default();
        out.resource_type = resource.resource_type;
        out.resource_name = resource.resource_name.clone();
        // Kafka's answer for success carries a null message.
        out.error_message = None;
        if let Err((code, message)) = result {
            out.error_code = code.code();
            out.error_message = Some(str_bytes(&message));
        }
        response.responses.push(out);
    }
    response
}

/// The (type, name) pairs that appear more than once.
pub(crate) fn duplicated_resources<'a>(
    resources: impl Iterator<Item = (i8, &'a str)>,
) -> BTreeSet<(i8, String)> {
    let mut seen = BTreeSet::new();
    let mut duplicated = BTreeSet::new();
    for (resource_type, name) in resources {
        if !seen.insert((resource_type, name.to_string())) {
            duplicated.insert((resource_type, name.to_string()));
        }
    }
    duplicated
}

pub(crate) fn duplicate_resource() -> Rejection {
    (
        ErrorCode::INVALID_REQUEST,
        "Each resource must appear at most once.".to_string(),
    )
}

/// Alter one resource: `change` turns the topic's current overrides into the new ones.
/// `names` are the config names the request touches (checked for duplicates, and for a
/// broker resource, refused).
pub(crate) async fn alter(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    names: &[&str],
    change: impl FnOnce(&Configs) -> Result<Configs, Rejection>,
    validate_only: bool,
) -> Result<(), Rejection> {
    if names.iter().collect::<BTreeSet<_>>().len() != names.len() {
        return Err((
            ErrorCode::INVALID_REQUEST,
            "Error due to duplicate config keys".to_string(),
        ));
    }
    match resource_type {
        RESOURCE_TOPIC => alter_topic(broker, name, change, validate_only).await,
        RESOURCE_BROKER => {
            if !name.is_empty() {
                check_this_broker(broker, name)?;
            }
            refuse_broker_keys(name, names)
        }
        other => Err((
            ErrorCode::INVALID_REQUEST,
            format!("Unsupported resource type: {other}"),
        )),
    }
}

async fn alter_topic(
    broker: &Broker,
    name: &str,
    change: impl FnOnce(&Configs) -> Result<Configs, Rejection>,
    validate_only: bool,
) -> Result<(), Rejection> {
    if name.is_empty() {
        return Err((
            ErrorCode::INVALID_REQUEST,
            "Default topic resources are not allowed.".to_string(),
        ));
    }
    let topic = existing_topic(broker, name)?;
    let configs = change(&topic.configs)?;
    config_catalog::check_topic_configs(&broker.config.configs, &configs)
        .map_err(|message| (ErrorCode::INVALID_CONFIG, message))?;
    if validate_only {
        return Ok(());
    }
    if broker.config.controller.is_some() {
        return forward_topic_configs(broker, name, &topic.configs, &configs).await;
    }
    match broker.alter_topic_configs(name, configs).await {
        Ok(true) => Ok(()),
        // Deleted while the request was checked.
        Ok(false) => Err((
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            format!("The topic '{name}' does not exist."),
        )),
        Err(error) => Err((ErrorCode::KAFKA_STORAGE_ERROR, error.to_string())),
    }
}

/// With a controller, the change goes into the metadata log: the difference between the
/// topic's overrides as this broker knows them and the checked new set is forwarded, and
/// every broker (this one too) applies it with the controller's records.
async fn forward_topic_configs(
    broker: &Broker,
    name: &str,
    current: &Configs,
    new: &Configs,
) -> Result<(), Rejection> {
    let mut changes: Vec<(String, Option<String>)> = new
        .iter()
        .filter(|(key, value)| current.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), Some(value.clone())))
        .collect();
    changes.extend(
        current
            .keys()
            .filter(|key| !new.contains_key(*key))
            .map(|key| (key.clone(), None)),
    );
    if changes.is_empty() {
        return Ok(());
    }
    match crate::server::controller_link::forward_topic_configs(broker, name, &changes).await {
        Ok((ErrorCode::NONE, _)) => Ok(()),
        Ok((code, message)) => Err((code, message.unwrap_or_default())),
        Err(error) => Err((
            ErrorCode::REQUEST_TIMED_OUT,
            format!("the controller did not answer: {error}"),
        )),
    }
}

/// Every broker config of kafkasim is read-only.
fn refuse_broker_keys(name: &str, keys: &[&str]) -> Result<(), Rejection> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<&str> = keys.to_vec();
    keys.sort_unstable();
    Err((
        ErrorCode::INVALID_REQUEST,
        format!(
            "Invalid config value for resource ConfigResource(type=BROKER, name='{name}'): \
             Cannot update these configs dynamically: Set({})",
            keys.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_repeated_resources_are_duplicates() {
        let duplicated = duplicated_resources([(2, "t"), (4, "t"), (2, "u"), (2, "t")].into_iter());
        assert_eq!(duplicated, [(2, "t".to_string())].into());
    }

    #[test]
    fn broker_keys_are_read_only() {
        assert_eq!(refuse_broker_keys("1", &[]), Ok(()));
        let (code, message) = refuse_broker_keys("1", &["b", "a"]).unwrap_err();
        assert_eq!(code, ErrorCode::INVALID_REQUEST);
        assert!(message.ends_with("Set(a, b)"), "{message}");
    }
}
