//! Compact builders for hand-written histories and final states in checker tests.

use super::{FinalLog, FinalState};
use crate::history::{EventKind, History, Outcome, Read, Tp};

/// Partition `t/<partition>`.
pub(crate) fn tp(partition: i32) -> Tp {
    Tp::new("t", partition)
}

/// One partition's final log for `final_state`: (partition, log start offset, records as
/// (offset, value)).
pub(crate) type LogSpec<'a> = (Tp, i64, &'a [(i64, u64)]);

/// A final state from one `LogSpec` per partition.
pub(crate) fn final_state(logs: &[LogSpec<'_>]) -> FinalState {
    let mut state = FinalState::default();
    for (tp, log_start_offset, records) in logs {
        let high_watermark = records
            .last()
            .map_or(*log_start_offset, |&(offset, _)| offset + 1);
        state.logs.insert(
            tp.clone(),
            FinalLog {
                log_start_offset: *log_start_offset,
                high_watermark,
                records: records.to_vec(),
            },
        );
    }
    state
}

/// Builds a history one operation at a time; each method returns the history indexes it added.
#[derive(Default)]
pub(crate) struct HistoryBuilder {
    history: History,
    time_ms: u64,
}

impl HistoryBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn tick(&mut self) -> u64 {
        self.time_ms += 1;
        self.time_ms
    }

    fn last_index(&self) -> usize {
        self.history.events.len() - 1
    }

    /// Invoke a send; returns its op id for `send_complete`.
    pub fn send_invoke(&mut self, process: u32, tp: Tp, value: u64) -> u64 {
        let time_ms = self.tick();
        self.history
            .invoke(time_ms, process, EventKind::SendInvoke { tp, value })
    }

    /// Complete a send invoked earlier.
    pub fn send_complete(&mut self, process: u32, op: u64, outcome: Outcome, offset: Option<i64>) {
        let time_ms = self.tick();
        self.history.push(
            time_ms,
            process,
            op,
            EventKind::SendComplete { outcome, offset },
        );
    }

    /// A send acknowledged at `offset`; returns (invoke, completion) indexes.
    pub fn send_ok(&mut self, process: u32, tp: Tp, value: u64, offset: i64) -> (usize, usize) {
        let op = self.send_invoke(process, tp, value);
        self.send_complete(process, op, Outcome::Ok, Some(offset));
        (self.last_index() - 1, self.last_index())
    }

    /// A send that definitely failed.
    pub fn send_fail(&mut self, process: u32, tp: Tp, value: u64) -> (usize, usize) {
        let op = self.send_invoke(process, tp, value);
        self.send_complete(
            process,
            op,
            Outcome::Fail("NOT_ENOUGH_REPLICAS".into()),
            None,
        );
        (self.last_index() - 1, self.last_index())
    }

    /// A send whose outcome is unknown.
    pub fn send_info(&mut self, process: u32, tp: Tp, value: u64) -> (usize, usize) {
        let op = self.send_invoke(process, tp, value);
        self.send_complete(process, op, Outcome::Info("REQUEST_TIMED_OUT".into()), None);
        (self.last_index() - 1, self.last_index())
    }

    /// An ok poll returning these (partition, offset, value) records; returns (invoke, completion).
    pub fn poll(&mut self, process: u32, reads: &[(Tp, i64, u64)]) -> (usize, usize) {
        let time_ms = self.tick();
        let op = self.history.invoke(time_ms, process, EventKind::PollInvoke);
        let reads = reads
            .iter()
            .map(|(tp, offset, value)| Read {
                tp: tp.clone(),
                offset: *offset,
                value: *value,
            })
            .collect();
        let time_ms = self.tick();
        self.history.push(
            time_ms,
            process,
            op,
            EventKind::PollComplete {
                outcome: Outcome::Ok,
                reads,
            },
        );
        (self.last_index() - 1, self.last_index())
    }

    /// The consumer moved its position on `tp`; returns the seek's index.
    pub fn seek(&mut self, process: u32, tp: Tp, offset: i64) -> usize {
        let time_ms = self.tick();
        let op = self.history.next_op();
        self.history
            .push(time_ms, process, op, EventKind::Seek { tp, offset });
        self.last_index()
    }

    pub fn build(self) -> History {
        self.history
    }
}
