//! The group requests on the wire: the versions used (named here and nowhere else), and one
//! function per request that sends it on a connection and returns the fields the member
//! needs. A response of the wrong kind is a protocol error.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
    OffsetCommitRequest, OffsetFetchRequest, RequestKind, ResponseKind, SyncGroupRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::assign::JoinedMember;
use crate::client::cluster::ClusterClient;
use crate::client::connection::{ConnError, Connection};
use crate::group::assignor::TopicPartition;
use crate::group::consumer_protocol::CONSUMER_PROTOCOL_TYPE;
use crate::protocol::codes::ErrorCode;

/// FindCoordinator v3: one key per request, flexible.
pub const FIND_COORDINATOR_VERSION: i16 = 3;
/// JoinGroup v5: group.instance.id (KIP-345) and the MEMBER_ID_REQUIRED round (v4).
pub const JOIN_GROUP_VERSION: i16 = 5;
/// SyncGroup v3: group.instance.id.
pub const SYNC_GROUP_VERSION: i16 = 3;
/// Heartbeat v3: group.instance.id.
pub const HEARTBEAT_VERSION: i16 = 3;
/// LeaveGroup v3: members left by identity (batch form, KIP-345).
pub const LEAVE_GROUP_VERSION: i16 = 3;
/// OffsetCommit v7: group.instance.id.
pub const OFFSET_COMMIT_VERSION: i16 = 7;
/// OffsetFetch v7: one group per request, `require_stable`.
pub const OFFSET_FETCH_VERSION: i16 = 7;
/// Kafka's `FindCoordinatorRequest.CoordinatorType.GROUP`.
const COORDINATOR_TYPE_GROUP: i8 = 0;

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn unexpected(api: &str) -> ConnError {
    ConnError::Protocol(format!("unexpected response to {api}"))
}

/// What FindCoordinator says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FoundCoordinator {
    Found { node_id: i32, addr: SocketAddr },
    Error(ErrorCode),
}

/// FindCoordinator for a group, through any broker.
pub async fn find_coordinator(
    cluster: &mut ClusterClient,
    group_id: &str,
) -> Result<FoundCoordinator, ConnError> {
    let mut request = FindCoordinatorRequest::default();
    request.key = text(group_id);
    request.key_type = COORDINATOR_TYPE_GROUP;
    let response = cluster
        .request_any(
            RequestKind::FindCoordinator(request),
            ApiKey::FindCoordinator,
            FIND_COORDINATOR_VERSION,
        )
        .await?;
    let ResponseKind::FindCoordinator(response) = response else {
        return Err(unexpected("FindCoordinator"));
    };
    if response.error_code != ErrorCode::NONE {
        return Ok(FoundCoordinator::Error(ErrorCode::from_wire(
            response.error_code,
        )));
    }
    let Ok(ip) = response.host.as_str().parse::<IpAddr>() else {
        return Err(ConnError::Protocol(format!(
            "coordinator host {:?} is not an IP address",
            response.host.as_str()
        )));
    };
    let port = u16::try_from(response.port)
        .map_err(|_| ConnError::Protocol(format!("coordinator port {}", response.port)))?;
    Ok(FoundCoordinator::Found {
        node_id: response.node_id.0,
        addr: SocketAddr::new(ip, port),
    })
}

/// Who is asking: the identity every group request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub group_id: String,
    pub member_id: String,
    pub generation_id: i32,
    pub group_instance_id: Option<String>,
}

/// JoinGroup's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Joined {
    pub error: ErrorCode,
    pub generation_id: i32,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    pub members: Vec<JoinedMember>,
}

/// JoinGroup's timeouts.
#[derive(Clone, Copy, Debug)]
pub struct JoinTimeouts {
    pub session: Duration,
    pub rebalance: Duration,
    /// How long to wait for the answer: the coordinator holds it for up to the rebalance
    /// timeout (Kafka waits `max(request.timeout.ms, rebalance timeout + 5 s)`).
    pub request: Duration,
}

