//! The controller's pure core: metadata records, the metadata state machine and the decisions
//! (broker liveness, leader election, ISR changes) that turn inputs into records.
//!
//! Nothing here does I/O, reads a clock or awaits: a later change wires it to the network and
//! the disk. Every map is a `BTreeMap`, so every decision is a pure function of the inputs.

#[allow(clippy::module_inception)]
pub mod controller;
pub mod node;

pub use crate::metadata::{
    records, state, BrokerState, ChangeReason, DecodeError, DecodedLog, EligibleLeadersRecord,
    Endpoint, MetadataRecord, MetadataState, PartitionChange, PartitionRecord, PartitionState,
    RegisterBroker, ReplicaLogEnd, TopicRecord, TopicState,
};
pub use controller::{
    AlterPartitionMode, Controller, ControllerConfig, ControllerError, ElectionType, Failover,
};

#[cfg(test)]
mod tests;
