//! Controller decisions, path by path. Every batch goes through the durability contract the
//! way production will: encoded into a metadata log, decoded back, then applied.

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
fn create_topic_places_replicas_round_robin_over_unfenced_brokers() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("a", 3, 2);
    let replicas = |c: &Cluster, t: &str, p: i32| c.partition(t, p).replicas;
    assert_eq!(replicas(&cluster, "a", 0), vec![1, 2]);
    assert_eq!(replicas(&cluster, "a", 1), vec![2, 3]);
    assert_eq!(replicas(&cluster, "a", 2), vec![3, 1]);
    let p = cluster.partition("a", 1);
    assert_eq!(summary(&p), (2, vec![2, 3], 0, 0));
    // The second topic starts one broker further, so leaders spread across topics.
    cluster.create("b", 1, 3);
    assert_eq!(replicas(&cluster, "b", 0), vec![2, 3, 1]);
    // A fenced broker gets no replicas.
    cluster.kill(&[2], 0);
    cluster.create("c", 2, 2);
    assert_eq!(replicas(&cluster, "c", 0), vec![1, 3]);
    assert_eq!(replicas(&cluster, "c", 1), vec![3, 1]);
    let topics = &cluster.controller.state().topics;
    let ids: std::collections::BTreeSet<u128> = topics.values().map(|t| t.topic_id).collect();
    assert_eq!(ids.len(), 3);
    assert!(!ids.contains(&0));
}

#[test]
fn create_topic_rejects_bad_requests() {
    let mut cluster = Cluster::new(&[1, 2]);
    cluster.create("t", 1, 2);
    let c = &mut cluster.controller;
    let code = |r: Result<Vec<MetadataRecord>, ControllerError>| r.unwrap_err().code();
    assert_eq!(code(c.create_topic("t", 1, 1)), 36); // TOPIC_ALREADY_EXISTS
    assert_eq!(code(c.create_topic("u", 0, 1)), 37); // INVALID_PARTITIONS
    assert_eq!(code(c.create_topic("u", 1, 3)), 38); // INVALID_REPLICATION_FACTOR
    assert_eq!(code(c.create_topic("u", 1, 0)), 38);
    assert_eq!(code(c.create_topic("bad name", 1, 1)), 17); // INVALID_TOPIC_EXCEPTION
    assert_eq!(code(c.create_topic("..", 1, 1)), 17);
    assert_eq!(code(c.create_topic("", 1, 1)), 17);
}

#[test]
fn delete_topic_removes_it_and_a_recreated_topic_gets_a_new_id() {
    let mut cluster = Cluster::new(&[1]);
    cluster.create("t", 1, 1);
    let first_id = cluster.controller.state().topics["t"].topic_id;
    let records = cluster.controller.delete_topic("t");
    assert_eq!(
        cluster.ok(records),
        vec![MetadataRecord::RemoveTopic { name: "t".into() }]
    );
    assert!(cluster.controller.state().partition("t", 0).is_none());
    let unknown = cluster.controller.delete_topic("t").unwrap_err();
    assert_eq!(unknown, ControllerError::UnknownTopicOrPartition);
    cluster.create("t", 1, 1);
    assert_ne!(cluster.controller.state().topics["t"].topic_id, first_id);
}

#[test]
fn heartbeats_keep_a_session_alive_until_the_timeout() {
    let mut cluster = Cluster::new(&[1]);
    assert_eq!(cluster.controller.tick(SESSION_MS - 1), vec![]);
    cluster.heartbeat(1, 900, false);
    assert_eq!(cluster.controller.tick(900 + SESSION_MS - 1), vec![]);
    let records = cluster.controller.tick(900 + SESSION_MS);
    assert_eq!(
        cluster.commit(records),
        vec![MetadataRecord::FenceBroker { broker_id: 1 }]
    );
    assert!(cluster.fenced(1));
}

