//! The group coordinator: many groups, their committed offsets, and the `__consumer_offsets`
//! partitions this broker coordinates — a pure state machine. Requests and `tick(now_ms)` go
//! in; [`Effects`] come out: responses (to this request or to ones held earlier) and record
//! batches to persist. The async shell moves bytes and reports persisted batches back through
//! [`Coordinator::records_persisted`].
//!
//! - [`state`]: the five classic states and Kafka's allowed edges, asserted on every change.
//! - [`member`], [`classic`]: the classic protocol (JoinGroup, SyncGroup, Heartbeat,
//!   LeaveGroup, static membership, timeouts) for one group.
//! - [`offsets`]: committed offsets, commit validation, expiry.
//! - [`records`]: the `__consumer_offsets` records and their bytes.
//! - [`load`]: replaying a partition's records when this broker becomes its leader.
//! - [`api`]: the plain request and response values.
//!
//! A second protocol (KIP-848 consumer groups) is a second variant of [`Group`]; the offset
//! store and the coordinator's routing, partition ownership and persistence are shared.
//!
//! Invariants: a group is coordinated here only if its `__consumer_offsets` partition is
//! ([`hash::coordinator_partition`]) and that partition is Active here (no group of a
//! loading or foreign partition is held); every request is answered exactly once; an
//! OffsetCommit is answered only after its records are persisted (or failed to be); a load
//! rebuilds what the persisted records say, so unloading and reloading a partition gives its
//! Stable and Empty groups and its offsets back; nothing depends on the wall clock or on
//! hash-map order.

use std::collections::{BTreeMap, BTreeSet};

use crate::group::hash;
use crate::protocol::codes::ErrorCode;

pub mod api;
pub mod classic;
pub mod load;
pub mod member;
pub mod offsets;
pub mod records;
pub mod state;

#[cfg(test)]
mod tests;

use api::{
    CommitRequest, DescribedGroup, DescribedMember, Effects, FetchedOffset, HeartbeatRequest,
    JoinRequest, JoinResponse, LeaveResponse, LeavingMember, ListedGroup, PersistBatch,
    PersistToken, RequestToken, Response, SyncRequest, SyncResponse, MEMBER_ID_UNKNOWN,
};
use classic::{ClassicGroup, Ctx};
use load::PartitionLoad;
use offsets::{CommittedOffset, ExpiryRule, OffsetStore, PartitionKey};
use records::{OffsetCommitValue, Record};
use state::GroupState;

/// The broker settings the coordinator obeys, under Kafka's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// group.min.session.timeout.ms
    pub group_min_session_timeout_ms: i32,
    /// group.max.session.timeout.ms
    pub group_max_session_timeout_ms: i32,
    /// group.initial.rebalance.delay.ms
    pub group_initial_rebalance_delay_ms: i64,
    /// group.max.size
    pub group_max_size: usize,
    /// offsets.retention.minutes, in milliseconds.
    pub offsets_retention_ms: i64,
    /// offset.metadata.max.bytes
    pub offset_metadata_max_bytes: usize,
    /// offsets.topic.num.partitions
    pub offsets_topic_partitions: i32,
    /// A random number the shell draws for each coordinator it starts, put in every member id
    /// it hands out (Kafka puts a UUID there): a counter alone would repeat across brokers and
    /// restarts, and a new coordinator that loaded a group would give a joining member the id
    /// of one already in it. 0 (tests): ids are `client-n`.
    pub member_id_salt: u64,
    /// offsets.retention.check.interval.ms: how often expired offsets and Empty groups without
    /// offsets are removed (Kafka: 600000). 0 (tests): at every tick.
    pub offsets_retention_check_interval_ms: i64,
    /// Kafka's trunk before apache/kafka PR 2436 (HOTFIX "Consumer offsets not properly
    /// loaded on coordinator failover", 2017-01-26, before 0.10.2.0): a load handed each
    /// replayed offset to `GroupMetadata.completePendingOffsetWrite`, which KAFKA-2000 had made
    /// the day before store an offset only when a commit of that partition is pending on the
    /// group. None is pending on a partition being loaded, so every loaded offset was dropped:
    /// after a coordinator failover OffsetFetch finds no committed offsets and consumers fall
    /// back to `auto.offset.reset`. With this set, [`Coordinator::finish_loading`] keeps a
    /// loaded offset only if a commit of it is pending.
    pub load_offsets_only_if_commit_pending: bool,
    /// Kafka before KAFKA-13636 (apache/kafka PR 11742: fixed in 3.2.0, backported to 2.8.2,
    /// 3.0.1 and 3.1.1; the rule is `GroupMetadata.removeExpiredOffsets`'s): offset expiry of a
    /// consumer group with members did not require the group to be Stable. While the group
    /// rebalanced, offsets of topics outside its last generation's subscriptions expired
    /// counting from their commit; a group rejoining after Empty has an empty subscription
    /// set, so all its old offsets could expire during the join. With this set, the
    /// `is(Stable)` condition is dropped.
    pub expire_offsets_while_rebalancing: bool,
    /// TEST-ONLY planted bug: an OffsetCommit from a current member carrying an older
    /// generation than the group's is accepted instead of ILLEGAL_GENERATION (a zombie of
    /// generation N-1 overwrites the offsets of generation N).
    pub planted_accept_stale_generation_commit: bool,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_initial_rebalance_delay_ms: 3_000,
            group_max_size: i32::MAX as usize,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offset_metadata_max_bytes: 4096,
            offsets_topic_partitions: hash::OFFSETS_TOPIC_PARTITIONS_DEFAULT,
            member_id_salt: 0,
            offsets_retention_check_interval_ms: 0,
            load_offsets_only_if_commit_pending: false,
            expire_offsets_while_rebalancing: false,
            planted_accept_stale_generation_commit: false,
        }
    }
}

