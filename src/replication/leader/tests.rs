//! Unit and property tests for the leader's replication decisions.

use crate::protocol::{ErrorCode, WriteOutcome};
use proptest::prelude::*;

use super::*;

const LAG_MS: u64 = 10_000;

fn config(isr_rule: IsrRule, strict_min_isr: bool) -> PartitionConfig {
    PartitionConfig {
        replicas: vec![1, 2, 3],
        min_insync_replicas: 2,
        replica_lag_time_max_ms: LAG_MS,
        strict_min_isr,
        isr_rule,
        planted_isr_admit_one_early: false,
        planted_skip_min_isr_check: false,
        planted_high_watermark_regress: false,
    }
}

/// Broker 1 leads epoch 5 of a three-replica partition at time 0.
fn leader(isr_rule: IsrRule, strict: bool, isr: &[i32], leo: i64, hw: i64) -> LeaderState {
    LeaderState::new(config(isr_rule, strict), 1, 5, isr.to_vec(), leo, hw, 0)
}

fn fetch(state: &mut LeaderState, follower: i32, offset: i64, now_ms: u64) -> FetchOutcome {
    state
        .on_follower_fetch(follower, offset, now_ms, true)
        .expect("valid fetch")
}

const RULES: [IsrRule; 2] = [IsrRule::Kip497, IsrRule::Legacy];

#[test]
fn hw_advances_as_followers_catch_up() {
    for rule in RULES {
        let mut state = leader(rule, false, &[1, 2, 3], 0, 0);
        assert!(
            !state.on_append(10).advanced(),
            "followers have not fetched yet"
        );
        fetch(&mut state, 2, 5, 1);
        assert_eq!(state.high_watermark(), 0, "follower 3's log end is unknown");
        let outcome = fetch(&mut state, 3, 3, 2);
        assert_eq!(
            outcome.hw_update,
            HwUpdate {
                previous: 0,
                high_watermark: 3
            }
        );
        fetch(&mut state, 2, 10, 3);
        assert_eq!(state.high_watermark(), 3, "the minimum over the ISR");
        let outcome = fetch(&mut state, 3, 10, 4);
        assert_eq!(outcome.hw_update.high_watermark, 10);
        assert_eq!(outcome.isr_change, None);
    }
}

#[test]
fn lone_replica_hw_follows_its_appends() {
    let mut config = config(IsrRule::Kip497, true);
    config.replicas = vec![1];
    let mut state = LeaderState::new(config, 1, 0, vec![1], 0, 0, 0);
    assert_eq!(
        state.check_produce_allowed(ACKS_ALL),
        Ok(()),
        "min ISR capped at RF 1"
    );
    assert_eq!(state.on_append(4).high_watermark, 4);
    assert_eq!(state.check_acks_all(3), AcksAll::Done);
}

#[test]
fn hw_never_decreases_when_a_follower_truncates() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2], 10, 0);
    fetch(&mut state, 2, 10, 1);
    assert_eq!(state.high_watermark(), 10);
    let outcome = fetch(&mut state, 2, 4, 2);
    assert_eq!(
        outcome.hw_update,
        HwUpdate {
            previous: 10,
            high_watermark: 10
        }
    );
    assert_eq!(state.follower_log_end_offset(2), Some(4));
}

#[test]
fn follower_lagging_past_the_lag_time_is_proposed_for_removal() {
    for rule in RULES {
        let mut state = leader(rule, false, &[1, 2, 3], 0, 0);
        state.on_append(10);
        fetch(&mut state, 2, 10, 1_000);
        fetch(&mut state, 3, 5, 1_000);
        // ISR members count as caught up at election (time 0); follower 3 never catches up.
        assert_eq!(
            state.maybe_shrink_isr(LAG_MS),
            None,
            "exactly the lag time is allowed"
        );
        let change = state
            .maybe_shrink_isr(LAG_MS + 1)
            .expect("follower 3 is out of sync");
        assert_eq!(change.kind, IsrChangeKind::Shrink);
        assert_eq!(change.new_isr, vec![1, 2]);
        assert_eq!((change.leader_epoch, change.partition_epoch), (5, 0));
        match rule {
            IsrRule::Kip497 => {
                assert_eq!(state.isr(), &[1, 2, 3], "a shrink waits for the controller");
                assert_eq!(state.pending_isr_change(), Some(&change));
            }
            IsrRule::Legacy => {
                assert_eq!(state.isr(), &[1, 2], "a legacy shrink applies at once");
                assert_eq!(state.pending_isr_change(), None);
            }
        }
    }
}

