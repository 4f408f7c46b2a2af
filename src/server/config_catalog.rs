//! The configs kafkasim describes (DescribeConfigs) and lets clients alter (AlterConfigs,
//! IncrementalAlterConfigs): each topic config with its type, Kafka's default, the broker
//! keys that set it for every topic, and the bound Kafka's validator puts on it.
//!
//! Everything here is pure: [`describe_topic`] and [`describe_broker`] turn config maps into
//! what DescribeConfigs reports, [`check_topic_configs`] says whether a topic's overrides are
//! acceptable. A topic config's value comes from, in order, the topic's own override
//! (DYNAMIC_TOPIC_CONFIG), the broker's config file (STATIC_BROKER_CONFIG, under the broker
//! key or the topic key itself, which kafkasim's `[broker]` also takes), and Kafka's default
//! (DEFAULT_CONFIG); [`crate::server::config::log_config`] applies them in the same order.

use std::collections::BTreeMap;

/// Kafka's `ConfigEntry.ConfigType`, as DescribeConfigs v3+ reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Unknown = 0,
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// Kafka's `DescribeConfigsResponse.ConfigSource`: where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// A topic's own override.
    DynamicTopic = 1,
    /// This broker's dynamic config (AlterConfigs on its BROKER resource).
    DynamicBroker = 2,
    /// The cluster-wide dynamic default (AlterConfigs on the BROKER resource "").
    DynamicDefaultBroker = 3,
    /// The broker's config file.
    StaticBroker = 4,
    /// Kafka's default.
    Default = 5,
}

/// One topic config kafkasim honours.
#[derive(Debug)]
pub struct TopicConfigDef {
    /// The topic-level name (`retention.ms`).
    pub name: &'static str,
    /// The broker-level names that set it for every topic, highest precedence first.
    pub broker_synonyms: &'static [&'static str],
    /// Kafka's default, as DescribeConfigs prints it.
    pub default: &'static str,
    pub kind: ConfigType,
    /// The least value Kafka's validator accepts (`atLeast`), for numeric configs.
    pub min: Option<i64>,
}

const fn topic(
    name: &'static str,
    broker_synonyms: &'static [&'static str],
    default: &'static str,
    kind: ConfigType,
    min: Option<i64>,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_synonyms,
        default,
        kind,
        min,
    }
}

/// Every topic config kafkasim honours (exactly [`LOG_CONFIG_KEYS`]), with Kafka's defaults
/// and validator bounds from its `LogConfig`.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    topic(
        "cleanup.policy",
        &["log.cleanup.policy"],
        "delete",
        ConfigType::List,
        None,
    ),
    topic(
        "compression.type",
        &[],
        "producer",
        ConfigType::String,
        None,
    ),
    topic(
        "delete.retention.ms",
        &["log.cleaner.delete.retention.ms"],
        "86400000",
        ConfigType::Long,
        Some(0),
    ),
    topic(
        "flush.messages",
        &["log.flush.interval.messages"],
        "9223372036854775807",
        ConfigType::Long,
        Some(1),
    ),
    topic(
        "flush.ms",
        &["log.flush.interval.ms"],
        "9223372036854775807",
        ConfigType::Long,
        Some(0),
    ),
    topic(
        "index.interval.bytes",
        &["log.index.interval.bytes"],
        "4096",
        ConfigType::Int,
        Some(0),
    ),
    topic(
        "max.message.bytes",
        &["message.max.bytes"],
        "1048588",
        ConfigType::Int,
        Some(0),
    ),
    topic(
        "min.cleanable.dirty.ratio",
        &["log.cleaner.min.cleanable.ratio"],
        "0.5",
        ConfigType::Double,
        None,
    ),
    topic(
        "min.compaction.lag.ms",
        &["log.cleaner.min.compaction.lag.ms"],
        "0",
        ConfigType::Long,
        Some(0),
    ),
    topic("min.insync.replicas", &[], "1", ConfigType::Int, Some(1)),
    topic(
        "retention.bytes",
        &["log.retention.bytes"],
        "-1",
        ConfigType::Long,
        None,
    ),
    topic(
        "retention.ms",
        &["log.retention.ms"],
        "604800000",
        ConfigType::Long,
        Some(-1),
    ),
    topic(
        "segment.bytes",
        &["log.segment.bytes"],
        "1073741824",
        ConfigType::Int,
        Some(14),
    ),
    topic(
        "segment.ms",
        &["log.roll.ms"],
        "604800000",
        ConfigType::Long,
        Some(1),
    ),
];

