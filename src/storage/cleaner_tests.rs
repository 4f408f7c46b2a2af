//! Behaviour tests of log compaction on [`MemDisk`]: the latest record per key survives,
//! tombstones last until `delete.retention.ms`, the active segment is never cleaned, offsets
//! are kept and gaps are readable, keyless records are refused, interrupted swaps recover,
//! and a property test against a model map.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::batch;
use super::cleaner;
use super::testing::{encode_batch, encode_batch_with_producer, TestRecord};
use super::*;
use crate::env::{Disk, MemDisk};

/// One record as a reader sees it: (offset, key, value).
type Seen = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

const DAY_MS: i64 = 86_400_000;

fn compact_config() -> LogConfig {
    LogConfig {
        cleanup_compact: true,
        cleanup_delete: false,
        retention_ms: None,
        index_interval_bytes: 1,
        ..LogConfig::default()
    }
}

fn mem() -> Arc<dyn Disk> {
    Arc::new(MemDisk::new())
}

fn open(disk: &Arc<dyn Disk>) -> Log {
    Log::open(disk.clone(), "t-0", compact_config(), 0)
        .unwrap()
        .0
}

/// Append one batch of keyed records (`None` value: a tombstone) at `timestamp`.
fn put(log: &mut Log, timestamp: i64, records: &[(&str, Option<&str>)]) -> i64 {
    let records: Vec<TestRecord> = records
        .iter()
        .map(|(k, v)| TestRecord::keyed(k.as_bytes(), v.map(str::as_bytes)))
        .collect();
    let info = log
        .append(&encode_batch(0, 0, timestamp, &records), 0, timestamp)
        .unwrap();
    info.base_offset
}

/// Every record of `bytes`, decoded by the cleaner's own parser.
fn decode(bytes: &[u8]) -> Vec<Seen> {
    let mut out = Vec::new();
    for (position, header) in batch::split(bytes).unwrap() {
        let one = &bytes[position..position + header.size()];
        for record in cleaner::records(one, &header).unwrap() {
            let value = record.value.clone().map(|range| one[range].to_vec());
            out.push((record.offset, record.key, value));
        }
    }
    out
}

fn contents(log: &Log) -> Vec<Seen> {
    decode(
        &log.read(log.log_start_offset(), usize::MAX, i64::MAX)
            .unwrap(),
    )
}

fn seen(offset: i64, key: &str, value: Option<&str>) -> Seen {
    (
        offset,
        Some(key.as_bytes().to_vec()),
        value.map(|v| v.as_bytes().to_vec()),
    )
}

#[test]
fn latest_value_per_key_survives_with_its_offset() {
    let disk = mem();
    let mut log = open(&disk);
    put(&mut log, 10, &[("a", Some("1")), ("b", Some("1"))]);
    put(&mut log, 20, &[("a", Some("2"))]);
    log.roll_before_next_append();
    put(&mut log, 30, &[("c", Some("1"))]);
    log.roll_before_next_append();
    put(
        &mut log,
        40,
        &[("b", Some("active")), ("a", Some("active"))],
    );
    let report = log.clean(50, i64::MAX).unwrap();
    assert_eq!(report.cleaned_segments, 1);
    assert_eq!(report.removed_records, 1);
    assert!(report.removed_bytes > 0);
    assert_eq!(
        contents(&log),
        vec![
            seen(1, "b", Some("1")),
            seen(2, "a", Some("2")),
            seen(3, "c", Some("1")),
            seen(4, "b", Some("active")),
            seen(5, "a", Some("active")),
        ],
        "the active segment supersedes nothing and is never cleaned"
    );
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 6));
    // Cleaning again finds nothing to do.
    assert_eq!(log.clean(60, i64::MAX).unwrap().cleaned_segments, 0);
}

