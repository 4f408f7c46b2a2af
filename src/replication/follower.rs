//! The follower side of one partition's replication, as pure decisions.
//!
//! A follower copies its leader's log and learns the high watermark (HW) from the leader's
//! fetch responses. Which offset it truncates to before fetching is [`super::truncation`]'s
//! decision; this module holds the rest: what the follower remembers of its leader
//! ([`FollowerState`]), what it does with the batches of a fetch response
//! ([`on_fetched_batches`]), where its HW stands after a fetch or a truncation, and when a
//! leader change or the leader's `OffsetForLeaderEpoch` answer cuts its log. It does no I/O:
//! the partition actor carries out what these functions decide.
//!
//! The invariants kept, asserted as preconditions and postconditions:
//! - a follower's HW is never negative and never above its own log end offset (LEO);
//! - the HW learned from a fetch is never above the leader's HW;
//! - a truncation never cuts above the log end it is asked to shorten, and never below the
//!   log start offset when the leader's epoch answer names an offset.

use super::truncation::{high_watermark_truncation, TruncationRule, TruncationStep};

/// What a follower knows of the leader it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerState {
    /// The leader followed (-1: none known yet, or the partition is offline).
    leader: i32,
    /// The leader epoch of that leadership (-1 while none is known).
    leader_epoch: i32,
    /// The HW as this follower knows it: the leader's, capped by its own log end.
    high_watermark: i64,
}

impl FollowerState {
    /// Follows `leader` at `leader_epoch`, starting from the HW this replica held (as leader,
    /// as a follower of an earlier leader, or from its checkpoint).
    pub fn new(leader: i32, leader_epoch: i32, high_watermark: i64) -> Self {
        assert!(
            high_watermark >= 0,
            "follower high watermark {high_watermark} is negative"
        );
        FollowerState {
            leader,
            leader_epoch,
            high_watermark,
        }
    }

    /// The leader followed (-1: none known).
    pub fn leader(&self) -> i32 {
        self.leader
    }

    /// The epoch of the leadership followed (-1: none known).
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The HW as this follower knows it.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// A fetch response carried the leader's HW; this follower's log now ends at
    /// `log_end_offset`.
    pub fn on_fetch_response(&mut self, leader_high_watermark: i64, log_end_offset: i64) {
        self.high_watermark = high_watermark_from_leader(leader_high_watermark, log_end_offset);
    }

    /// The log was cut to end at `log_end_offset`: the HW stays within it.
    pub fn on_truncation(&mut self, log_end_offset: i64) {
        self.high_watermark = high_watermark_after_truncation(self.high_watermark, log_end_offset);
    }

    /// The log was emptied and restarted at the leader's log start `offset`, past its old end:
    /// everything below is gone (committed on the leader), so the HW moves up to it.
    pub fn on_restart_at(&mut self, offset: i64) {
        assert!(
            offset >= self.high_watermark,
            "restarting at {offset} below the follower high watermark {}",
            self.high_watermark
        );
        self.high_watermark = offset;
    }
}

/// A follower's HW after a fetch: the leader's, capped by what it holds itself.
pub fn high_watermark_from_leader(leader_high_watermark: i64, log_end_offset: i64) -> i64 {
    assert!(
        log_end_offset >= 0,
        "follower log end offset {log_end_offset} is negative"
    );
    let high_watermark = leader_high_watermark.min(log_end_offset).max(0);
    assert!(
        high_watermark <= log_end_offset && high_watermark <= leader_high_watermark.max(0),
        "follower high watermark {high_watermark} above its log end {log_end_offset} or the \
         leader's {leader_high_watermark}"
    );
    high_watermark
}

/// A follower's HW after its log was cut to end at `log_end_offset`: what it held, capped by
/// the shorter log. A truncation never raises the HW.
pub fn high_watermark_after_truncation(high_watermark: i64, log_end_offset: i64) -> i64 {
    let after = high_watermark.min(log_end_offset);
    assert!(
        after <= high_watermark && after <= log_end_offset,
        "truncation moved the follower high watermark from {high_watermark} to {after} \
         (log end {log_end_offset})"
    );
    after
}

/// What a follower does with the non-empty batches of a fetch response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchedBatches {
    /// They continue this log: append them.
    Append,
    /// The leader's first batch starts below this log's end: the logs diverged (the leader
    /// lost and rewrote its tail). Cut back to before the leader's batch and fetch again.
    Diverged {
        /// Where to cut: the leader's first batch's base offset.
        truncate_to: i64,
    },
}

/// Whether batches starting at `first_base_offset` continue a log ending at `log_end_offset`.
pub fn on_fetched_batches(first_base_offset: i64, log_end_offset: i64) -> FetchedBatches {
    if first_base_offset < log_end_offset {
        FetchedBatches::Diverged {
            truncate_to: first_base_offset,
        }
    } else {
        FetchedBatches::Append
    }
}

