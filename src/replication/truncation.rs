//! Where a follower truncates its log before it fetches: pure decisions, no I/O.
//!
//! Two rules, kept side by side (the `[model] truncation` switch):
//! - [`TruncationRule::HighWatermark`] (Kafka 0.10): truncate to the high watermark. It loses
//!   acknowledged writes when the follower's high watermark lags the leader's (KIP-101
//!   scenario 1) and lets logs diverge when both replicas lose unflushed data (scenario 2).
//! - [`TruncationRule::LeaderEpoch`] (KIP-101, refined by KIP-279): ask the leader where the
//!   follower's latest epoch ends (`OffsetForLeaderEpoch`) and truncate to the first offset
//!   where the logs can differ, asking again with an older epoch while the follower does not
//!   know the epoch the leader answered with.

use super::epoch_cache::{LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_OFFSET};

/// Which rule a follower uses to choose its truncation offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TruncationRule {
    /// Kafka 0.10: a restarting follower truncates to its on-disk high-watermark checkpoint,
    /// a follower made by a leader change to its in-memory high watermark.
    HighWatermark,
    /// Kafka 0.11+: truncate where the leader's epoch history and the follower's diverge.
    #[default]
    LeaderEpoch,
}

impl TruncationRule {
    /// The rule named by a scenario's `truncation` setting (`"high-watermark"` or
    /// `"leader-epoch"`), if it is one.
    pub fn from_config(value: &str) -> Option<Self> {
        match value {
            "high-watermark" => Some(Self::HighWatermark),
            "leader-epoch" => Some(Self::LeaderEpoch),
            _ => None,
        }
    }

    /// The setting's value that names this rule.
    pub fn config_value(self) -> &'static str {
        match self {
            Self::HighWatermark => "high-watermark",
            Self::LeaderEpoch => "leader-epoch",
        }
    }
}

/// What a follower does with the leader's answer to `OffsetForLeaderEpoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TruncationStep {
    /// Truncate the log to this offset (a no-op if it is the log end offset) and fetch from
    /// it; truncation is complete.
    Truncate(i64),
    /// The follower has no entry for the epoch the leader answered with: truncate to
    /// `truncate_to` (the end of the follower's largest epoch below it), then send
    /// `OffsetForLeaderEpoch(epoch)` and decide again. `epoch` is below the one the leader
    /// answered with, so a leader that follows the protocol ends the exchange within as many
    /// rounds as the follower has epoch entries, plus one.
    AskAgain {
        /// Offset to truncate to before asking again.
        truncate_to: i64,
        /// The epoch to ask about next: the follower's latest once truncated.
        epoch: i32,
    },
    /// The leader knows no end for the epoch ([`UNDEFINED_OFFSET`]): Kafka falls back to the
    /// high watermark (the follower's initial fetch offset); see
    /// [`high_watermark_truncation`].
    TruncateToHighWatermark,
}

/// Kafka 0.10: a restarting follower truncates to its on-disk HW checkpoint; a follower made by
/// a leader change truncates to its in-memory HW.
///
/// The caller passes whichever high watermark applies. A high watermark above the log end
/// offset (the checkpoint outlived an unflushed tail) truncates nothing, as in Kafka.
pub fn high_watermark_truncation(hw: i64, log_end_offset: i64) -> i64 {
    assert!(hw >= 0, "high watermark {hw} is negative");
    assert!(
        log_end_offset >= 0,
        "log end offset {log_end_offset} is negative"
    );
    hw.min(log_end_offset)
}

