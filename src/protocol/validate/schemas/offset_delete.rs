//! The OffsetDelete request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const OFFSET_DELETE: Schema = Schema {
    api_key: ApiKey::OffsetDelete,
    versions: Versions::range(0, 0),
    flexible: Versions::NONE,
    body: Fields::new(&[
        Field::new("group_id", String),
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new(
                    "partitions",
                    Array(&Struct(&Fields::new(&[Field::new(
                        "partition_index",
                        Int32,
                    )]))),
                ),
            ]))),
        ),
    ]),
};
