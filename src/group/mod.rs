//! Consumer groups: what a group coordinator and a group leader decide.
//!
//! This folder will hold the group coordinator's state machine (membership, generations,
//! JoinGroup/SyncGroup/Heartbeat/LeaveGroup), committed offsets (`__consumer_offsets`) and the
//! pieces both the coordinator and the clients' group leader need. Everything here is pure:
//! inputs in, decisions out, no I/O.
//!
//! What exists so far:
//! - [`hash`]: which `__consumer_offsets` partition coordinates a group (Java's
//!   `String.hashCode`, `abs(hash) % partitions`).
//! - [`consumer_protocol`]: the bytes clients put in JoinGroup metadata (the subscription) and
//!   in SyncGroup assignments, versions 0–3, decoded without ever panicking on a peer's bytes.
//! - [`coordinator`]: the group coordinator as a pure state machine: the classic protocol
//!   (join, sync, heartbeat, leave, static membership), committed offsets and their expiry,
//!   list/describe/delete, and the `__consumer_offsets` records it persists and replays when
//!   it becomes a partition's leader.
//! - [`assignor`]: Kafka's four client-side assignors (`range`, `roundrobin`, `sticky`,
//!   `cooperative-sticky`) as pure functions. Each asserts its postcondition: every partition
//!   of a subscribed topic goes to at most one member (exactly one for the eager assignors),
//!   and only to a member subscribed to its topic.

pub mod assignor;
pub mod consumer_protocol;
pub mod coordinator;
pub mod hash;
