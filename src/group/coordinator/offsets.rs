//! Committed offsets of every group (Kafka's `OffsetMetadataManager`), kept apart from group
//! membership so that a second group protocol can share them, plus the rules deciding
//! whether a classic group may commit and when its offsets expire.
//!
//! Invariants: an offset is stored only after its record was persisted (the coordinator holds
//! the commit until then); an offset with a commit in flight never expires. Otherwise offsets
//! expire as Kafka's `offsetExpirationCondition` says (after KAFKA-13636):
//! - an Empty group: every offset, counted from when the group became Empty;
//! - a simple group (no protocol type): every offset, counted from its commit;
//! - a Stable consumer group whose subscriptions are known: only offsets of topics no member
//!   subscribes to, counted from their commit;
//! - any other group (rebalancing, or subscriptions unknown): none.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::codes::ErrorCode;

use super::api::{CommitRequest, MEMBER_ID_UNKNOWN};
use super::classic::ClassicGroup;
use super::state::GroupState;

/// One committed offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    /// When the commit was accepted; a simple group's offsets expire counting from it.
    pub commit_timestamp_ms: i64,
}

/// (topic, partition).
pub type PartitionKey = (String, i32);

/// Every group's committed offsets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetStore {
    by_group: BTreeMap<String, BTreeMap<PartitionKey, CommittedOffset>>,
}

impl OffsetStore {
    pub fn get(&self, group_id: &str, key: &PartitionKey) -> Option<&CommittedOffset> {
        self.by_group.get(group_id)?.get(key)
    }

    /// All of a group's offsets, ordered by topic then partition.
    pub fn group(&self, group_id: &str) -> impl Iterator<Item = (&PartitionKey, &CommittedOffset)> {
        self.by_group.get(group_id).into_iter().flatten()
    }

    pub fn has_offsets(&self, group_id: &str) -> bool {
        self.by_group
            .get(group_id)
            .is_some_and(|offsets| !offsets.is_empty())
    }

    pub fn put(&mut self, group_id: &str, key: PartitionKey, offset: CommittedOffset) {
        assert!(offset.offset >= -1, "a committed offset is never below -1");
        self.by_group
            .entry(group_id.to_string())
            .or_default()
            .insert(key, offset);
    }

    pub fn remove(&mut self, group_id: &str, key: &PartitionKey) -> bool {
        let Some(offsets) = self.by_group.get_mut(group_id) else {
            return false;
        };
        let removed = offsets.remove(key).is_some();
        if offsets.is_empty() {
            self.by_group.remove(group_id);
        }
        removed
    }

    /// Removes every offset of the group, returning their keys (for tombstones).
    pub fn remove_group(&mut self, group_id: &str) -> Vec<PartitionKey> {
        self.by_group
            .remove(group_id)
            .map(|o| o.into_keys().collect())
            .unwrap_or_default()
    }

    /// The group's offsets that have expired at `now_ms` under `rule`, leaving out those in
    /// `committing` (a commit of them is being persisted, as Kafka's `pendingOffsetCommits`).
    pub fn expired(
        &self,
        group: &ClassicGroup,
        now_ms: i64,
        rule: &ExpiryRule,
        committing: &BTreeSet<PartitionKey>,
    ) -> Vec<PartitionKey> {
        let Some(condition) = expiry_condition(group, rule.expire_while_rebalancing) else {
            return Vec::new();
        };
        self.group(&group.group_id)
            .filter(|(key, _)| !committing.contains(*key))
            .filter(|(key, _)| {
                condition
                    .topics_kept
                    .is_none_or(|kept| !kept.contains(&key.0))
            })
            .filter(|(_, offset)| {
                let base = match condition.base {
                    ExpiryBase::StateTimestamp => group.state_timestamp_ms,
                    ExpiryBase::CommitTimestamp => offset.commit_timestamp_ms,
                };
                now_ms - base >= rule.retention_ms
            })
            .map(|(key, _)| key.clone())
            .collect()
    }
}

/// What offset expiry obeys: the retention and which historical rule is in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiryRule {
    /// offsets.retention.minutes, in milliseconds.
    pub retention_ms: i64,
    /// Before KAFKA-13636: a consumer group's offsets of unsubscribed topics may expire in any
    /// state with members, not only Stable (see [`super::CoordinatorConfig`]).
    pub expire_while_rebalancing: bool,
}

/// From when an offset's retention is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpiryBase {
    /// When the group entered its current state (an Empty group).
    StateTimestamp,
    /// When the offset was committed.
    CommitTimestamp,
}

/// Whether a group's offsets may expire now, from when, and which topics are kept.
struct ExpiryCondition<'a> {
    base: ExpiryBase,
    /// Topics whose offsets never expire under this condition (the subscribed ones).
    topics_kept: Option<&'a BTreeSet<String>>,
}

/// Kafka's `offsetExpirationCondition`, with KAFKA-13636's `is(Stable)` unless
/// `expire_while_rebalancing`.
fn expiry_condition(
    group: &ClassicGroup,
    expire_while_rebalancing: bool,
) -> Option<ExpiryCondition<'_>> {
    let condition = |base, topics_kept| Some(ExpiryCondition { base, topics_kept });
    match group.protocol_type.as_deref() {
        None => condition(ExpiryBase::CommitTimestamp, None),
        Some(_) if group.state == GroupState::Empty => condition(ExpiryBase::StateTimestamp, None),
        Some("consumer") => {
            let stable = group.state == GroupState::Stable;
            let with_members = group.state != GroupState::Dead;
            let eligible = stable || expire_while_rebalancing && with_members;
            let subscribed = group.subscribed_topics.as_ref().filter(|_| eligible)?;
            condition(ExpiryBase::CommitTimestamp, Some(subscribed))
        }
        Some(_) => None,
    }
}

