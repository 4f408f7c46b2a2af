//! The member state machine, event by event.

use super::*;

fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
    list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

fn topics(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|t| t.to_string()).collect()
}

/// A member that completed generation `generation` owning `owned`.
fn stable(owned: &[(&str, i32)], generation: i32, protocol: RebalanceProtocol) -> Member {
    let mut member = Member::new();
    member.prepare_join(protocol, &topics(&["t"]));
    member.join_sent();
    let step = member.on_join_response(ErrorCode::NONE, "m-1", generation, Some("range"), "m-1");
    assert_eq!(
        step,
        JoinStep::Sync {
            leader: true,
            protocol_name: "range".into()
        }
    );
    assert_eq!(member.on_sync_response(ErrorCode::NONE), JoinStep::Assigned);
    member.complete_join(&tps(owned), protocol);
    member
}

#[test]
fn a_first_join_goes_through_member_id_required_to_stable() {
    let mut member = Member::new();
    assert!(member.needs_rejoin());
    let prep = member.prepare_join(RebalanceProtocol::Eager, &topics(&["t"]));
    assert_eq!(prep, JoinPrep::default(), "nothing owned, nothing given up");
    member.join_sent();
    let step = member.on_join_response(ErrorCode::MEMBER_ID_REQUIRED, "m-1", -1, None, "");
    assert_eq!(step, JoinStep::RetryNow);
    assert_eq!(member.member_id, "m-1");
    assert!(
        !member.needs_join_prepare,
        "the retry is the same rebalance"
    );
    member.join_sent();
    let step = member.on_join_response(ErrorCode::NONE, "m-1", 1, Some("range"), "m-0");
    assert_eq!(
        step,
        JoinStep::Sync {
            leader: false,
            protocol_name: "range".into()
        }
    );
    assert_eq!(member.state, MemberState::CompletingRebalance);
    assert_eq!(member.on_sync_response(ErrorCode::NONE), JoinStep::Assigned);
    let completion = member.complete_join(&tps(&[("t", 1), ("t", 0)]), RebalanceProtocol::Eager);
    assert_eq!(completion.added, tps(&[("t", 0), ("t", 1)]));
    assert!(!completion.rejoin);
    assert!(!member.needs_rejoin());
    assert_eq!(member.generation_if_stable(), Some((1, "m-1".to_string())));
}

