//! Topics and their partitions: creating, bootstrapping and deleting them, and which are
//! under `min.insync.replicas` (part of Kafka's `ReplicationControlManager`).
//!
//! # Rules followed
//! - Placement is deterministic: replica `j` of partition `p` is `brokers[(start + p + j) % n]`
//!   over the unfenced brokers in id order; every replica starts in the ISR and the first
//!   leads at epoch 0.
//! - A topic id is never zero and never reused (its record's offset is in its high half).
//!
//! # Invariants asserted here
//! - A new partition's replicas are distinct brokers, its ISR is its replicas and its leader
//!   is its first replica, at leader and partition epoch 0 (with a manual assignment: its
//!   ISR is its unfenced replicas, led by the first of them).

use std::collections::BTreeMap;

use super::records::{
    BrokerConfigRecord, ConfigRecord, MetadataRecord, PartitionRecord, TopicRecord,
};
use super::{Controller, ControllerError};

impl Controller {
    /// Creates a topic. Replica `j` of partition `p` is `brokers[(start + p + j) % n]` over
    /// the unfenced brokers in id order, with `start` the number of existing topics, so
    /// placement is deterministic and leaders spread across topics. Every replica starts in
    /// the ISR and the first leads at epoch 0.
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let topic = self.topic_record(name)?;
        if partitions < 1 {
            return Err(ControllerError::InvalidPartitions(partitions));
        }
        let brokers = self.state.unfenced_brokers();
        if replication_factor < 1 || replication_factor as usize > brokers.len() {
            return Err(ControllerError::InvalidReplicationFactor {
                requested: replication_factor,
                available: brokers.len(),
            });
        }
        batch.push(topic);
        let start = self.state.topics.len();
        for partition in 0..partitions {
            let replicas = place_replicas(&brokers, start + partition as usize, replication_factor);
            batch.push(in_sync_partition(name, partition, replicas));
        }
        Ok(self.finish(batch))
    }

    /// Creates a topic with a given placement (the cluster's initial topics, written into a
    /// new metadata log before any broker registered): replica lists as given, the first
    /// replica leads at epoch 0, every replica in the ISR.
    pub fn bootstrap_topic(
        &mut self,
        name: &str,
        placement: &[Vec<i32>],
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let topic = self.topic_record(name)?;
        if placement.is_empty() || placement.iter().any(|replicas| replicas.is_empty()) {
            return Err(ControllerError::InvalidPartitions(placement.len() as i32));
        }
        batch.push(topic);
        for (partition, replicas) in placement.iter().enumerate() {
            batch.push(in_sync_partition(name, partition as i32, replicas.clone()));
        }
        Ok(self.finish(batch))
    }

    /// Creates a topic with a manual replica assignment (CreateTopics' `assignments`), as
    /// Kafka's `ReplicationControlManager`: partitions numbered 0.. in order, every replica
    /// list of the same length, of distinct registered brokers; the ISR is the unfenced
    /// replicas (at least one) and the first of them leads at epoch 0.
    pub fn create_topic_assigned(
        &mut self,
        name: &str,
        placement: &[Vec<i32>],
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let topic = self.topic_record(name)?;
        let Some(first) = placement.first() else {
            return Err(ControllerError::InvalidReplicaAssignment(
                "no partitions".into(),
            ));
        };
        batch.push(topic);
        for (partition, replicas) in placement.iter().enumerate() {
            batch.push(MetadataRecord::Partition(self.assigned_partition(
                name,
                partition as i32,
                replicas,
                first.len(),
            )?));
        }
        Ok(self.finish(batch))
    }

    /// Grows a topic to `count` partitions (CreatePartitions), as Kafka's
    /// `ReplicationControlManager.createPartitions`: the new partitions get the topic's
    /// replication factor, placed round-robin over the unfenced brokers after the existing
    /// ones, or as `assignments` says (one replica list per new partition, checked as a
    /// manual assignment at creation).
    pub fn create_partitions(
        &mut self,
        name: &str,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let Some(topic) = self.state.topics.get(name) else {
            return Err(ControllerError::UnknownTopicOrPartition);
        };
        let current = topic.partitions.len() as i32;
        let replication_factor = topic
            .partitions
            .values()
            .next()
            .map_or(1, |p| p.replicas.len());
        if count <= current {
            return Err(ControllerError::InvalidPartitions(count));
        }
        let placement: Vec<Vec<i32>> = match assignments {
            Some(assignments) => {
                if assignments.len() != (count - current) as usize {
                    return Err(ControllerError::InvalidReplicaAssignment(format!(
                        "{} replica lists for {} new partitions",
                        assignments.len(),
                        count - current
                    )));
                }
                assignments.to_vec()
            }
            None => {
                let brokers = self.state.unfenced_brokers();
                if replication_factor > brokers.len() {
                    return Err(ControllerError::InvalidReplicationFactor {
                        requested: replication_factor as i32,
                        available: brokers.len(),
                    });
                }
                let start = self.state.topics.len();
                (current..count)
                    .map(|p| {
                        place_replicas(&brokers, start + p as usize, replication_factor as i32)
                    })
                    .collect()
            }
        };
        for (i, replicas) in placement.iter().enumerate() {
            let partition = current + i as i32;
            let record = self.assigned_partition(name, partition, replicas, replication_factor)?;
            batch.push(MetadataRecord::Partition(record));
        }
        Ok(self.finish(batch))
    }

    /// The first record of a new topic: its name checked against Kafka's rules and the
    /// existing topics, and a fresh topic id.
    fn topic_record(&self, name: &str) -> Result<MetadataRecord, ControllerError> {
        validate_topic_name(name)?;
        if self.state.topics.contains_key(name) {
            return Err(ControllerError::TopicAlreadyExists(name.to_string()));
        }
        Ok(MetadataRecord::Topic(TopicRecord {
            name: name.to_string(),
            topic_id: topic_id_for(name, self.state.records_applied),
        }))
    }

    /// A new partition on `replicas` as a manual assignment is checked: `expected_len`
    /// distinct registered brokers; its ISR is the unfenced ones, led by the first.
    fn assigned_partition(
        &self,
        name: &str,
        partition: i32,
        replicas: &[i32],
        expected_len: usize,
    ) -> Result<PartitionRecord, ControllerError> {
        let invalid = |why: String| Err(ControllerError::InvalidReplicaAssignment(why));
        if replicas.is_empty() || replicas.len() != expected_len {
            return invalid(format!(
                "partition {partition} has {} replicas where {expected_len} are expected",
                replicas.len()
            ));
        }
        let distinct: std::collections::BTreeSet<i32> = replicas.iter().copied().collect();
        if distinct.len() != replicas.len() {
            return invalid(format!(
                "partition {partition} repeats a broker: {replicas:?}"
            ));
        }
        if let Some(unknown) = replicas.iter().find(|b| self.state.broker(**b).is_none()) {
            return invalid(format!("broker {unknown} is not registered"));
        }
        let isr: Vec<i32> = replicas
            .iter()
            .copied()
            .filter(|b| self.state.broker(*b).is_some_and(|b| !b.fenced))
            .collect();
        let Some(&leader) = isr.first() else {
            return invalid(format!("every replica of partition {partition} is fenced"));
        };
        Ok(PartitionRecord {
            topic: name.to_string(),
            partition,
            leader,
            isr,
            replicas: replicas.to_vec(),
            leader_epoch: 0,
            partition_epoch: 0,
        })
    }

    /// Adds a new topic's config overrides (CreateTopics' configs, or the cluster map's) to the
    /// batch in flight that creates it: one ConfigRecord each, committed with the topic.
    pub fn with_topic_configs(
        &mut self,
        mut records: Vec<MetadataRecord>,
        name: &str,
        configs: &BTreeMap<String, String>,
    ) -> Vec<MetadataRecord> {
        if configs.is_empty() {
            return records;
        }
        assert!(
            self.awaiting_apply && records.len() == self.awaiting_len,
            "topic configs added to a batch that is not the one in flight"
        );
        let creates = records
            .iter()
            .any(|r| matches!(r, MetadataRecord::Topic(t) if t.name == name));
        assert!(
            creates,
            "configs for {name} added to a batch that does not create it"
        );
        records.extend(configs.iter().map(|(key, value)| {
            MetadataRecord::Config(ConfigRecord {
                topic: name.to_string(),
                name: key.clone(),
                value: Some(value.clone()),
            })
        }));
        self.awaiting_len = records.len();
        records
    }

    /// Changes a topic's config overrides (AlterConfigs and IncrementalAlterConfigs, as
    /// forwarded by a broker that checked the resulting set): each `(name, Some(value))` sets
    /// an override, each `(name, None)` removes one. Changes that alter nothing write nothing.
    pub fn alter_topic_configs(
        &mut self,
        name: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let Some(topic) = self.state.topics.get(name) else {
            return Err(ControllerError::UnknownTopicOrPartition);
        };
        for (key, value) in changes {
            if topic.configs.get(key) != value.as_ref() {
                batch.push(MetadataRecord::Config(ConfigRecord {
                    topic: name.to_string(),
                    name: key.clone(),
                    value: value.clone(),
                }));
            }
        }
        Ok(self.finish(batch))
    }

    /// Changes dynamic broker configs (AlterConfigs and IncrementalAlterConfigs on a BROKER
    /// resource, as forwarded by a broker that checked them): `broker` is a registered
    /// broker's id, or "" for the cluster-wide default; each `(name, Some(value))` sets a
    /// config, each `(name, None)` removes one. Changes that alter nothing write nothing.
    pub fn alter_broker_configs(
        &mut self,
        broker: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let known = broker.is_empty()
            || broker
                .parse::<i32>()
                .is_ok_and(|id| self.state.brokers.contains_key(&id));
        if !known {
            return Err(ControllerError::InvalidRequest(format!(
                "no registered broker {broker:?}"
            )));
        }
        let current = self.state.broker_configs.get(broker);
        for (key, value) in changes {
            if current.and_then(|c| c.get(key)) != value.as_ref() {
                batch.push(MetadataRecord::BrokerConfig(BrokerConfigRecord {
                    broker: broker.to_string(),
                    name: key.clone(),
                    value: value.clone(),
                }));
            }
        }
        Ok(self.finish(batch))
    }

    /// Whether unclean leader election is enabled for `topic`: its override in the metadata
    /// log (AlterConfigs takes effect at the next election), else the configured one.
    pub fn unclean_enabled_for(&self, topic: &str) -> bool {
        let logged = self.state.topics.get(topic).and_then(|t| {
            match t.configs.get("unclean.leader.election.enable")?.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }
        });
        logged.unwrap_or_else(|| self.config.unclean_enabled_for(topic))
    }

    /// Deletes a topic and its partitions.
    pub fn delete_topic(&mut self, name: &str) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        if !self.state.topics.contains_key(name) {
            return Err(ControllerError::UnknownTopicOrPartition);
        }
        batch.push(MetadataRecord::RemoveTopic {
            name: name.to_string(),
        });
        Ok(self.finish(batch))
    }

    /// Partitions whose ISR is smaller than `min(min.insync.replicas, replication factor)`:
    /// acks=all produce to them fails with NOT_ENOUGH_REPLICAS.
    pub fn under_min_isr(&self) -> Vec<(String, i32)> {
        let min_isr = self.config.min_insync_replicas.max(1) as usize;
        let under = self
            .state
            .partitions()
            .filter(|(_, _, p)| p.isr.len() < min_isr.min(p.replicas.len()));
        under
            .map(|(topic, partition, _)| (topic.to_string(), partition))
            .collect()
    }
}