/// Whether a classic group accepts an OffsetCommit (Kafka's `ClassicGroup.validateOffsetCommit`),
/// checked in Kafka's order:
///
/// - a Dead group: COORDINATOR_NOT_AVAILABLE (the client looks the coordinator up again);
/// - generation -1 on an Empty group: a simple commit, accepted;
/// - a member id, an instance id or a generation given: the member must be current
///   (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID) and the generation the group's (ILLEGAL_GENERATION);
///   otherwise (an anonymous commit to a group with members): UNKNOWN_MEMBER_ID;
/// - then, for a current member, CompletingRebalance: REBALANCE_IN_PROGRESS (its assignment
///   is not known yet).
///
/// `planted_accept_stale_generation` (TEST-ONLY) accepts any commit carrying an older
/// generation than the group's, from a current member or from one no longer in the group.
pub fn validate_commit(
    group: &ClassicGroup,
    request: &CommitRequest,
    planted_accept_stale_generation: bool,
) -> Result<(), ErrorCode> {
    if group.state == GroupState::Dead {
        return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    }
    if request.generation_id < 0 && group.state == GroupState::Empty {
        return Ok(());
    }
    let identified = request.generation_id >= 0
        || request.member_id != MEMBER_ID_UNKNOWN
        || request.group_instance_id.is_some();
    // The planted slip: an older generation is taken as a finished one whose commits are
    // still welcome, so neither the member nor the generation is checked for it (a zombie
    // member removed at its session timeout commits over its successor).
    let stale_accepted = planted_accept_stale_generation
        && (0..group.generation_id).contains(&request.generation_id);
    if stale_accepted {
        return Ok(());
    }
    if identified {
        group.validate_member(&request.member_id, request.group_instance_id.as_deref())?;
        if request.generation_id != group.generation_id {
            return Err(ErrorCode::ILLEGAL_GENERATION);
        }
    } else if group.state != GroupState::Empty {
        return Err(ErrorCode::UNKNOWN_MEMBER_ID);
    }
    if group.state == GroupState::CompletingRebalance {
        return Err(ErrorCode::REBALANCE_IN_PROGRESS);
    }
    Ok(())
}

/// The error for a commit to a group the coordinator does not have: a simple commit
/// (generation < 0) creates the group, so `None`; otherwise v9+ says GROUP_ID_NOT_FOUND and
/// older versions ILLEGAL_GENERATION (Kafka's `OffsetMetadataManager.validateOffsetCommit`).
pub fn commit_to_unknown_group(request: &CommitRequest) -> Option<ErrorCode> {
    if request.generation_id < 0 {
        None
    } else if request.version >= 9 {
        Some(ErrorCode::GROUP_ID_NOT_FOUND)
    } else {
        Some(ErrorCode::ILLEGAL_GENERATION)
    }
}

/// What a failed `__consumer_offsets` append means to the requester (Kafka's
/// `appendGroupMetadataErrorToResponseError`): the coordinator moved (NOT_COORDINATOR), is
/// unavailable for now (COORDINATOR_NOT_AVAILABLE), the batch was refused for its size
/// (UNKNOWN_SERVER_ERROR); any other error is passed on as it is.
pub fn append_error_to_commit_error(append_error: ErrorCode) -> ErrorCode {
    let is = |codes: &[ErrorCode]| codes.contains(&append_error);
    if is(&[
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::NOT_ENOUGH_REPLICAS,
        ErrorCode::REQUEST_TIMED_OUT,
    ]) {
        ErrorCode::COORDINATOR_NOT_AVAILABLE
    } else if is(&[
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::KAFKA_STORAGE_ERROR,
    ]) {
        ErrorCode::NOT_COORDINATOR
    } else if is(&[
        ErrorCode::MESSAGE_TOO_LARGE,
        ErrorCode::RECORD_LIST_TOO_LARGE,
        ErrorCode::INVALID_FETCH_SIZE,
    ]) {
        ErrorCode::UNKNOWN_SERVER_ERROR
    } else {
        append_error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // GroupMetadataManager.appendGroupMetadataErrorToResponseError's table.
    #[test]
    fn append_errors_map_as_kafka_maps_them() {
        let cases = [
            (ErrorCode::NONE, ErrorCode::NONE),
            (
                ErrorCode::REQUEST_TIMED_OUT,
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
            ),
            (
                ErrorCode::NOT_ENOUGH_REPLICAS,
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
            ),
            (ErrorCode::KAFKA_STORAGE_ERROR, ErrorCode::NOT_COORDINATOR),
            (
                ErrorCode::RECORD_LIST_TOO_LARGE,
                ErrorCode::UNKNOWN_SERVER_ERROR,
            ),
            (ErrorCode::CORRUPT_MESSAGE, ErrorCode::CORRUPT_MESSAGE),
        ];
        for (append, expected) in cases {
            assert_eq!(append_error_to_commit_error(append), expected, "{append:?}");
        }
    }
}
