//! Producer state of one partition (KIP-98 idempotence): for every producer id, its epoch and
//! the metadata of its last [`BATCHES_RETAINED`] batches, as Kafka 3.x's ProducerStateManager
//! keeps it.
//!
//! The leader asks [`ProducerState::check_client_batch`] before appending a producer's batch:
//! - an older epoch than the one known is refused (INVALID_PRODUCER_EPOCH);
//! - a batch whose epoch and first/last sequence equal one of the cached batches is a
//!   duplicate (a retry of an appended batch): it is not appended again and its original
//!   offsets are answered;
//! - a new epoch must start at sequence 0, and within an epoch the first sequence must follow
//!   the last one (wrapping from `i32::MAX` to 0), otherwise OUT_OF_ORDER_SEQUENCE_NUMBER;
//! - a producer id the partition does not know (never seen, or its batches were removed by
//!   retention or DeleteRecords) is accepted at any sequence, as Kafka 3.x does since KIP-360
//!   (it no longer answers UNKNOWN_PRODUCER_ID for a produce).
//!
//! Every appended batch — by the leader, by a follower replicating it, or by the log scan that
//! rebuilds the state on open and after truncation — goes through [`ProducerState::apply`],
//! which records it without validation, so a newly elected leader dedupes what its
//! predecessor appended.
//!
//! Invariants, asserted in [`ProducerEntry::check`]: an entry holds 1..=5 batches, every
//! batch of it has the entry's epoch, their offsets strictly increase, and each batch's last
//! offset is at least its first.

use std::collections::{BTreeMap, VecDeque};

use crate::storage::batch::BatchHeader;

/// How many batches' metadata is kept per producer (Kafka's `NUM_BATCHES_TO_RETAIN`; the
/// reason idempotence needs `max.in.flight.requests.per.connection <= 5`).
pub const BATCHES_RETAINED: usize = 5;

/// One appended batch of a producer, as its retry must match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMetadata {
    /// Sequence of the batch's first record.
    pub first_sequence: i32,
    /// Sequence of its last record (wrapping at `i32::MAX`).
    pub last_sequence: i32,
    /// Offset of its first record.
    pub first_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
}

/// What the partition knows of one producer id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerEntry {
    /// The producer's current epoch.
    pub epoch: i16,
    /// Its last batches, oldest first.
    pub batches: VecDeque<BatchMetadata>,
}

impl ProducerEntry {
    fn last(&self) -> &BatchMetadata {
        self.batches.back().expect("a producer entry holds a batch")
    }

    fn check(&self) {
        assert!(
            (1..=BATCHES_RETAINED).contains(&self.batches.len()),
            "a producer entry holds 1..={BATCHES_RETAINED} batches, not {}",
            self.batches.len()
        );
        for batch in &self.batches {
            assert!(batch.first_offset <= batch.last_offset, "{batch:?}");
        }
        for pair in self.batches.iter().collect::<Vec<_>>().windows(2) {
            assert!(
                pair[0].last_offset < pair[1].first_offset,
                "a producer's batches are in offset order: {pair:?}"
            );
        }
    }
}

/// Why a producer's batch is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProducerError {
    /// The batch's epoch is older than the producer's current one (INVALID_PRODUCER_EPOCH).
    InvalidEpoch { batch: i16, current: i16 },
    /// The batch's first sequence does not follow the last one (OUT_OF_ORDER_SEQUENCE_NUMBER).
    OutOfOrder { expected: i32, got: i32 },
}

impl std::fmt::Display for ProducerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProducerError::InvalidEpoch { batch, current } => {
                write!(f, "producer epoch {batch} is older than {current}")
            }
            ProducerError::OutOfOrder { expected, got } => {
                write!(f, "sequence {got} where {expected} was expected")
            }
        }
    }
}

impl std::error::Error for ProducerError {}

/// The leader's verdict on one producer batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientBatch {
    /// Append it.
    Append,
    /// A retry of this appended batch: answer its offsets, append nothing.
    Duplicate(BatchMetadata),
}

