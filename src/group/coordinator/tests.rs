//! The coordinator's behaviour, case by case. Where a test ports a case of Kafka's
//! `group-coordinator` module it is named after it and cites the Java test method; the
//! assertions are written anew against this state machine.

use std::collections::BTreeMap;

use super::api::*;
use super::state::GroupState;
use super::{Coordinator, CoordinatorConfig, Group};
use crate::protocol::codes::ErrorCode;

mod load;
mod property;

const SESSION_MS: i32 = 10_000;
const REBALANCE_MS: i32 = 60_000;
const DELAY_MS: i64 = 3_000;

/// A coordinator plus the shell's side: time, tokens, and every response received, checking
/// that no request is answered twice.
pub(super) struct Harness {
    pub coordinator: Coordinator,
    pub now_ms: i64,
    next_token: u64,
    pub answers: BTreeMap<RequestToken, Response>,
    pub persisted: Vec<PersistBatch>,
    /// Every record ever asked to be persisted.
    pub records_seen: Vec<super::records::Record>,
}

impl Harness {
    pub fn new(config: CoordinatorConfig) -> Harness {
        let mut coordinator = Coordinator::new(CoordinatorConfig {
            offsets_topic_partitions: 1,
            ..config
        });
        coordinator.begin_loading(0);
        coordinator.finish_loading(0, 1_000);
        Harness {
            coordinator,
            now_ms: 1_000,
            next_token: 0,
            answers: BTreeMap::new(),
            persisted: Vec::new(),
            records_seen: Vec::new(),
        }
    }

    /// A fresh coordinator with this one's config that loads partition 0 from every record
    /// this one persisted, in order, at this harness's time (a failover to another broker).
    pub fn reloaded(&self) -> Harness {
        assert!(self.persisted.is_empty(), "every batch is persisted first");
        let mut coordinator = Coordinator::new(self.coordinator.config.clone());
        coordinator.begin_loading(0);
        for record in &self.records_seen {
            coordinator.replay(0, record);
        }
        coordinator.finish_loading(0, self.now_ms);
        Harness {
            coordinator,
            now_ms: self.now_ms,
            next_token: 0,
            answers: BTreeMap::new(),
            persisted: Vec::new(),
            records_seen: self.records_seen.clone(),
        }
    }

    pub fn token(&mut self) -> RequestToken {
        self.next_token += 1;
        RequestToken(self.next_token)
    }

    pub fn absorb(&mut self, effects: Effects) {
        for (token, response) in effects.responses {
            let previous = self.answers.insert(token, response);
            assert!(previous.is_none(), "request {token:?} answered twice");
        }
        for batch in &effects.persist {
            self.records_seen.extend(batch.records.iter().cloned());
        }
        self.persisted.extend(effects.persist);
    }

    pub fn join(&mut self, request: &JoinRequest) -> RequestToken {
        let token = self.token();
        let effects = self.coordinator.join(self.now_ms, token, request);
        self.absorb(effects);
        token
    }

    pub fn sync(&mut self, request: &SyncRequest) -> RequestToken {
        let token = self.token();
        let effects = self.coordinator.sync(self.now_ms, token, request);
        self.absorb(effects);
        token
    }

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> ErrorCode {
        let token = self.token();
        let request = HeartbeatRequest {
            group_id: "g".into(),
            generation_id: generation,
            member_id: member_id.into(),
            group_instance_id: instance.map(String::from),
        };
        let effects = self.coordinator.heartbeat(self.now_ms, token, &request);
        self.absorb(effects);
        match &self.answers[&token] {
            Response::Heartbeat(error) => *error,
            other => panic!("not a heartbeat answer: {other:?}"),
        }
    }

    pub fn leave(&mut self, members: &[LeavingMember]) -> LeaveResponse {
        let token = self.token();
        let effects = self.coordinator.leave(self.now_ms, token, "g", members);
        self.absorb(effects);
        match &self.answers[&token] {
            Response::Leave(response) => response.clone(),
            other => panic!("not a leave answer: {other:?}"),
        }
    }

    pub fn commit(&mut self, request: &CommitRequest) -> RequestToken {
        let token = self.token();
        let effects = self.coordinator.commit_offsets(self.now_ms, token, request);
        self.absorb(effects);
        token
    }

    /// Reports every outstanding persist batch as appended with `error`.
    pub fn persist_all(&mut self, error: ErrorCode) {
        for batch in std::mem::take(&mut self.persisted) {
            let effects = self
                .coordinator
                .records_persisted(self.now_ms, batch.token, error);
            self.absorb(effects);
        }
    }

    pub fn advance(&mut self, ms: i64) {
        self.now_ms += ms;
        let effects = self.coordinator.tick(self.now_ms);
        self.absorb(effects);
    }

    pub fn join_answer(&self, token: RequestToken) -> Option<&JoinResponse> {
        match self.answers.get(&token)? {
            Response::Join(response) => Some(response),
            other => panic!("not a join answer: {other:?}"),
        }
    }

    pub fn sync_answer(&self, token: RequestToken) -> Option<&SyncResponse> {
        match self.answers.get(&token)? {
            Response::Sync(response) => Some(response),
            other => panic!("not a sync answer: {other:?}"),
        }
    }

    pub fn commit_answer(&self, token: RequestToken) -> Option<Vec<ErrorCode>> {
        match self.answers.get(&token)? {
            Response::OffsetCommit(partitions) => Some(partitions.iter().map(|p| p.2).collect()),
            other => panic!("not a commit answer: {other:?}"),
        }
    }

    pub fn state(&self) -> GroupState {
        match self.coordinator.group("g") {
            Some(Group::Classic(group)) => group.state,
            None => GroupState::Dead,
        }
    }

    pub fn classic(&self) -> &super::classic::ClassicGroup {
        match self.coordinator.group("g") {
            Some(Group::Classic(group)) => group,
            None => panic!("no group g"),
        }
    }

    /// The two-step join of a new dynamic member (KIP-394): returns its id and the held join.
    pub fn join_new(&mut self, client: &str) -> (String, RequestToken) {
        let first = self.join(&join_request("", None));
        let answer = self.join_answer(first).expect("answered at once").clone();
        assert_eq!(answer.error, ErrorCode::MEMBER_ID_REQUIRED);
        assert!(
            answer.member_id.starts_with("client-"),
            "{client}: {}",
            answer.member_id
        );
        let second = self.join(&join_request(&answer.member_id, None));
        (answer.member_id, second)
    }

