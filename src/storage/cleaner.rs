//! Log compaction: keep the latest record of every key in the non-active segments.
//!
//! The cleaner is pure over segment bytes; [`super::Log::clean`] feeds it and swaps the result
//! in through the [`Disk`] seam. The rules, after Kafka's `LogCleaner`:
//! - the offset map (key → offset of its latest record) covers every cleanable segment: the
//!   non-active ones older than `min.compaction.lag.ms`. Kafka builds it over the dirty section
//!   only and trusts the clean section to hold no duplicates; covering both is a superset and
//!   gives the same survivors. Records of the active segment never enter the map, so they
//!   never supersede a cleanable record (as in Kafka, whose map stops at the first
//!   uncleanable offset);
//! - a keyed record survives when the map names its offset; a keyless record (one written
//!   before the topic became compacted) survives;
//! - a tombstone (null value) that survives that is removed once its segment's newest
//!   timestamp is older than `delete.retention.ms` before now: the segment-age rule of
//!   Kafka before KIP-534, with the newest timestamp standing in for the file's last
//!   modification time (kafkasim has no file times; time is an input). The delete horizon in
//!   the batch header (KIP-534) is not implemented;
//! - offsets are kept: a rewritten batch keeps its base offset, its last offset delta, its
//!   attributes, producer fields and timestamps (so record deltas stay valid), and gets a new
//!   record count, length and CRC32C, as Kafka's `MemoryRecords.filterTo` for v2. A batch
//!   left with no record is dropped, except the last batch of a segment (kept empty, so the
//!   segment still ends where it did and segments stay contiguous) and the last batch of each
//!   producer (kept empty, so producer state rebuilt on open still knows its sequence);
//! - control batches, transactional batches and compressed batches are kept whole (the broker
//!   never decompresses; transactions are not yet compacted), and their keys stay out of the
//!   map, so they supersede nothing: a reader may see more than the latest value, never less.
//!
//! Crash safety, Kafka's swap protocol per segment: the cleaned bytes go to
//! `<base>.log.cleaned`, fsynced; renamed to `<base>.log.swap` and the directory fsynced; the
//! old `<base>.log` is removed and the swap renamed over it, and the directory fsynced. On open
//! ([`recover_swaps`]) a `.cleaned` file is deleted (the old segment is intact) and a `.swap`
//! file replaces its segment (it is complete, having been fsynced before its rename).
//! Indexes are rebuilt from the `.log` file on every open, so they need no swap of their own.
//! Before the first swap the log writes its [`super::GAPS_FILE`] marker, durably, so
//! that recovery accepts the gaps (and in no other log, where a gap is a corrupt offset).
//!
//! Asserted: a cleaned batch is valid (CRC32C recomputed and checked) and keeps its offsets; a
//! cleaned segment holds exactly the batches it planned, in increasing offsets, ending at the
//! original segment's last offset.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use super::batch::{self, BatchHeader, HEADER_LEN};
use super::StorageError;
use crate::env::Disk;

/// Compression bits of a batch's attributes.
const COMPRESSION_MASK: i16 = 0x07;

/// One record inside an uncompressed batch, as the cleaner needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordView {
    /// Byte range of the whole record (length prefix included) within the batch.
    pub bytes: std::ops::Range<usize>,
    /// Offset of the record: base offset plus its offset delta.
    pub offset: i64,
    /// Its key; `None` is a null key.
    pub key: Option<Vec<u8>>,
    /// Byte range of its value within the batch; `None` is a null value (a tombstone).
    pub value: Option<std::ops::Range<usize>>,
}

impl RecordView {
    /// Whether the record is a tombstone (null value).
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }
}

/// What cleaning a log did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Segments rewritten and swapped in.
    pub cleaned_segments: u64,
    /// Records removed (superseded values and expired tombstones).
    pub removed_records: u64,
    /// Bytes the rewritten segments shrank by.
    pub removed_bytes: u64,
}

/// Whether the cleaner may rewrite the records of this batch (else it is kept whole).
pub fn is_cleanable_batch(header: &BatchHeader) -> bool {
    !header.is_control() && !header.is_transactional() && header.attributes & COMPRESSION_MASK == 0
}

fn invalid(header: &BatchHeader, what: String) -> StorageError {
    StorageError::Corrupt(format!("batch at offset {}: {what}", header.base_offset))
}