/// Broker configs kafkasim reads besides the topic defaults, with the defaults in force.
/// None can be changed while the broker runs.
pub const BROKER_CONFIGS: &[(&str, &str, ConfigType)] = &[
    ("broker.heartbeat.interval.ms", "2000", ConfigType::Int),
    ("controlled.shutdown.enable", "true", ConfigType::Boolean),
    ("controlled.shutdown.max.retries", "3", ConfigType::Int),
    (
        "controlled.shutdown.retry.backoff.ms",
        "5000",
        ConfigType::Long,
    ),
    (
        "max.incremental.fetch.session.cache.slots",
        "1000",
        ConfigType::Int,
    ),
    ("replica.fetch.backoff.ms", "250", ConfigType::Int),
    ("replica.fetch.wait.max.ms", "500", ConfigType::Int),
    (
        "replica.high.watermark.checkpoint.interval.ms",
        "5000",
        ConfigType::Long,
    ),
    ("replica.lag.time.max.ms", "30000", ConfigType::Long),
    ("socket.request.max.bytes", "104857600", ConfigType::Int),
];

/// One synonym of a described config: a name that sets it, its value, and where from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonym {
    pub name: String,
    pub value: String,
    pub source: ConfigSource,
}

/// One config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedConfig {
    pub name: String,
    pub value: String,
    pub source: ConfigSource,
    pub read_only: bool,
    pub kind: ConfigType,
    /// Every name that sets it, the one in force first (Kafka's order).
    pub synonyms: Vec<Synonym>,
}

/// The definition of a topic config, if kafkasim honours it.
pub fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|def| def.name == name)
}

/// A broker's configs in layers, lowest precedence first: its config file, then the
/// cluster-wide dynamic default, then its own dynamic configs.
#[derive(Debug, Clone, Copy)]
pub struct BrokerLayers<'a> {
    pub static_: &'a BTreeMap<String, String>,
    pub dynamic_default: &'a BTreeMap<String, String>,
    pub dynamic_own: &'a BTreeMap<String, String>,
}

impl BrokerLayers<'_> {
    /// The layers from the top: (configs, source), highest precedence first.
    fn top_down(&self) -> [(&BTreeMap<String, String>, ConfigSource); 3] {
        [
            (self.dynamic_own, ConfigSource::DynamicBroker),
            (self.dynamic_default, ConfigSource::DynamicDefaultBroker),
            (self.static_, ConfigSource::StaticBroker),
        ]
    }

    /// The configs in force: each dynamic config replaces every static or lower dynamic
    /// synonym of the topic config it sets.
    pub fn effective(&self) -> BTreeMap<String, String> {
        let mut configs = self.static_.clone();
        for layer in [self.dynamic_default, self.dynamic_own] {
            for (key, value) in layer {
                if let Some(def) = dynamic_broker_config(key) {
                    for name in broker_names(def) {
                        configs.remove(name);
                    }
                }
                configs.insert(key.clone(), value.clone());
            }
        }
        configs
    }
}

/// The topic config a dynamic broker config sets for every topic, by its broker-level name
/// (`log.retention.ms`, or the topic name where Kafka has no other, as `min.insync.replicas`).
pub fn dynamic_broker_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS
        .iter()
        .find(|def| def.broker_synonyms.first().copied().unwrap_or(def.name) == name)
}