#[test]
fn eager_revokes_everything_before_rejoining() {
    let mut member = stable(&[("t", 0), ("t", 1)], 3, RebalanceProtocol::Eager);
    let reaction = member.on_heartbeat_response(3, "m-1", ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(reaction, Reaction::Rejoin);
    assert!(member.needs_rejoin());
    let prep = member.prepare_join(RebalanceProtocol::Eager, &topics(&["t"]));
    assert_eq!(prep.revoked, tps(&[("t", 0), ("t", 1)]));
    assert!(prep.lost.is_empty());
    assert!(prep.revoke_callback);
    assert!(member.owned.is_empty());
}

#[test]
fn cooperative_revokes_only_unsubscribed_topics_before_joining() {
    let mut member = stable(
        &[("gone", 0), ("t", 0), ("t", 1)],
        3,
        RebalanceProtocol::Cooperative,
    );
    member.request_rejoin();
    let prep = member.prepare_join(RebalanceProtocol::Cooperative, &topics(&["t"]));
    assert_eq!(prep.revoked, tps(&[("gone", 0)]));
    assert_eq!(member.owned, tps(&[("t", 0), ("t", 1)]));
    let mut same = stable(&[("t", 0)], 3, RebalanceProtocol::Cooperative);
    same.request_rejoin();
    let prep = same.prepare_join(RebalanceProtocol::Cooperative, &topics(&["t"]));
    assert!(prep.revoked.is_empty());
    assert!(
        !prep.revoke_callback,
        "no revoke callback with nothing revoked"
    );
}

#[test]
fn cooperative_revoke_after_sync_asks_for_a_second_round() {
    let mut member = stable(&[("t", 0), ("t", 1)], 3, RebalanceProtocol::Cooperative);
    member.request_rejoin();
    member.prepare_join(RebalanceProtocol::Cooperative, &topics(&["t"]));
    member.join_sent();
    member.on_join_response(ErrorCode::NONE, "m-1", 4, Some("cooperative-sticky"), "x");
    member.on_sync_response(ErrorCode::NONE);
    let completion =
        member.complete_join(&tps(&[("t", 1), ("t", 2)]), RebalanceProtocol::Cooperative);
    assert_eq!(completion.revoked, tps(&[("t", 0)]));
    assert_eq!(completion.added, tps(&[("t", 2)]));
    assert!(completion.rejoin);
    assert!(member.needs_rejoin());
    // The second round keeps what it owns and revokes nothing more.
    let prep = member.prepare_join(RebalanceProtocol::Cooperative, &topics(&["t"]));
    assert!(prep.revoked.is_empty());
    assert_eq!(member.owned, tps(&[("t", 1), ("t", 2)]));
}

#[test]
fn being_out_of_the_group_loses_partitions_instead_of_revoking_them() {
    for code in [
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::FENCED_INSTANCE_ID,
    ] {
        let mut member = stable(&[("t", 0)], 3, RebalanceProtocol::Cooperative);
        assert_eq!(
            member.on_heartbeat_response(3, "m-1", code),
            Reaction::Reset
        );
        assert_eq!(member.state, MemberState::Unjoined);
        assert_eq!(member.generation_id, GENERATION_NONE);
        assert_eq!(member.member_id, MEMBER_ID_NONE);
        assert_eq!(member.generation_if_stable(), None);
        let prep = member.prepare_join(RebalanceProtocol::Cooperative, &topics(&["t"]));
        assert_eq!(prep.lost, tps(&[("t", 0)]), "{code}");
        assert!(prep.revoked.is_empty());
    }
}

#[test]
fn a_stale_heartbeat_answer_changes_nothing() {
    let mut member = stable(&[("t", 0)], 3, RebalanceProtocol::Eager);
    let before = member.clone();
    assert_eq!(
        member.on_heartbeat_response(2, "m-1", ErrorCode::ILLEGAL_GENERATION),
        Reaction::None
    );
    assert_eq!(
        member.on_heartbeat_response(3, "m-old", ErrorCode::REBALANCE_IN_PROGRESS),
        Reaction::None
    );
    assert_eq!(member, before);
}

#[test]
fn coordinator_errors_ask_for_rediscovery_without_leaving() {
    let mut member = stable(&[("t", 0)], 3, RebalanceProtocol::Eager);
    for code in [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ] {
        assert_eq!(
            member.on_heartbeat_response(3, "m-1", code),
            Reaction::CoordinatorUnknown
        );
        assert_eq!(member.state, MemberState::Stable);
    }
    member.join_sent_after_rejoin_for_test();
    assert_eq!(
        member.on_join_response(ErrorCode::NOT_COORDINATOR, "", -1, None, ""),
        JoinStep::CoordinatorUnknown
    );
    assert_eq!(
        member.generation_id, 3,
        "finding the coordinator again keeps the generation"
    );
}

#[test]
fn join_errors_follow_kafkas_join_group_if_needed() {
    let cases = [
        (ErrorCode::UNKNOWN_MEMBER_ID, JoinStep::RetryNow, "", -1),
        (ErrorCode::ILLEGAL_GENERATION, JoinStep::RetryNow, "m-1", -1),
        (
            ErrorCode::REBALANCE_IN_PROGRESS,
            JoinStep::RetryNow,
            "m-1",
            3,
        ),
        (
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            JoinStep::RetryBackoff,
            "m-1",
            3,
        ),
        (
            ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
            JoinStep::Error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL),
            "m-1",
            3,
        ),
    ];
    for (code, expected, member_id, generation) in cases {
        let mut member = stable(&[], 3, RebalanceProtocol::Eager);
        member.join_sent_after_rejoin_for_test();
        assert_eq!(
            member.on_join_response(code, "", -1, None, ""),
            expected,
            "{code}"
        );
        assert_eq!(member.member_id, member_id, "{code}");
        assert_eq!(member.generation_id, generation, "{code}");
        assert_eq!(member.state, MemberState::Unjoined);
    }
}

