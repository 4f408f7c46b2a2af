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

use super::configs::{self, honoured_configs, ConfigType, Scope};
use super::model::*;
use super::predicate::parse_predicate;
use super::values::{
    did_you_mean, parse_duration_ms, parse_rate_per_sec, parse_signed_duration_ms, parse_target,
};

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

// ---------------------------------------------------------------------------------------------
// The tree walker: located tables and values.

/// The file being parsed, for turning byte offsets into lines and columns.
struct Source<'a> {
    /// The path as given, for messages.
    file: &'a str,
    /// The whole file, to count lines and columns in.
    text: &'a str,
}

impl Source<'_> {
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let line = before.matches('\n').count() + 1;
        (line, before[line_start..].chars().count() + 1)
    }

    fn error(
        &self,
        span: Option<Range<usize>>,
        field: &str,
        message: impl Into<String>,
        suggestion: Option<String>,
    ) -> ScenarioError {
        let (line, column) = self.position(span.map_or(0, |span| span.start));
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            field: field.to_string(),
            message: message.into(),
            suggestion,
        }
    }
}

/// A TOML node: an item of a standard table, or a value inside an array or inline table.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn value(self) -> Option<&'a Value> {
        match self {
            Node::Item(item) => item.as_value(),
            Node::Value(value) => Some(value),
        }
    }

    fn table_like(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Value(value) => value.as_inline_table().map(|t| t as &dyn TableLike),
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Node::Item(item) => item.type_name(),
            Node::Value(value) => value.type_name(),
        }
    }
}

/// Quotes a key for a dotted field path when it is not a bare TOML key.
fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        format!("\"{key}\"")
    }
}

fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        quote_key(key)
    } else {
        format!("{parent}.{}", quote_key(key))
    }
}

/// A value with its location and field path.
#[derive(Clone)]
struct Field<'a> {
    source: &'a Source<'a>,
    node: Node<'a>,
    /// Dotted path for messages, e.g. `fault[1].actions[0].target`.
    path: String,
    /// Bytes an error about this value points at: the value, else its key, else its table.
    span: Option<Range<usize>>,
}

impl<'a> Field<'a> {
    fn error(&self, message: impl Into<String>) -> ScenarioError {
        self.source
            .error(self.span.clone(), &self.path, message, None)
    }

    fn expected(&self, what: &str) -> ScenarioError {
        self.error(format!("expected {what}, found {}", self.node.type_name()))
    }

    fn str(&self) -> Result<&'a str> {
        self.node
            .value()
            .and_then(Value::as_str)
            .ok_or_else(|| self.expected("a string"))
    }

    fn non_empty_str(&self) -> Result<&'a str> {
        match self.str()? {
            "" => Err(self.error("must not be empty")),
            text => Ok(text),
        }
    }

    fn int(&self) -> Result<i64> {
        self.node
            .value()
            .and_then(Value::as_integer)
            .ok_or_else(|| self.expected("an integer"))
    }

    fn int_in(&self, min: i64, max: i64) -> Result<i64> {
        let value = self.int()?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.error(format!(
                "expected an integer in {}, found {value}",
                range(min, max)
            )))
        }
    }

    fn bool(&self) -> Result<bool> {
        match self.node.value() {
            Some(Value::Boolean(value)) => Ok(*value.value()),
            Some(Value::String(text)) if ["true", "false"].contains(&text.value().as_str()) => {
                Err(self.error("expected a boolean (true or false, without quotes), found string"))
            }
            _ => Err(self.expected("a boolean")),
        }
    }

    /// A number; integers are accepted where a float is expected.
    fn float(&self) -> Result<f64> {
        match self.node.value() {
            Some(Value::Float(value)) => Ok(*value.value()),
            Some(Value::Integer(value)) => Ok(*value.value() as f64),
            _ => Err(self.expected("a number")),
        }
    }

    fn duration_ms(&self) -> Result<u64> {
        parse_duration_ms(self.str()?).map_err(|message| self.error(message))
    }

    fn positive_duration_ms(&self) -> Result<u64> {
        match self.duration_ms()? {
            0 => Err(self.error("must be a positive duration, found 0")),
            ms => Ok(ms),
        }
    }

    fn table(&self) -> Result<Obj<'a>> {
        let table = self
            .node
            .table_like()
            .ok_or_else(|| self.expected("a table"))?;
        Ok(Obj {
            source: self.source,
            table,
            path: self.path.clone(),
            span: self.span.clone(),
        })
    }

    fn array(&self) -> Result<Vec<Field<'a>>> {
        let array = self
            .node
            .value()
            .and_then(Value::as_array)
            .ok_or_else(|| self.expected("an array"))?;
        let element = |(index, value): (usize, &'a Value)| Field {
            source: self.source,
            node: Node::Value(value),
            path: format!("{}[{index}]", self.path),
            span: value.span().or_else(|| self.span.clone()),
        };
        Ok(array.iter().enumerate().map(element).collect())
    }

    /// An array of tables, written either as `[[name]]` sections or as an array of inline
    /// tables.
    fn tables(&self) -> Result<Vec<Obj<'a>>> {
        let Node::Item(Item::ArrayOfTables(array)) = self.node else {
            return self.array()?.iter().map(Field::table).collect();
        };
        let element = |(index, table): (usize, &'a toml_edit::Table)| Obj {
            source: self.source,
            table: table as &dyn TableLike,
            path: format!("{}[{index}]", self.path),
            span: table.span().or_else(|| self.span.clone()),
        };
        Ok(array.iter().enumerate().map(element).collect())
    }
}

fn range(min: i64, max: i64) -> String {
    if max == i64::MAX {
        format!(">= {min}")
    } else {
        format!("{min}..={max}")
    }
}

/// A table with its location and field path.
struct Obj<'a> {
    source: &'a Source<'a>,
    /// A `[table]`, an `[[array]]` element or an inline `{ table }` alike.
    table: &'a dyn TableLike,
    /// Dotted path for messages; empty for the document itself.
    path: String,
    /// The table's header or braces, for errors about a missing key.
    span: Option<Range<usize>>,
}

impl<'a> Obj<'a> {
    fn error(&self, message: impl Into<String>) -> ScenarioError {
        self.source
            .error(self.span.clone(), &self.path, message, None)
    }

    /// Every entry, in file order, as located fields.
    fn fields(&self) -> Vec<(&'a str, Field<'a>)> {
        let table: &'a dyn TableLike = self.table;
        table
            .iter()
            .map(|(key, item)| (key, self.field(key, item)))
            .collect()
    }

