//! The OffsetForLeaderEpoch request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const OFFSET_FOR_LEADER_EPOCH: Schema = Schema {
    api_key: ApiKey::OffsetForLeaderEpoch,
    versions: Versions::range(3, 4),
    flexible: Versions::since(4),
    body: Fields::new(&[
        Field::new("replica_id", Int32),
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("topic", String),
                Field::new(
                    "partitions",
                    Array(&Struct(&Fields::new(&[
                        Field::new("partition", Int32),
                        Field::new("current_leader_epoch", Int32),
                        Field::new("leader_epoch", Int32),
                    ]))),
                ),
            ]))),
        ),
    ]),
};
