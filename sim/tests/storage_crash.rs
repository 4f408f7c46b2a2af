//! Crash property of the storage layer on SimDisk: any sequence of appends, rolls, kills,
//! power losses, flushes, truncations and ENOSPC episodes leaves a log whose batches are a
//! prefix of what was appended (byte for byte), that holds every batch an fsync covered (with
//! `flush.messages=1`, every acknowledged append), and that answers every offset lookup.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kafkasim::env::Disk;
use kafkasim::storage::batch;
use kafkasim::storage::testing::{encode_batch, TestRecord};
use kafkasim::storage::{Log, LogConfig, StorageError};
use kafkasim_sim::cluster::disk::SimDisk;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Debug)]
enum Op {
    /// Produce batches of these record counts in one request.
    Append(Vec<usize>),
    /// Let simulated time pass (drives writeback of old dirty sectors).
    Sleep(u64),
    /// Explicit fsync of everything.
    Flush,
    /// Cut the log at this fraction of its length.
    Truncate(f64),
    /// The process dies and restarts: the page cache survives.
    Kill,
    /// The machine loses power, keeping each dirty sector with this probability, then restarts.
    PowerLoss(f64),
    /// One append while the disk is full.
    Enospc,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop::collection::vec(1usize..6, 1..3).prop_map(Op::Append),
        1 => (1u64..40_000).prop_map(Op::Sleep),
        1 => Just(Op::Flush),
        1 => (0.0f64..1.0).prop_map(Op::Truncate),
        1 => Just(Op::Kill),
        2 => prop_oneof![Just(0.0), Just(1.0), 0.0f64..1.0].prop_map(Op::PowerLoss),
        1 => Just(Op::Enospc),
    ]
}

/// What the test expects the log to hold.
struct Model {
    /// Every batch acknowledged and not truncated, as the log must store it.
    batches: Vec<Vec<u8>>,
    /// How many leading batches an fsync covered: they must survive a power loss.
    durable: usize,
    /// Distinguishes record values across the run.
    tag: u8,
}

impl Model {
    fn next_offset(&self) -> i64 {
        self.batches
            .last()
            .map(|b| batch::validate(b).unwrap().next_offset())
            .unwrap_or(0)
    }
}

fn records(count: usize, tag: u8) -> Vec<TestRecord> {
    (0..count)
        .map(|i| TestRecord::value(&[tag, i as u8, 0xab, 0xcd, 0xef]))
        .collect()
}

/// Every batch in the log, start to end.
fn read_everything(log: &Log) -> Vec<Vec<u8>> {
    let bytes = log
        .read(log.log_start_offset(), usize::MAX, i64::MAX)
        .unwrap();
    batch::split(&bytes)
        .unwrap()
        .into_iter()
        .map(|(at, h)| bytes[at..at + h.size()].to_vec())
        .collect()
}

/// Every timestamp lookup finds the first model batch whose max timestamp reaches it.
fn check_timestamp_lookups(log: &Log, model: &Model) {
    let headers: Vec<_> = model
        .batches
        .iter()
        .map(|b| batch::validate(b).unwrap())
        .collect();
    for probe in headers
        .iter()
        .flat_map(|h| [h.max_timestamp, h.max_timestamp + 1])
    {
        let expected = headers
            .iter()
            .find(|h| h.max_timestamp >= probe)
            .map(|h| (h.base_offset, h.max_timestamp));
        assert_eq!(
            log.offset_for_timestamp(probe),
            expected,
            "timestamp {probe}"
        );
    }
}

/// Every offset in [log start, log end) reads back as the model batch containing it, and
/// every timestamp lookup answers as the model does.
fn check_lookups(log: &Log, model: &Model) {
    check_timestamp_lookups(log, model);
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.log_end_offset(), model.next_offset());
    for expected in &model.batches {
        let header = batch::validate(expected).unwrap();
        for offset in header.base_offset..header.next_offset() {
            assert_eq!(
                &log.read(offset, 1, i64::MAX).unwrap(),
                expected,
                "offset {offset}"
            );
        }
    }
}