/// A group, of whichever protocol. KIP-848's `Consumer` variant comes later, beside this one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Group {
    Classic(ClassicGroup),
}

impl Group {
    pub fn state_name(&self) -> &'static str {
        match self {
            Group::Classic(group) => group.state.kafka_name(),
        }
    }
}

/// Whether this broker serves a `__consumer_offsets` partition's groups yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionStatus {
    /// Became the partition's leader; replaying its records (COORDINATOR_LOAD_IN_PROGRESS).
    Loading,
    Active,
}

/// An OffsetCommit held until its records are persisted.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingCommit {
    token: RequestToken,
    group_id: String,
    /// Per partition in request order: the error decided up front, and the offset to store
    /// once persisted (for partitions without an error).
    partitions: Vec<(PartitionKey, ErrorCode, Option<CommittedOffset>)>,
}

/// A leader's assignment held until its group metadata record is persisted.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingAssignment {
    group_id: String,
    generation: i32,
    assignments: BTreeMap<String, Vec<u8>>,
}

/// The coordinator of the groups on this broker's `__consumer_offsets` partitions.
#[derive(Clone, Debug, Default)]
pub struct Coordinator {
    pub config: CoordinatorConfig,
    partitions: BTreeMap<i32, PartitionStatus>,
    /// What the records replayed so far hold, per partition being loaded.
    loads: BTreeMap<i32, PartitionLoad>,
    groups: BTreeMap<String, Group>,
    offsets: OffsetStore,
    pending_commits: BTreeMap<PersistToken, PendingCommit>,
    pending_assignments: BTreeMap<PersistToken, PendingAssignment>,
    next_persist_token: u64,
    next_member_number: u64,
    /// When offsets are next expired and empty groups removed (set at the first tick).
    next_cleanup_ms: Option<i64>,
}

impl Coordinator {
    pub fn new(config: CoordinatorConfig) -> Coordinator {
        assert!(config.offsets_topic_partitions > 0);
        assert!(config.group_min_session_timeout_ms <= config.group_max_session_timeout_ms);
        Coordinator {
            config,
            ..Coordinator::default()
        }
    }

    // ----- Partition ownership ---------------------------------------------------------

    /// This broker became leader of `partition` and is loading it: until
    /// [`Coordinator::finish_loading`] its groups are answered COORDINATOR_LOAD_IN_PROGRESS and
    /// the shell feeds its records to [`Coordinator::replay`]. The partition must not be
    /// held already (the shell unloads it first), so no group of it is held.
    pub fn begin_loading(&mut self, partition: i32) {
        assert!(
            (0..self.config.offsets_topic_partitions).contains(&partition),
            "partition {partition} of __consumer_offsets does not exist"
        );
        let previous = self.partitions.insert(partition, PartitionStatus::Loading);
        assert_eq!(previous, None, "partition {partition} loaded while held");
        assert!(
            self.groups
                .keys()
                .all(|id| self.partition_of(id) != partition),
            "partition {partition}: groups held before loading"
        );
        self.loads.insert(partition, PartitionLoad::default());
    }

