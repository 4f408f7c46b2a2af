//! Consumer groups at the wire (issue 12): FindCoordinator creates `__consumer_offsets` and
//! names the leader of the group's partition; a member joins (with the MEMBER_ID_REQUIRED
//! round), syncs, heartbeats and commits; commits from an older generation are refused; the
//! admin requests list, describe and delete; and committed offsets and the group itself are
//! loaded back from the log after the coordinator restarts.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetFetchRequest, ResponseKind, SyncGroupRequest,
};
use kafkasim::protocol::ErrorCode;
use kafkasim::server::{BrokerConfig, TopicAssignment};
use kafkasim_sim::cluster::broker_addr;

mod support;
use support::*;

const GROUP: &str = "g";

/// One broker hosting topic "t" (2 partitions), with a small offsets topic and no initial
/// rebalance delay so that a lone member's join completes at once.
fn one_broker() -> Vec<BrokerConfig> {
    let mut config = BrokerConfig::single(1, broker_addr(1));
    config.topics = vec![TopicAssignment {
        name: "t".into(),
        replicas: vec![vec![1], vec![1]],
        configs: Default::default(),
    }];
    for (key, value) in [
        ("offsets.topic.num.partitions", "3"),
        ("group.initial.rebalance.delay.ms", "0"),
    ] {
        config.configs.insert(key.into(), value.into());
    }
    vec![config]
}

fn group_id(name: &str) -> GroupId {
    GroupId(str_bytes(name))
}

/// FindCoordinator v3 until the coordinator is known (the first call creates the topic).
async fn find_coordinator(addr: SocketAddr, group: &str) -> i32 {
    let mut request = FindCoordinatorRequest::default();
    request.key = str_bytes(group);
    request.key_type = 0;
    for _ in 0..100 {
        let ResponseKind::FindCoordinator(response) =
            send_request(addr, ApiKey::FindCoordinator, 3, request.clone().into()).await
        else {
            panic!("not a FindCoordinator response")
        };
        match ErrorCode::from_wire(response.error_code) {
            ErrorCode::NONE => return response.node_id.0,
            ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("FindCoordinator: {other}"),
        }
    }
    panic!("no coordinator after 100 tries")
}

fn join_request(member_id: &str) -> JoinGroupRequest {
    let mut request = JoinGroupRequest::default();
    request.group_id = group_id(GROUP);
    request.session_timeout_ms = 10_000;
    request.rebalance_timeout_ms = 10_000;
    request.member_id = str_bytes(member_id);
    request.protocol_type = str_bytes("consumer");
    let mut protocol = JoinGroupRequestProtocol::default();
    protocol.name = str_bytes("range");
    protocol.metadata = Bytes::from_static(b"subscription");
    request.protocols = vec![protocol];
    request
}

async fn join(stream: &mut tokio::net::TcpStream, member_id: &str) -> (ErrorCode, String, i32) {
    let ResponseKind::JoinGroup(response) =
        round_trip(stream, ApiKey::JoinGroup, 5, join_request(member_id).into()).await
    else {
        panic!("not a JoinGroup response")
    };
    (
        ErrorCode::from_wire(response.error_code),
        response.member_id.to_string(),
        response.generation_id,
    )
}

fn commit_request(member_id: &str, generation: i32, offset: i64) -> OffsetCommitRequest {
    let mut partition = OffsetCommitRequestPartition::default();
    partition.partition_index = 0;
    partition.committed_offset = offset;
    partition.committed_leader_epoch = -1;
    let mut topic = OffsetCommitRequestTopic::default();
    topic.name = topic_name("t");
    topic.partitions = vec![partition];
    let mut request = OffsetCommitRequest::default();
    request.group_id = group_id(GROUP);
    request.generation_id_or_member_epoch = generation;
    request.member_id = str_bytes(member_id);
    request.retention_time_ms = -1;
    request.topics = vec![topic];
    request
}

async fn commit(addr: SocketAddr, member_id: &str, generation: i32, offset: i64) -> ErrorCode {
    let request = commit_request(member_id, generation, offset);
    let ResponseKind::OffsetCommit(response) =
        send_request(addr, ApiKey::OffsetCommit, 7, request.into()).await
    else {
        panic!("not an OffsetCommit response")
    };
    ErrorCode::from_wire(response.topics[0].partitions[0].error_code)
}

/// The committed offset of t/0, retrying while the coordinator loads.
async fn committed(addr: SocketAddr) -> i64 {
    let mut topic = OffsetFetchRequestTopic::default();
    topic.name = topic_name("t");
    topic.partition_indexes = vec![0];
    let mut request = OffsetFetchRequest::default();
    request.group_id = group_id(GROUP);
    request.topics = Some(vec![topic]);
    for _ in 0..100 {
        let ResponseKind::OffsetFetch(response) =
            send_request(addr, ApiKey::OffsetFetch, 7, request.clone().into()).await
        else {
            panic!("not an OffsetFetch response")
        };
        match ErrorCode::from_wire(response.error_code) {
            ErrorCode::NONE => return response.topics[0].partitions[0].committed_offset,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS | ErrorCode::NOT_COORDINATOR => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("OffsetFetch: {other}"),
        }
    }
    panic!("the coordinator never loaded")
}

