//! Eligible leader replicas (KIP-966).

use super::*;

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
