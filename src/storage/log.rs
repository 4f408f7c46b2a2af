//! The log of one partition: offset assignment, rolling, reads, truncation, retention, flush
//! policy and recovery.
//!
//! Invariants (asserted after every change): segment base offsets strictly increase and each
//! segment starts at the previous one's next offset, so offsets are contiguous from the log
//! start offset (the first segment's base) to the log end offset; `log_start <= log_end`.
//! Asserted where they change: an appended batch starts at the log end offset, which the
//! append moves to just past its last batch (so the log end offset only grows by appends); a
//! roll starts a segment above the active one; the log end offset only moves back by
//! truncation, and then to at most the offset truncated to. Recovery keeps only batches that
//! pass validation (see [`Segment::recover`]).
//!
//! Recovery on [`Log::open`] is deliberately simple and honest: every batch of every segment is
//! checked (length, magic, CRC32C, offset contiguity); at the first bad batch that segment is
//! cut there and every later segment is deleted; indexes are *always* rebuilt from the `.log`
//! files, so index files are never trusted and never fsynced. Whatever recovery changed is made
//! durable before `open` returns, so a second crash cannot resurrect what it dropped.
//!
//! Durability follows the flush policy: with `flush.messages` unset nothing is fsynced during
//! an append. [`Log::flush`] fsyncs every dirty `.log` file, then the partition directory (when
//! segments were created or deleted) and its parent (once after every open, since a restarted
//! process cannot know whether its predecessor fsynced them).
//! Truncation and retention deletes are made durable at once, because resurrecting truncated
//! or deleted data after a power loss would move offsets backwards.
//!
//! The log start offset is the first segment's base offset, or higher once DeleteRecords
//! moved it inside a segment ([`Log::advance_log_start_offset`]): then it is kept in the
//! partition's `log-start-offset` file (Kafka keeps one `log-start-offset-checkpoint` per log
//! directory), written durably before any segment below it is deleted, and read back on open.
//! Reads below it are out of range, as in Kafka.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::batch::{self, BatchHeader};
use super::segment::Segment;
use super::{LogConfig, StorageError};
use crate::env::Disk;
use crate::txn::producer_state::{has_producer_id, ClientBatch, ProducerState};

/// What one append wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record appended.
    pub base_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// Records appended, over all batches.
    pub record_count: u64,
    /// Largest batch max timestamp appended.
    pub max_timestamp: i64,
    /// Nothing was appended: the batch retried one the log holds already (an idempotent
    /// producer's duplicate), and the offsets are those of the original.
    pub duplicate: bool,
}

/// What recovery found and did when the log was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments in the log after recovery.
    pub segments: usize,
    /// Valid batches found.
    pub batches: u64,
    /// Bytes dropped: torn or corrupt tails plus every deleted later segment.
    pub truncated_bytes: u64,
    /// Batches that failed their CRC32C.
    pub corrupt_batches: u64,
    /// Why recovery cut the log, if it did.
    pub reason: Option<String>,
}

/// What one [`Log::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Whether `flush.ms` caused an fsync.
    pub flushed: bool,
    /// Whether `segment.ms` rolled the active segment.
    pub rolled: bool,
    /// Base offsets of the segments retention deleted.
    pub deleted_segments: Vec<i64>,
    /// Bytes retention deleted.
    pub deleted_bytes: u64,
}

/// One segment, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    /// The segment's base offset.
    pub base_offset: i64,
    /// Offset after its last batch.
    pub next_offset: i64,
    /// Bytes of its `.log` file.
    pub size_bytes: u64,
    /// Largest timestamp in it, -1 when empty.
    pub max_timestamp: i64,
}

/// A partition's log.
pub struct Log {
    /// Where the files live.
    disk: Arc<dyn Disk>,
    /// The partition directory, e.g. `t-0`.
    dir: String,
    /// Topic settings.
    config: LogConfig,
    /// Segments by base offset; never empty; the last one is the active segment.
    segments: BTreeMap<i64, Segment>,
    /// Set by an fsync failure: every later call fails with [`StorageError::Offline`].
    offline: bool,
    /// Segment files were created or removed since the directory was last fsynced.
    dir_dirty: bool,
    /// The partition directory may not be durable in its parent yet (always true after open).
    parent_dirty: bool,
    /// Records appended since the last flush: drives `flush.messages`.
    unflushed_messages: u64,
    /// Wall time of the last flush (or open): drives `flush.ms`.
    last_flush_ms: i64,
    /// Latest wall time the caller told us about.
    now_ms: i64,
    /// The next append rolls a new segment first ([`Log::roll_before_next_append`]).
    roll_requested: bool,
    /// The log start offset DeleteRecords set (the log starts at the larger of this and the
    /// first segment's base offset); persisted in [`LOG_START_FILE`].
    log_start_floor: i64,
    /// Idempotent producers' state, rebuilt from the batches on open and after truncation.
    producers: ProducerState,
    /// Segments from this offset on have not been cleaned since open: the cleaner's dirty
    /// section. Kafka keeps it in `cleaner-offset-checkpoint`; here it lives in memory, so
    /// after a restart the whole log counts as dirty and is cleaned once more (cleaning a
    /// clean segment changes nothing).
    first_dirty_offset: i64,
    /// Whether batches may leave offset gaps (see [`GAPS_FILE`]): set by recovery from the
    /// directory listing, and before the first gap is written.
    gaps_allowed: bool,
}

