//! `MetadataState`: the fold of the controller's metadata log.
//!
//! [`MetadataState::apply`] is pure and deterministic (every map is a `BTreeMap`), so replaying
//! the same records gives the same state on every controller and every run. It asserts the
//! invariants of each record rather than returning errors: the controller only builds records
//! that satisfy them, and a CRC-valid record that breaks one is a bug that must stop the run.
//!
//! Invariants after every record:
//! - a partition's ISR is free of duplicates and a subset of its replicas, and non-empty
//!   unless the partition is offline (only eligible leader replicas, KIP-966, empty it);
//! - its eligible leader replicas and its last known ELR are replicas outside the ISR, and
//!   no replica is in both;
//! - its leader is -1 (offline) or a member of its ISR — an unclean election sets the ISR to
//!   the new leader alone, so this holds for unclean leaders too;
//! - `leader_epoch` never decreases and grows on every leader change; `partition_epoch` grows on
//!   every change;
//! - a broker's incarnation only grows; the controller epoch only grows.

use std::collections::BTreeMap;

use super::records::{
    EligibleLeadersRecord, Endpoint, MetadataRecord, PartitionChange, PartitionRecord,
    RegisterBroker, TopicRecord,
};

/// What the controller knows about one broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerState {
    /// The incarnation of its latest registration; an older one is a previous process.
    pub incarnation: u64,
    /// Where clients reach it.
    pub endpoint: Endpoint,
    /// A fenced broker may neither lead nor be added to an ISR.
    pub fenced: bool,
}

/// The replication state of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    /// Assigned replicas; the first is the preferred leader.
    pub replicas: Vec<i32>,
    /// In-sync replicas: the only candidates for a clean election.
    pub isr: Vec<i32>,
    /// The leader, or -1 when the partition is offline.
    pub leader: i32,
    /// Bumped on every leader change; fences requests from older leaders.
    pub leader_epoch: i32,
    /// Bumped on every change; AlterPartition's optimistic-concurrency version.
    pub partition_epoch: i32,
    /// Eligible leader replicas (KIP-966): out of the ISR but holding every committed offset.
    /// Always empty unless `[model] eligible_leader_replicas` is on.
    pub elr: Vec<i32>,
    /// Replicas that left the ISR or the ELR through an unclean shutdown while the ISR was
    /// below the minimum: unclean recovery's candidates, once the ISR and the ELR are empty.
    pub last_known_elr: Vec<i32>,
}

impl PartitionState {
    /// The preferred leader: the first assigned replica.
    pub fn preferred_leader(&self) -> i32 {
        self.replicas[0]
    }

    /// Whether `broker` is in the ISR.
    pub fn in_isr(&self, broker: i32) -> bool {
        self.isr.contains(&broker)
    }

    /// Whether `broker` is an eligible leader replica.
    pub fn in_elr(&self, broker: i32) -> bool {
        self.elr.contains(&broker)
    }

    fn assert_invariants(&self, topic: &str, partition: i32) {
        assert!(
            !self.replicas.is_empty(),
            "{topic}-{partition}: no replicas"
        );
        assert!(
            !has_duplicates(&self.replicas),
            "{topic}-{partition}: duplicate replicas"
        );
        assert!(
            !self.isr.is_empty() || self.leader == -1,
            "{topic}-{partition}: empty ISR with leader {}",
            self.leader
        );
        assert!(
            self.elr
                .iter()
                .all(|b| self.replicas.contains(b) && !self.isr.contains(b)),
            "{topic}-{partition}: ELR {:?} not replicas outside the ISR {:?}",
            self.elr,
            self.isr
        );
        assert!(
            self.last_known_elr.iter().all(|b| {
                self.replicas.contains(b) && !self.isr.contains(b) && !self.elr.contains(b)
            }),
            "{topic}-{partition}: last known ELR {:?} overlaps ISR {:?} / ELR {:?}",
            self.last_known_elr,
            self.isr,
            self.elr
        );
        assert!(
            !has_duplicates(&self.isr),
            "{topic}-{partition}: duplicate ISR members"
        );
        assert!(
            self.isr.iter().all(|b| self.replicas.contains(b)),
            "{topic}-{partition}: ISR {:?} not a subset of replicas {:?}",
            self.isr,
            self.replicas
        );
        assert!(
            self.leader == -1 || self.in_isr(self.leader),
            "{topic}-{partition}: leader {} not in ISR {:?}",
            self.leader,
            self.isr
        );
        assert!(self.leader_epoch >= 0 && self.partition_epoch >= 0);
    }
}

