//! **Group liveness after the heal** — not an anomaly but a liveness property, so a run that
//! misses it is `unknown`, not `invalid`: once every fault has ended, each consumer group
//! settles on an assignment that gives every partition to exactly one of its live members,
//! and consumes every partition to its end, within a bound derived from its configs.
//!
//! Checked at the deadline, the moment the readers are told to stop: the heal plus the
//! group's bound, or later if the producers' outstanding sends settle later (records appended
//! after the bound cannot have been read within it). Only events up to the deadline count.
//!
//! (a) **Stable with every live member**: every member process alive at the end has received
//!     an assignment since it last (re)started; the latest assignments of all of them are in
//!     one generation; and the partitions they own at the deadline (assignments added,
//!     revocations removed, an incarnation's partitions dropped when it rejoins under a new
//!     member id) are pairwise disjoint and cover every partition of the subscribed topics
//!     that the drain found.
//! (b) **Consumed to the end**: for every such partition, the offset after the last record a
//!     member polled, or the member's last read-back committed offset (OffsetFetch),
//!     reaches the drained high watermark. A partition whose log is empty (log start equal to
//!     the high watermark) is reached.
//!
//! The bound is `group_consumer::liveness_bound`: session.timeout.ms + group.initial.rebalance
//! .delay.ms + 3 × heartbeat.interval.ms + 10 s (see there for why each term).

use std::collections::{BTreeMap, BTreeSet};

use crate::checker::FinalState;
use crate::history::{EventKind, History, Tp};

/// What one consumer group must reach after the heal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupExpectation {
    pub group: String,
    /// The topics its members subscribe to.
    pub topics: BTreeSet<String>,
    /// The client processes that are its members (every incarnation of each).
    pub processes: BTreeSet<u32>,
    /// How long after the heal it may take, in simulated milliseconds.
    pub bound_ms: u64,
}

/// What the run knows about its end, beyond the history and the drained logs.
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    /// When the final heal ended every fault.
    pub heal_ms: u64,
    /// When the readers were told to stop: events after it are not counted.
    pub deadline_ms: u64,
    /// Client processes alive at the end.
    pub alive: BTreeSet<u32>,
    /// When each client process that was restarted last started again; a process missing
    /// here ran from the start of the run.
    pub started_ms: BTreeMap<u32, u64>,
}

/// One sentence per group that missed the property, in group order; empty when all met it.
pub fn check(
    history: &History,
    final_state: &FinalState,
    groups: &[GroupExpectation],
    end: &RunEnd,
) -> Vec<String> {
    groups
        .iter()
        .filter_map(|group| {
            let mut missing = unstable(history, final_state, group, end);
            missing.extend(behind(history, final_state, group, end));
            (!missing.is_empty()).then(|| {
                format!(
                    "group {} did not settle and consume to the end within {} ms of the heal \
                     at {} ms (checked at {} ms): {}",
                    group.group,
                    group.bound_ms,
                    end.heal_ms,
                    end.deadline_ms,
                    missing.join("; ")
                )
            })
        })
        .collect()
}

/// Every partition of the group's topics the drain found.
fn partitions<'a>(final_state: &'a FinalState, group: &GroupExpectation) -> Vec<&'a Tp> {
    (final_state.logs.keys())
        .filter(|tp| group.topics.contains(&tp.topic))
        .collect()
}

/// One member process's view of its membership at the deadline.
#[derive(Default)]
struct Member<'a> {
    member_id: Option<&'a str>,
    /// The generation of its latest assignment in its current incarnation.
    generation: Option<i32>,
    owned: BTreeSet<&'a Tp>,
}

/// Replays `process`'s membership events in `group` from its last start to the deadline.
fn member<'a>(history: &'a History, group: &str, process: u32, end: &RunEnd) -> Member<'a> {
    let started_ms = end.started_ms.get(&process).copied().unwrap_or(0);
    let mut member = Member::default();
    let events = (history.events.iter()).filter(|e| {
        e.process == process && e.time_ms >= started_ms && e.time_ms <= end.deadline_ms
    });
    for event in events {
        match &event.kind {
            EventKind::AssignmentReceived {
                group: g,
                member_id,
                generation,
                partitions,
                ..
            } if g == group => {
                if member.member_id != Some(member_id.as_str()) {
                    // A new member id: what the old one owned is gone with it.
                    member.owned.clear();
                    member.member_id = Some(member_id);
                }
                member.generation = Some(*generation);
                member.owned.extend(partitions);
            }
            EventKind::PartitionsRevoked {
                group: g,
                partitions,
                ..
            } if g == group => {
                for tp in partitions {
                    member.owned.remove(tp);
                }
            }
            _ => {}
        }
    }
    member
}

