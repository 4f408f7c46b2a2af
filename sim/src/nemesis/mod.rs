//! Faults: the random `[nemesis]` schedule, `when` predicates over observed state, and the
//! per-node fault hooks the brokers' network and disk consult.

pub mod apply;
pub mod faults;
mod injector;
pub mod schedule;
pub mod target;
pub mod timeline;
pub mod when;

pub use injector::Nemesis;