#[test]
fn leader_killed_isr_member_elected_with_epoch_bump() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("t", 1, 3);
    let records = cluster.kill(&[1], 0);
    let moved = change(Some(2), Some(vec![2, 3]), 1, 1, ChangeReason::BrokerFenced);
    // Leadership moves before the fence is published.
    assert_eq!(
        records,
        vec![moved, MetadataRecord::FenceBroker { broker_id: 1 }]
    );
    assert_eq!(summary(&cluster.partition("t", 0)), (2, vec![2, 3], 1, 1));
}

#[test]
fn follower_killed_only_leaves_the_isr() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("t", 1, 3);
    let records = cluster.kill(&[3], 0);
    let shrunk = change(None, Some(vec![1, 2]), 0, 1, ChangeReason::BrokerFenced);
    assert_eq!(
        records,
        vec![shrunk, MetadataRecord::FenceBroker { broker_id: 3 }]
    );
}

#[test]
fn all_isr_dead_with_unclean_off_goes_offline_keeping_the_last_isr_member() {
    let mut cluster = Cluster::with(unclean_config(false), &[1, 2, 3]);
    cluster.create("t", 1, 3);
    cluster.alter(1, &[1], 0, 0).unwrap();
    cluster.kill(&[1], 0);
    // Replicas 2 and 3 are alive but out of the ISR: no clean candidate.
    assert_eq!(summary(&cluster.partition("t", 0)), (-1, vec![1], 1, 2));
}

#[test]
fn offline_partition_elects_its_last_isr_member_when_it_returns() {
    let mut cluster = Cluster::with(unclean_config(false), &[1, 2, 3]);
    cluster.create("t", 1, 3);
    cluster.alter(1, &[1], 0, 0).unwrap();
    cluster.kill(&[1], 0);
    let records = cluster.heartbeat(1, 2000, true);
    let elected = change(Some(1), None, 2, 3, ChangeReason::BrokerUnfenced);
    assert_eq!(
        records,
        vec![MetadataRecord::UnfenceBroker { broker_id: 1 }, elected]
    );
    assert_eq!(summary(&cluster.partition("t", 0)), (1, vec![1], 2, 3));
}

#[test]
fn all_isr_dead_with_unclean_on_elects_an_out_of_isr_replica() {
    // Jepsen 2013: the ISR shrinks to the leader alone, the leader is cut off, and a replica
    // outside the ISR is elected; writes acknowledged by the old leader alone are lost.
    let mut cluster = Cluster::with(unclean_config(true), &[1, 2, 3]);
    cluster.create("t", 1, 3);
    cluster.alter(1, &[1], 0, 0).unwrap();
    let records = cluster.kill(&[1], 0);
    let unclean = change(Some(2), Some(vec![2]), 1, 2, ChangeReason::UncleanElection);
    assert_eq!(
        records,
        vec![unclean, MetadataRecord::FenceBroker { broker_id: 1 }]
    );
    assert_eq!(summary(&cluster.partition("t", 0)), (2, vec![2], 1, 2));
}

#[test]
fn a_topic_override_enables_unclean_election_for_that_topic_only() {
    let mut config = unclean_config(false);
    let overrides = &mut config.topic_unclean_leader_election_enable;
    overrides.insert("u".into(), true);
    let mut cluster = Cluster::with(config, &[1, 2, 3]);
    cluster.create("t", 1, 2); // replicas [1, 2]
    cluster.create("u", 1, 2); // replicas [2, 3]
                               // Shrink each ISR to its leader, then lose both leaders in one tick.
    for (topic, leader) in [("t", 1), ("u", 2)] {
        let records = cluster
            .controller
            .alter_partition(leader, topic, 0, &[leader], 0, 0);
        cluster.ok(records);
    }
    cluster.kill(&[1, 2], 0);
    // t waits for its last ISR member; u elects 3 from outside its ISR.
    assert_eq!(summary(&cluster.partition("t", 0)), (-1, vec![1], 1, 2));
    assert_eq!(summary(&cluster.partition("u", 0)), (3, vec![3], 1, 2));
}

