//! The leader epoch cache (Kafka's `LeaderEpochFileCache`): for each leader epoch that wrote
//! to this partition's log, the offset of its first record.
//!
//! Invariant, checked after every change: epochs and start offsets are both strictly
//! increasing and never negative. A leader answers `OffsetForLeaderEpoch` from it
//! ([`LeaderEpochCache::lookup_end_offset`]); a follower consults its own copy to decide
//! where to truncate (see [`truncation`](super::truncation)). The cache is pure memory; the
//! owner persists it with [`LeaderEpochCache::write`] after each change, as Kafka flushes its
//! `leader-epoch-checkpoint`.
//!
//! How the log's owner keeps it in step, as Kafka 2.1+ does: [`LeaderEpochCache::assign`] the
//! new epoch at the log end offset on becoming leader (so the epoch is known before anything
//! is written) and for every appended batch; [`LeaderEpochCache::truncate_from_end`] on every
//! truncation, even one that leaves the log as it is (it drops an epoch begun as leader but
//! never written); [`LeaderEpochCache::truncate_from_start`] when the log start offset moves;
//! and after loading, `truncate_from_end(log_end_offset)` so recovery's lost tail is forgotten.

use crate::env::Disk;

use super::checkpoint::{
    malformed, parse_checkpoint, parse_field, read_checkpoint_text, write_checkpoint,
    CheckpointError,
};

/// "No epoch": what `OffsetForLeaderEpoch` returns when it knows nothing, and what a v0
/// response (KIP-101, before KIP-279) carries since it has no epoch field.
pub const UNDEFINED_EPOCH: i32 = -1;

/// "No offset": the end offset returned alongside [`UNDEFINED_EPOCH`] when nothing is known.
pub const UNDEFINED_OFFSET: i64 = -1;

/// One leader epoch and the offset of the first record it wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    /// The partition leader epoch.
    pub epoch: i32,
    /// Offset of the first record appended under `epoch`; the epoch ends where the next
    /// entry starts (or at the log end offset for the latest epoch).
    pub start_offset: i64,
}

/// How a leader answers `OffsetForLeaderEpoch` for an epoch it has no entry for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EpochLookup {
    /// Kafka 0.11–1.x (KIP-101 alone): the answer is only an offset, the start of the first
    /// epoch *greater* than the requested one, returned with [`UNDEFINED_EPOCH`] because v0
    /// responses carry no epoch. An epoch below the first known one gets
    /// ([`UNDEFINED_EPOCH`], [`UNDEFINED_OFFSET`]). After a fast leader fail-over this names
    /// an offset past the point where the logs diverged (KIP-279's bug): the follower keeps
    /// records the leader never had.
    Kip101,
    /// Kafka 2.0+ (KIP-279): the largest epoch ≤ the requested one, with its end offset (the
    /// start of the next epoch, or the log end offset for the latest). An epoch below the
    /// first known one gets (requested, first start offset).
    #[default]
    Kip279,
}

