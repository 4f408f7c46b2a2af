//! Random sequences of joins, syncs, heartbeats, leaves, commits and ticks by a few members
//! (one of them static), with the invariants checked after every step:
//! - the leader is a member; the generation never decreases;
//! - each state change follows Kafka's edges (at most two moves per step, e.g. Stable ->
//!   PreparingRebalance -> CompletingRebalance when the last member rejoins);
//! - in Stable, the generation is the one the leader last synced, and every member holds an
//!   assignment the leader gave for that generation (or none);
//! - no two members hold one partition (leaders assign with the real assignors);
//! - every request is answered exactly once, at the latest after time passes.
//!
//! A second property runs the same operations with failovers among them (the partition
//! unloaded and loaded again from its records, the clients carrying on), keeping the same
//! invariants, and at the end replays every record the run persisted into a fresh
//! coordinator: it holds the same offsets, and every group that was Stable or Empty comes back
//! with the same generation, leader, protocol, members and assignments.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::{join_request, Harness};
use crate::group::assignor::member_data::member_subscription;
use crate::group::assignor::{Assignor, PartitionCounts, Subscriptions};
use crate::group::consumer_protocol::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription, Assignment,
    Subscription,
};
use crate::group::coordinator::api::*;
use crate::group::coordinator::state::GroupState;
use crate::group::coordinator::{Coordinator, CoordinatorConfig, Group};
use crate::protocol::codes::ErrorCode;

const MEMBERS: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    Join(usize, u8),
    Sync(usize),
    Heartbeat(usize),
    Leave(usize),
    Commit(usize),
    Persist,
    Tick(i64),
    /// Every write lands, then the partition moves: unloaded and loaded again from its log.
    Failover,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..MEMBERS, 0u8..4).prop_map(|(m, topics)| Op::Join(m, topics)),
        3 => (0..MEMBERS).prop_map(Op::Sync),
        2 => (0..MEMBERS).prop_map(Op::Heartbeat),
        1 => (0..MEMBERS).prop_map(Op::Leave),
        1 => (0..MEMBERS).prop_map(Op::Commit),
        1 => Just(Op::Persist),
        2 => prop_oneof![Just(1_000i64), Just(3_000), Just(11_000), Just(61_000)].prop_map(Op::Tick),
    ]
}

/// What one simulated client knows.
#[derive(Clone, Debug, Default)]
struct Client {
    member_id: String,
    generation: i32,
    /// The leader's member list of `generation`, when this client led it.
    led: Option<Vec<JoinMember>>,
    pending_join: Option<RequestToken>,
}

struct Driver {
    h: Harness,
    clients: Vec<Client>,
    /// generation -> the assignment bytes its leader sent. A failover can lose a generation
    /// that was never written, and the group then numbers a later one the same: the stale
    /// leader's sync is refused, but its bytes are listed here too.
    synced: BTreeMap<i32, BTreeSet<Vec<u8>>>,
    last_state: GroupState,
    last_generation: i32,
    issued: BTreeSet<RequestToken>,
    /// The last offset committed, so that every commit writes a new value.
    last_offset: i64,
    /// A failover happened since the last check: the group may have gone back to its last
    /// written generation, so the next check starts from what it sees.
    failed_over: bool,
}

fn instance(m: usize) -> Option<String> {
    (m == 0).then(|| "static-0".to_string())
}

fn topics_of(bits: u8) -> Vec<String> {
    let mut topics = vec!["t0".to_string()];
    if bits & 1 == 1 {
        topics.push("t1".into());
    }
    if bits & 2 == 2 {
        topics.push("t2".into());
    }
    topics
}

impl Driver {
    fn new() -> Driver {
        Driver::with_config(CoordinatorConfig::default())
    }