#[test]
fn stale_alter_partition_is_rejected() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("t", 1, 3);
    cluster.kill(&[1], 0);
    // The old leader still believes it leads at epoch 0.
    let old_leader = cluster.alter(1, &[1, 2], 0, 0).unwrap_err();
    assert_eq!(
        old_leader,
        ControllerError::FencedLeaderEpoch {
            request: 0,
            current: 1
        }
    );
    assert_eq!(old_leader.code(), 74);
    let stale_version = cluster.alter(2, &[2], 1, 0).unwrap_err();
    assert_eq!(stale_version.code(), 95); // INVALID_UPDATE_VERSION
    let not_leader = cluster.alter(3, &[2, 3], 1, 1).unwrap_err();
    assert_eq!(not_leader.code(), 6); // NOT_LEADER_OR_FOLLOWER
    assert_eq!(summary(&cluster.partition("t", 0)), (2, vec![2, 3], 1, 1));
}

#[test]
fn alter_partition_rejects_malformed_and_ineligible_isrs() {
    let mut cluster = Cluster::new(&[1, 2, 3, 4]);
    cluster.create("t", 1, 3);
    let invalid = |r: Result<Vec<MetadataRecord>, ControllerError>| r.unwrap_err().code();
    assert_eq!(invalid(cluster.alter(1, &[], 0, 0)), 42); // INVALID_REQUEST: empty
    assert_eq!(invalid(cluster.alter(1, &[1, 1], 0, 0)), 42); // duplicates
    assert_eq!(invalid(cluster.alter(1, &[1, 4], 0, 0)), 42); // 4 is not a replica
    assert_eq!(invalid(cluster.alter(1, &[2, 3], 0, 0)), 42); // lacks the leader
    cluster.kill(&[3], 0);
    let ineligible = cluster.alter(1, &[1, 2, 3], 0, 1).unwrap_err();
    assert_eq!(ineligible, ControllerError::IneligibleReplica(3));
    assert_eq!(ineligible.code(), 107);
}

#[test]
fn alter_partition_shrink_and_expand_bump_only_the_partition_epoch() {
    let config = ControllerConfig {
        min_insync_replicas: 2,
        ..unclean_config(false)
    };
    let mut cluster = Cluster::with(config, &[1, 2, 3]);
    cluster.create("t", 1, 3);
    let shrink = cluster.alter(1, &[1], 0, 0).unwrap();
    let shrunk = change(None, Some(vec![1]), 0, 1, ChangeReason::AlterPartition);
    assert_eq!(shrink, vec![shrunk]);
    // Below min.insync.replicas is accepted, as in Kafka, and reported.
    assert_eq!(
        cluster.controller.under_min_isr(),
        vec![("t".to_string(), 0)]
    );
    cluster.alter(1, &[1, 3], 0, 1).unwrap();
    assert_eq!(summary(&cluster.partition("t", 0)), (1, vec![1, 3], 0, 2));
    assert_eq!(cluster.controller.under_min_isr(), vec![]);
    // The same members in another order need no record.
    assert_eq!(cluster.alter(1, &[3, 1], 0, 2).unwrap(), vec![]);
}

#[test]
fn legacy_alter_partition_checks_only_the_partition_epoch() {
    let config = ControllerConfig {
        alter_partition: AlterPartitionMode::Legacy,
        ..unclean_config(false)
    };
    let mut cluster = Cluster::with(config, &[1, 2, 3]);
    cluster.create("t", 1, 3);
    cluster.kill(&[3], 0);
    // A wrong leader epoch, a non-leader requester and a fenced member all pass.
    cluster.alter(2, &[1, 2, 3], 99, 1).unwrap();
    assert_eq!(
        summary(&cluster.partition("t", 0)),
        (1, vec![1, 2, 3], 0, 2)
    );
    let stale = cluster.alter(1, &[1], 0, 1).unwrap_err();
    assert_eq!(stale.code(), 95);
}

