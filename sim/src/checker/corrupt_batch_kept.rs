//! **corrupt-batch-kept**: a replica's log, right after recovery or at the end of a run, holds
//! a whole record batch whose CRC32C does not match its bytes.
//!
//! Rule (Kafka's `LogSegment.recover` and `RecordBatch.ensureValid`): recovery validates every
//! batch it keeps and truncates the log at the first one that fails, so a torn write or a
//! flipped bit is cut, never served as data; a follower validates what it appends. The check
//! parses the segment files itself (v2 batch framing, CRC32C over the bytes after the CRC
//! field) rather than asking the broker's code. At the end of a run, a bad batch that a bit
//! flip hit after the replica's last recovery is not counted: nothing has read it back yet.

use super::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "corrupt-batch-kept";

/// Bytes before the batch's `batchLength` field ends: baseOffset (8) + batchLength (4).
const LOG_OVERHEAD: usize = 12;
/// Where the CRC field starts and ends: after partitionLeaderEpoch (4) and magic (1).
const CRC_START: usize = 17;
const CRC_END: usize = 21;

/// A whole batch in a segment file whose CRC fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBatch {
    /// Byte position in the file.
    pub position: u64,
    /// One past its last byte.
    pub end: u64,
    pub base_offset: i64,
}

/// Every whole batch in `bytes` (a `.log` file) whose stored CRC does not match; a torn tail
/// (a batch that claims more bytes than the file has) ends the scan, as it ends the log.
pub fn scan(bytes: &[u8]) -> Vec<BadBatch> {
    let mut bad = Vec::new();
    let mut position = 0usize;
    while bytes.len() - position >= CRC_END {
        let at = &bytes[position..];
        let base_offset = i64::from_be_bytes(at[0..8].try_into().expect("8 bytes"));
        let length = i32::from_be_bytes(at[8..12].try_into().expect("4 bytes"));
        let size = LOG_OVERHEAD as i64 + i64::from(length);
        if length < (CRC_END - LOG_OVERHEAD) as i32 || size > at.len() as i64 {
            break;
        }
        let size = size as usize;
        let stored = u32::from_be_bytes(at[CRC_START..CRC_END].try_into().expect("4 bytes"));
        if crc32c::crc32c(&at[CRC_END..size]) != stored {
            bad.push(BadBatch {
                position: position as u64,
                end: (position + size) as u64,
                base_offset,
            });
        }
        position += size;
    }
    bad
}

/// The partition a segment path (`topic-partition/base.log`) belongs to.
pub fn partition_of(path: &str) -> Option<Tp> {
    let (dir, _) = path.rsplit_once('/')?;
    let (topic, partition) = dir.rsplit_once('-')?;
    Some(Tp::new(topic, partition.parse().ok()?))
}

/// One anomaly for a bad batch in `path` on `broker`; `when` says which check found it.
pub fn anomaly(broker: i32, path: &str, batch: &BadBatch, when: &str) -> Anomaly {
    Anomaly {
        kind: KIND.to_string(),
        tp: partition_of(path),
        value: None,
        offset: Some(batch.base_offset),
        description: format!(
            "broker {broker} keeps a batch at offset {} ({path} bytes {}..{}) whose CRC32C fails, {when}",
            batch.base_offset, batch.position, batch.end
        ),
        events: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkasim::storage::testing::{encode_batch, TestRecord};

    fn batch_bytes(base_offset: i64, values: &[&[u8]]) -> Vec<u8> {
        let records: Vec<TestRecord> = values.iter().map(|v| TestRecord::value(v)).collect();
        encode_batch(base_offset, 0, 1_000, &records)
    }

    fn two_batches() -> Vec<u8> {
        let mut log = batch_bytes(0, &[b"a", b"b"]);
        log.extend(batch_bytes(2, &[b"c"]));
        log
    }

    #[test]
    fn corrupt_batch_kept_valid_log_and_torn_tail_are_fine() {
        let log = two_batches();
        assert_eq!(scan(&log), vec![]);
        assert_eq!(scan(&log[..log.len() - 3]), vec![]);
        assert_eq!(scan(&[]), vec![]);
    }

    #[test]
    fn corrupt_batch_kept_flipped_record_byte_is_found() {
        let mut log = two_batches();
        let first = batch_bytes(0, &[b"a", b"b"]).len();
        let last = log.len() - 1;
        log[last] ^= 0x10;
        let bad = scan(&log);
        assert_eq!(
            bad,
            vec![BadBatch {
                position: first as u64,
                end: log.len() as u64,
                base_offset: 2
            }]
        );
        let found = anomaly(2, "t-1/00000000000000000000.log", &bad[0], "after recovery");
        assert_eq!(found.kind, "corrupt-batch-kept");
        assert_eq!(found.tp, Some(Tp::new("t", 1)));
        assert_eq!(found.offset, Some(2));
    }
}
