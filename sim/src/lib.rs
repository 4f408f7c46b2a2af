//! kafkasim's testbed: simulated cluster, nemesis, scenarios, checkers and runner.
//!
//! - `cluster`: the simulated brokers and controller, their disks, clocks and timing knobs.
//! - `workload`: the client processes that drive the cluster and record the history.
//! - `nemesis`: the faults — scripted steps, `when` predicates, the random schedule — and how
//!   they are applied.
//! - `trace`: the run's hash and effects, and the observers every broker observation feeds.
//! - `history`: what clients saw (the history) and what brokers said on the wire.
//! - `checker`, `online`: the offline and online checkers.
//! - `scenario`: the scenario file format.
//! - `run`: one run of a scenario at a seed, its judgement and its report.

pub mod checker;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod online;
pub mod run;
pub mod scenario;
pub mod trace;
pub mod workload;
