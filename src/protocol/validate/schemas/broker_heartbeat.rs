//! The BrokerHeartbeat (a controller API) request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const BROKER_HEARTBEAT: Schema = Schema {
    api_key: ApiKey::BrokerHeartbeat,
    versions: Versions::range(0, 0),
    flexible: Versions::since(0),
    body: Fields::new(&[
        Field::new("broker_id", Int32),
        Field::new("broker_epoch", Int64),
        Field::new("current_metadata_offset", Int64),
        Field::new("want_fence", Boolean),
        Field::new("want_shut_down", Boolean),
    ]),
};
