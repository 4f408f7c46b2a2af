//! The Produce request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const PRODUCE: Schema = Schema {
    api_key: ApiKey::Produce,
    versions: Versions::range(3, 9),
    flexible: Versions::since(9),
    body: Fields::new(&[
        Field::new("transactional_id", String).nullable_since(0),
        Field::new("acks", Int16),
        Field::new("timeout_ms", Int32),
        Field::new(
            "topic_data",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new(
                    "partition_data",
                    Array(&Struct(&Fields::new(&[
                        Field::new("index", Int32),
                        Field::new("records", Bytes).nullable_since(0),
                    ]))),
                ),
            ]))),
        ),
    ]),
};
