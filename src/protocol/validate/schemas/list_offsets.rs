//! The ListOffsets request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const LIST_OFFSETS: Schema = Schema {
    api_key: ApiKey::ListOffsets,
    versions: Versions::range(1, 10),
    flexible: Versions::since(6),
    body: Fields::new(&[
        Field::new("replica_id", Int32),
        Field::new("isolation_level", Int8).since(2),
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new(
                    "partitions",
                    Array(&Struct(&Fields::new(&[
                        Field::new("partition_index", Int32),
                        Field::new("current_leader_epoch", Int32).since(4),
                        Field::new("timestamp", Int64),
                    ]))),
                ),
            ]))),
        ),
        Field::new("timeout_ms", Int32).since(10),
    ]),
};
