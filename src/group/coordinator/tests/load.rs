//! Loading a `__consumer_offsets` partition: what a new coordinator rebuilds from the records
//! its predecessor persisted (Kafka's `GroupMetadataManagerTest.testLoad*` cases, written anew
//! against this state machine), and the historical switches that get it or expiry wrong.

use super::{by_id, commit_request, join_request, sync_request, Harness, DELAY_MS, SESSION_MS};
use crate::group::consumer_protocol::{encode_subscription, Subscription};
use crate::group::coordinator::api::*;
use crate::group::coordinator::records::{OffsetCommitValue, Record};
use crate::group::coordinator::state::GroupState;
use crate::group::coordinator::{Coordinator, CoordinatorConfig, Group};
use crate::group::hash;
use crate::protocol::codes::ErrorCode;

/// Every leader and follower of a Stable group rejoins; the leader syncs the same shares.
/// Returns the new generation.
fn rebalance_again(h: &mut Harness, ids: &[String]) -> i32 {
    let joins: Vec<RequestToken> = ids
        .iter()
        .map(|id| h.join(&join_request(id, None)))
        .collect();
    let answer = h.join_answer(joins[0]).expect("all rejoined").clone();
    assert_eq!(answer.error, ErrorCode::NONE);
    let shares = ids.iter().map(|id| (id.clone(), id.as_bytes().to_vec()));
    h.sync(&sync_request(
        &ids[0],
        answer.generation_id,
        shares.collect(),
    ));
    h.persist_all(ErrorCode::NONE);
    assert_eq!(h.state(), GroupState::Stable);
    answer.generation_id
}

fn commit_answer_now(h: &mut Harness, request: &CommitRequest) -> Vec<ErrorCode> {
    let token = h.commit(request);
    h.persist_all(ErrorCode::NONE);
    h.commit_answer(token).expect("answered once persisted")
}

fn offset_record(group_id: &str, partition: i32, offset: Option<i64>) -> Record {
    Record::OffsetCommit {
        group_id: group_id.into(),
        topic: "t".into(),
        partition,
        value: offset.map(|offset| OffsetCommitValue {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 1_000,
        }),
    }
}

/// A coordinator of one partition that loads `records` into partition 0.
fn loaded(records: &[Record]) -> Coordinator {
    let mut coordinator = Coordinator::new(CoordinatorConfig {
        offsets_topic_partitions: 1,
        ..CoordinatorConfig::default()
    });
    coordinator.begin_loading(0);
    for record in records {
        coordinator.replay(0, record);
    }
    coordinator.finish_loading(0, 5_000);
    coordinator
}

// GroupCoordinatorTest.testJoinGroupWhenLoading-like: every request of a loading partition's
// groups is refused until the load finishes; then the loaded offset is served.
#[test]
fn loading_partition_answers_coordinator_load_in_progress() {
    let mut c = Coordinator::new(CoordinatorConfig {
        offsets_topic_partitions: 1,
        ..CoordinatorConfig::default()
    });
    c.begin_loading(0);
    c.replay(0, &offset_record("g", 0, Some(7)));
    let t = RequestToken(1);
    let join = c.join(0, t, &join_request("", None));
    assert!(matches!(
        join.response_to(t),
        Some(Response::Join(answer)) if answer.error == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    ));
    let commit = c.commit_offsets(0, t, &commit_request("", GENERATION_NONE, 9));
    assert_eq!(
        commit.response_to(t),
        Some(&Response::OffsetCommit(vec![(
            "t".into(),
            0,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        )]))
    );
    let fetch = c.fetch_offsets(t, "g", None);
    assert!(matches!(
        fetch.response_to(t),
        Some(Response::OffsetFetch(
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            _
        ))
    ));
    assert!(c.committed_offset("g", "t", 0).is_none(), "not served yet");
    c.finish_loading(0, 0);
    let fetch = c.fetch_offsets(t, "g", None);
    let Some(Response::OffsetFetch(ErrorCode::NONE, fetched)) = fetch.response_to(t) else {
        panic!("{fetch:?}")
    };
    assert_eq!(fetched[0].offset, 7);
}

#[test]
#[should_panic(expected = "not loading")]
fn replay_outside_a_load_is_a_bug() {
    let mut h = Harness::new(CoordinatorConfig::default());
    h.coordinator.replay(0, &offset_record("g", 0, Some(7)));
}