#[test]
fn sync_errors_reset_or_retry() {
    let mut member = Member::new();
    member.prepare_join(RebalanceProtocol::Eager, &topics(&["t"]));
    member.join_sent();
    member.on_join_response(ErrorCode::NONE, "m-1", 1, Some("range"), "m-1");
    assert_eq!(
        member.on_sync_response(ErrorCode::REBALANCE_IN_PROGRESS),
        JoinStep::RetryNow
    );
    assert_eq!(member.generation_id, 1);
    assert!(!member.needs_join_prepare);
    member.join_sent();
    member.on_join_response(ErrorCode::NONE, "m-1", 2, Some("range"), "m-1");
    assert_eq!(
        member.on_sync_response(ErrorCode::UNKNOWN_MEMBER_ID),
        JoinStep::RetryNow
    );
    assert_eq!((member.generation_id, member.member_id.as_str()), (-1, ""));
    assert!(member.needs_join_prepare, "a reset member prepares again");
}

#[test]
fn a_join_or_sync_answer_after_a_reset_is_void() {
    let mut member = stable(&[("t", 0)], 3, RebalanceProtocol::Cooperative);
    member.request_rejoin();
    member.prepare_join(RebalanceProtocol::Cooperative, &topics(&["t"]));
    member.join_sent();
    // The answer to a heartbeat sent before the JoinGroup arrives first.
    member.on_heartbeat_response(3, "m-1", ErrorCode::UNKNOWN_MEMBER_ID);
    let step = member.on_join_response(ErrorCode::NONE, "m-1", 4, Some("range"), "m-1");
    assert_eq!(step, JoinStep::RetryNow);
    assert_eq!(
        member.generation_id, GENERATION_NONE,
        "the void answer was not taken"
    );
    let prep = member.prepare_join(RebalanceProtocol::Cooperative, &topics(&["t"]));
    assert_eq!(prep.lost, tps(&[("t", 0)]));

    member.join_sent();
    member.on_join_response(ErrorCode::NONE, "m-2", 5, Some("range"), "m-2");
    member.leave();
    assert_eq!(member.on_sync_response(ErrorCode::NONE), JoinStep::RetryNow);
    assert_eq!(member.state, MemberState::Unjoined);
}

#[test]
fn leaving_forgets_generation_and_member_id() {
    let mut member = stable(&[("t", 0)], 5, RebalanceProtocol::Eager);
    member.leave();
    assert_eq!(member.state, MemberState::Unjoined);
    assert!(member.needs_rejoin());
    let prep = member.prepare_join(RebalanceProtocol::Eager, &topics(&["t"]));
    assert_eq!(prep.lost, tps(&[("t", 0)]));
}

#[test]
#[should_panic(expected = "join prepared twice")]
fn preparing_twice_in_one_rebalance_is_a_bug() {
    let mut member = Member::new();
    member.prepare_join(RebalanceProtocol::Eager, &topics(&["t"]));
    member.prepare_join(RebalanceProtocol::Eager, &topics(&["t"]));
}

fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
    list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

/// A member that led generation `generation`: it ran the assignor over `watched` with
/// `assigned_counts`, then took `owned`.
fn leader_with_snapshot(
    watched: &[&str],
    assigned_counts: &[(&str, i32)],
    owned: &[(&str, i32)],
    protocol: RebalanceProtocol,
) -> Member {
    let mut member = Member::new();
    member.prepare_join(protocol, &topics(&["t"]));
    member.join_sent();
    member.on_join_response(ErrorCode::NONE, "m-1", 4, Some("range"), "m-1");
    let watched: Vec<String> = watched.iter().map(|t| t.to_string()).collect();
    member.assignor_ran(&watched, counts(assigned_counts));
    assert_eq!(member.on_sync_response(ErrorCode::NONE), JoinStep::Assigned);
    member.complete_join(&tps(owned), protocol);
    member
}

