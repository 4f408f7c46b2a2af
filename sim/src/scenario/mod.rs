//! Scenario files: the TOML model, its validation and error messages.

pub mod model;
pub use model::*;
