//! kafkasim: a Kafka-compatible broker whose whole logic runs under deterministic simulation.
//!
//! Everything here is what would ship in a real broker. All I/O and nondeterminism enters
//! through [`env`]; under `--cfg madsim` the same code runs inside the simulator.

pub mod client;
pub mod controller;
pub mod env;
pub mod group;
pub mod metadata;
pub mod planted;
pub mod protocol;
pub mod replication;
pub mod server;
pub mod storage;
pub mod sync;
pub mod txn;
