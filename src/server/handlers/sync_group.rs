//! SyncGroup: followers wait for the leader's assignment; the leader's is persisted before
//! anyone is answered.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::join_group::error_of;
use super::str_bytes;
use crate::group::coordinator::api::{self, Response};
use crate::server::Broker;

pub async fn handle(broker: &Broker, request: SyncGroupRequest) -> SyncGroupResponse {
    let sync = api::SyncRequest {
        group_id: request.group_id.0.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
        protocol_type: request.protocol_type.as_ref().map(|s| s.to_string()),
        protocol_name: request.protocol_name.as_ref().map(|s| s.to_string()),
        assignments: (request.assignments.iter())
            .map(|a| (a.member_id.to_string(), a.assignment.to_vec()))
            .collect(),
    };
    let now_ms = broker.env.clock.wall_ms();
    let answer = broker
        .groups
        .call(now_ms, |c, now, token| c.sync(now, token, &sync))
        .await;
    let synced = match answer {
        Response::Sync(synced) => synced,
        other => api::SyncResponse::error(error_of(&other)),
    };
    let mut response = SyncGroupResponse::default();
    response.error_code = synced.error.code();
    response.protocol_type = synced.protocol_type.as_deref().map(str_bytes);
    response.protocol_name = synced.protocol_name.as_deref().map(str_bytes);
    response.assignment = bytes::Bytes::from(synced.assignment);
    response
}