/// Whether a broker resource's complete set of dynamic configs is acceptable: every key a
/// dynamic broker config (INVALID_REQUEST "Cannot update these configs dynamically"
/// otherwise, as Kafka answers for its read-only configs), every value of its type and
/// within Kafka's bound (INVALID_CONFIG).
pub fn check_broker_configs(
    resource: &str,
    configs: &BTreeMap<String, String>,
) -> Result<(), (bool, String)> {
    let fixed: Vec<&str> = configs
        .keys()
        .map(String::as_str)
        .filter(|key| dynamic_broker_config(key).is_none())
        .collect();
    if !fixed.is_empty() {
        return Err((
            false,
            format!(
                "Invalid config value for resource ConfigResource(type=BROKER, name='{resource}'): \
                 Cannot update these configs dynamically: Set({})",
                fixed.join(", ")
            ),
        ));
    }
    for (key, value) in configs {
        let def = dynamic_broker_config(key).expect("checked above");
        check_value(def, value).map_err(|message| (true, message))?;
    }
    Ok(())
}

/// A topic's effective configs: for each config, its synonyms from the topic's overrides,
/// this broker's dynamic configs, the cluster-wide dynamic default, the broker's file and
/// Kafka's default, the first of which is in force.
pub fn describe_topic(
    broker: BrokerLayers<'_>,
    topic: &BTreeMap<String, String>,
) -> Vec<DescribedConfig> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let mut synonyms = Vec::new();
            if let Some(value) = topic.get(def.name) {
                synonyms.push(synonym(def.name, value, ConfigSource::DynamicTopic));
            }
            for (layer, source) in broker.top_down() {
                for name in broker_names(def) {
                    if let Some(value) = layer.get(name) {
                        synonyms.push(synonym(name, value, source));
                    }
                }
            }
            let default_name = def.broker_synonyms.first().copied().unwrap_or(def.name);
            synonyms.push(synonym(default_name, def.default, ConfigSource::Default));
            DescribedConfig {
                name: def.name.to_string(),
                value: synonyms[0].value.clone(),
                source: synonyms[0].source,
                read_only: false,
                kind: def.kind,
                synonyms,
            }
        })
        .collect()
}

/// The broker keys that set a topic config for every topic, in the order of precedence
/// [`crate::server::config::log_config`] gives them: it applies the broker map in key
/// order, so the name that sorts last wins.
fn broker_names(def: &TopicConfigDef) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = def.broker_synonyms.to_vec();
    names.push(def.name);
    names.sort_unstable_by(|a, b| b.cmp(a));
    names
}

fn synonym(name: &str, value: &str, source: ConfigSource) -> Synonym {
    Synonym {
        name: name.to_string(),
        value: value.to_string(),
        source,
    }
}

/// A broker's configs: `node.id`, the topic defaults under their broker names (dynamic:
/// this broker's own, then the cluster-wide default, then its file), the broker settings
/// kafkasim reads, and anything else its config file sets, in name order. Only the topic
/// defaults can be changed while it runs.
pub fn describe_broker(node_id: i32, broker: BrokerLayers<'_>) -> Vec<DescribedConfig> {
    let mut described: BTreeMap<String, DescribedConfig> = BTreeMap::new();
    let known = TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let name = def.broker_synonyms.first().copied().unwrap_or(def.name);
            (name, def.default, def.kind)
        })
        .chain(BROKER_CONFIGS.iter().copied());
    for (name, default, kind) in known {
        described.insert(name.to_string(), broker_entry(broker, name, default, kind));
    }
    for name in broker.static_.keys() {
        described
            .entry(name.clone())
            .or_insert_with(|| broker_entry(broker, name, "", ConfigType::Unknown));
    }
    let node_id = node_id.to_string();
    let node = synonym("node.id", &node_id, ConfigSource::StaticBroker);
    described.insert(
        "node.id".to_string(),
        DescribedConfig {
            name: "node.id".to_string(),
            value: node_id,
            source: ConfigSource::StaticBroker,
            read_only: true,
            kind: ConfigType::Int,
            synonyms: vec![node],
        },
    );
    described.into_values().collect()
}

