//! kafkasim's group consumer: Kafka's classic consumer group protocol, client side.
//!
//! `subscribe(topics)`, then `poll`: the member finds its coordinator (FindCoordinator), joins
//! (JoinGroup, with the MEMBER_ID_REQUIRED round), and, when it leads the generation, runs the
//! assignor the coordinator chose over every member's subscription before SyncGroup. Its
//! partitions' committed offsets come from OffsetFetch (`auto.offset.reset` where none), and
//! records from the manual-assignment [`Consumer`], which this type drives. A background
//! task heartbeats (see `heartbeat`). Offsets are committed automatically every
//! `auto.commit.interval.ms` (the positions as of the previous poll), or with `commit_sync` /
//! `commit_async`.
//!
//! The decisions are pure and live apart: the member's state machine (`member`), commit
//! outcomes and the auto-commit clock (`commit`), the JoinGroup and SyncGroup bytes
//! (`assign`). This file moves bytes and timers.
//!
//! What the simulation records comes through a [`GroupListener`]: partitions revoked,
//! assigned and lost, each commit's invoke and completion with the generation and member id
//! it used. Callbacks run on the caller's task, inside `poll`, `commit_sync` and `close`, as
//! Kafka runs them inside `poll`.
//!
//! The member that ran the assignor watches the metadata it assigned with: each `poll`
//! refreshes the partition counts of the group's topics once they are older than
//! `metadata.max.age.ms`, and a count that changed (partitions were added) makes it rejoin,
//! so the group rebalances over the new partitions (Kafka's `assignmentSnapshot`).
//!
//! Departures from Kafka, on purpose: a rebalance started in `poll` runs to its end (bounded
//! by the rebalance timeout), even past the poll's timeout; the assignment is not checked
//! against the subscription; FENCED_INSTANCE_ID resets the member rather than failing it for
//! good.

mod assign;
mod commit;
mod config;
mod heartbeat;
mod member;
mod requests;

pub use assign::{join_protocols, leader_assignments, JoinState, JoinedMember};
pub use commit::{
    classify_code, classify_conn, classify_response, combine, retriable, AutoCommitClock,
    CommitError, CommitOutcome,
};
pub use config::{parse_strategy, rebalance_protocol, GroupConfig};
pub use member::{
    AssignmentSnapshot, JoinCompletion, JoinPrep, JoinStep, Member, MemberState, Reaction,
    GENERATION_NONE, MEMBER_ID_NONE,
};
pub use requests::{
    FIND_COORDINATOR_VERSION, HEARTBEAT_VERSION, JOIN_GROUP_VERSION, LEAVE_GROUP_VERSION,
    OFFSET_COMMIT_VERSION, OFFSET_FETCH_VERSION, SYNC_GROUP_VERSION,
};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cluster::ClusterClient;
use super::connection::{ConnError, Connection};
use super::consumer::{ConsumeError, Consumer, ConsumerRecord};
use crate::group::assignor::{Assignor, RebalanceProtocol, TopicPartition};
use crate::group::consumer_protocol::decode_assignment;
use crate::protocol::codes::ErrorCode;
use requests::{FoundCoordinator, Identity, JoinTimeouts};

/// Requests in flight at once on the coordinator connection (a heartbeat, a commit, a join).
const COORDINATOR_IN_FLIGHT_MAX: usize = 5;
/// JoinGroup rounds one poll may run (MEMBER_ID_REQUIRED, a cooperative second round,
/// retries) before it returns and lets the caller poll again.
const JOIN_ROUNDS_PER_POLL_MAX: usize = 16;
/// What Kafka adds to the rebalance timeout to wait for a JoinGroup answer.
const JOIN_TIMEOUT_SLACK: Duration = Duration::from_millis(5_000);

/// Who the member was when something happened, for the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    pub member_id: String,
    /// The generation the partitions in the callback belong to (for revoked and lost, the one
    /// they were assigned in).
    pub generation_id: i32,
    pub group_instance_id: Option<String>,
}

/// Which path a commit took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitKind {
    /// `commit_sync`.
    Sync,
    /// `commit_async`.
    Async,
    /// `enable.auto.commit` (every interval, before a rebalance, at close).
    Auto,
}

/// A commit as it starts: the history's invoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInvoke {
    /// Numbers this consumer's commits from 0; the completion carries the same id.
    pub id: u64,
    pub kind: CommitKind,
    pub offsets: Vec<(TopicPartition, i64)>,
    /// The generation and member id the commit is sent with (−1 and "" when the member is
    /// not in a stable generation: then it is not sent and fails).
    pub generation_id: i32,
    pub member_id: String,
}