/// Where a replica made a follower of `leader` cuts its log at once, if anywhere. Under the
/// high-watermark rule (Kafka 0.10's `makeFollowers`) it cuts to its HW when it holds more;
/// under leader epochs it cuts nothing yet (its fetcher asks the leader where its epoch ends
/// first), and neither cuts while no leader is known.
pub fn truncation_on_become_follower(
    rule: TruncationRule,
    high_watermark: i64,
    log_end_offset: i64,
    leader: i32,
) -> Option<i64> {
    let below_log_end = high_watermark < log_end_offset;
    if rule != TruncationRule::HighWatermark || !below_log_end || leader < 0 {
        return None;
    }
    let truncate_to = high_watermark_truncation(high_watermark, log_end_offset);
    assert!(
        truncate_to < log_end_offset,
        "cut at {truncate_to} does not shorten a log ending at {log_end_offset}"
    );
    Some(truncate_to)
}

/// Where a follower cuts its log on the leader's `OffsetForLeaderEpoch` answer, as `step`
/// decided ([`super::leader_epoch_truncation`]): nothing when the step's offset is not below
/// the log end, else the step's offset, the HW for an answer without an offset, and never
/// below the log start.
pub fn epoch_truncation_offset(
    step: TruncationStep,
    high_watermark: i64,
    log_start_offset: i64,
    log_end_offset: i64,
) -> Option<i64> {
    assert!(
        log_start_offset <= log_end_offset,
        "log start {log_start_offset} above log end {log_end_offset}"
    );
    let truncate_to = match step {
        TruncationStep::Truncate(offset) => offset,
        TruncationStep::AskAgain { truncate_to, .. } => truncate_to,
        TruncationStep::TruncateToHighWatermark => high_watermark,
    };
    if truncate_to >= log_end_offset {
        return None;
    }
    let cut = truncate_to.max(log_start_offset);
    assert!(
        log_start_offset <= cut && cut <= log_end_offset,
        "epoch truncation to {cut} outside the log [{log_start_offset}, {log_end_offset}]"
    );
    Some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_watermark_from_the_leader_is_capped_by_the_local_log() {
        assert_eq!(high_watermark_from_leader(10, 20), 10);
        assert_eq!(high_watermark_from_leader(30, 20), 20);
        assert_eq!(high_watermark_from_leader(-1, 20), 0);
        let mut state = FollowerState::new(2, 4, 0);
        state.on_fetch_response(15, 12);
        assert_eq!(state.high_watermark(), 12);
        state.on_truncation(7);
        assert_eq!(state.high_watermark(), 7);
        state.on_truncation(9);
        assert_eq!(
            state.high_watermark(),
            7,
            "a truncation never raises the HW"
        );
        assert_eq!((state.leader(), state.leader_epoch()), (2, 4));
    }

    #[test]
    #[should_panic(expected = "is negative")]
    fn a_negative_log_end_is_refused() {
        high_watermark_from_leader(5, -1);
    }

    #[test]
    fn batches_below_the_log_end_mean_the_logs_diverged() {
        assert_eq!(on_fetched_batches(10, 10), FetchedBatches::Append);
        assert_eq!(on_fetched_batches(12, 10), FetchedBatches::Append);
        assert_eq!(
            on_fetched_batches(7, 10),
            FetchedBatches::Diverged { truncate_to: 7 }
        );
    }

    #[test]
    fn only_the_high_watermark_rule_cuts_on_becoming_follower() {
        let hw = TruncationRule::HighWatermark;
        assert_eq!(truncation_on_become_follower(hw, 5, 9, 1), Some(5));
        assert_eq!(
            truncation_on_become_follower(hw, 9, 9, 1),
            None,
            "nothing above HW"
        );
        assert_eq!(
            truncation_on_become_follower(hw, 5, 9, -1),
            None,
            "no leader"
        );
        let epoch = TruncationRule::LeaderEpoch;
        assert_eq!(truncation_on_become_follower(epoch, 5, 9, 1), None);
    }

    #[test]
    fn an_epoch_answer_cuts_below_the_log_end_and_not_below_its_start() {
        let truncate = TruncationStep::Truncate;
        assert_eq!(epoch_truncation_offset(truncate(6), 3, 0, 10), Some(6));
        assert_eq!(epoch_truncation_offset(truncate(10), 3, 0, 10), None);
        assert_eq!(epoch_truncation_offset(truncate(12), 3, 0, 10), None);
        assert_eq!(epoch_truncation_offset(truncate(2), 3, 4, 10), Some(4));
        let again = TruncationStep::AskAgain {
            truncate_to: 8,
            epoch: 1,
        };
        assert_eq!(epoch_truncation_offset(again, 3, 0, 10), Some(8));
        let to_hw = TruncationStep::TruncateToHighWatermark;
        assert_eq!(epoch_truncation_offset(to_hw, 3, 0, 10), Some(3));
        assert_eq!(epoch_truncation_offset(to_hw, 10, 0, 10), None);
        // An empty log whose start is its end still "cuts" (a no-op), as the actor always did.
        assert_eq!(epoch_truncation_offset(truncate(2), 0, 5, 5), Some(5));
    }
}
