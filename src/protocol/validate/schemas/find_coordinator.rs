//! The FindCoordinator request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const FIND_COORDINATOR: Schema = Schema {
    api_key: ApiKey::FindCoordinator,
    versions: Versions::range(0, 4),
    flexible: Versions::since(3),
    body: Fields::new(&[
        Field::new("key", String).until(3),
        Field::new("key_type", Int8).since(1),
        Field::new("coordinator_keys", Array(&String)).since(4),
    ]),
};
