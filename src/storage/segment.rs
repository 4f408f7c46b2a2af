//! One log segment: a `.log` file of whole batches plus its sparse `.index` and `.timeindex`.
//!
//! A segment knows its base offset (the file name), its size and the offset after its last
//! batch. Batches inside it are contiguous: each starts where the previous one ended, both in
//! bytes and in offsets. Indexes live in memory (see [`super::index`]) and are rewritten to
//! their files when the segment rolls, is flushed or recovered.
//!
//! Asserted: batches are contiguous in bytes and offsets as they are recorded; the file's
//! length matches the segment's size at every append; index entries strictly increase (in
//! [`super::index`]); and recovery keeps no batch that fails validation, CRC32C included,
//! except under the TEST-ONLY planted bug `recovery-keeps-bad-crc`, whose point is to.

use std::io;
use std::sync::Arc;

use super::batch::{self, BatchHeader};
use super::index::{OffsetEntry, OffsetIndex, TimeEntry, TimeIndex};
use super::StorageError;
use crate::env::Disk;

/// File name stem of a segment: its base offset on 20 digits, like Kafka.
pub fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// What recovering one segment found.
#[derive(Clone, Debug, Default)]
pub struct SegmentRecovery {
    /// Whole, valid batches kept.
    pub batches: u64,
    /// Bytes cut from the end of the file.
    pub truncated_bytes: u64,
    /// Whether a batch failed its CRC (rather than being torn or misplaced).
    pub crc_failure: bool,
    /// Why the segment was cut, if it was.
    pub reason: Option<String>,
    /// Headers of the kept batches that carry a producer id, in offset order: the log
    /// rebuilds its producer state from them without reading the files again.
    pub producer_batches: Vec<BatchHeader>,
}

/// One segment of a partition's log.
#[derive(Debug)]
pub struct Segment {
    /// Offset of the first batch this segment may hold; also its file name.
    pub base_offset: i64,
    /// Path of the `.log` file.
    log_path: String,
    /// Path of the `.index` file.
    index_path: String,
    /// Path of the `.timeindex` file.
    timeindex_path: String,
    /// Bytes in the `.log` file.
    size: u64,
    /// Offset right after the last batch (the segment's share of the log end offset).
    next_offset: i64,
    /// Largest batch max timestamp in the segment, -1 when empty.
    max_timestamp: i64,
    /// Wall time of the first append (or first batch timestamp after recovery): for `segment.ms`.
    rolling_timestamp_ms: Option<i64>,
    /// Log bytes appended since the last offset index entry: drives `index.interval.bytes`.
    bytes_since_last_index: u64,
    /// Sparse offset → position index.
    index: OffsetIndex,
    /// Sparse max-timestamp → offset index.
    time_index: TimeIndex,
    /// Whether the `.log` file holds bytes no fsync has covered yet.
    pub dirty: bool,
}

impl Segment {
    fn new(dir: &str, base_offset: i64) -> Segment {
        let stem = file_stem(base_offset);
        Segment {
            base_offset,
            log_path: format!("{dir}/{stem}.log"),
            index_path: format!("{dir}/{stem}.index"),
            timeindex_path: format!("{dir}/{stem}.timeindex"),
            size: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            rolling_timestamp_ms: None,
            bytes_since_last_index: 0,
            index: OffsetIndex::default(),
            time_index: TimeIndex::default(),
            dirty: false,
        }
    }

    /// Create a new, empty segment file (its directory entry is durable only after the
    /// directory is fsynced: the caller tracks that).
    pub fn create(disk: &Arc<dyn Disk>, dir: &str, base_offset: i64) -> io::Result<Segment> {
        let segment = Segment::new(dir, base_offset);
        disk.write_file(&segment.log_path, &[])?;
        Ok(segment)
    }

    /// Bytes in the `.log` file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Offset right after the segment's last batch.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Largest batch timestamp, -1 when empty.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// Whether the segment holds no batch.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Time `segment.ms` is measured from: the first append's wall time.
    pub fn rolling_timestamp_ms(&self) -> Option<i64> {
        self.rolling_timestamp_ms
    }

