//! RecordBatch v2 headers: parse, validate and patch batches as the log stores them.
//!
//! The log never decodes records: it reads the 61-byte batch header, checks the CRC32C over
//! everything from `attributes` to the end of the batch, and patches the two fields that lie
//! outside the CRC (`baseOffset` and `partitionLeaderEpoch`) when the leader assigns offsets.
//! Malformed bytes from a peer become a [`StorageError`], never a panic.
//!
//! Layout (big-endian): baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 |
//! crc u32 | attributes i16 | lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64 |
//! producerId i64 | producerEpoch i16 | baseSequence i32 | recordCount i32 | records…

use super::StorageError;

/// Bytes of the fixed batch header, up to and including the record count.
pub const HEADER_LEN: usize = 61;
/// Bytes before `batchLength`'s payload starts: baseOffset + batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// Smallest legal `batchLength`: the header after the first 12 bytes, with no records.
pub const BATCH_LENGTH_MIN: i32 = (HEADER_LEN - LOG_OVERHEAD) as i32;
/// Where the CRC starts (the `attributes` field).
const CRC_START: usize = 21;
/// The only magic value the log accepts.
pub const MAGIC_V2: i8 = 2;

/// The fields of a RecordBatch v2 header the storage layer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record; assigned by the leader.
    pub base_offset: i64,
    /// Bytes after the `batchLength` field; the whole batch is this plus 12.
    pub batch_length: i32,
    /// Leader epoch of the leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// Format version; always 2 once validated.
    pub magic: i8,
    /// CRC32C over attributes..end as stored in the batch.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control bits.
    pub attributes: i16,
    /// Offset of the last record relative to `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest record timestamp in the batch; used by the time index and retention.
    pub max_timestamp: i64,
    /// Idempotent producer id, -1 when none.
    pub producer_id: i64,
    /// Idempotent producer epoch, -1 when none.
    pub producer_epoch: i16,
    /// Sequence of the first record, -1 when none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// Bytes of the whole batch, including the first 12.
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    /// Offset of the batch's last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// Offset right after the batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    /// Whether the batch is a control batch (transaction marker).
    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }
}

fn i16_at(bytes: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(bytes[at..at + 2].try_into().expect("2 bytes"))
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn i64_at(bytes: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Parse the header at the start of `bytes` (which must hold at least [`HEADER_LEN`] bytes).
///
/// Checks only what the header alone can tell: the magic and that `batchLength` is at least
/// the header's own size. The CRC needs the whole batch: see [`validate`].
pub fn parse_header(bytes: &[u8]) -> Result<BatchHeader, StorageError> {
    if bytes.len() < HEADER_LEN {
        return Err(StorageError::Corrupt(format!(
            "batch header needs {HEADER_LEN} bytes, got {}",
            bytes.len()
        )));
    }
    let header = BatchHeader {
        base_offset: i64_at(bytes, 0),
        batch_length: i32_at(bytes, 8),
        partition_leader_epoch: i32_at(bytes, 12),
        magic: bytes[16] as i8,
        crc: u32::from_be_bytes(bytes[17..21].try_into().expect("4 bytes")),
        attributes: i16_at(bytes, 21),
        last_offset_delta: i32_at(bytes, 23),
        base_timestamp: i64_at(bytes, 27),
        max_timestamp: i64_at(bytes, 35),
        producer_id: i64_at(bytes, 43),
        producer_epoch: i16_at(bytes, 51),
        base_sequence: i32_at(bytes, 53),
        record_count: i32_at(bytes, 57),
    };
    if header.batch_length < BATCH_LENGTH_MIN {
        return Err(StorageError::Corrupt(format!(
            "batch length {} below minimum",
            header.batch_length
        )));
    }
    if header.magic != MAGIC_V2 {
        return Err(StorageError::Corrupt(format!(
            "unsupported magic {}",
            header.magic
        )));
    }
    Ok(header)
}

/// CRC32C of a whole batch as Kafka computes it (attributes..end).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[CRC_START..])
}

/// Parse and fully check the batch that starts at `bytes[0]`: header, length within `bytes`,
/// CRC32C. Returns the header; the batch is `bytes[..header.size()]`.
pub fn validate(bytes: &[u8]) -> Result<BatchHeader, StorageError> {
    let header = parse_header(bytes)?;
    if header.size() > bytes.len() {
        return Err(StorageError::Corrupt(format!(
            "batch at offset {} claims {} bytes, only {} present",
            header.base_offset,
            header.size(),
            bytes.len()
        )));
    }
    let actual = compute_crc(&bytes[..header.size()]);
    if actual != header.crc {
        return Err(StorageError::Corrupt(format!(
            "batch at offset {}: crc {:#010x} != stored {:#010x}",
            header.base_offset, actual, header.crc
        )));
    }
    if header.last_offset_delta < 0 || header.record_count < 0 {
        return Err(StorageError::Corrupt(format!(
            "batch at offset {}: negative counts",
            header.base_offset
        )));
    }
    Ok(header)
}

/// Split a buffer of concatenated batches into (position, header) pairs, validating each.
/// Trailing bytes that do not form a whole batch are an error: a producer never sends them.
pub fn split(bytes: &[u8]) -> Result<Vec<(usize, BatchHeader)>, StorageError> {
    let mut batches = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let header = validate(&bytes[position..])?;
        batches.push((position, header));
        position += header.size();
    }
    Ok(batches)
}

