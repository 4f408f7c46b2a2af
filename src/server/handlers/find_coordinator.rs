//! FindCoordinator: consumer groups and transactions do not exist yet, so every key gets
//! COORDINATOR_NOT_AVAILABLE. The API is still listed because librdkafka turns compression
//! off against brokers that lack it.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::str_bytes;
use crate::protocol::codes::ErrorCode;

const MESSAGE: &str = "group and transaction coordinators are not implemented";

pub fn handle(request: FindCoordinatorRequest, version: i16) -> FindCoordinatorResponse {
    let mut response = FindCoordinatorResponse::default();
    if version >= 4 {
        response.coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                let mut c = Coordinator::default();
                c.key = key.clone();
                c.node_id = BrokerId(-1);
                c.port = -1;
                c.error_code = ErrorCode::COORDINATOR_NOT_AVAILABLE.code();
                c.error_message = Some(str_bytes(MESSAGE));
                c
            })
            .collect();
    } else {
        response.error_code = ErrorCode::COORDINATOR_NOT_AVAILABLE.code();
        response.error_message = Some(str_bytes(MESSAGE));
        response.node_id = BrokerId(-1);
        response.port = -1;
    }
    response
}
