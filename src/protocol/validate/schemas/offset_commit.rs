//! The OffsetCommit request body, with Kafka's field names.
//!
//! Kafka's v0 and v1 are below the supported range (and absent from kafka-protocol 0.18):
//! v1's per-partition commit_timestamp is therefore never on the wire here. The topic_id that
//! newer Kafka adds in v10 is above it.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const OFFSET_COMMIT: Schema = Schema {
    api_key: ApiKey::OffsetCommit,
    versions: Versions::range(2, 9),
    flexible: Versions::since(8),
    body: Fields::new(&[
        Field::new("group_id", String),
        Field::new("generation_id_or_member_epoch", Int32),
        Field::new("member_id", String),
        Field::new("group_instance_id", String)
            .since(7)
            .nullable_since(7),
        Field::new("retention_time_ms", Int64).until(4),
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new(
                    "partitions",
                    Array(&Struct(&Fields::new(&[
                        Field::new("partition_index", Int32),
                        Field::new("committed_offset", Int64),
                        Field::new("committed_leader_epoch", Int32).since(6),
                        Field::new("committed_metadata", String).nullable_since(0),
                    ]))),
                ),
            ]))),
        ),
    ]),
};