#[test]
fn caught_up_time_is_the_previous_fetch_when_the_follower_reached_what_existed_then() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2], 10, 0);
    fetch(&mut state, 2, 0, 100); // behind; the leader had 10 at this fetch
    state.on_append(20);
    fetch(&mut state, 2, 10, 5_000); // reached 10: caught up as of time 100, not 5 000
    assert_eq!(state.maybe_shrink_isr(100 + LAG_MS), None);
    let change = state
        .maybe_shrink_isr(100 + LAG_MS + 1)
        .expect("lagging since 100");
    assert_eq!(change.new_isr, vec![1]);
}

#[test]
fn follower_at_the_leaders_log_end_stays_in_sync_while_idle() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2], 10, 0);
    fetch(&mut state, 2, 10, 1);
    assert_eq!(
        state.maybe_shrink_isr(100 * LAG_MS),
        None,
        "no new data to fall behind on"
    );
}

#[test]
fn kip497_hw_counts_a_follower_until_the_controller_commits_its_removal() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2, 3], 0, 0);
    state.on_append(10);
    fetch(&mut state, 2, 10, 1);
    fetch(&mut state, 3, 4, 1);
    let change = state.maybe_shrink_isr(LAG_MS + 1).expect("follower 3 lags");
    fetch(&mut state, 2, 10, LAG_MS + 2);
    assert_eq!(
        state.high_watermark(),
        4,
        "follower 3 is still in the maximal ISR"
    );
    assert_eq!(state.maximal_isr(), vec![1, 2, 3]);
    let update = state.on_isr_change_committed(change.new_isr, 1);
    assert_eq!(
        update,
        HwUpdate {
            previous: 4,
            high_watermark: 10
        }
    );
    assert_eq!(state.isr(), &[1, 2]);
    assert_eq!(state.partition_epoch(), 1);
}

#[test]
fn legacy_shrink_releases_the_hw_at_once() {
    let mut state = leader(IsrRule::Legacy, false, &[1, 2, 3], 0, 0);
    state.on_append(10);
    fetch(&mut state, 2, 10, 1);
    fetch(&mut state, 3, 4, 1);
    assert_eq!(state.high_watermark(), 4);
    state.maybe_shrink_isr(LAG_MS + 1).expect("follower 3 lags");
    assert_eq!(state.high_watermark(), 10);
}

#[test]
fn kip497_expansion_counts_for_the_hw_at_once() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2], 10, 0);
    fetch(&mut state, 2, 10, 1);
    assert_eq!(state.high_watermark(), 10);
    let change = fetch(&mut state, 3, 10, 2)
        .isr_change
        .expect("follower 3 caught up");
    assert_eq!(change.kind, IsrChangeKind::Expand);
    assert_eq!(change.new_isr, vec![1, 2, 3]);
    assert_eq!(state.isr(), &[1, 2], "not committed yet");
    assert_eq!(state.maximal_isr(), vec![1, 2, 3]);
    state.on_append(20);
    fetch(&mut state, 2, 20, 3);
    assert_eq!(
        state.high_watermark(),
        10,
        "the joining follower already holds the HW"
    );
    fetch(&mut state, 3, 20, 4);
    assert_eq!(state.high_watermark(), 20);
    state.on_isr_change_committed(vec![1, 2, 3], 1);
    assert_eq!(state.isr(), &[1, 2, 3]);
    assert_eq!(state.pending_isr_change(), None);
}

#[test]
fn legacy_expansion_applies_at_once() {
    let mut state = leader(IsrRule::Legacy, false, &[1, 2], 10, 0);
    let change = fetch(&mut state, 3, 10, 1)
        .isr_change
        .expect("follower 3 caught up");
    assert_eq!(state.isr(), change.new_isr.as_slice());
    assert_eq!(state.pending_isr_change(), None);
}

#[test]
fn expansion_needs_the_hw_and_the_start_of_the_leader_epoch() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2], 10, 5);
    assert_eq!(fetch(&mut state, 3, 4, 1).isr_change, None, "below the HW");
    assert_eq!(
        fetch(&mut state, 3, 7, 2).isr_change,
        None,
        "below the epoch start 10"
    );
    assert!(fetch(&mut state, 3, 10, 3).isr_change.is_some());
}