    fn with_config(config: CoordinatorConfig) -> Driver {
        Driver {
            h: Harness::new(config),
            clients: vec![Client::default(); MEMBERS],
            synced: BTreeMap::new(),
            last_state: GroupState::Dead,
            last_generation: 0,
            issued: BTreeSet::new(),
            last_offset: 0,
            failed_over: false,
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Join(m, bits) => self.join(m, bits),
            Op::Sync(m) => self.sync(m),
            Op::Heartbeat(m) => {
                let client = &self.clients[m];
                let (id, generation) = (client.member_id.clone(), client.generation);
                let error = self.h.heartbeat(&id, instance(m).as_deref(), generation);
                self.issued.insert(RequestToken(self.h_last_token()));
                self.forget_if_gone(m, error);
            }
            Op::Leave(m) => {
                let leaving = LeavingMember {
                    member_id: self.clients[m].member_id.clone(),
                    group_instance_id: instance(m),
                };
                self.h.leave(&[leaving]);
                self.issued.insert(RequestToken(self.h_last_token()));
                self.clients[m] = Client::default();
            }
            Op::Commit(m) => {
                self.last_offset += 1;
                let client = &self.clients[m];
                let request = CommitRequest {
                    group_id: "g".into(),
                    generation_id: client.generation,
                    member_id: client.member_id.clone(),
                    group_instance_id: instance(m),
                    partitions: vec![PartitionCommit {
                        topic: "t0".into(),
                        partition: 0,
                        offset: self.last_offset,
                        leader_epoch: -1,
                        metadata: None,
                    }],
                    version: 8,
                };
                let token = self.h.commit(&request);
                self.issued.insert(token);
            }
            Op::Persist => self.h.persist_all(ErrorCode::NONE),
            Op::Tick(ms) => self.h.advance(ms),
            Op::Failover => self.failover(),
        }
        self.observe();
        self.check();
    }

    fn h_last_token(&self) -> u64 {
        *self
            .h
            .answers
            .keys()
            .next_back()
            .map(|RequestToken(t)| t)
            .expect("answered")
    }

    fn join(&mut self, m: usize, bits: u8) {
        if self.clients[m].pending_join.is_some() {
            return; // a real client has one JoinGroup in flight
        }
        let subscription = Subscription {
            topics: topics_of(bits),
            generation_id: -1,
            ..Subscription::default()
        };
        let metadata = encode_subscription(&subscription, 1);
        let mut request = join_request(&self.clients[m].member_id, instance(m).as_deref());
        request.protocols = vec![
            ("range".into(), metadata.clone()),
            ("roundrobin".into(), metadata),
        ];
        let token = self.h.join(&request);
        self.issued.insert(token);
        self.clients[m].pending_join = Some(token);
    }

    fn sync(&mut self, m: usize) {
        let client = self.clients[m].clone();
        let mut request = super::sync_request(&client.member_id, client.generation, Vec::new());
        request.protocol_name = None;
        request.group_instance_id = instance(m);
        if let Some(members) = &client.led {
            request.assignments = leader_assignment(members);
            let given = self.synced.entry(client.generation).or_default();
            given.extend(request.assignments.iter().map(|(_, bytes)| bytes.clone()));
        }
        let token = self.h.sync(&request);
        self.issued.insert(token);
    }

    /// Reads answers to the clients' held joins.
    fn observe(&mut self) {
        for m in 0..MEMBERS {
            let Some(token) = self.clients[m].pending_join else {
                continue;
            };
            let Some(answer) = self.h.join_answer(token).cloned() else {
                continue;
            };
            let client = &mut self.clients[m];
            client.pending_join = None;
            if answer.error == ErrorCode::NONE {
                client.member_id = answer.member_id.clone();
                client.generation = answer.generation_id;
                let leads = answer.leader == answer.member_id && !answer.skip_assignment;
                client.led = leads.then_some(answer.members);
            } else if answer.error == ErrorCode::MEMBER_ID_REQUIRED {
                client.member_id = answer.member_id;
            } else {
                self.forget_if_gone(m, answer.error);
            }
        }
    }

    fn forget_if_gone(&mut self, m: usize, error: ErrorCode) {
        if error == ErrorCode::UNKNOWN_MEMBER_ID || error == ErrorCode::FENCED_INSTANCE_ID {
            let pending = self.clients[m].pending_join;
            self.clients[m] = Client {
                pending_join: pending,
                ..Client::default()
            };
        }
    }