    /// One record of `partition`'s log, in offset order up to the high watermark (Kafka's
    /// `loadGroupsAndOffsets` loop): the last value of each key wins, a tombstone removes it.
    /// A record of a group that `partition` does not coordinate is skipped, not trusted: the
    /// log is another broker's bytes (written, say, under another
    /// `offsets.topic.num.partitions`), and holding such a group would break the invariant
    /// that a group is served only by its own partition.
    pub fn replay(&mut self, partition: i32, record: &Record) {
        assert_eq!(
            self.partitions.get(&partition),
            Some(&PartitionStatus::Loading),
            "replay into partition {partition}, which is not loading"
        );
        let group_id = record.group_id();
        let partitions = self.config.offsets_topic_partitions;
        let load = self
            .loads
            .get_mut(&partition)
            .expect("a loading partition has a load");
        if hash::coordinator_partition(group_id, partitions) == partition {
            load.replay(record);
        } else {
            load.records_skipped += 1;
        }
    }

    /// Loading finished at `now_ms`: the replayed groups and offsets are installed and the
    /// partition's groups are served. A group with a GroupMetadata record comes back Empty
    /// or Stable as the record left it, its members' sessions starting now; offsets of a
    /// group without one form a simple group (Kafka's `emptyGroupOffsets`). A group's
    /// tombstone leaves its offsets alone: only their own tombstones remove them (Kafka, since
    /// KAFKA-4704, lets a deleted group's id be reused by a simple consumer).
    pub fn finish_loading(&mut self, partition: i32, now_ms: i64) {
        let previous = self.partitions.insert(partition, PartitionStatus::Active);
        assert_eq!(
            previous,
            Some(PartitionStatus::Loading),
            "finish_loading without begin"
        );
        let load = self
            .loads
            .remove(&partition)
            .expect("a loading partition has a load");
        for (group_id, value) in &load.groups {
            self.restore_group(
                partition,
                group_id,
                ClassicGroup::restore(group_id, value, now_ms),
            );
        }
        for (group_id, offsets) in load.offsets {
            if !self.groups.contains_key(&group_id) {
                let simple = ClassicGroup::new(&group_id, now_ms);
                self.restore_group(partition, &group_id, simple);
            }
            for (key, offset) in offsets {
                if self.config.load_offsets_only_if_commit_pending
                    && !self.committing(&group_id).contains(&key)
                {
                    continue; // PR 2436's bug: nothing is pending, so the offset is dropped
                }
                self.offsets.put(&group_id, key, offset);
            }
        }
    }

    /// Holds a group rebuilt by a load of `partition`: one of that partition's, not held yet.
    fn restore_group(&mut self, partition: i32, group_id: &str, group: ClassicGroup) {
        assert_eq!(
            self.partition_of(group_id),
            partition,
            "group {group_id}: replay keeps only the partition's own groups"
        );
        let previous = self
            .groups
            .insert(group_id.to_string(), Group::Classic(group));
        assert!(
            previous.is_none(),
            "group {group_id} held while its partition loaded"
        );
    }

    /// The partitions of `group_id` with a commit being persisted.
    fn committing(&self, group_id: &str) -> BTreeSet<PartitionKey> {
        self.pending_commits
            .values()
            .filter(|pending| pending.group_id == group_id)
            .flat_map(|pending| &pending.partitions)
            .filter(|(_, error, _)| *error == ErrorCode::NONE)
            .map(|(key, _, _)| key.clone())
            .collect()
    }

    /// This broker lost `partition`: its groups are dropped, their held requests (joins,
    /// syncs, commits) answered NOT_COORDINATOR so that clients find the new coordinator.
    pub fn unload(&mut self, partition: i32) -> Effects {
        self.partitions.remove(&partition);
        self.loads.remove(&partition);
        let mut effects = Effects::default();
        let moved: Vec<String> = self
            .groups
            .keys()
            .filter(|id| self.partition_of(id) == partition)
            .cloned()
            .collect();
        for group_id in moved {
            let Some(Group::Classic(group)) = self.groups.remove(&group_id) else {
                continue;
            };
            for member in group.members.values() {
                if let Some(waiter) = member.join_waiter {
                    let response =
                        JoinResponse::error(ErrorCode::NOT_COORDINATOR, &member.member_id);
                    effects.respond(waiter, Response::Join(response));
                }
                if let Some(waiter) = member.sync_waiter {
                    let response = SyncResponse::error(ErrorCode::NOT_COORDINATOR);
                    effects.respond(waiter, Response::Sync(response));
                }
            }
            self.offsets.remove_group(&group_id);
        }
        self.forget_pending_writes(partition, &mut effects);
        effects
    }

