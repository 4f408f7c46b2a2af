//! Behaviour tests of [`Log`] on [`MemDisk`]: append, read, roll, indexes, timestamps,
//! retention, truncation, recovery of corrupt tails, offline after fsync failure, and a
//! property test that any sequence of appends, truncations and reopens answers every offset.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use proptest::prelude::*;

use super::batch;
use super::testing::{encode_batch, TestRecord};
use super::*;
use crate::env::{Disk, MemDisk};

fn records(count: usize, tag: u8, value_bytes: usize) -> Vec<TestRecord> {
    (0..count)
        .map(|i| TestRecord::value(&vec![tag.wrapping_add(i as u8); value_bytes]))
        .collect()
}

fn batch_of(count: usize, timestamp: i64, tag: u8) -> Vec<u8> {
    encode_batch(0, 0, timestamp, &records(count, tag, 10))
}

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 100,
        retention_ms: None,
        ..LogConfig::default()
    }
}

fn open(disk: &Arc<dyn Disk>, config: LogConfig) -> (Log, RecoveryReport) {
    Log::open(disk.clone(), "t-0", config, 0).unwrap()
}

fn mem() -> Arc<dyn Disk> {
    Arc::new(MemDisk::new())
}

/// Base offsets of the batches in `bytes`.
fn bases(bytes: &[u8]) -> Vec<i64> {
    batch::split(bytes)
        .unwrap()
        .iter()
        .map(|(_, h)| h.base_offset)
        .collect()
}

#[test]
fn append_assigns_offsets_and_epoch() {
    let disk = mem();
    let (mut log, report) = open(&disk, LogConfig::default());
    assert_eq!(report.segments, 1);
    let first = log.append(&batch_of(3, 100, 1), 5, 0).unwrap();
    assert_eq!(
        (first.base_offset, first.last_offset, first.record_count),
        (0, 2, 3)
    );
    let mut two = batch_of(2, 200, 2);
    two.extend(batch_of(1, 300, 3));
    let second = log.append(&two, 6, 0).unwrap();
    assert_eq!(
        (second.base_offset, second.last_offset, second.max_timestamp),
        (3, 5, 300)
    );
    assert_eq!(log.log_end_offset(), 6);
    let all = log.read(0, usize::MAX, i64::MAX).unwrap();
    let headers = batch::split(&all).unwrap();
    assert_eq!(
        headers
            .iter()
            .map(|(_, h)| h.base_offset)
            .collect::<Vec<_>>(),
        vec![0, 3, 5]
    );
    assert_eq!(
        headers
            .iter()
            .map(|(_, h)| h.partition_leader_epoch)
            .collect::<Vec<_>>(),
        vec![5, 6, 6]
    );
    assert!(disk.exists("t-0/00000000000000000000.log"));
}

