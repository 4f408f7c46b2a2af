//! The log's idempotent-producer behaviour on [`MemDisk`]: a retried batch is answered with
//! its original offsets and not stored twice, gaps and old epochs are refused, and the
//! producer state follows truncation and survives a reopen.

use std::sync::Arc;

use super::batch;
use super::testing::{encode_batch_with_producer, TestRecord};
use super::*;
use crate::env::{Disk, MemDisk};
use crate::txn::ProducerError;

fn producer_batch(producer_id: i64, epoch: i16, sequence: i32, count: usize) -> Vec<u8> {
    let records: Vec<TestRecord> = (0..count)
        .map(|i| TestRecord::value(format!("{producer_id}-{sequence}-{i}").as_bytes()))
        .collect();
    encode_batch_with_producer(0, 0, 0, &records, producer_id, epoch, sequence)
}

fn open(disk: &Arc<dyn Disk>) -> Log {
    let config = LogConfig {
        segment_bytes: 300,
        retention_ms: None,
        ..LogConfig::default()
    };
    Log::open(disk.clone(), "t-0", config, 0).unwrap().0
}

fn batch_count(log: &Log) -> usize {
    let bytes = log
        .read(log.log_start_offset(), usize::MAX, i64::MAX)
        .unwrap();
    batch::split(&bytes).unwrap().len()
}

#[test]
fn a_retried_batch_gets_its_original_offsets_and_is_stored_once() {
    let disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
    let mut log = open(&disk);
    let first = log.append(&producer_batch(3, 0, 0, 2), 0, 0).unwrap();
    let second = log.append(&producer_batch(3, 0, 2, 3), 0, 0).unwrap();
    assert_eq!((second.base_offset, second.last_offset), (2, 4));
    let retry = log.append(&producer_batch(3, 0, 0, 2), 0, 0).unwrap();
    assert!(retry.duplicate);
    assert_eq!(
        (retry.base_offset, retry.last_offset),
        (first.base_offset, first.last_offset)
    );
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(batch_count(&log), 2);
}

#[test]
fn a_gap_and_an_old_epoch_are_refused_before_the_append() {
    let disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
    let mut log = open(&disk);
    log.append(&producer_batch(3, 1, 0, 2), 0, 0).unwrap();
    assert!(matches!(
        log.append(&producer_batch(3, 1, 5, 1), 0, 0),
        Err(StorageError::Producer(ProducerError::OutOfOrder {
            expected: 2,
            got: 5
        }))
    ));
    assert!(matches!(
        log.append(&producer_batch(3, 0, 2, 1), 0, 0),
        Err(StorageError::Producer(ProducerError::InvalidEpoch {
            batch: 0,
            current: 1
        }))
    ));
    assert!(matches!(
        log.append(&producer_batch(3, 1, -1, 1), 0, 0),
        Err(StorageError::InvalidRecord(_))
    ));
    assert_eq!(log.log_end_offset(), 2);
    // A new epoch starting at 0 is accepted.
    log.append(&producer_batch(3, 2, 0, 1), 0, 0).unwrap();
    assert_eq!(log.log_end_offset(), 3);
}

#[test]
fn truncation_rebuilds_the_state_so_a_truncated_batch_is_no_duplicate() {
    let disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
    let mut log = open(&disk);
    for sequence in 0..8 {
        log.append(&producer_batch(4, 0, sequence, 1), 0, 0)
            .unwrap();
    }
    log.truncate_to(6).unwrap();
    assert_eq!(log.log_end_offset(), 6);
    // Sequence 6 was truncated: sending it again appends it rather than answering offset 6.
    let again = log.append(&producer_batch(4, 0, 6, 1), 0, 0).unwrap();
    assert!(!again.duplicate);
    assert_eq!(again.base_offset, 6);
    // Sequence 5, still in the log, is a duplicate with its offset.
    let retry = log.append(&producer_batch(4, 0, 5, 1), 0, 0).unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.base_offset, 5);
}

#[test]
fn the_state_survives_a_reopen_and_follows_replicated_batches() {
    let disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
    let mut leader = open(&disk);
    leader.append(&producer_batch(5, 0, 0, 2), 0, 0).unwrap();
    leader.append(&producer_batch(5, 0, 2, 2), 0, 0).unwrap();
    // A follower on its own disk replicates the leader's batches.
    let follower_disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
    let mut follower = open(&follower_disk);
    let bytes = leader.read(0, usize::MAX, i64::MAX).unwrap();
    follower.append_as_follower(&bytes, 0).unwrap();
    assert_eq!(follower.producers(), leader.producers());
    // The follower, now leader, dedupes the retry.
    let retry = follower.append(&producer_batch(5, 0, 2, 2), 1, 0).unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.base_offset, 2);
    drop(leader);
    let mut reopened = open(&disk);
    assert_eq!(reopened.producers().entry(5).unwrap().batches.len(), 2);
    let retry = reopened.append(&producer_batch(5, 0, 0, 2), 0, 0).unwrap();
    assert!(retry.duplicate);
    assert_eq!(reopened.log_end_offset(), 4);
}

#[test]
fn a_new_epoch_survives_a_reopen() {
    let disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
    let mut log = open(&disk);
    log.append(&producer_batch(5, 0, 0, 3), 0, 0).unwrap();
    log.append(&producer_batch(5, 0, 3, 2), 0, 0).unwrap();
    log.append(&producer_batch(5, 1, 0, 1), 0, 0).unwrap();
    drop(log);
    let mut log = open(&disk);
    let retry = log.append(&producer_batch(5, 1, 0, 1), 0, 0).unwrap();
    assert!(retry.duplicate, "{:?}", log.producers());
}
