//! The Kafka configs kafkasim honours: for each key its scope, type, default and valid range.
//!
//! Scenario files name configs by Kafka's own keys (`flush.messages`, `acks`, …). Any key not in
//! this table is rejected when the scenario is parsed, so a typo can never silently fall back to
//! a default. The same table gives the broker and clients their defaults
//! ([`value_or_default`]) and lets the README list what is honoured.

use super::model::{ConfigValue, Configs};

/// Where a config may be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only in `[broker]`: a broker-wide setting with no per-topic override.
    Broker,
    /// In `[broker]` (the default for every topic) or in a `[[topic]]`'s `config`.
    Topic,
    /// In a producer workload's `config`.
    Producer,
    /// In a consumer workload's `config`.
    Consumer,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Broker => "broker",
            Scope::Topic => "broker/topic",
            Scope::Producer => "producer",
            Scope::Consumer => "consumer",
        }
    }
}

/// The type of a config value and its valid range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConfigType {
    /// An integer in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    /// An integer number of milliseconds in `min..=max` (Kafka's `.ms` keys stay integers).
    DurationMs {
        min: i64,
        max: i64,
    },
    Bool,
    /// A string, one of the listed values.
    Enum(&'static [&'static str]),
    /// Kafka's `acks`: "0", "1", "all" or "-1" (also the integers 0, 1, -1). Normalised to
    /// the strings "0", "1" or "all".
    Acks,
}

/// The default value of a config, in a form that can live in a static table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConfigDefault {
    Int(i64),
    Bool(bool),
    Str(&'static str),
}

impl ConfigDefault {
    pub fn to_value(self) -> ConfigValue {
        match self {
            ConfigDefault::Int(value) => ConfigValue::Int(value),
            ConfigDefault::Bool(value) => ConfigValue::Bool(value),
            ConfigDefault::Str(value) => ConfigValue::Str(value.to_string()),
        }
    }
}

/// One honoured config.
#[derive(Debug, Clone, Copy)]
pub struct ConfigSpec {
    /// Kafka's name for it.
    pub name: &'static str,
    pub scope: Scope,
    pub kind: ConfigType,
    pub default: ConfigDefault,
    /// Values Kafka accepts that this build does not implement yet, each with the sentence
    /// shown to the user. Compared with the value's text (`true`, `read_committed`).
    pub not_yet: &'static [(&'static str, &'static str)],
    /// One line for the README.
    pub doc: &'static str,
}

const LONG_MAX: i64 = i64::MAX;
const INT_MAX: i64 = i32::MAX as i64;

const TOPIC_COMPRESSION: &[&str] = &["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"];
const PRODUCER_COMPRESSION: &[&str] = &["none", "gzip", "snappy", "lz4", "zstd"];

const fn spec(
    name: &'static str,
    scope: Scope,
    kind: ConfigType,
    default: ConfigDefault,
    doc: &'static str,
) -> ConfigSpec {
    ConfigSpec {
        name,
        scope,
        kind,
        default,
        not_yet: &[],
        doc,
    }
}

const fn int(min: i64, max: i64) -> ConfigType {
    ConfigType::Int { min, max }
}

const fn ms(min: i64, max: i64) -> ConfigType {
    ConfigType::DurationMs { min, max }
}

use ConfigDefault as D;
use Scope::{Broker, Consumer, Producer, Topic};

