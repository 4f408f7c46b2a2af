//! The Fetch (the brokers' and the controller's, whose metadata log brokers fetch with it) request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, TaggedField, Versions};

pub(super) const FETCH: Schema = Schema {
    api_key: ApiKey::Fetch,
    versions: Versions::range(4, 16),
    flexible: Versions::since(12),
    body: Fields {
        fields: &[
            Field::new("replica_id", Int32).until(14),
            Field::new("max_wait_ms", Int32),
            Field::new("min_bytes", Int32),
            Field::new("max_bytes", Int32),
            Field::new("isolation_level", Int8),
            Field::new("session_id", Int32).since(7),
            Field::new("session_epoch", Int32).since(7),
            Field::new(
                "topics",
                Array(&Struct(&Fields::new(&[
                    Field::new("topic", String).until(12),
                    Field::new("topic_id", Uuid).since(13),
                    Field::new(
                        "partitions",
                        Array(&Struct(&Fields::new(&[
                            Field::new("partition", Int32),
                            Field::new("current_leader_epoch", Int32).since(9),
                            Field::new("fetch_offset", Int64),
                            Field::new("last_fetched_epoch", Int32).since(12),
                            Field::new("log_start_offset", Int64).since(5),
                            Field::new("partition_max_bytes", Int32),
                        ]))),
                    ),
                ]))),
            ),
            Field::new(
                "forgotten_topics_data",
                Array(&Struct(&Fields::new(&[
                    Field::new("topic", String).until(12),
                    Field::new("topic_id", Uuid).since(13),
                    Field::new("partitions", Array(&Int32)),
                ]))),
            )
            .since(7),
            Field::new("rack_id", String).since(11),
        ],
        tagged: &[
            TaggedField {
                tag: 0,
                field: Field::new("cluster_id", String).nullable_since(12),
            },
            TaggedField {
                tag: 1,
                field: Field::new(
                    "replica_state",
                    Struct(&Fields::new(&[
                        Field::new("replica_id", Int32),
                        Field::new("replica_epoch", Int64),
                    ])),
                )
                .since(15),
            },
        ],
    },
};