#[test]
fn a_fetch_inside_a_gap_answers_with_the_next_batch() {
    let disk = mem();
    let mut log = open(&disk);
    for value in ["1", "2", "3"] {
        put(&mut log, 10, &[("k", Some(value))]);
    }
    put(&mut log, 10, &[("other", Some("x"))]);
    log.roll_before_next_append();
    put(&mut log, 20, &[("k", Some("4"))]);
    log.clean(30, i64::MAX).unwrap();
    assert_eq!(
        contents(&log),
        vec![
            seen(2, "k", Some("3")),
            seen(3, "other", Some("x")),
            seen(4, "k", Some("4"))
        ]
    );
    for offset in [0, 1, 2] {
        let bytes = log.read(offset, 1, i64::MAX).unwrap();
        let header = batch::validate(&bytes).unwrap();
        assert_eq!(header.base_offset, 2, "read at {offset}");
    }
    // Kafka's own decoder takes the cleaned batches too.
    use kafka_protocol::records::RecordBatchDecoder;
    let mut buf = bytes::Bytes::from(log.read(0, usize::MAX, i64::MAX).unwrap());
    let decoded = RecordBatchDecoder::decode_all(&mut buf).unwrap();
    let offsets: Vec<i64> = decoded
        .iter()
        .flat_map(|set| set.records.iter().map(|r| r.offset))
        .collect();
    assert_eq!(offsets, vec![2, 3, 4]);
}

#[test]
fn tombstones_last_until_delete_retention_then_go() {
    let disk = mem();
    let mut log = open(&disk);
    put(&mut log, 1_000, &[("a", Some("1")), ("b", Some("1"))]);
    put(&mut log, 1_000, &[("a", None)]);
    log.roll_before_next_append();
    put(&mut log, 2_000, &[("c", Some("1"))]);
    log.clean(1_000 + DAY_MS, i64::MAX).unwrap();
    assert_eq!(
        contents(&log),
        vec![
            seen(1, "b", Some("1")),
            (2, Some(b"a".to_vec()), None),
            seen(3, "c", Some("1"))
        ],
        "a tombstone younger than delete.retention.ms stays"
    );
    let report = log.clean(1_001 + DAY_MS, i64::MAX).unwrap();
    assert_eq!(report.removed_records, 1);
    assert_eq!(
        contents(&log),
        vec![seen(1, "b", Some("1")), seen(3, "c", Some("1"))]
    );
    // The tombstone's batch ended the segment: it stays, empty, so offsets still meet.
    assert_eq!(log.segments()[0].next_offset, 3);
    assert_eq!(log.log_end_offset(), 4);
}

#[test]
fn the_active_segment_is_never_cleaned() {
    let disk = mem();
    let mut log = open(&disk);
    for value in ["1", "2", "3"] {
        put(&mut log, 10, &[("k", Some(value))]);
    }
    assert_eq!(
        log.clean(DAY_MS * 10, i64::MAX).unwrap(),
        CleanReport::default()
    );
    assert_eq!(contents(&log).len(), 3);
    assert_eq!(log.dirty_ratio_permille(0, i64::MAX), 0);
    assert!(!log.cleaning_due(0, i64::MAX));
}

#[test]
fn min_compaction_lag_holds_new_segments_back() {
    let disk = mem();
    let config = LogConfig {
        min_compaction_lag_ms: 1_000,
        ..compact_config()
    };
    let mut log = Log::open(disk.clone(), "t-0", config, 0).unwrap().0;
    put(&mut log, 500, &[("k", Some("1"))]);
    put(&mut log, 500, &[("k", Some("2"))]);
    log.roll_before_next_append();
    put(&mut log, 600, &[("x", Some("1"))]);
    assert!(!log.cleaning_due(1_000, i64::MAX));
    assert_eq!(log.clean(1_000, i64::MAX).unwrap().cleaned_segments, 0);
    assert!(log.cleaning_due(1_500, i64::MAX));
    assert_eq!(log.dirty_ratio_permille(1_500, i64::MAX), 1000);
    assert_eq!(log.clean(1_500, i64::MAX).unwrap().removed_records, 1);
    assert_eq!(
        log.dirty_ratio_permille(1_500, i64::MAX),
        0,
        "cleaned is clean"
    );
}

#[test]
fn nothing_reaching_the_high_watermark_is_cleaned() {
    let disk = mem();
    let mut log = open(&disk);
    put(&mut log, 10, &[("k", Some("1")), ("k", Some("2"))]);
    log.roll_before_next_append();
    put(&mut log, 10, &[("k", Some("3"))]);
    log.roll_before_next_append();
    put(&mut log, 10, &[("x", Some("1"))]);
    // A high watermark of 2: the second segment (offset 2) may still be truncated away, so
    // it supersedes nothing and is not cleaned.
    assert_eq!(log.dirty_ratio_permille(20, 2), 1000);
    log.clean(20, 2).unwrap();
    assert_eq!(
        contents(&log),
        vec![
            seen(1, "k", Some("2")),
            seen(2, "k", Some("3")),
            seen(3, "x", Some("1"))
        ]
    );
    log.clean(20, 3).unwrap();
    assert_eq!(
        contents(&log),
        vec![seen(2, "k", Some("3")), seen(3, "x", Some("1"))]
    );
}

