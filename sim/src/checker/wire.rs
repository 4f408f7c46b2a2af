//! **client-wire-mismatch**: the client-level history and the wire-level history disagree — a
//! client reported a send acknowledged at an offset where no broker acknowledged that value, or
//! a poll returned a record no broker served, or a client reported a commit acknowledged that no
//! coordinator accepted (answered NONE for that offset, member and generation), or an
//! OffsetFetch result no coordinator answered for that group. Also **acked-write-absent** for values a broker
//! acknowledged at the wire that the client never reported as acknowledged.
//!
//! Guarantee: the history is only as trustworthy as the client that wrote it (SIMULATION.md,
//! "History": produce and fetch responses are also recorded at the wire, so a client bug
//! cannot hide a broker bug). Every client-level ok and read must be backed by bytes a broker
//! actually wrote; every broker acknowledgement must be honoured by the converged log unless
//! retention deleted it.

use std::collections::{BTreeMap, BTreeSet};

use super::{groups, ops};
use super::{Anomaly, FinalState};
use crate::history::wire::WireEvent;
use crate::history::{History, Tp};

pub const KIND: &str = "client-wire-mismatch";

pub fn check(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    if !history.wire_recorded {
        return Vec::new();
    }
    let mut acked: BTreeMap<u64, BTreeSet<(&Tp, i64)>> = BTreeMap::new();
    let mut served: BTreeSet<(&Tp, i64, u64)> = BTreeSet::new();
    for event in &history.wire {
        match event {
            WireEvent::Ack {
                tp,
                base_offset,
                values,
                ..
            } => {
                for (i, value) in values.iter().enumerate() {
                    acked
                        .entry(*value)
                        .or_default()
                        .insert((tp, base_offset + i as i64));
                }
            }
            WireEvent::Served { tp, records, .. } => {
                served.extend(records.iter().map(|&(offset, value)| (tp, offset, value)));
            }
            WireEvent::FetchOverLimit { .. }
            | WireEvent::GroupSynced { .. }
            | WireEvent::CommitAccepted { .. }
            | WireEvent::OffsetsServed { .. } => {}
        }
    }
    let mut anomalies = Vec::new();
    let sends = ops::sends(history);
    let client_acked: BTreeSet<u64> = sends
        .iter()
        .filter(|s| s.is_ok())
        .map(|s| s.value)
        .collect();
    for send in sends.iter().filter(|s| s.is_ok()) {
        let Some(offset) = send.offset else { continue };
        if !acked
            .get(&send.value)
            .is_some_and(|at| at.contains(&(send.tp, offset)))
        {
            anomalies.push(Anomaly {
                kind: KIND.to_string(),
                tp: Some(send.tp.clone()),
                value: Some(send.value),
                offset: Some(offset),
                description: format!(
                    "the client reported value {} acknowledged at {}@{offset}, but no broker acknowledged it there",
                    send.value, send.tp
                ),
                events: send.events(),
            });
        }
    }
    for poll in ops::polls(history) {
        for read in poll
            .reads
            .iter()
            .filter(|r| !served.contains(&(&r.tp, r.offset, r.value)))
        {
            anomalies.push(Anomaly {
                kind: KIND.to_string(),
                tp: Some(read.tp.clone()),
                value: Some(read.value),
                offset: Some(read.offset),
                description: format!(
                    "a poll returned value {} at {}@{}, which no broker served",
                    read.value, read.tp, read.offset
                ),
                events: vec![poll.complete],
            });
        }
    }
    anomalies.extend(wire_acked_absent(&acked, &client_acked, final_state));
    anomalies.extend(commits_not_accepted(history));
    anomalies.extend(fetched_offsets_not_served(history));
    anomalies
}

