use super::*;

/// A producer batch header of `records` records at `base_offset` (as the log stores it).
fn batch(
    producer_id: i64,
    epoch: i16,
    base_sequence: i32,
    records: i32,
    base_offset: i64,
) -> BatchHeader {
    BatchHeader {
        base_offset,
        batch_length: 49,
        partition_leader_epoch: 0,
        magic: 2,
        crc: 0,
        attributes: 0,
        last_offset_delta: records - 1,
        base_timestamp: 0,
        max_timestamp: 0,
        producer_id,
        producer_epoch: epoch,
        base_sequence,
        record_count: records,
    }
}

/// A state holding producer 7, epoch 0, with batches of sequences 0..3 at 0..3 and 3..5 at 10..12.
fn state() -> ProducerState {
    let mut state = ProducerState::new();
    state.apply(&batch(7, 0, 0, 3, 0));
    state.apply(&batch(7, 0, 3, 2, 10));
    state
}

#[test]
fn a_retried_batch_is_a_duplicate_with_its_original_offsets() {
    let state = state();
    let verdict = state.check_client_batch(&batch(7, 0, 0, 3, -1)).unwrap();
    assert_eq!(
        verdict,
        ClientBatch::Duplicate(BatchMetadata {
            first_sequence: 0,
            last_sequence: 2,
            first_offset: 0,
            last_offset: 2
        })
    );
    let verdict = state.check_client_batch(&batch(7, 0, 3, 2, -1)).unwrap();
    assert!(matches!(verdict, ClientBatch::Duplicate(m) if m.first_offset == 10));
}

#[test]
fn the_next_sequence_appends_and_a_gap_is_out_of_order() {
    let state = state();
    assert_eq!(
        state.check_client_batch(&batch(7, 0, 5, 1, -1)),
        Ok(ClientBatch::Append)
    );
    assert_eq!(
        state.check_client_batch(&batch(7, 0, 6, 1, -1)),
        Err(ProducerError::OutOfOrder {
            expected: 5,
            got: 6
        })
    );
    // Same first sequence as a cached batch but another length: not a duplicate.
    assert_eq!(
        state.check_client_batch(&batch(7, 0, 0, 2, -1)),
        Err(ProducerError::OutOfOrder {
            expected: 5,
            got: 0
        })
    );
}

#[test]
fn an_older_epoch_is_refused_and_a_new_epoch_starts_at_zero() {
    let mut state = state();
    state.apply(&batch(7, 2, 0, 1, 20));
    assert_eq!(
        state.check_client_batch(&batch(7, 1, 1, 1, -1)),
        Err(ProducerError::InvalidEpoch {
            batch: 1,
            current: 2
        })
    );
    assert_eq!(
        state.check_client_batch(&batch(7, 3, 1, 1, -1)),
        Err(ProducerError::OutOfOrder {
            expected: 0,
            got: 1
        })
    );
    assert_eq!(
        state.check_client_batch(&batch(7, 3, 0, 1, -1)),
        Ok(ClientBatch::Append)
    );
    // The new epoch replaced the old epoch's batches.
    let entry = state.entry(7).unwrap();
    assert_eq!(entry.epoch, 2);
    assert_eq!(entry.batches.len(), 1);
}

#[test]
fn an_unknown_producer_is_accepted_at_any_sequence() {
    let state = state();
    assert_eq!(
        state.check_client_batch(&batch(8, 0, 42, 1, -1)),
        Ok(ClientBatch::Append)
    );
}

#[test]
fn only_the_last_five_batches_are_remembered() {
    let mut state = ProducerState::new();
    for i in 0..7 {
        state.apply(&batch(1, 0, i, 1, i as i64));
    }
    assert_eq!(state.entry(1).unwrap().batches.len(), BATCHES_RETAINED);
    assert!(matches!(
        state.check_client_batch(&batch(1, 0, 2, 1, -1)),
        Ok(ClientBatch::Duplicate(_))
    ));
    // Evicted: a retry this old is out of order, not a duplicate.
    assert_eq!(
        state.check_client_batch(&batch(1, 0, 1, 1, -1)),
        Err(ProducerError::OutOfOrder {
            expected: 7,
            got: 1
        })
    );
}

#[test]
fn sequences_wrap_at_i32_max() {
    assert_eq!(increment_sequence(i32::MAX, 1), 0);
    assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    assert_eq!(increment_sequence(5, 3), 8);
    let mut state = ProducerState::new();
    state.apply(&batch(1, 0, i32::MAX - 1, 2, 0));
    assert_eq!(state.entry(1).unwrap().batches[0].last_sequence, i32::MAX);
    assert_eq!(
        state.check_client_batch(&batch(1, 0, 0, 1, -1)),
        Ok(ClientBatch::Append)
    );
    state.apply(&batch(1, 0, i32::MAX, 3, 5));
    assert_eq!(state.entry(1).unwrap().batches[1].last_sequence, 1);
    assert_eq!(
        state.check_client_batch(&batch(1, 0, 2, 1, -1)),
        Ok(ClientBatch::Append)
    );
}

#[test]
fn producers_whose_batches_are_all_below_the_log_start_are_forgotten() {
    let mut state = state();
    state.apply(&batch(9, 0, 0, 1, 20));
    state.remove_below(13);
    assert!(state.entry(7).is_none());
    assert!(state.entry(9).is_some());
    assert_eq!(state.last_offset(), Some(20));
}
