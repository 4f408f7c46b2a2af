//! AlterPartition: stale, malformed and ineligible requests, and what an ISR change bumps.

use super::*;

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
