//! Shared, read-only views over a history that every checker builds on: sends paired with their
//! completions, polls paired with their invokes, and an index of every (partition, offset,
//! value) observation with where it came from.
//!
//! Everything here is keyed by BTreeMap/BTreeSet so that building it is O(n log n) and
//! iterating it is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use super::FinalState;
use crate::history::{EventKind, History, Outcome, Read, Tp};

/// One send operation: its invoke and, if the run recorded one, its completion.
#[derive(Debug, Clone)]
pub(crate) struct Send<'a> {
    /// The producer process that invoked it.
    pub process: u32,
    /// The partition it was sent to.
    pub tp: &'a Tp,
    /// The unique value it carried.
    pub value: u64,
    /// History index of the invoke.
    pub invoke: usize,
    /// History index of the completion; `None` if the run ended first (treated as info).
    pub complete: Option<usize>,
    /// How it ended; `None` if it never completed.
    pub outcome: Option<&'a Outcome>,
    /// The acknowledged offset (only an ok send has one).
    pub offset: Option<i64>,
}

impl Send<'_> {
    /// Acknowledged by the broker.
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Some(Outcome::Ok))
    }

    /// Definitely did not take effect.
    pub fn is_fail(&self) -> bool {
        matches!(self.outcome, Some(Outcome::Fail(_)))
    }

    /// The history indexes of the invoke and the completion.
    pub fn events(&self) -> Vec<usize> {
        std::iter::once(self.invoke).chain(self.complete).collect()
    }
}

/// One poll operation, by its completion.
#[derive(Debug, Clone)]
pub(crate) struct Poll<'a> {
    /// History index of the completion (the event that carries the reads).
    pub complete: usize,
    /// The records it returned, in the order returned.
    pub reads: &'a [Read],
}

/// Every send in invoke order, paired with its completion by op id.
pub(crate) fn sends(history: &History) -> Vec<Send<'_>> {
    let mut sends: Vec<Send<'_>> = Vec::new();
    let mut position_by_op: BTreeMap<u64, usize> = BTreeMap::new();
    for event in &history.events {
        match &event.kind {
            EventKind::SendInvoke { tp, value } => {
                position_by_op.insert(event.op, sends.len());
                sends.push(Send {
                    process: event.process,
                    tp,
                    value: *value,
                    invoke: event.index,
                    complete: None,
                    outcome: None,
                    offset: None,
                });
            }
            EventKind::SendComplete { outcome, offset } => {
                if let Some(&position) = position_by_op.get(&event.op) {
                    let send = &mut sends[position];
                    send.complete = Some(event.index);
                    send.outcome = Some(outcome);
                    send.offset = *offset;
                }
            }
            _ => {}
        }
    }
    sends
}

/// Every poll completion in history order. Reads are taken whatever the outcome: they are what
/// the client saw.
pub(crate) fn polls(history: &History) -> Vec<Poll<'_>> {
    history
        .events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::PollComplete { reads, .. } => Some(Poll {
                complete: event.index,
                reads,
            }),
            _ => None,
        })
        .collect()
}

/// Where an observation of a value at an offset came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// A poll completion at this history index read it.
    Poll(usize),
    /// An ok send completion at this history index acknowledged it.
    Ack(usize),
    /// The converged log read back after the run (the drain) holds it.
    FinalLog,
}

impl Source {
    /// The history index, if the source is an event.
    pub fn event(self) -> Option<usize> {
        match self {
            Source::Poll(index) | Source::Ack(index) => Some(index),
            Source::FinalLog => None,
        }
    }
}

/// One observation of a value at a partition and offset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Observation<'a> {
    pub tp: &'a Tp,
    pub offset: i64,
    pub value: u64,
    pub source: Source,
}

/// Every observation from polls, send acknowledgements and the final logs.
pub(crate) fn observations<'a>(
    history: &'a History,
    final_state: &'a FinalState,
) -> Vec<Observation<'a>> {
    let mut all = Vec::new();
    for poll in polls(history) {
        for read in poll.reads {
            all.push(Observation {
                tp: &read.tp,
                offset: read.offset,
                value: read.value,
                source: Source::Poll(poll.complete),
            });
        }
    }
    for send in sends(history) {
        if let (true, Some(offset), Some(complete)) = (send.is_ok(), send.offset, send.complete) {
            all.push(Observation {
                tp: send.tp,
                offset,
                value: send.value,
                source: Source::Ack(complete),
            });
        }
    }
    for (tp, log) in &final_state.logs {
        for &(offset, value) in &log.records {
            all.push(Observation {
                tp,
                offset,
                value,
                source: Source::FinalLog,
            });
        }
    }
    all
}

/// Every offset known to exist in each partition, from any source.
pub(crate) fn known_offsets<'a>(
    observations: &[Observation<'a>],
) -> BTreeMap<&'a Tp, BTreeSet<i64>> {
    let mut known: BTreeMap<&Tp, BTreeSet<i64>> = BTreeMap::new();
    for observation in observations {
        known
            .entry(observation.tp)
            .or_default()
            .insert(observation.offset);
    }
    known
}

/// Every value read by a poll or present in the final log, with the poll completions that read it.
pub(crate) fn read_values(
    history: &History,
    final_state: &FinalState,
) -> BTreeMap<u64, Vec<Source>> {
    let mut read: BTreeMap<u64, Vec<Source>> = BTreeMap::new();
    for poll in polls(history) {
        for record in poll.reads {
            read.entry(record.value)
                .or_default()
                .push(Source::Poll(poll.complete));
        }
    }
    for log in final_state.logs.values() {
        for &(_, value) in &log.records {
            read.entry(value).or_default().push(Source::FinalLog);
        }
    }
    read
}

/// The values each partition's final log holds.
pub(crate) fn final_values(final_state: &FinalState) -> BTreeMap<&Tp, BTreeSet<u64>> {
    final_state
        .logs
        .iter()
        .map(|(tp, log)| (tp, log.records.iter().map(|&(_, value)| value).collect()))
        .collect()
}

/// The final log start offset of a partition (0 if the partition is missing from the final state).
pub(crate) fn log_start_offset(final_state: &FinalState, tp: &Tp) -> i64 {
    final_state
        .logs
        .get(tp)
        .map_or(0, |log| log.log_start_offset)
}

/// Sorted, deduplicated history indexes.
pub(crate) fn event_list(indexes: impl IntoIterator<Item = usize>) -> Vec<usize> {
    indexes
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
