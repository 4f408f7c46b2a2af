//! End-to-end synthetic replays of the historical failures in kafka-facts.md (KIP-101
//! scenarios 1 and 2), fed to the online checkers event by event as the harness would.

use std::collections::BTreeMap;

use super::testing::*;
use super::*;

const A: i32 = 1;
const B: i32 = 2;
const M1: u32 = 0x1111;
const M2: u32 = 0x2222;
const M3: u32 = 0x3333;

/// KIP-101 scenario 1 up to A's restart: B leads at epoch 0, m1@0 and m2@1 reach both, B's HW
/// becomes 2 and m2 is acknowledged, but the response carrying HW 2 to A is lost.
fn scenario_1_until_restart() -> Vec<ReplicaEvent> {
    vec![
        elected(B, 0, &[A, B], true),
        appended(B, 0, 0, 0, M1),
        appended(B, 1, 1, 0, M2),
        appended(A, 0, 0, 0, M1),
        appended(A, 1, 1, 0, M2),
        high_watermark(B, 2),
        acked(B, 1, 2),
        high_watermark(A, 1),
        restarted(A),
    ]
}

#[test]
fn online_kip101_scenario_1_high_watermark_truncation_is_leader_incomplete_at_the_election() {
    let mut events = scenario_1_until_restart();
    events.extend([
        // A truncates to its HW (1), dropping m2; B crashes; A is elected cleanly at epoch 1.
        truncated(A, 1),
        elected(A, 1, &[A], true),
    ]);
    let found = run(&events);
    assert_eq!(found.len(), 1, "{found:?}");
    let (index, anomaly) = &found[0];
    assert_eq!(*index, 10);
    assert_eq!(anomaly.kind, "leader-incomplete");
    assert_eq!(anomaly.tp, Some(tp()));
    assert_eq!(anomaly.offset, Some(1));
    assert!(anomaly.description.contains("broker 1"));
    assert!(anomaly.description.contains("epoch 1"));
    assert!(anomaly.description.contains("at 100 ms, event 10"));

    // A then writes m3 at offset 1 and exposes it: the committed m2 is overwritten.
    events.extend([appended(A, 1, 1, 1, M3), high_watermark(A, 2)]);
    assert_eq!(
        kinds(&events),
        vec![
            ("leader-incomplete".into(), Some(1)),
            ("committed-log-divergence".into(), Some(1)),
        ]
    );
}

#[test]
fn online_kip101_scenario_1_with_leader_epochs_has_no_anomaly() {
    let mut events = scenario_1_until_restart();
    events.extend([
        // OffsetForLeaderEpoch(0) answers 2: A keeps m2 (a cut at its LEO is a no-op).
        truncated(A, 2),
        elected(A, 1, &[A], true),
        appended(A, 2, 2, 1, M3),
        high_watermark(A, 3),
        restarted(B),
        truncated(B, 2),
        appended(B, 2, 2, 1, M3),
        high_watermark(B, 3),
    ]);
    assert_eq!(kinds(&events), vec![]);
}

/// The model's final replica logs, as the runner would read them back.
fn model_logs(checker: &OnlineChecker) -> BTreeMap<(Tp, i32), Vec<replica_agreement::BatchTuple>> {
    let partition = checker.partition(&tp()).expect("partition seen");
    partition
        .replicas
        .iter()
        .map(|(&broker, replica)| {
            let batches = replica
                .batches
                .values()
                .map(|b| (b.base_offset, b.last_offset, b.leader_epoch, b.batch_crc))
                .collect();
            ((tp(), broker), batches)
        })
        .collect()
}

#[test]
fn online_kip101_scenario_2_high_watermark_truncation_diverges_at_offset_1() {
    let events = vec![
        elected(A, 0, &[A, B], true),
        appended(A, 0, 0, 0, M1),
        appended(A, 1, 1, 0, M2),
        appended(B, 0, 0, 0, M1),
        appended(B, 1, 1, 0, M2),
        high_watermark(A, 2),
        acked(A, 1, 2),
        // Power loss on both: B had not flushed m2; A had.
        restarted(B),
        truncated(B, 1),
        restarted(A),
        // B restarts first, becomes leader at epoch 1 and writes m3@1.
        elected(B, 1, &[B], true),
        appended(B, 1, 1, 1, M3),
        high_watermark(B, 2),
        // A restarts as follower; HW truncation to its HW 2 keeps m2@1.
        truncated(A, 2),
        high_watermark(A, 2),
    ];
    let mut checker = OnlineChecker::new();
    let mut found = vec![];
    for (index, event) in events.iter().enumerate() {
        for anomaly in checker.observe(10 * index as u64, event) {
            found.push((index, anomaly.kind, anomaly.offset));
        }
    }
    assert_eq!(
        found,
        vec![
            (10, "leader-incomplete".to_string(), Some(1)),
            (12, "committed-log-divergence".to_string(), Some(1)),
        ]
    );
    assert_eq!(checker.finish(), vec![]);

    let hw = BTreeMap::from([(tp(), 2)]);
    let (anomalies, first) = replica_agreement(&model_logs(&checker), &hw);
    assert_eq!(first, BTreeMap::from([(tp(), Some(1))]));
    assert_eq!(anomalies.len(), 1);
    assert_eq!(anomalies[0].kind, "replica-divergence");
    assert_eq!(anomalies[0].offset, Some(1));
}

#[test]
fn online_kip966_last_replica_standing_is_leader_incomplete_then_committed_truncated() {
    let events = vec![
        elected(2, 0, &[0, 1, 2], true),
        appended(2, 0, 0, 0, M1),
        appended(0, 0, 0, 0, M1),
        appended(1, 0, 0, 0, M1),
        high_watermark(2, 1),
        // Broker 0 leaves the ISR; m2 reaches 2 and 1 and is committed (ISR {1, 2} = min 2).
        elected(2, 0, &[1, 2], true),
        appended(2, 1, 1, 0, M2),
        appended(1, 1, 1, 0, M2),
        high_watermark(2, 2),
        // Broker 1 leaves too; 2 leads alone, shuts down uncleanly and loses its unflushed m2.
        elected(2, 0, &[2], true),
        restarted(2),
        truncated(2, 1),
        // Re-elected on restart: the election itself is the anomaly.
        elected(2, 1, &[2], true),
        // The returning follower truncates to the leader: local loss becomes global loss.
        truncated(1, 1),
    ];
    let found: Vec<(usize, String, Option<i64>)> = run(&events)
        .into_iter()
        .map(|(index, a)| (index, a.kind, a.offset))
        .collect();
    assert_eq!(
        found,
        vec![
            (12, "leader-incomplete".to_string(), Some(1)),
            (13, "committed-truncated".to_string(), Some(1)),
        ]
    );
}
