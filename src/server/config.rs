//! Broker configuration: the static cluster map of this build (brokers and partition
//! placement, standing in for the controller until replication lands) and the log configs
//! under Kafka's own names.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::storage::LogConfig;

/// Where a broker can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

pub use crate::metadata::TopicAssignment;

/// Everything a broker process needs to start.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Kafka's `node.id`.
    pub node_id: i32,
    /// Address to bind.
    pub listen: SocketAddr,
    /// Every broker of the cluster, this one included.
    pub brokers: Vec<BrokerEndpoint>,
    /// Topics known at start (more may be created with CreateTopics and are persisted).
    pub topics: Vec<TopicAssignment>,
    /// Broker-level configs (Kafka names, string values): log defaults and server limits.
    pub configs: BTreeMap<String, String>,
    /// Reported in Metadata.
    pub cluster_id: String,
    /// The controller, when one decides leadership; `None`: the static cluster map (the first
    /// replica leads at epoch 0).
    pub controller: Option<SocketAddr>,
    /// `[model] truncation`: how followers made by a leader change cut their logs.
    pub truncation: crate::replication::TruncationRule,
    /// `[model] offset_for_leader_epoch`: how a leader answers for an epoch it has no entry
    /// for (KIP-279's fix, or Kafka 0.11's answer before it).
    pub epoch_lookup: crate::replication::EpochLookup,
    /// `[model] monotonic_list_offsets` (KIP-207): a leader answers clients' ListOffsets with
    /// OFFSET_NOT_AVAILABLE until its high watermark reaches the start of its epoch.
    pub monotonic_list_offsets: bool,
    /// `[model] offsets_load` and `[model] offsets_expiry`: the group coordinator's
    /// historical rules beside their fixes (see [`GroupModel`]).
    pub group_model: GroupModel,
    /// TEST-ONLY planted bugs (see [`crate::planted`]); none in real mode.
    pub planted: crate::planted::PlantedBugs,
}

/// The group coordinator's historical rules, each off (Kafka's fix) by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupModel {
    /// `offsets_load = "pending-commits-only"`: apache/kafka PR 2436's bug, loaded offsets
    /// kept only if a commit of them is pending, so a new coordinator forgets them all.
    pub load_offsets_only_if_commit_pending: bool,
    /// `offsets_expiry = "while-rebalancing"`: KAFKA-13636's bug, a rebalancing group's
    /// offsets expired as if it subscribed to nothing.
    pub expire_offsets_while_rebalancing: bool,
}

impl BrokerConfig {
    /// A single broker serving on `listen`, advertising `listen` itself.
    pub fn single(node_id: i32, listen: SocketAddr) -> Self {
        BrokerConfig {
            node_id,
            listen,
            brokers: vec![BrokerEndpoint {
                node_id,
                host: listen.ip().to_string(),
                port: listen.port() as i32,
            }],
            topics: Vec::new(),
            configs: BTreeMap::new(),
            cluster_id: "kafkasim".to_string(),
            controller: None,
            truncation: crate::replication::TruncationRule::LeaderEpoch,
            epoch_lookup: crate::replication::EpochLookup::Kip279,
            monotonic_list_offsets: false,
            group_model: GroupModel::default(),
            planted: crate::planted::PlantedBugs::default(),
        }
    }

    /// `replica.high.watermark.checkpoint.interval.ms` (Kafka default 5000).
    pub fn high_watermark_checkpoint_interval_ms(&self) -> u64 {
        int_config(
            &self.configs,
            "replica.high.watermark.checkpoint.interval.ms",
        )
        .ok()
        .flatten()
        .unwrap_or(5000)
        .max(1) as u64
    }

    /// `broker.heartbeat.interval.ms` (Kafka default 2000).
    pub fn heartbeat_interval_ms(&self) -> u64 {
        int_config(&self.configs, "broker.heartbeat.interval.ms")
            .ok()
            .flatten()
            .unwrap_or(2000)
            .max(1) as u64
    }

    /// `controlled.shutdown.enable` (Kafka default true): on SIGTERM, ask the controller to
    /// move leadership off before stopping.
    pub fn controlled_shutdown_enable(&self) -> bool {
        self.configs
            .get("controlled.shutdown.enable")
            .is_none_or(|v| v.trim() != "false")
    }