/// After a restart: the log holds a prefix of the model at least as long as what was durable.
fn check_recovered(log: &Log, model: &mut Model, lossless: bool) {
    let found = read_everything(log);
    assert!(
        found.len() <= model.batches.len(),
        "recovered more batches than were appended"
    );
    for (i, batch) in found.iter().enumerate() {
        assert_eq!(
            batch, &model.batches[i],
            "batch {i} differs from what was appended"
        );
    }
    assert!(
        found.len() >= model.durable,
        "lost fsynced batches: {} < {}",
        found.len(),
        model.durable
    );
    if lossless {
        assert_eq!(found.len(), model.batches.len(), "a kill must lose nothing");
    }
    model.batches.truncate(found.len());
    if !lossless {
        // A power loss leaves only what is on the platter, so all of it is durable now; a
        // kill leaves the page cache as it was, durable or not.
        model.durable = found.len();
    }
}

fn run(ops: Vec<Op>, flush_every_message: bool, segment_bytes: u64, seed: u64) {
    let time = Arc::new(AtomicU64::new(0));
    let clock = time.clone();
    let sim = Arc::new(SimDisk::new(move || clock.load(Ordering::SeqCst)));
    let disk: Arc<dyn Disk> = sim.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let config = LogConfig {
        segment_bytes,
        index_interval_bytes: 128,
        flush_messages: flush_every_message.then_some(1),
        retention_ms: None,
        ..LogConfig::default()
    };
    let now = |time: &AtomicU64| time.load(Ordering::SeqCst) as i64;
    let (mut log, _) = Log::open(disk.clone(), "t-0", config.clone(), 0).unwrap();
    let mut model = Model {
        batches: Vec::new(),
        durable: 0,
        tag: 0,
    };
    for op in ops {
        match op {
            Op::Append(counts) => {
                let mut request = Vec::new();
                let mut expected = Vec::new();
                let mut next = model.next_offset();
                for count in counts {
                    model.tag = model.tag.wrapping_add(1);
                    let records = records(count, model.tag);
                    request.extend(encode_batch(0, 0, now(&time), &records));
                    expected.push(encode_batch(next, 1, now(&time), &records));
                    next += count as i64;
                }
                let info = log.append(&request, 1, now(&time)).unwrap();
                assert_eq!(info.last_offset + 1, next);
                model.batches.extend(expected);
                if flush_every_message {
                    model.durable = model.batches.len();
                }
            }
            Op::Sleep(ms) => {
                time.fetch_add(ms, Ordering::SeqCst);
            }
            Op::Flush => {
                log.flush().unwrap();
                model.durable = model.batches.len();
            }
            Op::Truncate(fraction) => {
                let target = (model.next_offset() as f64 * fraction) as i64;
                log.truncate_to(target).unwrap();
                // Kafka's rule: the batch containing the target goes too.
                model
                    .batches
                    .retain(|b| batch::validate(b).unwrap().next_offset() <= target);
                model.durable = model.batches.len();
            }
            Op::Kill => {
                drop(log);
                let (reopened, report) =
                    Log::open(disk.clone(), "t-0", config.clone(), now(&time)).unwrap();
                assert_eq!(
                    report.truncated_bytes, 0,
                    "a kill leaves nothing to repair: {report:?}"
                );
                log = reopened;
                check_recovered(&log, &mut model, true);
            }
            Op::PowerLoss(keep_probability) => {
                drop(log);
                sim.power_loss(&mut rng, keep_probability, time.load(Ordering::SeqCst));
                let (reopened, _) =
                    Log::open(disk.clone(), "t-0", config.clone(), now(&time)).unwrap();
                log = reopened;
                check_recovered(&log, &mut model, false);
            }
            Op::Enospc => {
                sim.set_enospc(true);
                let request = encode_batch(0, 0, now(&time), &records(1, 0));
                let error = log.append(&request, 1, now(&time)).unwrap_err();
                assert!(
                    matches!(&error, StorageError::Io(e) if e.kind() == io::ErrorKind::StorageFull),
                    "{error}"
                );
                sim.set_enospc(false);
            }
        }
        check_lookups(&log, &model);
    }
}

proptest! {
    // PROPTEST_CASES raises the count for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200),
        ..ProptestConfig::default()
    })]

    #[test]
    fn crashes_leave_a_durable_prefix(
        ops in prop::collection::vec(op(), 1..60),
        flush_every_message in any::<bool>(),
        segment_bytes in prop_oneof![Just(300u64), Just(1_000), Just(1 << 20)],
        seed in any::<u64>(),
    ) {
        run(ops, flush_every_message, segment_bytes, seed);
    }
}

