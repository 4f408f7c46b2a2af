//! DeleteGroups: an Empty group's offsets and metadata are tombstoned (NON_EMPTY_GROUP
//! otherwise).

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, GroupId};

use super::join_group::error_of;
use super::str_bytes;
use crate::group::coordinator::api::Response;
use crate::server::Broker;

pub async fn handle(broker: &Broker, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let ids: Vec<String> = request
        .groups_names
        .iter()
        .map(|g| g.0.to_string())
        .collect();
    let now_ms = broker.env.clock.wall_ms();
    let answer = broker
        .groups
        .call(now_ms, |c, now, token| c.delete_groups(now, token, &ids))
        .await;
    let results: Vec<(String, crate::protocol::codes::ErrorCode)> = match answer {
        Response::DeleteGroups(results) => results,
        other => ids
            .iter()
            .map(|id| (id.clone(), error_of(&other)))
            .collect(),
    };
    let mut response = DeleteGroupsResponse::default();
    response.results = results
        .iter()
        .map(|(id, error)| {
            let mut out = DeletableGroupResult::default();
            out.group_id = GroupId(str_bytes(id));
            out.error_code = error.code();
            out
        })
        .collect();
    response
}