/// Overwrite `baseOffset` (outside the CRC, so the CRC stays valid).
pub fn patch_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Overwrite `partitionLeaderEpoch` (outside the CRC, so the CRC stays valid).
pub fn patch_leader_epoch(batch: &mut [u8], leader_epoch: i32) {
    batch[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::{encode_batch, TestRecord};

    #[test]
    fn parse_round_trip_and_patch_keeps_crc() {
        let records = vec![TestRecord::value(b"a"), TestRecord::value(b"bc")];
        let mut bytes = encode_batch(0, 0, 1_000, &records);
        let header = validate(&bytes).unwrap();
        assert_eq!(header.record_count, 2);
        assert_eq!(header.last_offset_delta, 1);
        assert_eq!(header.size(), bytes.len());
        patch_base_offset(&mut bytes, 42);
        patch_leader_epoch(&mut bytes, 7);
        let header = validate(&bytes).unwrap();
        assert_eq!(header.base_offset, 42);
        assert_eq!(header.partition_leader_epoch, 7);
        assert_eq!(header.last_offset(), 43);
    }

    #[test]
    fn flipped_bit_fails_crc() {
        let mut bytes = encode_batch(0, 0, 1_000, &[TestRecord::value(b"hello")]);
        let last = bytes.len() - 3;
        bytes[last] ^= 0x04;
        assert!(matches!(validate(&bytes), Err(StorageError::Corrupt(_))));
    }

    #[test]
    fn truncated_batch_is_corrupt() {
        let bytes = encode_batch(0, 0, 1_000, &[TestRecord::value(b"hello")]);
        assert!(matches!(
            validate(&bytes[..bytes.len() - 1]),
            Err(StorageError::Corrupt(_))
        ));
        assert!(matches!(
            validate(&bytes[..30]),
            Err(StorageError::Corrupt(_))
        ));
        assert!(matches!(
            validate(&[0u8; 70]),
            Err(StorageError::Corrupt(_))
        ));
    }

    #[test]
    fn split_two_batches() {
        let mut bytes = encode_batch(0, 0, 1, &[TestRecord::value(b"x")]);
        bytes.extend(encode_batch(
            1,
            0,
            2,
            &[TestRecord::value(b"y"), TestRecord::value(b"z")],
        ));
        let batches = split(&bytes).unwrap();
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[1].1.record_count, 2);
    }
}
