//! kafkasim's testbed: simulated cluster, nemesis, scenarios, checkers and runner.

pub mod checker;
pub mod disk;
pub mod history;
pub mod scenario;
