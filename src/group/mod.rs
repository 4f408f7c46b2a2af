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
//! - `assignor` (next): Kafka's four client-side assignors as pure functions.

pub mod consumer_protocol;
pub mod hash;
