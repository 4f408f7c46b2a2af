//! The group consumer's configs, under Kafka's names and with Kafka's defaults.

use std::net::SocketAddr;
use std::time::Duration;

use crate::client::consumer::{ConsumerConfig, OffsetReset};
use crate::group::assignor::{Assignor, RebalanceProtocol};

/// Group consumer configs; the fetch configs live in `consumer`.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// bootstrap, client.id, auto.offset.reset, fetch.* and request.timeout.ms.
    pub consumer: ConsumerConfig,
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id`: set for a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms` (45000).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3000).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (300000); also the JoinGroup rebalance timeout, as in Kafka.
    pub max_poll_interval: Duration,
    /// `partition.assignment.strategy`, in order of preference (Kafka's default: range,
    /// cooperative-sticky).
    pub assignment_strategy: Vec<Assignor>,
    /// `enable.auto.commit` (true).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (5000).
    pub auto_commit_interval: Duration,
    /// `retry.backoff.ms` (100).
    pub retry_backoff: Duration,
    /// `metadata.max.age.ms` (300000): how often the leader refreshes the partition counts
    /// of the group's topics, to rebalance when partitions were added.
    pub metadata_max_age: Duration,
}

impl GroupConfig {
    /// Kafka's defaults for a member of `group_id`.
    pub fn new(bootstrap: Vec<SocketAddr>, group_id: &str) -> GroupConfig {
        let mut consumer = ConsumerConfig::new(bootstrap);
        consumer.client_id = "kafkasim-group-consumer".into();
        GroupConfig {
            consumer,
            group_id: group_id.to_string(),
            group_instance_id: None,
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(3_000),
            max_poll_interval: Duration::from_millis(300_000),
            assignment_strategy: vec![Assignor::Range, Assignor::CooperativeSticky],
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5_000),
            retry_backoff: Duration::from_millis(100),
            metadata_max_age: Duration::from_millis(300_000),
        }
    }

    /// The JoinGroup rebalance timeout: `max.poll.interval.ms`, as Kafka's consumer sends.
    pub fn rebalance_timeout(&self) -> Duration {
        self.max_poll_interval
    }

    /// Sets one config by its Kafka name; the error names the key and what was expected.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let millis = || {
            value
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("{key}: expected milliseconds, got {value:?}"))
        };
        match key {
            "group.id" => self.group_id = value.to_string(),
            "group.instance.id" => {
                self.group_instance_id = (!value.is_empty()).then(|| value.to_string())
            }
            "client.id" => self.consumer.client_id = value.to_string(),
            "session.timeout.ms" => self.session_timeout = millis()?,
            "heartbeat.interval.ms" => self.heartbeat_interval = millis()?,
            "max.poll.interval.ms" => self.max_poll_interval = millis()?,
            "auto.commit.interval.ms" => self.auto_commit_interval = millis()?,
            "retry.backoff.ms" => self.retry_backoff = millis()?,
            "metadata.max.age.ms" => self.metadata_max_age = millis()?,
            "request.timeout.ms" => self.consumer.request_timeout = millis()?,
            "fetch.max.wait.ms" => self.consumer.fetch_max_wait = millis()?,
            "enable.auto.commit" => {
                self.enable_auto_commit = value
                    .parse()
                    .map_err(|_| format!("{key}: expected true or false, got {value:?}"))?
            }
            "auto.offset.reset" => {
                self.consumer.auto_offset_reset = match value {
                    "earliest" => OffsetReset::Earliest,
                    "latest" => OffsetReset::Latest,
                    "none" => OffsetReset::None,
                    _ => return Err(format!("{key}: expected earliest, latest or none")),
                }
            }
            "partition.assignment.strategy" => {
                self.assignment_strategy = parse_strategy(value)?;
            }
            _ => return Err(format!("unknown group consumer config {key:?}")),
        }
        Ok(())
    }
}

