//! kafkasim's testbed: simulated cluster, nemesis, scenarios, checkers and runner.

pub mod checker;
pub mod clock;
pub mod cluster;
pub mod disk;
pub mod faults;
pub mod history;
pub mod knobs;
pub mod logging;
pub mod nemesis;
pub mod observe;
pub mod online;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod trace;
pub mod when;
pub mod wire;
pub mod workload;