/// The file whose presence says the log may hold offset gaps: written durably before the
/// cleaner first swaps a segment in, or a follower first appends across its leader's gap.
/// Recovery accepts gaps only then, because `baseOffset` lies outside the CRC: in any other
/// log a gap is a corrupt batch. A file rather than the topic's policy, so that a log
/// compacted once and then switched to `delete` keeps its gaps across a restart.
pub const GAPS_FILE: &str = "offset-gaps";

/// The file in the partition directory holding the log start offset DeleteRecords set.
pub const LOG_START_FILE: &str = "log-start-offset";

fn parent_of(dir: &str) -> &str {
    dir.rsplit_once('/').map(|(parent, _)| parent).unwrap_or("")
}

/// Base offset of a `.log` file name, if it is one of ours.
fn segment_base(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

impl Log {
    /// Open (creating the directory if missing) and recover the log in `dir`.
    pub fn open(
        disk: Arc<dyn Disk>,
        dir: &str,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<(Log, RecoveryReport), StorageError> {
        let dir = dir.trim_end_matches('/').to_string();
        disk.create_dir_all(&dir)?;
        let mut log = Log {
            disk,
            dir,
            config,
            segments: BTreeMap::new(),
            offline: false,
            // After a restart nothing says whether the previous process fsynced the directory
            // and its entry in the parent, so the first flush after open does both.
            dir_dirty: true,
            parent_dirty: true,
            unflushed_messages: 0,
            last_flush_ms: now_ms,
            now_ms,
            roll_requested: false,
            log_start_floor: 0,
            producers: ProducerState::new(),
            first_dirty_offset: 0,
            gaps_allowed: false,
        };
        let (report, producer_batches) = log.recover()?;
        log.load_log_start()?;
        // Producer state from what recovery kept, without reading the files again.
        for header in &producer_batches {
            if header.next_offset() <= log.log_end_offset() {
                log.producers.apply(header);
            }
        }
        log.producers.remove_below(log.log_start_offset());
        log.check_invariants();
        Ok((log, report))
    }

    fn recover(&mut self) -> Result<(RecoveryReport, Vec<BatchHeader>), StorageError> {
        let names = self.disk.list_dir(&self.dir)?;
        // Read from the listing, not asked of the disk: one more disk call would change the
        // trace of every run.
        self.gaps_allowed = names.iter().any(|name| name == GAPS_FILE);
        // A cleaning the previous process left half done is finished or undone first.
        let swapped = super::cleaner::recover_swaps(&self.disk, &self.dir, &names)?;
        let names = if swapped {
            self.dir_dirty = true;
            self.disk.list_dir(&self.dir)?
        } else {
            names
        };
        let bases: Vec<i64> = names.iter().filter_map(|n| segment_base(n)).collect();
        let mut changed = self.remove_orphan_indexes(&names, &bases)? || swapped;
        let mut report = RecoveryReport::default();
        let mut producer_batches = Vec::new();
        let mut expected: Option<i64> = None;
        let mut cut = false;
        for base in bases {
            if !cut && expected.is_some_and(|e| e != base) {
                report.reason = Some(format!(
                    "{}: segment {base} does not start at {}",
                    self.dir,
                    expected.unwrap()
                ));
                cut = true;
            }
            if cut {
                report.truncated_bytes += self.delete_segment_files(base)?;
                changed = true;
                continue;
            }
            let interval = self.config.index_interval_bytes;
            let keep_bad_crc = self.config.planted_recovery_keeps_bad_crc;
            let gaps = self.gaps_allowed;
            let (segment, found) =
                Segment::recover(&self.disk, &self.dir, base, interval, keep_bad_crc, gaps)?;
            report.batches += found.batches;
            report.truncated_bytes += found.truncated_bytes;
            report.corrupt_batches += found.crc_failure as u64;
            producer_batches.extend(found.producer_batches);
            if found.reason.is_some() {
                report.reason = found.reason;
                cut = true;
                changed = true;
            }
            expected = Some(segment.next_offset());
            self.segments.insert(base, segment);
        }
        if self.segments.is_empty() {
            self.segments
                .insert(0, Segment::create(&self.disk, &self.dir, 0)?);
            self.dir_dirty = true;
        }
        if changed {
            self.flush()?;
        }
        report.segments = self.segments.len();
        Ok((report, producer_batches))
    }

    fn remove_orphan_indexes(
        &mut self,
        names: &[String],
        bases: &[i64],
    ) -> Result<bool, StorageError> {
        let mut removed = false;
        for name in names {
            let Some((stem, ext)) = name.rsplit_once('.') else {
                continue;
            };
            let is_index = ext == "index" || ext == "timeindex";
            if is_index && !stem.parse::<i64>().is_ok_and(|base| bases.contains(&base)) {
                self.disk.remove(&format!("{}/{name}", self.dir))?;
                self.dir_dirty = true;
                removed = true;
            }
        }
        Ok(removed)
    }

    fn delete_segment_files(&mut self, base: i64) -> Result<u64, StorageError> {
        let stem = super::segment::file_stem(base);
        let log_path = format!("{}/{stem}.log", self.dir);
        let bytes = self.disk.len(&log_path).unwrap_or(0);
        for ext in ["log", "index", "timeindex"] {
            self.disk.remove(&format!("{}/{stem}.{ext}", self.dir))?;
        }
        self.dir_dirty = true;
        Ok(bytes)
    }

    /// Take up the log start offset DeleteRecords persisted. An unreadable file is ignored
    /// (the log then starts at its first segment). A start past the log end (its tail was
    /// lost) empties the log and restarts it there, as Kafka's loader does.
    fn load_log_start(&mut self) -> Result<(), StorageError> {
        let path = format!("{}/{LOG_START_FILE}", self.dir);
        if !self.disk.exists(&path) {
            return Ok(());
        }
        let text = self.disk.read_all(&path)?;
        let Some(floor) = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .filter(|&floor| floor >= 0)
        else {
            return Ok(());
        };
        if floor > self.log_end_offset() {
            return self.truncate_fully_and_start_at(floor);
        }
        self.log_start_floor = floor;
        Ok(())
    }

    /// Write `offset` to the log start file durably (temp file, fsync, rename, fsync dir).
    fn persist_log_start(&mut self, offset: i64) -> Result<(), StorageError> {
        let path = format!("{}/{LOG_START_FILE}", self.dir);
        let temp = format!("{path}.tmp");
        self.disk.write_file(&temp, offset.to_string().as_bytes())?;
        self.disk.fsync(&temp)?;
        self.disk.rename(&temp, &path)?;
        self.disk.fsync_dir(&self.dir)?;
        Ok(())
    }

    /// DeleteRecords: the log starts at `offset` from now on (nothing happens if it starts
    /// there or later already). The new start is made durable first; then every segment
    /// wholly below it is deleted (never the active one), durably. Returns the bytes deleted.
    /// The caller keeps `offset` at or below the high watermark, so below the log end.
    pub fn advance_log_start_offset(&mut self, offset: i64) -> Result<u64, StorageError> {
        self.check_online()?;
        assert!(
            offset <= self.log_end_offset(),
            "log start offset {offset} past the log end offset {}",
            self.log_end_offset()
        );
        if offset <= self.log_start_offset() {
            return Ok(0);
        }
        self.persist_log_start(offset)?;
        self.log_start_floor = offset;
        let mut deleted_bytes = 0;
        while let Some(&next_base) = self.segments.keys().nth(1) {
            if next_base > offset {
                break;
            }
            let (_, segment) = self.segments.pop_first().expect("two segments at least");
            deleted_bytes += segment.size();
            segment.delete(&self.disk)?;
            self.dir_dirty = true;
        }
        if deleted_bytes > 0 {
            self.flush()?;
        }
        self.producers.remove_below(offset);
        assert_eq!(
            self.log_start_offset(),
            offset,
            "advancing the log start offset moved it to {offset}"
        );
        self.check_invariants();
        Ok(deleted_bytes)
    }

    fn check_online(&self) -> Result<(), StorageError> {
        if self.offline {
            Err(StorageError::Offline)
        } else {
            Ok(())
        }
    }

    fn check_invariants(&self) {
        let mut expected = None;
        for (base, segment) in &self.segments {
            assert_eq!(
                *base, segment.base_offset,
                "segment keyed by its base offset"
            );
            if let Some(expected) = expected {
                assert_eq!(
                    *base, expected,
                    "segments must be contiguous and strictly increasing"
                );
            }
            assert!(
                segment.next_offset() >= *base,
                "segment next offset below its base"
            );
            expected = Some(segment.next_offset());
        }
        assert!(
            !self.segments.is_empty(),
            "a log always has an active segment"
        );
        assert!(
            self.log_end_offset() >= self.log_start_offset(),
            "log end offset below log start offset"
        );
        assert!(
            self.log_start_floor <= self.log_end_offset(),
            "the log start offset DeleteRecords set, {}, is past the log end offset {}",
            self.log_start_floor,
            self.log_end_offset()
        );
    }

    /// The first offset still in the log: the first segment's base offset, or where
    /// DeleteRecords moved it past that.
    pub fn log_start_offset(&self) -> i64 {
        let first_base = *self
            .segments
            .keys()
            .next()
            .expect("a log always has a segment");
        first_base.max(self.log_start_floor)
    }

    /// The offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }

    /// The settings the log runs with.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Run with new settings from now on (a dynamic topic config change): the next append
    /// validates, rolls and flushes by them, the next tick applies their retention. Nothing
    /// already written changes.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    fn active(&self) -> &Segment {
        self.segments
            .values()
            .next_back()
            .expect("a log always has a segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has a segment")
    }

    /// Split and validate producer or follower bytes: CRC, size limit, offset-delta sanity.
    fn validate_incoming(
        &self,
        bytes: &[u8],
        from_leader: bool,
    ) -> Result<Vec<(usize, BatchHeader)>, StorageError> {
        if bytes.is_empty() {
            return Err(StorageError::InvalidRecord("no batches to append".into()));
        }
        let headers = batch::split(bytes)?;
        for (_, header) in &headers {
            if header.size() > self.config.max_message_bytes {
                return Err(StorageError::TooLarge);
            }
            if from_leader
                && (header.record_count < 1 || header.last_offset_delta != header.record_count - 1)
            {
                return Err(StorageError::InvalidRecord(format!(
                    "batch has {} records but last offset delta {}",
                    header.record_count, header.last_offset_delta
                )));
            }
        }
        if from_leader {
            for (position, header) in &headers {
                batch::check_records(&bytes[*position..], header)?;
                if self.config.cleanup_compact
                    && super::cleaner::has_keyless_record(&bytes[*position..], header)?
                {
                    return Err(StorageError::InvalidRecord(
                        "compacted topic cannot accept a record without a key".into(),
                    ));
                }
            }
        }
        Ok(headers)
    }

    /// Append batches from a producer as the leader: validate each, assign offsets from the log
    /// end offset and stamp `leader_epoch`, roll first if needed, append, fsync per
    /// `flush.messages`.
    pub fn append(
        &mut self,
        batches: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        self.check_online()?;
        let mut bytes = batches.to_vec();
        let mut headers = self.validate_incoming(&bytes, true)?;
        if let Some(duplicate) = self.check_producers(&headers)? {
            return Ok(duplicate);
        }
        let mut next_offset = self.log_end_offset();
        for (position, header) in headers.iter_mut() {
            let size = header.size();
            batch::patch_base_offset(&mut bytes[*position..*position + size], next_offset);
            batch::patch_leader_epoch(&mut bytes[*position..*position + size], leader_epoch);
            header.base_offset = next_offset;
            header.partition_leader_epoch = leader_epoch;
            next_offset = header.next_offset();
        }
        self.append_validated(&bytes, &headers, now_ms, true, false)
    }

    /// The leader's producer checks (see [`crate::txn::producer_state`]): refuse a batch of an
    /// older epoch or out of sequence; answer a retried batch with the original's offsets
    /// (then nothing is appended). Batches after the first are checked against the state as
    /// the earlier ones of the same request would leave it.
    fn check_producers(
        &self,
        headers: &[(usize, BatchHeader)],
    ) -> Result<Option<AppendInfo>, StorageError> {
        let mut scratch: Option<ProducerState> = None;
        let mut next_offset = self.log_end_offset();
        for (_, header) in headers {
            let mut header = *header;
            header.base_offset = next_offset;
            next_offset = header.next_offset();
            if !has_producer_id(&header) {
                continue;
            }
            if header.base_sequence < 0 {
                return Err(StorageError::InvalidRecord(format!(
                    "producer {} sent sequence {}",
                    header.producer_id, header.base_sequence
                )));
            }
            let state = scratch.as_ref().unwrap_or(&self.producers);
            match state.check_client_batch(&header)? {
                ClientBatch::Duplicate(original) => {
                    return Ok(Some(AppendInfo {
                        base_offset: original.first_offset,
                        last_offset: original.last_offset,
                        record_count: 0,
                        max_timestamp: -1,
                        duplicate: true,
                    }))
                }
                ClientBatch::Append if headers.len() > 1 => scratch
                    .get_or_insert_with(|| self.producers.clone())
                    .apply(&header),
                ClientBatch::Append => {}
            }
        }
        Ok(None)
    }

    /// The producer state (for tests and reports).
    pub fn producers(&self) -> &ProducerState {
        &self.producers
    }

    /// Rebuild the producer state by reading every batch from the log start: after a
    /// truncation removed batches the state remembers. It costs a read of the whole log, so
    /// it runs only when the truncation cut below a producer's last batch.
    fn rebuild_producers(&mut self) -> Result<(), StorageError> {
        let mut state = ProducerState::new();
        let mut offset = self.log_start_offset();
        while offset < self.log_end_offset() {
            let bytes = self.read(offset, 1 << 20, i64::MAX)?;
            let headers = batch::split(&bytes)?;
            let Some((_, last)) = headers.last() else {
                break;
            };
            assert!(last.next_offset() > offset, "a read makes progress");
            offset = last.next_offset();
            for (_, header) in &headers {
                state.apply(header);
            }
        }
        state.remove_below(self.log_start_offset());
        self.producers = state;
        Ok(())
    }

    /// Append batches replicated from the leader, keeping their offsets and epochs. They must
    /// start at the log end offset and be contiguous — or, in a compacted log, at or past it
    /// and increasing (the leader's cleaner left gaps).
    pub fn append_as_follower(
        &mut self,
        batches: &[u8],
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        self.check_online()?;
        let headers = self.validate_incoming(batches, false)?;
        let record_producers = !self.config.planted_producer_state_not_replicated;
        let mut expected = self.log_end_offset();
        let allow_gaps = self.config.cleanup_compact;
        let mut gapped = false;
        for (_, header) in &headers {
            gapped |= header.base_offset > expected;
            // A gap wider than a segment's relative offsets can span is no cleaner's doing.
            let gap = header.base_offset.saturating_sub(expected);
            let placed = gap == 0 || allow_gaps && gap > 0 && gap <= i32::MAX as i64 / 2;
            if !placed {
                return Err(StorageError::InvalidRecord(format!(
                    "follower batch at offset {} but log end offset is {expected}",
                    header.base_offset
                )));
            }
            expected = header.next_offset();
        }
        if gapped {
            self.allow_gaps()?;
        }
        self.append_validated(batches, &headers, now_ms, record_producers, allow_gaps)
    }

    /// Roll a new segment before the next append, whatever its size and age (BUGGIFY's
    /// forced roll; every roll is legal, so readers and recovery must cope).
    pub fn roll_before_next_append(&mut self) {
        self.roll_requested = true;
    }

    fn should_roll(&mut self, incoming_bytes: u64, last_offset: i64, now_ms: i64) -> bool {
        let requested = std::mem::take(&mut self.roll_requested);
        let active = self.active();
        if active.is_empty() {
            return false;
        }
        if requested {
            return true;
        }
        // Index positions are u32 (Kafka caps segment.bytes at i32::MAX for the same reason).
        let segment_bytes_max = self.config.segment_bytes.min(i32::MAX as u64);
        let full = active.size() + incoming_bytes > segment_bytes_max;
        let old = active
            .rolling_timestamp_ms()
            .is_some_and(|t| now_ms - t >= self.config.segment_ms);
        full || old || !active.can_hold_offset(last_offset)
    }

    /// Start a new active segment at the log end offset.
    fn roll(&mut self) -> Result<(), StorageError> {
        let base = self.log_end_offset();
        assert!(
            base > self.active().base_offset,
            "a new segment's base offset {base} is above the active one's"
        );
        self.active().write_indexes(&self.disk)?;
        let segment = Segment::create(&self.disk, &self.dir, base)?;
        self.segments.insert(base, segment);
        self.dir_dirty = true;
        Ok(())
    }

    fn append_validated(
        &mut self,
        bytes: &[u8],
        headers: &[(usize, BatchHeader)],
        now_ms: i64,
        record_producers: bool,
        allow_gaps: bool,
    ) -> Result<AppendInfo, StorageError> {
        self.now_ms = self.now_ms.max(now_ms);
        let first = headers.first().expect("validated batches are not empty").1;
        let last = headers.last().expect("validated batches are not empty").1;
        assert!(
            first.base_offset == self.log_end_offset()
                || allow_gaps && first.base_offset > self.log_end_offset(),
            "an appended batch starts at the log end offset"
        );
        if self.should_roll(bytes.len() as u64, last.last_offset(), now_ms) {
            self.roll()?;
        }
        let interval = self.config.index_interval_bytes;
        let disk = self.disk.clone();
        self.active_mut()
            .append(&disk, bytes, headers, interval, now_ms, allow_gaps)?;
        for (_, header) in headers.iter().filter(|_| record_producers) {
            self.producers.apply(header);
        }
        let record_count: u64 = headers
            .iter()
            .map(|(_, h)| h.record_count.max(0) as u64)
            .sum();
        self.unflushed_messages += record_count;
        if self
            .config
            .flush_messages
            .is_some_and(|n| self.unflushed_messages >= n)
        {
            self.flush()?;
        }
        assert_eq!(
            self.log_end_offset(),
            last.next_offset(),
            "an append moves the log end offset to just past its last batch"
        );
        self.check_invariants();
        Ok(AppendInfo {
            base_offset: first.base_offset,
            last_offset: last.last_offset(),
            record_count,
            max_timestamp: headers
                .iter()
                .map(|(_, h)| h.max_timestamp)
                .max()
                .unwrap_or(-1),
            duplicate: false,
        })
    }

    /// Whole batches starting with the one containing `offset`, stopping before any batch whose
    /// base offset is at least `max_offset` (the high watermark) and before exceeding
    /// `max_bytes` — but always at least one batch when one is readable, as Kafka does.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
    ) -> Result<Vec<u8>, StorageError> {
        self.read_limited(offset, max_bytes, max_offset, true)
    }

    /// `read`, where the first batch may exceed `max_bytes` only with `min_one` (Kafka's
    /// `minOneMessage`: a fetch grants it to the first partition that returns data, KIP-74).
    /// Without it, a first batch over `max_bytes` is not read and the answer is empty.
    pub fn read_limited(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one: bool,
    ) -> Result<Vec<u8>, StorageError> {
        self.check_online()?;
        let (log_start, log_end) = (self.log_start_offset(), self.log_end_offset());
        if offset < log_start || offset > log_end {
            return Err(StorageError::OffsetOutOfRange {
                requested: offset,
                log_start,
                log_end,
            });
        }
        let mut out = Vec::new();
        let first_base = *self
            .segments
            .range(..=offset)
            .next_back()
            .expect("offset >= log start")
            .0;
        for (base, segment) in self.segments.range(first_base..) {
            let position = if *base == first_base {
                match segment.find(&self.disk, offset)? {
                    Some((position, _)) => position,
                    None => continue,
                }
            } else {
                0
            };
            if !segment.read_from(
                &self.disk, position, max_bytes, max_offset, min_one, &mut out,
            )? {
                break;
            }
        }
        Ok(out)
    }

    /// Drop everything at and after `offset`, as Kafka's `Log.truncateTo`: a batch containing
    /// `offset` but starting before it goes too (a batch is never split), so the log may end
    /// below `offset`. An offset at or below the log start empties the log and restarts it at
    /// `offset`. The result is fsynced before returning.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), StorageError> {
        self.check_online()?;
        let log_end_before = self.log_end_offset();
        self.truncate_to_inner(offset)?;
        // What is appended from here on is dirty, in the active segment as in later ones.
        self.first_dirty_offset = self.first_dirty_offset.min(self.active().base_offset);
        let log_end = self.log_end_offset();
        if self
            .producers
            .last_offset()
            .is_some_and(|last| last >= log_end)
        {
            self.rebuild_producers()?;
        }
        assert!(
            self.producers
                .last_offset()
                .is_none_or(|last| last < log_end),
            "producer state past the log end after truncation"
        );
        assert!(
            log_end <= log_end_before && (log_end <= offset || log_end == log_end_before),
            "truncating to {offset} moved the log end offset from {log_end_before} to {log_end}"
        );
        Ok(())
    }

    fn truncate_to_inner(&mut self, offset: i64) -> Result<(), StorageError> {
        if offset < 0 {
            return Err(StorageError::InvalidRecord(format!(
                "cannot truncate to negative offset {offset}"
            )));
        }
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        if offset <= self.log_start_offset() {
            return self.truncate_fully_and_start_at(offset);
        }
        // Start of the batch holding `offset`: everything from there goes.
        let containing = self.read(offset, 1, i64::MAX)?;
        let offset = batch::parse_header(&containing)
            .map(|header| header.base_offset)
            .unwrap_or(offset);
        if offset <= self.log_start_offset() {
            return self.truncate_fully_and_start_at(offset);
        }
        let doomed: Vec<i64> = self
            .segments
            .range(offset..)
            .map(|(base, _)| *base)
            .collect();
        for base in doomed {
            let segment = self.segments.remove(&base).expect("listed above");
            segment.delete(&self.disk)?;
            self.dir_dirty = true;
        }
        let interval = self.config.index_interval_bytes;
        let disk = self.disk.clone();
        self.active_mut().truncate_to(&disk, offset, interval)?;
        self.flush()?;
        self.check_invariants();
        Ok(())
    }

    /// Empty the log and restart it at `offset`, past its end: a follower whose log ends
    /// below its leader's log start (DeleteRecords or retention removed what it lacks) starts
    /// again where the leader's log starts, as Kafka's `truncateFullyAndStartAt`. Durable
    /// before returning.
    pub fn restart_at(&mut self, offset: i64) -> Result<(), StorageError> {
        self.check_online()?;
        assert!(
            offset > self.log_end_offset(),
            "restarting the log at {offset}, not past its end {}",
            self.log_end_offset()
        );
        self.truncate_fully_and_start_at(offset)?;
        assert_eq!(
            (self.log_start_offset(), self.log_end_offset()),
            (offset, offset),
            "a log restarted at {offset} is empty and starts there"
        );
        Ok(())
    }

    fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), StorageError> {
        // A log restarted below the start DeleteRecords set starts there instead, and must
        // not find the old start in its file on the next open.
        if self.log_start_floor > offset {
            self.persist_log_start(offset)?;
            self.log_start_floor = offset;
        }
        for (_, segment) in std::mem::take(&mut self.segments) {
            segment.delete(&self.disk)?;
        }
        self.producers = ProducerState::new();
        self.segments
            .insert(offset, Segment::create(&self.disk, &self.dir, offset)?);
        self.dir_dirty = true;
        self.flush()?;
        self.check_invariants();
        Ok(())
    }

    /// fsync every dirty `.log` file, then the directory if segments were created or deleted,
    /// then its parent once after open. An fsync failure takes the log offline.
    pub fn flush(&mut self) -> Result<(), StorageError> {
        self.check_online()?;
        let result = self.flush_inner();
        if result.is_err() {
            self.offline = true;
            return Err(StorageError::Offline);
        }
        self.unflushed_messages = 0;
        self.last_flush_ms = self.now_ms;
        Ok(())
    }

    fn flush_inner(&mut self) -> std::io::Result<()> {
        let disk = self.disk.clone();
        for segment in self.segments.values_mut() {
            segment.fsync(&disk)?;
        }
        if self.dir_dirty {
            disk.fsync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        if self.parent_dirty {
            disk.fsync_dir(parent_of(&self.dir))?;
            self.parent_dirty = false;
        }
        Ok(())
    }

    /// Time-driven work: `flush.ms`, `segment.ms` rolls, `retention.ms` and `retention.bytes`
    /// (whole segments, oldest first, never the active one).
    pub fn tick(&mut self, now_ms: i64) -> Result<TickReport, StorageError> {
        self.check_online()?;
        self.now_ms = self.now_ms.max(now_ms);
        let mut report = TickReport::default();
        let active = self.active();
        if !active.is_empty()
            && active
                .rolling_timestamp_ms()
                .is_some_and(|t| now_ms - t >= self.config.segment_ms)
        {
            self.roll()?;
            report.rolled = true;
        }
        self.delete_expired_segments(now_ms, &mut report)?;
        if !report.deleted_segments.is_empty() {
            self.flush()?;
            self.producers.remove_below(self.log_start_offset());
        }
        let flush_due = self
            .config
            .flush_ms
            .is_some_and(|ms| now_ms - self.last_flush_ms >= ms);
        if flush_due && self.has_unflushed_data() {
            self.flush()?;
            report.flushed = true;
        }
        self.check_invariants();
        Ok(report)
    }

    fn has_unflushed_data(&self) -> bool {
        self.dir_dirty || self.parent_dirty || self.segments.values().any(|s| s.dirty)
    }

    /// The newest timestamp of a segment for `retention.ms`: its max timestamp, or the time of
    /// its first append when no batch carries a timestamp.
    fn segment_timestamp(segment: &Segment) -> i64 {
        if segment.max_timestamp() >= 0 {
            segment.max_timestamp()
        } else {
            segment.rolling_timestamp_ms().unwrap_or(i64::MIN)
        }
    }

    fn delete_expired_segments(
        &mut self,
        now_ms: i64,
        report: &mut TickReport,
    ) -> Result<(), StorageError> {
        if !self.config.cleanup_delete {
            return Ok(());
        }
        if let Some(retention_ms) = self.config.retention_ms {
            while self.segments.len() > 1 {
                let oldest = self.segments.values().next().expect("len > 1");
                if now_ms - Self::segment_timestamp(oldest) <= retention_ms {
                    break;
                }
                self.delete_oldest(report)?;
            }
        }
        if let Some(retention_bytes) = self.config.retention_bytes {
            let mut excess = self.size_bytes() as i64 - retention_bytes as i64;
            while self.segments.len() > 1 {
                let oldest = self.segments.values().next().expect("len > 1").size() as i64;
                if excess - oldest < 0 {
                    break;
                }
                excess -= oldest;
                self.delete_oldest(report)?;
            }
        }
        Ok(())
    }

    fn delete_oldest(&mut self, report: &mut TickReport) -> Result<(), StorageError> {
        let (base, segment) = self
            .segments
            .pop_first()
            .expect("never called on the last segment");
        assert!(
            !self.segments.is_empty(),
            "retention never deletes the active segment"
        );
        segment.delete(&self.disk)?;
        self.dir_dirty = true;
        report.deleted_segments.push(base);
        report.deleted_bytes += segment.size();
        Ok(())
    }

    /// Base offsets of the cleanable segments, oldest first: the non-active ones up to the
    /// first whose newest timestamp is within `min.compaction.lag.ms` of `now_ms` or that
    /// reaches past `uncleanable_offset`.
    fn cleanable_bases(&self, now_ms: i64, uncleanable_offset: i64) -> Vec<i64> {
        let lag_ms = self.config.min_compaction_lag_ms;
        self.segments
            .values()
            .take(self.segments.len() - 1)
            .take_while(|s| now_ms.saturating_sub(Self::segment_timestamp(s)) >= lag_ms)
            .take_while(|s| s.next_offset() <= uncleanable_offset)
            .map(|s| s.base_offset)
            .collect()
    }

    /// The share of the cleanable bytes not cleaned since open, in thousandths (0 when nothing
    /// is cleanable): Kafka's dirty ratio. See [`Log::clean`] for `uncleanable_offset`.
    pub fn dirty_ratio_permille(&self, now_ms: i64, uncleanable_offset: i64) -> u32 {
        let (mut total, mut dirty) = (0u64, 0u64);
        for base in self.cleanable_bases(now_ms, uncleanable_offset) {
            let size = self.segments[&base].size();
            total += size;
            if base >= self.first_dirty_offset {
                dirty += size;
            }
        }
        (dirty * 1000).checked_div(total).unwrap_or(0) as u32
    }

    /// Whether the log is compacted and its dirty ratio has reached `min.cleanable.dirty.ratio`.
    pub fn cleaning_due(&self, now_ms: i64, uncleanable_offset: i64) -> bool {
        let ratio = self.dirty_ratio_permille(now_ms, uncleanable_offset);
        self.config.cleanup_compact
            && ratio > 0
            && ratio >= self.config.min_cleanable_dirty_ratio_permille
    }

    /// Compact the cleanable segments (see [`super::cleaner`]): keep the latest record of each
    /// key, drop tombstones past `delete.retention.ms`, keep every offset. Each rewritten
    /// segment is swapped in durably before the next is touched. Nothing happens unless the
    /// policy holds `compact`. The log start and end offsets do not move (a log whose first
    /// records were cleaned away still starts at its first segment's base, as Kafka keeps its
    /// logStartOffset; a read there answers with the next batch).
    ///
    /// Only segments wholly below `uncleanable_offset` are cleaned: the caller passes its high
    /// watermark (Kafka bounds the cleaner by the last stable offset). Cleaning above it could
    /// drop a committed value for a newer one that a truncation then removes.
    pub fn clean(
        &mut self,
        now_ms: i64,
        uncleanable_offset: i64,
    ) -> Result<super::CleanReport, StorageError> {
        self.check_online()?;
        self.now_ms = self.now_ms.max(now_ms);
        let mut report = super::CleanReport::default();
        let bases = self.cleanable_bases(now_ms, uncleanable_offset);
        if !self.config.cleanup_compact || bases.is_empty() {
            return Ok(report);
        }
        let (log_start, log_end) = (self.log_start_offset(), self.log_end_offset());
        let mut map = super::cleaner::OffsetMap::default();
        let mut old = Vec::with_capacity(bases.len());
        for base in &bases {
            let bytes = self.segments[base].read_bytes(&self.disk)?;
            map.add_segment(&bytes)?;
            old.push(bytes);
        }
        let horizon_ms = now_ms.saturating_sub(self.config.delete_retention_ms);
        for (base, bytes) in bases.iter().zip(old) {
            let drop_tombstones = Self::segment_timestamp(&self.segments[base]) < horizon_ms;
            let cleaned = super::cleaner::clean_segment(&bytes, &map, drop_tombstones)?;
            if cleaned.removed_records == 0 && cleaned.bytes == bytes {
                continue;
            }
            self.swap_segment(*base, &cleaned.bytes)?;
            report.cleaned_segments += 1;
            report.removed_records += cleaned.removed_records;
            report.removed_bytes += (bytes.len() - cleaned.bytes.len()) as u64;
        }
        let last = bases.last().expect("not empty");
        self.first_dirty_offset = self.segments[last].next_offset();
        assert_eq!(
            (self.log_start_offset(), self.log_end_offset()),
            (log_start, log_end),
            "cleaning moves neither the log start nor the log end offset"
        );
        self.check_invariants();
        Ok(report)
    }

    /// Make gaps legal in this log from now on: [`GAPS_FILE`], durably, before the first gap.
    fn allow_gaps(&mut self) -> Result<(), StorageError> {
        if self.gaps_allowed {
            return Ok(());
        }
        let path = format!("{}/{GAPS_FILE}", self.dir);
        let written = self.disk.write_file(&path, b"");
        let durable = written.and_then(|()| {
            self.disk.fsync(&path)?;
            self.disk.fsync_dir(&self.dir)
        });
        if let Err(error) = durable {
            self.offline = true;
            return Err(error.into());
        }
        self.gaps_allowed = true;
        Ok(())
    }

    /// Swap the cleaned bytes of segment `base` in and reload it. A failure after the staged
    /// file was written leaves the directory for recovery to sort out: the log goes offline,
    /// as after a failed fsync.
    fn swap_segment(&mut self, base: i64, bytes: &[u8]) -> Result<(), StorageError> {
        let next_offset = self.segments[&base].next_offset();
        self.allow_gaps()?;
        super::cleaner::stage(&self.disk, &self.dir, base, bytes)?;
        if let Err(error) = super::cleaner::swap_in(&self.disk, &self.dir, base) {
            self.offline = true;
            return Err(error.into());
        }
        let interval = self.config.index_interval_bytes;
        let (mut segment, found) =
            Segment::recover(&self.disk, &self.dir, base, interval, false, true)?;
        assert!(
            found.reason.is_none() && found.truncated_bytes == 0,
            "a swapped-in segment reads back whole: {:?}",
            found.reason
        );
        assert_eq!(
            segment.next_offset(),
            next_offset,
            "a cleaned segment ends where it did"
        );
        // The swap protocol fsynced the file before renaming it in.
        segment.dirty = false;
        self.segments.insert(base, segment);
        Ok(())
    }

    /// Bytes of all `.log` files.
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size()).sum()
    }

    /// The first batch whose max timestamp is at least `timestamp`, as (its base offset, its
    /// max timestamp), found through the time indexes. `None` when no batch reaches it (or the
    /// disk failed to answer).
    /// A batch that starts below the log start answers with the log start offset, as Kafka
    /// searches from the log start.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Option<(i64, i64)> {
        let log_start = self.log_start_offset();
        for segment in self.segments.values() {
            if segment.next_offset() <= log_start {
                continue;
            }
            let found = segment.find_by_timestamp(&self.disk, timestamp, log_start);
            if let Ok(Some((_, header))) = found {
                return Some((header.base_offset.max(log_start), header.max_timestamp));
            }
        }
        None
    }

    /// The first batch holding the log's largest timestamp, as (its base offset, its max
    /// timestamp): ListOffsets' MAX_TIMESTAMP. Kafka picks the first segment with the largest
    /// max timestamp and the first batch in it reaching it, which is the first batch of the
    /// whole log reaching it. `None` when no batch carries a timestamp — or, a known gap, when
    /// the largest timestamp of the first segment lies below a log start DeleteRecords moved
    /// into it (segments keep one max timestamp, deleted batches' included).
    pub fn max_timestamp_batch(&self) -> Option<(i64, i64)> {
        let max = self.segments.values().map(|s| s.max_timestamp()).max()?;
        if max < 0 {
            return None;
        }
        self.offset_for_timestamp(max)
    }

    /// Every segment, oldest first.
    pub fn segments(&self) -> Vec<SegmentSummary> {
        self.segments
            .values()
            .map(|s| SegmentSummary {
                base_offset: s.base_offset,
                next_offset: s.next_offset(),
                size_bytes: s.size(),
                max_timestamp: s.max_timestamp(),
            })
            .collect()
    }

    /// Whether an fsync failure took the log offline.
    pub fn is_offline(&self) -> bool {
        self.offline
    }
}
