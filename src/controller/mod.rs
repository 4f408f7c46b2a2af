//! The controller's pure core: metadata records, the metadata state machine and the decisions
//! (broker liveness, leader election, ISR changes) that turn inputs into records.
//!
//! Nothing here does I/O, reads a clock or awaits: a later change wires it to the network and
//! the disk. Every map is a `BTreeMap`, so every decision is a pure function of the inputs.

#[allow(clippy::module_inception)]
pub mod controller;
pub mod node;
pub mod records;
pub mod state;

pub use controller::{
    AlterPartitionMode, Controller, ControllerConfig, ControllerError, ElectionType, Failover,
};
pub use records::{
    ChangeReason, DecodeError, DecodedLog, EligibleLeadersRecord, Endpoint, MetadataRecord,
    PartitionChange, PartitionRecord, RegisterBroker, ReplicaLogEnd, TopicRecord,
};
pub use state::{BrokerState, MetadataState, PartitionState, TopicState};

#[cfg(test)]
mod tests;