// GroupMetadataManagerTest.testLoadOffsetsWithoutGroup / testLoadOffsetsAndGroup: the last
// commit of each partition wins, with its leader epoch, metadata and commit time.
#[test]
fn committed_offsets_are_restored() {
    let mut h = Harness::new(CoordinatorConfig::default());
    let (ids, generation) = h.stable_group(1);
    commit_answer_now(&mut h, &commit_request(&ids[0], generation, 3));
    h.advance(1_000);
    let mut second = commit_request(&ids[0], generation, 4);
    second.partitions[0].metadata = Some("later".into());
    second.partitions.push(PartitionCommit {
        topic: "u".into(),
        partition: 2,
        offset: 11,
        leader_epoch: 5,
        metadata: None,
    });
    commit_answer_now(&mut h, &second);
    let r = h.reloaded();
    for (topic, partition) in [("t", 0), ("u", 2)] {
        assert_eq!(
            r.coordinator.committed_offset("g", topic, partition),
            h.coordinator.committed_offset("g", topic, partition),
            "{topic}-{partition}"
        );
    }
    let restored = r.coordinator.committed_offset("g", "t", 0).unwrap();
    assert_eq!((restored.offset, restored.metadata.as_str()), (4, "later"));
    assert_eq!(restored.commit_timestamp_ms, h.now_ms);
}

// GroupMetadataManagerTest.testLoadOffsetsWithTombstones / testLoadGroupWithTombstone: a
// tombstone removes its key; DeleteGroups' tombstones leave nothing behind.
#[test]
fn tombstones_remove_offsets_and_groups() {
    let records = [
        offset_record("g", 0, Some(1)),
        offset_record("g", 1, Some(2)),
        offset_record("g", 0, None),
    ];
    let c = loaded(&records);
    assert!(c.committed_offset("g", "t", 0).is_none());
    assert_eq!(c.committed_offset("g", "t", 1).unwrap().offset, 2);

    let mut h = Harness::new(CoordinatorConfig::default());
    let (ids, generation) = h.stable_group(1);
    commit_answer_now(&mut h, &commit_request(&ids[0], generation, 3));
    h.leave(&[by_id(&ids[0])]);
    let token = h.token();
    let effects = h.coordinator.delete_groups(h.now_ms, token, &["g".into()]);
    h.absorb(effects);
    h.persist_all(ErrorCode::NONE);
    let r = h.reloaded();
    assert!(r.coordinator.group("g").is_none());
    assert!(r.coordinator.committed_offset("g", "t", 0).is_none());
}

// GroupMetadataManagerTest.testLoadGroupAndOffsetsWithCorruptedLog-adjacent / KAFKA-4704: a
// group's tombstone does not remove offsets committed after it; they form a simple group.
#[test]
fn offsets_after_a_group_tombstone_form_a_simple_group() {
    let mut h = Harness::new(CoordinatorConfig::default());
    let (ids, generation) = h.stable_group(1);
    h.leave(&[by_id(&ids[0])]);
    h.persist_all(ErrorCode::NONE);
    let mut records = h.records_seen.clone();
    records.push(Record::GroupMetadata {
        group_id: "g".into(),
        value: None,
    });
    records.push(offset_record("g", 0, Some(9)));
    let c = loaded(&records);
    let Some(Group::Classic(group)) = c.group("g") else {
        panic!("a simple group")
    };
    assert_eq!(group.state, GroupState::Empty);
    assert_eq!(group.protocol_type, None, "no protocol: a simple group");
    assert_eq!(group.generation_id, 0, "not generation {generation}");
    assert_eq!(c.committed_offset("g", "t", 0).unwrap().offset, 9);
}

