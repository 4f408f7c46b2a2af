//! Leader elections when brokers die and return, unclean election, and admin elections.

use super::*;

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
