//! Why the controller rejects an input, and the Kafka error code each rejection answers with.

use crate::protocol::ErrorCode;

/// Why an input was rejected; each maps to one Kafka error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControllerError {
    /// The topic or partition does not exist.
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    /// The broker never registered.
    #[error("broker {0} is not registered")]
    BrokerIdNotRegistered(i32),
    /// The request comes from an older incarnation of the broker.
    #[error("broker {broker_id} incarnation {incarnation} is stale")]
    StaleBrokerEpoch {
        /// The broker.
        broker_id: i32,
        /// The stale incarnation in the request.
        incarnation: u64,
    },
    /// The same incarnation registered again with a different endpoint.
    #[error("broker {0} registered twice with different endpoints")]
    DuplicateBrokerRegistration(i32),
    /// The request's leader epoch is not the partition's current one.
    #[error("leader epoch {request} is not the current {current}")]
    FencedLeaderEpoch {
        /// The epoch in the request.
        request: i32,
        /// The partition's epoch.
        current: i32,
    },
    /// The requester does not lead the partition.
    #[error("broker {0} is not the leader")]
    NotLeaderOrFollower(i32),
    /// A manual replica assignment names an unregistered broker, repeats a broker, differs
    /// in length between partitions, or has every replica of a partition fenced.
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),
    /// The request's partition epoch is not the partition's current one.
    #[error("partition epoch {request} is not the current {current}")]
    InvalidUpdateVersion {
        /// The epoch in the request.
        request: i32,
        /// The partition's epoch.
        current: i32,
    },
    /// A proposed ISR member is fenced, unknown or shutting down.
    #[error("ISR member {0} is fenced or shutting down")]
    IneligibleReplica(i32),
    /// The request is malformed (empty ISR, ISR without the leader, non-replica member…).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The topic already exists.
    #[error("topic {0} already exists")]
    TopicAlreadyExists(String),
    /// The topic name is not legal.
    #[error("invalid topic name {0:?}")]
    InvalidTopic(String),
    /// The partition count is below 1.
    #[error("invalid partition count {0}")]
    InvalidPartitions(i32),
    /// The replication factor is below 1 or above the unfenced brokers.
    #[error("replication factor {requested} with {available} unfenced brokers")]
    InvalidReplicationFactor {
        /// The requested factor.
        requested: i32,
        /// Unfenced brokers available.
        available: usize,
    },
    /// The election would not change anything.
    #[error("election not needed")]
    ElectionNotNeeded,
    /// The preferred replica is not a live ISR member.
    #[error("preferred leader not available")]
    PreferredLeaderNotAvailable,
    /// No live replica can lead.
    #[error("eligible leaders not available")]
    EligibleLeadersNotAvailable,
}

impl ControllerError {
    /// The Kafka error code for the response.
    pub fn code(&self) -> ErrorCode {
        match self {
            ControllerError::UnknownTopicOrPartition => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ControllerError::BrokerIdNotRegistered(_) => ErrorCode::BROKER_ID_NOT_REGISTERED,
            ControllerError::StaleBrokerEpoch { .. } => ErrorCode::STALE_BROKER_EPOCH,
            ControllerError::DuplicateBrokerRegistration(_) => {
                ErrorCode::DUPLICATE_BROKER_REGISTRATION
            }
            ControllerError::FencedLeaderEpoch { .. } => ErrorCode::FENCED_LEADER_EPOCH,
            ControllerError::NotLeaderOrFollower(_) => ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ControllerError::InvalidUpdateVersion { .. } => ErrorCode::INVALID_UPDATE_VERSION,
            ControllerError::IneligibleReplica(_) => ErrorCode::INELIGIBLE_REPLICA,
            ControllerError::InvalidRequest(_) => ErrorCode::INVALID_REQUEST,
            ControllerError::InvalidReplicaAssignment(_) => ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ControllerError::TopicAlreadyExists(_) => ErrorCode::TOPIC_ALREADY_EXISTS,
            ControllerError::InvalidTopic(_) => ErrorCode::INVALID_TOPIC_EXCEPTION,
            ControllerError::InvalidPartitions(_) => ErrorCode::INVALID_PARTITIONS,
            ControllerError::InvalidReplicationFactor { .. } => {
                ErrorCode::INVALID_REPLICATION_FACTOR
            }
            ControllerError::ElectionNotNeeded => ErrorCode::ELECTION_NOT_NEEDED,
            ControllerError::PreferredLeaderNotAvailable => {
                ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE
            }
            ControllerError::EligibleLeadersNotAvailable => {
                ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE
            }
        }
    }
}
