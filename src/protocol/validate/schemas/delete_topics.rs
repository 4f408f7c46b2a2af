//! The DeleteTopics request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const DELETE_TOPICS: Schema = Schema {
    api_key: ApiKey::DeleteTopics,
    versions: Versions::range(1, 6),
    flexible: Versions::since(4),
    body: Fields::new(&[
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String).nullable_since(6),
                Field::new("topic_id", Uuid),
            ]))),
        )
        .since(6),
        Field::new("topic_names", Array(&String)).until(5),
        Field::new("timeout_ms", Int32),
    ]),
};
