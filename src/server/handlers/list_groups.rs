//! ListGroups: the groups this broker coordinates, filtered by state (v4+) and group type
//! (v5+; every group here is a classic one).

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::join_group::error_of;
use super::str_bytes;
use crate::group::coordinator::api::Response;
use crate::group::coordinator::state::GroupState;
use crate::server::Broker;

/// KIP-848's name for the protocol every group here speaks.
const CLASSIC: &str = "classic";

pub async fn handle(broker: &Broker, request: ListGroupsRequest) -> ListGroupsResponse {
    let mut response = ListGroupsResponse::default();
    let types = &request.types_filter;
    if !types.is_empty() && !types.iter().any(|t| t.eq_ignore_ascii_case(CLASSIC)) {
        return response;
    }
    let mut states = Vec::new();
    for name in &request.states_filter {
        match GroupState::from_kafka_name(name) {
            Some(state) => states.push(state),
            // A state no classic group can be in (KIP-848's Assigning, Reconciling): none.
            None if states.is_empty() && request.states_filter.len() == 1 => return response,
            None => {}
        }
    }
    let now_ms = broker.env.clock.wall_ms();
    let answer = broker
        .groups
        .call(now_ms, |c, _, token| c.list_groups(token, &states, &[]))
        .await;
    let (error, listed) = match answer {
        Response::ListGroups(error, listed) => (error, listed),
        other => (error_of(&other), Vec::new()),
    };
    response.error_code = error.code();
    response.groups = listed
        .iter()
        .map(|g| {
            let mut out = ListedGroup::default();
            out.group_id = GroupId(str_bytes(&g.group_id));
            out.protocol_type = str_bytes(&g.protocol_type);
            out.group_state = str_bytes(g.state.kafka_name());
            out.group_type = str_bytes(CLASSIC);
            out
        })
        .collect();
    response
}
