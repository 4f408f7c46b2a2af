//! The DeleteRecords request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const DELETE_RECORDS: Schema = Schema {
    api_key: ApiKey::DeleteRecords,
    versions: Versions::range(0, 2),
    flexible: Versions::since(2),
    body: Fields::new(&[
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new(
                    "partitions",
                    Array(&Struct(&Fields::new(&[
                        Field::new("partition_index", Int32),
                        Field::new("offset", Int64),
                    ]))),
                ),
            ]))),
        ),
        Field::new("timeout_ms", Int32),
    ]),
};
