//! **inconsistent-offsets**: two different values observed at the same partition and offset
//! (by polls, send acknowledgements or the final log).
//!
//! Guarantee: once an offset is committed its record never changes, so every observer of one
//! offset sees one value (Jepsen's `inconsistent-offsets`; it is how an unclean truncation such
//! as KIP-101's shows up).

use std::collections::{BTreeMap, BTreeSet};

use super::ops::{self, Source};
use super::{Anomaly, FinalState};
use crate::history::{History, Tp};

pub const KIND: &str = "inconsistent-offsets";

pub fn check(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    let mut values: BTreeMap<(&Tp, i64), BTreeMap<u64, Vec<Source>>> = BTreeMap::new();
    for observation in ops::observations(history, final_state) {
        values
            .entry((observation.tp, observation.offset))
            .or_default()
            .entry(observation.value)
            .or_default()
            .push(observation.source);
    }
    values
        .into_iter()
        .filter(|(_, seen)| seen.len() > 1)
        .map(|((tp, offset), seen)| anomaly(tp, offset, &seen))
        .collect()
}

fn anomaly(tp: &Tp, offset: i64, seen: &BTreeMap<u64, Vec<Source>>) -> Anomaly {
    let listed: Vec<String> = seen.keys().map(u64::to_string).collect();
    let events: BTreeSet<usize> = seen
        .values()
        .flatten()
        .filter_map(|source| source.event())
        .collect();
    Anomaly {
        kind: KIND.to_string(),
        tp: Some(tp.clone()),
        value: None,
        offset: Some(offset),
        description: format!(
            "offset {tp}@{offset} was observed holding values {}",
            listed.join(", ")
        ),
        events: events.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    #[test]
    fn two_values_at_one_offset_are_inconsistent() {
        let mut b = HistoryBuilder::new();
        let (_, ack) = b.send_ok(1, tp(0), 10, 0);
        let (_, poll) = b.poll(2, &[(tp(0), 0, 11)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, "inconsistent-offsets");
        assert_eq!(anomaly.tp, Some(tp(0)));
        assert_eq!(anomaly.offset, Some(0));
        assert_eq!(anomaly.value, None);
        assert_eq!(anomaly.events, vec![ack, poll]);
    }

    #[test]
    fn final_log_disagreeing_with_a_poll_is_inconsistent() {
        let mut b = HistoryBuilder::new();
        b.poll(2, &[(tp(0), 3, 10)]);
        let state = final_state(&[(tp(0), 0, &[(3, 12)])]);
        let anomalies = check(&b.build(), &state);
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].offset, Some(3));
    }

    #[test]
    fn agreeing_observers_are_consistent() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.send_ok(1, tp(1), 11, 0);
        b.poll(2, &[(tp(0), 0, 10), (tp(1), 0, 11)]);
        let state = final_state(&[(tp(0), 0, &[(0, 10)]), (tp(1), 0, &[(0, 11)])]);
        assert_eq!(check(&b.build(), &state), vec![]);
    }
}