#[test]
fn rejected_expansion_leaves_the_maximal_isr() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2], 10, 0);
    fetch(&mut state, 2, 10, 1);
    fetch(&mut state, 3, 10, 1).isr_change.expect("expansion");
    state.on_append(20);
    fetch(&mut state, 2, 20, 2);
    assert_eq!(state.high_watermark(), 10);
    let update = state.on_isr_change_rejected();
    assert_eq!(
        update,
        HwUpdate {
            previous: 10,
            high_watermark: 20
        }
    );
    assert_eq!(state.maximal_isr(), vec![1, 2]);
}

#[test]
fn rejected_shrink_keeps_the_committed_isr() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2, 3], 10, 0);
    fetch(&mut state, 2, 10, 1);
    state
        .maybe_shrink_isr(LAG_MS + 1)
        .expect("follower 3 never fetched");
    state.on_isr_change_rejected();
    assert_eq!(state.isr(), &[1, 2, 3]);
    assert_eq!(state.pending_isr_change(), None);
    assert!(
        state.maybe_shrink_isr(LAG_MS + 2).is_some(),
        "proposed again"
    );
}

#[test]
fn no_second_change_while_one_is_pending() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2], 10, 0);
    fetch(&mut state, 2, 10, 1);
    fetch(&mut state, 3, 10, 1)
        .isr_change
        .expect("expansion pending");
    state.on_append(20);
    assert_eq!(
        state.maybe_shrink_isr(10 * LAG_MS),
        None,
        "waits for the controller"
    );
    state.on_isr_change_committed(vec![1, 2, 3], 1);
    let change = state
        .maybe_shrink_isr(10 * LAG_MS)
        .expect("both followers behind");
    assert_eq!(change.new_isr, vec![1]);
    assert_eq!(change.partition_epoch, 1);
}

#[test]
fn stale_commit_is_ignored() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2, 3], 10, 0).with_partition_epoch(3);
    fetch(&mut state, 2, 10, 1);
    let change = state.maybe_shrink_isr(LAG_MS + 1).expect("follower 3 lags");
    assert_eq!(change.partition_epoch, 3);
    state.on_isr_change_committed(vec![1, 2], 3);
    assert_eq!(state.isr(), &[1, 2, 3]);
    assert!(state.pending_isr_change().is_some());
}

#[test]
fn not_enough_replicas_before_append() {
    for rule in RULES {
        let state = leader(rule, false, &[1], 10, 10);
        let error = state.check_produce_allowed(ACKS_ALL).unwrap_err();
        assert_eq!(
            error,
            Error::NotEnoughReplicas {
                in_sync: 1,
                required: 2
            }
        );
        assert_eq!(error.code(), ErrorCode::NOT_ENOUGH_REPLICAS);
        assert_eq!(error.code().write_outcome(), WriteOutcome::Fail);
        assert_eq!(state.check_produce_allowed(1), Ok(()));
        assert_eq!(state.check_produce_allowed(0), Ok(()));
        assert_eq!(
            state.check_produce_allowed(2),
            Err(Error::InvalidRequiredAcks(2))
        );
    }
}

#[test]
fn kip497_pending_expansion_does_not_lift_not_enough_replicas() {
    let mut state = leader(IsrRule::Kip497, false, &[1], 10, 10);
    fetch(&mut state, 2, 10, 1).isr_change.expect("expansion");
    assert!(
        state.check_produce_allowed(ACKS_ALL).is_err(),
        "the committed ISR counts"
    );
    state.on_isr_change_committed(vec![1, 2], 1);
    assert_eq!(state.check_produce_allowed(ACKS_ALL), Ok(()));
}

#[test]
fn min_isr_is_capped_at_the_replication_factor() {
    let mut config = config(IsrRule::Kip497, true);
    config.replicas = vec![1, 2];
    config.min_insync_replicas = 3;
    assert_eq!(config.effective_min_isr(), 2);
    let state = LeaderState::new(config, 1, 0, vec![1, 2], 0, 0, 0);
    assert_eq!(state.check_produce_allowed(ACKS_ALL), Ok(()));
}

#[test]
fn acks_all_done_once_the_hw_passes_the_batch() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2, 3], 0, 0);
    state.on_append(10); // batch 0..=9
    fetch(&mut state, 2, 10, 1);
    fetch(&mut state, 3, 9, 1);
    assert_eq!(
        state.check_acks_all(9),
        AcksAll::Pending,
        "HW 9 does not pass offset 9"
    );
    assert_eq!(state.check_acks_all(9).error_code(), None);
    fetch(&mut state, 3, 10, 2);
    assert_eq!(state.check_acks_all(9), AcksAll::Done);
    assert_eq!(state.check_acks_all(9).error_code(), Some(ErrorCode::NONE));
}

