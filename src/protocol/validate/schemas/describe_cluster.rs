//! The DescribeCluster request body, with Kafka's field names.

use kafka_protocol::messages::ApiKey;

use super::super::schema::Kind::*;
use super::super::schema::{Field, Fields, Schema, Versions};

pub(super) const DESCRIBE_CLUSTER: Schema = Schema {
    api_key: ApiKey::DescribeCluster,
    versions: Versions::range(0, 2),
    flexible: Versions::since(0),
    body: Fields::new(&[
        Field::new("include_cluster_authorized_operations", Boolean),
        Field::new("endpoint_type", Int8).since(1),
        Field::new("include_fenced_brokers", Boolean).since(2),
    ]),
};
