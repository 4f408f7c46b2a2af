//! LeaveGroup: v0–2 name one member, v3+ a list (static members by instance id).

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::join_group::error_of;
use super::str_bytes;
use crate::group::coordinator::api::{self, Response};
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let group_id = request.group_id.0.to_string();
    let members: Vec<api::LeavingMember> = if version < 3 {
        vec![api::LeavingMember {
            member_id: request.member_id.to_string(),
            group_instance_id: None,
        }]
    } else {
        (request.members.iter())
            .map(|m| api::LeavingMember {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
            })
            .collect()
    };
    let now_ms = broker.env.clock.wall_ms();
    let answer = broker
        .groups
        .call(now_ms, |c, now, token| {
            c.leave(now, token, &group_id, &members)
        })
        .await;
    let mut response = LeaveGroupResponse::default();
    let left = match answer {
        Response::Leave(left) => left,
        other => api::LeaveResponse {
            error: error_of(&other),
            members: Vec::new(),
        },
    };
    response.error_code = left.error.code();
    if version < 3 {
        // One member: its error is the answer's.
        if let Some((_, error)) = left.members.first() {
            if left.error.code() == 0 {
                response.error_code = error.code();
            }
        }
    } else {
        response.members = (left.members.iter())
            .map(|(member, error)| {
                let mut out = MemberResponse::default();
                out.member_id = str_bytes(&member.member_id);
                out.group_instance_id = member.group_instance_id.as_deref().map(str_bytes);
                out.error_code = error.code();
                out
            })
            .collect();
    }
    response
}