#[test]
fn default_flush_policy_can_lose_acknowledged_appends() {
    // The counterpart of the property: without flush.messages, an acknowledged append that no
    // fsync covered is gone after a power loss that keeps no dirty sector.
    let sim = Arc::new(SimDisk::new(|| 0));
    let disk: Arc<dyn Disk> = sim.clone();
    let (mut log, _) = Log::open(disk.clone(), "t-0", LogConfig::default(), 0).unwrap();
    log.append(&encode_batch(0, 0, 0, &records(3, 1)), 0, 0)
        .unwrap();
    log.flush().unwrap();
    log.append(&encode_batch(0, 0, 0, &records(3, 2)), 0, 0)
        .unwrap();
    drop(log);
    sim.power_loss(&mut ChaCha8Rng::seed_from_u64(1), 0.0, 0);
    let (log, report) = Log::open(disk, "t-0", LogConfig::default(), 0).unwrap();
    assert_eq!(log.log_end_offset(), 3, "{report:?}");
    assert!(sim.stats().bytes_discarded > 0);
}

#[test]
fn a_topic_id_survives_power_loss_once_written() {
    // partition.metadata is written before a topic creation is answered (KIP-516): a power
    // loss that keeps no dirty sector, right after, must still leave the id — in a partition
    // directory that was itself new, and with nothing else ever fsynced.
    use kafkasim::server::topic_ids;
    let sim = Arc::new(SimDisk::new(|| 0));
    sim.create_dir_all("t-0").unwrap();
    topic_ids::write(&*sim, "t-0", 0x1234).unwrap();
    // The counterpart: a file written the same way but never fsynced is lost.
    sim.create_dir_all("u-0").unwrap();
    sim.write_file("u-0/partition.metadata", b"version: 0\n")
        .unwrap();
    sim.power_loss(&mut ChaCha8Rng::seed_from_u64(1), 0.0, 0);
    assert_eq!(topic_ids::read(&*sim, "t-0"), Some(0x1234));
    assert!(!sim.exists("u-0/partition.metadata"));
}

#[test]
fn bit_flip_is_caught_on_read_and_by_recovery() {
    let sim = Arc::new(SimDisk::new(|| 0));
    let disk: Arc<dyn Disk> = sim.clone();
    let config = LogConfig {
        segment_bytes: 600,
        ..LogConfig::default()
    };
    let (mut log, _) = Log::open(disk.clone(), "t-0", config.clone(), 0).unwrap();
    let mut appended = Vec::new();
    for tag in 0..20 {
        let info = log
            .append(&encode_batch(0, 0, 0, &records(2, tag)), 0, 0)
            .unwrap();
        appended.push(encode_batch(info.base_offset, 0, 0, &records(2, tag)));
    }
    log.flush().unwrap();
    sim.flip_bits(&mut ChaCha8Rng::seed_from_u64(3), 1);
    // The CRC check after the read stops it at the flipped batch: the good batches before it
    // are served, the flipped one never, and a read that starts at it fails.
    let served = match log.read(0, usize::MAX, i64::MAX) {
        Ok(bytes) => bytes,
        Err(StorageError::Corrupt(_)) => Vec::new(),
        Err(other) => panic!("unexpected {other:?}"),
    };
    let good = (0..=appended.len())
        .find(|&k| appended[..k].concat() == served)
        .expect("what is served is a prefix of what was appended");
    assert!(good < appended.len(), "the flipped batch was served");
    let at_flip = log.read(2 * good as i64, usize::MAX, i64::MAX);
    assert!(
        matches!(at_flip, Err(StorageError::Corrupt(_))),
        "{at_flip:?}"
    );
    drop(log);
    let (log, report) = Log::open(disk, "t-0", config, 0).unwrap();
    assert!(report.reason.is_some(), "{report:?}");
    let found = read_everything(&log);
    assert!(found.len() < appended.len());
    assert_eq!(&found[..], &appended[..found.len()]);
}

#[test]
fn fsync_error_takes_the_log_offline() {
    let sim = Arc::new(SimDisk::new(|| 0));
    let disk: Arc<dyn Disk> = sim.clone();
    let config = LogConfig {
        flush_messages: Some(1),
        ..LogConfig::default()
    };
    let (mut log, _) = Log::open(disk.clone(), "t-0", config.clone(), 0).unwrap();
    log.append(&encode_batch(0, 0, 0, &records(1, 1)), 0, 0)
        .unwrap();
    sim.fail_next_fsync();
    let error = log
        .append(&encode_batch(0, 0, 0, &records(1, 2)), 0, 0)
        .unwrap_err();
    assert!(matches!(error, StorageError::Offline));
    assert!(matches!(
        log.read(0, 100, i64::MAX),
        Err(StorageError::Offline)
    ));
    assert_eq!(sim.stats().fsync_errors, 1);
    drop(log);
    // A restarted process finds the page cache, including the unacknowledged append.
    let (log, _) = Log::open(disk, "t-0", config, 0).unwrap();
    assert_eq!(log.log_end_offset(), 2);
}