    fn failover(&mut self) {
        self.h.persist_all(ErrorCode::NONE);
        let effects = self.h.coordinator.unload(0);
        self.h.absorb(effects);
        let log = self.h.records_seen.clone();
        self.h.coordinator.begin_loading(0);
        for record in &log {
            self.h.coordinator.replay(0, record);
        }
        self.h.coordinator.finish_loading(0, self.h.now_ms);
        self.failed_over = true;
    }

    fn check(&mut self) {
        let (state, generation) = match self.h.coordinator.group("g") {
            None => (GroupState::Dead, None),
            Some(crate::group::coordinator::Group::Classic(g)) => (g.state, Some(g)),
        };
        // A removed group (seen as Dead) comes back as a new group, which starts Empty.
        let recreated = self.last_state == GroupState::Dead && state != GroupState::Dead;
        let failed_over = std::mem::take(&mut self.failed_over);
        let from = if failed_over {
            state
        } else if recreated {
            GroupState::Empty
        } else {
            self.last_state
        };
        let moved = from != state;
        let direct = from.can_transition_to(state);
        let two_steps = GroupState::ALL
            .into_iter()
            .any(|mid| from.can_transition_to(mid) && mid.can_transition_to(state));
        assert!(!moved || direct || two_steps, "{from} -> {state}");
        self.last_state = state;
        let Some(group) = generation else {
            self.last_generation = 0;
            return;
        };
        if !recreated && !failed_over {
            assert!(
                group.generation_id >= self.last_generation,
                "generation went back"
            );
        }
        self.last_generation = group.generation_id;
        if let Some(leader) = &group.leader_id {
            assert!(group.members.contains_key(leader));
        }
        if state == GroupState::Stable {
            let values = self
                .synced
                .get(&group.generation_id)
                .expect("Stable only after the leader synced");
            let mut owned = BTreeSet::new();
            for member in group.members.values() {
                if member.assignment.is_empty() {
                    continue;
                }
                assert!(
                    values.contains(&member.assignment),
                    "an assignment of another generation"
                );
                let (assignment, _) =
                    decode_assignment(&member.assignment).expect("leader's bytes");
                for partition in assignment.partitions {
                    assert!(
                        owned.insert(partition.clone()),
                        "{partition:?} assigned twice"
                    );
                }
            }
        }
    }
}

/// What a leader computes: the range assignor over the members' subscriptions, three
/// partitions per topic.
fn leader_assignment(members: &[JoinMember]) -> Vec<(String, Vec<u8>)> {
    let mut subscriptions = Subscriptions::new();
    for member in members {
        let (subscription, _) = decode_subscription(&member.metadata).expect("our metadata");
        let view = member_subscription(
            Assignor::Range,
            &subscription,
            member.group_instance_id.clone(),
        );
        subscriptions.insert(member.member_id.clone(), view);
    }
    let counts: PartitionCounts = ["t0", "t1", "t2"]
        .iter()
        .map(|t| (t.to_string(), 3))
        .collect();
    let assignment = Assignor::Range.assign(&counts, &subscriptions);
    assignment
        .into_iter()
        .map(|(member_id, partitions)| {
            let bytes = encode_assignment(
                &Assignment {
                    partitions,
                    user_data: None,
                },
                1,
            );
            (member_id, bytes)
        })
        .collect()
}

/// The random operations, now and then a failover in the middle of them.
fn op_or_failover() -> impl Strategy<Value = Op> {
    prop_oneof![12 => op(), 1 => Just(Op::Failover)]
}