    /// Ticks in steps of the initial delay until `token` is answered.
    pub fn advance_until_answered(&mut self, token: RequestToken) {
        for _ in 0..100 {
            if self.answers.contains_key(&token) {
                return;
            }
            self.advance(DELAY_MS);
        }
        panic!("{token:?} never answered");
    }

    /// A Stable group of `n` dynamic members; returns their ids (leader first) and generation.
    pub fn stable_group(&mut self, n: usize) -> (Vec<String>, i32) {
        let joined: Vec<(String, RequestToken)> = (0..n).map(|_| self.join_new("client")).collect();
        self.advance_until_answered(joined[0].1);
        let leader = self.join_answer(joined[0].1).unwrap().clone();
        assert_eq!(leader.error, ErrorCode::NONE);
        assert_eq!(leader.members.len(), n, "the leader sees every member");
        let mut ids = Vec::new();
        for (id, token) in &joined {
            let answer = self.join_answer(*token).expect("all answered together");
            assert_eq!(answer.generation_id, leader.generation_id);
            assert_eq!(answer.leader, leader.leader);
            ids.push(id.clone());
        }
        ids.sort_by_key(|id| *id != leader.leader);
        let assignments = ids
            .iter()
            .map(|id| (id.clone(), id.as_bytes().to_vec()))
            .collect();
        let sync = self.sync(&sync_request(&ids[0], leader.generation_id, assignments));
        assert!(
            self.sync_answer(sync).is_none(),
            "held until the assignment is persisted"
        );
        assert_eq!(self.state(), GroupState::CompletingRebalance);
        self.persist_all(ErrorCode::NONE);
        assert_eq!(self.sync_answer(sync).unwrap().error, ErrorCode::NONE);
        assert_eq!(self.state(), GroupState::Stable);
        (ids, leader.generation_id)
    }
}

pub(super) fn join_request(member_id: &str, instance: Option<&str>) -> JoinRequest {
    JoinRequest {
        group_id: "g".into(),
        member_id: member_id.into(),
        group_instance_id: instance.map(String::from),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        protocol_type: "consumer".into(),
        protocols: vec![
            ("range".into(), b"range-md".to_vec()),
            ("roundrobin".into(), b"rr-md".to_vec()),
        ],
        version: 7,
    }
}

pub(super) fn sync_request(
    member_id: &str,
    generation: i32,
    assignments: Vec<(String, Vec<u8>)>,
) -> SyncRequest {
    SyncRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member_id.into(),
        group_instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments,
    }
}

fn commit_request(member_id: &str, generation: i32, offset: i64) -> CommitRequest {
    CommitRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member_id.into(),
        group_instance_id: None,
        partitions: vec![PartitionCommit {
            topic: "t".into(),
            partition: 0,
            offset,
            leader_epoch: 3,
            metadata: Some("m".into()),
        }],
        version: 8,
    }
}

fn harness() -> Harness {
    Harness::new(CoordinatorConfig::default())
}

// ----- JoinGroup -----------------------------------------------------------------------

// GroupMetadataManagerTest.testJoinGroupShouldReceiveErrorIfGroupOverMaxSize
#[test]
fn join_group_should_receive_error_if_group_over_max_size() {
    let mut h = Harness::new(CoordinatorConfig {
        group_max_size: 2,
        ..CoordinatorConfig::default()
    });
    h.join_new("client");
    h.join_new("client");
    let third = h.join(&join_request("", None));
    let answer = h.join_answer(third).unwrap();
    // The third gets a member id (MEMBER_ID_REQUIRED) but cannot join with it.
    let second = h.join(&join_request(&answer.member_id.clone(), None));
    assert_eq!(
        h.join_answer(second).unwrap().error,
        ErrorCode::GROUP_MAX_SIZE_REACHED
    );
    assert_eq!(h.classic().members.len(), 2);
}

// GroupMetadataManagerTest.testJoinGroupSessionTimeoutTooSmall / TooLarge
#[test]
fn join_group_session_timeout_out_of_bounds() {
    let mut h = harness();
    for session in [5_999, 1_800_001] {
        let mut request = join_request("", None);
        request.session_timeout_ms = session;
        let token = h.join(&request);
        assert_eq!(
            h.join_answer(token).unwrap().error,
            ErrorCode::INVALID_SESSION_TIMEOUT
        );
    }
}

