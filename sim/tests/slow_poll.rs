//! The `slow-poll` fault (issue 12, item 9): a group member whose application stops calling
//! poll while its heartbeat task goes on. The scenario parser accepts it on a group member
//! and nowhere else; in a run, the member stays in the group past `session.timeout.ms`
//! (its heartbeats go on), leaves by itself once `max.poll.interval.ms` passes without a
//! poll, the other member takes its partitions in a generation without it, and when its
//! application polls again it reports those partitions lost and joins a later generation.

use std::collections::BTreeSet;

use kafkasim_sim::history::{EventKind, Tp};
use kafkasim_sim::run::run_seed;
use kafkasim_sim::scenario::{parse, FaultKind, Scenario, Target, Verdict};

/// When the slow-poll fires, and the three timeouts that decide what it causes: the member
/// stays in the group through `SESSION_TIMEOUT_MS` of stall only if its heartbeats go on.
const STALL_AT_MS: u64 = 6_000;
const SESSION_TIMEOUT_MS: u64 = 6_000;
const MAX_POLL_INTERVAL_MS: u64 = 12_000;
const STALL_MS: u64 = 20_000;

/// A producer (client 0) and a group of two members (clients 1 and 2); client 2 stalls.
fn scenario(fault: &str) -> String {
    format!(
        r#"
[scenario]
name = "slow-poll"
why = "test"
seeds = 1
duration = "36s"

[cluster]
brokers = 3

[broker]
"min.insync.replicas" = 2
"offsets.topic.num.partitions" = 3
"group.initial.rebalance.delay.ms" = 500

[[topic]]
name = "t"
partitions = 4
replication_factor = 3

[[workload]]
kind = "producer"
topic = "t"
rate = "100/s"
config = {{ acks = "all", "request.timeout.ms" = 3000, "delivery.timeout.ms" = 30000 }}

[[workload]]
kind = "group-consumer"
topic = "t"
clients = 2
group = "g"
config = {{ "auto.offset.reset" = "earliest", "session.timeout.ms" = {SESSION_TIMEOUT_MS}, "heartbeat.interval.ms" = 1000, "max.poll.interval.ms" = {MAX_POLL_INTERVAL_MS}, "auto.commit.interval.ms" = 1000 }}

[[fault]]
at = "{STALL_AT_MS}ms"
actions = [{fault}]

[expect]
verdict = "valid"
min = {{ faults_by_kind = {{ "slow-poll" = 1 }} }}
"#
    )
}

