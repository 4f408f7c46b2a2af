//! What a broker reports about its replicas as it happens, for the simulator's online
//! checkers. The broker states facts (it appended this batch, its high watermark is now that);
//! the checkers keep their own independent model and never read the broker's state. In real
//! mode nothing listens.

/// A topic-partition, borrowed.
pub type TopicPartition<'a> = (&'a str, i32);

/// One observed replica event on this broker.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// The replica appended a batch (as leader or follower).
    Appended {
        tp: TopicPartition<'a>,
        base_offset: i64,
        last_offset: i64,
        leader_epoch: i32,
        crc: u32,
    },
    /// The replica's log now ends at `offset` (a truncation, or what recovery left).
    Truncated {
        tp: TopicPartition<'a>,
        offset: i64,
        reason: &'a str,
    },
    /// The replica's high watermark changed.
    HighWatermark {
        tp: TopicPartition<'a>,
        high_watermark: i64,
    },
    /// Retention moved the replica's log start up.
    LogStart {
        tp: TopicPartition<'a>,
        log_start_offset: i64,
    },
    /// This broker became the partition's leader.
    LeaderElected {
        tp: TopicPartition<'a>,
        leader_epoch: i32,
        isr: &'a [i32],
        clean: bool,
    },
    /// The leader's ISR changed (committed: applied at once, or acknowledged by the controller).
    IsrChanged {
        tp: TopicPartition<'a>,
        leader_epoch: i32,
        isr: &'a [i32],
    },
    /// A client's ListOffsets(latest) was answered with `offset` by this leader.
    LatestOffsetListed { tp: TopicPartition<'a>, offset: i64 },
    /// An acks=all produce was acknowledged with its batch ending at `last_offset`.
    AcksAllAcknowledged {
        tp: TopicPartition<'a>,
        last_offset: i64,
        min_insync_replicas: usize,
    },
    /// A client fetch was served offsets `first..=last` with this high watermark.
    ClientFetchServed {
        tp: TopicPartition<'a>,
        first: i64,
        last: i64,
        high_watermark: i64,
    },
    /// The broker process started (memory lost; recovery follows as `Truncated`).
    Restarted,
    /// The replica's log was opened and recovered: what is on disk now is what recovery kept.
    Recovered { tp: TopicPartition<'a> },
    /// A leader proposed a new ISR to the controller (KIP-497's AlterPartition).
    IsrProposed {
        tp: TopicPartition<'a>,
        leader_epoch: i32,
        isr: &'a [i32],
    },
    /// The controller made a partition state durable and published it (observed on the
    /// controller's node): its leader, epochs and ISR, and for each ISR member the incarnation
    /// the controller has registered for it (0: none). `clean` is false for an unclean
    /// election or KIP-966's unclean recovery.
    IsrCommitted {
        tp: TopicPartition<'a>,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: &'a [i32],
        incarnations: &'a [u64],
        clean: bool,
    },
    /// This broker process will register with the controller as `incarnation` (its broker
    /// epoch): every start gets a new one.
    Incarnation { incarnation: u64 },
    /// A leader appended a client's produce with `acks` (before any answer), as batches
    /// `base_offset..=last_offset`; `min_insync_replicas` is the effective minimum in force.
    ClientAppended {
        tp: TopicPartition<'a>,
        acks: i16,
        base_offset: i64,
        last_offset: i64,
        min_insync_replicas: usize,
    },
    /// The broker applied the metadata log up to the controller's end (`metadata_offset`
    /// records): the epochs it now acts on.
    MetadataImage {
        metadata_offset: i64,
        controller_epoch: i32,
        partitions: &'a [PartitionEpochs<'a>],
    },
}

/// One partition's leadership as a broker's metadata image holds it.
#[derive(Debug, Clone, Copy)]
pub struct PartitionEpochs<'a> {
    pub tp: TopicPartition<'a>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}
