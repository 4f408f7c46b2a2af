//! What the controller and the brokers share: the metadata log's records, the metadata state
//! machine both fold that log into, the placement of topics, and the metadata topic's name.
//!
//! The controller writes the log and the brokers replicate it; neither side depends on the
//! other's code, only on this module. Nothing here does I/O.

pub mod records;
pub mod state;

use std::collections::BTreeMap;

pub use records::{
    BrokerConfigRecord, ChangeReason, ConfigRecord, DecodeError, DecodedLog, EligibleLeadersRecord,
    Endpoint, MetadataRecord, PartitionChange, PartitionRecord, RegisterBroker, ReplicaLogEnd,
    TopicRecord,
};
pub use state::{BrokerState, MetadataState, PartitionState, TopicState};

/// The metadata log's topic, as in KRaft.
pub const METADATA_TOPIC: &str = "__cluster_metadata";

/// Kafka's longest legal topic name.
pub const TOPIC_NAME_LEN_MAX: usize = 249;

/// Kafka's `Topic.validate`: 1 to 249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
/// The controller and the brokers both refuse other names with INVALID_TOPIC_EXCEPTION.
pub fn is_legal_topic_name(name: &str) -> bool {
    let legal_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    !name.is_empty()
        && name.len() <= TOPIC_NAME_LEN_MAX
        && legal_chars
        && name != "."
        && name != ".."
}

/// A topic and the placement of its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicAssignment {
    pub name: String,
    /// Replicas (broker ids) of each partition, by partition index; the first is the leader.
    pub replicas: Vec<Vec<i32>>,
    /// Topic-level config overrides, Kafka names and string values.
    pub configs: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafkas_rule() {
        assert!(is_legal_topic_name("t"));
        assert!(is_legal_topic_name("a.b_c-9"));
        assert!(is_legal_topic_name(&"x".repeat(249)));
        for illegal in ["", ".", "..", "bad$#!name", "a b", "é"] {
            assert!(!is_legal_topic_name(illegal), "{illegal:?}");
        }
        assert!(!is_legal_topic_name(&"x".repeat(250)));
    }
}