    fn field(&self, key: &str, item: &'a Item) -> Field<'a> {
        let key_span = self.table.key(key).and_then(|key| key.span());
        Field {
            source: self.source,
            node: Node::Item(item),
            path: join_path(&self.path, key),
            span: item.span().or(key_span).or_else(|| self.span.clone()),
        }
    }

    /// The location of a key itself, for errors about the key rather than its value.
    fn key_error(&self, key: &str, message: String, suggestion: Option<String>) -> ScenarioError {
        let span = self
            .table
            .key(key)
            .and_then(|key| key.span())
            .or_else(|| self.span.clone());
        self.source
            .error(span, &join_path(&self.path, key), message, suggestion)
    }

    /// Rejects any key not in `allowed`, suggesting the nearest allowed one.
    fn check_keys(&self, what: &str, allowed: &[&str]) -> Result<()> {
        let table: &'a dyn TableLike = self.table;
        match table.iter().find(|(key, _)| !allowed.contains(key)) {
            None => Ok(()),
            Some((key, _)) => {
                let message = format!(
                    "unknown key `{key}` in {what} (expected one of: {})",
                    allowed.join(", ")
                );
                let suggestion = did_you_mean(key, allowed).map(str::to_string);
                Err(self.key_error(key, message, suggestion))
            }
        }
    }

    fn get(&self, key: &str) -> Option<Field<'a>> {
        let table: &'a dyn TableLike = self.table;
        table
            .get(key)
            .filter(|item| !item.is_none())
            .map(|item| self.field(key, item))
    }

