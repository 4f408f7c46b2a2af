//! The CreateTopics request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const CREATE_TOPICS: Schema = Schema {
    api_key: ApiKey::CreateTopics,
    versions: Versions::range(2, 7),
    flexible: Versions::since(5),
    body: Fields::new(&[
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new("num_partitions", Int32),
                Field::new("replication_factor", Int16),
                Field::new(
                    "assignments",
                    Array(&Struct(&Fields::new(&[
                        Field::new("partition_index", Int32),
                        Field::new("broker_ids", Array(&Int32)),
                    ]))),
                ),
                Field::new(
                    "configs",
                    Array(&Struct(&Fields::new(&[
                        Field::new("name", String),
                        Field::new("value", String).nullable_since(0),
                    ]))),
                ),
            ]))),
        ),
        Field::new("timeout_ms", Int32),
        Field::new("validate_only", Boolean),
    ]),
};
