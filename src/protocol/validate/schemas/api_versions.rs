//! The ApiVersions request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const API_VERSIONS: Schema = Schema {
    api_key: ApiKey::ApiVersions,
    versions: Versions::range(0, 4),
    flexible: Versions::since(3),
    body: Fields::new(&[
        Field::new("client_software_name", String).since(3),
        Field::new("client_software_version", String).since(3),
    ]),
};
