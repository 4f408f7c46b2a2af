//! InitProducerId for idempotent producers: a fresh producer id at epoch 0.
//!
//! Transactions do not exist yet, so a transactional id gets COORDINATOR_NOT_AVAILABLE, as
//! FindCoordinator answers for it (an empty one is INVALID_REQUEST, as Kafka answers). A
//! non-transactional producer that sends its old id and epoch (v3+, after an
//! OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID) gets a new id, as Kafka's coordinator
//! gives it.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::protocol::codes::ErrorCode;
use crate::server::Broker;

pub fn handle(broker: &Broker, request: InitProducerIdRequest) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    response.producer_id = ProducerId(-1);
    response.producer_epoch = -1;
    let code = match &request.transactional_id {
        Some(id) if id.0.is_empty() => ErrorCode::INVALID_REQUEST,
        Some(_) => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        None => match broker.allocate_producer_id() {
            Ok(producer_id) => {
                response.producer_id = ProducerId(producer_id);
                response.producer_epoch = 0;
                broker.env.trace.effect("producer_id.allocated", 1);
                ErrorCode::NONE
            }
            Err(error) => {
                // The block could not be reserved durably: retriable, nothing handed out.
                tracing::warn!(%error, "cannot reserve producer ids");
                ErrorCode::COORDINATOR_NOT_AVAILABLE
            }
        },
    };
    response.error_code = code.code();
    response
}