    fn required(&self, key: &str, expected: &str) -> Result<Field<'a>> {
        self.get(key).ok_or_else(|| {
            let field = join_path(&self.path, key);
            let message = format!("missing required key `{key}` ({expected})");
            self.source.error(self.span.clone(), &field, message, None)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The sections of a scenario file.

/// Top-level tables, in the order they are validated, and how each is written.
const SECTIONS: &[(&str, &str)] = &[
    ("scenario", "[scenario]"),
    ("cluster", "[cluster]"),
    ("broker", "[broker]"),
    ("model", "[model]"),
    ("topic", "[[topic]]"),
    ("workload", "[[workload]]"),
    ("fault", "[[fault]]"),
    ("nemesis", "[nemesis]"),
    ("expect", "[expect]"),
];

fn scenario_from(root: &Obj) -> Result<Scenario> {
    check_sections(root)?;
    let section = |name: &str| root.get(name);
    let header = section("scenario").ok_or_else(|| missing_section(root, "[scenario]"))?;
    let (name, why, seeds, duration_ms) = header_from(&header.table()?)?;
    let mut cluster =
        cluster_from(&section("cluster").ok_or_else(|| missing_section(root, "[cluster]"))?)?;
    let broker = match section("broker") {
        Some(field) => configs_from(&field, Scope::Broker)?,
        None => Configs::new(),
    };
    let model = match section("model") {
        Some(field) => model_from(&field)?,
        None => Model::default(),
    };
    cluster.controller = model.controller;
    let topics = topics_from(root, &cluster)?;
    let workloads = workloads_from(root, &topics)?;
    let faults = match section("fault") {
        Some(field) => faults_from(&field, &cluster, &topics, duration_ms)?,
        None => Vec::new(),
    };
    let nemesis = match section("nemesis") {
        Some(field) => Some(nemesis_from(&field, &cluster)?),
        None => None,
    };
    let expect_field = section("expect").ok_or_else(|| missing_section(root, "[expect]"))?;
    let expect = expect_from(&expect_field, &faults, cluster.brokers, nemesis.as_ref())?;
    Ok(Scenario {
        path: String::new(),
        source_hash: String::new(),
        name,
        why,
        seeds,
        duration_ms,
        cluster,
        broker,
        model,
        topics,
        workloads,
        faults,
        nemesis,
        expect,
    })
}

fn check_sections(root: &Obj) -> Result<()> {
    let names: Vec<&str> = SECTIONS.iter().map(|(name, _)| *name).collect();
    for (key, field) in root.fields() {
        let Some(&(_, written)) = SECTIONS.iter().find(|(name, _)| *name == key) else {
            let suggestion = did_you_mean(key, &names)
                .and_then(|near| SECTIONS.iter().find(|(name, _)| *name == near))
                .map(|(_, written)| written.to_string());
            let noun = match field.node {
                Node::Item(Item::Table(_) | Item::ArrayOfTables(_)) => "table",
                _ => "top-level key",
            };
            let message = format!(
                "unknown {noun} `{key}` (expected: {})",
                SECTIONS
                    .iter()
                    .map(|(_, written)| *written)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Err(root.key_error(key, message, suggestion));
        };
        let is_array = written.starts_with("[[");
        let shape_ok = match field.node {
            Node::Item(Item::ArrayOfTables(_)) => is_array,
            Node::Item(Item::Table(_)) => !is_array,
            _ => true, // inline forms are checked by the section's own parser
        };
        if !shape_ok {
            return Err(field.error(format!("write this section as {written}")));
        }
    }
    Ok(())
}

fn missing_section(root: &Obj, written: &str) -> ScenarioError {
    let field = written.trim_matches(|c| c == '[' || c == ']');
    root.source.error(
        None,
        field,
        format!("missing required table {written}"),
        None,
    )
}

fn header_from(header: &Obj) -> Result<(String, String, u64, u64)> {
    header.check_keys("[scenario]", &["name", "why", "seeds", "duration"])?;
    let name = header
        .required("name", "a string naming the scenario")?
        .non_empty_str()?;
    let why = header
        .required("why", "one sentence: what the scenario shows")?
        .non_empty_str()?;
    let seeds = match header.get("seeds") {
        Some(field) => field.int_in(1, SEEDS_MAX)? as u64,
        None => 16,
    };
    let duration = header.required("duration", r#"the simulated length, e.g. "60s""#)?;
    let duration_ms = duration.positive_duration_ms()?;
    Ok((name.to_string(), why.to_string(), seeds, duration_ms))
}

fn cluster_from(field: &Field) -> Result<Cluster> {
    let table = field.table()?;
    table.check_keys("[cluster]", &["brokers"])?;
    let brokers = table.required("brokers", "the number of brokers, 1..=9")?;
    Ok(Cluster {
        brokers: brokers.int_in(1, BROKERS_MAX)? as u32,
        controller: false,
    })
}

fn model_from(field: &Field) -> Result<Model> {
    let table = field.table()?;
    table.check_keys(
        "[model]",
        &[
            "nondeterminism_for_test",
            "power_loss_keep_probability",
            "dirty_expire",
            "controller",
            "truncation",
            "fence_restarted_brokers",
            "eligible_leader_replicas",
            "offset_for_leader_epoch",
            "buggify",
            "monotonic_list_offsets",
            "planted_bugs",
        ],
    )?;
    let mut model = Model::default();
    if let Some(field) = table.get("nondeterminism_for_test") {
        model.nondeterminism_for_test = field.bool()?;
    }
    if let Some(field) = table.get("power_loss_keep_probability") {
        let probability = field.float()?;
        if !(0.0..=1.0).contains(&probability) {
            return Err(field.error(format!(
                "expected a probability in 0..=1, found {probability}"
            )));
        }
        model.power_loss_keep_probability = probability;
    }
    if let Some(field) = table.get("dirty_expire") {
        model.dirty_expire_ms = field.positive_duration_ms()?;
    }
    if let Some(field) = table.get("controller") {
        model.controller = field.bool()?;
    }
    if let Some(field) = table.get("truncation") {
        let value = field.str()?;
        model.truncation =
            kafkasim::replication::TruncationRule::from_config(value).ok_or_else(|| {
                field.error(format!(
                    "expected \"high-watermark\" or \"leader-epoch\", found {value:?}"
                ))
            })?;
        if !model.controller {
            return Err(field.error(
                "`truncation` needs `controller = true` (leadership is static without one)",
            ));
        }
    }
    if let Some(field) = table.get("fence_restarted_brokers") {
        model.fence_restarted_brokers = Some(field.bool()?);
    }
    if let Some(field) = table.get("monotonic_list_offsets") {
        model.monotonic_list_offsets = field.bool()?;
    }
    if let Some(field) = table.get("planted_bugs") {
        model.planted_bugs = planted_bugs_from(&field)?;
    }
    if let Some(field) = table.get("buggify") {
        model.buggify = field.bool()?;
    }
    if let Some(field) = table.get("offset_for_leader_epoch") {
        let value = field.str()?;
        model.epoch_lookup = match value {
            "kip-279" => kafkasim::replication::EpochLookup::Kip279,
            "kip-101" => kafkasim::replication::EpochLookup::Kip101,
            _ => {
                return Err(field.error(format!(
                    "expected \"kip-279\" or \"kip-101\", found {value:?}"
                )))
            }
        };
        if !model.controller
            || model.truncation != kafkasim::replication::TruncationRule::LeaderEpoch
        {
            return Err(field.error(
                "`offset_for_leader_epoch` needs `controller = true` and `truncation = \"leader-epoch\"`",
            ));
        }
    }
    if let Some(field) = table.get("eligible_leader_replicas") {
        model.eligible_leader_replicas = field.bool()?;
        if !model.controller {
            return Err(field.error(
                "`eligible_leader_replicas` needs `controller = true` (only a controller elects)",
            ));
        }
    }
    Ok(model)
}

// ---------------------------------------------------------------------------------------------
// Kafka configs.

/// A table of Kafka configs read where `place` configs are read. Dotted keys written without
/// quotes (`linger.ms = 5`, which TOML reads as nested tables) are joined back into one name.
fn configs_from(field: &Field, place: Scope) -> Result<Configs> {
    let table = field.table()?;
    let mut configs = Configs::new();
    collect_configs(&table, "", place, &mut configs)?;
    Ok(configs)
}

fn collect_configs(table: &Obj, prefix: &str, place: Scope, out: &mut Configs) -> Result<()> {
    for (key, field) in table.fields() {
        let name = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        let located = Field {
            path: join_path(&table.path, &name),
            ..field
        };
        if located.node.table_like().is_some() {
            let nested = Obj {
                path: table.path.clone(),
                ..located.table()?
            };
            collect_configs(&nested, &name, place, out)?;
            continue;
        }
        if out.contains_key(&name) {
            return Err(located.error(format!("`{name}` is set twice")));
        }
        let spec = config_spec(table, key, &name, place)?;
        out.insert(name, config_value(&located, spec)?);
    }
    Ok(())
}

fn config_spec(
    table: &Obj,
    key: &str,
    name: &str,
    place: Scope,
) -> Result<&'static configs::ConfigSpec> {
    if let Some(spec) = configs::lookup(place, name) {
        return Ok(spec);
    }
    let field = join_path(&table.path, name);
    let span = table
        .table
        .key(key)
        .and_then(|key| key.span())
        .or_else(|| table.span.clone());
    let elsewhere = honoured_configs().iter().find(|spec| spec.name == name);
    let (message, suggestion) = match elsewhere {
        Some(spec) => (misplaced_config(name, spec.scope, place), None),
        None => {
            let names: Vec<&str> = honoured_configs()
                .iter()
                .filter(|spec| configs::allowed_in(place, spec.scope))
                .map(|spec| spec.name)
                .collect();
            let message = format!(
                "unknown {} config `{name}`: kafkasim does not honour it \
                 (scenarios/README.md lists the configs it does)",
                place.name()
            );
            (message, did_you_mean(name, &names).map(str::to_string))
        }
    };
    Err(table.source.error(span, &field, message, suggestion))
}

fn misplaced_config(name: &str, scope: Scope, place: Scope) -> String {
    match (scope, place) {
        (Scope::Broker, Scope::Topic) => {
            format!(
                "`{name}` is a broker-wide config with no per-topic override: set it in [broker]"
            )
        }
        (_, Scope::Producer | Scope::Consumer) => format!(
            "`{name}` is a {} config, but this workload is a {}",
            scope.name(),
            place.name()
        ),
        _ => format!(
            "`{name}` is a {} config, not a {} config",
            scope.name(),
            place.name()
        ),
    }
}

fn config_value(field: &Field, spec: &configs::ConfigSpec) -> Result<ConfigValue> {
    let value = match spec.kind {
        ConfigType::Int { min, max } => ConfigValue::Int(field.int_in(min, max)?),
        ConfigType::DurationMs { min, max } => ConfigValue::Int(duration_config(field, min, max)?),
        ConfigType::Bool => ConfigValue::Bool(field.bool()?),
        ConfigType::Enum(values) => ConfigValue::Str(enum_config(field, values)?.to_string()),
        ConfigType::Acks => ConfigValue::Str(acks_config(field)?.to_string()),
    };
    let text = match &value {
        ConfigValue::Int(value) => value.to_string(),
        ConfigValue::Bool(value) => value.to_string(),
        ConfigValue::Str(value) => value.clone(),
    };
    match spec.not_yet.iter().find(|(refused, _)| *refused == text) {
        Some((_, reason)) => Err(field.error(*reason)),
        None => Ok(value),
    }
}

/// Kafka's `.ms` configs are integer milliseconds; a duration string gets a pointed hint.
fn duration_config(field: &Field, min: i64, max: i64) -> Result<i64> {
    if let Some(Value::String(text)) = field.node.value() {
        if parse_signed_duration_ms(text.value()).is_ok() {
            return Err(field.error(format!(
                "Kafka's .ms configs are integer milliseconds: expected an integer in {}, \
                 found \"{}\"",
                range(min, max),
                text.value()
            )));
        }
    }
    field.int_in(min, max)
}

fn enum_config(field: &Field, values: &[&'static str]) -> Result<&'static str> {
    let text = field.str()?;
    match values.iter().find(|value| **value == text) {
        Some(value) => Ok(value),
        None => {
            let quoted: Vec<String> = values.iter().map(|value| format!("\"{value}\"")).collect();
            let message = format!("expected one of {}, found \"{text}\"", quoted.join(", "));
            let suggestion = did_you_mean(text, values).map(str::to_string);
            Err(ScenarioError {
                suggestion,
                ..field.error(message)
            })
        }
    }
}

/// `acks`: "all"/"-1"/-1 become "all", "1"/1 become "1", "0"/0 become "0".
fn acks_config(field: &Field) -> Result<&'static str> {
    let normalised = match field.node.value() {
        Some(Value::String(text)) => match text.value().as_str() {
            "all" | "-1" => Some("all"),
            "1" => Some("1"),
            "0" => Some("0"),
            _ => None,
        },
        Some(Value::Integer(value)) => match *value.value() {
            -1 => Some("all"),
            1 => Some("1"),
            0 => Some("0"),
            _ => None,
        },
        _ => return Err(field.expected(r#"acks = "all", "1" or "0""#)),
    };
    normalised.ok_or_else(|| {
        let found = field
            .node
            .value()
            .map(|value| value.to_string())
            .unwrap_or_default();
        field.error(format!(
            r#"expected acks = "all" (or "-1"), "1" or "0", found {}"#,
            found.trim()
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Topics and workloads.

fn topics_from(root: &Obj, cluster: &Cluster) -> Result<Vec<Topic>> {
    let field = root
        .get("topic")
        .ok_or_else(|| missing_section(root, "[[topic]]"))?;
    let tables = field.tables()?;
    if tables.is_empty() {
        return Err(field.error("declare at least one [[topic]]"));
    }
    let mut topics: Vec<Topic> = Vec::new();
    for table in &tables {
        let topic = topic_from(table, cluster)?;
        if topics.iter().any(|earlier| earlier.name == topic.name) {
            let name = table.get("name").expect("topic_from checked name");
            return Err(name.error(format!("topic \"{}\" is declared twice", topic.name)));
        }
        topics.push(topic);
    }
    Ok(topics)
}

fn topic_from(table: &Obj, cluster: &Cluster) -> Result<Topic> {
    table.check_keys(
        "[[topic]]",
        &[
            "name",
            "partitions",
            "replication_factor",
            "placement",
            "config",
        ],
    )?;
    let name = topic_name(&table.required("name", "the topic's name")?)?;
    let partitions = table
        .required("partitions", "an integer >= 1")?
        .int_in(1, PARTITIONS_MAX)?;
    let replication_factor = replication_factor(table, cluster)?;
    let placement = match table.get("placement") {
        Some(field) => Some(placement_from(
            &field,
            partitions,
            replication_factor,
            cluster,
        )?),
        None => None,
    };
    let config = match table.get("config") {
        Some(field) => configs_from(&field, Scope::Topic)?,
        None => Configs::new(),
    };
    Ok(Topic {
        name: name.to_string(),
        partitions: partitions as i32,
        replication_factor: replication_factor as i16,
        placement,
        config,
    })
}

/// Kafka's rule: 1..=249 characters of ASCII letters, digits, `.`, `_` and `-`.
fn topic_name<'a>(field: &Field<'a>) -> Result<&'a str> {
    let name = field.non_empty_str()?;
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.len() > 249 || !name.chars().all(legal) || name == "." || name == ".." {
        return Err(field.error(format!(
            "invalid topic name \"{name}\": use at most 249 ASCII letters, digits, '.', '_' and '-'"
        )));
    }
    Ok(name)
}

fn replication_factor(table: &Obj, cluster: &Cluster) -> Result<i64> {
    let field = table.required(
        "replication_factor",
        "an integer from 1 to the number of brokers",
    )?;
    let brokers = i64::from(cluster.brokers);
    let factor = field.int()?;
    if !(1..=brokers).contains(&factor) {
        return Err(field.error(format!(
            "expected a replication factor in 1..={brokers} (the cluster has {brokers} brokers), \
             found {factor}"
        )));
    }
    Ok(factor)
}

fn placement_from(
    field: &Field,
    partitions: i64,
    replication_factor: i64,
    cluster: &Cluster,
) -> Result<Vec<Vec<i32>>> {
    let rows = field.array()?;
    if rows.len() as i64 != partitions {
        return Err(field.error(format!(
            "expected one replica list per partition ({partitions}), found {}",
            rows.len()
        )));
    }
    rows.iter()
        .map(|row| placement_row(row, replication_factor, cluster))
        .collect()
}

fn placement_row(row: &Field, replication_factor: i64, cluster: &Cluster) -> Result<Vec<i32>> {
    let ids = row.array()?;
    if ids.len() as i64 != replication_factor {
        return Err(row.error(format!(
            "expected {replication_factor} broker id(s) (the replication factor), found {}",
            ids.len()
        )));
    }
    let mut replicas = Vec::new();
    for id in &ids {
        let broker = id.int_in(1, i64::from(cluster.brokers))? as i32;
        if replicas.contains(&broker) {
            return Err(id.error(format!("broker {broker} is listed twice for one partition")));
        }
        replicas.push(broker);
    }
    Ok(replicas)
}

fn workloads_from(root: &Obj, topics: &[Topic]) -> Result<Vec<Workload>> {
    let field = root
        .get("workload")
        .ok_or_else(|| missing_section(root, "[[workload]]"))?;
    let tables = field.tables()?;
    if tables.is_empty() {
        return Err(field.error("declare at least one [[workload]]"));
    }
    tables
        .iter()
        .map(|table| workload_from(table, topics))
        .collect()
}

fn workload_from(table: &Obj, topics: &[Topic]) -> Result<Workload> {
    table.check_keys(
        "[[workload]]",
        &["kind", "clients", "topic", "rate", "keyed", "config"],
    )?;
    let kind_field = table.required("kind", r#""producer", "consumer" or "list-offsets""#)?;
    let kind = match kind_field.str()? {
        "producer" => WorkloadKind::Producer,
        "consumer" => WorkloadKind::Consumer,
        "list-offsets" => WorkloadKind::ListOffsets,
        other => {
            let message =
                format!(r#"expected "producer", "consumer" or "list-offsets", found "{other}""#);
            let kinds = ["producer", "consumer", "list-offsets"];
            let suggestion = did_you_mean(other, &kinds).map(str::to_string);
            return Err(ScenarioError {
                suggestion,
                ..kind_field.error(message)
            });
        }
    };
    let clients = match table.get("clients") {
        Some(field) => field.int_in(1, CLIENTS_MAX)? as u32,
        None => 1,
    };
    let topic = workload_topic(&table.required("topic", "the name of a [[topic]]")?, topics)?;
    let (rate_per_sec, keyed) = match kind {
        WorkloadKind::Producer => producer_fields(table)?,
        WorkloadKind::Consumer => consumer_fields(table)?,
        WorkloadKind::ListOffsets => list_offsets_fields(table)?,
    };
    let place = match kind {
        WorkloadKind::Producer => Scope::Producer,
        WorkloadKind::Consumer | WorkloadKind::ListOffsets => Scope::Consumer,
    };
    let config = match table.get("config") {
        Some(field) => configs_from(&field, place)?,
        None => Configs::new(),
    };
    if kind == WorkloadKind::Producer {
        check_delivery_timeout(table, &config)?;
    }
    Ok(Workload {
        kind,
        clients,
        topic,
        rate_per_sec,
        keyed,
        config,
    })
}

/// Kafka's producer refuses to start when a configured delivery.timeout.ms is shorter than
/// linger.ms + request.timeout.ms; so do we, rather than run a client Kafka would not.
fn check_delivery_timeout(table: &Obj, config: &Configs) -> Result<()> {
    if !config.contains_key("delivery.timeout.ms") {
        return Ok(());
    }
    let value = |name| configs::int_or_default(config, Scope::Producer, name);
    let delivery = value("delivery.timeout.ms");
    let floor = value("linger.ms").saturating_add(value("request.timeout.ms"));
    if delivery >= floor {
        return Ok(());
    }
    let config_field = table.get("config").expect("the key came from config");
    // Point at the value when written as one quoted key; a bare dotted key points at config.
    let located = config_field
        .table()?
        .get("delivery.timeout.ms")
        .unwrap_or(config_field);
    let message = format!(
        "delivery.timeout.ms ({delivery}) must be at least linger.ms + request.timeout.ms \
         ({floor}), as Kafka's producer requires"
    );
    let path = join_path(&table.path, "config") + ".\"delivery.timeout.ms\"";
    Err(Field { path, ..located }.error(message))
}

fn workload_topic(field: &Field, topics: &[Topic]) -> Result<String> {
    let name = field.str()?;
    if topics.iter().any(|topic| topic.name == name) {
        return Ok(name.to_string());
    }
    let names: Vec<&str> = topics.iter().map(|topic| topic.name.as_str()).collect();
    let message = format!(
        "unknown topic \"{name}\": declared topics are {}",
        names
            .iter()
            .map(|name| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let suggestion = did_you_mean(name, &names).map(str::to_string);
    Err(ScenarioError {
        suggestion,
        ..field.error(message)
    })
}

fn producer_fields(table: &Obj) -> Result<(f64, bool)> {
    let rate = table.required("rate", r#"sends per second per client, e.g. "500/s""#)?;
    let rate_per_sec = parse_rate_per_sec(rate.str()?).map_err(|message| rate.error(message))?;
    let keyed = match table.get("keyed") {
        Some(field) => field.bool()?,
        None => true,
    };
    Ok((rate_per_sec, keyed))
}

fn list_offsets_fields(table: &Obj) -> Result<(f64, bool)> {
    if let Some(field) = table.get("keyed") {
        return Err(field.error("`keyed` applies to producers only"));
    }
    let rate = table.required(
        "rate",
        r#"ListOffsets rounds per second per client, e.g. "20/s""#,
    )?;
    let rate_per_sec = parse_rate_per_sec(rate.str()?).map_err(|message| rate.error(message))?;
    Ok((rate_per_sec, false))
}

fn consumer_fields(table: &Obj) -> Result<(f64, bool)> {
    for key in ["rate", "keyed"] {
        if let Some(field) = table.get(key) {
            return Err(field.error(format!("`{key}` applies to producers only")));
        }
    }
    Ok((0.0, false))
}

// ---------------------------------------------------------------------------------------------
// Faults.

fn faults_from(
    field: &Field,
    cluster: &Cluster,
    topics: &[Topic],
    duration_ms: u64,
) -> Result<Vec<FaultStep>> {
    let steps = field.tables()?;
    steps
        .iter()
        .map(|step| fault_step(step, cluster, topics, duration_ms))
        .collect()
}

fn fault_step(
    table: &Obj,
    cluster: &Cluster,
    topics: &[Topic],
    duration_ms: u64,
) -> Result<FaultStep> {
    table.check_keys("[[fault]]", &["at", "when", "actions"])?;
    let trigger = match (table.get("at"), table.get("when")) {
        (Some(_), Some(when)) => {
            return Err(
                when.error("a step fires either `at` a time or `when` a predicate holds, not both")
            )
        }
        (None, Some(when)) => Trigger::When(predicate_from(&when, cluster, topics)?),
        (Some(at), None) => {
            let at_ms = at.duration_ms()?;
            if at_ms >= duration_ms {
                return Err(at.error(format!(
                    "the step would fire at {at_ms} ms, after the scenario's duration ({duration_ms} ms)"
                )));
            }
            Trigger::At(at_ms)
        }
        (None, None) => {
            let expected = r#"when the step fires, e.g. "10s"; or write `when` with a predicate"#;
            return Err(table
                .required("at", expected)
                .err()
                .expect("`at` is missing"));
        }
    };
    let actions_field =
        table.required("actions", r#"e.g. [{ do = "kill", target = "broker(1)" }]"#)?;
    let actions = actions_field.tables()?;
    if actions.is_empty() {
        return Err(actions_field.error("a step needs at least one action"));
    }
    let actions = actions
        .iter()
        .map(|action| action_from(action, cluster, topics))
        .collect::<Result<_>>()?;
    Ok(FaultStep { trigger, actions })
}

fn predicate_from(field: &Field, cluster: &Cluster, topics: &[Topic]) -> Result<Predicate> {
    parse_predicate(field.non_empty_str()?, cluster.brokers, topics).map_err(|error| {
        ScenarioError {
            suggestion: error.suggestion,
            ..field.error(error.message)
        }
    })
}

/// A `leader(t/p)`, `follower(t/p, i)` or `isr(t/p)` target must name a declared topic, one
/// of its partitions, and (for a follower) a follower that exists.
pub(super) fn check_target_partition(
    target: &Target,
    topics: &[Topic],
) -> std::result::Result<(), String> {
    let (topic, partition, index) = match target {
        Target::Leader { topic, partition } | Target::Isr { topic, partition } => {
            (topic, *partition, None)
        }
        Target::Follower {
            topic,
            partition,
            index,
        } => (topic, *partition, Some(*index)),
        _ => return Ok(()),
    };
    let Some(declared) = topics.iter().find(|t| &t.name == topic) else {
        return Err(format!(
            "unknown topic \"{topic}\": declare it in a [[topic]]"
        ));
    };
    if partition >= declared.partitions {
        return Err(format!(
            "topic \"{topic}\" has partitions 0..{}",
            declared.partitions
        ));
    }
    let followers = declared.replication_factor as usize - 1;
    match index {
        Some(i) if i > followers => Err(format!(
            "follower {i} does not exist: {topic}/{partition} has {followers} follower(s) (replication_factor {})",
            declared.replication_factor
        )),
        _ => Ok(()),
    }
}

fn action_from(table: &Obj, cluster: &Cluster, topics: &[Topic]) -> Result<Action> {
    let do_field = table.required("do", "the fault kind, e.g. \"kill\"")?;
    let (name, params) = fault_kind_name(&do_field)?;
    check_action_keys(table, name, params)?;
    let target_field = table.required("target", r#""broker(n)" or "all""#)?;
    let target =
        parse_target(target_field.str()?, cluster.brokers).map_err(|error| ScenarioError {
            suggestion: error.suggestion,
            ..target_field.error(error.message)
        })?;
    check_target_partition(&target, topics).map_err(|message| target_field.error(message))?;
    if target == Target::Controller && !cluster.controller {
        return Err(target_field.error(
            "the controller target needs `[model] controller = true` (without it leadership is static and no controller runs)",
        ));
    }
    let control_fault = matches!(name, "expire-session" | "elect");
    if control_fault && !cluster.controller {
        return Err(do_field.error(format!(
            "{name} needs `[model] controller = true` (it acts on the controller)"
        )));
    }
    if (name == "elect") != (target == Target::Controller) && control_fault {
        let message = match name {
            "elect" => "elect is the admin ElectLeaders call: its target is \"controller\"",
            _ => "expire-session cuts a broker off from the controller: its target is a broker",
        };
        return Err(target_field.error(message));
    }
    let after_ms = match table.get("after") {
        Some(field) => field.duration_ms()?,
        None => 0,
    };
    let kind = fault_kind(table, name)?;
    if let FaultKind::Elect {
        partition: Some((topic, index)),
        ..
    } = &kind
    {
        let known = topics
            .iter()
            .any(|t| &t.name == topic && *index < t.partitions as i32);
        if !known {
            let field = table.get("partition").expect("parsed from it");
            return Err(field.error(format!("no partition {topic}/{index} in [[topic]]")));
        }
    }
    Ok(Action {
        kind,
        target,
        after_ms,
    })
}

fn fault_kind_name(field: &Field) -> Result<(&'static str, &'static [&'static str])> {
    let name = field.str()?;
    if let Some(&(known, params)) = FAULT_KINDS.iter().find(|(known, _)| *known == name) {
        return Ok((known, params));
    }
    let names: Vec<&str> = FAULT_KINDS.iter().map(|(name, _)| *name).collect();
    let message = format!(
        "unknown fault kind \"{name}\" (expected one of: {})",
        names.join(", ")
    );
    let suggestion = did_you_mean(name, &names).map(str::to_string);
    Err(ScenarioError {
        suggestion,
        ..field.error(message)
    })
}

/// An action takes `do`, `target`, `after` and its own kind's parameters; a parameter of
/// another kind gets a message naming the kinds it belongs to.
fn check_action_keys(table: &Obj, name: &str, params: &[&str]) -> Result<()> {
    for (key, _) in table.fields() {
        let owners: Vec<&str> = FAULT_KINDS
            .iter()
            .filter(|(_, their)| their.contains(&key))
            .map(|(kind, _)| *kind)
            .collect();
        if !params.contains(&key) && !owners.is_empty() {
            let message = format!(
                "`{key}` is not a parameter of {name}; it applies to {}",
                owners.join(", ")
            );
            return Err(table.key_error(key, message, None));
        }
    }
    let mut allowed = vec!["do", "target", "after"];
    allowed.extend_from_slice(params);
    table.check_keys(&format!("a {name} action"), &allowed)
}

fn fault_kind(table: &Obj, name: &str) -> Result<FaultKind> {
    let positive = |key: &str| -> Result<u64> {
        table
            .required(key, r#"a duration, e.g. "100ms""#)?
            .positive_duration_ms()
    };
    let count = || -> Result<u32> {
        match table.get("count") {
            Some(field) => Ok(field.int_in(1, 1_000_000)? as u32),
            None => Ok(1),
        }
    };
    Ok(match name {
        "kill" => FaultKind::Kill,
        "shutdown" => FaultKind::Shutdown,
        "power-loss" => FaultKind::PowerLoss,
        "restart" => FaultKind::Restart,
        "restart-empty-disk" => FaultKind::RestartEmptyDisk,
        "pause" => FaultKind::Pause,
        "resume" => FaultKind::Resume,
        "partition" => FaultKind::Partition {
            direction: match table.get("direction") {
                None => Direction::Both,
                Some(field) => match field.str()? {
                    "both" => Direction::Both,
                    "in" => Direction::In,
                    "out" => Direction::Out,
                    other => {
                        return Err(field.error(format!(
                            "unknown direction \"{other}\": expected \"both\", \"in\" (the target hears nothing) or \"out\" (nothing it sends arrives)"
                        )))
                    }
                },
            },
        },
        "heal" => FaultKind::Heal,
        "slow-link" => FaultKind::SlowLink {
            delay_ms: positive("delay")?,
        },
        "reset-connection" => FaultKind::ResetConnection,
        "drop-response" => FaultKind::DropResponse { count: count()? },
        "hold-connection" => FaultKind::HoldConnection {
            duration_ms: positive("duration")?,
        },
        "disk-latency" => FaultKind::DiskLatency {
            delay_ms: positive("delay")?,
        },
        "enospc" => FaultKind::Enospc,
        "fsync-error" => FaultKind::FsyncError,
        "bit-flip" => FaultKind::BitFlip { count: count()? },
        "skew" => FaultKind::Skew {
            delta_ms: clock_delta(table)?,
        },
        "jump" => FaultKind::Jump {
            delta_ms: clock_delta(table)?,
        },
        "flush" => FaultKind::Flush,
        "silent-death" => FaultKind::SilentDeath,
        "expire-session" => FaultKind::ExpireSession,
        "elect" => FaultKind::Elect {
            unclean: match table.get("election") {
                None => false,
                Some(field) => match field.str()? {
                    "preferred" => false,
                    "unclean" => true,
                    other => {
                        return Err(field.error(format!(
                            "unknown election \"{other}\": expected \"preferred\" or \"unclean\""
                        )))
                    }
                },
            },
            partition: match table.get("partition") {
                None => None,
                Some(field) => {
                    let text = field.str()?;
                    let parsed = text
                        .rsplit_once('/')
                        .and_then(|(topic, p)| Some((topic.to_string(), p.parse::<i32>().ok()?)));
                    match parsed {
                        Some((topic, p)) if !topic.is_empty() && p >= 0 => Some((topic, p)),
                        _ => {
                            return Err(field.error(format!(
                                "expected a partition as \"topic/index\", found {text:?}"
                            )))
                        }
                    }
                }
            },
        },
        other => unreachable!("fault kind {other} is in FAULT_KINDS but not built"),
    })
}

fn clock_delta(table: &Obj) -> Result<i64> {
    let field = table.required("delta", r#"a signed duration, e.g. "-30s" or "2m""#)?;
    match parse_signed_duration_ms(field.str()?).map_err(|message| field.error(message))? {
        0 => Err(field.error("a clock change of 0 does nothing: expected a non-zero duration")),
        delta_ms => Ok(delta_ms),
    }
}

// ---------------------------------------------------------------------------------------------
// Expectations.

fn expect_from(
    field: &Field,
    faults: &[FaultStep],
    brokers: u32,
    nemesis: Option<&Nemesis>,
) -> Result<Expect> {
    let table = field.table()?;
    table.check_keys(
        "[expect]",
        &["verdict", "must", "must_fraction", "allow", "min"],
    )?;
    let mut expect = Expect::default();
    if let Some(fractions) = table.get("must_fraction") {
        expect.must_fraction = must_fraction(&fractions)?;
        if let Some(verdict) = table.get("verdict") {
            return Err(verdict.error(
                r#"verdict = "valid" (no anomaly may show) contradicts `must_fraction`: keep one"#,
            ));
        }
    }
    match (table.get("verdict"), table.get("must")) {
        (Some(verdict), Some(must)) => {
            verdict_valid(&verdict)?;
            return Err(must.error(
                r#"`must` cannot be combined with verdict = "valid" (which means no anomaly must show): keep one"#,
            ));
        }
        (Some(verdict), None) => verdict_valid(&verdict)?,
        (None, Some(must)) => expect.must = anomaly_list(&must)?,
        (None, None) if !expect.must_fraction.is_empty() => {}
        (None, None) => {
            return Err(table.error(
                r#"state what the run must show: verdict = "valid" or must = ["<anomaly>", ...]"#,
            ))
        }
    }
    if let Some(allow) = table.get("allow") {
        expect.allow = anomaly_list(&allow)?;
        if let Some(both) = expect.allow.iter().find(|kind| expect.must.contains(kind)) {
            return Err(allow.error(format!("\"{both}\" is listed in both must and allow")));
        }
    }
    let listed = |kind: &String| expect.must.contains(kind) || expect.allow.contains(kind);
    if let Some(kind) = expect.must_fraction.keys().find(|kind| listed(kind)) {
        let field = table.get("must_fraction").expect("parsed above");
        return Err(field.error(format!(
            "\"{kind}\" is in must_fraction and in must or allow: a must_fraction kind is already allowed on any one seed"
        )));
    }
    if let Some(min) = table.get("min") {
        minimums(&min, faults, brokers, nemesis, &mut expect)?;
    }
    Ok(expect)
}

/// `must_fraction = { "<anomaly>" = 0.05, ... }`: known kinds, fractions in (0, 1].
fn must_fraction(field: &Field) -> Result<BTreeMap<String, f64>> {
    let table = field.table()?;
    let mut fractions = BTreeMap::new();
    for (kind, value) in table.fields() {
        known_anomaly(kind, |message| table.key_error(kind, message, None))?;
        let fraction = value.float()?;
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(value.error(format!(
                "expected a fraction of seeds in (0, 1], found {fraction}"
            )));
        }
        fractions.insert(kind.to_string(), fraction);
    }
    if fractions.is_empty() {
        return Err(field.error("name at least one anomaly kind and its fraction of seeds"));
    }
    Ok(fractions)
}

/// `kind` is an anomaly this build checks; else an error placed by `at`, with a suggestion.
fn known_anomaly(kind: &str, at: impl FnOnce(String) -> ScenarioError) -> Result<()> {
    let kinds = anomaly_kinds();
    if kinds.contains(&kind) {
        return Ok(());
    }
    let message = format!(
        "unknown anomaly kind \"{kind}\" (expected one of: {})",
        kinds.join(", ")
    );
    let suggestion = did_you_mean(kind, &kinds).map(str::to_string);
    Err(ScenarioError {
        suggestion,
        ..at(message)
    })
}

fn verdict_valid(field: &Field) -> Result<()> {
    match field.str()? {
        "valid" => Ok(()),
        other => Err(field.error(format!(
            r#"expected verdict = "valid", found "{other}" (to expect anomalies, write must = [...])"#
        ))),
    }
}

fn anomaly_list(field: &Field) -> Result<Vec<String>> {
    let mut kinds: Vec<String> = Vec::new();
    for element in field.array()? {
        let kind = element.str()?;
        known_anomaly(kind, |message| element.error(message))?;
        if kinds.iter().any(|earlier| earlier == kind) {
            return Err(element.error(format!("\"{kind}\" is listed twice")));
        }
        kinds.push(kind.to_string());
    }
    Ok(kinds)
}

/// How many times an action fires: once per broker its target names.
fn firings(action: &Action, brokers: u32) -> u64 {
    action.target.size(brokers)
}

fn minimums(
    field: &Field,
    faults: &[FaultStep],
    brokers: u32,
    nemesis: Option<&Nemesis>,
    expect: &mut Expect,
) -> Result<()> {
    let table = field.table()?;
    table.check_keys(
        "expect.min",
        &["acknowledged", "faults", "faults_by_kind", "effects"],
    )?;
    if let Some(field) = table.get("acknowledged") {
        expect.min_acknowledged = field.int_in(0, i64::MAX)? as u64;
    }
    let scripted = faults
        .iter()
        .flat_map(|step| &step.actions)
        .map(|action| firings(action, brokers))
        .sum::<u64>();
    if let Some(field) = table.get("faults") {
        expect.min_faults = field.int_in(0, i64::MAX)? as u64;
        // Without a nemesis only scripted faults fire, so more than they fire can never show.
        if expect.min_faults > scripted && nemesis.is_none() {
            return Err(field.error(format!(
                "expects at least {} fault actions, but the [[fault]] steps fire only {scripted}",
                expect.min_faults
            )));
        }
    }
    if let Some(field) = table.get("faults_by_kind") {
        expect.min_faults_by_kind = faults_by_kind(&field, faults, brokers, nemesis)?;
    }
    if let Some(field) = table.get("effects") {
        expect.min_effects = effects(&field)?;
    }
    Ok(())
}

fn faults_by_kind(
    field: &Field,
    faults: &[FaultStep],
    brokers: u32,
    nemesis: Option<&Nemesis>,
) -> Result<BTreeMap<String, u64>> {
    let names: Vec<&str> = FAULT_KINDS.iter().map(|(name, _)| *name).collect();
    let table = field.table()?;
    let mut minimums = BTreeMap::new();
    for (kind, count) in table.fields() {
        if !names.contains(&kind) {
            let message = format!("unknown fault kind \"{kind}\"");
            let suggestion = did_you_mean(kind, &names).map(str::to_string);
            return Err(table.key_error(kind, message, suggestion));
        }
        let minimum = count.int_in(0, i64::MAX)? as u64;
        let scripted = faults
            .iter()
            .flat_map(|step| &step.actions)
            .filter(|action| action.kind.name() == kind)
            .map(|action| firings(action, brokers))
            .sum::<u64>();
        if minimum > scripted && !nemesis.is_some_and(|n| nemesis_fires(n, kind)) {
            return Err(count.error(format!(
                "expects at least {minimum} {kind} action(s), but the [[fault]] steps fire {scripted}"
            )));
        }
        minimums.insert(kind.to_string(), minimum);
    }
    Ok(minimums)
}

/// Effect names are dotted lower-case counters (`disk.bytes_discarded`); the runner owns the
/// list, so only their form is checked here.
fn effects(field: &Field) -> Result<BTreeMap<String, u64>> {
    let table = field.table()?;
    let mut minimums = BTreeMap::new();
    for (name, count) in flatten_names(&table) {
        let part_ok = |part: &str| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        };
        if minimums.contains_key(&name) {
            return Err(count.error(format!("effect \"{name}\" is listed twice")));
        }
        if !name.contains('.') || !name.split('.').all(part_ok) {
            return Err(count.error(format!(
                "expected an effect name like \"disk.bytes_discarded\", found \"{name}\""
            )));
        }
        minimums.insert(name, count.int_in(0, i64::MAX)? as u64);
    }
    Ok(minimums)
}

/// Joins dotted keys written without quotes back into one name, like Kafka configs.
fn flatten_names<'a>(table: &Obj<'a>) -> Vec<(String, Field<'a>)> {
    let mut out = Vec::new();
    for (key, field) in table.fields() {
        match field.table() {
            Ok(nested) => {
                for (name, inner) in flatten_names(&nested) {
                    let path = join_path(&table.path, &format!("{key}.{name}"));
                    out.push((format!("{key}.{name}"), Field { path, ..inner }));
                }
            }
            Err(_) => out.push((key.to_string(), field)),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The random nemesis.

/// Whether a nemesis can fire actions named `kind`: its own kinds and their recoveries.
fn nemesis_fires(nemesis: &Nemesis, kind: &str) -> bool {
    nemesis.kinds.iter().any(|(drawn, _)| {
        drawn.name() == kind || crate::nemesis::schedule::recovery(drawn).name() == kind
    })
}

/// `planted_bugs`: TEST-ONLY names from `kafkasim::planted::PlantedBugs::NAMES`, each once.
fn planted_bugs_from(field: &Field) -> Result<kafkasim::planted::PlantedBugs> {
    let names = kafkasim::planted::PlantedBugs::NAMES;
    let mut bugs = kafkasim::planted::PlantedBugs::default();
    for element in field.array()? {
        let name = element.str()?;
        let before = bugs;
        if !bugs.plant(name) {
            return Err(ScenarioError {
                suggestion: did_you_mean(name, names).map(str::to_string),
                ..element.error(format!(
                    "unknown planted bug \"{name}\" (expected one of: {})",
                    names.join(", ")
                ))
            });
        }
        if bugs == before {
            return Err(element.error(format!("\"{name}\" is listed twice")));
        }
    }
    Ok(bugs)
}

/// `targets`: which processes the nemesis draws from: "brokers" (always), and "controller"
/// when the scenario runs one.
fn nemesis_targets_from(field: &Field, cluster: &Cluster) -> Result<bool> {
    let mut controller = false;
    let mut brokers = false;
    for element in field.array()? {
        match element.str()? {
            "brokers" => brokers = true,
            "controller" if !cluster.controller => {
                return Err(element.error(
                    "the controller target needs `[model] controller = true` (without it no controller runs)",
                ))
            }
            "controller" => controller = true,
            other => {
                let known = ["brokers", "controller"];
                return Err(ScenarioError {
                    suggestion: did_you_mean(other, &known).map(str::to_string),
                    ..element.error(format!(
                        r#"unknown nemesis target "{other}" (expected "brokers" or "controller")"#
                    ))
                });
            }
        }
    }
    if !brokers {
        return Err(field.error(r#"the nemesis always draws brokers: list "brokers" first"#));
    }
    Ok(controller)
}

fn nemesis_from(field: &Field, cluster: &Cluster) -> Result<Nemesis> {
    let table = field.table()?;
    table.check_keys(
        "[nemesis]",
        &[
            "interval",
            "kinds",
            "recover_after",
            "failure_model",
            "slow_link_delay",
            "drop_response_count",
            "targets",
        ],
    )?;
    let controller = match table.get("targets") {
        Some(field) => nemesis_targets_from(&field, cluster)?,
        None => false,
    };
    let interval_ms = table
        .required(
            "interval",
            r#"the mean time between random faults, e.g. "3s""#,
        )?
        .positive_duration_ms()?;
    let kinds_field = table.required(
        "kinds",
        r#"the fault kinds to draw, e.g. ["kill", "partition"] or { kill = 2, partition = 1 }"#,
    )?;
    let weighted = nemesis_kinds(&kinds_field)?;
    let recover = table.required("recover_after", r#"a range of durations, e.g. "2s..6s""#)?;
    let recover_after_ms = super::values::parse_duration_range_ms(recover.str()?)
        .map_err(|message| recover.error(message))?;
    if recover_after_ms.0 == 0 {
        return Err(recover.error("a fault must last a while: the range must start above 0"));
    }
    let model_field = table.required(
        "failure_model",
        r#""within" (draws that would break the model are skipped) or "outside""#,
    )?;
    let failure_model = match model_field.str()? {
        "within" => FailureModel::Within,
        "outside" => FailureModel::Outside,
        other => {
            let suggestion = did_you_mean(other, &["within", "outside"]).map(str::to_string);
            return Err(ScenarioError {
                suggestion,
                ..model_field.error(format!(
                    r#"expected "within" or "outside", found "{other}""#
                ))
            });
        }
    };
    let has = |name: &str| weighted.iter().any(|(kind, _)| *kind == name);
    let param = |key: &str, kind: &str| -> Result<Option<Field>> {
        match table.get(key) {
            Some(field) if !has(kind) => Err(field.error(format!(
                "`{key}` applies only when kinds include \"{kind}\""
            ))),
            other => Ok(other),
        }
    };
    let delay_ms = match param("slow_link_delay", "slow-link")? {
        Some(field) => field.positive_duration_ms()?,
        None => NEMESIS_SLOW_LINK_DELAY_MS,
    };
    let count = match param("drop_response_count", "drop-response")? {
        Some(field) => field.int_in(1, 1_000_000)? as u32,
        None => 1,
    };
    let kinds = weighted
        .into_iter()
        .map(|(name, weight)| {
            let kind = match name {
                "kill" => FaultKind::Kill,
                "shutdown" => FaultKind::Shutdown,
                "power-loss" => FaultKind::PowerLoss,
                "partition" => FaultKind::Partition {
                    direction: Direction::Both,
                },
                "pause" => FaultKind::Pause,
                "silent-death" => FaultKind::SilentDeath,
                "slow-link" => FaultKind::SlowLink { delay_ms },
                "drop-response" => FaultKind::DropResponse { count },
                other => unreachable!("nemesis kind {other} is in NEMESIS_KINDS but not built"),
            };
            (kind, weight)
        })
        .collect();
    Ok(Nemesis {
        interval_ms,
        kinds,
        recover_after_ms,
        failure_model,
        controller,
    })
}

/// The slow-link delay a nemesis adds unless `slow_link_delay` says otherwise.
pub const NEMESIS_SLOW_LINK_DELAY_MS: u64 = 100;

/// `kinds`: a non-empty list of nemesis kind names (weight 1 each), or a table of name →
/// weight (an integer 1..=1000). Each kind appears once.
fn nemesis_kinds(field: &Field) -> Result<Vec<(&'static str, u32)>> {
    let mut kinds: Vec<(&'static str, u32)> = Vec::new();
    let mut add = |name: &'static str, weight: u32, at: &Field| -> Result<()> {
        if kinds.iter().any(|(earlier, _)| *earlier == name) {
            return Err(at.error(format!("\"{name}\" is listed twice")));
        }
        kinds.push((name, weight));
        Ok(())
    };
    match field.node.table_like() {
        Some(_) => {
            let table = field.table()?;
            for (key, weight) in table.fields() {
                let name = nemesis_kind_name(key)
                    .map_err(|(message, suggestion)| table.key_error(key, message, suggestion))?;
                add(name, weight.int_in(1, 1000)? as u32, &weight)?;
            }
        }
        None => {
            for element in field.array()? {
                let name = nemesis_kind_name(element.str()?).map_err(|(message, suggestion)| {
                    ScenarioError {
                        suggestion,
                        ..element.error(message)
                    }
                })?;
                add(name, 1, &element)?;
            }
        }
    }
    if kinds.is_empty() {
        return Err(field.error("name at least one fault kind to draw"));
    }
    Ok(kinds)
}

/// A nemesis kind by name, or a message (and a near spelling) saying which kinds exist.
fn nemesis_kind_name(name: &str) -> std::result::Result<&'static str, (String, Option<String>)> {
    let kinds = crate::nemesis::schedule::NEMESIS_KINDS;
    if let Some(known) = kinds.iter().find(|known| **known == name) {
        return Ok(known);
    }
    let scripted_only = FAULT_KINDS.iter().any(|(known, _)| *known == name);
    let message = if scripted_only {
        format!(
            "\"{name}\" cannot be drawn at random (nemesis kinds: {}); script it in a [[fault]] step",
            kinds.join(", ")
        )
    } else {
        format!(
            "unknown nemesis kind \"{name}\" (expected one of: {})",
            kinds.join(", ")
        )
    };
    Err((message, did_you_mean(name, kinds).map(str::to_string)))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