#[test]
fn controlled_shutdown_moves_leadership_off_before_fencing() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("t", 1, 3);
    cluster.create("solo", 1, 1); // replicas [2]
    let records = cluster.controller.controlled_shutdown(1);
    let moved = change(
        Some(2),
        Some(vec![2, 3]),
        1,
        1,
        ChangeReason::ControlledShutdown,
    );
    assert_eq!(
        cluster.ok(records),
        vec![moved, MetadataRecord::FenceBroker { broker_id: 1 }]
    );
    // Its heartbeats keep the session but never unfence it while shutting down.
    assert_eq!(cluster.heartbeat(1, 100, true), vec![]);
    assert!(cluster.fenced(1));
    // A broker that is the only ISR member takes the partition offline when it leaves.
    let records = cluster.controller.controlled_shutdown(2);
    cluster.ok(records);
    assert_eq!(summary(&cluster.partition("solo", 0)), (-1, vec![2], 1, 1));
    assert_eq!(summary(&cluster.partition("t", 0)), (3, vec![3], 2, 2));
    // A new incarnation ends the shutdown.
    let records = cluster
        .controller
        .register_broker(1, 2, endpoint(1), 200, None);
    cluster.ok(records);
    cluster.heartbeat(1, 300, true);
    assert!(!cluster.fenced(1));
}

#[test]
fn restarted_broker_with_fencing_on_cannot_rejoin_the_isr_until_caught_up() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("t", 1, 3);
    let records = cluster
        .controller
        .register_broker(2, 2, endpoint(2), 100, None);
    let left = change(None, Some(vec![1, 3]), 0, 1, ChangeReason::BrokerRestarted);
    assert_eq!(cluster.ok(records)[1..], [left]);
    assert!(cluster.fenced(2));
    let rejoin = |c: &mut Cluster| c.alter(1, &[1, 3, 2], 0, 1);
    assert_eq!(
        rejoin(&mut cluster),
        Err(ControllerError::IneligibleReplica(2))
    );
    assert_eq!(cluster.heartbeat(2, 200, false), vec![]);
    assert_eq!(
        rejoin(&mut cluster),
        Err(ControllerError::IneligibleReplica(2))
    );
    // The previous incarnation's heartbeats are stale.
    let stale = cluster.controller.heartbeat(2, 1, 250, true).unwrap_err();
    assert_eq!(stale.code(), 77);
    assert_eq!(
        cluster.heartbeat(2, 300, true),
        vec![MetadataRecord::UnfenceBroker { broker_id: 2 }]
    );
    rejoin(&mut cluster).unwrap();
    assert_eq!(
        summary(&cluster.partition("t", 0)),
        (1, vec![1, 3, 2], 0, 2)
    );
}

#[test]
fn restarted_leader_with_fencing_on_loses_leadership() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("t", 1, 3);
    let records = cluster
        .controller
        .register_broker(1, 2, endpoint(1), 100, None);
    cluster.ok(records);
    assert_eq!(summary(&cluster.partition("t", 0)), (2, vec![2, 3], 1, 1));
}

#[test]
fn restarted_broker_with_fencing_off_rejoins_at_once_and_its_partitions_get_a_new_epoch() {
    let config = ControllerConfig {
        fence_restarted_brokers: false,
        ..unclean_config(false)
    };
    let mut cluster = Cluster::with(config, &[1, 2, 3]);
    cluster.create("t", 1, 3);
    let records = cluster
        .controller
        .register_broker(2, 2, endpoint(2), 100, None);
    assert_eq!(
        cluster.ok(records)[1..],
        [MetadataRecord::UnfenceBroker { broker_id: 2 }]
    );
    assert_eq!(
        summary(&cluster.partition("t", 0)),
        (1, vec![1, 2, 3], 0, 0)
    );
    // The restarted leader is re-elected (it is the preferred live ISR member) at a new epoch.
    let records = cluster
        .controller
        .register_broker(1, 2, endpoint(1), 200, None);
    let reelected = change(Some(1), None, 1, 1, ChangeReason::BrokerRestarted);
    assert_eq!(cluster.ok(records)[2..], [reelected]);
}

