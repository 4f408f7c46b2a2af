//! The ListGroups request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const LIST_GROUPS: Schema = Schema {
    api_key: ApiKey::ListGroups,
    versions: Versions::range(0, 5),
    flexible: Versions::since(3),
    body: Fields::new(&[
        Field::new("states_filter", Array(&String)).since(4),
        Field::new("types_filter", Array(&String)).since(5),
    ]),
};