/// What keeps the group from being stable with every live member at the deadline.
fn unstable(
    history: &History,
    final_state: &FinalState,
    group: &GroupExpectation,
    end: &RunEnd,
) -> Vec<String> {
    let live = group.processes.intersection(&end.alive);
    let members: BTreeMap<u32, Member<'_>> = live
        .map(|&p| (p, member(history, &group.group, p, end)))
        .collect();
    let mut missing = Vec::new();
    let unassigned: Vec<String> = (members.iter())
        .filter(|(_, m)| m.generation.is_none())
        .map(|(p, _)| process_name(*p, end))
        .collect();
    if !unassigned.is_empty() {
        missing.push(format!(
            "no assignment since the last start for {}",
            unassigned.join(", ")
        ));
    }
    let generations: BTreeSet<i32> = members.values().filter_map(|m| m.generation).collect();
    if generations.len() > 1 {
        let each: Vec<String> = (members.iter())
            .filter_map(|(p, m)| Some(format!("process {p} in {}", m.generation?)))
            .collect();
        missing.push(format!(
            "latest assignments in different generations ({})",
            each.join(", ")
        ));
    }
    missing.extend(ownership(final_state, group, &members));
    missing
}

fn process_name(process: u32, end: &RunEnd) -> String {
    match end.started_ms.get(&process) {
        Some(started_ms) => format!("process {process} (restarted at {started_ms} ms)"),
        None => format!("process {process}"),
    }
}

/// Partitions owned by no live member, and partitions owned by more than one.
fn ownership(
    final_state: &FinalState,
    group: &GroupExpectation,
    members: &BTreeMap<u32, Member<'_>>,
) -> Vec<String> {
    let mut owners: BTreeMap<&Tp, Vec<u32>> = BTreeMap::new();
    for (&process, member) in members {
        for &tp in &member.owned {
            owners.entry(tp).or_default().push(process);
        }
    }
    let mut missing = Vec::new();
    let unowned: Vec<String> = partitions(final_state, group)
        .into_iter()
        .filter(|tp| !owners.contains_key(tp))
        .map(Tp::to_string)
        .collect();
    if !unowned.is_empty() {
        missing.push(format!("owned by no live member: {}", unowned.join(", ")));
    }
    for (tp, processes) in owners.iter().filter(|(_, p)| p.len() > 1) {
        let names: Vec<String> = processes.iter().map(u32::to_string).collect();
        missing.push(format!("{tp} owned by processes {}", names.join(" and ")));
    }
    missing
}

/// Partitions whose records the group had not consumed to the drained high watermark.
fn behind(
    history: &History,
    final_state: &FinalState,
    group: &GroupExpectation,
    end: &RunEnd,
) -> Vec<String> {
    let reached = reached(history, group, end);
    let mut behind = Vec::new();
    for tp in partitions(final_state, group) {
        let log = &final_state.logs[tp];
        let reached = reached.get(tp).copied().unwrap_or(-1);
        let from = reached.max(log.log_start_offset);
        if from < log.high_watermark {
            behind.push(format!(
                "{tp} {} behind (read to {}, high watermark {})",
                log.high_watermark - from,
                if reached < 0 {
                    "nothing".to_string()
                } else {
                    reached.to_string()
                },
                log.high_watermark
            ));
        }
    }
    if behind.is_empty() {
        return behind;
    }
    vec![format!(
        "partitions behind the log end: {}",
        behind.join(", ")
    )]
}

