//! The IncrementalAlterConfigs request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const INCREMENTAL_ALTER_CONFIGS: Schema = Schema {
    api_key: ApiKey::IncrementalAlterConfigs,
    versions: Versions::range(0, 1),
    flexible: Versions::since(1),
    body: Fields::new(&[
        Field::new(
            "resources",
            Array(&Struct(&Fields::new(&[
                Field::new("resource_type", Int8),
                Field::new("resource_name", String),
                Field::new(
                    "configs",
                    Array(&Struct(&Fields::new(&[
                        Field::new("name", String),
                        Field::new("config_operation", Int8),
                        Field::new("value", String).nullable_since(0),
                    ]))),
                ),
            ]))),
        ),
        Field::new("validate_only", Boolean),
    ]),
};
