//! Offset commits as the history sees them, and the auto-commit clock — pure.
//!
//! Every commit ends in one [`CommitOutcome`] (Jepsen's completion kinds): `Ok` when the
//! coordinator answered NONE; `Fail` when the commit definitely did not take effect (it was
//! never sent, or the coordinator refused it before writing: the member is not in the
//! generation, the group is rebalancing, the offsets were refused); `Info` when it may have
//! (no answer, a timeout, or an error the coordinator can also return after appending the
//! commit to `__consumer_offsets`, such as NOT_COORDINATOR or REQUEST_TIMED_OUT). An `Info`
//! is never turned into a `Fail` by a later attempt: [`combine`] keeps it.

use crate::client::connection::ConnError;
use crate::protocol::codes::ErrorCode;

/// Why a commit did not end `Ok`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitError {
    /// The coordinator's answer (the first non-NONE partition code).
    Kafka(ErrorCode),
    /// The request got no answer.
    Conn(ConnError),
    /// Not sent: the member is not in a stable generation (Kafka's `CommitFailedException`
    /// or `RebalanceInProgressException` before sending).
    NotInGroup,
    /// Not sent: no coordinator could be found.
    CoordinatorUnknown,
}

/// How a commit ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Committed.
    Ok,
    /// Definitely not committed.
    Fail(CommitError),
    /// Maybe committed.
    Info(CommitError),
}

impl CommitOutcome {
    /// Whether the commit may have taken effect.
    pub fn maybe_applied(&self) -> bool {
        !matches!(self, CommitOutcome::Fail(_))
    }
}

/// What an OffsetCommit partition code says about the commit.
pub fn classify_code(code: ErrorCode) -> CommitOutcome {
    const REFUSED_BEFORE_WRITING: &[ErrorCode] = &[
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::REBALANCE_IN_PROGRESS,
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::OFFSET_METADATA_TOO_LARGE,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::INVALID_GROUP_ID,
        ErrorCode::UNSUPPORTED_VERSION,
        // INVALID_COMMIT_OFFSET_SIZE, TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED
        ErrorCode::from_wire(28),
        ErrorCode::from_wire(29),
        ErrorCode::from_wire(30),
    ];
    if code == ErrorCode::NONE {
        CommitOutcome::Ok
    } else if REFUSED_BEFORE_WRITING.contains(&code) {
        CommitOutcome::Fail(CommitError::Kafka(code))
    } else {
        CommitOutcome::Info(CommitError::Kafka(code))
    }
}

/// What a whole OffsetCommit answer says: `Ok` when every partition is NONE, else the
/// outcome of the first partition with an error (the coordinator validates a commit once, so
/// its partitions fail alike).
pub fn classify_response(codes: &[ErrorCode]) -> CommitOutcome {
    match codes.iter().find(|code| **code != ErrorCode::NONE) {
        None => CommitOutcome::Ok,
        Some(code) => classify_code(*code),
    }
}

/// What an unanswered OffsetCommit says: a failed connect never sent it; anything later may
/// have reached the coordinator.
pub fn classify_conn(error: &ConnError) -> CommitOutcome {
    match error {
        ConnError::Connect(_) => CommitOutcome::Fail(CommitError::Conn(error.clone())),
        _ => CommitOutcome::Info(CommitError::Conn(error.clone())),
    }
}

/// Whether `commit_sync` tries again after this outcome: the coordinator moved or is
/// loading, or the request got no answer.
pub fn retriable(outcome: &CommitOutcome) -> bool {
    match outcome {
        CommitOutcome::Ok => false,
        CommitOutcome::Fail(error) | CommitOutcome::Info(error) => match error {
            CommitError::Kafka(code) => [
                ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                ErrorCode::NOT_COORDINATOR,
                ErrorCode::REQUEST_TIMED_OUT,
            ]
            .contains(code),
            CommitError::Conn(_) | CommitError::CoordinatorUnknown => true,
            CommitError::NotInGroup => false,
        },
    }
}

/// The outcome of a commit retried after `earlier`: a later `Fail` cannot undo an earlier
/// attempt that may have been applied.
pub fn combine(earlier: CommitOutcome, later: CommitOutcome) -> CommitOutcome {
    match (earlier.maybe_applied(), later) {
        (true, CommitOutcome::Fail(error)) => CommitOutcome::Info(error),
        (_, later) => later,
    }
}

/// `auto.commit.interval.ms` as Kafka's `nextAutoCommitTimer`: due once the interval has
/// passed since the last reset; reset when a rebalance completes and when an auto-commit is
/// sent. Times are milliseconds on the consumer's monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoCommitClock {
    /// `auto.commit.interval.ms`.
    pub interval_ms: u64,
    /// When the next auto-commit is due.
    pub due_at_ms: u64,
}