    /// How long a controlled shutdown waits for the controller's approval before stopping
    /// anyway: `controlled.shutdown.max.retries` × `controlled.shutdown.retry.backoff.ms`
    /// (3 × 5000 by default), the budget Kafka's ZooKeeper-era shutdown retried within.
    pub fn controlled_shutdown_wait_ms(&self) -> u64 {
        let retries = int_config(&self.configs, "controlled.shutdown.max.retries");
        let backoff = int_config(&self.configs, "controlled.shutdown.retry.backoff.ms");
        let retries = retries.ok().flatten().unwrap_or(3).max(0) as u64;
        let backoff = backoff.ok().flatten().unwrap_or(5000).max(0) as u64;
        retries.saturating_mul(backoff)
    }

    /// `replica.fetch.wait.max.ms` (Kafka default 500): how long a follower's fetch may wait
    /// at the leader for new data.
    pub fn replica_fetch_wait_max_ms(&self) -> u64 {
        let value = int_config(&self.configs, "replica.fetch.wait.max.ms");
        value
            .ok()
            .flatten()
            .unwrap_or(500)
            .clamp(0, i32::MAX as i64) as u64
    }

    /// `replica.fetch.backoff.ms`: a follower's pause after a failed fetch. kafkasim's
    /// default is 250 (Kafka's is 1000).
    pub fn replica_fetch_backoff_ms(&self) -> u64 {
        let value = int_config(&self.configs, "replica.fetch.backoff.ms");
        value.ok().flatten().unwrap_or(250).max(1) as u64
    }

    /// `auto.create.topics.enable` (Kafka default true): a Metadata request naming a topic
    /// that does not exist creates it, when the request allows that.
    pub fn auto_create_topics_enable(&self) -> bool {
        self.configs
            .get("auto.create.topics.enable")
            .is_none_or(|v| v.trim() != "false")
    }

    /// `num.partitions` (Kafka default 1): partitions of an auto-created topic, and of one
    /// created without a partition count.
    pub fn num_partitions(&self) -> i64 {
        int_config(&self.configs, "num.partitions")
            .ok()
            .flatten()
            .unwrap_or(1)
    }

    /// `default.replication.factor` (Kafka default 1): the replication factor of an
    /// auto-created topic, and of one created without a replication factor.
    pub fn default_replication_factor(&self) -> i64 {
        int_config(&self.configs, "default.replication.factor")
            .ok()
            .flatten()
            .unwrap_or(1)
    }

    /// `max.incremental.fetch.session.cache.slots` (Kafka default 1000): how many fetch
    /// sessions (KIP-227) the broker keeps.
    pub fn max_incremental_fetch_session_cache_slots(&self) -> usize {
        int_config(&self.configs, "max.incremental.fetch.session.cache.slots")
            .ok()
            .flatten()
            .unwrap_or(1000)
            .clamp(0, i32::MAX as i64) as usize
    }

    /// `fetch.max.bytes` (Kafka default 55 MiB): the most record bytes one Fetch response
    /// carries, whatever the request asks (KIP-74).
    pub fn fetch_max_bytes(&self) -> usize {
        int_config(&self.configs, "fetch.max.bytes")
            .ok()
            .flatten()
            .unwrap_or(57_671_680)
            .clamp(0, i32::MAX as i64) as usize
    }

    /// `socket.request.max.bytes` (Kafka default 100 MiB).
    pub fn socket_request_max_bytes(&self) -> Result<usize, String> {
        Ok(int_config(&self.configs, "socket.request.max.bytes")?.unwrap_or(104_857_600) as usize)
    }
}

/// An integer config from the topic's overrides, else the broker's, else `None`.
pub fn int_config_of(
    broker: &BTreeMap<String, String>,
    topic: &BTreeMap<String, String>,
    key: &str,
) -> Result<Option<i64>, String> {
    match int_config(topic, key)? {
        Some(value) => Ok(Some(value)),
        None => int_config(broker, key),
    }
}

fn int_config(configs: &BTreeMap<String, String>, key: &str) -> Result<Option<i64>, String> {
    match configs.get(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("{key}: expected an integer, got {v:?}")),
    }
}

/// The topic and broker configs that the log honours, by Kafka name. Anything else in a
/// CreateTopics request is rejected with INVALID_CONFIG.
pub const LOG_CONFIG_KEYS: &[&str] = &[
    "segment.bytes",
    "segment.ms",
    "index.interval.bytes",
    "flush.messages",
    "flush.ms",
    "retention.ms",
    "retention.bytes",
    "max.message.bytes",
    "compression.type",
    "cleanup.policy",
    "delete.retention.ms",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
];

