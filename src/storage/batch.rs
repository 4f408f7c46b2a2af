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

/// The compression bits of `attributes`; 0 is uncompressed.
const COMPRESSION_MASK: i16 = 0x07;
/// Bytes of the longest zigzag varint that encodes an i32.
const VARINT_BYTES_MAX: usize = 5;

/// Check that an uncompressed batch holds exactly `record_count` length-prefixed records that
/// end where the batch ends, as Kafka's log validator does before assigning offsets. Without
/// it a batch with a valid CRC could claim 2^31 records: the log would jump its offsets by
/// that much and every reader that sizes its buffers by the count would be at its mercy.
/// Compressed batches pass unchecked: their records are only visible after decompression,
/// which the broker never does.
pub fn check_records(batch: &[u8], header: &BatchHeader) -> Result<(), StorageError> {
    if header.attributes & COMPRESSION_MASK != 0 {
        return Ok(());
    }
    let invalid = |what: String| {
        StorageError::InvalidRecord(format!("batch at offset {}: {what}", header.base_offset))
    };
    let mut rest = &batch[HEADER_LEN..header.size()];
    for index in 0..header.record_count {
        let length = read_varint(&mut rest)
            .ok_or_else(|| invalid(format!("record {index} has no valid length")))?;
        if length < 0 || length as usize > rest.len() {
            return Err(invalid(format!(
                "record {index} claims {length} bytes, {} left",
                rest.len()
            )));
        }
        rest = &rest[length as usize..];
    }
    if !rest.is_empty() {
        return Err(invalid(format!(
            "{} bytes after the {} records it declares",
            rest.len(),
            header.record_count
        )));
    }
    Ok(())
}

/// Read a zigzag varint (Kafka's record-level int) from the front of `bytes`.
fn read_varint(bytes: &mut &[u8]) -> Option<i32> {
    let mut value: u32 = 0;
    for (index, byte) in bytes.iter().take(VARINT_BYTES_MAX).enumerate() {
        value |= ((byte & 0x7f) as u32) << (7 * index);
        if byte & 0x80 == 0 {
            *bytes = &bytes[index + 1..];
            return Some(((value >> 1) as i32) ^ -((value & 1) as i32));
        }
    }
    None
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
    fn records_must_fill_the_batch_exactly() {
        let records = [TestRecord::value(b"a"), TestRecord::value(b"bc")];
        let bytes = encode_batch(0, 0, 1_000, &records);
        let header = validate(&bytes).unwrap();
        check_records(&bytes, &header).unwrap();
        for record_count in [1, 3, i32::MAX] {
            let lying = BatchHeader {
                record_count,
                ..header
            };
            assert!(matches!(
                check_records(&bytes, &lying),
                Err(StorageError::InvalidRecord(_))
            ));
        }
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, -1, 63, -64, 64, 300, i32::MAX, i32::MIN] {
            let zigzag = ((value << 1) ^ (value >> 31)) as u32;
            let mut encoded = Vec::new();
            let mut rest = zigzag;
            while rest >= 0x80 {
                encoded.push((rest as u8) | 0x80);
                rest >>= 7;
            }
            encoded.push(rest as u8);
            let mut slice = &encoded[..];
            assert_eq!(read_varint(&mut slice), Some(value));
            assert!(slice.is_empty());
        }
        assert_eq!(read_varint(&mut &[0x80u8; 6][..]), None);
    }

    proptest::proptest! {
        /// Parsing and validation of any bytes is an error or a header, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_header(&bytes);
            let _ = split(&bytes);
            if let Ok(header) = validate(&bytes) {
                let _ = check_records(&bytes, &header);
            }
        }

        /// A valid batch with bytes edited and the CRC recomputed (so the edits reach the
        /// checks behind the CRC) is an error or a header, never a panic.
        #[test]
        fn resealed_edits_never_panic(
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..8),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let mut bytes = encode_batch(0, 0, 1_000, &[TestRecord::value(b"hello"), TestRecord::value(b"")]);
            for (position, value) in edits {
                let at = position % bytes.len();
                bytes[at] = value;
            }
            if bytes.len() > CRC_START {
                let crc = compute_crc(&bytes);
                bytes[17..21].copy_from_slice(&crc.to_be_bytes());
            }
            bytes.truncate(cut % (bytes.len() + 1));
            let _ = split(&bytes);
            if let Ok(header) = validate(&bytes) {
                let _ = check_records(&bytes, &header);
            }
        }
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
