//! The DescribeGroups request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const DESCRIBE_GROUPS: Schema = Schema {
    api_key: ApiKey::DescribeGroups,
    versions: Versions::range(0, 5),
    flexible: Versions::since(5),
    body: Fields::new(&[
        Field::new("groups", Array(&String)),
        Field::new("include_authorized_operations", Boolean).since(3),
    ]),
};
