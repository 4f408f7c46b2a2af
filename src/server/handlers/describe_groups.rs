//! DescribeGroups: state, protocol and members of each named group (NOT_COORDINATOR for
//! groups coordinated elsewhere; an unknown group is Dead, as in Kafka).

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, GroupId};

use super::str_bytes;
use crate::group::coordinator::api::Response;
use crate::server::Broker;

/// Kafka's "operations not requested" marker.
const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

pub async fn handle(broker: &Broker, request: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let ids: Vec<String> = request.groups.iter().map(|g| g.0.to_string()).collect();
    let now_ms = broker.env.clock.wall_ms();
    let answer = broker
        .groups
        .call(now_ms, |c, _, token| c.describe_groups(token, &ids))
        .await;
    let mut response = DescribeGroupsResponse::default();
    let Response::DescribeGroups(described) = answer else {
        return response;
    };
    response.groups = described
        .iter()
        .map(|g| {
            let mut out = DescribedGroup::default();
            out.error_code = g.error.code();
            out.group_id = GroupId(str_bytes(&g.group_id));
            out.group_state = str_bytes(g.state.kafka_name());
            out.protocol_type = str_bytes(&g.protocol_type);
            out.protocol_data = str_bytes(&g.protocol_name);
            out.authorized_operations = OPERATIONS_NOT_REQUESTED;
            out.members = (g.members.iter())
                .map(|m| {
                    let mut member = DescribedGroupMember::default();
                    member.member_id = str_bytes(&m.member_id);
                    member.group_instance_id = m.group_instance_id.as_deref().map(str_bytes);
                    member.client_id = str_bytes(&m.client_id);
                    member.client_host = str_bytes(&m.client_host);
                    member.member_metadata = bytes::Bytes::from(m.metadata.clone());
                    member.member_assignment = bytes::Bytes::from(m.assignment.clone());
                    member
                })
                .collect();
            out
        })
        .collect();
    response
}