    /// The writes still held for `partition`'s groups are never applied: the groups are gone,
    /// and a later load rebuilds them from the log, which a late write report must not undo.
    /// Held commits are answered NOT_COORDINATOR now, like held joins and syncs (the write may
    /// still land; the client retries at the new coordinator).
    fn forget_pending_writes(&mut self, partition: i32, effects: &mut Effects) {
        let partitions = self.config.offsets_topic_partitions;
        let ours = |group_id: &str| hash::coordinator_partition(group_id, partitions) == partition;
        let commits: Vec<PersistToken> = self
            .pending_commits
            .iter()
            .filter(|(_, pending)| ours(&pending.group_id))
            .map(|(persist, _)| *persist)
            .collect();
        for persist in commits {
            let pending = self.pending_commits.remove(&persist).expect("listed");
            let response = commit_response(&pending, ErrorCode::NOT_COORDINATOR);
            effects.respond(pending.token, response);
        }
        self.pending_assignments
            .retain(|_, pending| !ours(&pending.group_id));
    }

    fn partition_of(&self, group_id: &str) -> i32 {
        hash::coordinator_partition(group_id, self.config.offsets_topic_partitions)
    }

    /// NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS / INVALID_GROUP_ID, or serve it.
    fn check_group_id(&self, group_id: &str) -> Result<(), ErrorCode> {
        if group_id.is_empty() {
            return Err(ErrorCode::INVALID_GROUP_ID);
        }
        match self.partitions.get(&self.partition_of(group_id)) {
            None => Err(ErrorCode::NOT_COORDINATOR),
            Some(PartitionStatus::Loading) => Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            Some(PartitionStatus::Active) => Ok(()),
        }
    }

    pub fn group(&self, group_id: &str) -> Option<&Group> {
        self.groups.get(group_id)
    }

    /// Every group, for checkers and tests.
    pub fn groups(&self) -> impl Iterator<Item = (&String, &Group)> {
        self.groups.iter()
    }

