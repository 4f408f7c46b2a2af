//! The OffsetFetch request body, with Kafka's field names.
//!
//! Up to v7 the request names one group; from v8 it carries a batch of groups, each with its
//! own topics. A null topic list (all of the group's topics) is valid from v2.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const OFFSET_FETCH: Schema = Schema {
    api_key: ApiKey::OffsetFetch,
    versions: Versions::range(1, 9),
    flexible: Versions::since(6),
    body: Fields::new(&[
        Field::new("group_id", String).until(7),
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new("partition_indexes", Array(&Int32)),
            ]))),
        )
        .until(7)
        .nullable_since(2),
        Field::new(
            "groups",
            Array(&Struct(&Fields::new(&[
                Field::new("group_id", String),
                Field::new("member_id", String).since(9).nullable_since(9),
                Field::new("member_epoch", Int32).since(9),
                Field::new(
                    "topics",
                    Array(&Struct(&Fields::new(&[
                        Field::new("name", String),
                        Field::new("partition_indexes", Array(&Int32)),
                    ]))),
                )
                .nullable_since(8),
            ]))),
        )
        .since(8),
        Field::new("require_stable", Boolean).since(7),
    ]),
};