#[test]
fn truncation_makes_the_log_dirty_again() {
    let disk = mem();
    let mut log = open(&disk);
    for value in ["1", "2", "3", "4"] {
        put(&mut log, 10, &[("k", Some(value))]);
        log.roll_before_next_append();
    }
    put(&mut log, 10, &[("x", Some("1"))]);
    log.clean(20, i64::MAX).unwrap();
    assert_eq!(log.dirty_ratio_permille(20, i64::MAX), 0);
    log.truncate_to(2).unwrap();
    put(&mut log, 10, &[("k", Some("5"))]);
    log.roll_before_next_append();
    put(&mut log, 10, &[("x", Some("2"))]);
    assert!(log.cleaning_due(20, i64::MAX));
    log.clean(20, i64::MAX).unwrap();
    assert_eq!(
        contents(&log),
        vec![seen(2, "k", Some("5")), seen(3, "x", Some("2"))]
    );
}

#[test]
fn a_log_that_is_not_compacted_is_not_cleaned() {
    let disk = mem();
    let config = LogConfig {
        retention_ms: None,
        ..LogConfig::default()
    };
    let mut log = Log::open(disk.clone(), "t-0", config, 0).unwrap().0;
    put(&mut log, 10, &[("k", Some("1"))]);
    put(&mut log, 10, &[("k", Some("2"))]);
    log.roll_before_next_append();
    put(&mut log, 10, &[("k", Some("3"))]);
    assert!(!log.cleaning_due(100, i64::MAX));
    assert_eq!(log.clean(100, i64::MAX).unwrap(), CleanReport::default());
    assert_eq!(contents(&log).len(), 3);
}

