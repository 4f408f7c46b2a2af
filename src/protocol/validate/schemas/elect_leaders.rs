//! The ElectLeaders (the admin call, as the controller serves it) request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const ELECT_LEADERS: Schema = Schema {
    api_key: ApiKey::ElectLeaders,
    versions: Versions::range(2, 2),
    flexible: Versions::since(2),
    body: Fields::new(&[
        Field::new("election_type", Int8),
        Field::new(
            "topic_partitions",
            Array(&Struct(&Fields::new(&[
                Field::new("topic", String),
                Field::new("partitions", Array(&Int32)),
            ]))),
        )
        .nullable_since(0),
        Field::new("timeout_ms", Int32),
    ]),
};