/// Per partition, the furthest the group is known to have consumed by the deadline: the
/// offset after the last record a member polled, or the last committed offset read back.
fn reached<'a>(
    history: &'a History,
    group: &GroupExpectation,
    end: &RunEnd,
) -> BTreeMap<&'a Tp, i64> {
    let mut polled: BTreeMap<&Tp, i64> = BTreeMap::new();
    let mut fetched: BTreeMap<&Tp, i64> = BTreeMap::new();
    for fetch in super::offset_fetches(history) {
        if fetch.group == group.group && history.events[fetch.complete].time_ms <= end.deadline_ms {
            for (tp, offset) in fetch.offsets {
                fetched.insert(tp, *offset);
            }
        }
    }
    let events = (history.events.iter())
        .filter(|e| group.processes.contains(&e.process) && e.time_ms <= end.deadline_ms);
    for event in events {
        if let EventKind::PollComplete { reads, .. } = &event.kind {
            for read in reads {
                let next = polled.entry(&read.tp).or_insert(read.offset + 1);
                *next = (*next).max(read.offset + 1);
            }
        }
    }
    for (tp, offset) in fetched {
        let next = polled.entry(tp).or_insert(offset);
        *next = (*next).max(offset);
    }
    polled
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    fn group(processes: &[u32]) -> GroupExpectation {
        GroupExpectation {
            group: "g".into(),
            topics: BTreeSet::from(["t".to_string()]),
            processes: processes.iter().copied().collect(),
            bound_ms: 1_000,
        }
    }

    /// The builder ticks one millisecond per event; the deadline is past all of them.
    fn end(alive: &[u32]) -> RunEnd {
        RunEnd {
            heal_ms: 1,
            deadline_ms: 10_000,
            alive: alive.iter().copied().collect(),
            started_ms: BTreeMap::new(),
        }
    }

    /// t/0 holds offsets 0..3 and t/1 offsets 0..2.
    fn logs() -> FinalState {
        final_state(&[
            (tp(0), 0, &[(0, 10), (1, 11), (2, 12)]),
            (tp(1), 0, &[(0, 20), (1, 21)]),
        ])
    }

    /// Two members settle on one generation through a cooperative move of t/1, and between
    /// them read every partition to its end.
    fn settled() -> HistoryBuilder {
        let mut b = HistoryBuilder::new();
        b.assign(1, "g", "a", 1, &[tp(0), tp(1)]);
        b.poll(1, &[(tp(0), 0, 10), (tp(1), 0, 20)]);
        b.assign(1, "g", "a", 2, &[]);
        b.assign(2, "g", "b", 2, &[]);
        b.revoke(1, "g", "a", 2, &[tp(1)]);
        b.assign(1, "g", "a", 3, &[]);
        b.assign(2, "g", "b", 3, &[tp(1)]);
        b.poll(1, &[(tp(0), 1, 11), (tp(0), 2, 12)]);
        b.poll(2, &[(tp(1), 1, 21)]);
        b
    }

    #[test]
    fn a_settled_group_that_read_to_the_end_is_live() {
        let history = settled().build();
        assert_eq!(
            check(&history, &logs(), &[group(&[1, 2])], &end(&[1, 2])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_committed_offset_read_back_counts_as_consumed() {
        let mut b = HistoryBuilder::new();
        b.assign(1, "g", "a", 1, &[tp(0), tp(1)]);
        b.poll(1, &[(tp(0), 0, 10)]);
        b.offset_fetch(1, "g", &[(tp(0), 3), (tp(1), 2)]);
        assert_eq!(
            check(&b.build(), &logs(), &[group(&[1])], &end(&[1])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_live_member_without_an_assignment_since_its_restart_misses_liveness() {
        let mut b = settled();
        // Process 3 ran before (an assignment of its old incarnation), was restarted at 50 ms
        // and never joined again.
        b.assign(3, "g", "c", 1, &[tp(1)]);
        let history = b.build();
        let mut end = end(&[1, 2, 3]);
        end.started_ms.insert(3, 50);
        let failures = check(&history, &logs(), &[group(&[1, 2, 3])], &end);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].starts_with("group g did not settle"),
            "{}",
            failures[0]
        );
        assert!(
            failures[0]
                .contains("no assignment since the last start for process 3 (restarted at 50 ms)"),
            "{}",
            failures[0]
        );
        // A dead member is not waited for.
        let mut dead = end.clone();
        dead.alive.remove(&3);
        assert_eq!(
            check(&history, &logs(), &[group(&[1, 2, 3])], &dead),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_partition_owned_by_nobody_or_twice_misses_liveness() {
        let mut b = HistoryBuilder::new();
        b.assign(1, "g", "a", 4, &[tp(0)]);
        b.assign(2, "g", "b", 4, &[tp(0)]);
        b.poll(1, &[(tp(0), 2, 12), (tp(1), 1, 21)]);
        let failures = check(&b.build(), &logs(), &[group(&[1, 2])], &end(&[1, 2]));
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].contains("owned by no live member: t/1"),
            "{}",
            failures[0]
        );
        assert!(
            failures[0].contains("t/0 owned by processes 1 and 2"),
            "{}",
            failures[0]
        );
    }

    #[test]
    fn members_left_in_different_generations_miss_liveness() {
        let mut b = settled();
        // Member b lost its membership, revoked t/1 and rejoined as d in a generation a
        // never reached.
        b.revoke(2, "g", "b", 3, &[tp(1)]);
        b.assign(2, "g", "d", 4, &[tp(1)]);
        let failures = check(&b.build(), &logs(), &[group(&[1, 2])], &end(&[1, 2]));
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].contains("different generations (process 1 in 3, process 2 in 4)"),
            "{}",
            failures[0]
        );
    }

    #[test]
    fn a_partition_behind_its_log_end_misses_liveness() {
        let mut b = HistoryBuilder::new();
        b.assign(1, "g", "a", 1, &[tp(0), tp(1)]);
        b.poll(1, &[(tp(0), 0, 10), (tp(1), 0, 20), (tp(1), 1, 21)]);
        let failures = check(&b.build(), &logs(), &[group(&[1])], &end(&[1]));
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].contains(
                "partitions behind the log end: t/0 2 behind (read to 1, high watermark 3)"
            ),
            "{}",
            failures[0]
        );
    }

    #[test]
    fn only_events_up_to_the_deadline_count() {
        let history = settled().build();
        let mut early = end(&[1, 2]);
        // The last two polls complete at 10 and 12 ms, after this deadline.
        early.deadline_ms = 8;
        let failures = check(&history, &logs(), &[group(&[1, 2])], &early);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].contains("t/0 2 behind (read to 1, high watermark 3)"),
            "{}",
            failures[0]
        );
        assert!(failures[0].contains("t/1 1 behind"), "{}", failures[0]);
    }
}