/// KIP-101/279: given the follower's epoch cache and LEO and the leader's answer
/// `(epoch, end_offset)` to `OffsetForLeaderEpoch(follower's latest epoch)`, return
/// [`TruncationStep::Truncate`] or [`TruncationStep::AskAgain`] (the follower does not know
/// the returned epoch: truncate to the end of its own largest epoch below it and ask again),
/// iterating until they agree.
///
/// Follows Kafka 2.0's follower: an answer without an epoch ([`UNDEFINED_EPOCH`], a KIP-101
/// v0 response) or for an epoch the follower's cache cannot place truncates to
/// `min(end_offset, log_end_offset)`; an answer without an offset falls back to the high
/// watermark ([`TruncationStep::TruncateToHighWatermark`]); otherwise the follower looks up
/// the leader's epoch in its own cache (KIP-279 semantics) and truncates to the smaller end.
pub fn leader_epoch_truncation(
    cache: &LeaderEpochCache,
    log_end_offset: i64,
    leader_answer: (i32, i64),
) -> TruncationStep {
    let (leader_epoch, leader_end_offset) = leader_answer;
    if leader_end_offset == UNDEFINED_OFFSET {
        return TruncationStep::TruncateToHighWatermark;
    }
    if leader_epoch == UNDEFINED_EPOCH {
        return TruncationStep::Truncate(leader_end_offset.min(log_end_offset));
    }
    let (follower_epoch, follower_end_offset) = cache.end_offset_for(leader_epoch, log_end_offset);
    if follower_end_offset == UNDEFINED_OFFSET {
        return TruncationStep::Truncate(leader_end_offset.min(log_end_offset));
    }
    if follower_epoch != leader_epoch {
        assert!(
            follower_epoch < leader_epoch,
            "the follower's floor epoch {follower_epoch} is above the leader's {leader_epoch}"
        );
        return TruncationStep::AskAgain {
            truncate_to: follower_end_offset.min(log_end_offset),
            epoch: follower_epoch,
        };
    }
    let truncate_to = follower_end_offset
        .min(leader_end_offset)
        .min(log_end_offset);
    TruncationStep::Truncate(truncate_to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::EpochLookup;

    /// A replica's log at the level these rules see it: (leader epoch, value) per offset, and
    /// the epoch cache kept beside it as Kafka keeps it.
    #[derive(Clone, Debug)]
    struct Replica {
        log: Vec<(i32, String)>,
        high_watermark: i64,
        /// Assigned on every append and on becoming leader, cut on every truncation.
        epochs: LeaderEpochCache,
    }

    impl Replica {
        fn new(records: &[(i32, &str)], high_watermark: i64) -> Self {
            let mut replica = Replica {
                log: Vec::new(),
                high_watermark,
                epochs: LeaderEpochCache::new(),
            };
            for (epoch, value) in records {
                replica.push(*epoch, value.to_string());
            }
            replica
        }

        /// A log of `count` records per `(epoch, count)` span, each value naming its place.
        fn with_spans(spans: &[(i32, usize)]) -> Self {
            let mut replica = Replica::new(&[], 0);
            for &(epoch, count) in spans {
                for _ in 0..count {
                    let value = format!("e{epoch}@{}", replica.log.len());
                    replica.push(epoch, value);
                }
            }
            replica
        }

        fn log_end_offset(&self) -> i64 {
            self.log.len() as i64
        }

        fn cache(&self) -> LeaderEpochCache {
            self.epochs.clone()
        }

        fn push(&mut self, epoch: i32, value: String) {
            self.epochs.assign(epoch, self.log_end_offset());
            self.log.push((epoch, value));
        }

        /// Kafka 2.1+ `makeLeader`: the new epoch starts at the log end offset at once.
        fn become_leader(&mut self, epoch: i32) {
            self.epochs.assign(epoch, self.log_end_offset());
        }

        fn values(&self) -> Vec<&str> {
            self.log.iter().map(|(_, v)| v.as_str()).collect()
        }

        /// Truncate the log and its epoch cache; the cache is cut even when the log is not,
        /// as Kafka does, to drop an epoch this replica began as leader but never wrote.
        fn truncate(&mut self, offset: i64) {
            self.log.truncate(offset as usize);
            self.epochs.truncate_from_end(offset);
        }

        /// Fetch up to `count` records the leader has past this replica's log end offset.
        fn fetch_from(&mut self, leader: &Replica, count: usize) {
            let from = self.log.len().min(leader.log.len());
            let upto = from.saturating_add(count).min(leader.log.len());
            for (epoch, value) in &leader.log[from..upto] {
                self.push(*epoch, value.clone());
            }
        }
    }

    /// Run the follower's side of the OffsetForLeaderEpoch exchange against `leader`
    /// answering under `lookup`; returns the final truncation offset and the steps taken.
    fn epoch_truncation(
        follower: &Replica,
        leader: &Replica,
        lookup: EpochLookup,
    ) -> (i64, Vec<TruncationStep>) {
        let mut cache = follower.cache();
        let mut log_end_offset = follower.log_end_offset();
        let mut epoch = cache.latest_epoch().expect("the follower has an epoch");
        let mut steps = Vec::new();
        for _round in 0..=cache.entries().len() {
            let answer = leader
                .cache()
                .lookup_end_offset(lookup, epoch, leader.log_end_offset());
            let step = leader_epoch_truncation(&cache, log_end_offset, answer);
            steps.push(step);
            match step {
                TruncationStep::Truncate(offset) => return (offset, steps),
                TruncationStep::TruncateToHighWatermark => {
                    let offset = high_watermark_truncation(follower.high_watermark, log_end_offset);
                    return (offset, steps);
                }
                TruncationStep::AskAgain {
                    truncate_to,
                    epoch: next,
                } => {
                    cache.truncate_from_end(truncate_to);
                    log_end_offset = truncate_to;
                    assert_eq!(cache.latest_epoch(), Some(next));
                    epoch = next;
                }
            }
        }
        panic!("no agreement within the round bound: {steps:?}");
    }

    /// KIP-101 scenario 1: B leads epoch 0 with m1@0, m2@1, both on A; B's HW is 2 and m2 is
    /// acknowledged, but the fetch response carrying HW=2 to A is lost, so A's HW is 1.
    fn kip101_scenario_1() -> (Replica, Replica) {
        let a = Replica::new(&[(0, "m1"), (0, "m2")], 1);
        let b = Replica::new(&[(0, "m1"), (0, "m2")], 2);
        (a, b)
    }

    #[test]
    fn kip101_scenario_1_high_watermark_rule_loses_acknowledged_m2() {
        let (mut a, _b) = kip101_scenario_1();
        // A restarts and truncates to its HW checkpoint; then B crashes and A is elected.
        let offset = high_watermark_truncation(a.high_watermark, a.log_end_offset());
        a.truncate(offset);
        assert_eq!(offset, 1);
        assert_eq!(
            a.values(),
            ["m1"],
            "the new leader lost the acknowledged m2"
        );
    }

    #[test]
    fn kip101_scenario_1_leader_epoch_rule_keeps_m2() {
        let (mut a, b) = kip101_scenario_1();
        assert_eq!(b.cache().end_offset_for(0, b.log_end_offset()), (0, 2));
        let (offset, steps) = epoch_truncation(&a, &b, EpochLookup::Kip279);
        assert_eq!(steps, [TruncationStep::Truncate(2)]);
        a.truncate(offset);
        assert_eq!(
            a.values(),
            ["m1", "m2"],
            "A, elected after B crashes, still has m2"
        );
    }

    /// KIP-101 scenario 2: A led epoch 0 with m1@0, m2@1 (HW 2); B had m2 unflushed. After a
    /// power loss B restarts first with only m1, leads epoch 1 and appends m3@1.
    fn kip101_scenario_2() -> (Replica, Replica) {
        let a = Replica::new(&[(0, "m1"), (0, "m2")], 2);
        let b = Replica::new(&[(0, "m1"), (1, "m3")], 1);
        (a, b)
    }

    #[test]
    fn kip101_scenario_2_high_watermark_rule_diverges() {
        let (mut a, b) = kip101_scenario_2();
        let offset = high_watermark_truncation(a.high_watermark, a.log_end_offset());
        assert_eq!(offset, 2, "A keeps m2@1");
        a.truncate(offset);
        a.fetch_from(&b, usize::MAX);
        assert_eq!(a.values(), ["m1", "m2"]);
        assert_eq!(b.values(), ["m1", "m3"], "two values at offset 1");
    }

    #[test]
    fn kip101_scenario_2_leader_epoch_rule_truncates_m2_then_fetches_m3() {
        let (mut a, b) = kip101_scenario_2();
        let (offset, steps) = epoch_truncation(&a, &b, EpochLookup::Kip279);
        assert_eq!(
            steps,
            [TruncationStep::Truncate(1)],
            "epoch 0 ends at offset 1 on B"
        );
        a.truncate(offset);
        a.fetch_from(&b, usize::MAX);
        assert_eq!(a.values(), ["m1", "m3"]);
        assert_eq!(a.values(), b.values());
    }

    /// KIP-279: A led epoch 1 over offsets 0..=20; B has 0..=10, leads epoch 2 and appends
    /// 11..=n; A leads again at epoch 3 and appends 21..=30 before B truncates.
    fn kip279_scenario(n: usize) -> (Replica, Replica) {
        let mut a = Replica::new(&[], 0);
        let mut b = Replica::new(&[], 0);
        a.become_leader(1);
        for offset in 0..=20 {
            a.push(1, format!("a{offset}"));
        }
        b.fetch_from(&a, 11);
        b.become_leader(2);
        for offset in 11..=n {
            b.push(2, format!("b{offset}"));
        }
        a.become_leader(3);
        for offset in 21..=30 {
            a.push(3, format!("a{offset}"));
        }
        (a, b)
    }

    #[test]
    fn kip279_scenario_kip101_lookup_keeps_divergent_records() {
        for n in [15, 20] {
            let (a, mut b) = kip279_scenario(n);
            let (offset, steps) = epoch_truncation(&b, &a, EpochLookup::Kip101);
            assert_eq!(
                steps,
                [TruncationStep::Truncate(b.log_end_offset())],
                "n = {n}"
            );
            assert_eq!(
                offset,
                n as i64 + 1,
                "nothing truncated although 11..={n} differ"
            );
            b.truncate(offset);
            b.fetch_from(&a, usize::MAX);
            assert_ne!(b.values(), a.values(), "n = {n}: replicas diverge");
            assert_eq!(b.values()[11], "b11");
        }
        // n < 20: B then fetches A's epoch-1 records after its own epoch-2 ones.
        let (a, mut b) = kip279_scenario(15);
        b.fetch_from(&a, usize::MAX);
        assert_eq!(
            (b.log[15].0, b.log[16].0),
            (2, 1),
            "epochs go backwards in B's log"
        );
        // n = 20: same length, different contents: silent divergence.
        let (a, mut b) = kip279_scenario(20);
        b.fetch_from(&a, usize::MAX);
        assert_eq!(b.log_end_offset(), a.log_end_offset());
    }

    #[test]
    fn kip279_scenario_kip279_lookup_truncates_to_the_divergence_point() {
        for n in [15, 20] {
            let (a, mut b) = kip279_scenario(n);
            let (offset, steps) = epoch_truncation(&b, &a, EpochLookup::Kip279);
            // A answers (1, 21); B's epoch 1 ends at 11, so B truncates there.
            assert_eq!(steps, [TruncationStep::Truncate(11)], "n = {n}");
            b.truncate(offset);
            b.fetch_from(&a, usize::MAX);
            assert_eq!(b.values(), a.values(), "n = {n}");
        }
    }

    #[test]
    fn follower_missing_the_answered_epoch_asks_again_with_an_older_one() {
        // The follower has epoch 0 at 0..=4 and epoch 2 at 5..=7; the leader has epoch 0 at
        // 0..=2, epoch 1 at 3..=5 and epoch 3 at 6..=9.
        let follower = Replica::with_spans(&[(0, 5), (2, 3)]);
        let leader = Replica::with_spans(&[(0, 3), (1, 3), (3, 4)]);
        // Leader answers (1, 6) to epoch 2; the follower has no epoch 1, so it cuts to the end
        // of its epoch 0 (5) and asks about epoch 0, to which the leader answers (0, 3).
        let (offset, steps) = epoch_truncation(&follower, &leader, EpochLookup::Kip279);
        let ask_again = TruncationStep::AskAgain {
            truncate_to: 5,
            epoch: 0,
        };
        assert_eq!(steps, [ask_again, TruncationStep::Truncate(3)]);
        let mut follower = follower;
        follower.truncate(offset);
        follower.fetch_from(&leader, usize::MAX);
        assert_eq!(follower.values(), leader.values());
    }

    #[test]
    fn answers_without_epoch_or_offset_follow_kafka_fallbacks() {
        let cache = LeaderEpochCache::from_entries([(0, 0), (2, 5)]);
        assert_eq!(
            leader_epoch_truncation(&cache, 8, (UNDEFINED_EPOCH, UNDEFINED_OFFSET)),
            TruncationStep::TruncateToHighWatermark
        );
        assert_eq!(
            leader_epoch_truncation(&cache, 8, (UNDEFINED_EPOCH, 6)),
            TruncationStep::Truncate(6)
        );
        assert_eq!(
            leader_epoch_truncation(&cache, 8, (UNDEFINED_EPOCH, 12)),
            TruncationStep::Truncate(8)
        );
        // The follower's cache starts after the answered epoch: it cannot place it, so it
        // trusts the leader's offset (Kafka: "safe to truncate to leader's offset").
        let late = LeaderEpochCache::from_entries([(4, 5)]);
        assert_eq!(late.end_offset_for(2, 8), (2, 5));
        assert_eq!(
            leader_epoch_truncation(&late, 8, (2, 7)),
            TruncationStep::Truncate(5)
        );
        let empty = LeaderEpochCache::new();
        assert_eq!(
            leader_epoch_truncation(&empty, 8, (2, 7)),
            TruncationStep::Truncate(7)
        );
    }

    /// Two replicas, one elected per round (epochs 0, 1, ...), unclean elections allowed: the
    /// leader appends; unless `fetched` is 0 (no contact), the other truncates by the
    /// leader-epoch rule, must then hold a prefix of the leader's log, and fetches `fetched`.
    fn elect_append_truncate_fetch(
        rounds: &[(bool, usize, usize)],
        lookup: EpochLookup,
    ) -> Result<(), String> {
        let mut replicas = [Replica::new(&[], 0), Replica::new(&[], 0)];
        for (epoch, &(b_leads, appended, fetched)) in rounds.iter().enumerate() {
            let epoch = epoch as i32;
            let [a, b] = &mut replicas;
            let (leader, follower) = if b_leads { (b, a) } else { (a, b) };
            leader.become_leader(epoch);
            for _ in 0..appended {
                let value = format!("e{epoch}@{}", leader.log.len());
                leader.push(epoch, value);
            }
            if fetched == 0 {
                continue; // no contact this epoch: a fast fail-over, as in KIP-279
            }
            if follower.cache().latest_epoch().is_some() {
                let (offset, _) = epoch_truncation(follower, leader, lookup);
                follower.truncate(offset);
            }
            if !leader.log.starts_with(&follower.log) {
                return Err(format!(
                    "epoch {epoch}: {:?} vs leader {:?}",
                    follower.log, leader.log
                ));
            }
            follower.fetch_from(leader, fetched);
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn leader_epoch_rule_leaves_the_follower_a_prefix_of_the_leader(
            rounds in proptest::collection::vec((proptest::bool::ANY, 0usize..4, 0usize..6), 1..12)
        ) {
            let result = elect_append_truncate_fetch(&rounds, EpochLookup::Kip279);
            proptest::prop_assert!(result.is_ok(), "{}", result.unwrap_err());
        }
    }

    #[test]
    fn kip101_lookup_fails_the_prefix_property_on_the_kip279_history() {
        // A leads epoch 0 (5 records), B copies 2; B leads epoch 1 (2 records) and A does
        // not contact it; A leads epoch 2 (2 records); B, asking about epoch 1, gets 5 from
        // the old rule and keeps its epoch-1 records, which A never had.
        let rounds = [(false, 5, 2), (true, 2, 0), (false, 2, 1)];
        assert!(elect_append_truncate_fetch(&rounds, EpochLookup::Kip101).is_err());
        assert!(elect_append_truncate_fetch(&rounds, EpochLookup::Kip279).is_ok());
    }

    #[test]
    fn high_watermark_above_log_end_truncates_nothing() {
        assert_eq!(high_watermark_truncation(10, 7), 7);
        assert_eq!(high_watermark_truncation(3, 7), 3);
    }

    #[test]
    fn truncation_rule_config_values_round_trip() {
        for rule in [TruncationRule::HighWatermark, TruncationRule::LeaderEpoch] {
            assert_eq!(TruncationRule::from_config(rule.config_value()), Some(rule));
        }
        assert_eq!(TruncationRule::from_config("hw"), None);
    }
}