    pub fn committed_offset(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> Option<&CommittedOffset> {
        self.offsets.get(group_id, &(topic.to_string(), partition))
    }

    /// Runs `handler` on the classic group `group_id` (creating it when `create`), with a
    /// context; flushes the records the handler produced into a persist batch.
    fn with_classic<R>(
        &mut self,
        now_ms: i64,
        group_id: &str,
        create: bool,
        effects: &mut Effects,
        handler: impl FnOnce(&mut ClassicGroup, &mut Ctx) -> R,
    ) -> Option<R> {
        if create && !self.groups.contains_key(group_id) {
            let group = ClassicGroup::new(group_id, now_ms);
            self.groups
                .insert(group_id.to_string(), Group::Classic(group));
        }
        let Group::Classic(group) = self.groups.get_mut(group_id)?;
        let mut records = Vec::new();
        let mut stored_assignment = None;
        let mut ctx = Ctx {
            now_ms,
            config: &self.config,
            effects,
            records: &mut records,
            next_member_number: &mut self.next_member_number,
            stored_assignment: &mut stored_assignment,
        };
        let result = handler(group, &mut ctx);
        let persist = self.persist(effects, records);
        if let Some((generation, assignments)) = stored_assignment {
            let persist = persist.expect("a stored assignment comes with its record");
            let pending = PendingAssignment {
                group_id: group_id.to_string(),
                generation,
                assignments,
            };
            self.pending_assignments.insert(persist, pending);
        }
        Some(result)
    }

    fn persist(&mut self, effects: &mut Effects, records: Vec<Record>) -> Option<PersistToken> {
        if records.is_empty() {
            return None;
        }
        self.next_persist_token += 1;
        let token = PersistToken(self.next_persist_token);
        effects.persist.push(PersistBatch { token, records });
        Some(token)
    }

    // ----- Classic protocol ------------------------------------------------------------

    pub fn join(&mut self, now_ms: i64, token: RequestToken, request: &JoinRequest) -> Effects {
        let mut effects = Effects::default();
        let refuse = |effects: &mut Effects, error| {
            let response = JoinResponse::error(error, &request.member_id);
            effects.respond(token, Response::Join(response));
        };
        if let Err(error) = self.check_group_id(&request.group_id) {
            refuse(&mut effects, error);
            return effects;
        }
        // A known member id joining a group the coordinator does not have is unknown.
        let create = request.member_id == MEMBER_ID_UNKNOWN;
        let served = self.with_classic(
            now_ms,
            &request.group_id,
            create,
            &mut effects,
            |group, ctx| group.join(ctx, token, request),
        );
        if served.is_none() {
            refuse(&mut effects, ErrorCode::UNKNOWN_MEMBER_ID);
        }
        effects
    }

    pub fn sync(&mut self, now_ms: i64, token: RequestToken, request: &SyncRequest) -> Effects {
        let mut effects = Effects::default();
        let error = self.check_group_id(&request.group_id).err();
        let served = error.is_none()
            && self
                .with_classic(
                    now_ms,
                    &request.group_id,
                    false,
                    &mut effects,
                    |group, ctx| group.sync(ctx, token, request),
                )
                .is_some();
        if !served {
            let error = error.unwrap_or(ErrorCode::UNKNOWN_MEMBER_ID);
            effects.respond(token, Response::Sync(SyncResponse::error(error)));
        }
        effects
    }

    pub fn heartbeat(
        &mut self,
        now_ms: i64,
        token: RequestToken,
        request: &HeartbeatRequest,
    ) -> Effects {
        let mut effects = Effects::default();
        let error = match self.check_group_id(&request.group_id) {
            Err(error) => error,
            Ok(()) => self
                .with_classic(
                    now_ms,
                    &request.group_id,
                    false,
                    &mut effects,
                    |group, ctx| group.heartbeat(ctx, request),
                )
                .unwrap_or(ErrorCode::UNKNOWN_MEMBER_ID),
        };
        effects.respond(token, Response::Heartbeat(error));
        effects
    }

    pub fn leave(
        &mut self,
        now_ms: i64,
        token: RequestToken,
        group_id: &str,
        members: &[LeavingMember],
    ) -> Effects {
        let mut effects = Effects::default();
        let response = match self.check_group_id(group_id) {
            Err(error) => LeaveResponse {
                error,
                members: Vec::new(),
            },
            Ok(()) => self
                .with_classic(now_ms, group_id, false, &mut effects, |group, ctx| {
                    group.leave(ctx, members)
                })
                .unwrap_or(LeaveResponse {
                    error: ErrorCode::UNKNOWN_MEMBER_ID,
                    members: Vec::new(),
                }),
        };
        effects.respond(token, Response::Leave(response));
        effects
    }

    // ----- Offsets ---------------------------------------------------------------------

    /// OffsetCommit: validated now, answered once the records are persisted
    /// ([`Coordinator::records_persisted`]).
    pub fn commit_offsets(
        &mut self,
        now_ms: i64,
        token: RequestToken,
        request: &CommitRequest,
    ) -> Effects {
        let mut effects = Effects::default();
        if let Err(error) = self.validate_commit(now_ms, request) {
            let partitions = request
                .partitions
                .iter()
                .map(|p| (p.topic.clone(), p.partition, error))
                .collect();
            effects.respond(token, Response::OffsetCommit(partitions));
            return effects;
        }
        let mut records = Vec::new();
        let mut partitions = Vec::with_capacity(request.partitions.len());
        for commit in &request.partitions {
            let key = (commit.topic.clone(), commit.partition);
            let metadata = commit.metadata.clone().unwrap_or_default();
            if metadata.len() > self.config.offset_metadata_max_bytes {
                partitions.push((key, ErrorCode::OFFSET_METADATA_TOO_LARGE, None));
                continue;
            }
            let offset = CommittedOffset {
                offset: commit.offset,
                leader_epoch: commit.leader_epoch,
                metadata,
                commit_timestamp_ms: now_ms,
            };
            records.push(offset_record(&request.group_id, &key, Some(&offset)));
            partitions.push((key, ErrorCode::NONE, Some(offset)));
        }
        let pending = PendingCommit {
            token,
            group_id: request.group_id.clone(),
            partitions,
        };
        match self.persist(&mut effects, records) {
            Some(persist) => {
                self.pending_commits.insert(persist, pending);
            }
            None => effects.respond(token, commit_response(&pending, ErrorCode::NONE)),
        }
        effects
    }

    fn validate_commit(&mut self, now_ms: i64, request: &CommitRequest) -> Result<(), ErrorCode> {
        self.check_group_id(&request.group_id)?;
        match self.groups.get(&request.group_id) {
            Some(Group::Classic(group)) => {
                let stale_accepted = self.config.planted_accept_stale_generation_commit;
                offsets::validate_commit(group, request, stale_accepted)
            }
            None => match offsets::commit_to_unknown_group(request) {
                Some(error) => Err(error),
                None => {
                    // A simple group: no protocol type, no members, only offsets.
                    let group = ClassicGroup::new(&request.group_id, now_ms);
                    self.groups
                        .insert(request.group_id.clone(), Group::Classic(group));
                    Ok(())
                }
            },
        }
    }

    /// The shell reports a persist batch done: `append_error` is NONE when the records are
    /// in the log. Held commits are applied (on success) and answered; a held assignment
    /// makes its group Stable (or, on failure, rebalance).
    pub fn records_persisted(
        &mut self,
        now_ms: i64,
        persist: PersistToken,
        append_error: ErrorCode,
    ) -> Effects {
        let mut effects = Effects::default();
        if let Some(pending) = self.pending_assignments.remove(&persist) {
            let error = offsets::append_error_to_commit_error(append_error);
            let (generation, assignments) = (pending.generation, pending.assignments);
            self.with_classic(
                now_ms,
                &pending.group_id,
                false,
                &mut effects,
                |group, ctx| group.assignment_persisted(ctx, generation, &assignments, error),
            );
            return effects;
        }
        let Some(pending) = self.pending_commits.remove(&persist) else {
            return effects;
        };
        let error = offsets::append_error_to_commit_error(append_error);
        if error == ErrorCode::NONE && self.groups.contains_key(&pending.group_id) {
            for (key, _, offset) in &pending.partitions {
                if let Some(offset) = offset {
                    self.offsets
                        .put(&pending.group_id, key.clone(), offset.clone());
                }
            }
        }
        effects.respond(pending.token, commit_response(&pending, error));
        effects
    }

    /// OffsetFetch for `partitions` (all the group's committed offsets when `None`).
    pub fn fetch_offsets(
        &self,
        token: RequestToken,
        group_id: &str,
        partitions: Option<&[PartitionKey]>,
    ) -> Effects {
        let mut effects = Effects::default();
        if let Err(error) = self.check_group_id(group_id) {
            effects.respond(token, Response::OffsetFetch(error, Vec::new()));
            return effects;
        }
        let fetched = match partitions {
            Some(keys) => keys
                .iter()
                .map(|key| fetched(key, self.offsets.get(group_id, key)))
                .collect(),
            None => self
                .offsets
                .group(group_id)
                .map(|(key, offset)| fetched(key, Some(offset)))
                .collect(),
        };
        effects.respond(token, Response::OffsetFetch(ErrorCode::NONE, fetched));
        effects
    }

    /// OffsetDelete (KIP-496): only offsets of topics no member subscribes to.
    pub fn delete_offsets(
        &mut self,
        token: RequestToken,
        group_id: &str,
        partitions: &[PartitionKey],
    ) -> Effects {
        let mut effects = Effects::default();
        let group = match self.check_group_id(group_id) {
            Err(error) => Err(error),
            Ok(()) => match self.groups.get(group_id) {
                None => Err(ErrorCode::GROUP_ID_NOT_FOUND),
                Some(Group::Classic(group)) => validate_offset_delete(group).map(|()| group),
            },
        };
        let subscribed_to: BTreeSet<String> = match group {
            Err(error) => {
                effects.respond(token, Response::OffsetDelete(error, Vec::new()));
                return effects;
            }
            Ok(group) => {
                let subscribed = group.compute_subscribed_topics();
                partitions
                    .iter()
                    .filter(|(topic, _)| is_subscribed(group, &subscribed, topic))
                    .map(|(topic, _)| topic.clone())
                    .collect()
            }
        };
        let mut records = Vec::new();
        let mut results = Vec::with_capacity(partitions.len());
        for key in partitions {
            if subscribed_to.contains(&key.0) {
                results.push((key.0.clone(), key.1, ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC));
                continue;
            }
            if self.offsets.remove(group_id, key) {
                records.push(offset_record(group_id, key, None));
            }
            results.push((key.0.clone(), key.1, ErrorCode::NONE));
        }
        self.persist(&mut effects, records);
        effects.respond(token, Response::OffsetDelete(ErrorCode::NONE, results));
        effects
    }

    // ----- Admin -----------------------------------------------------------------------

    /// ListGroups, filtered by state names (v4+) and protocol types (v5+); an empty filter
    /// matches all. Only Active partitions are listed; a loading one makes the answer
    /// COORDINATOR_LOAD_IN_PROGRESS, as Kafka's.
    pub fn list_groups(
        &self,
        token: RequestToken,
        states: &[GroupState],
        types: &[String],
    ) -> Effects {
        let mut effects = Effects::default();
        if self
            .partitions
            .values()
            .any(|s| *s == PartitionStatus::Loading)
        {
            let response =
                Response::ListGroups(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, Vec::new());
            effects.respond(token, response);
            return effects;
        }
        let listed = self
            .groups
            .values()
            .map(|Group::Classic(group)| ListedGroup {
                group_id: group.group_id.clone(),
                protocol_type: group.protocol_type.clone().unwrap_or_default(),
                state: group.state,
            })
            .filter(|g| states.is_empty() || states.contains(&g.state))
            .filter(|g| types.is_empty() || types.contains(&g.protocol_type))
            .collect();
        effects.respond(token, Response::ListGroups(ErrorCode::NONE, listed));
        effects
    }

    /// DescribeGroups: an unknown group is described as Dead with no error, as Kafka does.
    pub fn describe_groups(&self, token: RequestToken, group_ids: &[String]) -> Effects {
        let mut effects = Effects::default();
        let described = group_ids.iter().map(|id| self.describe(id)).collect();
        effects.respond(token, Response::DescribeGroups(described));
        effects
    }

    fn describe(&self, group_id: &str) -> DescribedGroup {
        let mut described = DescribedGroup {
            error: ErrorCode::NONE,
            group_id: group_id.to_string(),
            state: GroupState::Dead,
            protocol_type: String::new(),
            protocol_name: String::new(),
            members: Vec::new(),
        };
        if let Err(error) = self.check_group_id(group_id) {
            described.error = error;
            return described;
        }
        let Some(Group::Classic(group)) = self.groups.get(group_id) else {
            return described;
        };
        let stable = group.state == GroupState::Stable;
        let protocol = group
            .protocol_name
            .clone()
            .filter(|_| stable)
            .unwrap_or_default();
        described.state = group.state;
        described.protocol_type = group.protocol_type.clone().unwrap_or_default();
        described.members = group
            .members
            .values()
            .map(|m| DescribedMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: if stable {
                    m.metadata(&protocol).unwrap_or_default().to_vec()
                } else {
                    Vec::new()
                },
                assignment: if stable {
                    m.assignment.clone()
                } else {
                    Vec::new()
                },
            })
            .collect();
        described.protocol_name = protocol;
        described
    }

