//! The coordinator's inputs and outputs as plain values: what a request asks, what a response
//! says, and the effects a call leaves for the shell (responses to send, records to persist).
//!
//! Every request carries a [`RequestToken`] chosen by the shell. A response is always paired
//! with the token of the request it answers, whether it is sent at once or later (JoinGroup
//! held for the join phase, SyncGroup held for the leader, OffsetCommit held until its records
//! are persisted), so the shell needs no other bookkeeping.

use crate::protocol::codes::ErrorCode;

use super::records::Record;
use super::state::GroupState;

/// The shell's handle for one request; echoed in the response to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestToken(pub u64);

/// The coordinator's handle for one batch of records the shell must persist; the shell reports
/// it back through `Coordinator::records_persisted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersistToken(pub u64);

/// Kafka's `UNKNOWN_MEMBER_ID`: the empty member id of a member that has none yet.
pub const MEMBER_ID_UNKNOWN: &str = "";
/// Kafka's "no generation" (`-1`), used by simple (standalone) offset commits.
pub const GENERATION_NONE: i32 = -1;

/// JoinGroup, as the coordinator needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinRequest {
    pub group_id: String,
    /// Empty on a member's first join.
    pub member_id: String,
    /// group.instance.id: set for a static member (KIP-345).
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    /// Versions 0 have no rebalance timeout; the shell passes the session timeout then.
    pub rebalance_timeout_ms: i32,
    /// "consumer" for Kafka consumers; "connect" for Connect workers.
    pub protocol_type: String,
    /// (protocol name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Vec<u8>)>,
    /// The JoinGroup version: v4+ gets the MEMBER_ID_REQUIRED round (KIP-394).
    pub version: i16,
}

/// One group member as the leader's JoinGroup response lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// The member's metadata for the selected protocol.
    pub metadata: Vec<u8>,
}

/// JoinGroup's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinResponse {
    pub error: ErrorCode,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    /// KIP-814: a static leader rejoining a stable group must not reassign.
    pub skip_assignment: bool,
    pub member_id: String,
    /// Every member with its metadata, only in the leader's response.
    pub members: Vec<JoinMember>,
}

impl JoinResponse {
    /// An error answer carrying `member_id` (MEMBER_ID_REQUIRED carries the new id).
    pub fn error(error: ErrorCode, member_id: &str) -> JoinResponse {
        JoinResponse {
            error,
            generation_id: GENERATION_NONE,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.to_string(),
            members: Vec::new(),
        }
    }
}

/// SyncGroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// v5+: must match the group's when given.
    pub protocol_type: Option<String>,
    /// v5+: must match the group's when given.
    pub protocol_name: Option<String>,
    /// The leader's assignment per member id; empty from followers.
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// SyncGroup's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResponse {
    pub error: ErrorCode,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Vec<u8>,
}

impl SyncResponse {
    pub fn error(error: ErrorCode) -> SyncResponse {
        SyncResponse {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Vec::new(),
        }
    }
}

/// Heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// One member leaving (LeaveGroup v3+ carries several).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeavingMember {
    /// May be empty when a static member leaves by instance id (admin RemoveMembersFromGroup).
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// LeaveGroup's answer: a top-level error and one per member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaveResponse {
    pub error: ErrorCode,
    pub members: Vec<(LeavingMember, ErrorCode)>,
}

/// One partition's offset in an OffsetCommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionCommit {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// OffsetCommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitRequest {
    pub group_id: String,
    /// [`GENERATION_NONE`] with an empty member id: a simple commit (admin, or a consumer
    /// without group management), allowed only while the group has no members.
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub partitions: Vec<PartitionCommit>,
    /// The OffsetCommit version: v9+ answers GROUP_ID_NOT_FOUND where older ones answer
    /// ILLEGAL_GENERATION.
    pub version: i16,
}

/// A committed offset as OffsetFetch returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 when the group has no committed offset for the partition.
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub error: ErrorCode,
}

/// ListGroups' entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

/// DescribeGroups' member entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Metadata for the selected protocol; empty unless the group is Stable.
    pub metadata: Vec<u8>,
    /// Empty unless the group is Stable.
    pub assignment: Vec<u8>,
}

/// DescribeGroups' group entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedGroup {
    pub error: ErrorCode,
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: String,
    /// The selected protocol, only when Stable (Kafka's summary otherwise leaves it empty).
    pub protocol_name: String,
    pub members: Vec<DescribedMember>,
}

/// Any response, paired with its request's token in [`Effects`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Join(JoinResponse),
    Sync(SyncResponse),
    Heartbeat(ErrorCode),
    Leave(LeaveResponse),
    /// Per partition (topic, partition, error), in request order.
    OffsetCommit(Vec<(String, i32, ErrorCode)>),
    /// Top-level error and the partitions.
    OffsetFetch(ErrorCode, Vec<FetchedOffset>),
    /// Top-level error and per partition (topic, partition, error).
    OffsetDelete(ErrorCode, Vec<(String, i32, ErrorCode)>),
    ListGroups(ErrorCode, Vec<ListedGroup>),
    DescribeGroups(Vec<DescribedGroup>),
    DeleteGroups(Vec<(String, ErrorCode)>),
}

/// Records the shell must append to `__consumer_offsets` and report back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistBatch {
    pub token: PersistToken,
    pub records: Vec<Record>,
}

/// What one call leaves for the shell to do, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Responses to send now: to this call's request or to requests held earlier.
    pub responses: Vec<(RequestToken, Response)>,
    /// Record batches to persist. Effects that wait on one (an OffsetCommit's answer) are
    /// released by `Coordinator::records_persisted`.
    pub persist: Vec<PersistBatch>,
}

impl Effects {
    pub fn respond(&mut self, token: RequestToken, response: Response) {
        self.responses.push((token, response));
    }

    /// The response to `token`, if this call produced one (tests and the shell's fast path).
    pub fn response_to(&self, token: RequestToken) -> Option<&Response> {
        self.responses
            .iter()
            .find(|(t, _)| *t == token)
            .map(|(_, response)| response)
    }
}