#[test]
fn not_enough_replicas_after_append_when_the_isr_shrinks_while_a_produce_waits() {
    for rule in RULES {
        let mut state = leader(rule, false, &[1, 2, 3], 0, 0);
        state.check_produce_allowed(ACKS_ALL).expect("ISR of 3");
        state.on_append(10);
        assert_eq!(state.check_acks_all(9), AcksAll::Pending);
        let change = state
            .maybe_shrink_isr(LAG_MS + 1)
            .expect("no follower fetched");
        assert_eq!(change.new_isr, vec![1]);
        state.on_isr_change_committed(change.new_isr, 1);
        assert_eq!(
            state.high_watermark(),
            10,
            "without strict min ISR the HW moves on"
        );
        let acks = state.check_acks_all(9);
        assert_eq!(acks, AcksAll::NotEnoughReplicasAfterAppend);
        assert_eq!(
            acks.error_code(),
            Some(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND)
        );
    }
}

#[test]
fn strict_min_isr_freezes_the_hw() {
    for rule in RULES {
        let mut state = leader(rule, true, &[1, 2, 3], 0, 0);
        state.on_append(10);
        fetch(&mut state, 2, 4, 1);
        fetch(&mut state, 3, 4, 1);
        assert_eq!(state.high_watermark(), 4);
        let change = state
            .maybe_shrink_isr(LAG_MS + 2)
            .expect("both followers lag");
        state.on_isr_change_committed(change.new_isr, 1);
        assert_eq!(state.isr(), &[1]);
        assert_eq!(
            state.high_watermark(),
            4,
            "frozen below min.insync.replicas"
        );
        assert!(!state.on_append(20).advanced());
        assert_eq!(
            state.check_acks_all(9),
            AcksAll::Pending,
            "waits, never acked"
        );
        let outcome = fetch(&mut state, 2, 20, LAG_MS + 3);
        let change = outcome.isr_change.expect("follower 2 caught up");
        if rule == IsrRule::Kip497 {
            assert!(
                !outcome.hw_update.advanced(),
                "the committed ISR is still below min"
            );
            state.on_isr_change_committed(change.new_isr, 2);
        }
        assert_eq!(state.isr(), &[1, 2]);
        assert_eq!(state.high_watermark(), 20);
        assert_eq!(state.check_acks_all(9), AcksAll::Done);
    }
}

#[test]
fn bad_fetches_are_refused_with_kafka_codes() {
    let mut state = leader(IsrRule::Kip497, false, &[1, 2, 3], 10, 0);
    for broker in [1, 9] {
        let error = state.on_follower_fetch(broker, 0, 1, true).unwrap_err();
        assert_eq!(error, Error::UnknownReplica(broker));
        assert_eq!(error.code(), ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    for offset in [-1, 11] {
        let error = state.on_follower_fetch(2, offset, 1, true).unwrap_err();
        assert_eq!(error.code(), ErrorCode::OFFSET_OUT_OF_RANGE);
    }
    assert_eq!(
        state.follower_log_end_offset(2),
        None,
        "a refused fetch records nothing"
    );
}

#[test]
#[should_panic(expected = "not in ISR")]
fn leader_outside_the_isr_is_refused() {
    leader(IsrRule::Kip497, false, &[2, 3], 0, 0);
}

#[test]
#[should_panic(expected = "went back")]
fn leader_log_end_offset_never_goes_back() {
    leader(IsrRule::Kip497, false, &[1, 2, 3], 10, 0).on_append(9);
}

/// One event in a random run of the leader.
#[derive(Debug, Clone)]
enum Op {
    /// The leader appends this many records.
    Append(i64),
    /// A follower (index into 2, 3) fetches at a point between its log end and the leader's.
    Fetch(usize, u16),
    /// Time passes.
    Tick(u64),
    /// The leader checks for out-of-sync followers.
    Shrink,
    /// The controller commits the pending change (or acknowledges a legacy one).
    Commit,
    /// The controller refuses the pending change.
    Reject,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..5).prop_map(Op::Append),
        (0usize..2, any::<u16>()).prop_map(|(f, point)| Op::Fetch(f, point)),
        (0u64..6_000).prop_map(Op::Tick),
        Just(Op::Shrink),
        Just(Op::Commit),
        Just(Op::Reject),
    ]
}

