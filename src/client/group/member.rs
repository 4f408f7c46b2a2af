//! The group member's state machine (Kafka's `AbstractCoordinator` + `ConsumerCoordinator`
//! state, classic protocol), pure: the shell feeds it the answers to JoinGroup, SyncGroup,
//! Heartbeat and OffsetCommit and does what it decides.
//!
//! States: `Unjoined` → `PreparingRebalance` (JoinGroup sent) → `CompletingRebalance`
//! (JoinGroup answered, SyncGroup sent) → `Stable` (assignment received). Any error that says
//! the member is no longer in the group (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
//! FENCED_INSTANCE_ID) resets it to `Unjoined` with no generation, and its partitions are then
//! given up as *lost* at the next join (someone else may already own them); a rebalance the
//! member takes part in normally gives them up as *revoked* (all of them for the eager
//! protocol, only those leaving the subscription for the cooperative one, KIP-429).
//!
//! Invariants, asserted where the state changes:
//! - `Stable` implies a generation ≥ 0 and a member id;
//! - the generation is ≥ −1 ([`GENERATION_NONE`]);
//! - `owned` is sorted and has no duplicates;
//! - a join is prepared (`prepare_join`) exactly once per rebalance, before its JoinGroup;
//! - an answer to a request sent with another generation or member id than the current ones
//!   changes nothing (Kafka's `generationUnchanged`), so a late heartbeat answer cannot undo
//!   a newer join; a JoinGroup or SyncGroup answer arriving after the member was reset is
//!   void (the member joins again);
//! - only the member leading the current join round holds an assignment snapshot (the
//!   partition counts it ran the assignor with), and the snapshot's counts name only the
//!   topics it watches.
//!
//! Partitions added to a subscribed topic (Kafka's `ConsumerCoordinator.assignmentSnapshot`):
//! the leader remembers the partition count of every topic the group subscribes to as it
//! assigned them; the shell refreshes those counts every `metadata.max.age.ms`, and a count
//! that differs from the snapshot makes the leader rejoin, so the assignor runs again over
//! the new partitions. Other members watch nothing: the leader's rejoin starts the rebalance
//! they all take part in.

use std::collections::{BTreeMap, BTreeSet};

use crate::group::assignor::{RebalanceProtocol, TopicPartition};
use crate::protocol::codes::ErrorCode;

/// Kafka's `Generation.NO_GENERATION.generationId`.
pub const GENERATION_NONE: i32 = -1;

/// Kafka's `JoinGroupRequest.UNKNOWN_MEMBER_ID`.
pub const MEMBER_ID_NONE: &str = "";

/// Where the member is in the join protocol (Kafka's `MemberState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Not in the group: never joined, left, or reset by an error.
    Unjoined,
    /// JoinGroup sent, its answer not yet received.
    PreparingRebalance,
    /// JoinGroup answered; SyncGroup sent, its answer not yet received.
    CompletingRebalance,
    /// Assignment received; heartbeats flow.
    Stable,
}

/// What the shell does after a JoinGroup or SyncGroup answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinStep {
    /// JoinGroup succeeded: send SyncGroup (with the assignments when `leader`).
    Sync {
        /// Whether this member leads the generation and must run the assignor.
        leader: bool,
        /// The assignor (protocol name) the coordinator chose.
        protocol_name: String,
    },
    /// SyncGroup succeeded: apply the assignment (`complete_join`).
    Assigned,
    /// Send JoinGroup again at once (MEMBER_ID_REQUIRED, UNKNOWN_MEMBER_ID,
    /// ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, as Kafka's `joinGroupIfNeeded`).
    RetryNow,
    /// Send JoinGroup again after `retry.backoff.ms` (COORDINATOR_LOAD_IN_PROGRESS).
    RetryBackoff,
    /// Find the coordinator again, then rejoin.
    CoordinatorUnknown,
    /// An error the application must see (Kafka throws it from `poll`); the next poll
    /// tries again.
    Error(ErrorCode),
}