#[test]
fn registration_and_heartbeat_errors() {
    let mut cluster = Cluster::new(&[1]);
    let c = &mut cluster.controller;
    assert_eq!(c.register_broker(1, 1, endpoint(1), 10, None), Ok(vec![]));
    let moved = Endpoint {
        host: "elsewhere".into(),
        port: 1,
    };
    assert_eq!(
        c.register_broker(1, 1, moved, 10, None).unwrap_err().code(),
        101
    );
    assert_eq!(
        c.register_broker(1, 0, endpoint(1), 10, None)
            .unwrap_err()
            .code(),
        77
    );
    assert_eq!(c.heartbeat(9, 1, 10, true).unwrap_err().code(), 102);
    assert_eq!(c.controlled_shutdown(9).unwrap_err().code(), 102);
}

#[test]
fn preferred_election_moves_leadership_back_once_the_preferred_replica_is_in_sync() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("t", 1, 3);
    cluster.kill(&[1], 0);
    cluster.heartbeat(1, 2000, true);
    let elect = |c: &mut Controller| c.elect_leaders("t", 0, ElectionType::Preferred);
    let unavailable = elect(&mut cluster.controller).unwrap_err();
    assert_eq!(unavailable, ControllerError::PreferredLeaderNotAvailable);
    cluster.alter(2, &[2, 3, 1], 1, 1).unwrap();
    let records = elect(&mut cluster.controller);
    let back = change(Some(1), None, 2, 3, ChangeReason::PreferredElection);
    assert_eq!(cluster.ok(records), vec![back]);
    let again = elect(&mut cluster.controller).unwrap_err();
    assert_eq!(again, ControllerError::ElectionNotNeeded);
}