/// SimDisk whose mutating calls fail once `budget` of them ran: the process died there, in
/// the middle of whatever it was doing. Reads still answer.
struct DiesAfter {
    inner: Arc<SimDisk>,
    budget: AtomicU64,
}

impl DiesAfter {
    fn spend(&self) -> io::Result<()> {
        let left = self.budget.load(Ordering::SeqCst);
        if left == 0 {
            return Err(io::Error::other("the process died here"));
        }
        self.budget.store(left - 1, Ordering::SeqCst);
        Ok(())
    }
}

impl Disk for DiesAfter {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        self.spend()?;
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
        self.spend()?;
        self.inner.append(path, data)
    }
    fn write_file(&self, path: &str, data: &[u8]) -> io::Result<()> {
        self.spend()?;
        self.inner.write_file(path, data)
    }
    fn truncate(&self, path: &str, len: u64) -> io::Result<()> {
        self.spend()?;
        self.inner.truncate(path, len)
    }
    fn remove(&self, path: &str) -> io::Result<()> {
        self.spend()?;
        self.inner.remove(path)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.spend()?;
        self.inner.rename(from, to)
    }
    fn fsync(&self, path: &str) -> io::Result<()> {
        self.spend()?;
        self.inner.fsync(path)
    }
    fn fsync_dir(&self, dir: &str) -> io::Result<()> {
        self.spend()?;
        self.inner.fsync_dir(dir)
    }
}

/// One record as a reader sees it: (offset, key, value).
type Seen = (i64, Vec<u8>, Option<Vec<u8>>);

const DAY_MS: i64 = 86_400_000;

fn compact_config() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 64,
        retention_ms: None,
        cleanup_compact: true,
        cleanup_delete: false,
        ..LogConfig::default()
    }
}

/// Every record in the log, decoded.
fn read_records(log: &Log) -> Vec<Seen> {
    let bytes = log
        .read(log.log_start_offset(), usize::MAX, i64::MAX)
        .unwrap();
    let mut out = Vec::new();
    for (at, header) in batch::split(&bytes).unwrap() {
        let one = &bytes[at..at + header.size()];
        for record in kafkasim::storage::cleaner::records(one, &header).unwrap() {
            let value = record.value.clone().map(|range| one[range].to_vec());
            out.push((record.offset, record.key.unwrap(), value));
        }
    }
    out
}

/// Build, on `disk`, a compacted log of keyed records and tombstones over several segments,
/// all durable; returns it with every record written.
fn build_compacted(disk: &Arc<dyn Disk>, seed: u64) -> (Log, Vec<Seen>) {
    use rand::Rng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut log, _) = Log::open(disk.clone(), "t-0", compact_config(), 0).unwrap();
    let mut written = Vec::new();
    for round in 0..30u8 {
        let records: Vec<TestRecord> = (0..rng.gen_range(1..4))
            .map(|i| {
                let key = vec![rng.gen_range(0..5u8)];
                let value = (!rng.gen_bool(0.2)).then(|| vec![round, i]);
                TestRecord::keyed(&key, value.as_deref())
            })
            .collect();
        let info = log.append(&encode_batch(0, 0, 0, &records), 0, 0).unwrap();
        for (i, record) in records.into_iter().enumerate() {
            let key = record.key.unwrap();
            written.push((info.base_offset + i as i64, key, record.value));
        }
    }
    log.flush().unwrap();
    assert!(log.segments().len() > 2, "several segments to clean");
    (log, written)
}

/// The records of `all` in `[base, next)` of each segment.
fn by_segment(all: &[Seen], segments: &[(i64, i64)]) -> Vec<Vec<Seen>> {
    segments
        .iter()
        .map(|(base, next)| {
            all.iter()
                .filter(|r| (*base..*next).contains(&r.0))
                .cloned()
                .collect()
        })
        .collect()
}