/// Committed offsets a client's OffsetFetch reported that no coordinator answered for that
/// group and partition.
fn fetched_offsets_not_served(history: &History) -> Vec<Anomaly> {
    let mut served: BTreeSet<(&str, &Tp, i64)> = BTreeSet::new();
    for event in &history.wire {
        if let WireEvent::OffsetsServed { group, offsets, .. } = event {
            served.extend(
                offsets
                    .iter()
                    .map(|(tp, offset)| (group.as_str(), tp, *offset)),
            );
        }
    }
    let mut anomalies = Vec::new();
    for fetch in groups::offset_fetches(history) {
        for (tp, offset) in fetch.offsets {
            if served.contains(&(fetch.group, tp, *offset)) {
                continue;
            }
            anomalies.push(Anomaly {
                kind: KIND.to_string(),
                tp: Some(tp.clone()),
                value: None,
                offset: Some(*offset),
                description: format!(
                    "an OffsetFetch of group {} reported {offset} committed for {tp}, which no coordinator answered",
                    fetch.group
                ),
                events: vec![fetch.invoke, fetch.complete],
            });
        }
    }
    anomalies
}

/// Client-acknowledged commits whose offsets no coordinator answered NONE to, for that group,
/// member and generation.
fn commits_not_accepted(history: &History) -> Vec<Anomaly> {
    let mut accepted: BTreeSet<(&str, &str, i32, &Tp, i64)> = BTreeSet::new();
    for event in &history.wire {
        if let WireEvent::CommitAccepted {
            group,
            member_id,
            generation,
            offsets,
            ..
        } = event
        {
            accepted.extend((offsets.iter()).map(|(tp, offset)| {
                (group.as_str(), member_id.as_str(), *generation, tp, *offset)
            }));
        }
    }
    let mut anomalies = Vec::new();
    for commit in groups::commits(history).iter().filter(|c| c.is_ok()) {
        for (tp, offset) in commit.offsets {
            if accepted.contains(&(
                commit.group,
                commit.member_id,
                commit.generation,
                tp,
                *offset,
            )) {
                continue;
            }
            anomalies.push(Anomaly {
                kind: KIND.to_string(),
                tp: Some(tp.clone()),
                value: None,
                offset: Some(*offset),
                description: format!(
                    "the client reported group {}'s commit of {tp} at {offset} (member {}, generation {}) acknowledged, but no coordinator accepted it",
                    commit.group, commit.member_id, commit.generation
                ),
                events: commit.events(),
            });
        }
    }
    anomalies
}

