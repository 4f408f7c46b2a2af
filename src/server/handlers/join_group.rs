//! JoinGroup: into the coordinator, answered when the join phase ends (or at once with an
//! error, or MEMBER_ID_REQUIRED for a new member of v4+).

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::str_bytes;
use crate::group::coordinator::api::{self, Response};
use crate::protocol::codes::ErrorCode;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    request: JoinGroupRequest,
    version: i16,
    client_id: String,
    client_host: String,
) -> JoinGroupResponse {
    let join = api::JoinRequest {
        group_id: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id,
        client_host,
        session_timeout_ms: request.session_timeout_ms,
        // v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
        rebalance_timeout_ms: if version == 0 {
            request.session_timeout_ms
        } else {
            request.rebalance_timeout_ms
        },
        protocol_type: request.protocol_type.to_string(),
        protocols: (request.protocols.iter())
            .map(|p| (p.name.to_string(), p.metadata.to_vec()))
            .collect(),
        version,
    };
    let now_ms = broker.env.clock.wall_ms();
    let answer = broker
        .groups
        .call(now_ms, |c, now, token| c.join(now, token, &join))
        .await;
    let joined = match answer {
        Response::Join(joined) => joined,
        other => api::JoinResponse::error(error_of(&other), &join.member_id),
    };
    let mut response = JoinGroupResponse::default();
    response.error_code = joined.error.code();
    response.generation_id = joined.generation_id;
    response.protocol_type = joined.protocol_type.as_deref().map(str_bytes);
    // Before v7 the protocol name is not nullable.
    response.protocol_name = match (&joined.protocol_name, version) {
        (Some(name), _) => Some(str_bytes(name)),
        (None, v) if v < 7 => Some(str_bytes("")),
        (None, _) => None,
    };
    response.leader = str_bytes(&joined.leader);
    response.skip_assignment = joined.skip_assignment;
    response.member_id = str_bytes(&joined.member_id);
    response.members = (joined.members.iter())
        .map(|m| {
            let mut out = JoinGroupResponseMember::default();
            out.member_id = str_bytes(&m.member_id);
            out.group_instance_id = m.group_instance_id.as_deref().map(str_bytes);
            out.metadata = bytes::Bytes::from(m.metadata.clone());
            out
        })
        .collect();
    response
}

/// The error a mismatched answer stands for: only a dropped waiter produces one.
pub(super) fn error_of(response: &Response) -> ErrorCode {
    match response {
        Response::Heartbeat(error) => *error,
        _ => ErrorCode::UNKNOWN_SERVER_ERROR,
    }
}
