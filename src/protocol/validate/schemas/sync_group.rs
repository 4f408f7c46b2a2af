//! The SyncGroup request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const SYNC_GROUP: Schema = Schema {
    api_key: ApiKey::SyncGroup,
    versions: Versions::range(0, 5),
    flexible: Versions::since(4),
    body: Fields::new(&[
        Field::new("group_id", String),
        Field::new("generation_id", Int32),
        Field::new("member_id", String),
        Field::new("group_instance_id", String)
            .since(3)
            .nullable_since(3),
        Field::new("protocol_type", String)
            .since(5)
            .nullable_since(5),
        Field::new("protocol_name", String)
            .since(5)
            .nullable_since(5),
        Field::new(
            "assignments",
            Array(&Struct(&Fields::new(&[
                Field::new("member_id", String),
                Field::new("assignment", Bytes),
            ]))),
        ),
    ]),
};