    /// Offset `offset` relative to the base, as indexes store it.
    fn relative(&self, offset: i64) -> u32 {
        let relative = offset - self.base_offset;
        assert!(
            (0..=u32::MAX as i64).contains(&relative),
            "offset {offset} outside segment {}",
            self.base_offset
        );
        relative as u32
    }

    /// Whether a batch ending at `last_offset` still fits the u32 relative offsets of this segment.
    pub fn can_hold_offset(&self, last_offset: i64) -> bool {
        last_offset - self.base_offset <= i32::MAX as i64
    }

    /// Account for a batch written at `position`: indexes, size, next offset, timestamps.
    fn record_batch(&mut self, position: u64, header: &BatchHeader, index_interval_bytes: u64) {
        assert_eq!(position, self.size, "batches are contiguous in bytes");
        // Compaction leaves gaps between batches (offsets are kept, batches dropped); appends
        // and recovery of a log that is not compacted check for equality themselves.
        assert!(
            header.base_offset >= self.next_offset,
            "batches increase in offsets"
        );
        if self.size == 0 || self.bytes_since_last_index >= index_interval_bytes {
            let relative_offset = self.relative(header.base_offset);
            self.index.push(OffsetEntry {
                relative_offset,
                position: position as u32,
            });
            self.bytes_since_last_index = 0;
        }
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            let relative_offset = self.relative(header.base_offset);
            self.time_index.maybe_push(TimeEntry {
                timestamp: header.max_timestamp,
                relative_offset,
            });
        }
        self.bytes_since_last_index += header.size() as u64;
        self.size += header.size() as u64;
        self.next_offset = header.next_offset();
    }

    /// Append already-validated, offset-assigned batches (one write), then index them. Only a
    /// compacted log's follower may append across a gap (`allow_gaps`): its leader cleaned it.
    pub fn append(
        &mut self,
        disk: &Arc<dyn Disk>,
        bytes: &[u8],
        headers: &[(usize, BatchHeader)],
        index_interval_bytes: u64,
        now_ms: i64,
        allow_gaps: bool,
    ) -> io::Result<()> {
        let mut expected = self.next_offset;
        for (_, header) in headers {
            assert!(
                header.base_offset == expected || allow_gaps && header.base_offset > expected,
                "appended batches are contiguous in offsets"
            );
            expected = header.next_offset();
        }
        let position = match disk.append(&self.log_path, bytes) {
            Ok(position) => position,
            Err(error) => {
                // A real disk may have written part of the data before failing (ENOSPC):
                // cut it off so the file matches what the log believes it holds.
                let _ = disk.truncate(&self.log_path, self.size);
                return Err(error);
            }
        };
        assert_eq!(
            position, self.size,
            "segment file length diverged from the log's view"
        );
        self.dirty = true;
        if self.rolling_timestamp_ms.is_none() {
            self.rolling_timestamp_ms = Some(now_ms);
        }
        for (at, header) in headers {
            self.record_batch(position + *at as u64, header, index_interval_bytes);
        }
        Ok(())
    }

    /// The whole `.log` file.
    pub fn read_bytes(&self, disk: &Arc<dyn Disk>) -> io::Result<Vec<u8>> {
        disk.read_all(&self.log_path)
    }

    /// Rewrite both index files from memory.
    pub fn write_indexes(&self, disk: &Arc<dyn Disk>) -> io::Result<()> {
        disk.write_file(&self.index_path, &self.index.to_bytes())?;
        disk.write_file(&self.timeindex_path, &self.time_index.to_bytes())
    }

    /// fsync the `.log` file if it holds unsynced bytes.
    pub fn fsync(&mut self, disk: &Arc<dyn Disk>) -> io::Result<()> {
        if self.dirty {
            disk.fsync(&self.log_path)?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Remove the segment's three files.
    pub fn delete(&self, disk: &Arc<dyn Disk>) -> io::Result<()> {
        disk.remove(&self.log_path)?;
        disk.remove(&self.index_path)?;
        disk.remove(&self.timeindex_path)
    }

    /// Read the header of the batch at `position`.
    fn header_at(&self, disk: &Arc<dyn Disk>, position: u64) -> Result<BatchHeader, StorageError> {
        let bytes = disk.read_at(&self.log_path, position, batch::HEADER_LEN)?;
        batch::parse_header(&bytes)
    }

    /// Position and header of the first batch whose last offset is at least `offset`.
    pub fn find(
        &self,
        disk: &Arc<dyn Disk>,
        offset: i64,
    ) -> Result<Option<(u64, BatchHeader)>, StorageError> {
        if offset >= self.next_offset {
            return Ok(None);
        }
        let relative = self.relative(offset.max(self.base_offset));
        let mut position = self
            .index
            .lookup(relative)
            .map(|e| e.position as u64)
            .unwrap_or(0);
        while position < self.size {
            let header = self.header_at(disk, position)?;
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
            position += header.size() as u64;
        }
        Ok(None)
    }

    /// Position and header of the first batch whose max timestamp is at least `timestamp`
    /// and whose last offset is at least `min_offset`.
    pub fn find_by_timestamp(
        &self,
        disk: &Arc<dyn Disk>,
        timestamp: i64,
        min_offset: i64,
    ) -> Result<Option<(u64, BatchHeader)>, StorageError> {
        if self.max_timestamp < timestamp {
            return Ok(None);
        }
        let mut position = match self.time_index.lookup_below(timestamp) {
            Some(entry) => self
                .index
                .lookup(entry.relative_offset)
                .map(|e| e.position as u64)
                .unwrap_or(0),
            None => 0,
        };
        while position < self.size {
            let header = self.header_at(disk, position)?;
            // Batches wholly below `min_offset` (the log start) are skipped.
            if header.max_timestamp >= timestamp && header.last_offset() >= min_offset {
                return Ok(Some((position, header)));
            }
            position += header.size() as u64;
        }
        Ok(None)
    }

    /// Whole batches from `position`, stopping before a batch whose base offset is at least
    /// `max_offset` and before `out` would exceed `max_bytes` — except that, with `min_one`,
    /// the first batch of an empty `out` is read whatever its size. Each batch's CRC is checked
    /// after the read.
    pub fn read_from(
        &self,
        disk: &Arc<dyn Disk>,
        mut position: u64,
        max_bytes: usize,
        max_offset: i64,
        min_one: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, StorageError> {
        while position < self.size {
            let header = self.header_at(disk, position)?;
            if header.base_offset >= max_offset {
                return Ok(false);
            }
            let exempt = min_one && out.is_empty();
            if !exempt && out.len() + header.size() > max_bytes {
                return Ok(false);
            }
            let bytes = disk.read_at(&self.log_path, position, header.size())?;
            // A corrupt batch is served to no one; what precedes it still is, so a reader
            // gets every good batch before the error.
            if let Err(error) = batch::validate(&bytes) {
                return if out.is_empty() {
                    Err(error)
                } else {
                    Ok(false)
                };
            }
            out.extend_from_slice(&bytes);
            position += header.size() as u64;
        }
        Ok(true)
    }

    /// Cut the segment before its first batch whose base offset is at least `offset`.
    /// Returns the bytes removed.
    pub fn truncate_to(
        &mut self,
        disk: &Arc<dyn Disk>,
        offset: i64,
        interval: u64,
    ) -> Result<u64, StorageError> {
        let mut position = 0;
        while position < self.size {
            let header = self.header_at(disk, position)?;
            if header.base_offset >= offset {
                break;
            }
            position += header.size() as u64;
        }
        let removed = self.size - position;
        if removed > 0 {
            disk.truncate(&self.log_path, position)?;
            self.dirty = true;
            let data = disk.read_all(&self.log_path)?;
            self.rebuild_from(&data, interval)?;
            self.write_indexes(disk)?;
        }
        Ok(removed)
    }

    /// Re-derive every in-memory field from the segment's bytes (which must be valid).
    fn rebuild_from(&mut self, data: &[u8], interval: u64) -> Result<(), StorageError> {
        let dirty = self.dirty;
        let rolling = self.rolling_timestamp_ms;
        let mut fresh = Segment::new("", self.base_offset);
        fresh.log_path = std::mem::take(&mut self.log_path);
        fresh.index_path = std::mem::take(&mut self.index_path);
        fresh.timeindex_path = std::mem::take(&mut self.timeindex_path);
        for (position, header) in batch::split(data)? {
            fresh.record_batch(position as u64, &header, interval);
        }
        fresh.dirty = dirty;
        fresh.rolling_timestamp_ms = if fresh.size == 0 { None } else { rolling };
        *self = fresh;
        Ok(())
    }

    /// Open an existing segment file, check every batch, cut it at the first torn, corrupt or
    /// misplaced batch, and rebuild its indexes. The caller deletes later segments when cut.
    /// `keep_bad_crc` is the TEST-ONLY planted bug that keeps a whole batch whose CRC fails.
    /// `allow_gaps` (a log the cleaner rewrote) accepts a batch starting past the previous
    /// one's end, within the segment's offset range. Without it a gap means a corrupt
    /// `baseOffset` (outside the CRC) and cuts the segment there.
    pub fn recover(
        disk: &Arc<dyn Disk>,
        dir: &str,
        base_offset: i64,
        interval: u64,
        keep_bad_crc: bool,
        allow_gaps: bool,
    ) -> Result<(Segment, SegmentRecovery), StorageError> {
        let mut segment = Segment::new(dir, base_offset);
        // Whether the previous process fsynced this file is unknowable (a kill keeps unsynced
        // bytes in the page cache), so the first flush after open covers it again.
        segment.dirty = true;
        let data = disk.read_all(&segment.log_path)?;
        let mut report = SegmentRecovery::default();
        let mut position = 0usize;
        while position < data.len() {
            let checked = match batch::validate(&data[position..]) {
                Err(StorageError::Corrupt(m)) if keep_bad_crc && m.contains("crc") => {
                    batch::parse_header(&data[position..])
                }
                checked => checked,
            };
            match checked {
                Ok(header)
                    if header.base_offset == segment.next_offset
                        || allow_gaps
                            && header.base_offset > segment.next_offset
                            && segment.can_hold_offset(header.last_offset()) =>
                {
                    if segment.rolling_timestamp_ms.is_none() {
                        segment.rolling_timestamp_ms = Some(header.max_timestamp);
                    }
                    segment.record_batch(position as u64, &header, interval);
                    if crate::txn::producer_state::has_producer_id(&header) {
                        report.producer_batches.push(header);
                    }
                    report.batches += 1;
                    position += header.size();
                }
                Ok(header) => {
                    report.reason = Some(format!(
                        "{}: batch at position {position} has base offset {}, expected {}",
                        segment.log_path, header.base_offset, segment.next_offset
                    ));
                    break;
                }
                Err(error) => {
                    report.crc_failure =
                        matches!(&error, StorageError::Corrupt(m) if m.contains("crc"));
                    report.reason = Some(format!(
                        "{}: position {position}: {error}",
                        segment.log_path
                    ));
                    break;
                }
            }
        }
        if !keep_bad_crc {
            assert_batches_valid(&data[..position]);
        }
        if position < data.len() {
            report.truncated_bytes = (data.len() - position) as u64;
            disk.truncate(&segment.log_path, position as u64)?;
        }
        segment.write_indexes(disk)?;
        Ok((segment, report))
    }
}

/// Recovery's postcondition: every batch it kept passes validation, its CRC32C included
/// (skipped under the TEST-ONLY planted bug `recovery-keeps-bad-crc`, which keeps bad ones).
fn assert_batches_valid(mut kept: &[u8]) {
    while !kept.is_empty() {
        let header = batch::validate(kept);
        let header = header.unwrap_or_else(|error| panic!("recovery kept a bad batch: {error}"));
        kept = &kept[header.size()..];
    }
}