/// Build a partition's LogConfig: defaults, then broker-level configs, then topic overrides.
/// Broker-level keys may carry Kafka's `log.` prefix (`log.segment.bytes`, `log.flush.interval.messages`).
pub fn log_config(
    broker: &BTreeMap<String, String>,
    topic: &BTreeMap<String, String>,
) -> Result<LogConfig, String> {
    let mut config = LogConfig::default();
    for source in [broker, topic] {
        for (key, value) in source {
            apply_log_config(&mut config, key, value)?;
        }
    }
    Ok(config)
}

fn apply_log_config(config: &mut LogConfig, key: &str, value: &str) -> Result<(), String> {
    let int = || {
        value
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{key}: expected an integer, got {value:?}"))
    };
    // Kafka uses -1 (or Long.MAX_VALUE) for "never" on these.
    let optional = |v: i64| {
        if v < 0 || v == i64::MAX {
            None
        } else {
            Some(v)
        }
    };
    match key {
        "segment.bytes" | "log.segment.bytes" => {
            config.segment_bytes = positive(key, int()?)? as u64
        }
        "segment.ms" | "log.roll.ms" => config.segment_ms = positive(key, int()?)?,
        "index.interval.bytes" | "log.index.interval.bytes" => {
            config.index_interval_bytes = int()?.max(0) as u64
        }
        "flush.messages" | "log.flush.interval.messages" => {
            config.flush_messages = optional(int()?).map(|v| v as u64)
        }
        "flush.ms" | "log.flush.interval.ms" => config.flush_ms = optional(int()?),
        "retention.ms" | "log.retention.ms" => config.retention_ms = optional(int()?),
        "retention.bytes" | "log.retention.bytes" => {
            config.retention_bytes = optional(int()?).map(|v| v as u64)
        }
        "max.message.bytes" | "message.max.bytes" => {
            config.max_message_bytes = positive(key, int()?)? as usize
        }
        // Stored as received; the broker never recompresses, so these are accepted and
        // have no effect beyond validation.
        "compression.type" => {
            if ![
                "producer",
                "none",
                "gzip",
                "snappy",
                "lz4",
                "zstd",
                "uncompressed",
            ]
            .contains(&value)
            {
                return Err(format!("{key}: unknown codec {value:?}"));
            }
        }
        "cleanup.policy" | "log.cleanup.policy" => {
            let (compact, delete) = cleanup_policy(key, value)?;
            config.cleanup_compact = compact;
            config.cleanup_delete = delete;
        }
        "delete.retention.ms" | "log.cleaner.delete.retention.ms" => {
            config.delete_retention_ms = at_least_zero(key, int()?)?
        }
        "min.compaction.lag.ms" | "log.cleaner.min.compaction.lag.ms" => {
            config.min_compaction_lag_ms = at_least_zero(key, int()?)?
        }
        "min.cleanable.dirty.ratio" | "log.cleaner.min.cleanable.ratio" => {
            let ratio = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("{key}: expected a number in [0, 1], got {value:?}"))?;
            config.min_cleanable_dirty_ratio_permille = (ratio * 1000.0).round() as u32;
        }
        _ => {}
    }
    Ok(())
}

/// `cleanup.policy`: a comma-separated list of `compact` and `delete` (Kafka accepts an
/// empty list, which neither deletes nor compacts). Returns (compact, delete).
fn cleanup_policy(key: &str, value: &str) -> Result<(bool, bool), String> {
    let (mut compact, mut delete) = (false, false);
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item {
            "compact" => compact = true,
            "delete" => delete = true,
            _ => {
                return Err(format!(
                    "Invalid value {value} for configuration {key}: String must be one of: compact, delete"
                ))
            }
        }
    }
    Ok((compact, delete))
}

fn at_least_zero(key: &str, v: i64) -> Result<i64, String> {
    if v >= 0 {
        Ok(v)
    } else {
        Err(format!("{key}: must be at least 0, got {v}"))
    }
}

fn positive(key: &str, v: i64) -> Result<i64, String> {
    if v > 0 {
        Ok(v)
    } else {
        Err(format!("{key}: must be positive, got {v}"))
    }
}