/// One topic and its partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicState {
    /// The topic's id; distinguishes it from a deleted topic of the same name.
    pub topic_id: u128,
    /// Partitions by index, dense from 0.
    pub partitions: BTreeMap<i32, PartitionState>,
    /// The topic's config overrides (ConfigRecords), by name.
    pub configs: BTreeMap<String, String>,
}

/// The cluster metadata: brokers, topics and partitions, as of the last applied record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataState {
    /// Epoch of the controller that wrote the latest `ControllerEpoch` record (0 before any).
    pub controller_epoch: i32,
    /// Every broker ever registered, by id (fenced ones included).
    pub brokers: BTreeMap<i32, BrokerState>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicState>,
    /// Records applied so far: the metadata log's next offset.
    pub records_applied: u64,
    /// Dynamic broker configs by resource: a broker id as text, or "" for every broker.
    pub broker_configs: BTreeMap<String, BTreeMap<String, String>>,
}

impl MetadataState {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// A partition's state, if the topic and partition exist.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionState> {
        self.topics.get(topic)?.partitions.get(&partition)
    }

    /// A broker's state, if it ever registered.
    pub fn broker(&self, broker_id: i32) -> Option<&BrokerState> {
        self.brokers.get(&broker_id)
    }

    /// Whether `broker_id` is registered and not fenced: eligible to lead and join ISRs.
    pub fn is_unfenced(&self, broker_id: i32) -> bool {
        self.brokers.get(&broker_id).is_some_and(|b| !b.fenced)
    }

    /// Registered, unfenced brokers in id order.
    pub fn unfenced_brokers(&self) -> Vec<i32> {
        let unfenced = self.brokers.iter().filter(|(_, b)| !b.fenced);
        unfenced.map(|(id, _)| *id).collect()
    }

    /// Every partition as `(topic, partition, state)`, in topic then partition order.
    pub fn partitions(&self) -> impl Iterator<Item = (&str, i32, &PartitionState)> {
        self.topics.iter().flat_map(|(name, topic)| {
            let parts = topic.partitions.iter();
            parts.map(move |(index, state)| (name.as_str(), *index, state))
        })
    }

    /// Applies one record. Panics if it breaks an invariant (see the module doc).
    pub fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::ControllerEpoch { controller_epoch } => {
                assert!(
                    *controller_epoch > self.controller_epoch,
                    "controller epoch {} does not grow past {}",
                    controller_epoch,
                    self.controller_epoch
                );
                self.controller_epoch = *controller_epoch;
            }
            MetadataRecord::RegisterBroker(r) => self.apply_register(r),
            MetadataRecord::FenceBroker { broker_id } => self.set_fenced(*broker_id, true),
            MetadataRecord::UnfenceBroker { broker_id } => self.set_fenced(*broker_id, false),
            MetadataRecord::Topic(t) => self.apply_topic(t),
            MetadataRecord::Partition(p) => self.apply_partition(p),
            MetadataRecord::PartitionChange(c) => self.apply_change(c),
            MetadataRecord::EligibleLeaders(e) => self.apply_eligible(e),
            MetadataRecord::Config(c) => {
                let topic = self.topics.get_mut(&c.topic);
                let topic = topic.unwrap_or_else(|| panic!("config of unknown topic {}", c.topic));
                match &c.value {
                    Some(value) => topic.configs.insert(c.name.clone(), value.clone()),
                    None => topic.configs.remove(&c.name),
                };
            }
            MetadataRecord::BrokerConfig(c) => {
                let configs = self.broker_configs.entry(c.broker.clone()).or_default();
                match &c.value {
                    Some(value) => configs.insert(c.name.clone(), value.clone()),
                    None => configs.remove(&c.name),
                };
                if configs.is_empty() {
                    self.broker_configs.remove(&c.broker);
                }
            }
            MetadataRecord::RemoveTopic { name } => {
                assert!(
                    self.topics.remove(name).is_some(),
                    "removing unknown topic {name}"
                );
            }
        }
        self.records_applied += 1;
    }

    fn apply_register(&mut self, r: &RegisterBroker) {
        if let Some(known) = self.brokers.get(&r.broker_id) {
            assert!(
                r.incarnation > known.incarnation,
                "broker {} incarnation {} does not grow past {}",
                r.broker_id,
                r.incarnation,
                known.incarnation
            );
        }
        let state = BrokerState {
            incarnation: r.incarnation,
            endpoint: r.endpoint.clone(),
            fenced: true,
        };
        self.brokers.insert(r.broker_id, state);
    }

    fn set_fenced(&mut self, broker_id: i32, fenced: bool) {
        let broker = self.brokers.get_mut(&broker_id);
        let broker = broker.unwrap_or_else(|| panic!("fencing unknown broker {broker_id}"));
        broker.fenced = fenced;
    }

    fn apply_topic(&mut self, t: &TopicRecord) {
        assert!(t.topic_id != 0, "topic {} has the zero id", t.name);
        assert!(
            !self.topics.contains_key(&t.name),
            "topic {} exists",
            t.name
        );
        let id_taken = self
            .topics
            .values()
            .any(|existing| existing.topic_id == t.topic_id);
        assert!(!id_taken, "topic id {:#x} reused", t.topic_id);
        let state = TopicState {
            topic_id: t.topic_id,
            partitions: BTreeMap::new(),
            configs: BTreeMap::new(),
        };
        self.topics.insert(t.name.clone(), state);
    }

    fn apply_partition(&mut self, p: &PartitionRecord) {
        let topic = self.topics.get_mut(&p.topic);
        let topic = topic.unwrap_or_else(|| panic!("partition of unknown topic {}", p.topic));
        assert_eq!(
            p.partition,
            topic.partitions.len() as i32,
            "{}: partitions must be created densely from 0",
            p.topic
        );
        let state = PartitionState {
            replicas: p.replicas.clone(),
            isr: p.isr.clone(),
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            elr: Vec::new(),
            last_known_elr: Vec::new(),
        };
        state.assert_invariants(&p.topic, p.partition);
        topic.partitions.insert(p.partition, state);
    }

    fn apply_change(&mut self, c: &PartitionChange) {
        let topic = self.topics.get_mut(&c.topic);
        let topic = topic.unwrap_or_else(|| panic!("change to unknown topic {}", c.topic));
        let state = topic.partitions.get_mut(&c.partition);
        let state =
            state.unwrap_or_else(|| panic!("change to unknown {}-{}", c.topic, c.partition));
        let leader_changed = c.leader.is_some_and(|leader| leader != state.leader);
        assert!(
            c.partition_epoch > state.partition_epoch,
            "{}-{}: partition epoch {} does not grow past {}",
            c.topic,
            c.partition,
            c.partition_epoch,
            state.partition_epoch
        );
        if leader_changed {
            assert!(
                c.leader_epoch > state.leader_epoch,
                "{}-{}: leader changed without a leader epoch bump",
                c.topic,
                c.partition
            );
        } else {
            assert!(
                c.leader_epoch >= state.leader_epoch,
                "leader epoch went backwards"
            );
        }
        if let Some(leader) = c.leader {
            state.leader = leader;
        }
        if let Some(isr) = &c.isr {
            state.isr = isr.clone();
            // An ISR member is never also eligible; the controller's EligibleLeaders record
            // that follows states the rest.
            state.elr.retain(|b| !isr.contains(b));
            state.last_known_elr.retain(|b| !isr.contains(b));
        }
        state.leader_epoch = c.leader_epoch;
        state.partition_epoch = c.partition_epoch;
        state.assert_invariants(&c.topic, c.partition);
    }

    fn apply_eligible(&mut self, e: &EligibleLeadersRecord) {
        let topic = self.topics.get_mut(&e.topic);
        let topic = topic.unwrap_or_else(|| panic!("ELR of unknown topic {}", e.topic));
        let state = topic.partitions.get_mut(&e.partition);
        let state = state.unwrap_or_else(|| panic!("ELR of unknown {}-{}", e.topic, e.partition));
        assert!(
            !has_duplicates(&e.elr) && !has_duplicates(&e.last_known_elr),
            "{}-{}: duplicate ELR members",
            e.topic,
            e.partition
        );
        state.elr = e.elr.clone();
        state.last_known_elr = e.last_known_elr.clone();
        state.assert_invariants(&e.topic, e.partition);
    }
}

