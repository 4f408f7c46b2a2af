//! IncrementalAlterConfigs (KIP-339): change a topic's overrides one operation per config —
//! SET, DELETE (back to the broker's or Kafka's default), APPEND and SUBTRACT (list configs
//! only) — then check and apply the result as AlterConfigs does (see `alter_configs` for the
//! codes both share). Specific to this API, as Kafka answers: a SET, APPEND or SUBTRACT with a
//! null value is INVALID_REQUEST, an operation Kafka does not define INVALID_REQUEST, APPEND
//! or SUBTRACT on a config that is not a list INVALID_CONFIG.

use kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::alter_configs::{alter, duplicate_resource, duplicated_resources, Configs};
use super::describe_configs::Rejection;
use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::config_catalog::{self, ConfigType};
use crate::server::Broker;

/// Kafka's `AlterConfigOp.OpType`.
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

pub async fn handle(
    broker: &Broker,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let duplicated = duplicated_resources(
        request
            .resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    let mut response = IncrementalAlterConfigsResponse::default();
    for resource in &request.resources {
        let key = (resource.resource_type, resource.resource_name.to_string());
        let names: Vec<&str> = resource.configs.iter().map(|c| c.name.as_str()).collect();
        let result = if duplicated.contains(&key) {
            Err(duplicate_resource())
        } else {
            match check_null_values(&resource.configs) {
                Err(rejection) => Err(rejection),
                Ok(()) => {
                    alter(
                        broker,
                        resource.resource_type,
                        resource.resource_name.as_str(),
                        &names,
                        |current| apply_operations(current, &resource.configs),
                        request.validate_only,
                    )
                    .await
                }
            }
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

/// Only DELETE may come without a value.
fn check_null_values(configs: &[AlterableConfig]) -> Result<(), Rejection> {
    let null: Vec<&str> = configs
        .iter()
        .filter(|c| c.config_operation != DELETE && c.value.is_none())
        .map(|c| c.name.as_str())
        .collect();
    if null.is_empty() {
        return Ok(());
    }
    Err((
        ErrorCode::INVALID_REQUEST,
        format!("Null value not supported for : {}", null.join(", ")),
    ))
}

/// The overrides after the operations, in request order.
fn apply_operations(
    current: &Configs,
    operations: &[AlterableConfig],
) -> Result<Configs, Rejection> {
    let mut configs = current.clone();
    for operation in operations {
        let name = operation.name.as_str();
        let value = operation.value.as_ref().map(|v| v.as_str()).unwrap_or("");
        match operation.config_operation {
            SET => {
                configs.insert(name.to_string(), value.to_string());
            }
            // Deleting a key Kafka does not know is refused like setting one.
            DELETE
                if config_catalog::topic_config(name).is_none()
                    && config_catalog::dynamic_broker_config(name).is_none() =>
            {
                return Err((
                    ErrorCode::INVALID_CONFIG,
                    format!("Unknown topic config name: {name}"),
                ))
            }
            DELETE => {
                configs.remove(name);
            }
            APPEND | SUBTRACT => {
                let appending = operation.config_operation == APPEND;
                let list = list_config(name, appending)?;
                let now = configs
                    .get(name)
                    .map(String::as_str)
                    .unwrap_or(list.default);
                let changed = if appending {
                    append(now, value)
                } else {
                    subtract(now, value)
                };
                configs.insert(name.to_string(), changed);
            }
            other => {
                return Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("Unknown operation type {other}"),
                ))
            }
        }
    }
    Ok(configs)
}

/// The definition of a list config, or INVALID_CONFIG.
fn list_config(
    name: &str,
    appending: bool,
) -> Result<&'static config_catalog::TopicConfigDef, Rejection> {
    config_catalog::topic_config(name)
        .filter(|def| def.kind == ConfigType::List)
        .ok_or_else(|| {
            let verb = if appending { "append" } else { "subtract" };
            (
                ErrorCode::INVALID_CONFIG,
                format!("Config value {verb} is not allowed for config key: {name}"),
            )
        })
}

fn items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// `list` with every item of `added` it lacks, at the end.
fn append(list: &str, added: &str) -> String {
    let mut out: Vec<&str> = items(list).collect();
    for item in items(added) {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out.join(",")
}

/// `list` without the items of `removed`.
fn subtract(list: &str, removed: &str) -> String {
    let removed: Vec<&str> = items(removed).collect();
    items(list)
        .filter(|item| !removed.contains(item))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::StrBytes;

    fn op(name: &str, operation: i8, value: Option<&str>) -> AlterableConfig {
        let mut config = AlterableConfig::default();
        config.name = StrBytes::from_string(name.to_string());
        config.config_operation = operation;
        config.value = value.map(|v| StrBytes::from_string(v.to_string()));
        config
    }

    fn configs(pairs: &[(&str, &str)]) -> Configs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn set_and_delete_change_only_their_keys() {
        let current = configs(&[("retention.ms", "1"), ("flush.messages", "5")]);
        let after = apply_operations(
            &current,
            &[
                op("retention.ms", SET, Some("2")),
                op("flush.messages", DELETE, None),
                op("segment.ms", DELETE, None),
            ],
        )
        .unwrap();
        assert_eq!(after, configs(&[("retention.ms", "2")]));
    }

    #[test]
    fn append_and_subtract_work_on_lists_from_the_default() {
        let after = apply_operations(
            &Configs::new(),
            &[op("cleanup.policy", APPEND, Some("compact"))],
        )
        .unwrap();
        assert_eq!(after, configs(&[("cleanup.policy", "delete,compact")]));
        let after =
            apply_operations(&after, &[op("cleanup.policy", SUBTRACT, Some("delete"))]).unwrap();
        assert_eq!(after, configs(&[("cleanup.policy", "compact")]));
        // Appending what is there already changes nothing.
        assert_eq!(append("delete", "delete"), "delete");
    }

    #[test]
    fn kafkas_codes_for_bad_operations() {
        let code = |ops: &[AlterableConfig]| apply_operations(&Configs::new(), ops).unwrap_err().0;
        assert_eq!(
            code(&[op("retention.ms", APPEND, Some("1"))]),
            ErrorCode::INVALID_CONFIG
        );
        assert_eq!(
            code(&[op("no.such", SUBTRACT, Some("1"))]),
            ErrorCode::INVALID_CONFIG
        );
        assert_eq!(
            code(&[op("no.such", DELETE, None)]),
            ErrorCode::INVALID_CONFIG
        );
        assert_eq!(
            code(&[op("retention.ms", 4, Some("1"))]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            code(&[op("retention.ms", -1, Some("1"))]),
            ErrorCode::INVALID_REQUEST
        );
        let null = check_null_values(&[
            op("a", SET, None),
            op("b", DELETE, None),
            op("c", APPEND, None),
        ])
        .unwrap_err();
        assert_eq!(
            null,
            (
                ErrorCode::INVALID_REQUEST,
                "Null value not supported for : a, c".to_string()
            )
        );
    }
}