#[test]
fn admin_unclean_election_gives_an_offline_partition_a_live_replica() {
    let mut cluster = Cluster::with(unclean_config(false), &[1, 2, 3]);
    cluster.create("t", 1, 3);
    let elect = |c: &mut Controller| c.elect_leaders("t", 0, ElectionType::Unclean);
    assert_eq!(
        elect(&mut cluster.controller),
        Err(ControllerError::ElectionNotNeeded)
    );
    cluster.alter(1, &[1], 0, 0).unwrap();
    cluster.kill(&[1], 0);
    let records = elect(&mut cluster.controller);
    let unclean = change(Some(2), Some(vec![2]), 2, 3, ChangeReason::UncleanElection);
    assert_eq!(cluster.ok(records), vec![unclean]);
    cluster.kill(&[2, 3], 1000);
    assert_eq!(
        elect(&mut cluster.controller),
        Err(ControllerError::EligibleLeadersNotAvailable)
    );
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

// ---------------------------------------------------------------------------------------------
// Eligible leader replicas (KIP-966).

fn elr_config(enabled: bool) -> ControllerConfig {
    ControllerConfig {
        broker_session_timeout_ms: SESSION_MS,
        min_insync_replicas: 2,
        eligible_leader_replicas: enabled,
        ..ControllerConfig::default()
    }
}

/// kafka-facts.md's "last replica standing" up to the unclean shutdown: RF 3, min ISR 2, the
/// leader 1 shrinks the ISR to [1, 2] (3 lags) and then to [1] (2 lags).
fn last_replica_standing(elr: bool) -> Cluster {
    let mut cluster = Cluster::with(elr_config(elr), &[1, 2, 3]);
    cluster.create("t", 1, 3);
    cluster.alter(1, &[1, 2], 0, 0).unwrap();
    cluster.alter(1, &[1], 0, 1).unwrap();
    cluster
}

fn elr_of(cluster: &Cluster) -> (Vec<i32>, Vec<i32>) {
    let p = cluster.partition("t", 0);
    (p.elr, p.last_known_elr)
}

#[test]
fn elr_holds_replicas_that_left_an_isr_below_min_and_only_those() {
    let mut cluster = last_replica_standing(true);
    // 3 left while the ISR stayed at the minimum (the HW could still move): not eligible.
    // 2 left an ISR below it: eligible.
    assert_eq!(elr_of(&cluster), (vec![2], vec![]));
    // Back at the minimum the HW moves again, so the ELR is emptied.
    cluster.alter(1, &[1, 3], 0, 2).unwrap();
    assert_eq!(elr_of(&cluster), (vec![], vec![]));
    // Switched off, no ELR is ever kept.
    assert_eq!(elr_of(&last_replica_standing(false)), (vec![], vec![]));
}

#[test]
fn unclean_restart_of_the_last_isr_member_elects_an_eligible_replica() {
    let mut cluster = last_replica_standing(true);
    let records = cluster
        .controller
        .register_broker(1, 2, endpoint(1), 100, None);
    let records = cluster.ok(records);
    let p = cluster.partition("t", 0);
    assert_eq!(summary(&p), (2, vec![2], 1, 3));
    // 1 may still hold committed offsets 2 lacks (if it was killed, not powered off): it stays
    // a candidate for unclean recovery.
    assert_eq!(elr_of(&cluster), (vec![], vec![1]));
    let reasons: Vec<ChangeReason> = records
        .iter()
        .filter_map(|r| match r {
            MetadataRecord::PartitionChange(c) => Some(c.reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec![ChangeReason::EligibleLeaderElection]);
}

#[test]
fn without_elr_the_last_replica_standing_leads_again_after_its_unclean_restart() {
    // The KIP-966 hazard the switch closes: the restarted broker stays the ISR's last member
    // and leads again once unfenced, whatever its log lost.
    let mut cluster = last_replica_standing(false);
    let records = cluster
        .controller
        .register_broker(1, 2, endpoint(1), 100, None);
    cluster.ok(records);
    assert_eq!(summary(&cluster.partition("t", 0)), (-1, vec![1], 1, 3));
    cluster.heartbeat(1, 200, true);
    assert_eq!(summary(&cluster.partition("t", 0)), (1, vec![1], 2, 4));
}

#[test]
fn fenced_last_isr_member_moves_to_the_elr_and_an_eligible_replica_leads() {
    let mut cluster = last_replica_standing(true);
    cluster.kill(&[1], 0);
    assert!(cluster.fenced(1));
    assert_eq!(summary(&cluster.partition("t", 0)), (2, vec![2], 1, 3));
    // 1 was fenced, not restarted: it still holds every committed offset.
    assert_eq!(elr_of(&cluster), (vec![1], vec![]));
}

#[test]
fn a_clean_restart_keeps_its_elr_place_and_only_the_last_incarnation_counts_as_clean() {
    // The last ISR member shuts down cleanly: leadership goes to the eligible replica 2 and 1
    // takes 2's place in the ELR, holding every committed offset.
    let after_shutdown = || {
        let mut cluster = last_replica_standing(true);
        let records = cluster.controller.controlled_shutdown(1);
        cluster.ok(records);
        assert_eq!(summary(&cluster.partition("t", 0)), (2, vec![2], 1, 3));
        assert_eq!(elr_of(&cluster), (vec![1], vec![]));
        cluster
    };
    // Its marker names incarnation 1, the one registered: clean, it stays eligible.
    let mut clean = after_shutdown();
    let records = clean
        .controller
        .register_broker(1, 2, endpoint(1), 100, Some(1));
    clean.ok(records);
    assert_eq!(elr_of(&clean), (vec![1], vec![]));
    // No marker (a crash), or one left by an older incarnation: unclean, it leaves the ELR
    // (remembered only as a last-known member, for unclean recovery).
    for previous in [None, Some(0)] {
        let mut unclean = after_shutdown();
        let records = unclean
            .controller
            .register_broker(1, 2, endpoint(1), 100, previous);
        unclean.ok(records);
        assert_eq!(elr_of(&unclean), (vec![], vec![1]), "previous {previous:?}");
    }
}

fn log_end(partition_end: i64) -> Vec<ReplicaLogEnd> {
    vec![ReplicaLogEnd {
        topic: "t".into(),
        partition: 0,
        last_epoch: 0,
        end_offset: partition_end,
    }]
}

#[test]
fn isr_and_elr_emptied_by_unclean_restarts_recover_to_the_longest_last_known_log() {
    let mut cluster = last_replica_standing(true);
    // 2 restarts uncleanly (a kill keeps its log; only the controller cannot know): it leaves
    // the ELR for the last known ELR; 1 still leads.
    cluster.controller.report_log_ends(2, 2, &log_end(80));
    let records = cluster
        .controller
        .register_broker(2, 2, endpoint(2), 100, None);
    cluster.ok(records);
    assert_eq!(elr_of(&cluster), (vec![], vec![2]));
    assert_eq!(cluster.partition("t", 0).leader, 1);
    // Then 1 does, having lost its unflushed tail: nobody is eligible, the partition waits.
    cluster.controller.report_log_ends(1, 2, &log_end(50));
    let records = cluster
        .controller
        .register_broker(1, 2, endpoint(1), 200, None);
    cluster.ok(records);
    assert_eq!(summary(&cluster.partition("t", 0)), (-1, vec![], 1, 3));
    assert_eq!(elr_of(&cluster), (vec![], vec![1, 2]));
    // Recovery waits for every last known member: 1 alone is not enough.
    cluster.heartbeat(1, 300, true);
    assert_eq!(cluster.partition("t", 0).leader, -1);
    // With both back, the longer log (2's) leads, and 1 stays a candidate.
    let records = cluster.heartbeat(2, 300, true);
    assert_eq!(summary(&cluster.partition("t", 0)), (2, vec![2], 2, 4));
    assert_eq!(elr_of(&cluster), (vec![], vec![1]));
    assert!(records.iter().any(|r| matches!(
        r,
        MetadataRecord::PartitionChange(c) if c.reason == ChangeReason::LastKnownElrRecovery
    )));
}

#[test]
fn unclean_recovery_waits_for_log_ends_and_ignores_stale_reports() {
    let mut cluster = last_replica_standing(true);
    let records = cluster
        .controller
        .register_broker(1, 2, endpoint(1), 100, None);
    cluster.ok(records);
    // 1 was the last member and nobody else is eligible: ISR and ELR... 2 is in the ELR.
    assert_eq!(cluster.partition("t", 0).leader, 2);
    let records = cluster
        .controller
        .register_broker(2, 2, endpoint(2), 200, None);
    cluster.ok(records);
    assert_eq!(elr_of(&cluster).1, vec![1, 2]);
    cluster.heartbeat(1, 300, true);
    cluster.heartbeat(2, 300, true);
    // Neither reported a log end: no recovery.
    assert_eq!(cluster.partition("t", 0).leader, -1);
    // A report from a previous incarnation is ignored.
    cluster.controller.report_log_ends(1, 1, &log_end(10));
    cluster.controller.report_log_ends(2, 2, &log_end(5));
    cluster.heartbeat(1, 400, true);
    assert_eq!(cluster.partition("t", 0).leader, -1);
    cluster.controller.report_log_ends(1, 2, &log_end(5));
    // Equal logs: assignment order (1 first) decides.
    cluster.heartbeat(2, 400, true);
    assert_eq!(cluster.partition("t", 0).leader, 1);
}

#[test]
fn elr_survives_failover_through_the_snapshot() {
    let mut cluster = last_replica_standing(true);
    let mut replayed = Controller::new(elr_config(true));
    replayed.apply(&cluster.controller.snapshot());
    assert_eq!(replayed.state().topics, cluster.controller.state().topics);
    let failover = cluster.controller.on_failover(500);
    cluster.commit(failover.records);
    assert_eq!(cluster.partition("t", 0).elr, vec![2]);
}