fn has_duplicates(ids: &[i32]) -> bool {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).any(|w| w[0] == w[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::records::ChangeReason;

    fn register(id: i32, incarnation: u64) -> MetadataRecord {
        MetadataRecord::RegisterBroker(RegisterBroker {
            broker_id: id,
            incarnation,
            endpoint: Endpoint {
                host: format!("broker-{id}"),
                port: 9092,
            },
        })
    }

    fn one_partition() -> MetadataState {
        let mut state = MetadataState::new();
        for record in [
            register(1, 1),
            register(2, 1),
            MetadataRecord::Topic(TopicRecord {
                name: "t".into(),
                topic_id: 7,
            }),
            MetadataRecord::Partition(PartitionRecord {
                topic: "t".into(),
                partition: 0,
                replicas: vec![1, 2],
                isr: vec![1, 2],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
            }),
        ] {
            state.apply(&record);
        }
        state
    }

    fn change(leader: Option<i32>, isr: Option<Vec<i32>>, le: i32, pe: i32) -> MetadataRecord {
        MetadataRecord::PartitionChange(PartitionChange {
            topic: "t".into(),
            partition: 0,
            leader,
            isr,
            leader_epoch: le,
            partition_epoch: pe,
            reason: ChangeReason::BrokerFenced,
        })
    }

    #[test]
    fn registration_starts_fenced_and_unfence_clears_it() {
        let mut state = MetadataState::new();
        state.apply(&register(1, 5));
        assert!(!state.is_unfenced(1));
        state.apply(&MetadataRecord::UnfenceBroker { broker_id: 1 });
        assert!(state.is_unfenced(1));
        assert_eq!(state.unfenced_brokers(), vec![1]);
        assert_eq!(state.records_applied, 2);
    }

    #[test]
    fn change_updates_leader_isr_and_epochs() {
        let mut state = one_partition();
        state.apply(&change(Some(2), Some(vec![2]), 1, 1));
        let p = state.partition("t", 0).unwrap();
        assert_eq!(
            (p.leader, p.isr.clone(), p.leader_epoch, p.partition_epoch),
            (2, vec![2], 1, 1)
        );
    }

    #[test]
    fn replaying_the_same_records_gives_the_same_state() {
        let a = one_partition();
        let b = one_partition();
        assert_eq!(a, b);
    }

    #[test]
    #[should_panic(expected = "leader changed without a leader epoch bump")]
    fn leader_change_without_epoch_bump_panics() {
        one_partition().apply(&change(Some(2), None, 0, 1));
    }

    #[test]
    #[should_panic(expected = "partition epoch")]
    fn stale_partition_epoch_panics() {
        one_partition().apply(&change(None, Some(vec![1]), 0, 0));
    }

    #[test]
    #[should_panic(expected = "not in ISR")]
    fn leader_outside_isr_panics() {
        one_partition().apply(&change(None, Some(vec![2]), 0, 1));
    }

    #[test]
    #[should_panic(expected = "not a subset of replicas")]
    fn isr_outside_replicas_panics() {
        one_partition().apply(&change(None, Some(vec![1, 3]), 0, 1));
    }

    #[test]
    #[should_panic(expected = "does not grow")]
    fn older_incarnation_panics() {
        let mut state = one_partition();
        state.apply(&register(1, 0));
    }
}
