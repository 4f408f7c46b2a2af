//! DescribeCluster (KIP-700): the cluster id, the controller id clients are told, and the
//! brokers. A broker only describes brokers: asking it for controllers (endpoint type 2)
//! is MISMATCHED_ENDPOINT_TYPE, and an endpoint type Kafka does not define is
//! UNSUPPORTED_ENDPOINT_TYPE (INVALID_REQUEST in v0, which has neither code), as Kafka's
//! `AuthHelper.computeDescribeClusterResponse` answers.
//!
//! With a controller the brokers are the ones the applied metadata log registered, without
//! the fenced ones unless v2's `include_fenced_brokers` asks for them; without one they are
//! the static cluster map's.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::Broker;

/// Kafka's `EndpointType.BROKER`.
const ENDPOINT_BROKER: i8 = 1;
/// Kafka's `EndpointType.CONTROLLER`.
const ENDPOINT_CONTROLLER: i8 = 2;

/// The cluster's authorized operations when the request does not ask for them (the
/// schema's default, `Integer.MIN_VALUE`).
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// The operations Kafka supports on the cluster resource (`AclEntry.supportedOperations`:
/// CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
/// IDEMPOTENT_WRITE 12) as a bit field. Without an authorizer Kafka reports all of them.
pub const CLUSTER_AUTHORIZED_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

pub fn handle(
    broker: &Broker,
    request: DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default();
    if let Err((code, message)) = check_endpoint_type(request.endpoint_type, version) {
        response.error_code = code.code();
        response.error_message = Some(str_bytes(&message));
        return response;
    }
    response.endpoint_type = ENDPOINT_BROKER;
    response.cluster_id = str_bytes(&broker.config.cluster_id);
    response.controller_id = BrokerId(controller_id_for_clients(broker));
    response.brokers = brokers(broker, request.include_fenced_brokers);
    response.cluster_authorized_operations = if request.include_cluster_authorized_operations {
        CLUSTER_AUTHORIZED_OPERATIONS
    } else {
        AUTHORIZED_OPERATIONS_OMITTED
    };
    response
}

/// The endpoint type must be the broker's; v0 (which cannot ask for another) answers a
/// wrong one with INVALID_REQUEST.
fn check_endpoint_type(endpoint_type: i8, version: i16) -> Result<(), (ErrorCode, String)> {
    let code = |since_v1: ErrorCode| {
        if version == 0 {
            ErrorCode::INVALID_REQUEST
        } else {
            since_v1
        }
    };
    match endpoint_type {
        ENDPOINT_BROKER => Ok(()),
        ENDPOINT_CONTROLLER => Err((
            code(ErrorCode::MISMATCHED_ENDPOINT_TYPE),
            "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of \
             type CONTROLLER"
                .to_string(),
        )),
        other => Err((
            code(ErrorCode::UNSUPPORTED_ENDPOINT_TYPE),
            format!("Unsupported endpoint type {other}"),
        )),
    }
}

/// The controller id Metadata reports too: clients cannot reach a KRaft controller, so a
/// broker names a broker (Kafka picks a random live one; kafkasim the lowest id, for
/// determinism).
fn controller_id_for_clients(broker: &Broker) -> i32 {
    broker
        .config
        .brokers
        .iter()
        .map(|b| b.node_id)
        .min()
        .unwrap_or(-1)
}

fn brokers(broker: &Broker, include_fenced: bool) -> Vec<DescribeClusterBroker> {
    let describe = |id: i32, host: &str, port: i32, fenced: bool| {
        let mut out = DescribeClusterBroker::default();
        out.broker_id = BrokerId(id);
        out.host = str_bytes(host);
        out.port = port;
        out.is_fenced = fenced;
        out
    };
    match broker.metadata() {
        Some(state) => state
            .brokers
            .iter()
            .filter(|(_, b)| include_fenced || !b.fenced)
            .map(|(&id, b)| describe(id, &b.endpoint.host, b.endpoint.port as i32, b.fenced))
            .collect(),
        None => broker
            .config
            .brokers
            .iter()
            .map(|b| describe(b.node_id, &b.host, b.port, false))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AclOperation codes from Kafka's `AclOperation.java`, summed by hand.
    #[test]
    fn cluster_operations_are_kafkas_bit_field() {
        assert_eq!(CLUSTER_AUTHORIZED_OPERATIONS, 8096);
    }

    #[test]
    fn endpoint_types_get_kafkas_codes() {
        assert!(check_endpoint_type(1, 0).is_ok());
        assert!(check_endpoint_type(1, 2).is_ok());
        let code = |t, v| check_endpoint_type(t, v).unwrap_err().0;
        assert_eq!(code(2, 1), ErrorCode::MISMATCHED_ENDPOINT_TYPE);
        assert_eq!(code(0, 1), ErrorCode::UNSUPPORTED_ENDPOINT_TYPE);
        assert_eq!(code(-7, 2), ErrorCode::UNSUPPORTED_ENDPOINT_TYPE);
        assert_eq!(code(2, 0), ErrorCode::INVALID_REQUEST);
    }
}
