//! Scenario files: the TOML model, its validation and error messages.

pub mod configs;
pub mod model;
pub mod parse;
pub mod predicate;
pub mod values;

pub use configs::{honoured_configs, ConfigSpec};
pub use model::*;
pub use parse::{load, parse, ScenarioError};
