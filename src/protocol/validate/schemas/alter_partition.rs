//! The AlterPartition (a controller API) request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const ALTER_PARTITION: Schema = Schema {
    api_key: ApiKey::AlterPartition,
    versions: Versions::range(2, 2),
    flexible: Versions::since(0),
    body: Fields::new(&[
        Field::new("broker_id", Int32),
        Field::new("broker_epoch", Int64),
        Field::new(
            "topics",
            Array(&Struct(&Fields::new(&[
                Field::new("topic_id", Uuid),
                Field::new(
                    "partitions",
                    Array(&Struct(&Fields::new(&[
                        Field::new("partition_index", Int32),
                        Field::new("leader_epoch", Int32),
                        Field::new("new_isr", Array(&Int32)),
                        Field::new("leader_recovery_state", Int8),
                        Field::new("partition_epoch", Int32),
                    ]))),
                ),
            ]))),
        ),
    ]),
};