#[test]
fn keyless_records_are_refused_on_a_compacted_topic() {
    let disk = mem();
    let mut log = open(&disk);
    let keyless = encode_batch(
        0,
        0,
        0,
        &[TestRecord::keyed(b"k", Some(b"v")), TestRecord::value(b"v")],
    );
    assert!(matches!(
        log.append(&keyless, 0, 0),
        Err(StorageError::InvalidRecord(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
    let (mut plain, _) = Log::open(mem(), "t-0", LogConfig::default(), 0).unwrap();
    plain.append(&keyless, 0, 0).unwrap();
}

#[test]
fn a_cleaned_log_reopens_with_its_gaps() {
    let disk = mem();
    let mut log = open(&disk);
    for value in ["1", "2", "3"] {
        put(&mut log, 10, &[("k", Some(value)), ("j", Some(value))]);
    }
    put(&mut log, 10, &[("x", Some("1"))]);
    log.roll_before_next_append();
    put(&mut log, 20, &[("k", Some("4"))]);
    log.clean(30, i64::MAX).unwrap();
    let before = contents(&log);
    drop(log);
    let (log, report) = Log::open(disk.clone(), "t-0", compact_config(), 40).unwrap();
    assert_eq!(report.reason, None);
    assert_eq!(contents(&log), before);
    assert_eq!(log.log_end_offset(), 8);
}

#[test]
fn a_followers_log_takes_the_gaps_of_a_cleaned_leader() {
    let disk = mem();
    let mut leader = open(&disk);
    for value in ["1", "2"] {
        put(&mut leader, 10, &[("k", Some(value))]);
    }
    put(&mut leader, 10, &[("j", Some("1"))]);
    leader.roll_before_next_append();
    put(&mut leader, 20, &[("k", Some("3"))]);
    leader.clean(30, i64::MAX).unwrap();
    let (mut follower, _) = Log::open(mem(), "t-0", compact_config(), 0).unwrap();
    let bytes = leader.read(0, usize::MAX, i64::MAX).unwrap();
    follower.append_as_follower(&bytes, 40).unwrap();
    assert_eq!(contents(&follower), contents(&leader));
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    // Nor does a compacted log take a gap no segment could span.
    let mut far = encode_batch(0, 0, 10, &[TestRecord::keyed(b"k", Some(b"v"))]);
    batch::patch_base_offset(&mut far, follower.log_end_offset() + (1 << 40));
    assert!(matches!(
        follower.append_as_follower(&far, 40),
        Err(StorageError::InvalidRecord(_))
    ));
    // A log that is not compacted still refuses a gap.
    let (mut plain, _) = Log::open(mem(), "t-0", LogConfig::default(), 0).unwrap();
    assert!(plain.append_as_follower(&bytes, 40).is_err());
}

#[test]
fn a_producers_last_batch_is_kept_empty() {
    let disk = mem();
    let mut log = open(&disk);
    let keyed = |v: &[u8]| vec![TestRecord::keyed(b"k", Some(v))];
    log.append(
        &encode_batch_with_producer(0, 0, 10, &keyed(b"1"), 7, 0, 0),
        0,
        10,
    )
    .unwrap();
    put(&mut log, 10, &[("k", Some("2"))]);
    put(&mut log, 10, &[("x", Some("1"))]);
    log.roll_before_next_append();
    put(&mut log, 20, &[("y", Some("1"))]);
    log.clean(30, i64::MAX).unwrap();
    let bytes = log.read(0, usize::MAX, i64::MAX).unwrap();
    let headers: Vec<_> = batch::split(&bytes).unwrap();
    assert_eq!(headers[0].1.producer_id, 7);
    assert_eq!(headers[0].1.record_count, 0);
    assert_eq!(headers[0].1.last_offset(), 0);
    drop(log);
    let (log, _) = Log::open(disk.clone(), "t-0", compact_config(), 40).unwrap();
    assert!(log.producers().last_offset().is_some());
}

/// Write `bytes` as a file in the partition directory, durably enough for MemDisk.
fn plant(disk: &Arc<dyn Disk>, name: &str, bytes: &[u8]) {
    disk.write_file(&format!("t-0/{name}"), bytes).unwrap();
}

#[test]
fn open_deletes_a_cleaned_file_and_completes_a_swap() {
    let disk = mem();
    let mut log = open(&disk);
    put(&mut log, 10, &[("k", Some("1"))]);
    put(&mut log, 10, &[("k", Some("2"))]);
    log.roll_before_next_append();
    put(&mut log, 20, &[("x", Some("1"))]);
    let before = contents(&log);
    drop(log);
    let stem = segment::file_stem(0);
    plant(&disk, &format!("{stem}.log.cleaned"), b"half written");
    let log = open(&disk);
    assert_eq!(contents(&log), before, "a .cleaned file is rolled back");
    assert!(!disk.exists(&format!("t-0/{stem}.log.cleaned")));
    drop(log);
    // A swap file is complete by construction: it replaces its segment.
    let old = disk.read_all(&format!("t-0/{stem}.log")).unwrap();
    let mut map = cleaner::OffsetMap::default();
    map.add_segment(&old).unwrap();
    let cleaned = cleaner::clean_segment(&old, &map, false).unwrap();
    plant(&disk, &format!("{stem}.log.swap"), &cleaned.bytes);
    // The log writes its gap marker before any swap.
    plant(&disk, GAPS_FILE, b"");
    let log = open(&disk);
    assert_eq!(contents(&log), before[1..].to_vec());
    assert!(!disk.exists(&format!("t-0/{stem}.log.swap")));
    drop(log);
    // And with the old segment already removed.
    plant(&disk, &format!("{stem}.log.swap"), &old);
    disk.remove(&format!("t-0/{stem}.log")).unwrap();
    let log = open(&disk);
    assert_eq!(contents(&log), before);
}

#[test]
fn a_gap_is_corruption_in_a_log_never_cleaned() {
    // baseOffset lies outside the CRC: without the marker the cleaner writes before its first
    // swap, a batch past the previous one's end is a corrupt offset and recovery cuts there.
    let disk = mem();
    let mut log = open(&disk);
    for value in ["1", "2", "3"] {
        put(&mut log, 10, &[("k", Some(value))]);
    }
    log.roll_before_next_append();
    put(&mut log, 10, &[("x", Some("1"))]);
    log.clean(20, i64::MAX).unwrap();
    assert!(disk.exists(&format!("t-0/{GAPS_FILE}")));
    let before = contents(&log);
    drop(log);
    let (log, report) = Log::open(disk.clone(), "t-0", compact_config(), 0).unwrap();
    assert_eq!((contents(&log), report.reason), (before, None));
    drop(log);
    disk.remove(&format!("t-0/{GAPS_FILE}")).unwrap();
    let (log, report) = Log::open(disk.clone(), "t-0", compact_config(), 0).unwrap();
    assert!(report.reason.is_some(), "{report:?}");
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn malformed_records_are_an_error_not_a_panic() {
    let bytes = encode_batch(0, 0, 0, &[TestRecord::keyed(b"key", Some(b"value"))]);
    let header = batch::validate(&bytes).unwrap();
    for cut in 0..bytes.len() - batch::HEADER_LEN {
        let mut broken = bytes[..batch::HEADER_LEN + cut].to_vec();
        let length = (broken.len() - batch::LOG_OVERHEAD) as i32;
        broken[8..12].copy_from_slice(&length.to_be_bytes());
        let header = batch::BatchHeader {
            batch_length: length,
            ..header
        };
        assert!(cleaner::records(&broken, &header).is_err(), "cut {cut}");
    }
}

/// One step of the property test.
#[derive(Clone, Debug)]
enum Step {
    /// Append a batch of (key, value) records; `None` is a tombstone.
    Put(Vec<(u8, Option<u8>)>),
    /// Roll before the next append.
    Roll,
    /// Clean at the current time.
    Clean,
    /// Let time pass.
    Wait(i64),
}

fn step() -> impl Strategy<Value = Step> {
    let record = (0u8..6, proptest::option::weighted(0.8, any::<u8>()));
    prop_oneof![
        6 => proptest::collection::vec(record, 1..4).prop_map(Step::Put),
        2 => Just(Step::Roll),
        2 => Just(Step::Clean),
        1 => (0..2 * DAY_MS).prop_map(Step::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// After a final clean, the log holds exactly, per key, the latest record of the cleanable
    /// segments (its tombstone gone once past delete.retention.ms), plus every record of the
    /// active segment, each at its original offset; a reopen reads the same.
    #[test]
    fn cleaning_keeps_exactly_the_model_survivors(steps in proptest::collection::vec(step(), 1..40)) {
        let disk = mem();
        let mut log = open(&disk);
        let mut now_ms = 0;
        let mut written: Vec<(i64, u8, Option<u8>, i64)> = Vec::new();
        for step in &steps {
            match step {
                Step::Put(records) => {
                    let encoded: Vec<TestRecord> = records
                        .iter()
                        .map(|(k, v)| TestRecord::keyed(&[*k], v.map(|v| vec![v]).as_deref()))
                        .collect();
                    let info = log.append(&encode_batch(0, 0, now_ms, &encoded), 0, now_ms).unwrap();
                    for (i, (k, v)) in records.iter().enumerate() {
                        written.push((info.base_offset + i as i64, *k, *v, now_ms));
                    }
                }
                Step::Roll => log.roll_before_next_append(),
                Step::Clean => { log.clean(now_ms, i64::MAX).unwrap(); }
                Step::Wait(ms) => now_ms += ms,
            }
        }
        // Clean twice: the second pass may drop tombstones the first found young; the model
        // is that of a log cleaned at `now_ms` until nothing changes.
        log.clean(now_ms, i64::MAX).unwrap();
        log.clean(now_ms, i64::MAX).unwrap();
        let active_base = log.segments().last().unwrap().base_offset;
        let segment_max_timestamp = |offset: i64| {
            log.segments().iter().find(|s| s.base_offset <= offset && offset < s.next_offset).unwrap().max_timestamp
        };
        let mut latest: BTreeMap<u8, (i64, Option<u8>)> = BTreeMap::new();
        for (offset, k, v, _) in written.iter().filter(|w| w.0 < active_base) {
            latest.insert(*k, (*offset, *v));
        }
        let mut expected: Vec<Seen> = latest
            .iter()
            .filter(|(_, (offset, v))| v.is_some() || segment_max_timestamp(*offset) >= now_ms - DAY_MS)
            .map(|(k, (offset, v))| (*offset, Some(vec![*k]), v.map(|v| vec![v])))
            .collect();
        expected.sort();
        expected.extend(written.iter().filter(|w| w.0 >= active_base).map(|(o, k, v, _)| (*o, Some(vec![*k]), v.map(|v| vec![v]))));
        prop_assert_eq!(contents(&log), expected.clone());
        let end = log.log_end_offset();
        prop_assert_eq!(end, written.len() as i64);
        drop(log);
        let reopened = Log::open(disk.clone(), "t-0", compact_config(), now_ms).unwrap().0;
        prop_assert_eq!(contents(&reopened), expected);
        prop_assert_eq!(reopened.log_end_offset(), end);
    }
}