// GroupMetadataManagerTest.testLoadGroupWithLargeGroupMetadataRecord-like + onGroupLoaded: a
// Stable group comes back Stable with its generation, leader, protocol and assignments; the
// member that no longer heartbeats is removed a session after the load, which rebalances.
#[test]
fn restored_stable_group_rebalances_when_a_session_expires() {
    let mut h = Harness::new(CoordinatorConfig::default());
    let (ids, generation) = h.stable_group(2);
    h.advance(4_000);
    let mut r = h.reloaded();
    let restored = r.classic().clone();
    let original = h.classic();
    assert_eq!(restored.state, GroupState::Stable);
    assert_eq!(restored.generation_id, generation);
    assert_eq!(restored.leader_id, original.leader_id);
    assert_eq!(restored.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(restored.protocol_name.as_deref(), Some("range"));
    for id in &ids {
        let (before, after) = (&original.members[id], &restored.members[id]);
        assert_eq!(after.assignment, before.assignment);
        assert_eq!(after.session_timeout_ms, before.session_timeout_ms);
        assert_eq!(after.rebalance_timeout_ms, before.rebalance_timeout_ms);
        assert_eq!(after.metadata("range"), before.metadata("range"));
        // The session restarts at the load, not at the last heartbeat the old one saw.
        assert_eq!(after.session_deadline_ms, r.now_ms + i64::from(SESSION_MS));
    }
    r.advance(i64::from(SESSION_MS) / 2);
    assert_eq!(r.heartbeat(&ids[0], None, generation), ErrorCode::NONE);
    assert_eq!(r.state(), GroupState::Stable);
    r.advance(i64::from(SESSION_MS) / 2);
    assert_eq!(r.state(), GroupState::PreparingRebalance);
    assert!(!r.classic().members.contains_key(&ids[1]), "expired");
    assert_eq!(
        r.heartbeat(&ids[0], None, generation),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
}

// GroupMetadataManagerTest.testLoadGroupAndOffsets + OffsetMetadataManagerTest
// .testGenericGroupOffsetCommitWithIllegalGeneration: after the load, the restored generation
// commits and an older one is refused.
#[test]
fn restored_group_checks_commit_generations() {
    let mut h = Harness::new(CoordinatorConfig::default());
    let (ids, first) = h.stable_group(2);
    let second = rebalance_again(&mut h, &ids);
    assert!(second > first);
    let mut r = h.reloaded();
    let fresh = commit_answer_now(&mut r, &commit_request(&ids[1], second, 5));
    assert_eq!(fresh, vec![ErrorCode::NONE]);
    assert_eq!(
        r.coordinator.committed_offset("g", "t", 0).unwrap().offset,
        5
    );
    let stale = commit_answer_now(&mut r, &commit_request(&ids[1], first, 6));
    assert_eq!(stale, vec![ErrorCode::ILLEGAL_GENERATION]);
    assert_eq!(
        r.coordinator.committed_offset("g", "t", 0).unwrap().offset,
        5
    );
}

/// A record of a group that partition 0 does not coordinate is skipped: that group stays
/// with its own partition.
#[test]
fn records_of_other_partitions_groups_are_skipped() {
    let partitions = 4;
    let group_on = |partition| {
        (0..)
            .map(|n| format!("group-{n}"))
            .find(|id| hash::coordinator_partition(id, partitions) == partition)
            .expect("some id hashes there")
    };
    let (ours, theirs) = (group_on(0), group_on(1));
    let mut c = Coordinator::new(CoordinatorConfig {
        offsets_topic_partitions: partitions,
        ..CoordinatorConfig::default()
    });
    c.begin_loading(0);
    c.replay(0, &offset_record(&ours, 0, Some(1)));
    c.replay(0, &offset_record(&theirs, 0, Some(2)));
    c.finish_loading(0, 0);
    assert_eq!(c.committed_offset(&ours, "t", 0).unwrap().offset, 1);
    assert!(c.committed_offset(&theirs, "t", 0).is_none());
    assert!(c.group(&theirs).is_none());
}

// ----- Historical switches ---------------------------------------------------------------

/// apache/kafka PR 2436: with the switch, every loaded offset goes through the pending-commit
/// path, finds nothing pending, and is dropped; OffsetFetch after the failover finds none.
#[test]
fn pr_2436_drops_loaded_offsets() {
    for bug in [false, true] {
        let mut h = Harness::new(CoordinatorConfig {
            load_offsets_only_if_commit_pending: bug,
            ..CoordinatorConfig::default()
        });
        let (ids, generation) = h.stable_group(1);
        commit_answer_now(&mut h, &commit_request(&ids[0], generation, 42));
        let r = h.reloaded();
        let token = RequestToken(1);
        let fetch = r
            .coordinator
            .fetch_offsets(token, "g", Some(&[("t".into(), 0)]));
        let Some(Response::OffsetFetch(ErrorCode::NONE, fetched)) = fetch.response_to(token) else {
            panic!("{fetch:?}")
        };
        let expected = if bug { -1 } else { 42 };
        assert_eq!(fetched[0].offset, expected, "bug {bug}");
        assert_eq!(
            r.state(),
            GroupState::Stable,
            "the group itself loads either way"
        );
    }
}

/// A join request whose consumer subscription (topic "t") the coordinator can read.
fn consumer_join(member_id: &str) -> JoinRequest {
    let subscription = Subscription {
        topics: vec!["t".into()],
        generation_id: -1,
        ..Subscription::default()
    };
    let mut request = join_request(member_id, None);
    request.protocols = vec![("range".into(), encode_subscription(&subscription, 1))];
    request.version = 3; // joins at once, without MEMBER_ID_REQUIRED
    request
}

/// KAFKA-13636: a consumer group commits, stays Stable, empties and is rejoined. While it
/// rebalances, its subscriptions are those of the Empty generation (none), so before the fix
/// its offset expires counting from the commit; with the fix nothing expires until the group
/// has been Empty for the retention.
#[test]
fn kafka_13636_expires_offsets_while_rebalancing() {
    let retention = 60_000;
    for bug in [false, true] {
        let mut h = Harness::new(CoordinatorConfig {
            offsets_retention_ms: retention,
            expire_offsets_while_rebalancing: bug,
            ..CoordinatorConfig::default()
        });
        let first = h.join(&consumer_join(""));
        h.advance(DELAY_MS);
        let answer = h.join_answer(first).expect("joined").clone();
        let member = answer.member_id.clone();
        h.sync(&sync_request(&member, answer.generation_id, Vec::new()));
        h.persist_all(ErrorCode::NONE);
        assert_eq!(h.state(), GroupState::Stable);
        let committed_at = h.now_ms;
        commit_answer_now(&mut h, &commit_request(&member, answer.generation_id, 8));
        for _ in 0..11 {
            h.advance(5_000);
            assert_eq!(
                h.heartbeat(&member, None, answer.generation_id),
                ErrorCode::NONE
            );
        }
        h.advance(3_000);
        h.leave(&[by_id(&member)]);
        assert_eq!(h.state(), GroupState::Empty);
        h.join(&consumer_join(""));
        assert_eq!(h.state(), GroupState::PreparingRebalance);
        h.advance(committed_at + retention - h.now_ms);
        assert_eq!(h.state(), GroupState::PreparingRebalance);
        let kept = h.coordinator.committed_offset("g", "t", 0).is_some();
        assert_eq!(kept, !bug, "bug {bug}");
    }
}

/// The planted bug: a member still in the group commits with the generation before the
/// current one, and the commit is accepted and overwrites the current generation's offset.
#[test]
fn planted_stale_generation_commit_is_accepted() {
    for bug in [false, true] {
        let mut h = Harness::new(CoordinatorConfig {
            planted_accept_stale_generation_commit: bug,
            ..CoordinatorConfig::default()
        });
        let (ids, first) = h.stable_group(2);
        let second = rebalance_again(&mut h, &ids);
        commit_answer_now(&mut h, &commit_request(&ids[0], second, 10));
        let stale = commit_answer_now(&mut h, &commit_request(&ids[1], first, 3));
        let offset = h.coordinator.committed_offset("g", "t", 0).unwrap().offset;
        if bug {
            assert_eq!((stale, offset), (vec![ErrorCode::NONE], 3));
        } else {
            assert_eq!((stale, offset), (vec![ErrorCode::ILLEGAL_GENERATION], 10));
        }
    }
}

// ----- Expiry, as a reload sees it -------------------------------------------------------

// OffsetMetadataManagerTest.testCleanupExpiredOffsetsWithUnsubscribedTopics-like: a Stable
// consumer group keeps the offsets of the topics its members subscribe to; an offset of
// another topic expires counting from its commit, and its tombstone survives a reload.
#[test]
fn stable_consumer_group_expires_only_unsubscribed_offsets() {
    let retention = 60_000;
    let mut h = Harness::new(CoordinatorConfig {
        offsets_retention_ms: retention,
        ..CoordinatorConfig::default()
    });
    let first = h.join(&consumer_join(""));
    h.advance(DELAY_MS);
    let answer = h.join_answer(first).expect("joined").clone();
    let member = answer.member_id.clone();
    h.sync(&sync_request(&member, answer.generation_id, Vec::new()));
    h.persist_all(ErrorCode::NONE);
    let mut request = commit_request(&member, answer.generation_id, 4);
    request.partitions.push(PartitionCommit {
        topic: "unsubscribed".into(),
        partition: 0,
        offset: 5,
        leader_epoch: -1,
        metadata: None,
    });
    commit_answer_now(&mut h, &request);
    for _ in 0..12 {
        h.advance(5_000);
        assert_eq!(
            h.heartbeat(&member, None, answer.generation_id),
            ErrorCode::NONE
        );
    }
    assert_eq!(h.state(), GroupState::Stable);
    assert!(h.coordinator.committed_offset("g", "t", 0).is_some());
    assert!(h
        .coordinator
        .committed_offset("g", "unsubscribed", 0)
        .is_none());
    h.persist_all(ErrorCode::NONE);
    let r = h.reloaded();
    assert!(r.coordinator.committed_offset("g", "t", 0).is_some());
    assert!(r
        .coordinator
        .committed_offset("g", "unsubscribed", 0)
        .is_none());
}

// OffsetMetadataManagerTest.testCleanupExpiredOffsetsWithPendingTransactionalOffsets-like:
// an offset whose new commit is being persisted does not expire. Otherwise the log would
// hold the new commit before the expiry's tombstone, and a reload would lose an offset this
// coordinator still serves.
#[test]
fn offset_with_a_commit_in_flight_does_not_expire() {
    let retention = 60_000;
    let mut h = Harness::new(CoordinatorConfig {
        offsets_retention_ms: retention,
        ..CoordinatorConfig::default()
    });
    commit_answer_now(&mut h, &commit_request("", GENERATION_NONE, 1));
    h.advance(retention - 1);
    let held = h.commit(&commit_request("", GENERATION_NONE, 2));
    h.advance(1);
    assert_eq!(
        h.coordinator.committed_offset("g", "t", 0).unwrap().offset,
        1
    );
    h.persist_all(ErrorCode::NONE);
    assert_eq!(h.commit_answer(held).unwrap(), vec![ErrorCode::NONE]);
    let r = h.reloaded();
    assert_eq!(
        r.coordinator.committed_offset("g", "t", 0).unwrap().offset,
        2
    );
}

// GroupMetadataManagerTest.testUnloadOffsetsAndGroup-like: unloading answers a held commit
// at once, and its write, reported after the partition was loaded again, changes nothing:
// the load already took the log as it is, and a later commit must not be undone.
#[test]
fn a_commit_held_across_unload_and_reload_is_not_applied_late() {
    let mut h = Harness::new(CoordinatorConfig::default());
    commit_answer_now(&mut h, &commit_request("", GENERATION_NONE, 1));
    let held = h.commit(&commit_request("", GENERATION_NONE, 2));
    let late = std::mem::take(&mut h.persisted);
    let effects = h.coordinator.unload(0);
    h.absorb(effects);
    assert_eq!(
        h.commit_answer(held).unwrap(),
        vec![ErrorCode::NOT_COORDINATOR]
    );
    // The held write did land: the new leader's log holds it.
    h.coordinator.begin_loading(0);
    for record in &h.records_seen {
        h.coordinator.replay(0, record);
    }
    h.coordinator.finish_loading(0, h.now_ms);
    assert_eq!(
        h.coordinator.committed_offset("g", "t", 0).unwrap().offset,
        2
    );
    commit_answer_now(&mut h, &commit_request("", GENERATION_NONE, 3));
    for batch in late {
        let effects = h
            .coordinator
            .records_persisted(h.now_ms, batch.token, ErrorCode::NONE);
        h.absorb(effects);
    }
    assert_eq!(
        h.coordinator.committed_offset("g", "t", 0).unwrap().offset,
        3
    );
    assert_eq!(
        h.reloaded()
            .coordinator
            .committed_offset("g", "t", 0)
            .unwrap()
            .offset,
        3
    );
}
