//! What the controller and the brokers share: the metadata log's records, the metadata state
//! machine both fold that log into, the placement of topics, and the metadata topic's name.
//!
//! The controller writes the log and the brokers replicate it; neither side depends on the
//! other's code, only on this module. Nothing here does I/O.

pub mod records;
pub mod state;

use std::collections::BTreeMap;

pub use records::{
    ChangeReason, DecodeError, DecodedLog, EligibleLeadersRecord, Endpoint, MetadataRecord,
    PartitionChange, PartitionRecord, RegisterBroker, ReplicaLogEnd, TopicRecord,
};
pub use state::{BrokerState, MetadataState, PartitionState, TopicState};

/// The metadata log's topic, as in KRaft.
pub const METADATA_TOPIC: &str = "__cluster_metadata";

/// A topic and the placement of its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicAssignment {
    pub name: String,
    /// Replicas (broker ids) of each partition, by partition index; the first is the leader.
    pub replicas: Vec<Vec<i32>>,
    /// Topic-level config overrides, Kafka names and string values.
    pub configs: BTreeMap<String, String>,
}