fn slow_member() -> Scenario {
    let text = scenario(&format!(
        r#"{{ do = "slow-poll", target = "client(2)", duration = "{STALL_MS}ms" }}"#
    ));
    parse("slow-poll.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn slow_poll_parses_on_a_group_member_with_its_duration() {
    let scenario = slow_member();
    let action = &scenario.faults[0].actions[0];
    assert_eq!(
        action.kind,
        FaultKind::SlowPoll {
            duration_ms: STALL_MS
        }
    );
    assert_eq!(action.target, Target::Client(2));
    assert_eq!(action.kind.name(), "slow-poll");
}

#[test]
fn slow_poll_is_refused_without_a_duration_off_a_group_member_and_on_a_broker() {
    let refused = |fault: &str| parse("slow-poll.toml", &scenario(fault)).unwrap_err();

    let error = refused(r#"{ do = "slow-poll", target = "client(1)" }"#);
    assert_eq!(error.field, "fault[0].actions[0].duration");
    assert!(error.message.contains("duration"), "{error}");

    let error = refused(r#"{ do = "slow-poll", target = "client(0)", duration = "5s" }"#);
    assert_eq!(error.field, "fault[0].actions[0].target");
    assert!(
        error.message.contains("client(0) is a producer client")
            && error.message.contains("client(1), client(2)"),
        "{error}"
    );

    let error = refused(r#"{ do = "slow-poll", target = "broker(1)", duration = "5s" }"#);
    assert_eq!(error.field, "fault[0].actions[0].target");

    let error = refused(r#"{ do = "slow-poll", target = "client(1)", delay = "5s" }"#);
    assert!(
        error.message.contains("not a parameter of slow-poll"),
        "{error}"
    );
}

/// Assignments (generation, partitions, time) process `process` received.
fn assignments(events: &[kafkasim_sim::history::Event], process: u32) -> Vec<(i32, Vec<Tp>, u64)> {
    (events.iter())
        .filter(|event| event.process == process)
        .filter_map(|event| match &event.kind {
            EventKind::AssignmentReceived {
                generation,
                partitions,
                ..
            } => Some((*generation, partitions.clone(), event.time_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_member_too_slow_to_poll_leaves_while_heartbeating_and_rejoins_with_its_partitions_lost() {
    let scenario = slow_member();
    let data = std::thread::spawn(move || run_seed(&scenario, 1))
        .join()
        .expect("the run finished");
    assert_eq!(data.verdict, Verdict::Valid, "{:?}", data.anomalies);
    let effects = &data.effects;
    assert_eq!(
        effects.get("group_member.poll_interval_expired"),
        Some(&1),
        "{effects:?}"
    );
    assert!(
        effects.get("group_member.generations_missed") >= Some(&1),
        "{effects:?}"
    );

    let fired = &data.faults[0];
    assert_eq!(
        (fired.kind.as_str(), fired.target.as_str()),
        ("slow-poll", "client(2)")
    );
    let stall_start = fired.time_ms;
    let events = &data.history.events;
    let (slow, other) = (2, 1);

    // What the slow member held when the stall began.
    let (left_generation, held, _) = assignments(events, slow)
        .into_iter()
        .filter(|(_, _, at)| *at <= stall_start)
        .last()
        .expect("the slow member was assigned before the stall");
    assert!(!held.is_empty(), "the slow member held partitions");

    // The other member's first generation after it: formed without the slow member, and
    // only once max.poll.interval.ms had passed. Had its heartbeats stopped with its polls, the
    // coordinator would have removed it after session.timeout.ms and rebalanced seconds earlier.
    let (without_generation, taken, taken_at) = assignments(events, other)
        .into_iter()
        .find(|(generation, _, _)| *generation > left_generation)
        .expect("the other member rebalanced");
    assert!(
        taken_at >= stall_start + SESSION_TIMEOUT_MS + 4_000,
        "rebalanced at {taken_at} ms, the stall began at {stall_start} ms"
    );
    assert!(taken_at < stall_start + STALL_MS, "before the stall ended");
    let taken: BTreeSet<&Tp> = taken.iter().collect();
    assert!(
        held.iter().all(|tp| taken.contains(tp)),
        "generation {without_generation} gave the other member {taken:?}, the slow one held {held:?}"
    );

    // When the stall ends, the slow member reports what it held lost (as a revocation of
    // the generation it left), then joins a later generation than the one formed without it.
    let lost_at = (events.iter())
        .filter(|event| event.process == slow && event.time_ms > stall_start)
        .find_map(|event| match &event.kind {
            EventKind::PartitionsRevoked {
                generation,
                partitions,
                ..
            } if *generation == left_generation => Some((partitions.clone(), event.time_ms)),
            _ => None,
        });
    let (lost, lost_at) = lost_at.expect("the slow member reported its partitions lost");
    assert_eq!(lost, held);
    assert!(
        lost_at >= stall_start + STALL_MS,
        "lost only once it polled again"
    );
    assert_eq!(
        effects.get("group_member.partitions_lost"),
        Some(&(held.len() as u64)),
        "{effects:?}"
    );
    let rejoined = assignments(events, slow)
        .into_iter()
        .find(|(_, _, at)| *at > lost_at)
        .expect("the slow member joined again");
    assert!(rejoined.0 > without_generation, "{rejoined:?}");
}