/// A commit as it ended: the history's ok, fail or info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitReport {
    pub invoke: CommitInvoke,
    pub outcome: CommitOutcome,
    /// Each partition's code in the last answer (empty when none came).
    pub partition_errors: Vec<(TopicPartition, ErrorCode)>,
}

/// Callbacks for what the history records. Every method does nothing by default.
pub trait GroupListener: Send {
    /// Partitions given up in a rebalance (Kafka's `onPartitionsRevoked`).
    fn on_partitions_revoked(&mut self, _member: &MemberInfo, _partitions: &[TopicPartition]) {}
    /// Partitions newly assigned (Kafka's `onPartitionsAssigned`; called after every
    /// completed rebalance, possibly with none).
    fn on_partitions_assigned(&mut self, _member: &MemberInfo, _partitions: &[TopicPartition]) {}
    /// Partitions lost: the member was out of the group, someone else may own them.
    fn on_partitions_lost(&mut self, _member: &MemberInfo, _partitions: &[TopicPartition]) {}
    /// A commit starts.
    fn on_commit_invoked(&mut self, _commit: &CommitInvoke) {}
    /// A commit ended.
    fn on_commit_completed(&mut self, _report: &CommitReport) {}
}

/// A listener that records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoListener;

impl GroupListener for NoListener {}

