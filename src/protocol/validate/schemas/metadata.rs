//! The Metadata request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const METADATA: Schema = Schema {
    api_key: ApiKey::Metadata,
    versions: Versions::range(0, 12),
    flexible: Versions::since(9),
    body: Fields::new(&[
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("topic_id", Uuid).since(10),
                Field::new("name", String).nullable_since(10),
            ]))),
        )
        .nullable_since(1),
        Field::new("allow_auto_topic_creation", Boolean).since(4),
        Field::new("include_cluster_authorized_operations", Boolean)
            .since(8)
            .until(10),
        Field::new("include_topic_authorized_operations", Boolean).since(8),
    ]),
};