    /// DeleteGroups: an Empty group's offsets and metadata are tombstoned and it is gone.
    pub fn delete_groups(
        &mut self,
        now_ms: i64,
        token: RequestToken,
        group_ids: &[String],
    ) -> Effects {
        let mut effects = Effects::default();
        let mut records = Vec::new();
        let mut results = Vec::with_capacity(group_ids.len());
        for group_id in group_ids {
            let error = match self.check_group_id(group_id) {
                Err(error) => error,
                Ok(()) => match self.groups.get(group_id) {
                    None => ErrorCode::GROUP_ID_NOT_FOUND,
                    Some(Group::Classic(group)) if group.state == GroupState::Dead => {
                        ErrorCode::GROUP_ID_NOT_FOUND
                    }
                    Some(Group::Classic(group)) if group.state != GroupState::Empty => {
                        ErrorCode::NON_EMPTY_GROUP
                    }
                    Some(_) => {
                        self.remove_group(now_ms, group_id, &mut records);
                        ErrorCode::NONE
                    }
                },
            };
            results.push((group_id.clone(), error));
        }
        self.persist(&mut effects, records);
        effects.respond(token, Response::DeleteGroups(results));
        effects
    }

    /// Marks an Empty group Dead, tombstones its offsets and metadata, and forgets it.
    ///
    /// Writes it still has in flight land in the log but no longer apply to anything, as
    /// Kafka's write callbacks find their group Dead: a leader's assignment whose write
    /// completes after the group was removed must not complete a later group of the same id
    /// that happens to be at the same generation number, and a held commit must not store
    /// its offsets in one.
    fn remove_group(&mut self, now_ms: i64, group_id: &str, records: &mut Vec<Record>) {
        let Some(Group::Classic(mut group)) = self.groups.remove(group_id) else {
            unreachable!("removing a group that exists")
        };
        group.mark_dead(now_ms);
        self.pending_assignments
            .retain(|_, pending| pending.group_id != group_id);
        let held = (self.pending_commits.values_mut()).filter(|p| p.group_id == group_id);
        for pending in held {
            for (_, _, offset) in &mut pending.partitions {
                *offset = None;
            }
        }
        for key in self.offsets.remove_group(group_id) {
            records.push(offset_record(group_id, &key, None));
        }
        records.push(Record::GroupMetadata {
            group_id: group_id.to_string(),
            value: None,
        });
    }