#[rustfmt::skip]
static HONOURED: &[ConfigSpec] = &[
    // Broker and topic configs. Defaults are Kafka's.
    spec("flush.messages", Topic, int(1, LONG_MAX), D::Int(LONG_MAX),
        "fsync the log after this many messages (default: leave it to the OS)"),
    spec("flush.ms", Topic, ms(0, LONG_MAX), D::Int(LONG_MAX),
        "fsync the log when its oldest unflushed message is this old"),
    // Kafka 3.x accepts any segment.bytes >= 14 (one legacy record header); Kafka 4 raised the
    // floor to 1 MiB. We keep 14 so tests can force many tiny segments and roll on every batch.
    spec("segment.bytes", Topic, int(14, INT_MAX), D::Int(1_073_741_824),
        "roll a new segment when the active one reaches this size (>= 14, as in Kafka 3.x)"),
    spec("segment.ms", Topic, ms(1, LONG_MAX), D::Int(604_800_000),
        "roll a new segment when the active one is this old"),
    spec("index.interval.bytes", Topic, int(0, INT_MAX), D::Int(4096),
        "bytes of log between two offset index entries"),
    spec("retention.ms", Topic, ms(-1, LONG_MAX), D::Int(604_800_000),
        "delete segments older than this (-1: never)"),
    spec("retention.bytes", Topic, int(-1, LONG_MAX), D::Int(-1),
        "delete old segments beyond this partition size (-1: no limit)"),
    spec("max.message.bytes", Topic, int(0, INT_MAX), D::Int(1_048_588),
        "largest record batch the broker accepts"),
    spec("min.insync.replicas", Topic, int(1, INT_MAX), D::Int(1),
        "replicas that must hold a batch before an acks=all produce succeeds"),
    spec("unclean.leader.election.enable", Topic, ConfigType::Bool, D::Bool(false),
        "allow a replica outside the ISR to become leader"),
    spec("compression.type", Topic, ConfigType::Enum(TOPIC_COMPRESSION), D::Str("producer"),
        "codec the log is stored in (producer: keep the producer's)"),
    spec("replica.lag.time.max.ms", Broker, ms(1, LONG_MAX), D::Int(30_000),
        "a follower that has not caught up for this long leaves the ISR"),
    spec("broker.session.timeout.ms", Broker, ms(1, INT_MAX), D::Int(9000),
        "the controller fences a broker it has not heard from for this long"),
    spec("broker.heartbeat.interval.ms", Broker, ms(1, INT_MAX), D::Int(2000),
        "how often a broker heartbeats to the controller"),
    spec("replica.fetch.wait.max.ms", Broker, ms(0, INT_MAX), D::Int(500),
        "how long a follower's fetch waits at the leader for new data"),
    // Kafka's default is 1000; kafkasim's followers retry sooner.
    spec("replica.fetch.backoff.ms", Broker, ms(1, INT_MAX), D::Int(250),
        "a follower's pause after a failed fetch (kafkasim's default; Kafka's is 1000)"),
    spec("controlled.shutdown.enable", Broker, ConfigType::Bool, D::Bool(true),
        "on a shutdown fault (SIGTERM), ask the controller to move leadership off first"),
    spec("controlled.shutdown.max.retries", Broker, int(0, INT_MAX), D::Int(3),
        "with controlled.shutdown.retry.backoff.ms, bounds the wait for the controller"),
    spec("controlled.shutdown.retry.backoff.ms", Broker, ms(0, LONG_MAX), D::Int(5000),
        "the shutdown stops anyway after max.retries times this without approval"),
    spec("replica.high.watermark.checkpoint.interval.ms", Broker, ms(1, LONG_MAX), D::Int(5000),
        "how often the high watermarks are written to replication-offset-checkpoint"),
    spec("socket.request.max.bytes", Broker, int(1, INT_MAX), D::Int(104_857_600),
        "largest request the broker reads; larger ones close the connection"),
    spec("fetch.max.bytes", Broker, int(0, INT_MAX), D::Int(57_671_680),
        "most record bytes in one fetch response, whatever the request asks"),
    spec("auto.create.topics.enable", Broker, ConfigType::Bool, D::Bool(true),
        "a Metadata request naming a missing topic creates it, if the request allows"),
    spec("num.partitions", Broker, int(1, 10_000), D::Int(1),
        "partitions of an auto-created topic (or one created without a count)"),
    spec("default.replication.factor", Broker, int(1, i16::MAX as i64), D::Int(1),
        "replication factor of an auto-created topic (only 1 is supported there yet)"),
    spec("offsets.topic.num.partitions", Broker, int(1, 1000), D::Int(50),
        "partitions of __consumer_offsets, created on the first FindCoordinator"),
    spec("offsets.topic.replication.factor", Broker, int(1, i16::MAX as i64), D::Int(3),
        "replicas of __consumer_offsets, capped at the brokers the cluster has; created once that many are alive"),
    spec("offsets.topic.segment.bytes", Broker, int(14, INT_MAX), D::Int(104_857_600),
        "segment size of __consumer_offsets (its segments roll, then compact)"),
    spec("offsets.commit.timeout.ms", Broker, ms(1, INT_MAX), D::Int(5000),
        "how long an offset commit waits for its records to be replicated"),
    spec("offsets.retention.minutes", Broker, int(1, INT_MAX), D::Int(10_080),
        "committed offsets of an Empty group expire after this"),
    spec("offsets.retention.check.interval.ms", Broker, ms(1, LONG_MAX), D::Int(600_000),
        "how often expired offsets and Empty groups without offsets are removed"),
    spec("group.initial.rebalance.delay.ms", Broker, ms(0, INT_MAX), D::Int(3000),
        "how long a new group's first rebalance waits for more members"),
    spec("group.min.session.timeout.ms", Broker, ms(0, INT_MAX), D::Int(6000),
        "smallest session.timeout.ms a member may ask for"),
    spec("group.max.session.timeout.ms", Broker, ms(0, INT_MAX), D::Int(1_800_000),
        "largest session.timeout.ms a member may ask for"),
    spec("group.max.size", Broker, int(1, INT_MAX), D::Int(INT_MAX),
        "most members in one group (GROUP_MAX_SIZE_REACHED beyond)"),
    // Producer configs.
    spec("acks", Producer, ConfigType::Acks, D::Str("all"),
        "acknowledgements the producer waits for: 0, 1 or all (-1)"),
    // Kafka 4.0's default (KIP-1030); 3.x used 0.
    spec("linger.ms", Producer, ms(0, INT_MAX), D::Int(5),
        "how long the producer waits to fill a batch"),
    spec("batch.size", Producer, int(0, INT_MAX), D::Int(16_384),
        "largest batch per partition, in bytes"),
    spec("retries", Producer, int(0, INT_MAX), D::Int(INT_MAX),
        "how often a failed send is retried within delivery.timeout.ms"),
    spec("retry.backoff.ms", Producer, ms(0, LONG_MAX), D::Int(100),
        "wait before retrying a failed send"),
    spec("max.in.flight.requests.per.connection", Producer, int(1, INT_MAX), D::Int(5),
        "unacknowledged produce requests per connection"),
    spec("delivery.timeout.ms", Producer, ms(0, INT_MAX), D::Int(120_000),
        "upper bound on the time to report a send's outcome"),
    spec("request.timeout.ms", Producer, ms(0, INT_MAX), D::Int(30_000),
        "how long to wait for a response before retrying"),
    spec("metadata.max.age.ms", Producer, ms(0, LONG_MAX), D::Int(300_000),
        "metadata older than this is refreshed before a send, so added partitions come into use"),
    ConfigSpec {
        name: "enable.idempotence",
        scope: Producer,
        kind: ConfigType::Bool,
        // Kafka's default is true since 3.0; false here keeps every scenario written before
        // the idempotent producer existed as it was (a scenario opts in).
        default: D::Bool(false),
        not_yet: &[],
        doc: "idempotent producer: producer id and sequences, retries never duplicate (needs acks=all; kafkasim's default is false, Kafka's true)",
    },
    spec("compression.type", Producer, ConfigType::Enum(PRODUCER_COMPRESSION), D::Str("none"),
        "codec the producer compresses batches with"),
    // Consumer configs.
    spec("auto.offset.reset", Consumer, ConfigType::Enum(&["earliest", "latest", "none"]),
        D::Str("latest"), "where to start when the group has no committed offset"),
    spec("fetch.min.bytes", Consumer, int(0, INT_MAX), D::Int(1),
        "bytes the broker waits for before answering a fetch"),
    spec("fetch.max.wait.ms", Consumer, ms(0, INT_MAX), D::Int(500),
        "longest the broker holds a fetch waiting for fetch.min.bytes"),
    spec("max.partition.fetch.bytes", Consumer, int(0, INT_MAX), D::Int(1_048_576),
        "bytes returned per partition per fetch (at least one batch)"),
    spec("fetch.max.bytes", Consumer, int(0, INT_MAX), D::Int(52_428_800),
        "bytes returned per fetch over all partitions (the first batch always comes)"),
    spec("max.poll.records", Consumer, int(1, INT_MAX), D::Int(500),
        "records returned by one poll"),
    spec("partition.assignment.strategy", Consumer,
        ConfigType::Enum(&["range", "roundrobin", "sticky", "cooperative-sticky"]),
        D::Str("range"), "group consumer: the assignor the members offer (Kafka offers range, then cooperative-sticky)"),
    spec("session.timeout.ms", Consumer, ms(1, INT_MAX), D::Int(45_000),
        "group consumer: a member without a heartbeat for this long is removed"),
    spec("heartbeat.interval.ms", Consumer, ms(1, INT_MAX), D::Int(3000),
        "group consumer: how often the background task heartbeats"),
    spec("max.poll.interval.ms", Consumer, ms(1, INT_MAX), D::Int(300_000),
        "group consumer: a member that does not poll for this long leaves the group"),
    spec("enable.auto.commit", Consumer, ConfigType::Bool, D::Bool(true),
        "group consumer: commit the positions of the previous poll every auto.commit.interval.ms"),
    spec("auto.commit.interval.ms", Consumer, ms(0, INT_MAX), D::Int(5000),
        "group consumer: how often positions are committed"),
    spec("metadata.max.age.ms", Consumer, ms(0, LONG_MAX), D::Int(300_000),
        "group consumer: how often the member that assigned the partitions refreshes the topic's metadata; partitions added make it rebalance the group"),
    ConfigSpec {
        name: "isolation.level",
        scope: Consumer,
        kind: ConfigType::Enum(&["read_uncommitted", "read_committed"]),
        default: D::Str("read_uncommitted"),
        not_yet: &[(
            "read_committed",
            "transactions are not implemented yet: only read_uncommitted is accepted in this build",
        )],
        doc: "which records a fetch may return (only read_uncommitted in this build)",
    },
];

