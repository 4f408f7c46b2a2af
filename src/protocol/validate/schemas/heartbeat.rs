//! The Heartbeat request body (a group member's, not the controller's BrokerHeartbeat), with
//! Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const HEARTBEAT: Schema = Schema {
    api_key: ApiKey::Heartbeat,
    versions: Versions::range(0, 4),
    flexible: Versions::since(4),
    body: Fields::new(&[
        Field::new("group_id", String),
        Field::new("generation_id", Int32),
        Field::new("member_id", String),
        Field::new("group_instance_id", String)
            .since(3)
            .nullable_since(3),
    ]),
};