/// Why a group consumer call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("{0}")]
    Consume(#[from] ConsumeError),
    #[error("{0}")]
    Conn(#[from] ConnError),
    /// The coordinator refused the join with an error the application must see.
    #[error("{api}: {code}")]
    Kafka { api: &'static str, code: ErrorCode },
    /// A peer's consumer-protocol bytes or protocol name could not be used.
    #[error("group protocol: {0}")]
    Protocol(String),
    #[error("the consumer is closed")]
    Closed,
}

/// The coordinator as last found.
pub(crate) struct Coordinator {
    /// Its broker id, for logs.
    #[allow(dead_code)]
    node_id: i32,
    conn: Connection,
}

/// What the consumer and its heartbeat task share; locked briefly, never across an await.
pub(crate) struct Shared {
    member: Member,
    coordinator: Option<Coordinator>,
    /// When `poll` was last called, in ms since the consumer started.
    last_poll_ms: u64,
    /// Set when the heartbeat task left the group because polls stopped.
    poll_expired: bool,
    closed: bool,
}

/// One JoinGroup + SyncGroup round's result.
enum Round {
    /// The assignment was taken (under the same lock as the SyncGroup answer, so nothing
    /// can reset the member in between): what changed, the partitions owned now, their
    /// generation and the member id.
    Assigned(JoinCompletion, Vec<TopicPartition>, i32, String),
    Step(JoinStep),
}

/// A consumer in a group.
pub struct GroupConsumer {
    config: GroupConfig,
    /// Eager or cooperative, from the configured assignors.
    protocol: RebalanceProtocol,
    /// The fetch path, with the owned partitions as its manual assignment.
    consumer: Consumer,
    /// For FindCoordinator.
    cluster: ClusterClient,
    shared: Arc<Mutex<Shared>>,
    subscription: BTreeSet<String>,
    listener: Box<dyn GroupListener>,
    auto_commit: AutoCommitClock,
    /// The consumer's monotonic time origin.
    started: Instant,
    reports_tx: mpsc::UnboundedSender<CommitReport>,
    reports_rx: mpsc::UnboundedReceiver<CommitReport>,
    /// Async commits whose report has not been delivered yet.
    async_pending: usize,
    next_commit_id: u64,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    /// The last assignment and its generation (the sticky assignor's user data; the
    /// generation revoked and lost partitions are reported with).
    previous: Vec<TopicPartition>,
    previous_generation: i32,
    /// The member id the last assignment was received with.
    previous_member_id: String,
    /// After a failed metadata refresh, when the leader may try again (`retry.backoff.ms`
    /// later), so a broker that does not answer is not asked on every poll.
    metadata_retry_at: Option<Instant>,
    closed: bool,
}

/// Finds the group's coordinator and connects to it; true when the shared state now has one.
pub(crate) async fn find_coordinator_into(
    shared: &Mutex<Shared>,
    cluster: &mut ClusterClient,
    group_id: &str,
    client_id: &str,
    timeout: Duration,
) -> bool {
    let Ok(FoundCoordinator::Found { node_id, addr }) =
        requests::find_coordinator(cluster, group_id).await
    else {
        return false;
    };
    match Connection::connect(addr, client_id, COORDINATOR_IN_FLIGHT_MAX, timeout).await {
        Ok(conn) => {
            shared.lock().unwrap().coordinator = Some(Coordinator { node_id, conn });
            true
        }
        Err(_) => false,
    }
}

/// Sends one OffsetCommit and applies what its answer says about the member.
async fn send_commit(
    shared: &Mutex<Shared>,
    conn: Connection,
    identity: &Identity,
    offsets: &[(TopicPartition, i64)],
    timeout: Duration,
) -> (CommitOutcome, Vec<(TopicPartition, ErrorCode)>) {
    match requests::offset_commit(&conn, identity, offsets, timeout).await {
        Err(error) => {
            shared.lock().unwrap().coordinator = None;
            (classify_conn(&error), Vec::new())
        }
        Ok(codes) => {
            let errors: Vec<ErrorCode> = codes.iter().map(|(_, code)| *code).collect();
            let outcome = classify_response(&errors);
            if let Some(code) = errors.iter().find(|code| **code != ErrorCode::NONE) {
                let mut state = shared.lock().unwrap();
                let reaction = state.member.on_commit_response(
                    identity.generation_id,
                    &identity.member_id,
                    *code,
                );
                if reaction == Reaction::CoordinatorUnknown {
                    state.coordinator = None;
                }
            }
            (outcome, codes)
        }
    }
}

impl GroupConsumer {
    /// A consumer of `config.group_id`; nothing is sent until `poll`.
    pub fn new(config: GroupConfig, listener: Box<dyn GroupListener>) -> GroupConsumer {
        let protocol = rebalance_protocol(&config.assignment_strategy);
        let consumer = Consumer::new(config.consumer.clone());
        let cluster = ClusterClient::new(
            config.consumer.bootstrap.clone(),
            &config.consumer.client_id,
            1,
            config.consumer.request_timeout,
        );
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let auto_commit = AutoCommitClock::new(config.auto_commit_interval.as_millis() as u64, 0);
        GroupConsumer {
            protocol,
            consumer,
            cluster,
            shared: Arc::new(Mutex::new(Shared {
                member: Member::new(),
                coordinator: None,
                last_poll_ms: 0,
                poll_expired: false,
                closed: false,
            })),
            subscription: BTreeSet::new(),
            listener,
            auto_commit,
            started: Instant::now(),
            reports_tx,
            reports_rx,
            async_pending: 0,
            next_commit_id: 0,
            heartbeat: None,
            previous: Vec::new(),
            previous_generation: GENERATION_NONE,
            previous_member_id: MEMBER_ID_NONE.to_string(),
            metadata_retry_at: None,
            closed: false,
            config,
        }
    }

    /// Subscribes to `topics` (replacing the subscription); a change makes the member
    /// rejoin at the next poll.
    pub fn subscribe(&mut self, topics: &[String]) {
        let topics: BTreeSet<String> = topics.iter().cloned().collect();
        if topics != self.subscription {
            self.subscription = topics;
            self.shared.lock().unwrap().member.request_rejoin();
        }
    }

    /// The member id the coordinator gave ("" when not in the group).
    pub fn member_id(&self) -> String {
        self.shared.lock().unwrap().member.member_id.clone()
    }

    /// The generation joined (−1 when not in one).
    pub fn generation_id(&self) -> i32 {
        self.shared.lock().unwrap().member.generation_id
    }

    /// Where the member is in the join protocol.
    pub fn state(&self) -> MemberState {
        self.shared.lock().unwrap().member.state
    }

    /// The partitions owned now, sorted.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.shared.lock().unwrap().member.owned.clone()
    }

    /// The next offset to fetch from a partition, if known.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.consumer.position(topic, partition)
    }

    /// Positions `auto.offset.reset` chose since the last call.
    pub fn take_resets(&mut self) -> Vec<(String, i32, i64)> {
        self.consumer.take_resets()
    }

    /// Whether the heartbeat task left the group because `max.poll.interval.ms` passed
    /// (cleared by reading it).
    pub fn take_poll_expired(&mut self) -> bool {
        std::mem::take(&mut self.shared.lock().unwrap().poll_expired)
    }

    /// Sets the next offset to fetch from an owned partition.
    pub fn seek(&mut self, topic: &str, partition: i32, offset: i64) {
        let owned = self.assignment();
        if owned.contains(&(topic.to_string(), partition)) {
            self.consumer.seek(topic, partition, offset);
        }
    }

    /// Stops fetching a partition until `resume`; its position is kept (and committed).
    pub fn pause(&mut self, topic: &str, partition: i32) {
        self.consumer.pause(topic, partition);
    }

    /// Fetches a paused partition again.
    pub fn resume(&mut self, topic: &str, partition: i32) {
        self.consumer.resume(topic, partition);
    }

    /// The paused partitions.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.consumer.paused()
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Who received the last assignment: revoked and lost partitions are reported as theirs.
    fn previous_member_info(&self) -> MemberInfo {
        MemberInfo {
            member_id: self.previous_member_id.clone(),
            generation_id: self.previous_generation,
            group_instance_id: self.config.group_instance_id.clone(),
        }
    }

    fn start_heartbeat(&mut self) {
        if self.heartbeat.is_some() {
            return;
        }
        let config = heartbeat::HeartbeatConfig {
            group_id: self.config.group_id.clone(),
            client_id: self.config.consumer.client_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            heartbeat_interval: self.config.heartbeat_interval,
            max_poll_interval: self.config.max_poll_interval,
            request_timeout: self.config.consumer.request_timeout,
            retry_backoff: self.config.retry_backoff,
        };
        let cluster = ClusterClient::new(
            self.config.consumer.bootstrap.clone(),
            &self.config.consumer.client_id,
            1,
            self.config.consumer.request_timeout,
        );
        self.heartbeat = Some(tokio::spawn(heartbeat::run(
            self.shared.clone(),
            config,
            cluster,
            self.started,
        )));
    }

    fn note_poll(&mut self) {
        let now_ms = self.now_ms();
        self.shared.lock().unwrap().last_poll_ms = now_ms;
    }

    /// Joins if needed, commits automatically when due, and returns records of the owned
    /// partitions, waiting up to `timeout` for some (a rebalance may take longer).
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>, GroupError> {
        if self.closed {
            return Err(GroupError::Closed);
        }
        let deadline = Instant::now() + timeout;
        self.start_heartbeat();
        self.note_poll();
        self.deliver_commit_reports();
        self.check_assignment_metadata().await;
        if !self.ensure_active_group(deadline).await? {
            return Ok(Vec::new());
        }
        self.note_poll();
        self.maybe_auto_commit();
        if !self.initialize_positions().await {
            let pause = self
                .config
                .retry_backoff
                .min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause).await;
            return Ok(Vec::new());
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        Ok(self.consumer.poll(remaining).await?)
    }

    /// On the member that assigned the current generation: refreshes the partition counts
    /// of the group's topics when the metadata is older than `metadata.max.age.ms`, and asks
    /// for a rebalance when they differ from the ones it assigned with (Kafka's
    /// `rejoinNeededOrPending`). A failed refresh is tried again `retry.backoff.ms` later;
    /// the counts then compared are the cached ones.
    async fn check_assignment_metadata(&mut self) {
        let Some(topics) = self.shared.lock().unwrap().member.watched_topics() else {
            return;
        };
        let now = Instant::now();
        let may_refresh = self.metadata_retry_at.is_none_or(|at| now >= at);
        if may_refresh
            && self
                .consumer
                .metadata_older_than(self.config.metadata_max_age)
        {
            let refreshed = self.consumer.refresh_partition_counts(&topics).await;
            self.metadata_retry_at = refreshed
                .is_err()
                .then(|| Instant::now() + self.config.retry_backoff);
        }
        let counts = self.consumer.known_partition_counts(&topics);
        self.shared.lock().unwrap().member.on_metadata(&counts);
    }

    /// Finds the coordinator unless known, retrying with backoff until `deadline` (at least
    /// once).
    async fn ensure_coordinator(&mut self, deadline: Instant) -> bool {
        loop {
            if self.shared.lock().unwrap().coordinator.is_some() {
                return true;
            }
            let found = find_coordinator_into(
                &self.shared,
                &mut self.cluster,
                &self.config.group_id,
                &self.config.consumer.client_id,
                self.config.consumer.request_timeout,
            )
            .await;
            if found {
                return true;
            }
            if Instant::now() + self.config.retry_backoff >= deadline {
                return false;
            }
            tokio::time::sleep(self.config.retry_backoff).await;
        }
    }

    fn coordinator_unknown(&self) {
        self.shared.lock().unwrap().coordinator = None;
    }

    /// Runs rebalance rounds until the member is stable; false when it gave up for this poll.
    async fn ensure_active_group(&mut self, deadline: Instant) -> Result<bool, GroupError> {
        if self.subscription.is_empty() {
            return Ok(true);
        }
        for _ in 0..JOIN_ROUNDS_PER_POLL_MAX {
            if !self.shared.lock().unwrap().member.needs_rejoin() {
                return Ok(true);
            }
            if !self.ensure_coordinator(deadline).await {
                return Ok(false);
            }
            if self.shared.lock().unwrap().member.needs_join_prepare {
                self.prepare_join().await;
            }
            let step = match self.join_and_sync().await? {
                Round::Assigned(completion, owned, generation, member_id) => {
                    self.complete_join(completion, owned, generation, member_id);
                    continue;
                }
                Round::Step(step) => step,
            };
            match step {
                JoinStep::RetryNow => {}
                JoinStep::RetryBackoff | JoinStep::CoordinatorUnknown => {
                    if step == JoinStep::CoordinatorUnknown {
                        self.coordinator_unknown();
                    }
                    if Instant::now() >= deadline {
                        return Ok(false);
                    }
                    tokio::time::sleep(self.config.retry_backoff).await;
                }
                JoinStep::Error(code) => {
                    return Err(GroupError::Kafka {
                        api: "JoinGroup/SyncGroup",
                        code,
                    })
                }
                JoinStep::Sync { .. } | JoinStep::Assigned => {
                    unreachable!("join_and_sync returns these as Round::Assigned")
                }
            }
        }
        Ok(!self.shared.lock().unwrap().member.needs_rejoin())
    }

    /// Before JoinGroup: commit (auto-commit), then give partitions up (Kafka's
    /// `onJoinPrepare`).
    async fn prepare_join(&mut self) {
        let stable = self
            .shared
            .lock()
            .unwrap()
            .member
            .generation_if_stable()
            .is_some();
        if self.config.enable_auto_commit && stable {
            let offsets = self.current_positions();
            self.commit_with_retries(offsets, CommitKind::Auto).await;
        }
        let info = self.previous_member_info();
        let (prep, owned) = {
            let mut state = self.shared.lock().unwrap();
            let prep = state.member.prepare_join(self.protocol, &self.subscription);
            (prep, state.member.owned.clone())
        };
        if !prep.lost.is_empty() {
            self.listener.on_partitions_lost(&info, &prep.lost);
        }
        if prep.revoke_callback {
            self.listener.on_partitions_revoked(&info, &prep.revoked);
        }
        self.consumer.assign(&owned);
    }

    /// One JoinGroup and, if it succeeds, one SyncGroup.
    async fn join_and_sync(&mut self) -> Result<Round, GroupError> {
        let (conn, identity, join_state) = {
            let mut state = self.shared.lock().unwrap();
            let Some(coordinator) = &state.coordinator else {
                return Ok(Round::Step(JoinStep::CoordinatorUnknown));
            };
            let conn = coordinator.conn.clone();
            if state.member.needs_join_prepare {
                // Reset since the loop prepared: prepare again first.
                return Ok(Round::Step(JoinStep::RetryNow));
            }
            state.member.join_sent();
            let identity = Identity {
                group_id: self.config.group_id.clone(),
                member_id: state.member.member_id.clone(),
                generation_id: state.member.generation_id,
                group_instance_id: self.config.group_instance_id.clone(),
            };
            let join_state = JoinState {
                topics: self.subscription.clone(),
                owned: state.member.owned.clone(),
                generation_id: if state.member.owned.is_empty() {
                    self.previous_generation
                } else {
                    state.member.generation_id
                },
                previous: self.previous.clone(),
            };
            (conn, identity, join_state)
        };
        let timeouts = JoinTimeouts {
            session: self.config.session_timeout,
            rebalance: self.config.rebalance_timeout(),
            request: self
                .config
                .consumer
                .request_timeout
                .max(self.config.rebalance_timeout() + JOIN_TIMEOUT_SLACK),
        };
        let protocols = join_protocols(&self.config.assignment_strategy, &join_state);
        let joined = match requests::join_group(&conn, &identity, timeouts, protocols).await {
            Ok(joined) => joined,
            Err(_) => return Ok(self.unanswered()),
        };
        let step = self.shared.lock().unwrap().member.on_join_response(
            joined.error,
            &joined.member_id,
            joined.generation_id,
            joined.protocol_name.as_deref(),
            &joined.leader,
        );
        let JoinStep::Sync {
            leader,
            protocol_name,
        } = step
        else {
            return Ok(Round::Step(step));
        };
        let assignments = if leader {
            match self.run_assignor(&protocol_name, &joined.members).await {
                Ok(assignments) => assignments,
                Err(error) => {
                    self.shared.lock().unwrap().member.on_join_unanswered();
                    return Err(error);
                }
            }
        } else {
            Vec::new()
        };
        let identity = Identity {
            member_id: joined.member_id.clone(),
            generation_id: joined.generation_id,
            ..identity
        };
        let answer = requests::sync_group(&conn, &identity, assignments, timeouts.request).await;
        let Ok((code, bytes)) = answer else {
            return Ok(self.unanswered());
        };
        let decoded = decode_assignment(&bytes).map(|(assignment, _)| assignment.partitions);
        let mut state = self.shared.lock().unwrap();
        match state.member.on_sync_response(code) {
            JoinStep::Assigned => {}
            step => return Ok(Round::Step(step)),
        }
        let Ok(assigned) = decoded else {
            // The leader's bytes are unreadable: own nothing and rebalance again.
            state.member.complete_join(&[], self.protocol);
            state.member.request_rejoin();
            return Err(GroupError::Protocol(format!(
                "unreadable assignment: {:?}",
                decoded.unwrap_err()
            )));
        };
        let completion = state.member.complete_join(&assigned, self.protocol);
        let owned = state.member.owned.clone();
        Ok(Round::Assigned(
            completion,
            owned,
            state.member.generation_id,
            state.member.member_id.clone(),
        ))
    }

    fn unanswered(&mut self) -> Round {
        self.shared.lock().unwrap().member.on_join_unanswered();
        Round::Step(JoinStep::CoordinatorUnknown)
    }

    /// The leader's assignments for SyncGroup.
    async fn run_assignor(
        &mut self,
        protocol_name: &str,
        members: &[JoinedMember],
    ) -> Result<Vec<(String, Vec<u8>)>, GroupError> {
        let assignor = Assignor::from_protocol_name(protocol_name).ok_or_else(|| {
            GroupError::Protocol(format!("the coordinator chose unknown {protocol_name:?}"))
        })?;
        let protocol_error = |e: crate::group::consumer_protocol::ConsumerProtocolError| {
            GroupError::Protocol(e.to_string())
        };
        let topics = assign::subscribed_topics(members).map_err(protocol_error)?;
        let counts = self.consumer.refresh_partition_counts(&topics).await?;
        let assignments = leader_assignments(assignor, members, &counts).map_err(protocol_error)?;
        // Remembered only once the assignments exist: a leader whose assignor failed rejoins.
        self.shared
            .lock()
            .unwrap()
            .member
            .assignor_ran(&topics, counts);
        Ok(assignments)
    }

    /// After SyncGroup: tell the listener and the fetcher (Kafka's `onJoinComplete`).
    fn complete_join(
        &mut self,
        completion: JoinCompletion,
        owned: Vec<TopicPartition>,
        generation: i32,
        member_id: String,
    ) {
        let revoked_info = self.previous_member_info();
        if !completion.revoked.is_empty() {
            self.listener
                .on_partitions_revoked(&revoked_info, &completion.revoked);
        }
        self.consumer.assign(&owned);
        self.previous = owned;
        self.previous_generation = generation;
        self.previous_member_id = member_id;
        self.auto_commit.reset(self.now_ms());
        let info = self.previous_member_info();
        self.listener
            .on_partitions_assigned(&info, &completion.added);
    }

    /// OffsetFetch for owned partitions without a position; false when that failed (then
    /// nothing is fetched this poll, so no partition is reset for want of its offset).
    async fn initialize_positions(&mut self) -> bool {
        let missing: Vec<TopicPartition> = self
            .assignment()
            .into_iter()
            .filter(|(topic, partition)| self.consumer.position(topic, *partition).is_none())
            .collect();
        if missing.is_empty() {
            return true;
        }
        match self.fetch_committed(&missing).await {
            Ok(committed) => {
                for ((topic, partition), offset) in committed {
                    if let Some(offset) = offset {
                        self.consumer.seek(&topic, partition, offset);
                    }
                }
                true
            }
            Err(_) => false,
        }
    }

    /// The committed offsets of `partitions` (`None` where nothing is committed).
    pub async fn committed(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<i64>>, GroupError> {
        let deadline = Instant::now() + self.config.consumer.request_timeout;
        loop {
            match self.fetch_committed(partitions).await {
                Ok(committed) => return Ok(committed),
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(_) => tokio::time::sleep(self.config.retry_backoff).await,
            }
        }
    }

    async fn fetch_committed(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<i64>>, GroupError> {
        let deadline = Instant::now() + self.config.retry_backoff;
        if !self.ensure_coordinator(deadline).await {
            return Err(ConnError::Connect("no group coordinator found".into()).into());
        }
        let Some(conn) = self
            .shared
            .lock()
            .unwrap()
            .coordinator
            .as_ref()
            .map(|c| c.conn.clone())
        else {
            return Err(ConnError::Disconnected.into());
        };
        let timeout = self.config.consumer.request_timeout;
        let (code, offsets) =
            match requests::offset_fetch(&conn, &self.config.group_id, partitions, timeout).await {
                Ok(answer) => answer,
                Err(error) => {
                    self.coordinator_unknown();
                    return Err(error.into());
                }
            };
        let coordinator_moved = |code: ErrorCode| {
            code == ErrorCode::NOT_COORDINATOR || code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        };
        if code != ErrorCode::NONE {
            if coordinator_moved(code) {
                self.coordinator_unknown();
            }
            return Err(GroupError::Kafka {
                api: "OffsetFetch",
                code,
            });
        }
        let mut committed = BTreeMap::new();
        for partition in partitions {
            match offsets.get(partition) {
                Some(Ok(offset)) => {
                    committed.insert(partition.clone(), *offset);
                }
                Some(Err(code)) => {
                    return Err(GroupError::Kafka {
                        api: "OffsetFetch",
                        code: *code,
                    })
                }
                None => {
                    return Err(GroupError::Protocol(format!(
                        "OffsetFetch did not answer for {partition:?}"
                    )))
                }
            }
        }
        Ok(committed)
    }

    /// The positions of owned partitions that have one: what a commit of "the current
    /// positions" sends (the offset after the last record handed out).
    pub fn current_positions(&self) -> Vec<(TopicPartition, i64)> {
        self.assignment()
            .into_iter()
            .filter_map(|(topic, partition)| {
                let offset = self.consumer.position(&topic, partition)?;
                Some(((topic, partition), offset))
            })
            .collect()
    }

    fn invoke(&mut self, kind: CommitKind, offsets: Vec<(TopicPartition, i64)>) -> CommitInvoke {
        let (generation_id, member_id) = self
            .shared
            .lock()
            .unwrap()
            .member
            .generation_if_stable()
            .unwrap_or((GENERATION_NONE, MEMBER_ID_NONE.to_string()));
        let invoke = CommitInvoke {
            id: self.next_commit_id,
            kind,
            offsets,
            generation_id,
            member_id,
        };
        self.next_commit_id += 1;
        self.listener.on_commit_invoked(&invoke);
        invoke
    }

    /// What to send a commit on, or why it cannot be sent.
    fn commit_target(
        &self,
        invoke: &CommitInvoke,
    ) -> Result<(Connection, Identity), CommitOutcome> {
        let mut state = self.shared.lock().unwrap();
        let current = state.member.generation_if_stable();
        if invoke.generation_id == GENERATION_NONE
            || current != Some((invoke.generation_id, invoke.member_id.clone()))
        {
            return Err(CommitOutcome::Fail(CommitError::NotInGroup));
        }
        // A connection already broken would refuse the request unsent; forget it so the
        // heartbeat task (or a retry) finds the coordinator again.
        if state
            .coordinator
            .as_ref()
            .is_some_and(|c| c.conn.is_closed())
        {
            state.coordinator = None;
        }
        let Some(coordinator) = &state.coordinator else {
            return Err(CommitOutcome::Fail(CommitError::CoordinatorUnknown));
        };
        let identity = Identity {
            group_id: self.config.group_id.clone(),
            member_id: invoke.member_id.clone(),
            generation_id: invoke.generation_id,
            group_instance_id: self.config.group_instance_id.clone(),
        };
        Ok((coordinator.conn.clone(), identity))
    }

    /// Commits `offsets` (the current positions when `None`) and waits for the outcome,
    /// retrying coordinator and transport errors for up to `request.timeout.ms`.
    pub async fn commit_sync(
        &mut self,
        offsets: Option<Vec<(TopicPartition, i64)>>,
    ) -> CommitReport {
        let offsets = offsets.unwrap_or_else(|| self.current_positions());
        self.commit_with_retries(offsets, CommitKind::Sync).await
    }

    async fn commit_with_retries(
        &mut self,
        offsets: Vec<(TopicPartition, i64)>,
        kind: CommitKind,
    ) -> CommitReport {
        let invoke = self.invoke(kind, offsets);
        let deadline = Instant::now() + self.config.consumer.request_timeout;
        let mut outcome: Option<CommitOutcome> = None;
        let mut partition_errors = Vec::new();
        loop {
            let attempt = if invoke.offsets.is_empty() {
                CommitOutcome::Ok
            } else {
                match self.commit_target(&invoke) {
                    Err(outcome) => outcome,
                    Ok((conn, identity)) => {
                        let timeout = self.config.consumer.request_timeout;
                        let (attempt, codes) =
                            send_commit(&self.shared, conn, &identity, &invoke.offsets, timeout)
                                .await;
                        partition_errors = codes;
                        attempt
                    }
                }
            };
            let combined = match outcome.take() {
                Some(earlier) => combine(earlier, attempt),
                None => attempt,
            };
            let again = retriable(&combined) && Instant::now() < deadline;
            outcome = Some(combined);
            if !again {
                break;
            }
            tokio::time::sleep(self.config.retry_backoff).await;
            self.ensure_coordinator(deadline).await;
        }
        let report = CommitReport {
            invoke,
            outcome: outcome.expect("at least one attempt"),
            partition_errors,
        };
        self.listener.on_commit_completed(&report);
        report
    }

    /// Commits `offsets` (the current positions when `None`) without waiting; the outcome
    /// reaches the listener in a later `poll`, `commit_sync` or `close`. Returns the
    /// commit's id.
    pub fn commit_async(&mut self, offsets: Option<Vec<(TopicPartition, i64)>>) -> u64 {
        let offsets = offsets.unwrap_or_else(|| self.current_positions());
        self.commit_async_kind(offsets, CommitKind::Async)
    }

    fn commit_async_kind(&mut self, offsets: Vec<(TopicPartition, i64)>, kind: CommitKind) -> u64 {
        let invoke = self.invoke(kind, offsets);
        let id = invoke.id;
        self.async_pending += 1;
        let reports = self.reports_tx.clone();
        let target = if invoke.offsets.is_empty() {
            Err(CommitOutcome::Ok)
        } else {
            self.commit_target(&invoke)
        };
        match target {
            Err(outcome) => {
                let _ = reports.send(CommitReport {
                    invoke,
                    outcome,
                    partition_errors: Vec::new(),
                });
            }
            Ok((conn, identity)) => {
                let shared = self.shared.clone();
                let timeout = self.config.consumer.request_timeout;
                tokio::spawn(async move {
                    let (outcome, partition_errors) =
                        send_commit(&shared, conn, &identity, &invoke.offsets, timeout).await;
                    let _ = reports.send(CommitReport {
                        invoke,
                        outcome,
                        partition_errors,
                    });
                });
            }
        }
        id
    }

    /// Hands finished async commits to the listener, in the order they finished.
    fn deliver_commit_reports(&mut self) {
        while let Ok(report) = self.reports_rx.try_recv() {
            self.deliver(report);
        }
    }

    fn deliver(&mut self, report: CommitReport) {
        assert!(self.async_pending > 0, "an async commit reported twice");
        self.async_pending -= 1;
        if report.invoke.kind == CommitKind::Auto && retriable(&report.outcome) {
            let backoff = self.config.retry_backoff.as_millis() as u64;
            self.auto_commit.retry_after(self.now_ms(), backoff);
        }
        self.listener.on_commit_completed(&report);
    }

    /// Sends an auto-commit of the current positions when the interval has passed.
    fn maybe_auto_commit(&mut self) {
        let now_ms = self.now_ms();
        if !self.config.enable_auto_commit || !self.auto_commit.is_due(now_ms) {
            return;
        }
        self.auto_commit.reset(now_ms);
        let offsets = self.current_positions();
        self.commit_async_kind(offsets, CommitKind::Auto);
    }

    /// Leaves the group: commits the positions when auto-commit is on, waits for async
    /// commits, gives the partitions up (revoked, or lost when the member was already out),
    /// and sends LeaveGroup unless the member is static (Kafka's `close`).
    pub async fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let stable = self
            .shared
            .lock()
            .unwrap()
            .member
            .generation_if_stable()
            .is_some();
        if self.config.enable_auto_commit && stable {
            let offsets = self.current_positions();
            self.commit_with_retries(offsets, CommitKind::Auto).await;
        }
        let deadline = Instant::now() + self.config.consumer.request_timeout;
        while self.async_pending > 0 {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, self.reports_rx.recv()).await {
                Ok(Some(report)) => self.deliver(report),
                _ => break,
            }
        }
        let info = self.previous_member_info();
        let (owned, in_generation, leave) = {
            let mut state = self.shared.lock().unwrap();
            let in_generation = state.member.generation_id != GENERATION_NONE
                && state.member.member_id != MEMBER_ID_NONE;
            let leave = (self.config.group_instance_id.is_none()
                && in_generation
                && state.member.state != MemberState::Unjoined)
                .then(|| state.coordinator.as_ref().map(|c| c.conn.clone()))
                .flatten()
                .map(|conn| {
                    let identity = Identity {
                        group_id: self.config.group_id.clone(),
                        member_id: state.member.member_id.clone(),
                        generation_id: state.member.generation_id,
                        group_instance_id: None,
                    };
                    (conn, identity)
                });
            (state.member.release_all(), in_generation, leave)
        };
        if in_generation {
            self.listener.on_partitions_revoked(&info, &owned);
        } else if !owned.is_empty() {
            self.listener.on_partitions_lost(&info, &owned);
        }
        if let Some((conn, identity)) = leave {
            let timeout = self.config.consumer.request_timeout;
            let _ = requests::leave_group(&conn, &identity, timeout).await;
        }
        {
            let mut state = self.shared.lock().unwrap();
            state.member.leave();
            state.closed = true;
        }
        self.consumer.assign(&[]);
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}