/// `sequence + increment`, wrapping from `i32::MAX` to 0 as Kafka's sequences do.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    // Sequences live in 0..=i32::MAX; computed in i64 so that no input can overflow.
    (sequence as i64 + increment as i64).rem_euclid(i32::MAX as i64 + 1) as i32
}

/// Whether `next` is the sequence right after `last`.
fn in_sequence(last: i32, next: i32) -> bool {
    next == increment_sequence(last, 1)
}

/// Whether a batch carries an idempotent producer's id.
pub fn has_producer_id(header: &BatchHeader) -> bool {
    header.producer_id >= 0
}

/// The producer state of one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerState {
    /// Entries by producer id (a BTreeMap: nothing here may depend on hash order).
    producers: BTreeMap<i64, ProducerEntry>,
}

impl ProducerState {
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry of `producer_id`, if the partition knows it.
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// How many producers the partition knows.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// The largest last offset of any producer's batch, if any: truncating above it cannot
    /// change the state.
    pub fn last_offset(&self) -> Option<i64> {
        self.producers.values().map(|e| e.last().last_offset).max()
    }

    /// Decide on a producer's batch before the leader appends it (`header` as the producer
    /// sent it: its offsets are not assigned yet).
    pub fn check_client_batch(&self, header: &BatchHeader) -> Result<ClientBatch, ProducerError> {
        assert!(has_producer_id(header), "only producer batches are checked");
        let Some(entry) = self.producers.get(&header.producer_id) else {
            return Ok(ClientBatch::Append);
        };
        if header.producer_epoch < entry.epoch {
            return Err(ProducerError::InvalidEpoch {
                batch: header.producer_epoch,
                current: entry.epoch,
            });
        }
        let first_sequence = header.base_sequence;
        if header.producer_epoch > entry.epoch {
            return match first_sequence {
                0 => Ok(ClientBatch::Append),
                got => Err(ProducerError::OutOfOrder { expected: 0, got }),
            };
        }
        let last_sequence = increment_sequence(first_sequence, header.last_offset_delta);
        if let Some(duplicate) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == first_sequence && b.last_sequence == last_sequence)
        {
            return Ok(ClientBatch::Duplicate(*duplicate));
        }
        let last = entry.last().last_sequence;
        if in_sequence(last, first_sequence) {
            Ok(ClientBatch::Append)
        } else {
            Err(ProducerError::OutOfOrder {
                expected: increment_sequence(last, 1),
                got: first_sequence,
            })
        }
    }

    /// Record an appended batch (`header` with its assigned offsets). A batch of another epoch
    /// than the entry's starts the entry afresh, as Kafka's producer state does.
    pub fn apply(&mut self, header: &BatchHeader) {
        if !has_producer_id(header) {
            return;
        }
        let metadata = BatchMetadata {
            first_sequence: header.base_sequence,
            last_sequence: increment_sequence(header.base_sequence, header.last_offset_delta),
            first_offset: header.base_offset,
            last_offset: header.last_offset(),
        };
        let entry = self
            .producers
            .entry(header.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: header.producer_epoch,
                batches: VecDeque::new(),
            });
        if entry.epoch != header.producer_epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
        }
        if let Some(last) = entry.batches.back() {
            assert!(
                last.last_offset < metadata.first_offset,
                "producer {} appended at {} after its batch ending at {}",
                header.producer_id,
                metadata.first_offset,
                last.last_offset
            );
        }
        entry.batches.push_back(metadata);
        if entry.batches.len() > BATCHES_RETAINED {
            entry.batches.pop_front();
        }
        entry.check();
    }

    /// Forget producers whose last batch lies below `log_start_offset` (retention or
    /// DeleteRecords removed everything they wrote), as Kafka evicts them.
    pub fn remove_below(&mut self, log_start_offset: i64) {
        self.producers
            .retain(|_, entry| entry.last().last_offset >= log_start_offset);
    }
}

#[cfg(test)]
mod tests;
