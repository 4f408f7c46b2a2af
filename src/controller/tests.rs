//! Controller decisions, path by path. Every batch goes through the durability contract the
//! way production will: encoded into a metadata log, decoded back, then applied. This file is
//! the harness and the batch and fail-over tests; the others follow the controller's files.

use super::records::{
    decode_log, encode_all, ChangeReason, Endpoint, MetadataRecord, PartitionChange, ReplicaLogEnd,
};
use super::state::{MetadataState, PartitionState};
use super::{AlterPartitionMode, Controller, ControllerConfig, ControllerError, ElectionType};

const SESSION_MS: u64 = 1000;

fn endpoint(id: i32) -> Endpoint {
    Endpoint {
        host: format!("broker-{id}"),
        port: 9092,
    }
}

/// A controller plus the metadata log file it has made durable.
struct Cluster {
    /// The controller under test.
    controller: Controller,
    /// Every committed record, encoded as on disk.
    log: Vec<u8>,
}

impl Cluster {
    fn with(config: ControllerConfig, brokers: &[i32]) -> Self {
        let mut cluster = Cluster {
            controller: Controller::new(config),
            log: Vec::new(),
        };
        for &id in brokers {
            let records = cluster
                .controller
                .register_broker(id, 1, endpoint(id), 0, None);
            cluster.ok(records);
        }
        cluster
    }

    fn new(brokers: &[i32]) -> Self {
        let config = ControllerConfig {
            broker_session_timeout_ms: SESSION_MS,
            ..ControllerConfig::default()
        };
        Self::with(config, brokers)
    }

    /// Persists records, reads them back from the log bytes, and only then applies them.
    fn commit(&mut self, records: Vec<MetadataRecord>) -> Vec<MetadataRecord> {
        let start = self.log.len();
        self.log.extend_from_slice(&encode_all(&records));
        let durable = decode_log(&self.log[start..]);
        assert_eq!(durable.error, None);
        assert_eq!(durable.records, records);
        self.controller.apply(&durable.records);
        records
    }

    fn ok(&mut self, result: Result<Vec<MetadataRecord>, ControllerError>) -> Vec<MetadataRecord> {
        let records = result.expect("controller rejected the input");
        self.commit(records)
    }

    fn create(&mut self, topic: &str, partitions: i32, replication_factor: i32) {
        let records = self
            .controller
            .create_topic(topic, partitions, replication_factor);
        self.ok(records);
    }

    fn heartbeat(&mut self, broker: i32, now_ms: u64, caught_up: bool) -> Vec<MetadataRecord> {
        let incarnation = self.controller.state().broker(broker).unwrap().incarnation;
        let records = self
            .controller
            .heartbeat(broker, incarnation, now_ms, caught_up);
        self.ok(records)
    }

    /// Everyone but `dead` heartbeats half a session in; a tick one session in fences `dead`.
    fn kill(&mut self, dead: &[i32], now_ms: u64) -> Vec<MetadataRecord> {
        for broker in self.controller.state().unfenced_brokers() {
            if !dead.contains(&broker) {
                self.heartbeat(broker, now_ms + SESSION_MS / 2, false);
            }
        }
        let records = self.controller.tick(now_ms + SESSION_MS);
        self.commit(records)
    }

    fn alter(
        &mut self,
        broker: i32,
        isr: &[i32],
        leader_epoch: i32,
        partition_epoch: i32,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let result =
            self.controller
                .alter_partition(broker, "t", 0, isr, leader_epoch, partition_epoch);
        if let Ok(records) = &result {
            self.commit(records.clone());
        }
        result
    }

    fn partition(&self, topic: &str, partition: i32) -> PartitionState {
        self.controller
            .state()
            .partition(topic, partition)
            .unwrap()
            .clone()
    }

    fn fenced(&self, broker: i32) -> bool {
        self.controller.state().broker(broker).unwrap().fenced
    }
}

fn change(
    leader: Option<i32>,
    isr: Option<Vec<i32>>,
    leader_epoch: i32,
    partition_epoch: i32,
    reason: ChangeReason,
) -> MetadataRecord {
    MetadataRecord::PartitionChange(PartitionChange {
        topic: "t".into(),
        partition: 0,
        leader,
        isr,
        leader_epoch,
        partition_epoch,
        reason,
    })
}

fn summary(p: &PartitionState) -> (i32, Vec<i32>, i32, i32) {
    (p.leader, p.isr.clone(), p.leader_epoch, p.partition_epoch)
}

fn unclean_config(enabled: bool) -> ControllerConfig {
    ControllerConfig {
        broker_session_timeout_ms: SESSION_MS,
        unclean_leader_election_enable: enabled,
        ..ControllerConfig::default()
    }
}

#[test]
fn failover_bumps_the_controller_epoch_and_resends_the_full_state() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("t", 2, 3);
    cluster.kill(&[3], 0);
    let failover = cluster.controller.on_failover(5000);
    let bump = MetadataRecord::ControllerEpoch {
        controller_epoch: 1,
    };
    assert_eq!(failover.records, vec![bump.clone()]);
    assert_eq!(failover.full_state[0], bump);
    cluster.commit(failover.records);
    // The full state rebuilds the same metadata from nothing.
    let mut rebuilt = MetadataState::new();
    for record in &failover.full_state {
        rebuilt.apply(record);
    }
    rebuilt.records_applied = cluster.controller.state().records_applied;
    assert_eq!(&rebuilt, cluster.controller.state());
    // Replaying the log file gives the same state too.
    let mut replayed = Controller::new(cluster.controller.config().clone());
    replayed.apply(&decode_log(&cluster.log).records);
    assert_eq!(replayed.state(), cluster.controller.state());
    // Every session starts afresh: old heartbeat times do not fence anyone at once.
    assert_eq!(cluster.controller.tick(5000 + SESSION_MS - 1), vec![]);
    assert_eq!(
        cluster.controller.on_failover(6000).records,
        vec![MetadataRecord::ControllerEpoch {
            controller_epoch: 2
        }]
    );
}

/// The same inputs give the same records, byte for byte.
#[test]
fn decisions_are_deterministic() {
    let run = || {
        let mut cluster = Cluster::with(unclean_config(true), &[3, 1, 2, 4]);
        cluster.create("t", 4, 3);
        cluster.create("u", 3, 2);
        cluster.kill(&[2], 0);
        let records = cluster.controller.controlled_shutdown(4);
        cluster.ok(records);
        cluster.kill(&[1], 2000);
        cluster.log
    };
    assert_eq!(run(), run());
}

#[test]
#[should_panic(expected = "before the previous batch was applied")]
fn an_input_before_the_previous_batch_is_applied_panics() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    let _not_yet_durable = cluster.controller.create_topic("t", 1, 3).unwrap();
    let _ = cluster.controller.create_topic("u", 1, 3);
}

mod cluster_control_tests;
mod elections_tests;
mod elr_tests;
mod isr_tests;
mod topics_tests;
