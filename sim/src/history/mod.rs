//! The run's history, Jepsen-shaped: every client operation is an invoke followed by exactly
//! one completion, `ok`, `fail` (definitely did not take effect) or `info` (may have).
//!
//! Values written by producers are unique u64s (the record value is its decimal ASCII), so a
//! value identifies one send. An `info` send is never assumed absent. Polls record what the
//! client saw, in order. Seeks and assignments are recorded so checkers know when a consumer
//! legitimately moved its position.
//!
//! Consumer groups add membership events (a JoinGroup answered, a SyncGroup assignment
//! received, partitions revoked) and two operations: an offset commit and an offset fetch.
//! A group member's polls stay `PollInvoke`/`PollComplete`; its process id ties them to the
//! membership events it recorded. A member's identity in a group is its `group_instance_id`
//! when it has one (static membership: a restarted instance takes over its predecessor's
//! member id and assignment), its `member_id` otherwise.

pub mod wire;

use serde::Serialize;

/// A topic-partition, e.g. `t/0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Tp {
    pub topic: String,
    pub partition: i32,
}

impl Tp {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Tp {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for Tp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// One record read by a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Read {
    pub tp: Tp,
    pub offset: i64,
    pub value: u64,
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    /// Definitely did not happen; carries the error name.
    Fail(String),
    /// May have happened; carries the error name.
    Info(String),
}

/// What an event is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventKind {
    /// A producer began sending `value` to `tp`.
    SendInvoke { tp: Tp, value: u64 },
    /// The send of `op` completed; `offset` is known only for `ok`.
    SendComplete {
        outcome: Outcome,
        offset: Option<i64>,
    },
    /// A consumer began a poll.
    PollInvoke,
    /// The poll of `op` completed with these records, in the order returned.
    PollComplete { outcome: Outcome, reads: Vec<Read> },
    /// A consumer moved its position explicitly (assign, seek, offset reset).
    Seek { tp: Tp, offset: i64 },
    /// A JoinGroup answered without error: the member is in `generation` of `group`.
    GroupJoined {
        group: String,
        member_id: String,
        /// The static member's instance id, if the member is static.
        group_instance_id: Option<String>,
        generation: i32,
        /// The assignor the group chose (e.g. `cooperative-sticky`), if the answer named one.
        protocol: Option<String>,
        /// Whether this member was chosen to compute the assignment.
        leader: bool,
    },
    /// A SyncGroup answered without error: the member owns `partitions` in `generation`
    /// (cooperative rebalancing: in addition to what it still has to revoke).
    AssignmentReceived {
        group: String,
        member_id: String,
        group_instance_id: Option<String>,
        generation: i32,
        partitions: Vec<Tp>,
    },
    /// The member gave up `partitions` (all of them before an eager rebalance, only the ones
    /// that move in a cooperative one, all of them when it finds it lost its membership).
    /// After this it polls none of them until an assignment gives them back. Recorded under
    /// the member id (and instance id) they were assigned to, even if the member is about to
    /// rejoin under a new one.
    PartitionsRevoked {
        group: String,
        member_id: String,
        group_instance_id: Option<String>,
        generation: i32,
        partitions: Vec<Tp>,
    },
    /// A member began an OffsetCommit of `offsets` (the next offset to consume, per
    /// partition) under `generation` (-1 for a commit from outside the group).
    CommitInvoke {
        group: String,
        member_id: String,
        group_instance_id: Option<String>,
        generation: i32,
        offsets: Vec<(Tp, i64)>,
    },
    /// The commit of `op` completed: `ok` only if every partition was answered NONE.
    CommitComplete { outcome: Outcome },
    /// A client began an OffsetFetch of `group`'s committed offsets for `partitions`.
    OffsetFetchInvoke { group: String, partitions: Vec<Tp> },
    /// The OffsetFetch of `op` completed; `offsets` has every requested partition, with -1
    /// where the group has no committed offset (as Kafka answers). Empty unless `ok`.
    OffsetFetchComplete {
        outcome: Outcome,
        offsets: Vec<(Tp, i64)>,
    },
    /// The client process was killed (a `kill` or `restart` fault on `client(i)`): the
    /// operations it had in flight never complete, and from here on it holds nothing, no
    /// group membership and no partition; a restart begins afresh (a new member id, or the
    /// same static instance id).
    ProcessCrashed,
}

/// One history event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Position in the history (0, 1, 2, …).
    pub index: usize,
    /// Simulated time in milliseconds since the run started.
    pub time_ms: u64,
    /// The client process (producer or consumer instance) that did it.
    pub process: u32,
    /// The operation this event belongs to: an invoke and its completion share it.
    pub op: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The whole history of a run, in the order events happened.
#[derive(Debug, Clone, Default, Serialize)]
pub struct History {
    pub events: Vec<Event>,
    /// What brokers acknowledged and served at the wire, in the order they wrote it.
    pub wire: Vec<crate::history::wire::WireEvent>,
    /// Whether `wire` was recorded (a run's history) or not (a hand-built one), so the wire
    /// checker knows whether an empty wire history is evidence.
    pub wire_recorded: bool,
    next_op: u64,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record an invoke; returns its op id for the completion.
    pub fn invoke(&mut self, time_ms: u64, process: u32, kind: EventKind) -> u64 {
        let op = self.next_op;
        self.next_op += 1;
        self.push(time_ms, process, op, kind);
        op
    }

    /// Record a completion (or a seek) for an op.
    pub fn push(&mut self, time_ms: u64, process: u32, op: u64, kind: EventKind) {
        let index = self.events.len();
        self.events.push(Event {
            index,
            time_ms,
            process,
            op,
            kind,
        });
    }

    /// A fresh op id for events that have no invoke (seeks).
    pub fn next_op(&mut self) -> u64 {
        let op = self.next_op;
        self.next_op += 1;
        op
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The group events keep the history's kebab-case tags, flattened into the event.
    #[test]
    fn group_events_serialize_with_kebab_case_tags() {
        let mut history = History::new();
        let kind = EventKind::AssignmentReceived {
            group: "g".into(),
            member_id: "m1".into(),
            group_instance_id: None,
            generation: 3,
            partitions: vec![Tp::new("t", 0)],
        };
        let op = history.next_op();
        history.push(5, 1, op, kind);
        let kind = EventKind::CommitInvoke {
            group: "g".into(),
            member_id: "m1".into(),
            group_instance_id: Some("i1".into()),
            generation: 3,
            offsets: vec![(Tp::new("t", 0), 7)],
        };
        let op = history.invoke(6, 1, kind);
        history.push(
            7,
            1,
            op,
            EventKind::CommitComplete {
                outcome: Outcome::Ok,
            },
        );
        let json = serde_json::to_value(&history.events).unwrap();
        assert_eq!(json[0]["type"], "assignment-received");
        assert_eq!(json[0]["partitions"][0]["topic"], "t");
        assert_eq!(json[1]["type"], "commit-invoke");
        assert_eq!(json[1]["offsets"][0][1], 7);
        assert_eq!(json[2]["type"], "commit-complete");
        assert_eq!(json[2]["outcome"], "ok");
        assert_eq!(json[1]["op"], json[2]["op"]);
    }
}