    // ----- Time ------------------------------------------------------------------------

    /// Advances every group's timers, then expires offsets of Empty groups and removes Empty
    /// groups with no offsets left (Kafka's `cleanupGroupMetadata`).
    pub fn tick(&mut self, now_ms: i64) -> Effects {
        let mut effects = Effects::default();
        let group_ids: Vec<String> = self.groups.keys().cloned().collect();
        for group_id in &group_ids {
            self.with_classic(now_ms, group_id, false, &mut effects, |group, ctx| {
                group.tick(ctx)
            });
        }
        // Kafka's cleanupGroupMetadata runs every offsets.retention.check.interval.ms.
        let interval = self.config.offsets_retention_check_interval_ms;
        let due = *self.next_cleanup_ms.get_or_insert(now_ms + interval);
        if now_ms < due {
            return effects;
        }
        self.next_cleanup_ms = Some(now_ms + interval);
        let mut records = Vec::new();
        for group_id in &group_ids {
            self.expire_group(now_ms, group_id, &mut records);
        }
        self.persist(&mut effects, records);
        effects
    }

    fn expire_group(&mut self, now_ms: i64, group_id: &str, records: &mut Vec<Record>) {
        let Some(Group::Classic(group)) = self.groups.get(group_id) else {
            return;
        };
        let rule = ExpiryRule {
            retention_ms: self.config.offsets_retention_ms,
            expire_while_rebalancing: self.config.expire_offsets_while_rebalancing,
        };
        let in_flight = self.committing(group_id);
        let expired = self.offsets.expired(group, now_ms, &rule, &in_flight);
        let removable = group.state == GroupState::Empty && group.pending_members.is_empty();
        for key in &expired {
            self.offsets.remove(group_id, key);
            records.push(offset_record(group_id, key, None));
        }
        let committing = self
            .pending_commits
            .values()
            .any(|p| p.group_id == group_id);
        if removable && !committing && !self.offsets.has_offsets(group_id) {
            self.remove_group(now_ms, group_id, records);
        }
    }

