//! Parsing and validating a scenario file into the [`Scenario`] model.
//!
//! The file is read with `toml_edit`, which keeps the byte span of every key and value, and
//! then walked by hand: every table rejects keys it does not know (with a "did you mean"), every
//! value is type- and range-checked, and every Kafka config key is checked against
//! [`honoured_configs`](super::configs::honoured_configs). The first mistake found is returned
//! as a [`ScenarioError`] naming the file, line, column and dotted field path.
//! Guarantee: a `Scenario` returned from here satisfies every rule in scenarios/README.md.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use sha2::{Digest, Sha256};
use toml_edit::{ImDocument, Item, TableLike, Value};

use crate::scenario::configs::{self, honoured_configs, ConfigType, Scope};
use crate::scenario::model::*;
use crate::scenario::predicate::parse_predicate;
use crate::scenario::values::{
    did_you_mean, parse_duration_ms, parse_rate_per_sec, parse_signed_duration_ms, parse_target,
};

mod expect;
mod faults;
mod kafka_configs;
mod nemesis;
mod sections;
mod topics;
mod tree;

use expect::*;
pub(super) use faults::check_target_partition;
use faults::*;
use kafka_configs::*;
use nemesis::*;
use sections::*;
use topics::*;
use tree::*;

/// Most brokers a cluster may have (broker ids are 1..=9).
pub const BROKERS_MAX: i64 = 9;
/// Most client processes per workload.
pub const CLIENTS_MAX: i64 = 64;
/// Most partitions per topic.
pub const PARTITIONS_MAX: i64 = 1024;
/// Most seeds a sweep may default to.
pub const SEEDS_MAX: i64 = 1_000_000;

/// Every anomaly kind a checker can report (SIMULATION.md, Checkers): the offline checkers'
/// and the online checkers' own lists, so a new checker is known here once it is registered.
pub fn anomaly_kinds() -> Vec<&'static str> {
    let offline = crate::checker::ALL_KINDS.iter();
    offline.chain(crate::online::ALL_KINDS).copied().collect()
}

/// Every fault kind this build fires, by its scenario name, with its parameters.
pub const FAULT_KINDS: &[(&str, &[&str])] = &[
    ("kill", &[]),
    ("shutdown", &[]),
    ("power-loss", &[]),
    ("restart", &[]),
    ("restart-empty-disk", &[]),
    ("pause", &[]),
    ("resume", &[]),
    ("partition", &["direction"]),
    ("heal", &[]),
    ("slow-link", &["delay"]),
    ("reset-connection", &[]),
    ("drop-response", &["count"]),
    ("hold-connection", &["duration"]),
    ("disk-latency", &["delay"]),
    ("enospc", &[]),
    ("fsync-error", &[]),
    ("bit-flip", &["count"]),
    ("skew", &["delta"]),
    ("jump", &["delta"]),
    ("flush", &[]),
    ("silent-death", &[]),
    ("expire-session", &[]),
    ("elect", &["election", "partition"]),
    ("create-partitions", &["topic", "count"]),
    ("delete-records", &["offset"]),
    ("slow-poll", &["duration"]),
];

/// A user's mistake in a scenario file: where it is and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The path as given (relative paths stay relative).
    pub file: String,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Dotted path of the field, e.g. `workload[0].config."linger.ms"`; empty for TOML syntax
    /// errors and unreadable files.
    pub field: String,
    /// What was expected.
    pub message: String,
    /// A known name within edit distance 2 of an unknown one.
    pub suggestion: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, "; did you mean `{suggestion}`?")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

type Result<T> = std::result::Result<T, ScenarioError>;

/// Reads and validates the scenario at `path`; messages name `path` as given.
pub fn load(path: &Path) -> Result<Scenario> {
    let file = path.display().to_string();
    let unreadable = |message: String| ScenarioError {
        file: file.clone(),
        line: 1,
        column: 1,
        field: String::new(),
        message,
        suggestion: None,
    };
    let bytes = std::fs::read(path).map_err(|e| unreadable(format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| unreadable(format!("not UTF-8 text: {e}")))?;
    parse(&file, &text)
}

/// Validates scenario `text`; `path_for_messages` is the file name errors and the model carry.
pub fn parse(path_for_messages: &str, text: &str) -> Result<Scenario> {
    let source = Source {
        file: path_for_messages,
        text,
    };
    let document = ImDocument::parse(text).map_err(|error| {
        // toml_edit's messages may span lines ("invalid string\nexpected ..."): keep one line.
        let message = error
            .message()
            .trim()
            .lines()
            .collect::<Vec<_>>()
            .join("; ");
        source.error(error.span(), "", message, None)
    })?;
    let root = Obj {
        source: &source,
        table: document.as_table(),
        path: String::new(),
        span: None,
    };
    let mut scenario = scenario_from(&root)?;
    scenario.path = path_for_messages.to_string();
    scenario.source_hash = hex(&Sha256::digest(text.as_bytes()));
    Ok(scenario)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests;
