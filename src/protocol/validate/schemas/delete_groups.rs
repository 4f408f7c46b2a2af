//! The DeleteGroups request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const DELETE_GROUPS: Schema = Schema {
    api_key: ApiKey::DeleteGroups,
    versions: Versions::range(0, 2),
    flexible: Versions::since(2),
    body: Fields::new(&[Field::new("groups_names", Array(&String))]),
};