/// Ordered leader epoch entries of one partition's log (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    /// Sorted by epoch and by start offset alike (the invariant).
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// The file name Kafka uses in each partition directory.
    pub const FILE_NAME: &'static str = "leader-epoch-checkpoint";

    /// An empty cache: a log that no leader epoch has written to.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache built by assigning `(epoch, start_offset)` pairs in order, as Kafka does when
    /// it loads a checkpoint.
    pub fn from_entries(entries: impl IntoIterator<Item = (i32, i64)>) -> Self {
        let mut cache = Self::new();
        for (epoch, start_offset) in entries {
            cache.assign(epoch, start_offset);
        }
        cache
    }

    /// Record that `epoch` starts at `start_offset`; returns whether the cache changed.
    ///
    /// Kafka's rules: nothing changes if `epoch` is the latest epoch and `start_offset` is
    /// not below its start (later batches of the current epoch). Otherwise every entry at the
    /// end whose epoch ≥ `epoch` or whose start ≥ `start_offset` is removed (they conflict
    /// with the new one, e.g. after an unclean truncation) and the entry is appended, so
    /// epochs and start offsets stay strictly increasing. A negative epoch or offset is a bug
    /// in the caller (Kafka throws `IllegalArgumentException`).
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        assert!(
            epoch >= 0 && start_offset >= 0,
            "invalid leader epoch entry: epoch {epoch} start offset {start_offset}"
        );
        if let Some(latest) = self.latest_entry() {
            if latest.epoch == epoch && start_offset >= latest.start_offset {
                return false;
            }
        }
        while let Some(last) = self.entries.last() {
            if last.epoch < epoch && last.start_offset < start_offset {
                break;
            }
            self.entries.pop();
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        self.check_invariants();
        true
    }

    /// The newest epoch, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.latest_entry().map(|entry| entry.epoch)
    }

    /// The newest entry, if any.
    pub fn latest_entry(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The oldest entry still covering the log, if any.
    pub fn earliest_entry(&self) -> Option<EpochEntry> {
        self.entries.first().copied()
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// Whether no epoch is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `OffsetForLeaderEpoch(requested_epoch)` with KIP-279 semantics (what Kafka 2.0+ does,
    /// and what a follower uses on its own cache): see [`EpochLookup::Kip279`].
    pub fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> (i32, i64) {
        self.lookup_end_offset(EpochLookup::Kip279, requested_epoch, log_end_offset)
    }

    /// Answer `OffsetForLeaderEpoch(requested_epoch)` as `(epoch, end_offset)` under `lookup`.
    ///
    /// Both rules agree on: [`UNDEFINED_EPOCH`] requested, or an epoch above the latest (also
    /// any epoch on an empty cache) → ([`UNDEFINED_EPOCH`], [`UNDEFINED_OFFSET`]); the latest
    /// epoch → its end is `log_end_offset` (the epoch is still being written). They differ on
    /// epochs without an entry: see [`EpochLookup`].
    pub fn lookup_end_offset(
        &self,
        lookup: EpochLookup,
        requested_epoch: i32,
        log_end_offset: i64,
    ) -> (i32, i64) {
        const UNKNOWN: (i32, i64) = (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
        if let Some(latest) = self.latest_entry() {
            assert!(
                log_end_offset >= latest.start_offset,
                "log end offset {log_end_offset} below the start {} of the latest epoch {}",
                latest.start_offset,
                latest.epoch
            );
        }
        if requested_epoch == UNDEFINED_EPOCH {
            return UNKNOWN;
        }
        if self.latest_epoch() == Some(requested_epoch) {
            return match lookup {
                EpochLookup::Kip101 => (UNDEFINED_EPOCH, log_end_offset),
                EpochLookup::Kip279 => (requested_epoch, log_end_offset),
            };
        }
        // Entries before `higher` have epoch ≤ requested; `higher` is the first greater one.
        let higher = self
            .entries
            .partition_point(|entry| entry.epoch <= requested_epoch);
        let Some(next) = self.entries.get(higher) else {
            return UNKNOWN;
        };
        let floor = higher.checked_sub(1).map(|index| self.entries[index]);
        match (lookup, floor) {
            (EpochLookup::Kip101, None) => UNKNOWN,
            (EpochLookup::Kip101, Some(_)) => (UNDEFINED_EPOCH, next.start_offset),
            (EpochLookup::Kip279, None) => (requested_epoch, next.start_offset),
            (EpochLookup::Kip279, Some(floor)) => (floor.epoch, next.start_offset),
        }
    }

    /// After the log was truncated to `end_offset` (its new log end offset): drop the entries
    /// that start at or after it. A negative offset is ignored, as in Kafka.
    pub fn truncate_from_end(&mut self, end_offset: i64) {
        if end_offset < 0 {
            return;
        }
        let keep = self
            .entries
            .partition_point(|entry| entry.start_offset < end_offset);
        self.entries.truncate(keep);
        self.check_invariants();
    }

    /// After the log start offset moved up to `start_offset` (retention, DeleteRecords):
    /// drop the entries wholly below it; the entry covering it now starts at `start_offset`.
    pub fn truncate_from_start(&mut self, start_offset: i64) {
        let covered = self
            .entries
            .partition_point(|entry| entry.start_offset <= start_offset);
        if covered == 0 {
            return;
        }
        let covering = self.entries[covered - 1];
        self.entries.drain(..covered - 1);
        self.entries[0] = EpochEntry {
            epoch: covering.epoch,
            start_offset,
        };
        self.check_invariants();
    }

    /// Load a `leader-epoch-checkpoint` (`epoch start_offset` lines). A missing file is an
    /// empty cache. Entries are assigned in order, so a file with conflicting entries loads
    /// as Kafka would load it; negative values or a malformed file are errors.
    pub fn read(disk: &dyn Disk, path: &str) -> Result<Self, CheckpointError> {
        let Some(text) = read_checkpoint_text(disk, path)? else {
            return Ok(Self::new());
        };
        let mut cache = Self::new();
        for entry in parse_checkpoint(path, &text, 2, "epoch start_offset")? {
            let line = entry.line;
            let epoch: i32 = parse_field(path, line, entry.fields[0], "a leader epoch")?;
            let start_offset: i64 = parse_field(path, line, entry.fields[1], "a start offset")?;
            if epoch < 0 || start_offset < 0 {
                let found = entry.fields.join(" ");
                return Err(malformed(
                    path,
                    line,
                    "a non-negative epoch and offset",
                    &found,
                ));
            }
            cache.assign(epoch, start_offset);
        }
        Ok(cache)
    }

    /// Replace the `leader-epoch-checkpoint` at `path` with this cache, atomically and
    /// durably (tmp file, fsync, rename, fsync of the directory).
    pub fn write(&self, disk: &dyn Disk, path: &str) -> Result<(), CheckpointError> {
        let entries: Vec<String> = self
            .entries
            .iter()
            .map(|entry| format!("{} {}", entry.epoch, entry.start_offset))
            .collect();
        write_checkpoint(disk, path, &entries)
    }

    fn check_invariants(&self) {
        for pair in self.entries.windows(2) {
            assert!(
                pair[0].epoch < pair[1].epoch && pair[0].start_offset < pair[1].start_offset,
                "leader epoch entries not strictly increasing: {:?}",
                self.entries
            );
        }
        if let Some(first) = self.earliest_entry() {
            assert!(
                first.epoch >= 0 && first.start_offset >= 0,
                "negative entry {first:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemDisk;

    const UNKNOWN: (i32, i64) = (UNDEFINED_EPOCH, UNDEFINED_OFFSET);

    fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
        LeaderEpochCache::from_entries(entries.iter().copied())
    }

    fn pairs(cache: &LeaderEpochCache) -> Vec<(i32, i64)> {
        cache
            .entries()
            .iter()
            .map(|entry| (entry.epoch, entry.start_offset))
            .collect()
    }

    // Vectors from Kafka's LeaderEpochFileCacheTest, as listed in kafka-facts.md.
    #[test]
    fn end_offset_for_unknown_epoch_between_entries_is_previous_epoch_and_next_start() {
        let cache = cache(&[(0, 10), (2, 13), (4, 17)]);
        assert_eq!(cache.end_offset_for(1, 20), (0, 13));
        assert_eq!(cache.end_offset_for(2, 20), (2, 17));
        assert_eq!(cache.end_offset_for(3, 20), (2, 17));
    }

    #[test]
    fn end_offset_for_epoch_older_than_all_entries_is_requested_and_first_start() {
        let cache = cache(&[(5, 11), (6, 12), (7, 13)]);
        assert_eq!(cache.end_offset_for(4, 14), (4, 11));
    }

    #[test]
    fn end_offset_for_latest_epoch_is_log_end_offset() {
        let cache = cache(&[(0, 10), (2, 13), (4, 17)]);
        assert_eq!(cache.end_offset_for(4, 20), (4, 20));
        assert_eq!(cache.latest_epoch(), Some(4));
    }

    #[test]
    fn end_offset_for_undefined_newer_or_empty_is_unknown() {
        let cache = cache(&[(0, 10), (2, 13)]);
        assert_eq!(cache.end_offset_for(UNDEFINED_EPOCH, 20), UNKNOWN);
        assert_eq!(cache.end_offset_for(3, 20), UNKNOWN);
        assert_eq!(LeaderEpochCache::new().end_offset_for(0, 0), UNKNOWN);
    }

    #[test]
    fn kip101_lookup_returns_start_of_first_greater_epoch_without_epoch() {
        let cache = cache(&[(0, 10), (2, 13), (4, 17)]);
        let kip101 = |epoch| cache.lookup_end_offset(EpochLookup::Kip101, epoch, 20);
        assert_eq!(kip101(1), (UNDEFINED_EPOCH, 13));
        assert_eq!(kip101(2), (UNDEFINED_EPOCH, 17));
        assert_eq!(kip101(3), (UNDEFINED_EPOCH, 17));
        assert_eq!(
            kip101(4),
            (UNDEFINED_EPOCH, 20),
            "latest epoch: the log end offset"
        );
        assert_eq!(kip101(5), UNKNOWN);
        let older = self::cache(&[(5, 11), (6, 12), (7, 13)]);
        assert_eq!(older.lookup_end_offset(EpochLookup::Kip101, 4, 14), UNKNOWN);
    }

    #[test]
    fn kip279_scenario_leader_answer_differs_by_lookup() {
        // A led epoch 1 over offsets 0..=20, then epoch 3 from 21; B asks for epoch 2.
        let a = cache(&[(1, 0), (3, 21)]);
        assert_eq!(
            a.lookup_end_offset(EpochLookup::Kip101, 2, 31),
            (UNDEFINED_EPOCH, 21)
        );
        assert_eq!(a.lookup_end_offset(EpochLookup::Kip279, 2, 31), (1, 21));
    }

    #[test]
    fn assign_ignores_later_batches_of_the_latest_epoch() {
        let mut cache = cache(&[(0, 0), (1, 5)]);
        assert!(!cache.assign(1, 5));
        assert!(!cache.assign(1, 9));
        assert!(cache.assign(2, 9));
        assert_eq!(pairs(&cache), [(0, 0), (1, 5), (2, 9)]);
    }

    #[test]
    fn assign_removes_conflicting_entries_at_the_end() {
        // Same epoch, earlier start: the entry moves back.
        let mut moved = cache(&[(0, 0), (1, 5)]);
        assert!(moved.assign(1, 3));
        assert_eq!(pairs(&moved), [(0, 0), (1, 3)]);
        // Newer epoch at a start not past the latest: the overlapped entries go.
        let mut overlapped = cache(&[(0, 0), (1, 5), (2, 8)]);
        assert!(overlapped.assign(3, 5));
        assert_eq!(pairs(&overlapped), [(0, 0), (3, 5)]);
        // Older epoch: every entry with epoch ≥ it goes too.
        let mut older = cache(&[(0, 0), (2, 5), (4, 8)]);
        assert!(older.assign(1, 9));
        assert_eq!(pairs(&older), [(0, 0), (1, 9)]);
    }

    #[test]
    #[should_panic(expected = "invalid leader epoch entry")]
    fn assign_rejects_negative_epoch() {
        LeaderEpochCache::new().assign(-1, 0);
    }

    #[test]
    fn truncate_from_end_drops_entries_starting_at_or_after_the_new_end() {
        let mut cache = cache(&[(0, 0), (1, 5), (2, 8)]);
        cache.truncate_from_end(9);
        assert_eq!(pairs(&cache), [(0, 0), (1, 5), (2, 8)]);
        cache.truncate_from_end(8);
        assert_eq!(pairs(&cache), [(0, 0), (1, 5)]);
        cache.truncate_from_end(UNDEFINED_OFFSET);
        assert_eq!(pairs(&cache), [(0, 0), (1, 5)]);
        cache.truncate_from_end(0);
        assert!(cache.is_empty());
    }

    #[test]
    fn truncate_from_start_moves_the_covering_entry_to_the_new_start() {
        let mut cache = cache(&[(0, 0), (1, 5), (2, 8)]);
        cache.truncate_from_start(6);
        assert_eq!(pairs(&cache), [(1, 6), (2, 8)]);
        cache.truncate_from_start(8);
        assert_eq!(pairs(&cache), [(2, 8)]);
        cache.truncate_from_start(3);
        assert_eq!(
            pairs(&cache),
            [(2, 8)],
            "a start below the first entry changes nothing"
        );
        cache.truncate_from_start(12);
        assert_eq!(
            cache.earliest_entry(),
            Some(EpochEntry {
                epoch: 2,
                start_offset: 12
            })
        );
    }

    #[test]
    fn checkpoint_round_trips_in_kafka_format() {
        let disk = MemDisk::new();
        let path = "t-0/leader-epoch-checkpoint";
        let cache = cache(&[(0, 0), (2, 13), (4, 17)]);
        cache.write(&disk, path).unwrap();
        let text = String::from_utf8(disk.read_all(path).unwrap()).unwrap();
        assert_eq!(text, "0\n3\n0 0\n2 13\n4 17\n");
        assert_eq!(LeaderEpochCache::read(&disk, path).unwrap(), cache);
        assert!(LeaderEpochCache::read(&disk, "t-1/leader-epoch-checkpoint")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn malformed_checkpoints_are_rejected_with_the_line() {
        let disk = MemDisk::new();
        for (text, bad_line) in [
            ("1\n0\n", 1),
            ("0\nx\n", 2),
            ("0\n2\n0 0\n", 4),
            ("0\n1\n0 0 0\n", 3),
            ("0\n1\n0 -3\n", 3),
            ("0\n1\nepoch 3\n", 3),
        ] {
            disk.write_file("bad", text.as_bytes()).unwrap();
            match LeaderEpochCache::read(&disk, "bad") {
                Err(CheckpointError::Malformed { line, path, .. }) => {
                    assert_eq!((path.as_str(), line), ("bad", bad_line), "{text:?}")
                }
                other => panic!("{text:?} should be malformed, got {other:?}"),
            }
        }
    }

    #[test]
    fn conflicting_checkpoint_entries_load_as_kafka_assigns_them() {
        let disk = MemDisk::new();
        disk.write_file("c", b"0\n3\n0 0\n2 10\n1 5\n").unwrap();
        assert_eq!(
            pairs(&LeaderEpochCache::read(&disk, "c").unwrap()),
            [(0, 0), (1, 5)]
        );
    }
}
