//! Why the controller rejects an input, and the Kafka error code each rejection answers with.

use crate::protocol::codes;

/// Kafka's FENCED_LEADER_EPOCH: the request's leader epoch is not the current one.
pub const FENCED_LEADER_EPOCH: i16 = 74;
/// Kafka's STALE_BROKER_EPOCH: the request comes from an older broker incarnation.
pub const STALE_BROKER_EPOCH: i16 = 77;
/// Kafka's PREFERRED_LEADER_NOT_AVAILABLE.
pub const PREFERRED_LEADER_NOT_AVAILABLE: i16 = 80;
/// Kafka's ELIGIBLE_LEADERS_NOT_AVAILABLE.
pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: i16 = 83;
/// Kafka's ELECTION_NOT_NEEDED.
pub const ELECTION_NOT_NEEDED: i16 = 84;
/// Kafka's INVALID_UPDATE_VERSION: the request's partition epoch is not the current one.
pub const INVALID_UPDATE_VERSION: i16 = 95;
/// Kafka's DUPLICATE_BROKER_REGISTRATION.
pub const DUPLICATE_BROKER_REGISTRATION: i16 = 101;
/// Kafka's BROKER_ID_NOT_REGISTERED.
pub const BROKER_ID_NOT_REGISTERED: i16 = 102;
/// Kafka's INELIGIBLE_REPLICA: a proposed ISR member is fenced or shutting down (KIP-841).
pub const INELIGIBLE_REPLICA: i16 = 107;

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
    pub fn code(&self) -> i16 {
        match self {
            ControllerError::UnknownTopicOrPartition => codes::UNKNOWN_TOPIC_OR_PARTITION,
            ControllerError::BrokerIdNotRegistered(_) => BROKER_ID_NOT_REGISTERED,
            ControllerError::StaleBrokerEpoch { .. } => STALE_BROKER_EPOCH,
            ControllerError::DuplicateBrokerRegistration(_) => DUPLICATE_BROKER_REGISTRATION,
            ControllerError::FencedLeaderEpoch { .. } => FENCED_LEADER_EPOCH,
            ControllerError::NotLeaderOrFollower(_) => codes::NOT_LEADER_OR_FOLLOWER,
            ControllerError::InvalidUpdateVersion { .. } => INVALID_UPDATE_VERSION,
            ControllerError::IneligibleReplica(_) => INELIGIBLE_REPLICA,
            ControllerError::InvalidRequest(_) => codes::INVALID_REQUEST,
            ControllerError::TopicAlreadyExists(_) => codes::TOPIC_ALREADY_EXISTS,
            ControllerError::InvalidTopic(_) => codes::INVALID_TOPIC_EXCEPTION,
            ControllerError::InvalidPartitions(_) => codes::INVALID_PARTITIONS,
            ControllerError::InvalidReplicationFactor { .. } => codes::INVALID_REPLICATION_FACTOR,
            ControllerError::ElectionNotNeeded => ELECTION_NOT_NEEDED,
            ControllerError::PreferredLeaderNotAvailable => PREFERRED_LEADER_NOT_AVAILABLE,
            ControllerError::EligibleLeadersNotAvailable => ELIGIBLE_LEADERS_NOT_AVAILABLE,
        }
    }
}
