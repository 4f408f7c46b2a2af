//! Faults, from the scenario to the node: the scripted timeline merged with the random
//! `[nemesis]` schedule (`timeline`, `schedule`), `when` predicates over observed state
//! (`when`), the one resolver of fault targets (`target`), the injector that fires them during
//! the safety phase (`injector`), what each fault kind does to a node (`apply`), and the
//! per-node hooks the brokers' network and disk consult (`faults`).
//!
//! A new fault kind is a `FaultKind` variant with its parameters in `scenario::parse::faults`,
//! its arm in `apply`, and (if the random nemesis may draw it) its line in
//! `schedule::NEMESIS_KINDS`.

pub mod apply;
pub mod faults;
mod injector;
pub mod schedule;
pub mod target;
pub mod timeline;
pub mod when;

pub use injector::Nemesis;