/// What the shell does after a Heartbeat or OffsetCommit answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// Nothing.
    None,
    /// The group is rebalancing: rejoin at the next poll.
    Rejoin,
    /// The member is out of the group: generation and member id were reset; rejoin, and the
    /// partitions owned are lost.
    Reset,
    /// Find the coordinator again.
    CoordinatorUnknown,
}

/// What to tell the application before a JoinGroup (Kafka's `onJoinPrepare`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JoinPrep {
    /// Partitions given up because the member lost its generation (`onPartitionsLost`).
    pub lost: Vec<TopicPartition>,
    /// Partitions given up for the rebalance (`onPartitionsRevoked`).
    pub revoked: Vec<TopicPartition>,
    /// Whether Kafka calls `onPartitionsRevoked` even with nothing revoked: the eager
    /// protocol always does; the cooperative one only when something is revoked.
    pub revoke_callback: bool,
}

/// What to tell the application after SyncGroup (Kafka's `onJoinComplete`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JoinCompletion {
    /// Owned before, not assigned now (cooperative only; eager members own nothing here).
    pub revoked: Vec<TopicPartition>,
    /// Assigned now, not owned before (`onPartitionsAssigned`, called even when empty).
    pub added: Vec<TopicPartition>,
    /// Whether the member must rejoin at once: a cooperative member that revoked something
    /// rejoins so the partitions can go to their new owners (KIP-429's second round).
    pub rejoin: bool,
}

/// What the leader assigned with (Kafka's `assignmentSnapshot`): compared with fresh
/// metadata to notice partitions added to a subscribed topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentSnapshot {
    /// Every topic some member subscribed to (the group's subscription), sorted: what the
    /// leader watches, including topics the cluster did not know then.
    pub topics: Vec<String>,
    /// Partition count of each of `topics` the cluster knew when the assignor ran.
    pub partition_counts: BTreeMap<String, i32>,
}

/// The member's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The id the coordinator gave; empty before the first join and after a reset.
    pub member_id: String,
    /// The generation joined; [`GENERATION_NONE`] when not in one.
    pub generation_id: i32,
    /// Where the member is in the join protocol.
    pub state: MemberState,
    /// Set when something asks for a rebalance while the member is `Stable`.
    pub rejoin_requested: bool,
    /// Whether the next join must first give partitions up (`onJoinPrepare`); cleared by
    /// `prepare_join`, set again when a rebalance completes or the member is reset.
    pub needs_join_prepare: bool,
    /// The assignor chosen for the current generation.
    pub protocol_name: Option<String>,
    /// Whether this member led the current generation.
    pub leader: bool,
    /// Partitions the member owns now, sorted.
    pub owned: Vec<TopicPartition>,
    /// Set when this member ran the assignor in the current join round: what it assigned
    /// with, so that it rejoins when the metadata changes. `None` on every other member.
    pub assignment_snapshot: Option<AssignmentSnapshot>,
}

impl Default for Member {
    fn default() -> Self {
        Member::new()
    }
}

impl Member {
    /// A member that never joined.
    pub fn new() -> Member {
        Member {
            member_id: MEMBER_ID_NONE.to_string(),
            generation_id: GENERATION_NONE,
            state: MemberState::Unjoined,
            rejoin_requested: false,
            needs_join_prepare: true,
            protocol_name: None,
            leader: false,
            owned: Vec::new(),
            assignment_snapshot: None,
        }
    }

    /// Whether the member must (re)join before it may fetch.
    pub fn needs_rejoin(&self) -> bool {
        self.state != MemberState::Stable || self.rejoin_requested
    }

    /// The generation and member id to put on a commit, or `None` when the member is not in
    /// a stable generation (Kafka's `generationIfStable`: such a commit is not sent).
    pub fn generation_if_stable(&self) -> Option<(i32, String)> {
        (self.state == MemberState::Stable).then(|| (self.generation_id, self.member_id.clone()))
    }