/// JoinGroup.
pub async fn join_group(
    conn: &Connection,
    identity: &Identity,
    timeouts: JoinTimeouts,
    protocols: Vec<(String, Vec<u8>)>,
) -> Result<Joined, ConnError> {
    let mut request = JoinGroupRequest::default();
    request.group_id = GroupId(text(&identity.group_id));
    request.session_timeout_ms = timeouts.session.as_millis() as i32;
    request.rebalance_timeout_ms = timeouts.rebalance.as_millis() as i32;
    request.member_id = text(&identity.member_id);
    request.group_instance_id = identity.group_instance_id.as_deref().map(text);
    request.protocol_type = text(CONSUMER_PROTOCOL_TYPE);
    request.protocols = protocols
        .into_iter()
        .map(|(name, metadata)| {
            let mut protocol = JoinGroupRequestProtocol::default();
            protocol.name = StrBytes::from_string(name);
            protocol.metadata = metadata.into();
            protocol
        })
        .collect();
    let response = conn
        .request(
            RequestKind::JoinGroup(request),
            ApiKey::JoinGroup,
            JOIN_GROUP_VERSION,
            timeouts.request,
        )
        .await?;
    let ResponseKind::JoinGroup(response) = response else {
        return Err(unexpected("JoinGroup"));
    };
    Ok(Joined {
        error: ErrorCode::from_wire(response.error_code),
        generation_id: response.generation_id,
        protocol_name: response.protocol_name.map(|name| name.as_str().to_string()),
        leader: response.leader.as_str().to_string(),
        member_id: response.member_id.as_str().to_string(),
        members: response
            .members
            .into_iter()
            .map(|member| JoinedMember {
                member_id: member.member_id.as_str().to_string(),
                group_instance_id: member.group_instance_id.map(|id| id.as_str().to_string()),
                metadata: member.metadata.to_vec(),
            })
            .collect(),
    })
}

/// SyncGroup: returns the error and this member's assignment bytes.
pub async fn sync_group(
    conn: &Connection,
    identity: &Identity,
    assignments: Vec<(String, Vec<u8>)>,
    timeout: Duration,
) -> Result<(ErrorCode, Vec<u8>), ConnError> {
    let mut request = SyncGroupRequest::default();
    request.group_id = GroupId(text(&identity.group_id));
    request.generation_id = identity.generation_id;
    request.member_id = text(&identity.member_id);
    request.group_instance_id = identity.group_instance_id.as_deref().map(text);
    request.assignments = assignments
        .into_iter()
        .map(|(member_id, bytes)| {
            let mut assignment = SyncGroupRequestAssignment::default();
            assignment.member_id = StrBytes::from_string(member_id);
            assignment.assignment = bytes.into();
            assignment
        })
        .collect();
    let response = conn
        .request(
            RequestKind::SyncGroup(request),
            ApiKey::SyncGroup,
            SYNC_GROUP_VERSION,
            timeout,
        )
        .await?;
    let ResponseKind::SyncGroup(response) = response else {
        return Err(unexpected("SyncGroup"));
    };
    Ok((
        ErrorCode::from_wire(response.error_code),
        response.assignment.to_vec(),
    ))
}

/// Heartbeat.
pub async fn heartbeat(
    conn: &Connection,
    identity: &Identity,
    timeout: Duration,
) -> Result<ErrorCode, ConnError> {
    let mut request = HeartbeatRequest::default();
    request.group_id = GroupId(text(&identity.group_id));
    request.generation_id = identity.generation_id;
    request.member_id = text(&identity.member_id);
    request.group_instance_id = identity.group_instance_id.as_deref().map(text);
    let response = conn
        .request(
            RequestKind::Heartbeat(request),
            ApiKey::Heartbeat,
            HEARTBEAT_VERSION,
            timeout,
        )
        .await?;
    let ResponseKind::Heartbeat(response) = response else {
        return Err(unexpected("Heartbeat"));
    };
    Ok(ErrorCode::from_wire(response.error_code))
}

