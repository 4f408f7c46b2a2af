//! Kafka's segmented log, synchronous and free of async, over the [`Disk`](crate::env::Disk) seam.
//!
//! A partition's log lives in `<topic>-<partition>/` as segments named by their base offset:
//! `{base_offset:020}.log` (whole RecordBatch v2 batches), `.index` (sparse offset → position)
//! and `.timeindex` (sparse max timestamp → offset). [`Log`] assigns offsets, rolls segments,
//! serves reads, truncates, enforces retention and flush policy, and recovers on open.
//!
//! Guarantees: batches are stored exactly as validated (CRC32C checked before the write and
//! again after every read); offsets are contiguous from the log start offset to the log end
//! offset; after an fsync failure the log is offline and every later call fails.
//!
//! Invariants, asserted where state changes (each file's `//!` names its own): segment base
//! offsets strictly increase and segments are contiguous; an appended batch's base offset is
//! the log end offset; the log end offset only moves back by truncation; index entries
//! strictly increase; recovery leaves no batch with a bad CRC (except under the planted
//! `recovery-keeps-bad-crc`).

pub mod batch;
pub mod cleaner;
pub mod index;
mod log;
pub mod segment;
pub mod testing;

pub use cleaner::CleanReport;
pub use log::{AppendInfo, Log, RecoveryReport, SegmentSummary, TickReport, GAPS_FILE};

/// Per-topic log settings, named after Kafka's topic configs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first append is this old.
    pub segment_ms: i64,
    /// `index.interval.bytes`: log bytes between two offset index entries.
    pub index_interval_bytes: u64,
    /// `flush.messages`: fsync after this many records; `None` never fsyncs per message.
    pub flush_messages: Option<u64>,
    /// `flush.ms`: fsync when unsynced data is this old (checked by [`Log::tick`]).
    pub flush_ms: Option<i64>,
    /// `retention.ms`: delete segments whose newest timestamp is older; `None` keeps forever.
    pub retention_ms: Option<i64>,
    /// `retention.bytes`: delete old segments while the log is larger; `None` unbounded.
    pub retention_bytes: Option<u64>,
    /// `max.message.bytes`: the largest batch accepted.
    pub max_message_bytes: usize,
    /// `cleanup.policy` holds `delete`: retention deletes old segments.
    pub cleanup_delete: bool,
    /// `cleanup.policy` holds `compact`: the cleaner keeps the latest record per key, and
    /// appends refuse keyless records.
    pub cleanup_compact: bool,
    /// `delete.retention.ms`: how long a tombstone survives cleaning (see [`cleaner`]).
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`, in thousandths (Kafka's double × 1000, so the config stays
    /// `Eq`): the cleaner runs once the dirty share of the cleanable bytes reaches it.
    pub min_cleanable_dirty_ratio_permille: u32,
    /// `min.compaction.lag.ms`: a segment newer than this is not cleaned yet.
    pub min_compaction_lag_ms: i64,
    /// TEST-ONLY: recovery keeps batches whose CRC fails (see [`crate::planted`]).
    pub planted_recovery_keeps_bad_crc: bool,
    /// TEST-ONLY: a follower's appends skip the producer state (see [`crate::planted`]).
    pub planted_producer_state_not_replicated: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            index_interval_bytes: 4096,
            flush_messages: None,
            flush_ms: None,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            max_message_bytes: 1_048_588,
            cleanup_delete: true,
            cleanup_compact: false,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio_permille: 500,
            min_compaction_lag_ms: 0,
            planted_recovery_keeps_bad_crc: false,
            planted_producer_state_not_replicated: false,
        }
    }
}

/// Why a storage call failed. Each maps to one Kafka error code in the server.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Bytes failed a CRC or are structurally broken (CORRUPT_MESSAGE).
    #[error("corrupt batch: {0}")]
    Corrupt(String),
    /// A well-formed batch the log refuses (INVALID_RECORD).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// A batch larger than `max.message.bytes` (MESSAGE_TOO_LARGE).
    #[error("batch larger than max.message.bytes")]
    TooLarge,
    /// A read outside `[log_start, log_end]` (OFFSET_OUT_OF_RANGE).
    #[error("offset {requested} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: i64,
        /// The log start offset at the time.
        log_start: i64,
        /// The log end offset at the time.
        log_end: i64,
    },
    /// The disk failed; ENOSPC keeps `ErrorKind::StorageFull` (KAFKA_STORAGE_ERROR).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// An fsync failed earlier, so the log directory is offline (KAFKA_STORAGE_ERROR).
    #[error("log directory offline after an fsync failure")]
    Offline,
    /// An idempotent producer's batch of an old epoch or out of sequence
    /// (INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER).
    #[error("producer batch refused: {0}")]
    Producer(#[from] crate::txn::ProducerError),
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod producer_tests;

#[cfg(test)]
mod cleaner_tests;