#[test]
fn the_leader_rejoins_when_a_watched_topic_gains_partitions() {
    let mut member = leader_with_snapshot(
        &["t"],
        &[("t", 6)],
        &[("t", 0), ("t", 1)],
        RebalanceProtocol::Eager,
    );
    assert_eq!(member.watched_topics(), Some(vec!["t".to_string()]));
    assert!(!member.on_metadata(&counts(&[("t", 6)])), "same counts");
    assert!(!member.needs_rejoin());
    assert!(member.on_metadata(&counts(&[("t", 9)])), "partitions added");
    assert!(member.needs_rejoin());
    // The rejoin forgets the snapshot; the next assignor run takes a new one.
    member.prepare_join(RebalanceProtocol::Eager, &topics(&["t"]));
    member.join_sent();
    assert_eq!(member.assignment_snapshot, None);
    assert_eq!(member.watched_topics(), None);
    member.on_join_response(ErrorCode::NONE, "m-1", 5, Some("range"), "m-1");
    member.assignor_ran(&["t".to_string()], counts(&[("t", 9)]));
    assert_eq!(member.on_sync_response(ErrorCode::NONE), JoinStep::Assigned);
    member.complete_join(
        &tps(&[("t", 0), ("t", 1), ("t", 2)]),
        RebalanceProtocol::Eager,
    );
    assert!(!member.on_metadata(&counts(&[("t", 9)])));
    assert!(!member.needs_rejoin());
}

#[test]
fn a_topic_appearing_or_going_counts_as_a_change() {
    let mut member = leader_with_snapshot(
        &["a", "b"],
        &[("a", 2)],
        &[("a", 0)],
        RebalanceProtocol::Cooperative,
    );
    assert_eq!(
        member.watched_topics(),
        Some(vec!["a".to_string(), "b".to_string()])
    );
    assert!(!member.on_metadata(&counts(&[("a", 2)])));
    assert!(
        member.on_metadata(&counts(&[("a", 2), ("b", 1)])),
        "b created"
    );
    let mut member = leader_with_snapshot(
        &["a", "b"],
        &[("a", 2), ("b", 1)],
        &[("a", 0)],
        RebalanceProtocol::Cooperative,
    );
    assert!(member.on_metadata(&counts(&[("a", 2)])), "b gone");
}

#[test]
fn only_the_leader_of_a_stable_generation_watches_metadata() {
    // A follower never ran the assignor: it has nothing to compare with.
    let mut follower = Member::new();
    follower.prepare_join(RebalanceProtocol::Eager, &topics(&["t"]));
    follower.join_sent();
    follower.on_join_response(ErrorCode::NONE, "m-2", 4, Some("range"), "m-1");
    follower.assignor_ran(&["t".to_string()], counts(&[("t", 6)]));
    assert_eq!(follower.assignment_snapshot, None, "not the leader");
    follower.on_sync_response(ErrorCode::NONE);
    follower.complete_join(&tps(&[("t", 3)]), RebalanceProtocol::Eager);
    assert_eq!(follower.watched_topics(), None);
    assert!(!follower.on_metadata(&BTreeMap::new()));
    assert!(!follower.needs_rejoin());

    // A leader reset by an error (or leaving) forgets its snapshot.
    let mut leader =
        leader_with_snapshot(&["t"], &[("t", 6)], &[("t", 0)], RebalanceProtocol::Eager);
    leader.on_heartbeat_response(4, "m-1", ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(leader.assignment_snapshot, None);
    assert!(!leader.on_metadata(&counts(&[("t", 9)])));

    // While a rebalance is under way the snapshot is not compared (the member is not
    // Stable); a reset while the assignor ran makes its result void.
    let mut leader =
        leader_with_snapshot(&["t"], &[("t", 6)], &[("t", 0)], RebalanceProtocol::Eager);
    leader.join_sent_after_rejoin_for_test();
    assert_eq!(leader.watched_topics(), None);
    leader.on_join_response(ErrorCode::NONE, "m-1", 5, Some("range"), "m-1");
    leader.leave();
    leader.assignor_ran(&["t".to_string()], counts(&[("t", 9)]));
    assert_eq!(leader.assignment_snapshot, None);
}

#[test]
#[should_panic(expected = "a topic the leader does not watch")]
fn metadata_of_an_unwatched_topic_is_a_bug() {
    let mut member =
        leader_with_snapshot(&["t"], &[("t", 6)], &[("t", 0)], RebalanceProtocol::Eager);
    member.on_metadata(&counts(&[("t", 6), ("u", 1)]));
}

impl Member {
    /// A stable member asked to rejoin, prepared and sending JoinGroup.
    fn join_sent_after_rejoin_for_test(&mut self) {
        self.request_rejoin();
        if self.needs_join_prepare {
            self.prepare_join(RebalanceProtocol::Eager, &topics(&["t"]));
        }
        self.join_sent();
    }
}