#[test]
fn read_respects_containing_batch_high_watermark_and_max_bytes() {
    let disk = mem();
    let (mut log, _) = open(&disk, LogConfig::default());
    for tag in 0..4 {
        log.append(&batch_of(3, 100, tag), 0, 0).unwrap();
    }
    assert_eq!(
        bases(&log.read(4, usize::MAX, i64::MAX).unwrap()),
        vec![3, 6, 9]
    );
    assert_eq!(bases(&log.read(4, usize::MAX, 9).unwrap()), vec![3, 6]);
    assert_eq!(
        bases(&log.read(4, usize::MAX, 3).unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(
        bases(&log.read(4, 1, i64::MAX).unwrap()),
        vec![3],
        "at least one batch"
    );
    assert!(
        log.read(12, 100, i64::MAX).unwrap().is_empty(),
        "reading at the log end is empty"
    );
    assert!(matches!(
        log.read(13, 100, i64::MAX),
        Err(StorageError::OffsetOutOfRange {
            requested: 13,
            log_start: 0,
            log_end: 12
        })
    ));
}

#[test]
fn read_limited_gives_an_oversized_first_batch_only_with_min_one() {
    let disk = mem();
    let (mut log, _) = open(&disk, LogConfig::default());
    for tag in 0..3 {
        log.append(&batch_of(3, 100, tag), 0, 0).unwrap();
    }
    let one = log.read(0, 1, i64::MAX).unwrap().len();
    assert_eq!(
        bases(&log.read_limited(0, 1, i64::MAX, true).unwrap()),
        vec![0]
    );
    assert!(log.read_limited(0, 1, i64::MAX, false).unwrap().is_empty());
    assert!(log
        .read_limited(0, one - 1, i64::MAX, false)
        .unwrap()
        .is_empty());
    assert_eq!(
        bases(&log.read_limited(0, one, i64::MAX, false).unwrap()),
        vec![0],
        "a first batch that fits is read either way"
    );
    assert_eq!(
        bases(&log.read_limited(0, 2 * one + 1, i64::MAX, false).unwrap()),
        vec![0, 3]
    );
}

#[test]
fn rolls_by_size_and_time_and_lookups_cross_segments() {
    let disk = mem();
    let (mut log, _) = open(&disk, small_config());
    for tag in 0..20 {
        log.append(&batch_of(2, 1_000 + tag as i64, tag), 0, 0)
            .unwrap();
    }
    let segments = log.segments();
    assert!(
        segments.len() > 3,
        "segment.bytes=400 must roll: {segments:?}"
    );
    assert!(segments.iter().all(|s| s.size_bytes <= 400));
    for offset in 0..40 {
        let bytes = log.read(offset, 1, i64::MAX).unwrap();
        let header = batch::validate(&bytes).unwrap();
        assert!(header.base_offset <= offset && offset <= header.last_offset());
    }
    let before = log.segments().len();
    log.append(&batch_of(1, 5_000, 99), 0, 7 * 24 * 3600 * 1000)
        .unwrap();
    assert_eq!(
        log.segments().len(),
        before + 1,
        "segment.ms rolls on the next append"
    );
}

#[test]
fn offset_for_timestamp_finds_first_batch_reaching_it() {
    let disk = mem();
    let (mut log, _) = open(&disk, small_config());
    let timestamps = [100, 300, 200, 400, 400, 500, 50, 900];
    for (i, ts) in timestamps.iter().enumerate() {
        log.append(&batch_of(1, *ts, i as u8), 0, 0).unwrap();
    }
    assert_eq!(log.offset_for_timestamp(0), Some((0, 100)));
    assert_eq!(log.offset_for_timestamp(150), Some((1, 300)));
    assert_eq!(log.offset_for_timestamp(400), Some((3, 400)));
    assert_eq!(log.offset_for_timestamp(600), Some((7, 900)));
    assert_eq!(log.offset_for_timestamp(901), None);
}

/// ListOffsets' MAX_TIMESTAMP: the first batch of the log holding its largest timestamp,
/// across segments (small_config rolls often), and none in an empty log.
#[test]
fn max_timestamp_batch_is_the_first_batch_reaching_the_largest_timestamp() {
    let disk = mem();
    let (mut log, _) = open(&disk, small_config());
    assert_eq!(log.max_timestamp_batch(), None);
    let timestamps = [100, 900, 200, 900, 50];
    for (i, ts) in timestamps.iter().enumerate() {
        log.append(&batch_of(2, *ts, i as u8), 0, 0).unwrap();
    }
    assert!(log.segments().len() > 1, "the batches span segments");
    assert_eq!(log.max_timestamp_batch(), Some((2, 900)));
}

#[test]
fn retention_deletes_whole_old_segments_never_the_active_one() {
    let disk = mem();
    let config = LogConfig {
        retention_ms: Some(1_000),
        ..small_config()
    };
    let (mut log, _) = open(&disk, config);
    for tag in 0..20 {
        log.append(&batch_of(2, tag as i64 * 100, tag), 0, 0)
            .unwrap();
    }
    let report = log.tick(1_500).unwrap();
    assert!(!report.deleted_segments.is_empty());
    assert!(
        log.segments().iter().all(|s| s.max_timestamp >= 500),
        "{:?}",
        log.segments()
    );
    assert_eq!(log.log_start_offset(), log.segments()[0].base_offset);
    assert!(
        log.read(0, 10, i64::MAX).is_err(),
        "deleted offsets are out of range"
    );
    let report = log.tick(1_000_000).unwrap();
    assert!(!report.deleted_segments.is_empty());
    assert_eq!(log.segments().len(), 1, "active segment is kept");
    assert_eq!(log.log_end_offset(), 40);

    let disk = mem();
    let config = LogConfig {
        retention_bytes: Some(800),
        ..small_config()
    };
    let (mut log, _) = open(&disk, config);
    for tag in 0..20 {
        log.append(&batch_of(2, 0, tag), 0, 0).unwrap();
    }
    log.tick(0).unwrap();
    assert!(log.size_bytes() <= 800 + 400, "size {}", log.size_bytes());
    assert!(log.size_bytes() > 800 - 400);
}

#[test]
fn truncate_cuts_at_batch_boundaries_and_reopens() {
    let disk = mem();
    let (mut log, _) = open(&disk, small_config());
    for tag in 0..20 {
        log.append(&batch_of(2, 0, tag), 0, 0).unwrap();
    }
    log.truncate_to(13).unwrap();
    assert_eq!(
        log.log_end_offset(),
        12,
        "the batch 12..=13 contains offset 13 and goes with it (Kafka never splits a batch)"
    );
    log.truncate_to(12).unwrap();
    assert_eq!(log.log_end_offset(), 12);
    let info = log.append(&batch_of(1, 0, 50), 1, 0).unwrap();
    assert_eq!(info.base_offset, 12);
    drop(log);
    let (log, report) = open(&disk, small_config());
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(log.log_end_offset(), 13);
    let mut log = log;
    assert!(matches!(
        log.truncate_to(-5),
        Err(StorageError::InvalidRecord(_))
    ));
    log.truncate_to(0).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
}

/// DeleteRecords: the log start moves inside a segment, reads below it are out of range, a
/// read at it returns the batch holding it, whole segments below it go, and the new start
/// survives a reopen.
#[test]
fn advancing_the_log_start_deletes_below_it_and_survives_a_reopen() {
    let disk = mem();
    let (mut log, _) = open(&disk, small_config());
    for tag in 0..10 {
        log.append(&batch_of(2, 1_000 + tag as i64, tag), 0, 0)
            .unwrap();
    }
    let segments_before = log.segments().len();
    assert!(segments_before > 2);
    assert_eq!(log.advance_log_start_offset(0).unwrap(), 0, "no change");
    let deleted = log.advance_log_start_offset(9).unwrap();
    assert!(deleted > 0);
    assert_eq!(log.log_start_offset(), 9);
    assert!(log.segments().len() < segments_before);
    assert!(
        log.segments()[0].base_offset <= 9,
        "the segment holding 9 stays"
    );
    assert!(matches!(
        log.read(8, 1 << 20, i64::MAX),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    assert_eq!(bases(&log.read(9, 1, i64::MAX).unwrap()), [8]);
    // Timestamp lookups start at the log start, too.
    assert_eq!(log.offset_for_timestamp(0), Some((9, 1_004)));
    // Moving it back is not a thing: nothing happens.
    assert_eq!(log.advance_log_start_offset(4).unwrap(), 0);
    assert_eq!(log.log_start_offset(), 9);
    drop(log);
    let (mut log, _) = open(&disk, small_config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (9, 20));
    // A follower cut below it restarts there, and the old start is forgotten.
    log.truncate_to(3).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (3, 3));
    drop(log);
    let (log, _) = open(&disk, small_config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (3, 3));
}

/// A persisted log start past the log end (the tail was lost after DeleteRecords) empties
/// the log and restarts it at that start, as Kafka's loader does.
#[test]
fn a_persisted_log_start_past_the_end_restarts_the_log_there() {
    let disk = mem();
    let (mut log, _) = open(&disk, small_config());
    for tag in 0..3 {
        log.append(&batch_of(1, 0, tag), 0, 0).unwrap();
    }
    drop(log);
    disk.write_file("t-0/log-start-offset", b"7").unwrap();
    let (log, _) = open(&disk, small_config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (7, 7));
    // An unreadable file is ignored.
    disk.write_file("t-0/log-start-offset", b"garbage").unwrap();
    let (log, _) = open(&disk, small_config());
    assert_eq!(log.log_start_offset(), 7);
}

#[test]
fn recovery_cuts_corrupt_tail_and_drops_later_segments() {
    let disk = mem();
    let (mut log, _) = open(&disk, small_config());
    for tag in 0..20 {
        log.append(&batch_of(2, 0, tag), 0, 0).unwrap();
    }
    let segments = log.segments();
    drop(log);
    // Flip a byte inside the second segment's second batch.
    let victim = format!("t-0/{:020}.log", segments[1].base_offset);
    let mut bytes = disk.read_all(&victim).unwrap();
    let second_batch = batch::validate(&bytes).unwrap().size();
    bytes[second_batch + 70] ^= 0x10;
    disk.write_file(&victim, &bytes).unwrap();
    let (log, report) = open(&disk, small_config());
    assert_eq!(report.corrupt_batches, 1);
    assert!(report.reason.is_some());
    assert_eq!(log.segments().len(), 2);
    assert_eq!(log.log_end_offset(), segments[1].base_offset + 2);
    assert!(report.truncated_bytes > 0);
    assert!(!disk.exists(&format!("t-0/{:020}.log", segments[2].base_offset)));

    // A torn tail (half a batch) is cut without counting as a CRC failure.
    let end = log.log_end_offset();
    drop(log);
    let active = format!("t-0/{:020}.log", segments[1].base_offset);
    disk.append(&active, &batch_of(3, 0, 9)[..40]).unwrap();
    let (log, report) = open(&disk, small_config());
    assert_eq!((report.corrupt_batches, report.truncated_bytes), (0, 40));
    assert_eq!(log.log_end_offset(), end);
}

#[test]
fn rejects_bad_batches() {
    let disk = mem();
    let config = LogConfig {
        max_message_bytes: 200,
        ..LogConfig::default()
    };
    let (mut log, _) = open(&disk, config);
    assert!(matches!(
        log.append(&[], 0, 0),
        Err(StorageError::InvalidRecord(_))
    ));
    let big = encode_batch(0, 0, 0, &records(1, 0, 300));
    assert!(matches!(
        log.append(&big, 0, 0),
        Err(StorageError::TooLarge)
    ));
    let mut corrupt = batch_of(1, 0, 0);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert!(matches!(
        log.append(&corrupt, 0, 0),
        Err(StorageError::Corrupt(_))
    ));
    let good = batch_of(1, 0, 0);
    assert!(matches!(
        log.append(&good[..good.len() - 1], 0, 0),
        Err(StorageError::Corrupt(_))
    ));
    assert_eq!(log.log_end_offset(), 0, "nothing appended");
}

#[test]
fn follower_append_keeps_offsets_and_must_start_at_log_end() {
    let disk = mem();
    let (mut log, _) = open(&disk, LogConfig::default());
    let leader_batch = encode_batch(0, 4, 0, &records(2, 0, 5));
    log.append_as_follower(&leader_batch, 0).unwrap();
    let gap = encode_batch(5, 4, 0, &records(1, 0, 5));
    assert!(matches!(
        log.append_as_follower(&gap, 0),
        Err(StorageError::InvalidRecord(_))
    ));
    let next = encode_batch(2, 4, 0, &records(1, 0, 5));
    log.append_as_follower(&next, 0).unwrap();
    assert_eq!(
        log.read(0, usize::MAX, i64::MAX).unwrap(),
        [leader_batch, next].concat()
    );
}

/// A follower whose log ends below its leader's log start restarts it there: empty, starting
/// and ending at that offset, taking the leader's batches from it on, across a reopen.
#[test]
fn a_log_restarted_past_its_end_is_empty_there_and_appends_from_there() {
    let disk = mem();
    let (mut log, _) = open(&disk, LogConfig::default());
    log.append_as_follower(&encode_batch(0, 1, 0, &records(2, 0, 5)), 0)
        .unwrap();
    log.restart_at(10).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 10));
    assert!(matches!(
        log.read(0, 1 << 20, i64::MAX),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    let from_leader = encode_batch(10, 3, 0, &records(1, 0, 5));
    log.append_as_follower(&from_leader, 0).unwrap();
    drop(log);
    let (log, _) = open(&disk, LogConfig::default());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 11));
    assert_eq!(log.read(10, usize::MAX, i64::MAX).unwrap(), from_leader);
}

/// MemDisk whose fsyncs fail on demand.
struct FailingDisk {
    inner: MemDisk,
    fail_fsync: AtomicBool,
}

impl Disk for FailingDisk {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn list_dir(&self, dir: &str) -> io::Result<Vec<String>> {
        self.inner.list_dir(dir)
    }
    fn exists(&self, path: &str) -> bool {
        self.inner.exists(path)
    }
    fn len(&self, path: &str) -> io::Result<u64> {
        self.inner.len(path)
    }
    fn read_at(&self, path: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.inner.read_at(path, offset, len)
    }
    fn append(&self, path: &str, data: &[u8]) -> io::Result<u64> {
        self.inner.append(path, data)
    }
    fn write_file(&self, path: &str, data: &[u8]) -> io::Result<()> {
        self.inner.write_file(path, data)
    }
    fn truncate(&self, path: &str, len: u64) -> io::Result<()> {
        self.inner.truncate(path, len)
    }
    fn remove(&self, path: &str) -> io::Result<()> {
        self.inner.remove(path)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn fsync(&self, path: &str) -> io::Result<()> {
        if self.fail_fsync.load(Ordering::SeqCst) {
            return Err(io::Error::other("fsync failed"));
        }
        self.inner.fsync(path)
    }
    fn fsync_dir(&self, dir: &str) -> io::Result<()> {
        self.inner.fsync_dir(dir)
    }
}

#[test]
fn fsync_failure_takes_the_log_offline() {
    let failing = Arc::new(FailingDisk {
        inner: MemDisk::new(),
        fail_fsync: AtomicBool::new(false),
    });
    let disk: Arc<dyn Disk> = failing.clone();
    let config = LogConfig {
        flush_messages: Some(1),
        ..LogConfig::default()
    };
    let (mut log, _) = open(&disk, config);
    log.append(&batch_of(1, 0, 0), 0, 0).unwrap();
    failing.fail_fsync.store(true, Ordering::SeqCst);
    assert!(matches!(
        log.append(&batch_of(1, 0, 1), 0, 0),
        Err(StorageError::Offline)
    ));
    failing.fail_fsync.store(false, Ordering::SeqCst);
    assert!(log.is_offline());
    assert!(matches!(
        log.append(&batch_of(1, 0, 2), 0, 0),
        Err(StorageError::Offline)
    ));
    assert!(matches!(
        log.read(0, 100, i64::MAX),
        Err(StorageError::Offline)
    ));
    assert!(matches!(log.flush(), Err(StorageError::Offline)));
}

#[test]
fn flush_ms_flushes_on_tick() {
    let disk = mem();
    let config = LogConfig {
        flush_ms: Some(1_000),
        ..LogConfig::default()
    };
    let (mut log, _) = open(&disk, config);
    log.append(&batch_of(1, 0, 0), 0, 10).unwrap();
    assert!(!log.tick(500).unwrap().flushed);
    assert!(log.tick(1_000).unwrap().flushed);
    assert!(!log.tick(5_000).unwrap().flushed, "nothing left to flush");
}

#[test]
fn indexes_are_written_in_kafka_layout() {
    let disk = mem();
    let (mut log, _) = open(&disk, small_config());
    for tag in 0..10 {
        log.append(&batch_of(1, 10 * tag as i64, tag), 0, 0)
            .unwrap();
    }
    drop(log);
    let (log, _) = open(&disk, small_config());
    let first = log.segments()[0].clone();
    let index = disk
        .read_all(&format!("t-0/{:020}.index", first.base_offset))
        .unwrap();
    assert!(index.len() >= 16 && index.len() % 8 == 0);
    assert_eq!(&index[..8], &[0, 0, 0, 0, 0, 0, 0, 0]);
    let timeindex = disk
        .read_all(&format!("t-0/{:020}.timeindex", first.base_offset))
        .unwrap();
    assert!(!timeindex.is_empty() && timeindex.len() % 12 == 0);
}

#[derive(Clone, Debug)]
enum Op {
    Append { batches: Vec<usize>, timestamp: i64 },
    Truncate { fraction: f64 },
    Reopen,
    Retain,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::collection::vec(1usize..5, 1..3), 0i64..1_000).prop_map(|(batches, timestamp)| Op::Append { batches, timestamp }),
        1 => (0.0f64..1.0).prop_map(|fraction| Op::Truncate { fraction }),
        1 => Just(Op::Reopen),
        1 => Just(Op::Retain),
    ]
}