/// Read a zigzag varlong from the front of `bytes` (at most 10 bytes).
fn read_varlong(bytes: &[u8], at: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    for index in 0..10 {
        let byte = *bytes.get(*at + index)?;
        value |= ((byte & 0x7f) as u64) << (7 * index);
        if byte & 0x80 == 0 {
            *at += index + 1;
            return Some(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    None
}

/// Read a nullable byte field (varlong length, -1 for null) and return its range.
fn read_field(bytes: &[u8], at: &mut usize) -> Option<Option<std::ops::Range<usize>>> {
    let length = read_varlong(bytes, at)?;
    if length < 0 {
        return Some(None);
    }
    let end = at.checked_add(usize::try_from(length).ok()?)?;
    if end > bytes.len() {
        return None;
    }
    let range = *at..end;
    *at = end;
    Some(Some(range))
}

/// The records of an uncompressed batch (`batch` holds exactly that batch). Malformed records
/// are an error, never a panic.
pub fn records(batch: &[u8], header: &BatchHeader) -> Result<Vec<RecordView>, StorageError> {
    assert_eq!(
        batch.len(),
        header.size(),
        "records() takes exactly one batch"
    );
    assert_eq!(header.attributes & COMPRESSION_MASK, 0, "compressed batch");
    let mut out = Vec::with_capacity(header.record_count.clamp(0, 4096) as usize);
    let mut at = HEADER_LEN;
    for index in 0..header.record_count {
        let start = at;
        let broken = || invalid(header, format!("record {index} is malformed"));
        let length = read_varlong(batch, &mut at).ok_or_else(broken)?;
        let body_start = at;
        let end = usize::try_from(length)
            .ok()
            .and_then(|l| body_start.checked_add(l))
            .filter(|&end| end <= batch.len())
            .ok_or_else(broken)?;
        let body = &batch[..end];
        at += 1; // record attributes
        read_varlong(body, &mut at).ok_or_else(broken)?; // timestamp delta
        let offset_delta = read_varlong(body, &mut at).ok_or_else(broken)?;
        let key = read_field(body, &mut at).ok_or_else(broken)?;
        let value = read_field(body, &mut at).ok_or_else(broken)?;
        out.push(RecordView {
            bytes: start..end,
            offset: header.base_offset.saturating_add(offset_delta),
            key: key.map(|range| body[range].to_vec()),
            value,
        });
        at = end;
    }
    if at != batch.len() {
        return Err(invalid(header, "bytes after its records".into()));
    }
    Ok(out)
}

/// Whether any record of an uncompressed, non-control batch has a null key: Kafka refuses
/// such a batch on a compacted topic (INVALID_RECORD). Compressed batches cannot be looked
/// into by a broker that never decompresses, so they pass.
pub fn has_keyless_record(batch: &[u8], header: &BatchHeader) -> Result<bool, StorageError> {
    if header.is_control() || header.attributes & COMPRESSION_MASK != 0 {
        return Ok(false);
    }
    Ok(records(&batch[..header.size()], header)?
        .iter()
        .any(|r| r.key.is_none()))
}

/// The offset map and producer bookkeeping built over the cleanable segments.
#[derive(Clone, Debug, Default)]
pub struct OffsetMap {
    /// Key → offset of its latest record in a cleanable batch.
    pub latest: BTreeMap<Vec<u8>, i64>,
    /// Producer id → base offset of its last batch: that batch is never dropped whole.
    pub last_producer_batch: BTreeMap<i64, i64>,
}

impl OffsetMap {
    /// Take in one segment's bytes, oldest segment first.
    pub fn add_segment(&mut self, data: &[u8]) -> Result<(), StorageError> {
        for (position, header) in batch::split(data)? {
            if header.producer_id >= 0 {
                self.last_producer_batch
                    .insert(header.producer_id, header.base_offset);
            }
            if !is_cleanable_batch(&header) {
                continue;
            }
            let bytes = &data[position..position + header.size()];
            for record in records(bytes, &header)? {
                if let Some(key) = record.key {
                    let previous = self.latest.insert(key, record.offset);
                    assert!(
                        previous.is_none_or(|p| p < record.offset),
                        "offsets increase through the log"
                    );
                }
            }
        }
        Ok(())
    }
}

/// One segment rewritten by the cleaner.
#[derive(Clone, Debug, Default)]
pub struct CleanedSegment {
    /// The new `.log` bytes.
    pub bytes: Vec<u8>,
    /// Records removed.
    pub removed_records: u64,
}

/// Rewrite one segment's bytes against `map`. `drop_tombstones` says whether this segment's
/// tombstones are past `delete.retention.ms`.
pub fn clean_segment(
    data: &[u8],
    map: &OffsetMap,
    drop_tombstones: bool,
) -> Result<CleanedSegment, StorageError> {
    let batches = batch::split(data)?;
    let mut out = CleanedSegment::default();
    for (index, (position, header)) in batches.iter().enumerate() {
        let bytes = &data[*position..*position + header.size()];
        let last_in_segment = index + 1 == batches.len();
        if !is_cleanable_batch(header) {
            out.bytes.extend_from_slice(bytes);
            continue;
        }
        let all = records(bytes, header)?;
        let kept: Vec<&RecordView> = all
            .iter()
            .filter(|r| survives(r, map, drop_tombstones))
            .collect();
        out.removed_records += (all.len() - kept.len()) as u64;
        if kept.len() == all.len() {
            out.bytes.extend_from_slice(bytes);
            continue;
        }
        let producer_last = header.producer_id >= 0
            && map.last_producer_batch.get(&header.producer_id) == Some(&header.base_offset);
        if kept.is_empty() && !last_in_segment && !producer_last {
            continue;
        }
        out.bytes.extend(rebuild_batch(bytes, header, &kept));
    }
    let cleaned = batch::split(&out.bytes).expect("the cleaner writes valid batches");
    if let (Some((_, old)), Some((_, new))) = (batches.last(), cleaned.last()) {
        assert_eq!(
            old.next_offset(),
            new.next_offset(),
            "a cleaned segment ends where it did"
        );
    }
    for pair in cleaned.windows(2) {
        assert!(
            pair[1].1.base_offset >= pair[0].1.next_offset(),
            "cleaned batches keep increasing offsets"
        );
    }
    Ok(out)
}

/// Whether a record of a cleanable batch survives cleaning.
fn survives(record: &RecordView, map: &OffsetMap, drop_tombstones: bool) -> bool {
    let Some(key) = &record.key else {
        return true;
    };
    let latest = map.latest.get(key) == Some(&record.offset);
    latest && !(record.is_tombstone() && drop_tombstones)
}

/// The batch `bytes` holding only `kept` (a subset of its records, in order): same header but
/// for record count, batch length and CRC32C.
fn rebuild_batch(bytes: &[u8], header: &BatchHeader, kept: &[&RecordView]) -> Vec<u8> {
    let mut out = bytes[..HEADER_LEN].to_vec();
    for record in kept {
        out.extend_from_slice(&bytes[record.bytes.clone()]);
    }
    let batch_length = (out.len() - batch::LOG_OVERHEAD) as i32;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    out[57..61].copy_from_slice(&(kept.len() as i32).to_be_bytes());
    let crc = batch::compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    let rebuilt = batch::validate(&out).expect("a rebuilt batch is valid");
    assert_eq!(
        (rebuilt.base_offset, rebuilt.last_offset_delta),
        (header.base_offset, header.last_offset_delta),
        "a cleaned batch keeps its offsets"
    );
    out
}

fn swap_paths(dir: &str, base_offset: i64) -> (String, String, String) {
    let log = format!("{dir}/{}.log", super::segment::file_stem(base_offset));
    (format!("{log}.cleaned"), format!("{log}.swap"), log)
}

/// Write the cleaned bytes of segment `base_offset` to its `.log.cleaned` file: the first
/// step of the swap protocol, which changes nothing yet. On failure (ENOSPC) the partial file
/// is removed and the segment is untouched.
pub fn stage(disk: &Arc<dyn Disk>, dir: &str, base_offset: i64, bytes: &[u8]) -> io::Result<()> {
    let (cleaned, _, _) = swap_paths(dir, base_offset);
    let written = disk.write_file(&cleaned, bytes);
    if written.is_err() {
        let _ = disk.remove(&cleaned);
    }
    written
}

/// Replace segment `base_offset`'s `.log` with its staged `.log.cleaned` through the rest of
/// the swap protocol (see the module doc). Durable when it returns; a failure part way leaves
/// files that [`recover_swaps`] sorts out on the next open.
pub fn swap_in(disk: &Arc<dyn Disk>, dir: &str, base_offset: i64) -> io::Result<()> {
    let (cleaned, swap, log) = swap_paths(dir, base_offset);
    disk.fsync(&cleaned)?;
    disk.rename(&cleaned, &swap)?;
    disk.fsync_dir(dir)?;
    disk.remove(&log)?;
    disk.rename(&swap, &log)?;
    disk.fsync_dir(dir)
}

/// Finish or roll back cleanings a crash interrupted: delete every `*.log.cleaned`, and let
/// every `*.log.swap` replace its `.log`. Returns whether anything changed (the caller fsyncs
/// the directory).
pub fn recover_swaps(disk: &Arc<dyn Disk>, dir: &str, names: &[String]) -> io::Result<bool> {
    let mut changed = false;
    for name in names {
        if name.ends_with(".log.cleaned") {
            disk.remove(&format!("{dir}/{name}"))?;
            changed = true;
        }
    }
    for name in names {
        if let Some(log) = name.strip_suffix(".swap").filter(|l| l.ends_with(".log")) {
            let (swap, log) = (format!("{dir}/{name}"), format!("{dir}/{log}"));
            disk.remove(&log)?;
            disk.rename(&swap, &log)?;
            changed = true;
        }
    }
    Ok(changed)
}
