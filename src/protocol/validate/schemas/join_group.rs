//! The JoinGroup request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const JOIN_GROUP: Schema = Schema {
    api_key: ApiKey::JoinGroup,
    versions: Versions::range(0, 9),
    flexible: Versions::since(6),
    body: Fields::new(&[
        Field::new("group_id", String),
        Field::new("session_timeout_ms", Int32),
        Field::new("rebalance_timeout_ms", Int32).since(1),
        Field::new("member_id", String),
        Field::new("group_instance_id", String)
            .since(5)
            .nullable_since(5),
        Field::new("protocol_type", String),
        Field::new(
            "protocols",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new("metadata", Bytes),
            ]))),
        ),
        Field::new("reason", String).since(8).nullable_since(8),
    ]),
};