/// A new partition with every replica in the ISR, led by the first at epoch 0.
fn in_sync_partition(name: &str, partition: i32, replicas: Vec<i32>) -> MetadataRecord {
    MetadataRecord::Partition(PartitionRecord {
        topic: name.to_string(),
        partition,
        leader: replicas[0],
        isr: replicas.clone(),
        replicas,
        leader_epoch: 0,
        partition_epoch: 0,
    })
}

/// Replicas for the partition at round-robin position `position`.
pub(super) fn place_replicas(
    brokers: &[i32],
    position: usize,
    replication_factor: i32,
) -> Vec<i32> {
    let replicas = 0..replication_factor as usize;
    let replicas: Vec<i32> = replicas
        .map(|j| brokers[(position + j) % brokers.len()])
        .collect();
    let distinct: std::collections::BTreeSet<i32> = replicas.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        replicas.len(),
        "replicas {replicas:?} repeat a broker"
    );
    replicas
}

/// A deterministic, never-zero, never-reused topic id: the metadata offset of its record in
/// the high half (unique per topic record) and an FNV-1a hash of the name in the low half.
pub(super) fn topic_id_for(name: &str, records_applied: u64) -> u128 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    ((records_applied as u128 + 1) << 64) | hash as u128
}

/// Kafka's topic name rules (`crate::metadata::is_legal_topic_name`).
pub(super) fn validate_topic_name(name: &str) -> Result<(), ControllerError> {
    if crate::metadata::is_legal_topic_name(name) {
        Ok(())
    } else {
        Err(ControllerError::InvalidTopic(name.to_string()))
    }
}
