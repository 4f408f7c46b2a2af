//! The controller's settings: which of Kafka's rules, and which historical variants of them
//! (SIMULATION.md, "Knobs for modern protections"), its decisions follow. Plain data.

use std::collections::BTreeMap;

/// How AlterPartition requests are validated (SIMULATION.md, "Knobs for modern protections").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlterPartitionMode {
    /// KIP-497 with KIP-841: the leader epoch, the requester being leader, the partition
    /// epoch, and every member being an unfenced broker not shutting down are all checked.
    Kip497,
    /// ZooKeeper-era conditional write: only the partition epoch (zkVersion) is checked, so
    /// fenced or restarted brokers can be put back in the ISR.
    Legacy,
}

/// Controller settings, under Kafka's names where Kafka has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// `unclean.leader.election.enable` for topics without an override.
    pub unclean_leader_election_enable: bool,
    /// Per-topic `unclean.leader.election.enable` overrides.
    pub topic_unclean_leader_election_enable: BTreeMap<String, bool>,
    /// `min.insync.replicas`: not a floor for the ISR (Kafka's rule); reported by
    /// [`Controller::under_min_isr`](super::Controller::under_min_isr) for acks=all
    /// producers and checkers.
    pub min_insync_replicas: i32,
    /// `broker.session.timeout.ms`: a broker silent this long is fenced.
    pub broker_session_timeout_ms: u64,
    /// `[model] alter_partition`: which AlterPartition validation to run.
    pub alter_partition: AlterPartitionMode,
    /// `[model]` KIP-841/903-style fencing of restarted brokers: a new incarnation of a known
    /// broker registers fenced, leaves the ISRs it was in, and is unfenced (eligible to lead
    /// and rejoin ISRs) only by a heartbeat that reports it caught up. Off: a restarted broker
    /// is unfenced at once and keeps its ISR memberships.
    pub fence_restarted_brokers: bool,
    /// `[model] eligible_leader_replicas` (KIP-966; module doc). Off: the ISR never empties
    /// and its last member leads again whatever it lost.
    pub eligible_leader_replicas: bool,
    /// TEST-ONLY planted bugs (see [`crate::planted`]); none in real mode.
    pub planted: crate::planted::PlantedBugs,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            unclean_leader_election_enable: false,
            topic_unclean_leader_election_enable: BTreeMap::new(),
            min_insync_replicas: 1,
            broker_session_timeout_ms: 9000,
            alter_partition: AlterPartitionMode::Kip497,
            fence_restarted_brokers: true,
            eligible_leader_replicas: false,
            planted: crate::planted::PlantedBugs::default(),
        }
    }
}

impl ControllerConfig {
    /// Whether unclean leader election is enabled for `topic` (its override, else global).
    pub fn unclean_enabled_for(&self, topic: &str) -> bool {
        let topic_value = self.topic_unclean_leader_election_enable.get(topic);
        topic_value
            .copied()
            .unwrap_or(self.unclean_leader_election_enable)
    }
}

/// Which election the admin ElectLeaders call asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionType {
    /// Move leadership to the preferred replica if it is a live ISR member.
    Preferred,
    /// Give a leaderless partition a leader, from outside the ISR if need be.
    Unclean,
}
