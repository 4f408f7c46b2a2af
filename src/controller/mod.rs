//! The controller: the pure decision core that turns inputs (broker registrations and
//! heartbeats, time, admin and AlterPartition requests) into metadata records, and the
//! process that wires it to a disk and the network.
//!
//! Split by the jobs Kafka's own `QuorumController` gives its managers:
//! - [`controller`]: the `Controller` itself, its published state, the batch a decision is
//!   built in and the durability contract (publish only what is durable), and fail-over;
//! - [`cluster_control`]: broker registration, heartbeats, session expiry and fencing
//!   (Kafka's `ClusterControlManager`);
//! - [`topics`], [`isr`] and [`elections`]: topics and partitions, ISR changes with eligible
//!   leader replicas, and leader elections (Kafka's `ReplicationControlManager`);
//! - [`config`] and [`errors`]: the settings, and the rejections with their Kafka codes;
//! - [`node`]: the process — the metadata log's append, fsync, publish and replication path,
//!   and the request handlers.
//!
//! The decision core does no I/O, reads no clock and never awaits. Every map is a
//! `BTreeMap`, so every decision is a pure function of the inputs.

pub mod cluster_control;
pub mod config;
#[allow(clippy::module_inception)]
pub mod controller;
pub mod elections;
pub mod errors;
pub mod isr;
pub mod node;
pub mod topics;

pub use crate::metadata::{
    records, state, BrokerState, ChangeReason, DecodeError, DecodedLog, EligibleLeadersRecord,
    Endpoint, MetadataRecord, MetadataState, PartitionChange, PartitionRecord, PartitionState,
    RegisterBroker, ReplicaLogEnd, TopicRecord, TopicState,
};
pub use config::{AlterPartitionMode, ControllerConfig, ElectionType};
pub use controller::{Controller, Failover};
pub use errors::ControllerError;

#[cfg(test)]
mod tests;