    /// The earliest time at which [`Coordinator::tick`] changes group membership (offset
    /// expiry is checked on every tick).
    pub fn next_deadline_ms(&self) -> Option<i64> {
        self.groups
            .values()
            .filter_map(|Group::Classic(g)| g.next_deadline_ms())
            .min()
    }
}

/// A classic group's members may lose offsets only when it is Empty, or when it is a
/// consumer group (whose subscriptions the coordinator can read); Dead is not found.
fn validate_offset_delete(group: &ClassicGroup) -> Result<(), ErrorCode> {
    match group.state {
        GroupState::Dead => Err(ErrorCode::GROUP_ID_NOT_FOUND),
        GroupState::Empty => Ok(()),
        _ if group.protocol_type.as_deref() == Some("consumer") => Ok(()),
        _ => Err(ErrorCode::NON_EMPTY_GROUP),
    }
}

/// Kafka's `isSubscribedToTopic`: when the topics are unknown, a consumer group counts as
/// subscribed to every topic (its offsets are not deleted), any other group to none.
fn is_subscribed(group: &ClassicGroup, subscribed: &Option<BTreeSet<String>>, topic: &str) -> bool {
    match subscribed {
        Some(topics) => topics.contains(topic),
        None => group.protocol_type.as_deref() == Some("consumer"),
    }
}

fn offset_record(group_id: &str, key: &PartitionKey, offset: Option<&CommittedOffset>) -> Record {
    Record::OffsetCommit {
        group_id: group_id.to_string(),
        topic: key.0.clone(),
        partition: key.1,
        value: offset.map(|o| OffsetCommitValue {
            offset: o.offset,
            leader_epoch: o.leader_epoch,
            metadata: o.metadata.clone(),
            commit_timestamp_ms: o.commit_timestamp_ms,
        }),
    }
}

fn commit_response(pending: &PendingCommit, append_error: ErrorCode) -> Response {
    let partitions = pending
        .partitions
        .iter()
        .map(|((topic, partition), error, _)| {
            let error = if *error == ErrorCode::NONE {
                append_error
            } else {
                *error
            };
            (topic.clone(), *partition, error)
        })
        .collect();
    Response::OffsetCommit(partitions)
}

fn fetched(key: &PartitionKey, offset: Option<&CommittedOffset>) -> FetchedOffset {
    FetchedOffset {
        topic: key.0.clone(),
        partition: key.1,
        offset: offset.map_or(-1, |o| o.offset),
        leader_epoch: offset.map_or(-1, |o| o.leader_epoch),
        metadata: offset.map(|o| o.metadata.clone()).unwrap_or_default(),
        error: ErrorCode::NONE,
    }
}
