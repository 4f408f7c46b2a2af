//! The BrokerRegistration (a controller API) request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const BROKER_REGISTRATION: Schema = Schema {
    api_key: ApiKey::BrokerRegistration,
    versions: Versions::range(0, 3),
    flexible: Versions::since(0),
    body: Fields::new(&[
        Field::new("broker_id", Int32),
        Field::new("cluster_id", String),
        Field::new("incarnation_id", Uuid),
        Field::new(
            "listeners",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new("host", String),
                Field::new("port", Int16),
                Field::new("security_protocol", Int16),
            ]))),
        ),
        Field::new(
            "features",
            Array(&Struct(&Fields::new(&[
                Field::new("name", String),
                Field::new("min_supported_version", Int16),
                Field::new("max_supported_version", Int16),
            ]))),
        ),
        Field::new("rack", String).nullable_since(0),
        Field::new("is_migrating_zk_broker", Boolean).since(1),
        Field::new("log_dirs", Array(&Uuid)).since(2),
        Field::new("previous_broker_epoch", Int64).since(3),
    ]),
};