/// A broker config: its dynamic values (for those that can be dynamic), the broker's file's
/// value, else the default.
fn broker_entry(
    broker: BrokerLayers<'_>,
    name: &str,
    default: &str,
    kind: ConfigType,
) -> DescribedConfig {
    let mut synonyms = Vec::new();
    for (layer, source) in broker.top_down() {
        if let Some(value) = layer.get(name) {
            synonyms.push(synonym(name, value, source));
        }
    }
    synonyms.push(synonym(name, default, ConfigSource::Default));
    DescribedConfig {
        name: name.to_string(),
        value: synonyms[0].value.clone(),
        source: synonyms[0].source,
        read_only: dynamic_broker_config(name).is_none(),
        kind,
        synonyms,
    }
}

/// The cluster-wide default resource (BROKER ""): only its dynamic configs, as Kafka
/// describes it.
pub fn describe_broker_default(dynamic_default: &BTreeMap<String, String>) -> Vec<DescribedConfig> {
    dynamic_default
        .iter()
        .map(|(name, value)| {
            let kind = dynamic_broker_config(name).map_or(ConfigType::Unknown, |def| def.kind);
            DescribedConfig {
                name: name.clone(),
                value: value.clone(),
                source: ConfigSource::DynamicDefaultBroker,
                read_only: false,
                kind,
                synonyms: vec![synonym(name, value, ConfigSource::DynamicDefaultBroker)],
            }
        })
        .collect()
}

/// Whether a topic's complete set of overrides is acceptable: every key a topic config
/// kafkasim honours, every value of its type and within Kafka's bound, and the whole a log
/// configuration kafkasim can run. The message says what is wrong, as Kafka's does.
pub fn check_topic_configs(
    broker: &BTreeMap<String, String>,
    topic: &BTreeMap<String, String>,
) -> Result<(), String> {
    for (key, value) in topic {
        let def = topic_config(key).ok_or_else(|| format!("Unknown topic config name: {key}"))?;
        check_value(def, value)?;
    }
    super::config::log_config(broker, topic).map(|_| ())
}

