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

    /// A JoinGroup answered: `member` is in `generation` of `group`; returns its index.
    pub fn join(&mut self, process: u32, group: &str, member: &str, generation: i32) -> usize {
        self.event(
            process,
            EventKind::GroupJoined {
                group: group.into(),
                member_id: member.into(),
                group_instance_id: None,
                generation,
                protocol: Some("cooperative-sticky".into()),
                leader: false,
            },
        )
    }

    /// A SyncGroup answered: `member` owns `partitions` in `generation`; returns its index.
    pub fn assign(
        &mut self,
        process: u32,
        group: &str,
        member: &str,
        generation: i32,
        partitions: &[Tp],
    ) -> usize {
        self.assign_static(process, group, member, None, generation, partitions)
    }

    /// `assign` for a member that may be static (`instance` is its group.instance.id).
    pub fn assign_static(
        &mut self,
        process: u32,
        group: &str,
        member: &str,
        instance: Option<&str>,
        generation: i32,
        partitions: &[Tp],
    ) -> usize {
        self.event(
            process,
            EventKind::AssignmentReceived {
                group: group.into(),
                member_id: member.into(),
                group_instance_id: instance.map(Into::into),
                generation,
                partitions: partitions.to_vec(),
            },
        )
    }

    /// The member gave up `partitions`; returns the event's index.
    pub fn revoke(
        &mut self,
        process: u32,
        group: &str,
        member: &str,
        generation: i32,
        partitions: &[Tp],
    ) -> usize {
        self.event(
            process,
            EventKind::PartitionsRevoked {
                group: group.into(),
                member_id: member.into(),
                group_instance_id: None,
                generation,
                partitions: partitions.to_vec(),
            },
        )
    }

    /// Invoke an OffsetCommit; returns its op id for `commit_complete`.
    pub fn commit_invoke(
        &mut self,
        process: u32,
        group: &str,
        member: &str,
        generation: i32,
        offsets: &[(Tp, i64)],
    ) -> u64 {
        self.commit_invoke_static(process, group, member, None, generation, offsets)
    }

    /// `commit_invoke` for a member that may be static.
    pub fn commit_invoke_static(
        &mut self,
        process: u32,
        group: &str,
        member: &str,
        instance: Option<&str>,
        generation: i32,
        offsets: &[(Tp, i64)],
    ) -> u64 {
        let time_ms = self.tick();
        let kind = EventKind::CommitInvoke {
            group: group.into(),
            member_id: member.into(),
            group_instance_id: instance.map(Into::into),
            generation,
            offsets: offsets.to_vec(),
        };
        self.history.invoke(time_ms, process, kind)
    }

    /// Complete a commit invoked earlier; returns the completion's index.
    pub fn commit_complete(&mut self, process: u32, op: u64, outcome: Outcome) -> usize {
        let time_ms = self.tick();
        self.history
            .push(time_ms, process, op, EventKind::CommitComplete { outcome });
        self.last_index()
    }

    /// An acknowledged commit; returns (invoke, completion) indexes.
    pub fn commit_ok(
        &mut self,
        process: u32,
        group: &str,
        member: &str,
        generation: i32,
        offsets: &[(Tp, i64)],
    ) -> (usize, usize) {
        let op = self.commit_invoke(process, group, member, generation, offsets);
        let complete = self.commit_complete(process, op, Outcome::Ok);
        (complete - 1, complete)
    }

    /// Invoke an OffsetFetch of `partitions`; returns its op id.
    pub fn offset_fetch_invoke(&mut self, process: u32, group: &str, partitions: &[Tp]) -> u64 {
        let time_ms = self.tick();
        let kind = EventKind::OffsetFetchInvoke {
            group: group.into(),
            partitions: partitions.to_vec(),
        };
        self.history.invoke(time_ms, process, kind)
    }

    /// Complete an OffsetFetch ok with these offsets; returns the completion's index.
    pub fn offset_fetch_complete(&mut self, process: u32, op: u64, offsets: &[(Tp, i64)]) -> usize {
        let time_ms = self.tick();
        let kind = EventKind::OffsetFetchComplete {
            outcome: Outcome::Ok,
            offsets: offsets.to_vec(),
        };
        self.history.push(time_ms, process, op, kind);
        self.last_index()
    }

    /// An ok OffsetFetch returning `offsets`; returns (invoke, completion) indexes.
    pub fn offset_fetch(
        &mut self,
        process: u32,
        group: &str,
        offsets: &[(Tp, i64)],
    ) -> (usize, usize) {
        let partitions: Vec<Tp> = offsets.iter().map(|(tp, _)| tp.clone()).collect();
        let op = self.offset_fetch_invoke(process, group, &partitions);
        let complete = self.offset_fetch_complete(process, op, offsets);
        (complete - 1, complete)
    }

    /// The client process was killed; returns its index.
    pub fn crash(&mut self, process: u32) -> usize {
        self.event(process, EventKind::ProcessCrashed)
    }

    /// An event with no completion (a membership change); returns its index.
    fn event(&mut self, process: u32, kind: EventKind) -> usize {
        let time_ms = self.tick();
        let op = self.history.next_op();
        self.history.push(time_ms, process, op, kind);
        self.last_index()
    }

    pub fn build(self) -> History {
        self.history
    }
}