/// Every config kafkasim honours, in the order the README lists them.
pub fn honoured_configs() -> &'static [ConfigSpec] {
    HONOURED
}

/// Whether a key of `spec_scope` may be written where `place` configs are read.
/// `[broker]` takes broker and topic keys; a topic's `config` takes topic keys only.
pub fn allowed_in(place: Scope, spec_scope: Scope) -> bool {
    match place {
        Scope::Broker => matches!(spec_scope, Scope::Broker | Scope::Topic),
        other => other == spec_scope,
    }
}

/// The spec of `name` as it may be written in `place` (see [`allowed_in`]).
pub fn lookup(place: Scope, name: &str) -> Option<&'static ConfigSpec> {
    HONOURED
        .iter()
        .find(|spec| spec.name == name && allowed_in(place, spec.scope))
}

/// The value of `name` in `configs`, or its default. Panics if kafkasim does not honour `name`
/// in `place`: that is a programming error, since parsing rejected every other key.
pub fn value_or_default(configs: &Configs, place: Scope, name: &str) -> ConfigValue {
    let spec = lookup(place, name)
        .unwrap_or_else(|| panic!("`{name}` is not a {} config kafkasim honours", place.name()));
    configs
        .get(name)
        .cloned()
        .unwrap_or_else(|| spec.default.to_value())
}