#[test]
fn a_member_joins_syncs_commits_and_its_offsets_survive_a_restart() {
    simulate_cluster(one_broker(), |addrs, _clock| async move {
        let addr = addrs[0];
        assert_eq!(find_coordinator(addr, GROUP).await, 1);
        let mut stream = connect(addr).await;

        // KIP-394: a new member is given its id and must join again with it.
        let (error, member_id, _) = join(&mut stream, "").await;
        assert_eq!(error, ErrorCode::MEMBER_ID_REQUIRED);
        assert!(!member_id.is_empty());
        let (error, joined_id, generation) = join(&mut stream, &member_id).await;
        assert_eq!(
            (error, joined_id.as_str()),
            (ErrorCode::NONE, member_id.as_str())
        );
        assert_eq!(generation, 1);

        let mut assignment = SyncGroupRequestAssignment::default();
        assignment.member_id = str_bytes(&member_id);
        assignment.assignment = Bytes::from_static(b"all of t");
        let mut sync = SyncGroupRequest::default();
        sync.group_id = group_id(GROUP);
        sync.generation_id = generation;
        sync.member_id = str_bytes(&member_id);
        sync.assignments = vec![assignment];
        let ResponseKind::SyncGroup(synced) =
            round_trip(&mut stream, ApiKey::SyncGroup, 3, sync.into()).await
        else {
            panic!("not a SyncGroup response")
        };
        assert_eq!(synced.error_code, 0);
        assert_eq!(&synced.assignment[..], b"all of t");

        let mut heartbeat = HeartbeatRequest::default();
        heartbeat.group_id = group_id(GROUP);
        heartbeat.generation_id = generation;
        heartbeat.member_id = str_bytes(&member_id);
        let ResponseKind::Heartbeat(beat) =
            round_trip(&mut stream, ApiKey::Heartbeat, 3, heartbeat.clone().into()).await
        else {
            panic!("not a Heartbeat response")
        };
        assert_eq!(beat.error_code, 0);

        assert_eq!(
            commit(addr, &member_id, generation, 42).await,
            ErrorCode::NONE
        );
        assert_eq!(
            commit(addr, &member_id, generation - 1, 50).await,
            ErrorCode::ILLEGAL_GENERATION
        );
        assert_eq!(
            commit(addr, "someone-else", generation, 50).await,
            ErrorCode::UNKNOWN_MEMBER_ID
        );
        assert_eq!(committed(addr).await, 42);

        let ResponseKind::ListGroups(listed) = send_request(
            addr,
            ApiKey::ListGroups,
            4,
            ListGroupsRequest::default().into(),
        )
        .await
        else {
            panic!("not a ListGroups response")
        };
        let names: Vec<_> = listed
            .groups
            .iter()
            .map(|g| g.group_id.0.to_string())
            .collect();
        assert_eq!(names, [GROUP]);
        assert_eq!(listed.groups[0].group_state.as_str(), "Stable");

        let mut describe = DescribeGroupsRequest::default();
        describe.groups = vec![group_id(GROUP)];
        let ResponseKind::DescribeGroups(described) =
            send_request(addr, ApiKey::DescribeGroups, 5, describe.clone().into()).await
        else {
            panic!("not a DescribeGroups response")
        };
        let group = &described.groups[0];
        assert_eq!(group.group_state.as_str(), "Stable");
        assert_eq!(group.protocol_data.as_str(), "range");
        assert_eq!(group.members.len(), 1);
        assert_eq!(&group.members[0].member_assignment[..], b"all of t");

        // The coordinator restarts: the group and its offsets come back from the log.
        restart_broker(1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(find_coordinator(addr, GROUP).await, 1);
        assert_eq!(committed(addr).await, 42);
        let ResponseKind::DescribeGroups(described) =
            send_request(addr, ApiKey::DescribeGroups, 5, describe.clone().into()).await
        else {
            panic!("not a DescribeGroups response")
        };
        assert_eq!(described.groups[0].group_state.as_str(), "Stable");
        assert_eq!(described.groups[0].members.len(), 1);
        // The restored generation still commits; an older one does not.
        assert_eq!(
            commit(addr, &member_id, generation, 43).await,
            ErrorCode::NONE
        );
        assert_eq!(
            commit(addr, &member_id, generation - 1, 44).await,
            ErrorCode::ILLEGAL_GENERATION
        );

        // Leaving empties the group; then it can be deleted, and its offsets go with it.
        let mut leave = LeaveGroupRequest::default();
        leave.group_id = group_id(GROUP);
        leave.member_id = str_bytes(&member_id);
        let ResponseKind::LeaveGroup(left) =
            send_request(addr, ApiKey::LeaveGroup, 1, leave.into()).await
        else {
            panic!("not a LeaveGroup response")
        };
        assert_eq!(left.error_code, 0);
        let mut delete = DeleteGroupsRequest::default();
        delete.groups_names = vec![group_id(GROUP)];
        let ResponseKind::DeleteGroups(deleted) =
            send_request(addr, ApiKey::DeleteGroups, 2, delete.into()).await
        else {
            panic!("not a DeleteGroups response")
        };
        assert_eq!(deleted.results[0].error_code, 0);
        assert_eq!(committed(addr).await, -1);
    });
}
