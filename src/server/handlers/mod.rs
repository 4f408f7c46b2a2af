//! Request dispatch: one file per request kind behind one match.

mod alter_configs;
mod api_versions;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
mod fetch;
mod find_coordinator;
mod heartbeat;
mod incremental_alter_configs;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod sync_group;

use bytes::Bytes;
use kafka_protocol::messages::{RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;

use super::Broker;
use crate::protocol::{self, Request};

/// What the connection does after a request.
pub enum Reply {
    /// Write this response.
    Respond(Bytes),
    /// Send nothing (Produce with acks=0) and carry on.
    Silent,
    /// Close the connection: no valid response can be produced, and a client waiting for
    /// one must learn that at once rather than time out.
    Close,
}

/// Handle a decoded request from `peer` (the client's address, which DescribeGroups reports
/// as a member's host).
pub async fn dispatch(broker: &Broker, request: Request, peer: std::net::SocketAddr) -> Reply {
    let version = request.header.request_api_version;
    let correlation_id = request.header.correlation_id;
    let response: ResponseKind = match request.body {
        RequestKind::ApiVersions(_) => api_versions::handle().into(),
        RequestKind::Metadata(req) => metadata::handle(broker, req, version).await.into(),
        RequestKind::Produce(req) => {
            let acks = req.acks;
            let response = produce::handle(broker, req).await;
            if acks == 0 {
                return Reply::Silent;
            }
            response.into()
        }
        RequestKind::Fetch(req) => fetch::handle(broker, req, version).await.into(),
        RequestKind::ListOffsets(req) => list_offsets::handle(broker, req, version).await.into(),
        RequestKind::FindCoordinator(req) => {
            find_coordinator::handle(broker, req, version).await.into()
        }
        RequestKind::JoinGroup(req) => {
            let client_id = request.header.client_id.as_ref().map(|c| c.to_string());
            // Kafka's client host: the address as Java prints it, "/127.0.0.1".
            let client_host = format!("/{}", peer.ip());
            join_group::handle(
                broker,
                req,
                version,
                client_id.unwrap_or_default(),
                client_host,
            )
            .await
            .into()
        }
        RequestKind::SyncGroup(req) => sync_group::handle(broker, req).await.into(),
        RequestKind::Heartbeat(req) => heartbeat::handle(broker, req).await.into(),
        RequestKind::LeaveGroup(req) => leave_group::handle(broker, req, version).await.into(),
        RequestKind::OffsetCommit(req) => offset_commit::handle(broker, req, version).await.into(),
        RequestKind::OffsetFetch(req) => offset_fetch::handle(broker, req, version).await.into(),
        RequestKind::ListGroups(req) => list_groups::handle(broker, req).await.into(),
        RequestKind::DescribeGroups(req) => describe_groups::handle(broker, req).await.into(),
        RequestKind::DeleteGroups(req) => delete_groups::handle(broker, req).await.into(),
        RequestKind::OffsetDelete(req) => offset_delete::handle(broker, req).await.into(),
        RequestKind::CreateTopics(req) => create_topics::handle(broker, req).await.into(),
        RequestKind::DeleteTopics(req) => delete_topics::handle(broker, req, version).into(),
        RequestKind::OffsetForLeaderEpoch(req) => {
            offset_for_leader_epoch::handle(broker, req).await.into()
        }
        RequestKind::DescribeCluster(req) => describe_cluster::handle(broker, req, version).into(),
        RequestKind::DescribeConfigs(req) => describe_configs::handle(broker, req, version).into(),
        RequestKind::AlterConfigs(req) => alter_configs::handle(broker, req).await.into(),
        RequestKind::CreatePartitions(req) => create_partitions::handle(broker, req).await.into(),
        RequestKind::DeleteRecords(req) => delete_records::handle(broker, req).await.into(),
        RequestKind::InitProducerId(req) => init_producer_id::handle(broker, req).into(),
        RequestKind::IncrementalAlterConfigs(req) => {
            incremental_alter_configs::handle(broker, req).await.into()
        }
        other => {
            // decode_request only lets supported APIs through, so this is a broken table.
            tracing::error!(?other, "no handler for a supported api");
            return Reply::Close;
        }
    };
    match protocol::encode_response(request.api_key, version, correlation_id, &response) {
        Ok(bytes) => Reply::Respond(bytes),
        Err(error) => {
            tracing::error!(%error, "response encoding failed; closing the connection");
            Reply::Close
        }
    }
}

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}
