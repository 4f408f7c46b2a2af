//! **duplicate**: one value read at two or more distinct offsets (by polls or in the final log).
//!
//! Guarantee: every value is sent once by one producer, so the log holds it at most once; a
//! second copy means a retry was appended twice (no idempotence) or the log was corrupted
//! (Jepsen's `duplicate`). Send acknowledgements are not used here: an ack at one offset and a
//! read at another is an offset disagreement, which `inconsistent-offsets` reports when the
//! acknowledged offset holds something else.

use std::collections::{BTreeMap, BTreeSet};

use super::ops::{self, Source};
use super::{Anomaly, FinalState};
use crate::history::{History, Tp};

pub const KIND: &str = "duplicate";

pub fn check(history: &History, final_state: &FinalState) -> Vec<Anomaly> {
    let mut positions: BTreeMap<u64, BTreeMap<(&Tp, i64), Vec<Source>>> = BTreeMap::new();
    for observation in ops::observations(history, final_state) {
        if matches!(observation.source, Source::Ack(_)) {
            continue;
        }
        positions
            .entry(observation.value)
            .or_default()
            .entry((observation.tp, observation.offset))
            .or_default()
            .push(observation.source);
    }
    positions
        .into_iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(value, at)| anomaly(value, &at))
        .collect()
}

fn anomaly(value: u64, at: &BTreeMap<(&Tp, i64), Vec<Source>>) -> Anomaly {
    let (&(tp, offset), _) = at.iter().next().expect("at least two positions");
    let places: Vec<String> = at
        .keys()
        .map(|(tp, offset)| format!("{tp}@{offset}"))
        .collect();
    let events: BTreeSet<usize> = at
        .values()
        .flatten()
        .filter_map(|source| source.event())
        .collect();
    Anomaly {
        kind: KIND.to_string(),
        tp: Some(tp.clone()),
        value: Some(value),
        offset: Some(offset),
        description: format!(
            "value {value} appears at {} offsets: {}",
            at.len(),
            places.join(", ")
        ),
        events: events.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{final_state, tp, HistoryBuilder};
    use super::*;

    #[test]
    fn value_read_at_two_offsets_is_a_duplicate() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        let (_, first) = b.poll(2, &[(tp(0), 0, 10)]);
        let (_, second) = b.poll(3, &[(tp(0), 1, 10)]);
        let anomalies = check(&b.build(), &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, "duplicate");
        assert_eq!(anomaly.tp, Some(tp(0)));
        assert_eq!(anomaly.value, Some(10));
        assert_eq!(anomaly.offset, Some(0));
        assert_eq!(anomaly.events, vec![first, second]);
    }

    #[test]
    fn value_read_repeatedly_at_one_offset_is_not_a_duplicate() {
        let mut b = HistoryBuilder::new();
        b.send_ok(1, tp(0), 10, 0);
        b.poll(2, &[(tp(0), 0, 10)]);
        b.poll(3, &[(tp(0), 0, 10)]);
        let state = final_state(&[(tp(0), 0, &[(0, 10)])]);
        assert_eq!(check(&b.build(), &state), vec![]);
    }

    #[test]
    fn duplicate_inside_the_final_log_is_found() {
        let history = HistoryBuilder::new().build();
        let state = final_state(&[(tp(0), 0, &[(0, 10), (1, 10)])]);
        let anomalies = check(&history, &state);
        assert_eq!(anomalies.len(), 1);
        assert_eq!(
            (anomalies[0].value, anomalies[0].offset),
            (Some(10), Some(0))
        );
        assert_eq!(anomalies[0].events, Vec::<usize>::new());
    }
}