fn apply(state: &mut LeaderState, op: &Op, now_ms: &mut u64, follower_floor: &mut [i64; 2]) {
    match *op {
        Op::Append(records) => {
            state.on_append(state.log_end_offset() + records);
        }
        Op::Fetch(index, point) => {
            // A follower's log only grows in this model, so its fetch offsets never go back.
            let floor = follower_floor[index];
            let span = state.log_end_offset() - floor + 1;
            let offset = floor + i64::from(point) % span;
            follower_floor[index] = offset;
            fetch(state, index as i32 + 2, offset, *now_ms);
        }
        Op::Tick(ms) => *now_ms += ms,
        Op::Shrink => {
            state.maybe_shrink_isr(*now_ms);
        }
        Op::Commit => {
            let new_isr = match state.pending_isr_change() {
                Some(change) => change.new_isr.clone(),
                None => state.isr().to_vec(),
            };
            let epoch = state.partition_epoch() + 1;
            state.on_isr_change_committed(new_isr, epoch);
        }
        Op::Reject => {
            state.on_isr_change_rejected();
        }
    }
}

proptest! {
    #[test]
    fn hw_never_decreases_nor_passes_an_isr_members_log_end(
        kip497 in any::<bool>(),
        strict in any::<bool>(),
        min_insync_replicas in 1usize..4,
        followers_in_isr in proptest::collection::vec(any::<bool>(), 2),
        log_end_offset in 0i64..20,
        hw_point in any::<u16>(),
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let rule = if kip497 { IsrRule::Kip497 } else { IsrRule::Legacy };
        let mut config = config(rule, strict);
        config.min_insync_replicas = min_insync_replicas;
        let mut isr = vec![1];
        isr.extend([2, 3].into_iter().zip(&followers_in_isr).filter(|(_, &i)| i).map(|(id, _)| id));
        let high_watermark = i64::from(hw_point) % (log_end_offset + 1);
        // ISR members hold at least the HW the previous leader exposed.
        let mut follower_floor = [0, 1].map(|i| if followers_in_isr[i] { high_watermark } else { 0 });
        let mut state = LeaderState::new(config, 1, 0, isr, log_end_offset, high_watermark, 0);
        let mut now_ms = 0;
        for op in &ops {
            let before = state.high_watermark();
            apply(&mut state, op, &mut now_ms, &mut follower_floor);
            let after = state.high_watermark();
            prop_assert!(after >= before, "HW went back from {} to {} on {:?}", before, after, op);
            prop_assert!(after <= state.log_end_offset());
            for id in state.maximal_isr().into_iter().filter(|&id| id != 1) {
                if let Some(leo) = state.follower_log_end_offset(id) {
                    prop_assert!(after <= leo, "HW {} past ISR member {}'s log end {}", after, id, leo);
                }
            }
            if strict && state.isr().len() < state.config().effective_min_isr() {
                prop_assert_eq!(after, before, "strict min ISR must freeze the HW on {:?}", op);
            }
        }
    }
}

#[test]
fn a_fenced_follower_is_not_proposed_for_the_isr_until_it_is_eligible_again() {
    // KIP-841: broker 3 caught up, but the leader's metadata shows it fenced.
    let mut state = leader(IsrRule::Kip497, false, &[1, 2], 10, 10);
    fetch(&mut state, 2, 10, 1);
    let outcome = state
        .on_follower_fetch(3, 10, 2, false)
        .expect("valid fetch");
    assert_eq!(outcome.isr_change, None);
    assert_eq!(
        state.maximal_isr(),
        vec![1, 2],
        "not even counted as pending"
    );
    // Unfenced: the next fetch proposes it.
    let outcome = fetch(&mut state, 3, 10, 3);
    assert_eq!(outcome.isr_change.map(|c| c.new_isr), Some(vec![1, 2, 3]));
}

/// DeleteRecords' low watermark: the least log start over the leader and its ISR followers,
/// unknown until every ISR follower reported one; followers outside the ISR do not count.
#[test]
fn low_watermark_is_the_least_log_start_over_the_isr() {
    let mut state = leader(IsrRule::Legacy, false, &[1, 2], 10, 10);
    assert_eq!(
        state.low_watermark(4),
        None,
        "follower 2 has not reported yet"
    );
    state.on_follower_log_start(2, 3);
    assert_eq!(state.low_watermark(4), Some(3));
    state.on_follower_log_start(2, 6);
    assert_eq!(state.low_watermark(4), Some(4));
    // A fetch that reports nothing (-1) keeps the last report.
    state.on_follower_log_start(2, -1);
    assert_eq!(state.low_watermark(7), Some(6));
    // Follower 3 is not in the ISR: its (missing) report does not hold the watermark back.
    assert_eq!(state.isr(), &[1, 2]);
    assert_eq!(state.low_watermark(5), Some(5));
}