    /// Gives partitions up before a JoinGroup (Kafka's `onJoinPrepare`): all of them as lost
    /// when the member has no generation or member id, else all as revoked (eager) or those
    /// whose topic left `subscription` (cooperative).
    pub fn prepare_join(
        &mut self,
        protocol: RebalanceProtocol,
        subscription: &BTreeSet<String>,
    ) -> JoinPrep {
        assert!(
            self.needs_join_prepare,
            "join prepared twice in one rebalance"
        );
        let mut prep = JoinPrep::default();
        if self.generation_id == GENERATION_NONE || self.member_id == MEMBER_ID_NONE {
            prep.lost = std::mem::take(&mut self.owned);
        } else {
            match protocol {
                RebalanceProtocol::Eager => {
                    prep.revoked = std::mem::take(&mut self.owned);
                    prep.revoke_callback = true;
                }
                RebalanceProtocol::Cooperative => {
                    let (revoked, kept) = self
                        .owned
                        .drain(..)
                        .partition(|(topic, _)| !subscription.contains(topic));
                    prep.revoked = revoked;
                    prep.revoke_callback = !prep.revoked.is_empty();
                    self.owned = kept;
                }
            }
        }
        self.needs_join_prepare = false;
        self.leader = false;
        self.assignment_snapshot = None;
        self.assert_invariants();
        prep
    }

    /// JoinGroup is being sent. A snapshot of an earlier round is dropped: who leads, and
    /// with what metadata, is decided again by this round.
    pub fn join_sent(&mut self) {
        assert!(!self.needs_join_prepare, "JoinGroup before onJoinPrepare");
        self.state = MemberState::PreparingRebalance;
        self.rejoin_requested = false;
        self.assignment_snapshot = None;
        self.assert_invariants();
    }

    /// The leader ran the assignor over `topics` (the group's subscription) with
    /// `partition_counts` (those the cluster knew): remembers them (Kafka's
    /// `assignmentSnapshot = metadataSnapshot`). Ignored when the member was reset or lost the
    /// lead while the assignor ran: its SyncGroup answer is void then too.
    pub fn assignor_ran(&mut self, topics: &[String], partition_counts: BTreeMap<String, i32>) {
        if self.state != MemberState::CompletingRebalance || !self.leader {
            return;
        }
        let topics: Vec<String> = topics
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.assignment_snapshot = Some(AssignmentSnapshot {
            topics,
            partition_counts,
        });
        self.assert_invariants();
    }

    /// The topics whose metadata the member watches: the snapshot's, when this member
    /// assigned the current generation; `None` otherwise (nothing to refresh).
    pub fn watched_topics(&self) -> Option<Vec<String>> {
        if self.state != MemberState::Stable {
            return None;
        }
        Some(self.assignment_snapshot.as_ref()?.topics.clone())
    }

    /// Fresh metadata: the partition count of each watched topic the cluster knows. When it
    /// differs from what the leader assigned with (a partition was added, a topic appeared
    /// or went), the leader asks for a rebalance (Kafka's `rejoinNeededOrPending`); returns
    /// whether it did. A member that did not assign the current generation ignores it.
    pub fn on_metadata(&mut self, partition_counts: &BTreeMap<String, i32>) -> bool {
        if self.state != MemberState::Stable {
            return false;
        }
        let Some(snapshot) = &self.assignment_snapshot else {
            return false;
        };
        assert!(
            partition_counts
                .keys()
                .all(|topic| snapshot.topics.binary_search(topic).is_ok()),
            "metadata of a topic the leader does not watch: {partition_counts:?}"
        );
        let changed = *partition_counts != snapshot.partition_counts;
        if changed {
            self.rejoin_requested = true;
        }
        changed
    }