/// LeaveGroup for this member: the top-level error, else the member's own.
pub async fn leave_group(
    conn: &Connection,
    identity: &Identity,
    timeout: Duration,
) -> Result<ErrorCode, ConnError> {
    let mut member = MemberIdentity::default();
    member.member_id = text(&identity.member_id);
    member.group_instance_id = identity.group_instance_id.as_deref().map(text);
    let mut request = LeaveGroupRequest::default();
    request.group_id = GroupId(text(&identity.group_id));
    request.members = vec![member];
    let response = conn
        .request(
            RequestKind::LeaveGroup(request),
            ApiKey::LeaveGroup,
            LEAVE_GROUP_VERSION,
            timeout,
        )
        .await?;
    let ResponseKind::LeaveGroup(response) = response else {
        return Err(unexpected("LeaveGroup"));
    };
    let member_error = response.members.first().map_or(0, |m| m.error_code);
    let code = if response.error_code != 0 {
        response.error_code
    } else {
        member_error
    };
    Ok(ErrorCode::from_wire(code))
}

/// OffsetCommit: each partition's code, in request order.
pub async fn offset_commit(
    conn: &Connection,
    identity: &Identity,
    offsets: &[(TopicPartition, i64)],
    timeout: Duration,
) -> Result<Vec<(TopicPartition, ErrorCode)>, ConnError> {
    let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for ((topic, partition), offset) in offsets {
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = *partition;
        p.committed_offset = *offset;
        p.committed_leader_epoch = -1;
        p.committed_metadata = Some(StrBytes::from_static_str(""));
        by_topic.entry(topic).or_default().push(p);
    }
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(text(&identity.group_id));
    request.generation_id_or_member_epoch = identity.generation_id;
    request.member_id = text(&identity.member_id);
    request.group_instance_id = identity.group_instance_id.as_deref().map(text);
    request.topics = by_topic
        .into_iter()
        .map(|(name, partitions)| {
            let mut topic = OffsetCommitRequestTopic::default();
            topic.name = TopicName(text(name));
            topic.partitions = partitions;
            topic
        })
        .collect();
    let response = conn
        .request(
            RequestKind::OffsetCommit(request),
            ApiKey::OffsetCommit,
            OFFSET_COMMIT_VERSION,
            timeout,
        )
        .await?;
    let ResponseKind::OffsetCommit(response) = response else {
        return Err(unexpected("OffsetCommit"));
    };
    let mut codes = Vec::new();
    for topic in response.topics {
        for p in topic.partitions {
            codes.push((
                (topic.name.0.as_str().to_string(), p.partition_index),
                ErrorCode::from_wire(p.error_code),
            ));
        }
    }
    Ok(codes)
}

/// OffsetFetch's answer: the group-level error, and per partition the committed offset
/// (`None` when nothing is committed) or the partition's error.
pub type Fetched = (
    ErrorCode,
    BTreeMap<TopicPartition, Result<Option<i64>, ErrorCode>>,
);

/// OffsetFetch for `partitions`.
pub async fn offset_fetch(
    conn: &Connection,
    group_id: &str,
    partitions: &[TopicPartition],
    timeout: Duration,
) -> Result<Fetched, ConnError> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    let mut request = OffsetFetchRequest::default();
    request.group_id = GroupId(text(group_id));
    request.require_stable = false;
    request.topics = Some(
        by_topic
            .into_iter()
            .map(|(name, indexes)| {
                let mut topic = OffsetFetchRequestTopic::default();
                topic.name = TopicName(text(name));
                topic.partition_indexes = indexes;
                topic
            })
            .collect(),
    );
    let response = conn
        .request(
            RequestKind::OffsetFetch(request),
            ApiKey::OffsetFetch,
            OFFSET_FETCH_VERSION,
            timeout,
        )
        .await?;
    let ResponseKind::OffsetFetch(response) = response else {
        return Err(unexpected("OffsetFetch"));
    };
    let mut offsets = BTreeMap::new();
    for topic in response.topics {
        for p in topic.partitions {
            let key = (topic.name.0.as_str().to_string(), p.partition_index);
            let value = if p.error_code != ErrorCode::NONE {
                Err(ErrorCode::from_wire(p.error_code))
            } else {
                Ok((p.committed_offset >= 0).then_some(p.committed_offset))
            };
            offsets.insert(key, value);
        }
    }
    Ok((ErrorCode::from_wire(response.error_code), offsets))
}
