//! The online checkers' own copy of every replica's log, built only from observed
//! `ReplicaEvent`s: batches as (base offset, last offset, leader epoch, CRC), plus the log
//! start offset, high watermark and log end offset. It applies Kafka's bookkeeping rules
//! (truncation lowers the HW to the new LEO, a log start above the HW lifts the HW) so that it
//! predicts what a correct replica holds; the checkers compare that prediction with the events.

use std::collections::BTreeMap;

/// One record batch as a replica holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Offset of the batch's first record.
    pub base_offset: i64,
    /// Offset of the batch's last record (inclusive).
    pub last_offset: i64,
    /// The leader epoch the batch was written in; two batches at one offset with different
    /// epochs are different writes.
    pub leader_epoch: i32,
    /// The batch CRC, standing for its contents.
    pub batch_crc: u32,
}

impl Batch {
    pub fn contains(&self, offset: i64) -> bool {
        self.base_offset <= offset && offset <= self.last_offset
    }

    /// What tells two batches apart: offsets, epoch and CRC.
    pub fn identity(&self) -> (i64, i64, i32, u32) {
        (
            self.base_offset,
            self.last_offset,
            self.leader_epoch,
            self.batch_crc,
        )
    }
}

/// The batches of `map` (keyed by base offset) that overlap `first..=last`, in offset order.
/// O(log n + k) for k overlapping batches.
pub fn overlapping<T>(
    map: &BTreeMap<i64, T>,
    first: i64,
    last: i64,
    last_of: impl Fn(&T) -> i64,
) -> impl Iterator<Item = (&i64, &T)> {
    let start = match map.range(..=first).next_back() {
        Some((&base, value)) if last_of(value) >= first => base,
        _ => first,
    };
    map.range(start..=last.max(start))
        .filter(move |(&base, _)| base <= last)
}

/// One replica of one partition, as the model predicts it.
#[derive(Debug, Clone, Default)]
pub struct ReplicaLog {
    /// The batches held, keyed by base offset; contiguous from log start to LEO in a healthy log.
    pub batches: BTreeMap<i64, Batch>,
    /// Offsets below this are gone by retention or DeleteRecords.
    pub log_start_offset: i64,
    /// The last high watermark this replica announced (lowered by truncation, as Kafka does).
    pub high_watermark: i64,
    /// One past the last offset held.
    pub log_end_offset: i64,
    /// Set by a restart: the recovered log start may be below the one held in memory (its
    /// checkpoint is periodic), so the next log start may go down once.
    pub log_start_may_reset: bool,
    /// Offsets below this were already compared with the committed prefix (see
    /// `committed_log_divergence::verify_replica`); truncation lowers it.
    pub verified_end: i64,
}

impl ReplicaLog {
    /// The batch holding `offset`, if any.
    pub fn batch_at(&self, offset: i64) -> Option<&Batch> {
        self.batches
            .range(..=offset)
            .next_back()
            .map(|(_, batch)| batch)
            .filter(|batch| batch.contains(offset))
    }

    /// Appends `batch`, replacing anything it overlaps (the checkers report the overlap).
    pub fn append(&mut self, batch: Batch) {
        self.remove_from(batch.base_offset);
        self.verified_end = self.verified_end.min(batch.base_offset);
        self.batches.insert(batch.base_offset, batch);
        self.log_end_offset = batch.last_offset + 1;
    }

    /// Cuts the log so that nothing at or above `offset` remains. A cut above the LEO empties
    /// the log and restarts it at `offset` (Kafka's truncateFullyAndStartAt, for a follower
    /// behind the leader's log start); a cut below the log start restarts it there too.
    pub fn truncate(&mut self, offset: i64) {
        if offset > self.log_end_offset || offset < self.log_start_offset {
            self.batches.clear();
            self.log_start_offset = offset;
            self.log_end_offset = offset;
            self.high_watermark = offset;
            self.verified_end = self.verified_end.min(offset);
            return;
        }
        let cut = self.remove_from(offset);
        self.log_end_offset = self.log_end_offset.min(cut);
        self.high_watermark = self.high_watermark.min(self.log_end_offset);
        self.verified_end = self.verified_end.min(self.log_end_offset);
    }

    /// Removes every batch holding an offset at or above `offset`; returns the first offset
    /// removed (a straddling batch is removed whole), or `offset` when nothing straddled.
    fn remove_from(&mut self, offset: i64) -> i64 {
        self.batches.split_off(&offset);
        match self.batches.last_key_value() {
            Some((&base, batch)) if batch.last_offset >= offset => {
                self.batches.remove(&base);
                base
            }
            _ => offset,
        }
    }

    /// Removes every batch wholly below `offset` and raises the log start to it.
    pub fn delete_below(&mut self, offset: i64) {
        let mut kept = self.batches.split_off(&offset);
        if let Some((&base, batch)) = self.batches.last_key_value() {
            if batch.last_offset >= offset {
                kept.insert(base, *batch);
            }
        }
        self.batches = kept;
        self.log_start_offset = self.log_start_offset.max(offset);
        self.high_watermark = self.high_watermark.max(self.log_start_offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base_offset: i64, last_offset: i64) -> Batch {
        Batch {
            base_offset,
            last_offset,
            leader_epoch: 0,
            batch_crc: 7,
        }
    }

    #[test]
    fn online_model_truncates_whole_batches_and_lowers_hw() {
        let mut log = ReplicaLog::default();
        log.append(batch(0, 2));
        log.append(batch(3, 5));
        log.high_watermark = 6;
        log.truncate(4);
        assert_eq!(log.log_end_offset, 3);
        assert_eq!(log.high_watermark, 3);
        assert!(log.batch_at(2).is_some());
        assert!(log.batch_at(3).is_none());
    }

    #[test]
    fn online_model_overlapping_finds_straddling_batches() {
        let mut log = ReplicaLog::default();
        log.append(batch(0, 2));
        log.append(batch(3, 5));
        log.append(batch(6, 6));
        let bases: Vec<i64> = overlapping(&log.batches, 2, 3, |b| b.last_offset)
            .map(|(&base, _)| base)
            .collect();
        assert_eq!(bases, vec![0, 3]);
        log.delete_below(4);
        assert_eq!(log.batches.keys().copied().collect::<Vec<_>>(), vec![3, 6]);
        assert_eq!(log.log_start_offset, 4);
    }
}