    /// Applies a JoinGroup answer.
    pub fn on_join_response(
        &mut self,
        error: ErrorCode,
        member_id: &str,
        generation_id: i32,
        protocol_name: Option<&str>,
        leader_id: &str,
    ) -> JoinStep {
        if self.state != MemberState::PreparingRebalance {
            // A heartbeat or commit answer reset the member while JoinGroup was in flight:
            // the answer is void (Kafka's `UnjoinedGroupException`); join again.
            return JoinStep::RetryNow;
        }
        let step = match error {
            ErrorCode::NONE => match protocol_name {
                Some(name) if generation_id >= 0 && !member_id.is_empty() => {
                    self.member_id = member_id.to_string();
                    self.generation_id = generation_id;
                    self.protocol_name = Some(name.to_string());
                    self.leader = member_id == leader_id;
                    self.state = MemberState::CompletingRebalance;
                    JoinStep::Sync {
                        leader: self.leader,
                        protocol_name: name.to_string(),
                    }
                }
                // A coordinator answering NONE without a generation, member id or protocol
                // broke the protocol; treated as a retriable failure.
                _ => JoinStep::RetryBackoff,
            },
            ErrorCode::MEMBER_ID_REQUIRED => {
                self.member_id = member_id.to_string();
                JoinStep::RetryNow
            }
            ErrorCode::UNKNOWN_MEMBER_ID => {
                self.forget_generation(true);
                JoinStep::RetryNow
            }
            ErrorCode::ILLEGAL_GENERATION => {
                // Kafka keeps the member id here: the coordinator knows it, only the
                // generation is stale.
                self.forget_generation(false);
                JoinStep::RetryNow
            }
            ErrorCode::REBALANCE_IN_PROGRESS => JoinStep::RetryNow,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => JoinStep::RetryBackoff,
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                JoinStep::CoordinatorUnknown
            }
            other => JoinStep::Error(other),
        };
        if !matches!(step, JoinStep::Sync { .. }) && self.state == MemberState::PreparingRebalance {
            self.state = MemberState::Unjoined;
        }
        self.assert_invariants();
        step
    }

    /// Applies a SyncGroup answer.
    pub fn on_sync_response(&mut self, error: ErrorCode) -> JoinStep {
        if self.state != MemberState::CompletingRebalance {
            // Reset while SyncGroup was in flight: the assignment is void; join again.
            return JoinStep::RetryNow;
        }
        let step = match error {
            ErrorCode::NONE => {
                self.state = MemberState::Stable;
                return JoinStep::Assigned;
            }
            ErrorCode::REBALANCE_IN_PROGRESS => JoinStep::RetryNow,
            ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::ILLEGAL_GENERATION
            | ErrorCode::FENCED_INSTANCE_ID => {
                self.forget_generation(true);
                JoinStep::RetryNow
            }
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => JoinStep::RetryBackoff,
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                JoinStep::CoordinatorUnknown
            }
            other => JoinStep::Error(other),
        };
        if self.state == MemberState::CompletingRebalance {
            self.state = MemberState::Unjoined;
        }
        self.assert_invariants();
        step
    }

    /// A JoinGroup or SyncGroup got no answer (connection broke or timed out): the member
    /// is not in a completed generation and rejoins after finding the coordinator again.
    pub fn on_join_unanswered(&mut self) {
        if matches!(
            self.state,
            MemberState::PreparingRebalance | MemberState::CompletingRebalance
        ) {
            self.state = MemberState::Unjoined;
        }
        self.assert_invariants();
    }

    /// Takes the SyncGroup assignment (Kafka's `onJoinComplete`).
    pub fn complete_join(
        &mut self,
        assigned: &[TopicPartition],
        protocol: RebalanceProtocol,
    ) -> JoinCompletion {
        assert_eq!(self.state, MemberState::Stable, "assignment outside Stable");
        let assigned: BTreeSet<TopicPartition> = assigned.iter().cloned().collect();
        let owned: BTreeSet<TopicPartition> = self.owned.iter().cloned().collect();
        let revoked: Vec<TopicPartition> = owned.difference(&assigned).cloned().collect();
        let added: Vec<TopicPartition> = assigned.difference(&owned).cloned().collect();
        if protocol == RebalanceProtocol::Eager {
            assert!(
                revoked.is_empty(),
                "an eager member joined owning {revoked:?}"
            );
        }
        let rejoin = protocol == RebalanceProtocol::Cooperative && !revoked.is_empty();
        if !self.leader {
            // Kafka's onJoinComplete: only the leader watches for metadata changes.
            self.assignment_snapshot = None;
        }
        self.owned = assigned.into_iter().collect();
        self.needs_join_prepare = true;
        self.rejoin_requested = rejoin;
        self.assert_invariants();
        JoinCompletion {
            revoked,
            added,
            rejoin,
        }
    }

    /// Applies an answer to a Heartbeat sent with `generation_id` and `member_id`.
    pub fn on_heartbeat_response(
        &mut self,
        generation_id: i32,
        member_id: &str,
        error: ErrorCode,
    ) -> Reaction {
        self.on_group_error(generation_id, member_id, error)
    }

    /// Applies an answer to an OffsetCommit sent with `generation_id` and `member_id` (one
    /// partition's code stands for the commit: the coordinator validates the member once).
    pub fn on_commit_response(
        &mut self,
        generation_id: i32,
        member_id: &str,
        error: ErrorCode,
    ) -> Reaction {
        self.on_group_error(generation_id, member_id, error)
    }

    fn on_group_error(
        &mut self,
        generation_id: i32,
        member_id: &str,
        error: ErrorCode,
    ) -> Reaction {
        let current = generation_id == self.generation_id && member_id == self.member_id;
        let reaction = match error {
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                Reaction::CoordinatorUnknown
            }
            _ if !current => Reaction::None,
            ErrorCode::REBALANCE_IN_PROGRESS if self.state == MemberState::Stable => {
                self.rejoin_requested = true;
                Reaction::Rejoin
            }
            ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::ILLEGAL_GENERATION
            | ErrorCode::FENCED_INSTANCE_ID => {
                self.forget_generation(true);
                Reaction::Reset
            }
            _ => Reaction::None,
        };
        self.assert_invariants();
        reaction
    }

    /// Asks for a rebalance (the subscription changed).
    pub fn request_rejoin(&mut self) {
        self.rejoin_requested = true;
    }

    /// Gives every owned partition up (closing): returns them.
    pub fn release_all(&mut self) -> Vec<TopicPartition> {
        std::mem::take(&mut self.owned)
    }

    /// Leaves the group locally (after LeaveGroup, or when `max.poll.interval.ms` passed):
    /// no generation, no member id; the partitions still owned are lost at the next join.
    pub fn leave(&mut self) {
        self.forget_generation(true);
        self.assert_invariants();
    }

    /// Kafka's `resetStateAndGeneration`: out of the generation, the member id too when
    /// `member_id_too`. The next join gives the owned partitions up as lost.
    fn forget_generation(&mut self, member_id_too: bool) {
        self.generation_id = GENERATION_NONE;
        if member_id_too {
            self.member_id = MEMBER_ID_NONE.to_string();
        }
        self.state = MemberState::Unjoined;
        self.protocol_name = None;
        self.leader = false;
        self.assignment_snapshot = None;
        self.needs_join_prepare = true;
    }

    fn assert_invariants(&self) {
        assert!(self.generation_id >= GENERATION_NONE);
        if self.state == MemberState::Stable {
            assert!(self.generation_id >= 0, "Stable without a generation");
            assert!(!self.member_id.is_empty(), "Stable without a member id");
        }
        assert!(
            self.owned.windows(2).all(|pair| pair[0] < pair[1]),
            "owned partitions unsorted or duplicated: {:?}",
            self.owned
        );
        if let Some(snapshot) = &self.assignment_snapshot {
            assert!(self.leader, "a snapshot on a member that does not lead");
            assert!(
                snapshot.topics.windows(2).all(|pair| pair[0] < pair[1]),
                "watched topics unsorted or duplicated: {:?}",
                snapshot.topics
            );
            assert!(
                snapshot
                    .partition_counts
                    .iter()
                    .all(|(topic, count)| *count >= 0
                        && snapshot.topics.binary_search(topic).is_ok()),
                "snapshot counts {:?} outside the watched topics {:?}",
                snapshot.partition_counts,
                snapshot.topics
            );
        }
    }
}

#[cfg(test)]
mod tests;
