//! Broker sessions, controlled shutdown, restarts and registration errors.

use super::*;

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
