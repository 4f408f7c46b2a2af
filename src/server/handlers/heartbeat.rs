//! Heartbeat: keeps a member's session; REBALANCE_IN_PROGRESS tells it to rejoin.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::join_group::error_of;
use crate::group::coordinator::api;
use crate::server::Broker;

pub async fn handle(broker: &Broker, request: HeartbeatRequest) -> HeartbeatResponse {
    let heartbeat = api::HeartbeatRequest {
        group_id: request.group_id.0.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
    };
    let now_ms = broker.env.clock.wall_ms();
    let answer = broker
        .groups
        .call(now_ms, |c, now, token| c.heartbeat(now, token, &heartbeat))
        .await;
    let mut response = HeartbeatResponse::default();
    response.error_code = error_of(&answer).code();
    response
}