fn check_value(def: &TopicConfigDef, value: &str) -> Result<(), String> {
    let invalid = |why: &str| {
        format!(
            "Invalid value {value} for configuration {}: {why}",
            def.name
        )
    };
    match def.kind {
        ConfigType::Int | ConfigType::Long => {
            let number = value.trim().parse::<i64>().map_err(|_| {
                invalid(if def.kind == ConfigType::Int {
                    "Not a number of type INT"
                } else {
                    "Not a number of type LONG"
                })
            })?;
            if def.kind == ConfigType::Int && i32::try_from(number).is_err() {
                return Err(invalid("Not a number of type INT"));
            }
            if let Some(min) = def.min.filter(|&min| number < min) {
                return Err(invalid(&format!("Value must be at least {min}")));
            }
            Ok(())
        }
        ConfigType::Double => {
            let number = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| invalid("Not a number of type DOUBLE"))?;
            // The one double topic config, min.cleanable.dirty.ratio, is a ratio in [0, 1].
            if number < 0.0 {
                return Err(invalid("Value must be at least 0"));
            }
            if number > 1.0 {
                return Err(invalid("Value must be no more than 1"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_catalog_is_exactly_the_keys_topics_accept() {
        use super::super::config::LOG_CONFIG_KEYS;
        assert_eq!(TOPIC_CONFIGS.len(), LOG_CONFIG_KEYS.len());
        for key in LOG_CONFIG_KEYS {
            assert!(topic_config(key).is_some(), "{key} has no definition");
        }
    }

    #[test]
    fn a_topic_override_wins_then_the_broker_file_then_the_default() {
        let broker = map(&[("log.retention.ms", "1000"), ("flush.messages", "5")]);
        let topic = map(&[("retention.ms", "2000")]);
        let described = describe_topic(static_only(&broker), &topic);
        let get = |name: &str| described.iter().find(|c| c.name == name).unwrap().clone();
        let retention = get("retention.ms");
        assert_eq!(retention.value, "2000");
        assert_eq!(retention.source, ConfigSource::DynamicTopic);
        let sources: Vec<(&str, &str, ConfigSource)> = retention
            .synonyms
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str(), s.source))
            .collect();
        assert_eq!(
            sources,
            [
                ("retention.ms", "2000", ConfigSource::DynamicTopic),
                ("log.retention.ms", "1000", ConfigSource::StaticBroker),
                ("log.retention.ms", "604800000", ConfigSource::Default),
            ]
        );
        // `[broker]` may set a topic key itself for every topic.
        let flush = get("flush.messages");
        assert_eq!(
            (flush.value.as_str(), flush.source),
            ("5", ConfigSource::StaticBroker)
        );
        let segment = get("segment.bytes");
        assert_eq!(
            (segment.value.as_str(), segment.source),
            ("1073741824", ConfigSource::Default)
        );
        assert!(described.iter().all(|c| !c.read_only));
    }

    /// The value reported in force is the one the log runs with.
    #[test]
    fn the_described_value_is_the_one_log_config_applies() {
        let broker = map(&[("log.segment.bytes", "1000"), ("segment.bytes", "2000")]);
        let described = describe_topic(static_only(&broker), &BTreeMap::new());
        let segment = described
            .iter()
            .find(|c| c.name == "segment.bytes")
            .unwrap();
        let applied = super::super::config::log_config(&broker, &BTreeMap::new()).unwrap();
        assert_eq!(segment.value, applied.segment_bytes.to_string());
    }

    fn static_only(broker: &BTreeMap<String, String>) -> BrokerLayers<'_> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        BrokerLayers {
            static_: broker,
            dynamic_default: &EMPTY,
            dynamic_own: &EMPTY,
        }
    }

    /// Dynamic configs sit between a topic's override and the broker's file: this broker's
    /// own first, then the cluster-wide default; each replaces every static synonym in force.
    #[test]
    fn dynamic_broker_configs_rank_between_the_topic_and_the_file() {
        let file = map(&[("log.retention.ms", "1000"), ("retention.ms", "1500")]);
        let default = map(&[("log.retention.ms", "2000"), ("message.max.bytes", "77")]);
        let own = map(&[("log.retention.ms", "3000")]);
        let layers = BrokerLayers {
            static_: &file,
            dynamic_default: &default,
            dynamic_own: &own,
        };
        let described = describe_topic(layers, &BTreeMap::new());
        let retention = described.iter().find(|c| c.name == "retention.ms").unwrap();
        let sources: Vec<(&str, ConfigSource)> = retention
            .synonyms
            .iter()
            .map(|s| (s.value.as_str(), s.source))
            .collect();
        assert_eq!(
            sources,
            [
                ("3000", ConfigSource::DynamicBroker),
                ("2000", ConfigSource::DynamicDefaultBroker),
                ("1500", ConfigSource::StaticBroker),
                ("1000", ConfigSource::StaticBroker),
                ("604800000", ConfigSource::Default),
            ]
        );
        let effective = layers.effective();
        let applied = super::super::config::log_config(&effective, &BTreeMap::new()).unwrap();
        assert_eq!(applied.retention_ms, Some(3000), "{effective:?}");
        assert_eq!(
            effective.get("message.max.bytes").map(String::as_str),
            Some("77")
        );
        // Only the topic defaults can be dynamic, each under its broker-level name.
        assert!(check_broker_configs("", &map(&[("log.retention.ms", "5")])).is_ok());
        assert!(check_broker_configs("", &map(&[("min.insync.replicas", "2")])).is_ok());
        let (bad_value, _) =
            check_broker_configs("", &map(&[("min.insync.replicas", "0")])).unwrap_err();
        assert!(bad_value);
        for fixed in ["retention.ms", "replica.lag.time.max.ms", "cleanup.policy"] {
            let (bad_value, message) =
                check_broker_configs("1", &map(&[(fixed, "1")])).unwrap_err();
            assert!(!bad_value, "{fixed}");
            assert!(message.ends_with(&format!("Set({fixed})")), "{message}");
        }
    }

    #[test]
    fn static_broker_configs_are_read_only_and_name_the_node() {
        let file = map(&[("replica.lag.time.max.ms", "100")]);
        let described = describe_broker(3, static_only(&file));
        let writable = described.iter().filter(|c| !c.read_only);
        assert!(writable
            .clone()
            .all(|c| dynamic_broker_config(&c.name).is_some()));
        assert_eq!(writable.count(), TOPIC_CONFIGS.len(), "every topic default");
        let node = described.iter().find(|c| c.name == "node.id").unwrap();
        assert_eq!(node.value, "3");
        let lag = described
            .iter()
            .find(|c| c.name == "replica.lag.time.max.ms")
            .unwrap();
        assert_eq!(
            (lag.value.as_str(), lag.source),
            ("100", ConfigSource::StaticBroker)
        );
        let names: Vec<&str> = described.iter().map(|c| c.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "in name order");
    }

    #[test]
    fn cleanup_policy_and_cleaner_configs_reach_the_log() {
        use super::super::config::log_config;
        let broker = map(&[
            ("log.cleaner.min.cleanable.ratio", "0.25"),
            ("log.cleaner.min.compaction.lag.ms", "7"),
        ]);
        let topic = map(&[("cleanup.policy", "compact"), ("delete.retention.ms", "5")]);
        let config = log_config(&broker, &topic).unwrap();
        assert!(config.cleanup_compact && !config.cleanup_delete);
        assert_eq!(config.delete_retention_ms, 5);
        assert_eq!(config.min_cleanable_dirty_ratio_permille, 250);
        assert_eq!(config.min_compaction_lag_ms, 7);
        let both = log_config(&map(&[("log.cleanup.policy", "compact,delete")]), &map(&[]));
        let both = both.unwrap();
        assert!(both.cleanup_compact && both.cleanup_delete);
        let default = log_config(&map(&[]), &map(&[])).unwrap();
        assert!(!default.cleanup_compact && default.cleanup_delete);
        assert_eq!(default.delete_retention_ms, 86_400_000);
        assert_eq!(default.min_cleanable_dirty_ratio_permille, 500);
    }

    #[test]
    fn bad_overrides_are_refused_with_kafkas_messages() {
        let broker = BTreeMap::new();
        let check = |pairs: &[(&str, &str)]| check_topic_configs(&broker, &map(pairs));
        assert_eq!(check(&[("retention.ms", "-1")]), Ok(()));
        assert_eq!(
            check(&[("no.such.config", "1")]),
            Err("Unknown topic config name: no.such.config".into())
        );
        assert_eq!(
            check(&[("retention.ms", "-2")]),
            Err(
                "Invalid value -2 for configuration retention.ms: Value must be at least -1".into()
            )
        );
        assert_eq!(
            check(&[("min.insync.replicas", "0")]),
            Err(
                "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"
                    .into()
            )
        );
        assert_eq!(
            check(&[("segment.bytes", "3000000000")]),
            Err(
                "Invalid value 3000000000 for configuration segment.bytes: Not a number of type INT"
                    .into()
            )
        );
        assert!(check(&[("retention.ms", "soon")]).is_err());
        for policy in ["compact", "delete", "compact,delete", "delete, compact", ""] {
            assert_eq!(check(&[("cleanup.policy", policy)]), Ok(()), "{policy}");
        }
        assert_eq!(
            check(&[("cleanup.policy", "compact,shred")]),
            Err("Invalid value compact,shred for configuration cleanup.policy: String must be one of: compact, delete".into())
        );
        assert_eq!(check(&[("min.cleanable.dirty.ratio", "0.1")]), Ok(()));
        assert_eq!(
            check(&[("min.cleanable.dirty.ratio", "1.5")]),
            Err("Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1".into())
        );
        assert!(check(&[("min.cleanable.dirty.ratio", "half")]).is_err());
        assert!(check(&[("delete.retention.ms", "-1")]).is_err());
        assert!(check(&[("min.compaction.lag.ms", "-1")]).is_err());
    }
}
