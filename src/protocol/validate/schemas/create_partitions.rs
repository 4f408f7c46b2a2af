//! The CreatePartitions request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const CREATE_PARTITIONS: Schema = Schema {
    api_key: ApiKey::CreatePartitions,
    versions: Versions::range(0, 3),
    flexible: Versions::since(2),
    body: Fields::new(&[
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new("count", Int32),
                Field::new(
                    "assignments",
                    Array(&Struct(&Fields::new(&[Field::new(
                        "broker_ids",
                        Array(&Int32),
                    )]))),
                )
                .nullable_since(0),
            ]))),
        ),
        Field::new("timeout_ms", Int32),
        Field::new("validate_only", Boolean),
    ]),
};
