//! The InitProducerId request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const INIT_PRODUCER_ID: Schema = Schema {
    api_key: ApiKey::InitProducerId,
    versions: Versions::range(0, 4),
    flexible: Versions::since(2),
    body: Fields::new(&[
        Field::new("transactional_id", String).nullable_since(0),
        Field::new("transaction_timeout_ms", Int32),
        Field::new("producer_id", Int64).since(3),
        Field::new("producer_epoch", Int16).since(3),
    ]),
};