/// What a failover must give back: the same offsets; no group that is gone; every group
/// that was Stable or Empty as it was (a rebalancing group comes back as its last written
/// generation, which is not newer); a group missing after the load never wrote its current
/// generation.
fn check_reload(original: &Coordinator, reloaded: &Coordinator) {
    for (group_id, Group::Classic(after)) in reloaded.groups() {
        let Some(Group::Classic(before)) = original.group(group_id) else {
            panic!("group {group_id} came back after it was removed")
        };
        assert!(after.generation_id <= before.generation_id, "{group_id}");
        assert!(matches!(
            after.state,
            GroupState::Empty | GroupState::Stable
        ));
    }
    for (group_id, Group::Classic(before)) in original.groups() {
        let offsets = |c: &Coordinator| {
            c.offsets
                .group(group_id)
                .map(|(k, o)| (k.clone(), o.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            offsets(reloaded),
            offsets(original),
            "offsets of {group_id}"
        );
        let Some(Group::Classic(after)) = reloaded.group(group_id) else {
            // Only a group that never wrote its current generation: one still rebalancing
            // towards it, or a new Empty one.
            let unwritten = match before.state {
                GroupState::Stable => false,
                GroupState::Empty => before.generation_id == 0,
                _ => true,
            };
            assert!(unwritten, "{group_id} {} lost", before.state);
            assert!(!original.offsets.has_offsets(group_id));
            continue;
        };
        if !matches!(before.state, GroupState::Stable | GroupState::Empty) {
            continue;
        }
        assert_eq!(after.state, before.state, "{group_id}");
        assert_eq!(after.generation_id, before.generation_id, "{group_id}");
        assert_eq!(after.leader_id, before.leader_id, "{group_id}");
        assert_eq!(after.protocol_type, before.protocol_type, "{group_id}");
        assert_eq!(after.protocol_name, before.protocol_name, "{group_id}");
        assert_eq!(after.static_members, before.static_members, "{group_id}");
        let members = |g: &super::super::classic::ClassicGroup| {
            g.members
                .values()
                .map(|m| {
                    (
                        m.member_id.clone(),
                        m.group_instance_id.clone(),
                        m.assignment.clone(),
                        m.session_timeout_ms,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(members(after), members(before), "{group_id}");
    }
}

proptest! {
    // More cases than below: most failovers find no group yet, about one in twenty a Stable one.
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn reload_gives_back_what_was_persisted(ops in proptest::collection::vec(op_or_failover(), 1..60)) {
        run_and_reload(&ops);
    }

}

/// Runs `ops`, persists every pending write, and checks a reload against the live state.
fn run_and_reload(ops: &[Op]) {
    // A short retention so that runs also expire offsets and remove groups.
    let mut driver = Driver::with_config(CoordinatorConfig {
        offsets_retention_ms: 120_000,
        ..CoordinatorConfig::default()
    });
    for op in ops {
        driver.step(op);
    }
    driver.h.persist_all(ErrorCode::NONE);
    let reloaded = driver.h.reloaded();
    check_reload(&driver.h.coordinator, &reloaded.coordinator);
}

/// Found by the property above with a random seed: a static member syncs generation 1 and
/// leaves before its assignment is written; the emptied group is cleaned up, and the member
/// joins again, making a new group whose generation is 1 too. When the first write completed,
/// the coordinator applied it to the new group (found by id and generation), which went Stable
/// with an assignment its leader never sent, and which no record holds. Removing a group now
/// voids its writes in flight, as Kafka's callbacks find their group object Dead.
#[test]
fn a_removed_group_s_late_assignment_write_does_not_complete_its_successor() {
    run_and_reload(&[
        Op::Join(0, 0),
        Op::Tick(3_000),
        Op::Sync(0),
        Op::Leave(0),
        Op::Tick(1_000),
        Op::Join(0, 0),
        Op::Tick(3_000),
    ]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_the_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        let mut driver = Driver::new();
        for op in &ops {
            driver.step(op);
        }
        // Held requests are answered once time passes and records are persisted.
        driver.h.persist_all(ErrorCode::NONE);
        for _ in 0..4 {
            driver.h.advance(61_000);
            driver.check();
        }
        driver.h.persist_all(ErrorCode::NONE);
        let unanswered: Vec<_> = driver.issued.iter().filter(|t| !driver.h.answers.contains_key(t)).collect();
        prop_assert!(unanswered.is_empty(), "unanswered: {unanswered:?}");
    }
}
