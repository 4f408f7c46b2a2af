//! AlterConfigs: replace a topic's config overrides with the request's set (a config left
//! out goes back to the broker's or Kafka's default), and the part IncrementalAlterConfigs
//! shares with it: finding the resource, checking the new set, applying or (with
//! `validate_only`) only checking it.
//!
//! Codes, as Kafka's brokers and controller answer: a resource named twice in one request is
//! INVALID_REQUEST for both; a config named twice in one resource INVALID_REQUEST; an unknown
//! topic config or a bad value INVALID_CONFIG, with Kafka's message; an illegal topic name
//! INVALID_TOPIC_EXCEPTION, the empty one (the default topic resource) INVALID_REQUEST, a
//! missing topic UNKNOWN_TOPIC_OR_PARTITION. A broker resource (this broker's id, or empty
//! for the cluster-wide default) takes dynamic configs: the topic defaults under their broker
//! names (`log.retention.ms`, `min.insync.replicas`, …), which every topic without its own
//! override follows at once; any other key is INVALID_REQUEST ("Cannot update these configs
//! dynamically"), as Kafka answers for its read-only broker configs.
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

/// Alter one resource: `change` turns the topic's current overrides (or the broker resource's
/// dynamic configs) into the new ones. `names` are the config names the request touches
/// (checked for duplicates).
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
        RESOURCE_BROKER => alter_broker(broker, name, change, validate_only).await,
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
    config_catalog::check_topic_configs(&broker.broker_configs(), &configs)
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
    let changes = differences(current, new);
    forward_configs(broker, RESOURCE_TOPIC, name, &changes).await
}

/// What turns `current` into `new`: sets (`Some`) and removals (`None`).
fn differences(current: &Configs, new: &Configs) -> Vec<(String, Option<String>)> {
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
    changes
}

/// Forward config changes of one resource to the controller; its answer is the client's.
async fn forward_configs(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    changes: &[(String, Option<String>)],
) -> Result<(), Rejection> {
    if changes.is_empty() {
        return Ok(());
    }
    let forwarded =
        crate::server::controller_link::forward_configs(broker, resource_type, name, changes);
    match forwarded.await {
        Ok((ErrorCode::NONE, _)) => Ok(()),
        Ok((code, message)) => Err((code, message.unwrap_or_default())),
        Err(error) => Err((
            ErrorCode::REQUEST_TIMED_OUT,
            format!("the controller did not answer: {error}"),
        )),
    }
}

/// Alter a broker resource's dynamic configs: this broker's own (its id) or the cluster-wide
/// default (""). Only the topic defaults can be dynamic (`config_catalog::check_broker_configs`);
/// the result must still make a valid log configuration for every topic. Without a controller
/// the change takes effect here at once and is persisted; with one it is forwarded to the
/// metadata log and every broker applies it from there.
async fn alter_broker(
    broker: &Broker,
    name: &str,
    change: impl FnOnce(&Configs) -> Result<Configs, Rejection>,
    validate_only: bool,
) -> Result<(), Rejection> {
    if !name.is_empty() {
        check_this_broker(broker, name)?;
    }
    let mut dynamic = broker.dynamic_configs();
    let layer = match name.is_empty() {
        true => &mut dynamic.default,
        false => &mut dynamic.own,
    };
    let current = layer.clone();
    let new = change(&current)?;
    config_catalog::check_broker_configs(name, &new).map_err(|(bad_value, message)| {
        let code = match bad_value {
            true => ErrorCode::INVALID_CONFIG,
            false => ErrorCode::INVALID_REQUEST,
        };
        (code, message)
    })?;
    *layer = new.clone();
    broker
        .check_dynamic_configs(&dynamic)
        .map_err(|message| (ErrorCode::INVALID_CONFIG, message))?;
    if validate_only {
        return Ok(());
    }
    if broker.config.controller.is_some() {
        let changes = differences(&current, &new);
        return forward_configs(broker, RESOURCE_BROKER, name, &changes).await;
    }
    broker
        .set_dynamic_configs(dynamic)
        .await
        .map_err(|error| (ErrorCode::KAFKA_STORAGE_ERROR, error.to_string()))
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
    fn differences_set_changed_and_remove_missing_keys() {
        let current: Configs = [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        let new: Configs = [("b".into(), "3".into()), ("c".into(), "4".into())].into();
        assert_eq!(
            differences(&current, &new),
            [
                ("b".to_string(), Some("3".to_string())),
                ("c".to_string(), Some("4".to_string())),
                ("a".to_string(), None),
            ]
        );
        assert!(differences(&new, &new).is_empty());
    }
}