impl AutoCommitClock {
    /// A clock whose first commit is due one interval after `now_ms`.
    pub fn new(interval_ms: u64, now_ms: u64) -> AutoCommitClock {
        AutoCommitClock {
            interval_ms,
            due_at_ms: now_ms + interval_ms,
        }
    }

    /// Whether an auto-commit is due at `now_ms`.
    pub fn is_due(&self, now_ms: u64) -> bool {
        now_ms >= self.due_at_ms
    }

    /// Starts a new interval at `now_ms`.
    pub fn reset(&mut self, now_ms: u64) {
        self.due_at_ms = now_ms + self.interval_ms;
        assert!(self.due_at_ms >= now_ms);
    }

    /// After a commit that failed retriably, try again after `backoff_ms` (Kafka's
    /// `nextAutoCommitTimer.updateAndReset(retryBackoffMs)`).
    pub fn retry_after(&mut self, now_ms: u64, backoff_ms: u64) {
        self.due_at_ms = now_ms + backoff_ms.min(self.interval_ms);
    }
}

/// Whether `max.poll.interval.ms` passed since the last poll (Kafka's `pollTimeoutExpired`).
pub fn poll_interval_expired(last_poll_ms: u64, now_ms: u64, max_poll_interval_ms: u64) -> bool {
    now_ms.saturating_sub(last_poll_ms) > max_poll_interval_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_everywhere_is_ok_and_group_errors_fail() {
        assert_eq!(
            classify_response(&[ErrorCode::NONE, ErrorCode::NONE]),
            CommitOutcome::Ok
        );
        for code in [
            ErrorCode::ILLEGAL_GENERATION,
            ErrorCode::UNKNOWN_MEMBER_ID,
            ErrorCode::REBALANCE_IN_PROGRESS,
            ErrorCode::FENCED_INSTANCE_ID,
        ] {
            assert_eq!(
                classify_response(&[ErrorCode::NONE, code]),
                CommitOutcome::Fail(CommitError::Kafka(code)),
                "{code}"
            );
        }
    }

    #[test]
    fn errors_possible_after_the_append_are_info() {
        for code in [
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            ErrorCode::REQUEST_TIMED_OUT,
            ErrorCode::UNKNOWN_SERVER_ERROR,
            ErrorCode::from_wire(9999),
        ] {
            assert_eq!(
                classify_code(code),
                CommitOutcome::Info(CommitError::Kafka(code))
            );
        }
    }

    #[test]
    fn a_commit_never_sent_fails_and_one_unanswered_is_info() {
        assert!(!classify_conn(&ConnError::Connect("refused".into())).maybe_applied());
        assert!(classify_conn(&ConnError::Disconnected).maybe_applied());
        assert!(classify_conn(&ConnError::Timeout).maybe_applied());
    }

    #[test]
    fn a_retry_cannot_turn_a_maybe_into_a_fail() {
        let timeout = classify_conn(&ConnError::Timeout);
        let refused = classify_code(ErrorCode::ILLEGAL_GENERATION);
        assert_eq!(
            combine(timeout.clone(), refused),
            CommitOutcome::Info(CommitError::Kafka(ErrorCode::ILLEGAL_GENERATION))
        );
        assert_eq!(combine(timeout, CommitOutcome::Ok), CommitOutcome::Ok);
        let loading = classify_code(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        let fenced = classify_code(ErrorCode::FENCED_INSTANCE_ID);
        assert_eq!(combine(loading, fenced.clone()), fenced);
    }

    #[test]
    fn only_coordinator_and_transport_errors_are_retried() {
        assert!(retriable(&classify_code(ErrorCode::NOT_COORDINATOR)));
        assert!(retriable(&classify_code(
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        )));
        assert!(retriable(&classify_conn(&ConnError::Disconnected)));
        assert!(!retriable(&classify_code(ErrorCode::ILLEGAL_GENERATION)));
        assert!(!retriable(&CommitOutcome::Fail(CommitError::NotInGroup)));
        assert!(!retriable(&CommitOutcome::Ok));
    }

    #[test]
    fn auto_commit_is_due_one_interval_after_each_reset() {
        let mut clock = AutoCommitClock::new(5_000, 1_000);
        assert!(!clock.is_due(5_999));
        assert!(clock.is_due(6_000));
        clock.reset(6_500);
        assert!(!clock.is_due(11_499));
        assert!(clock.is_due(11_500));
        clock.retry_after(11_500, 100);
        assert!(!clock.is_due(11_599));
        assert!(clock.is_due(11_600));
    }

    #[test]
    fn poll_interval_expires_strictly_after_the_maximum() {
        assert!(!poll_interval_expired(1_000, 301_000, 300_000));
        assert!(poll_interval_expired(1_000, 301_001, 300_000));
        assert!(!poll_interval_expired(5_000, 1_000, 300_000));
    }
}