// GroupMetadataManagerTest.testJoinGroupUnknownConsumerNewGroup
#[test]
fn join_group_unknown_consumer_new_group() {
    let mut h = harness();
    let token = h.join(&join_request("client-77", None));
    assert_eq!(
        h.join_answer(token).unwrap().error,
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    assert!(
        h.coordinator.group("g").is_none(),
        "no group made for an unknown member"
    );
}

// GroupMetadataManagerTest.testJoinGroupWithEmptyProtocolType / WithEmptyGroupProtocol /
// testJoinGroupInconsistentProtocolType / testJoinGroupInconsistentGroupProtocol
#[test]
fn join_group_inconsistent_protocols() {
    let mut h = harness();
    let mut request = join_request("", None);
    request.protocol_type = String::new();
    let t = h.join(&request);
    assert_eq!(
        h.join_answer(t).unwrap().error,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
    let mut request = join_request("", None);
    request.protocols.clear();
    let t = h.join(&request);
    assert_eq!(
        h.join_answer(t).unwrap().error,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );

    h.stable_group(1);
    let mut request = join_request("", None);
    request.protocol_type = "connect".into();
    let t = h.join(&request);
    assert_eq!(
        h.join_answer(t).unwrap().error,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
    let mut request = join_request("", None);
    request.protocols = vec![("sticky".into(), vec![])];
    let t = h.join(&request);
    assert_eq!(
        h.join_answer(t).unwrap().error,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
}

// GroupMetadataManagerTest.testJoinGroupRequireKnownMemberId (and the v3 path without it)
#[test]
fn join_group_require_known_member_id() {
    let mut h = harness();
    let t = h.join(&join_request("", None));
    let answer = h.join_answer(t).unwrap().clone();
    assert_eq!(answer.error, ErrorCode::MEMBER_ID_REQUIRED);
    assert_eq!(answer.member_id, "client-1", "ids are deterministic");
    assert_eq!(h.state(), GroupState::Empty);
    assert_eq!(h.classic().pending_members.len(), 1);

    // v3 joins at once, without the extra round.
    let mut old = join_request("", None);
    old.version = 3;
    let t = h.join(&old);
    assert!(h.join_answer(t).is_none(), "held for the join phase");
    assert_eq!(h.state(), GroupState::PreparingRebalance);
}

// GroupMetadataManagerTest.testNewMemberTimeoutCompletion-like: a pending id lapses after the
// session timeout and no longer counts.
#[test]
fn pending_member_lapses_after_session_timeout() {
    let mut h = harness();
    let t = h.join(&join_request("", None));
    let id = h.join_answer(t).unwrap().member_id.clone();
    h.advance(i64::from(SESSION_MS));

    assert!(
        h.coordinator.group("g").is_none(),
        "an Empty group with nothing is cleaned up"
    );
    let t = h.join(&join_request(&id, None));
    assert_eq!(
        h.join_answer(t).unwrap().error,
        ErrorCode::UNKNOWN_MEMBER_ID
    );
}

// GroupMetadataManagerTest.testDelayInitialRebalanceByGroupInitialRebalanceDelayOnEmptyGroup
#[test]
fn delay_initial_rebalance_on_empty_group() {
    let mut h = harness();
    let (_, t) = h.join_new("client");
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    h.advance(DELAY_MS - 1);
    assert!(h.join_answer(t).is_none(), "held during the initial delay");
    h.advance(1);
    let answer = h.join_answer(t).unwrap();
    assert_eq!(answer.error, ErrorCode::NONE);
    assert_eq!(answer.generation_id, 1);
    assert_eq!(answer.protocol_name.as_deref(), Some("range"));
    assert_eq!(h.state(), GroupState::CompletingRebalance);
}

// GroupMetadataManagerTest.testDelayRebalanceUptoRebalanceTimeout
#[test]
fn delay_rebalance_up_to_rebalance_timeout() {
    let mut h = Harness::new(CoordinatorConfig::default());
    let mut first = join_request("", None);
    first.version = 3;
    first.rebalance_timeout_ms = 7_000;
    let t1 = h.join(&first);
    h.advance(DELAY_MS - 1);
    let t2 = h.join(&first);
    h.advance(1); // the delay expires with a new member: extended by min(3000, 4000 left)
    assert!(h.join_answer(t1).is_none());
    h.advance(DELAY_MS - 1);
    let t3 = h.join(&first);
    h.advance(1); // extended again, by the 1000 ms left of the rebalance timeout
    assert!(h.join_answer(t1).is_none());
    h.advance(1_000);
    for t in [t1, t2, t3] {
        assert_eq!(h.join_answer(t).unwrap().generation_id, 1);
    }
}

// GroupMetadataManagerTest.testJoinGroupCompleteWhenAllMembersJoined (after the first
// generation no delay applies: the phase ends when the last known member rejoins)
#[test]
fn join_group_completes_when_all_members_joined() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    let (new_id, t_new) = h.join_new("client");
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert_eq!(
        h.heartbeat(&ids[1], None, generation),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let t0 = h.join(&join_request(&ids[0], None));
    assert!(h.join_answer(t_new).is_none());
    let t1 = h.join(&join_request(&ids[1], None));
    for t in [t0, t1, t_new] {
        assert_eq!(h.join_answer(t).unwrap().generation_id, generation + 1);
    }
    assert_eq!(h.join_answer(t0).unwrap().members.len(), 3);
    assert!(
        h.join_answer(t1).unwrap().members.is_empty(),
        "followers get no member list"
    );
    assert!(h.classic().members.contains_key(&new_id));
}

// GroupMetadataManagerTest.testJoinGroupFromUnchangedFollowerDoesNotRebalance
#[test]
fn join_group_from_unchanged_follower_does_not_rebalance() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    let t = h.join(&join_request(&ids[1], None));
    let answer = h.join_answer(t).unwrap();
    assert_eq!(answer.generation_id, generation);
    assert_eq!(h.state(), GroupState::Stable);
}

// GroupMetadataManagerTest.testJoinGroupFromUnchangedLeaderShouldRebalance
#[test]
fn join_group_from_unchanged_leader_should_rebalance() {
    let mut h = harness();
    let (ids, _) = h.stable_group(2);
    let t = h.join(&join_request(&ids[0], None));
    assert!(h.join_answer(t).is_none());
    assert_eq!(h.state(), GroupState::PreparingRebalance);
}

// GroupMetadataManagerTest.testJoinGroupProtocolTypeIsNotProvidedWhenAnErrorOccurs-like:
// protocol selection by vote (ClassicGroupTest.testSelectProtocol)
#[test]
fn select_protocol_by_vote() {
    let mut h = harness();
    let mut a = join_request("", None);
    a.version = 3;
    a.protocols = vec![("range".into(), vec![1]), ("roundrobin".into(), vec![2])];
    let mut b = a.clone();
    b.protocols = vec![("roundrobin".into(), vec![3]), ("range".into(), vec![4])];
    let mut c = a.clone();
    c.protocols = vec![
        ("roundrobin".into(), vec![5]),
        ("sticky".into(), vec![6]),
        ("range".into(), vec![7]),
    ];
    let ta = h.join(&a);
    h.join(&b);
    h.join(&c);
    h.advance_until_answered(ta);
    let answer = h.join_answer(ta).unwrap();
    assert_eq!(
        answer.protocol_name.as_deref(),
        Some("roundrobin"),
        "two votes to one"
    );
    let metadata: Vec<Vec<u8>> = answer.members.iter().map(|m| m.metadata.clone()).collect();
    assert_eq!(
        metadata,
        vec![vec![2], vec![3], vec![5]],
        "each member's metadata for the winner"
    );
}

// ----- SyncGroup -----------------------------------------------------------------------

// GroupMetadataManagerTest.testSyncGroupFromUnknownGroup / FromUnknownMember / FromIllegalGeneration
#[test]
fn sync_group_errors() {
    let mut h = harness();
    let t = h.sync(&sync_request("x", 1, vec![]));
    assert_eq!(
        h.sync_answer(t).unwrap().error,
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    let (ids, generation) = h.stable_group(1);
    let t = h.sync(&sync_request("x", generation, vec![]));
    assert_eq!(
        h.sync_answer(t).unwrap().error,
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    let t = h.sync(&sync_request(&ids[0], generation + 1, vec![]));
    assert_eq!(
        h.sync_answer(t).unwrap().error,
        ErrorCode::ILLEGAL_GENERATION
    );
    let mut wrong = sync_request(&ids[0], generation, vec![]);
    wrong.protocol_name = Some("roundrobin".into());
    let t = h.sync(&wrong);
    assert_eq!(
        h.sync_answer(t).unwrap().error,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
}

// GroupMetadataManagerTest.testSyncGroupFollowerAfterLeader / testSyncGroupLeaderAfterFollower
#[test]
fn sync_group_follower_waits_for_leader() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    // Rebalance again; the follower syncs first and is held until the leader syncs.
    let t0 = h.join(&join_request(&ids[0], None));
    let t1 = h.join(&join_request(&ids[1], None));
    let generation = generation + 1;
    assert_eq!(h.join_answer(t0).unwrap().generation_id, generation);
    assert!(h.join_answer(t1).is_some());
    let follower = h.sync(&sync_request(&ids[1], generation, vec![]));
    assert!(h.sync_answer(follower).is_none());
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    let assignment = vec![(ids[1].clone(), b"p1".to_vec())];
    let leader = h.sync(&sync_request(&ids[0], generation, assignment));
    assert!(
        h.sync_answer(follower).is_none(),
        "not before the assignment is persisted"
    );
    h.persist_all(ErrorCode::NONE);
    assert_eq!(h.sync_answer(follower).unwrap().assignment, b"p1");
    assert_eq!(
        h.sync_answer(leader).unwrap().assignment,
        b"",
        "no share named: empty"
    );
    assert_eq!(h.state(), GroupState::Stable);
    // A follower syncing after the leader gets its assignment at once.
    let again = h.sync(&sync_request(&ids[1], generation, vec![]));
    assert_eq!(h.sync_answer(again).unwrap().assignment, b"p1");
}

// GroupMetadataManagerTest.testSyncGroupLeaderAfterFollower with a failed store: the held
// syncs get the mapped error and the group rebalances.
#[test]
fn sync_group_store_failure_rebalances() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    let t0 = h.join(&join_request(&ids[0], None));
    let t1 = h.join(&join_request(&ids[1], None));
    assert!(h.join_answer(t0).is_some() && h.join_answer(t1).is_some());
    let follower = h.sync(&sync_request(&ids[1], generation + 1, vec![]));
    let assignment = vec![(ids[1].clone(), b"x".to_vec())];
    let leader = h.sync(&sync_request(&ids[0], generation + 1, assignment));
    h.persist_all(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    for t in [follower, leader] {
        assert_eq!(h.sync_answer(t).unwrap().error, ErrorCode::NOT_COORDINATOR);
    }
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert!(h
        .classic()
        .members
        .values()
        .all(|m| m.assignment.is_empty()));
}

// GroupMetadataManagerTest.testSyncGroupFromPreparingRebalance-like
#[test]
fn sync_group_during_preparing_rebalance() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    h.join(&join_request(&ids[0], None));
    let t = h.sync(&sync_request(&ids[1], generation, vec![]));
    assert_eq!(
        h.sync_answer(t).unwrap().error,
        ErrorCode::REBALANCE_IN_PROGRESS
    );
}

// GroupMetadataManagerTest.testLeaderFailureInSyncGroup: the leader never syncs; after the
// rebalance timeout the members that did not sync are removed and the held syncs are told
// to rejoin.
#[test]
fn leader_failure_in_sync_group() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    let t0 = h.join(&join_request(&ids[0], None));
    let t1 = h.join(&join_request(&ids[1], None));
    assert!(h.join_answer(t0).is_some() && h.join_answer(t1).is_some());
    let follower = h.sync(&sync_request(&ids[1], generation + 1, vec![]));
    h.advance(i64::from(REBALANCE_MS));
    assert_eq!(
        h.sync_answer(follower).unwrap().error,
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    assert!(
        !h.classic().members.contains_key(&ids[0]),
        "the leader is gone"
    );
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert_eq!(h.classic().leader_id.as_deref(), Some(ids[1].as_str()));
}

// ----- Heartbeat -----------------------------------------------------------------------

// GroupMetadataManagerTest.testHeartbeatUnknownGroup / UnknownConsumerExistingGroup /
// testHeartbeatIllegalGeneration / testValidHeartbeat / testHeartbeatEmptyGroup
#[test]
fn heartbeat_errors() {
    let mut h = harness();
    assert_eq!(h.heartbeat("x", None, 1), ErrorCode::UNKNOWN_MEMBER_ID);
    let (ids, generation) = h.stable_group(1);
    assert_eq!(
        h.heartbeat("x", None, generation),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        h.heartbeat(&ids[0], None, generation + 1),
        ErrorCode::ILLEGAL_GENERATION
    );
    assert_eq!(h.heartbeat(&ids[0], None, generation), ErrorCode::NONE);
}

// GroupMetadataManagerTest.testSessionTimeout / testHeartbeatMaintainsSession
#[test]
fn session_timeout_removes_member_and_rebalances() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    h.advance(i64::from(SESSION_MS) / 2);
    assert_eq!(h.heartbeat(&ids[0], None, generation), ErrorCode::NONE);
    h.advance(i64::from(SESSION_MS) / 2 - 1);
    assert!(h.classic().members.contains_key(&ids[1]));
    h.advance(1);
    // ids[1] never heartbeated: it expired and the group is rebalancing without it.
    assert!(!h.classic().members.contains_key(&ids[1]));
    assert!(
        h.classic().members.contains_key(&ids[0]),
        "kept alive by its heartbeat"
    );
    assert_eq!(
        h.heartbeat(&ids[0], None, generation),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let t = h.join(&join_request(&ids[0], None));
    assert_eq!(h.join_answer(t).unwrap().generation_id, generation + 1);
}

// GroupMetadataManagerTest.testSessionTimeoutDuringRebalance-like: a member that does not
// rejoin within the rebalance timeout is dropped from the next generation.
#[test]
fn member_not_rejoining_is_removed_at_rebalance_timeout() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    let t0 = h.join(&join_request(&ids[0], None));
    for _ in 0..12 {
        h.advance(5_000);
        let _ = h.heartbeat(&ids[1], None, generation);
    }
    let answer = h
        .join_answer(t0)
        .expect("completed at the rebalance timeout");
    assert_eq!(answer.members.len(), 1);
    assert_eq!(
        h.heartbeat(&ids[1], None, generation),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
}

// ----- LeaveGroup ----------------------------------------------------------------------

fn by_id(member_id: &str) -> LeavingMember {
    LeavingMember {
        member_id: member_id.into(),
        group_instance_id: None,
    }
}

// GroupMetadataManagerTest.testLeaveGroupUnknownGroup / UnknownConsumerExistingGroup /
// testValidLeaveGroup
#[test]
fn leave_group() {
    let mut h = harness();
    assert_eq!(h.leave(&[by_id("x")]).error, ErrorCode::UNKNOWN_MEMBER_ID);
    let (ids, _) = h.stable_group(2);
    let response = h.leave(&[by_id("x"), by_id(&ids[1])]);
    assert_eq!(response.error, ErrorCode::NONE);
    assert_eq!(response.members[0].1, ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(response.members[1].1, ErrorCode::NONE);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    h.leave(&[by_id(&ids[0])]);
    assert_eq!(
        h.state(),
        GroupState::Empty,
        "the last member leaving ends the join phase"
    );
}

// GroupMetadataManagerTest.testLeaveGroupWithPendingMember-like
#[test]
fn leave_group_pending_member() {
    let mut h = harness();
    let t = h.join(&join_request("", None));
    let id = h.join_answer(t).unwrap().member_id.clone();
    assert_eq!(h.leave(&[by_id(&id)]).members[0].1, ErrorCode::NONE);
    assert!(h.classic().pending_members.is_empty());
}

// ----- Static membership (KIP-345) -----------------------------------------------------

fn stable_static_group(h: &mut Harness) -> (String, String, i32) {
    let ta = h.join(&join_request("", Some("a")));
    let tb = h.join(&join_request("", Some("b")));
    h.advance_until_answered(ta);
    let leader = h.join_answer(ta).unwrap().clone();
    let follower = h.join_answer(tb).unwrap().clone();
    let generation = leader.generation_id;
    let assignments = vec![(follower.member_id.clone(), b"pb".to_vec())];
    h.sync(&sync_request(&leader.member_id, generation, assignments));
    h.persist_all(ErrorCode::NONE);
    assert_eq!(h.state(), GroupState::Stable);
    (leader.member_id, follower.member_id, generation)
}

// GroupMetadataManagerTest.testStaticMemberRejoinWithKnownInstanceIdAndUnchangedProtocol-like
// (follower) and testStaticMemberFenceDuplicateRejoinedFollower
#[test]
fn static_member_rejoin_without_rebalance_fences_old_id() {
    let mut h = harness();
    let (_, old_b, generation) = stable_static_group(&mut h);
    let t = h.join(&join_request("", Some("b")));
    let answer = h.join_answer(t).unwrap().clone();
    assert_eq!(answer.error, ErrorCode::NONE);
    assert_ne!(answer.member_id, old_b);
    assert_eq!(answer.generation_id, generation, "no rebalance");
    assert_eq!(h.state(), GroupState::Stable);
    assert_eq!(
        h.heartbeat(&old_b, Some("b"), generation),
        ErrorCode::FENCED_INSTANCE_ID
    );
    assert_eq!(
        h.heartbeat(&answer.member_id, Some("b"), generation),
        ErrorCode::NONE
    );
    let mut sync = sync_request(&answer.member_id, generation, vec![]);
    sync.group_instance_id = Some("b".into());
    let s = h.sync(&sync);
    assert_eq!(
        h.sync_answer(s).unwrap().assignment,
        b"pb",
        "keeps its assignment"
    );
    let mut stale = commit_request(&old_b, generation, 5);
    stale.group_instance_id = Some("b".into());
    let c = h.commit(&stale);
    assert_eq!(
        h.commit_answer(c).unwrap(),
        vec![ErrorCode::FENCED_INSTANCE_ID]
    );
}

// GroupMetadataManagerTest.testStaticMemberRejoinWithLeaderIdAndUnknownMemberId (KIP-814)
#[test]
fn static_leader_rejoin_skips_assignment() {
    let mut h = harness();
    let (old_a, _, generation) = stable_static_group(&mut h);
    let mut request = join_request("", Some("a"));
    request.version = 9;
    let t = h.join(&request);
    let answer = h.join_answer(t).unwrap();
    assert!(answer.skip_assignment);
    assert_eq!(
        answer.leader, answer.member_id,
        "leadership moves to the new id"
    );
    assert_eq!(answer.members.len(), 2);
    assert_eq!(answer.generation_id, generation);
    assert_ne!(answer.member_id, old_a);
}

// GroupMetadataManagerTest.testStaticMemberRejoinWithKnownInstanceIdAndChangedProtocol-like
#[test]
fn static_member_rejoin_changing_selected_protocol_rebalances() {
    let mut h = harness();
    stable_static_group(&mut h);
    let mut request = join_request("", Some("b"));
    request.protocols = vec![("roundrobin".into(), vec![])];
    let t = h.join(&request);
    assert!(h.join_answer(t).is_none());
    assert_eq!(h.state(), GroupState::PreparingRebalance);
}

// GroupMetadataManagerTest.testLeaveGroupStaticMemberWithUnknownMemberId / FencedInstanceId
#[test]
fn static_member_leave() {
    let mut h = harness();
    let (a, b, _) = stable_static_group(&mut h);
    let fenced = h.leave(&[LeavingMember {
        member_id: a.clone(),
        group_instance_id: Some("b".into()),
    }]);
    assert_eq!(fenced.members[0].1, ErrorCode::FENCED_INSTANCE_ID);
    let unknown = h.leave(&[LeavingMember {
        member_id: String::new(),
        group_instance_id: Some("c".into()),
    }]);
    assert_eq!(unknown.members[0].1, ErrorCode::UNKNOWN_MEMBER_ID);
    let ok = h.leave(&[LeavingMember {
        member_id: String::new(),
        group_instance_id: Some("b".into()),
    }]);
    assert_eq!(ok.members[0].1, ErrorCode::NONE);
    assert!(!h.classic().members.contains_key(&b));
}

// ----- Offsets -------------------------------------------------------------------------

// GroupMetadataManagerTest/OffsetMetadataManagerTest.testSimpleGroupOffsetCommit /
// testGenericGroupOffsetCommitWithUnknownGroup (simple commit creates the group; answered
// only once persisted)
#[test]
fn simple_commit_is_answered_after_persist() {
    let mut h = harness();
    let t = h.commit(&commit_request("", GENERATION_NONE, 42));
    assert!(h.commit_answer(t).is_none(), "held until persisted");
    assert_eq!(h.persisted.len(), 1);
    assert!(h.coordinator.committed_offset("g", "t", 0).is_none());
    h.persist_all(ErrorCode::NONE);
    assert_eq!(h.commit_answer(t).unwrap(), vec![ErrorCode::NONE]);
    assert_eq!(
        h.coordinator.committed_offset("g", "t", 0).unwrap().offset,
        42
    );
    assert_eq!(h.state(), GroupState::Empty);
}

// OffsetMetadataManagerTest.testGenericGroupOffsetCommitWithIllegalGeneration /
// testGenericGroupOffsetCommitWithUnknownGroup (v8 ILLEGAL_GENERATION, v9 GROUP_ID_NOT_FOUND)
#[test]
fn commit_to_unknown_group_with_generation() {
    let mut h = harness();
    let t = h.commit(&commit_request("m", 1, 42));
    assert_eq!(
        h.commit_answer(t).unwrap(),
        vec![ErrorCode::ILLEGAL_GENERATION]
    );
    let mut v9 = commit_request("m", 1, 42);
    v9.version = 9;
    let t = h.commit(&v9);
    assert_eq!(
        h.commit_answer(t).unwrap(),
        vec![ErrorCode::GROUP_ID_NOT_FOUND]
    );
}

// OffsetMetadataManagerTest.testGenericGroupOffsetCommitWithFencedInstanceId /
// WithUnknownMemberId / WithIllegalGeneration / WhileInCompletingRebalanceState /
// testGenericGroupOffsetCommitWithDefaultGeneration (anonymous commit to a group with members)
#[test]
fn commit_validation_per_state() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    let cases = [
        (
            commit_request("x", generation, 1),
            ErrorCode::UNKNOWN_MEMBER_ID,
        ),
        (
            commit_request(&ids[0], generation + 1, 1),
            ErrorCode::ILLEGAL_GENERATION,
        ),
        (
            commit_request("", GENERATION_NONE, 1),
            ErrorCode::UNKNOWN_MEMBER_ID,
        ),
    ];
    for (request, expected) in cases {
        let t = h.commit(&request);
        assert_eq!(h.commit_answer(t).unwrap(), vec![expected], "{request:?}");
    }
    // Allowed in PreparingRebalance with the current generation.
    h.join(&join_request(&ids[0], None));
    let t = h.commit(&commit_request(&ids[1], generation, 7));
    h.persist_all(ErrorCode::NONE);
    assert_eq!(h.commit_answer(t).unwrap(), vec![ErrorCode::NONE]);
    // REBALANCE_IN_PROGRESS once the join completed but before the leader synced.
    h.join(&join_request(&ids[1], None));
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    let t = h.commit(&commit_request(&ids[1], generation + 1, 8));
    assert_eq!(
        h.commit_answer(t).unwrap(),
        vec![ErrorCode::REBALANCE_IN_PROGRESS]
    );
    // Member and generation are checked first, as in Kafka.
    let t = h.commit(&commit_request(&ids[1], generation, 8));
    assert_eq!(
        h.commit_answer(t).unwrap(),
        vec![ErrorCode::ILLEGAL_GENERATION]
    );
    let t = h.commit(&commit_request("x", generation + 1, 8));
    assert_eq!(
        h.commit_answer(t).unwrap(),
        vec![ErrorCode::UNKNOWN_MEMBER_ID]
    );
}

// OffsetMetadataManagerTest.testOffsetCommitWithTooLargeMetadata + a failed append
#[test]
fn commit_metadata_too_large_and_append_failure() {
    let mut h = harness();
    let mut request = commit_request("", GENERATION_NONE, 1);
    request.partitions.push(PartitionCommit {
        topic: "t".into(),
        partition: 1,
        offset: 2,
        leader_epoch: -1,
        metadata: Some("x".repeat(4097)),
    });
    let t = h.commit(&request);
    h.persist_all(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(
        h.commit_answer(t).unwrap(),
        vec![
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::OFFSET_METADATA_TOO_LARGE
        ]
    );
    assert!(
        h.coordinator.committed_offset("g", "t", 0).is_none(),
        "a failed append stores nothing"
    );
}

// OffsetMetadataManagerTest.testCleanupExpiredOffsetsGroupHasNoOffsets /
// testCleanupExpiredOffsetsWithPendingTransactionalOffsets-like: offsets expire only while
// the group is Empty, counted from when it became Empty; then the group is Dead and gone.
#[test]
fn offsets_expire_only_for_empty_groups() {
    let retention = 60_000;
    let mut h = Harness::new(CoordinatorConfig {
        offsets_retention_ms: retention,
        ..CoordinatorConfig::default()
    });
    let (ids, generation) = h.stable_group(1);
    h.commit(&commit_request(&ids[0], generation, 9));
    h.persist_all(ErrorCode::NONE);
    for _ in 0..30 {
        h.advance(5_000);
        assert_eq!(h.heartbeat(&ids[0], None, generation), ErrorCode::NONE);
    }
    assert!(
        h.coordinator.committed_offset("g", "t", 0).is_some(),
        "Stable: kept"
    );
    h.leave(&[by_id(&ids[0])]);
    assert_eq!(h.state(), GroupState::Empty);
    h.advance(retention - 1);
    assert!(h.coordinator.committed_offset("g", "t", 0).is_some());
    h.persisted.clear();
    h.advance(1);
    assert!(h.coordinator.committed_offset("g", "t", 0).is_none());
    assert!(h.coordinator.group("g").is_none(), "Dead and removed");
    let tombstones = h.persisted.iter().flat_map(|b| &b.records).count();
    assert_eq!(tombstones, 2, "one offset tombstone, one group tombstone");
}

// OffsetMetadataManagerTest.testFetchOffsets / testFetchAllOffsets-like
#[test]
fn fetch_offsets() {
    let mut h = harness();
    h.commit(&commit_request("", GENERATION_NONE, 5));
    h.persist_all(ErrorCode::NONE);
    let keys = [("t".to_string(), 0), ("t".to_string(), 1)];
    let token = h.token();
    let effects = h.coordinator.fetch_offsets(token, "g", Some(&keys));
    let Some(Response::OffsetFetch(error, offsets)) = effects.response_to(token) else {
        panic!()
    };
    assert_eq!(*error, ErrorCode::NONE);
    assert_eq!(
        offsets.iter().map(|o| o.offset).collect::<Vec<_>>(),
        vec![5, -1]
    );
    let effects = h.coordinator.fetch_offsets(token, "g", None);
    let Some(Response::OffsetFetch(_, all)) = effects.response_to(token) else {
        panic!()
    };
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].metadata, "m");
}

// GroupMetadataManagerTest.testDeleteOffsetOfConsumerGroupWithSubscribedTopic-like (classic)
#[test]
fn offset_delete_refuses_subscribed_topics() {
    use crate::group::consumer_protocol::{encode_subscription, Subscription};
    let mut h = harness();
    let metadata = encode_subscription(
        &Subscription {
            topics: vec!["t".into()],
            ..Subscription::default()
        },
        1,
    );
    let mut request = join_request("", None);
    request.version = 3;
    request.protocols = vec![("range".into(), metadata)];
    let t = h.join(&request);
    h.advance_until_answered(t);
    let answer = h.join_answer(t).unwrap().clone();
    h.commit(&commit_request(&answer.member_id, answer.generation_id, 1));
    h.persist_all(ErrorCode::NONE);
    let token = h.token();
    let effects = h
        .coordinator
        .delete_offsets(token, "g", &[("t".into(), 0), ("u".into(), 0)]);
    let Some(Response::OffsetDelete(error, results)) = effects.response_to(token) else {
        panic!()
    };
    assert_eq!(*error, ErrorCode::NONE);
    assert_eq!(results[0].2, ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC);
    assert_eq!(results[1].2, ErrorCode::NONE);
    let effects = h.coordinator.delete_offsets(token, "nope", &[]);
    assert!(matches!(
        effects.response_to(token),
        Some(Response::OffsetDelete(e, _)) if *e == ErrorCode::GROUP_ID_NOT_FOUND
    ));
}

// ----- Admin ---------------------------------------------------------------------------

// GroupMetadataManagerTest.testDeleteGroups / testDeleteNonEmptyGroup / testDeleteGroupNotFound
#[test]
fn delete_groups() {
    let mut h = harness();
    let (ids, _) = h.stable_group(1);
    let token = h.token();
    let groups = ["g".to_string(), "missing".to_string()];
    let effects = h.coordinator.delete_groups(h.now_ms, token, &groups);
    let Some(Response::DeleteGroups(results)) = effects.response_to(token) else {
        panic!()
    };
    assert_eq!(results[0].1, ErrorCode::NON_EMPTY_GROUP);
    assert_eq!(results[1].1, ErrorCode::GROUP_ID_NOT_FOUND);
    h.leave(&[by_id(&ids[0])]);
    let effects = h.coordinator.delete_groups(h.now_ms, token, &groups[..1]);
    let Some(Response::DeleteGroups(results)) = effects.response_to(token) else {
        panic!()
    };
    assert_eq!(results[0].1, ErrorCode::NONE);
    assert!(h.coordinator.group("g").is_none());
    let tombstone = &effects.persist[0].records;
    assert!(tombstone
        .iter()
        .any(|r| matches!(r, super::records::Record::GroupMetadata { value: None, .. })));
}

// GroupMetadataManagerTest.testListGroups / testDescribeGroupStable / testDescribeGroupRebalancing
#[test]
fn list_and_describe_groups() {
    let mut h = harness();
    let (ids, _) = h.stable_group(2);
    let token = h.token();
    let effects = h
        .coordinator
        .list_groups(token, &[GroupState::Stable], &["consumer".into()]);
    let Some(Response::ListGroups(_, listed)) = effects.response_to(token) else {
        panic!()
    };
    assert_eq!(listed.len(), 1);
    let effects = h.coordinator.list_groups(token, &[GroupState::Empty], &[]);
    let Some(Response::ListGroups(_, listed)) = effects.response_to(token) else {
        panic!()
    };
    assert!(listed.is_empty());

    let effects = h
        .coordinator
        .describe_groups(token, &["g".into(), "other".into()]);
    let Some(Response::DescribeGroups(described)) = effects.response_to(token) else {
        panic!()
    };
    assert_eq!(described[0].state, GroupState::Stable);
    assert_eq!(described[0].protocol_name, "range");
    assert_eq!(described[0].members.len(), 2);
    assert_eq!(
        described[0]
            .members
            .iter()
            .find(|m| m.member_id == ids[1])
            .unwrap()
            .assignment,
        ids[1].as_bytes()
    );
    assert_eq!(described[1].state, GroupState::Dead);
    assert_eq!(described[1].error, ErrorCode::NONE);

    h.join(&join_request(&ids[0], None));
    let effects = h.coordinator.describe_groups(token, &["g".into()]);
    let Some(Response::DescribeGroups(described)) = effects.response_to(token) else {
        panic!()
    };
    assert_eq!(described[0].state, GroupState::PreparingRebalance);
    assert_eq!(described[0].protocol_name, "");
    assert!(described[0]
        .members
        .iter()
        .all(|m| m.assignment.is_empty() && m.metadata.is_empty()));
}

// GroupCoordinatorServiceTest.testJoinGroupWhenNotStarted / NOT_COORDINATOR /
// COORDINATOR_LOAD_IN_PROGRESS / INVALID_GROUP_ID
#[test]
fn coordinator_routing_errors() {
    let mut c = Coordinator::new(CoordinatorConfig {
        offsets_topic_partitions: 1,
        ..CoordinatorConfig::default()
    });
    let t = RequestToken(1);
    let error_of = |effects: Effects| match effects.response_to(t) {
        Some(Response::Join(answer)) => answer.error,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        error_of(c.join(0, t, &join_request("", None))),
        ErrorCode::NOT_COORDINATOR
    );
    c.begin_loading(0);
    assert_eq!(
        error_of(c.join(0, t, &join_request("", None))),
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    );
    c.finish_loading(0, 0);
    let mut no_id = join_request("", None);
    no_id.group_id = String::new();
    assert_eq!(error_of(c.join(0, t, &no_id)), ErrorCode::INVALID_GROUP_ID);
    // Unloading answers held joins with NOT_COORDINATOR.
    let mut v3 = join_request("", None);
    v3.version = 3;
    let held = c.join(0, RequestToken(2), &v3);
    assert!(held.responses.is_empty());
    let effects = c.unload(0);
    assert!(matches!(
        effects.response_to(RequestToken(2)),
        Some(Response::Join(answer)) if answer.error == ErrorCode::NOT_COORDINATOR
    ));
    assert!(c.group("g").is_none());
}

// GroupMetadataManagerTest.testHeartbeatDuringCompletingRebalance-like: a member of the
// completing generation heartbeats fine; one of the previous generation is told its
// generation is gone.
#[test]
fn heartbeat_during_completing_rebalance() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(1);
    let t = h.join(&join_request(&ids[0], None));
    assert_eq!(h.join_answer(t).unwrap().generation_id, generation + 1);
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    assert_eq!(h.heartbeat(&ids[0], None, generation + 1), ErrorCode::NONE);
    assert_eq!(
        h.heartbeat(&ids[0], None, generation),
        ErrorCode::ILLEGAL_GENERATION
    );
}

// GroupMetadataManagerTest.testStaticMembersJoinGroupWithMaxSize: a new instance id counts
// against group.max.size; a known one rejoining does not.
#[test]
fn static_members_join_group_with_max_size() {
    let mut h = Harness::new(CoordinatorConfig {
        group_max_size: 2,
        ..CoordinatorConfig::default()
    });
    stable_static_group(&mut h);
    let t = h.join(&join_request("", Some("c")));
    assert_eq!(
        h.join_answer(t).unwrap().error,
        ErrorCode::GROUP_MAX_SIZE_REACHED
    );
    let t = h.join(&join_request("", Some("a")));
    assert_eq!(h.join_answer(t).unwrap().error, ErrorCode::NONE);
}

// GroupMetadataManagerTest.testStaticMemberJoinWithKnownInstanceIdAndWrongMemberId-like
// (testStaticMemberFenceDuplicateRejoiningFollowerAfterMemberIdChanged): an old member id
// presenting a known instance id is fenced on join and sync.
#[test]
fn static_member_with_stale_member_id_is_fenced() {
    let mut h = harness();
    let (_, old_b, generation) = stable_static_group(&mut h);
    let t = h.join(&join_request("", Some("b")));
    assert_eq!(h.join_answer(t).unwrap().error, ErrorCode::NONE);
    let t = h.join(&join_request(&old_b, Some("b")));
    assert_eq!(
        h.join_answer(t).unwrap().error,
        ErrorCode::FENCED_INSTANCE_ID
    );
    let mut sync = sync_request(&old_b, generation, vec![]);
    sync.group_instance_id = Some("b".into());
    let s = h.sync(&sync);
    assert_eq!(
        h.sync_answer(s).unwrap().error,
        ErrorCode::FENCED_INSTANCE_ID
    );
}

/// Every record the coordinator asks to persist decodes back to itself.
#[test]
fn persisted_records_round_trip() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(2);
    h.commit(&commit_request(&ids[0], generation, 3));
    let records = h.records_seen.clone();
    let offsets = records
        .iter()
        .filter(|r| matches!(r, super::records::Record::OffsetCommit { .. }));
    assert_eq!(offsets.count(), 1);
    let groups = records
        .iter()
        .filter(|r| matches!(r, super::records::Record::GroupMetadata { .. }));
    assert!(groups.count() >= 1);
    // The assignment record written at the leader's sync carries every member's share.
    let stored = records.iter().rev().find_map(|r| match r {
        super::records::Record::GroupMetadata { value: Some(v), .. } => Some(v.clone()),
        _ => None,
    });
    let stored = stored.expect("a group metadata record");
    assert_eq!(stored.generation_id, generation);
    assert_eq!(stored.protocol_name.as_deref(), Some("range"));
    for member in &stored.members {
        assert_eq!(member.assignment, member.member_id.as_bytes());
        assert_eq!(member.subscription, b"range-md");
    }
    for record in records {
        let (key, value) = record.encode();
        assert_eq!(
            super::records::Record::decode(&key, value.as_deref()),
            Some(record)
        );
    }
}

// ClassicGroupTest.testIsSubscribedToTopic (metadata that does not parse): the coordinator
// does not know the topics, so a consumer group counts as subscribed to all of them and
// OffsetDelete keeps every offset.
#[test]
fn offset_delete_with_unparsable_subscriptions_deletes_nothing() {
    let mut h = harness();
    let (ids, generation) = h.stable_group(1);
    h.commit(&commit_request(&ids[0], generation, 1));
    h.persist_all(ErrorCode::NONE);
    let token = h.token();
    let effects = h.coordinator.delete_offsets(token, "g", &[("t".into(), 0)]);
    let Some(Response::OffsetDelete(_, results)) = effects.response_to(token) else {
        panic!()
    };
    assert_eq!(results[0].2, ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC);
    assert!(h.coordinator.committed_offset("g", "t", 0).is_some());
}

/// The shell sleeps until `next_deadline_ms`: it names the initial delay, then the session
/// of a member that is neither joining nor syncing.
#[test]
fn next_deadline_names_the_earliest_timer() {
    let mut h = harness();
    assert_eq!(h.coordinator.next_deadline_ms(), None);
    let mut request = join_request("", None);
    request.version = 3;
    let t = h.join(&request);
    assert_eq!(h.coordinator.next_deadline_ms(), Some(h.now_ms + DELAY_MS));
    h.advance(DELAY_MS);
    let answer = h.join_answer(t).unwrap().clone();
    // CompletingRebalance: the sync deadline (rebalance timeout) and the session.
    assert_eq!(
        h.coordinator.next_deadline_ms(),
        Some(h.now_ms + i64::from(SESSION_MS))
    );
    h.sync(&sync_request(
        &answer.member_id,
        answer.generation_id,
        vec![],
    ));
    h.persist_all(ErrorCode::NONE);
    assert_eq!(h.state(), GroupState::Stable);
    assert_eq!(
        h.coordinator.next_deadline_ms(),
        Some(h.now_ms + i64::from(SESSION_MS))
    );
}