/// Parses `partition.assignment.strategy`: a comma-separated list of protocol names
/// (`range`, `roundrobin`, `sticky`, `cooperative-sticky`) or Kafka's class names.
pub fn parse_strategy(value: &str) -> Result<Vec<Assignor>, String> {
    let mut assignors = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let short = match name.rsplit('.').next().unwrap_or(name) {
            "RangeAssignor" => "range",
            "RoundRobinAssignor" => "roundrobin",
            "StickyAssignor" => "sticky",
            "CooperativeStickyAssignor" => "cooperative-sticky",
            other => other,
        };
        let assignor = Assignor::from_protocol_name(short).ok_or_else(|| {
            format!(
                "partition.assignment.strategy: unknown assignor {name:?} \
                 (expected range, roundrobin, sticky or cooperative-sticky)"
            )
        })?;
        if !assignors.contains(&assignor) {
            assignors.push(assignor);
        }
    }
    if assignors.is_empty() {
        return Err("partition.assignment.strategy: no assignor given".into());
    }
    Ok(assignors)
}

/// The rebalance protocol of a list of assignors: the most cooperative one every assignor
/// supports (Kafka's `ConsumerCoordinator` constructor).
pub fn rebalance_protocol(assignors: &[Assignor]) -> RebalanceProtocol {
    assert!(!assignors.is_empty(), "no assignor configured");
    let all_support = |protocol| {
        assignors
            .iter()
            .all(|assignor| assignor.supported_protocols().contains(&protocol))
    };
    if all_support(RebalanceProtocol::Cooperative) {
        RebalanceProtocol::Cooperative
    } else {
        RebalanceProtocol::Eager
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas() {
        let config = GroupConfig::new(vec![], "g");
        assert_eq!(config.session_timeout, Duration::from_millis(45_000));
        assert_eq!(config.heartbeat_interval, Duration::from_millis(3_000));
        assert_eq!(config.rebalance_timeout(), Duration::from_millis(300_000));
        assert_eq!(
            config.assignment_strategy,
            [Assignor::Range, Assignor::CooperativeSticky]
        );
        assert!(config.enable_auto_commit);
        assert_eq!(config.auto_commit_interval, Duration::from_millis(5_000));
        assert_eq!(config.consumer.auto_offset_reset, OffsetReset::Latest);
        assert_eq!(config.metadata_max_age, Duration::from_millis(300_000));
    }

    #[test]
    fn set_takes_kafka_names_and_rejects_bad_values() {
        let mut config = GroupConfig::new(vec![], "g");
        config.set("max.poll.interval.ms", "1000").unwrap();
        assert_eq!(config.rebalance_timeout(), Duration::from_millis(1_000));
        config
            .set(
                "partition.assignment.strategy",
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, roundrobin",
            )
            .unwrap();
        assert_eq!(
            config.assignment_strategy,
            [Assignor::CooperativeSticky, Assignor::RoundRobin]
        );
        config.set("metadata.max.age.ms", "1000").unwrap();
        assert_eq!(config.metadata_max_age, Duration::from_millis(1_000));
        config.set("group.instance.id", "i-1").unwrap();
        assert_eq!(config.group_instance_id.as_deref(), Some("i-1"));
        assert!(config.set("session.timeout.ms", "soon").is_err());
        assert!(config.set("partition.assignment.strategy", "fair").is_err());
        assert!(config.set("auto.offset.reset", "middle").is_err());
        assert!(config.set("no.such.key", "1").is_err());
    }

    #[test]
    fn cooperative_only_when_every_assignor_supports_it() {
        assert_eq!(
            rebalance_protocol(&[Assignor::CooperativeSticky]),
            RebalanceProtocol::Cooperative
        );
        assert_eq!(
            rebalance_protocol(&[Assignor::Range, Assignor::CooperativeSticky]),
            RebalanceProtocol::Eager
        );
        assert_eq!(
            rebalance_protocol(&[Assignor::Sticky]),
            RebalanceProtocol::Eager
        );
    }
}