/// Values a broker acknowledged at the wire, that the client did not report acknowledged
/// (those are the client-level checker's), and that the converged log lacks.
fn wire_acked_absent(
    acked: &BTreeMap<u64, BTreeSet<(&Tp, i64)>>,
    client_acked: &BTreeSet<u64>,
    final_state: &FinalState,
) -> Vec<Anomaly> {
    let present = ops::final_values(final_state);
    let mut anomalies = Vec::new();
    for (value, places) in acked
        .iter()
        .filter(|(value, _)| !client_acked.contains(value))
    {
        for &(tp, offset) in places {
            let log_start = ops::log_start_offset(final_state, tp);
            if offset < log_start || present.get(tp).is_some_and(|values| values.contains(value)) {
                continue;
            }
            anomalies.push(Anomaly {
                kind: super::acked_write_absent::KIND.to_string(),
                tp: Some(tp.clone()),
                value: Some(*value),
                offset: Some(offset),
                description: format!(
                    "value {value} acknowledged at the wire at {tp}@{offset} (the client never saw the ack) is absent from the converged log (log start {log_start})"
                ),
                events: Vec::new(),
            });
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    fn ack(tp: Tp, base_offset: i64, values: &[u64]) -> WireEvent {
        WireEvent::Ack {
            node: 1,
            tp,
            base_offset,
            values: values.to_vec(),
        }
    }

    fn served(tp: Tp, records: &[(i64, u64)]) -> WireEvent {
        WireEvent::Served {
            node: 1,
            tp,
            records: records.to_vec(),
        }
    }

    #[test]
    fn client_and_wire_agreeing_is_fine() {
        let mut b = HistoryBuilder::new();
        b.send_ok(0, tp(0), 10, 0);
        b.send_ok(0, tp(0), 11, 1);
        b.poll(1, &[(tp(0), 0, 10), (tp(0), 1, 11)]);
        let mut history = b.build();
        history.wire_recorded = true;
        history.wire = vec![ack(tp(0), 0, &[10, 11]), served(tp(0), &[(0, 10), (1, 11)])];
        let state = final_state(&[(tp(0), 0, &[(0, 10), (1, 11)])]);
        assert_eq!(check(&history, &state), vec![]);
    }

    #[test]
    fn a_client_ack_no_broker_sent_is_a_mismatch() {
        let mut b = HistoryBuilder::new();
        let (invoke, complete) = b.send_ok(0, tp(0), 10, 5);
        let mut history = b.build();
        history.wire_recorded = true;
        history.wire = vec![ack(tp(0), 4, &[10])];
        let state = final_state(&[(tp(0), 0, &[(4, 10)])]);
        let anomalies = check(&history, &state);
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, KIND);
        assert_eq!(
            (anomalies[0].value, anomalies[0].offset),
            (Some(10), Some(5))
        );
        assert_eq!(anomalies[0].events, vec![invoke, complete]);
    }

    #[test]
    fn a_read_no_broker_served_is_a_mismatch() {
        let mut b = HistoryBuilder::new();
        b.send_ok(0, tp(0), 10, 0);
        let (_, poll) = b.poll(1, &[(tp(0), 0, 10), (tp(0), 1, 99)]);
        let mut history = b.build();
        history.wire_recorded = true;
        history.wire = vec![ack(tp(0), 0, &[10]), served(tp(0), &[(0, 10)])];
        let state = final_state(&[(tp(0), 0, &[(0, 10)])]);
        let anomalies = check(&history, &state);
        assert_eq!(anomalies.len(), 1);
        assert_eq!(
            (
                anomalies[0].value,
                anomalies[0].offset,
                anomalies[0].events.clone()
            ),
            (Some(99), Some(1), vec![poll])
        );
    }

    #[test]
    fn a_wire_ack_the_client_missed_must_still_be_in_the_log() {
        let mut b = HistoryBuilder::new();
        b.send_info(0, tp(0), 10);
        let mut history = b.build();
        history.wire_recorded = true;
        history.wire = vec![ack(tp(0), 3, &[10])];
        let lost = check(&history, &final_state(&[(tp(0), 0, &[])]));
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].kind, "acked-write-absent");
        assert_eq!((lost[0].value, lost[0].offset), (Some(10), Some(3)));
        // Present, or deleted by retention (below log start): fine.
        assert_eq!(
            check(&history, &final_state(&[(tp(0), 0, &[(3, 10)])])),
            vec![]
        );
        assert_eq!(check(&history, &final_state(&[(tp(0), 4, &[])])), vec![]);
    }

    #[test]
    fn a_client_commit_ack_no_coordinator_sent_is_a_mismatch() {
        let mut b = HistoryBuilder::new();
        b.commit_ok(1, "g", "a", 2, &[(tp(0), 5)]);
        let (invoke, complete) = b.commit_ok(1, "g", "a", 2, &[(tp(0), 6), (tp(1), 3)]);
        let mut history = b.build();
        history.wire_recorded = true;
        let accepted = |offsets: Vec<(Tp, i64)>| WireEvent::CommitAccepted {
            node: 1,
            group: "g".into(),
            member_id: "a".into(),
            group_instance_id: None,
            generation: 2,
            offsets,
        };
        // The second commit's t/1 was answered with an error (so not recorded).
        history.wire = vec![accepted(vec![(tp(0), 5)]), accepted(vec![(tp(0), 6)])];
        let anomalies = check(&history, &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, KIND);
        assert_eq!(
            (anomalies[0].tp.clone(), anomalies[0].offset),
            (Some(tp(1)), Some(3))
        );
        assert_eq!(anomalies[0].events, vec![invoke, complete]);
        history.wire.push(accepted(vec![(tp(1), 3)]));
        assert_eq!(check(&history, &FinalState::default()), vec![]);
    }

    #[test]
    fn a_fetched_offset_no_coordinator_answered_is_a_mismatch() {
        let mut b = HistoryBuilder::new();
        b.offset_fetch(1, "g", &[(tp(0), 5), (tp(1), -1)]);
        let (invoke, complete) = b.offset_fetch(1, "g", &[(tp(0), 6)]);
        let mut history = b.build();
        history.wire_recorded = true;
        history.wire = vec![WireEvent::OffsetsServed {
            node: 1,
            group: "g".into(),
            offsets: vec![(tp(0), 5), (tp(1), -1)],
        }];
        let anomalies = check(&history, &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].offset, Some(6));
        assert_eq!(anomalies[0].events, vec![invoke, complete]);
    }
}