/// Integer form of [`value_or_default`] for `Int` and `DurationMs` configs.
pub fn int_or_default(configs: &Configs, place: Scope, name: &str) -> i64 {
    match value_or_default(configs, place, name) {
        ConfigValue::Int(value) => value,
        other => panic!("`{name}` is not an integer config: {other:?}"),
    }
}

/// The honoured configs as the rows of a Markdown table (key, scope, type, default, meaning),
/// for scenarios/README.md; a test keeps the README in step with this table.
pub fn markdown_rows() -> String {
    honoured_configs().iter().map(markdown_row).collect()
}

fn markdown_row(spec: &ConfigSpec) -> String {
    let kind = match spec.kind {
        ConfigType::Int { min, max } => format!("integer {}", range_text(min, max)),
        ConfigType::DurationMs { min, max } => format!("integer ms {}", range_text(min, max)),
        ConfigType::Bool => "bool".to_string(),
        ConfigType::Enum(values) => values.join(" \\| "),
        ConfigType::Acks => "\"0\" \\| \"1\" \\| \"all\" (\"-1\"; also 0, 1, -1)".to_string(),
    };
    let default = match spec.default {
        ConfigDefault::Int(i64::MAX) => "Long.MAX".to_string(),
        ConfigDefault::Int(value) => value.to_string(),
        ConfigDefault::Bool(value) => value.to_string(),
        ConfigDefault::Str(value) => format!("\"{value}\""),
    };
    format!(
        "| `{}` | {} | {} | {} | {} |\n",
        spec.name,
        spec.scope.name(),
        kind,
        default,
        spec.doc
    )
}

fn range_text(min: i64, max: i64) -> String {
    match max {
        i64::MAX => format!("≥ {min}"),
        max if max == INT_MAX => format!("{min}..=Int.MAX"),
        max => format!("{min}..={max}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_lie_in_their_range_and_enum() {
        for spec in honoured_configs() {
            match (spec.kind, spec.default) {
                (ConfigType::Int { min, max }, D::Int(value))
                | (ConfigType::DurationMs { min, max }, D::Int(value)) => {
                    assert!((min..=max).contains(&value), "{}", spec.name)
                }
                (ConfigType::Bool, D::Bool(_)) => {}
                (ConfigType::Enum(values), D::Str(value)) => {
                    assert!(values.contains(&value), "{}", spec.name)
                }
                (ConfigType::Acks, D::Str(value)) => assert_eq!(value, "all"),
                _ => panic!("{}: default does not match its type", spec.name),
            }
        }
    }

    #[test]
    fn compression_type_differs_between_topic_and_producer() {
        assert_eq!(
            lookup(Scope::Topic, "compression.type").unwrap().scope,
            Scope::Topic
        );
        assert_eq!(
            lookup(Scope::Broker, "compression.type").unwrap().scope,
            Scope::Topic
        );
        assert_eq!(
            lookup(Scope::Producer, "compression.type").unwrap().scope,
            Scope::Producer
        );
        assert!(lookup(Scope::Topic, "replica.lag.time.max.ms").is_none());
    }

    #[test]
    fn defaults_are_read_back() {
        let configs = Configs::new();
        assert_eq!(int_or_default(&configs, Scope::Producer, "linger.ms"), 5);
        assert_eq!(
            value_or_default(&configs, Scope::Producer, "acks"),
            ConfigValue::Str("all".into())
        );
    }
}