/// Every offset in [log start, log end) is answered by the batch the model says holds it.
fn check_lookups(log: &Log, model: &[(i64, Vec<u8>)]) {
    let start = log.log_start_offset();
    assert_eq!(
        log.log_end_offset(),
        model
            .last()
            .map(|(_, b)| batch::validate(b).unwrap().next_offset())
            .unwrap_or(start)
            .max(start)
    );
    for (base, bytes) in model.iter().filter(|(base, _)| *base >= start) {
        let header = batch::validate(bytes).unwrap();
        for offset in *base..header.next_offset() {
            assert_eq!(
                &log.read(offset, 1, i64::MAX).unwrap(),
                bytes,
                "offset {offset}"
            );
        }
    }
}

proptest! {
    #[test]
    fn any_history_answers_every_offset(ops in prop::collection::vec(op(), 1..40), interval in 1u64..300) {
        let disk = mem();
        let config = LogConfig { segment_bytes: 500, index_interval_bytes: interval, retention_bytes: Some(1_500), ..small_config() };
        let (mut log, _) = Log::open(disk.clone(), "t-0", config.clone(), 0).unwrap();
        let mut model: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut tag = 0u8;
        for op in ops {
            match op {
                Op::Append { batches, timestamp } => {
                    let mut bytes = Vec::new();
                    let mut expected = Vec::new();
                    let mut next = log.log_end_offset();
                    for count in batches {
                        tag = tag.wrapping_add(1);
                        let recs = records(count, tag, 7);
                        bytes.extend(encode_batch(0, 0, timestamp, &recs));
                        expected.push((next, encode_batch(next, 3, timestamp, &recs)));
                        next += count as i64;
                    }
                    let info = log.append(&bytes, 3, 0).unwrap();
                    prop_assert_eq!(info.last_offset + 1, next);
                    model.extend(expected);
                }
                Op::Truncate { fraction } => {
                    let start = log.log_start_offset();
                    let target = start + ((log.log_end_offset() - start) as f64 * fraction) as i64;
                    log.truncate_to(target).unwrap();
                    // Kafka's rule: the batch containing the target goes too.
                    model.retain(|(_, b)| batch::validate(b).unwrap().next_offset() <= target);
                    prop_assert_eq!(log.log_end_offset(), model.last().map(|(_, b)| batch::validate(b).unwrap().next_offset()).unwrap_or(start));
                }
                Op::Reopen => {
                    drop(log);
                    let (reopened, report) = Log::open(disk.clone(), "t-0", config.clone(), 0).unwrap();
                    prop_assert_eq!(report.truncated_bytes, 0);
                    log = reopened;
                }
                Op::Retain => {
                    log.tick(0).unwrap();
                }
            }
            check_lookups(&log, &model);
        }
    }
}

#[test]
fn recovery_drops_segments_after_a_gap() {
    let disk = mem();
    let (mut log, _) = open(&disk, small_config());
    for tag in 0..20 {
        log.append(&batch_of(2, 0, tag), 0, 0).unwrap();
    }
    let segments = log.segments();
    assert!(segments.len() >= 3);
    drop(log);
    disk.remove(&format!("t-0/{:020}.log", segments[1].base_offset))
        .unwrap();
    let (log, report) = open(&disk, small_config());
    assert_eq!(log.segments(), segments[..1].to_vec());
    assert!(report.reason.unwrap().contains("does not start at"));
    assert!(!disk.exists(&format!("t-0/{:020}.log", segments[2].base_offset)));
    assert!(
        !disk.exists(&format!("t-0/{:020}.index", segments[1].base_offset)),
        "orphan index removed"
    );
}
