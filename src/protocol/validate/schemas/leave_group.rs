//! The LeaveGroup request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const LEAVE_GROUP: Schema = Schema {
    api_key: ApiKey::LeaveGroup,
    versions: Versions::range(0, 5),
    flexible: Versions::since(4),
    body: Fields::new(&[
        Field::new("group_id", String),
        Field::new("member_id", String).until(2),
        Field::new(
            "members",
            Array(&Struct(&Fields::new(&[
                Field::new("member_id", String),
                Field::new("group_instance_id", String).nullable_since(3),
                Field::new("reason", String).since(5).nullable_since(5),
            ]))),
        )
        .since(3),
    ]),
};
