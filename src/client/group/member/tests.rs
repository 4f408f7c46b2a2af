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
