//! The DescribeConfigs request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const DESCRIBE_CONFIGS: Schema = Schema {
    api_key: ApiKey::DescribeConfigs,
    versions: Versions::range(1, 4),
    flexible: Versions::since(4),
    body: Fields::new(&[
        Field::new(
            "resources",
            Array(&Struct(&Fields::new(&[
                Field::new("resource_type", Int8),
                Field::new("resource_name", String),
                Field::new("configuration_keys", Array(&String)).nullable_since(0),
            ]))),
        ),
        Field::new("include_synonyms", Boolean),
        Field::new("include_documentation", Boolean).since(3),
    ]),
};