/// Reopen the log on `sim` and clean it, the process dying after `steps` mutating disk calls
/// of the clean. Returns whether the clean finished first.
fn clean_dying_after(sim: &Arc<SimDisk>, steps: u64) -> bool {
    let dying = Arc::new(DiesAfter {
        inner: sim.clone(),
        budget: AtomicU64::new(u64::MAX),
    });
    let disk: Arc<dyn Disk> = dying.clone();
    let (mut log, _) = Log::open(disk, "t-0", compact_config(), 0).unwrap();
    dying.budget.store(steps, Ordering::SeqCst);
    log.clean(DAY_MS + 1, i64::MAX).is_ok()
}

/// A crash at every step of the swap protocol (each mutating disk call of a clean, then a
/// kill, or a power loss keeping none, half or all of the dirty sectors): after reopening, each
/// segment reads as its old or its cleaned self, no offset repeats, every record is one that
/// was written at that offset, the latest value of every key is there, and a tombstone that
/// is gone took the older values of its key with it.
#[test]
fn a_crash_at_any_step_of_cleaning_loses_nothing() {
    for seed in 0..4u64 {
        // The reference: the same log cleaned without a fault.
        let reference: Arc<dyn Disk> = Arc::new(SimDisk::new(|| 0));
        let (mut log, written) = build_compacted(&reference, seed);
        let segments: Vec<(i64, i64)> = log
            .segments()
            .iter()
            .map(|s| (s.base_offset, s.next_offset))
            .collect();
        let old = by_segment(&read_records(&log), &segments);
        let report = log.clean(DAY_MS + 1, i64::MAX).unwrap();
        assert!(report.removed_records > 0, "seed {seed}: {report:?}");
        let cleaned = by_segment(&read_records(&log), &segments);
        let mut latest: std::collections::BTreeMap<Vec<u8>, Seen> = Default::default();
        for record in written.iter().filter(|r| r.0 < segments.last().unwrap().0) {
            latest.insert(record.1.clone(), record.clone());
        }
        let mut steps = 0;
        loop {
            // None: the process is killed (the page cache survives); else a power loss
            // keeping that share of the dirty sectors.
            for keep_probability in [None, Some(0.0), Some(0.5), Some(1.0)] {
                let sim = Arc::new(SimDisk::new(|| 0));
                let plain: Arc<dyn Disk> = sim.clone();
                let (log, _) = build_compacted(&plain, seed);
                drop(log);
                let finished = clean_dying_after(&sim, steps);
                let mut rng = ChaCha8Rng::seed_from_u64(seed * 1000 + steps);
                if let Some(keep_probability) = keep_probability {
                    sim.power_loss(&mut rng, keep_probability, 0);
                }
                let (log, _) = Log::open(plain, "t-0", compact_config(), 0).unwrap();
                let found = read_records(&log);
                let context =
                    format!("seed {seed}, crash after {steps} disk calls, power loss keeping {keep_probability:?}");
                assert!(
                    found.windows(2).all(|w| w[0].0 < w[1].0),
                    "{context}: offsets repeat"
                );
                for record in &found {
                    assert_eq!(&written[record.0 as usize], record, "{context}");
                }
                for (i, segment) in by_segment(&found, &segments).iter().enumerate() {
                    assert!(
                        segment == &old[i] || segment == &cleaned[i],
                        "{context}: segment {i} is neither its old nor its cleaned self"
                    );
                }
                for (key, last) in &latest {
                    let visible: Vec<&Seen> = found.iter().filter(|r| &r.1 == key).collect();
                    if last.2.is_some() {
                        assert!(
                            visible.contains(&last),
                            "{context}: lost the latest {last:?}"
                        );
                    } else if !visible.contains(&last) {
                        // A removed tombstone takes every older value with it.
                        assert!(
                            visible.iter().all(|r| r.0 > last.0),
                            "{context}: an old value of {key:?} came back"
                        );
                    }
                }
                assert_eq!(log.log_end_offset(), written.len() as i64, "{context}");
                if finished {
                    assert_eq!(by_segment(&found, &segments), cleaned, "{context}");
                }
            }
            let sim = Arc::new(SimDisk::new(|| 0));
            let plain: Arc<dyn Disk> = sim.clone();
            drop(build_compacted(&plain, seed));
            if clean_dying_after(&sim, steps) {
                break;
            }
            steps += 1;
        }
        assert!(steps > 5, "seed {seed}: the clean took {steps} disk calls");
    }
}
