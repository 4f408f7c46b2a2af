//! Sparse offset and time indexes of one segment.
//!
//! The offset index maps a batch's base offset (relative to the segment's base, u32) to its byte
//! position in the `.log` file (u32); the time index maps the largest timestamp seen so far in
//! the segment (i64) to the relative base offset of the first batch that reached it. Both hold
//! an entry at most every `index.interval.bytes` of log, are strictly increasing in both
//! columns, and are serialized big-endian like Kafka's (8 and 12 bytes per entry).
//!
//! The in-memory entries are authoritative: the log rebuilds both indexes from the `.log` file
//! on every open, so the files on disk are never trusted and never need an fsync.

/// One offset index entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetEntry {
    /// Batch base offset minus the segment's base offset.
    pub relative_offset: u32,
    /// Byte position of the batch in the segment's `.log` file.
    pub position: u32,
}

/// One time index entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeEntry {
    /// Largest batch max timestamp in the segment up to and including this batch.
    pub timestamp: i64,
    /// Relative base offset of the first batch that reached `timestamp`.
    pub relative_offset: u32,
}

/// The offset index of one segment.
#[derive(Clone, Debug, Default)]
pub struct OffsetIndex {
    /// Entries, strictly increasing in both offset and position.
    entries: Vec<OffsetEntry>,
}

impl OffsetIndex {
    /// Add an entry; it must lie after the last one.
    pub fn push(&mut self, entry: OffsetEntry) {
        if let Some(last) = self.entries.last() {
            assert!(
                entry.relative_offset > last.relative_offset,
                "offset index must be strictly increasing"
            );
            assert!(
                entry.position > last.position,
                "offset index positions must be strictly increasing"
            );
        }
        self.entries.push(entry);
    }

    /// The last entry whose offset is at most `relative_offset`: where a scan for it starts.
    pub fn lookup(&self, relative_offset: u32) -> Option<OffsetEntry> {
        let count = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        count.checked_sub(1).map(|i| self.entries[i])
    }

    /// Drop every entry at or after `position` (used when the segment is truncated).
    pub fn truncate_to_position(&mut self, position: u32) {
        let keep = self.entries.partition_point(|e| e.position < position);
        self.entries.truncate(keep);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in Kafka's on-disk layout: relative offset u32 + position u32, big-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 8);
        for entry in &self.entries {
            out.extend_from_slice(&entry.relative_offset.to_be_bytes());
            out.extend_from_slice(&entry.position.to_be_bytes());
        }
        out
    }
}

/// The time index of one segment.
#[derive(Clone, Debug, Default)]
pub struct TimeIndex {
    /// Entries, strictly increasing in both timestamp and offset.
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    /// Add an entry if its timestamp is larger than the last one's (Kafka's `maybeAppend`).
    pub fn maybe_push(&mut self, entry: TimeEntry) {
        if let Some(last) = self.entries.last() {
            if entry.timestamp <= last.timestamp {
                return;
            }
            assert!(
                entry.relative_offset > last.relative_offset,
                "time index offsets must increase"
            );
        }
        self.entries.push(entry);
    }

    /// The last entry whose timestamp is strictly below `timestamp`: every batch before its
    /// offset has a smaller max timestamp, so a search for the first batch reaching
    /// `timestamp` can start there.
    pub fn lookup_below(&self, timestamp: i64) -> Option<TimeEntry> {
        let count = self.entries.partition_point(|e| e.timestamp < timestamp);
        count.checked_sub(1).map(|i| self.entries[i])
    }

    /// Drop every entry at or after `relative_offset`.
    pub fn truncate_to_offset(&mut self, relative_offset: u32) {
        let keep = self
            .entries
            .partition_point(|e| e.relative_offset < relative_offset);
        self.entries.truncate(keep);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in Kafka's on-disk layout: timestamp i64 + relative offset u32, big-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 12);
        for entry in &self.entries {
            out.extend_from_slice(&entry.timestamp.to_be_bytes());
            out.extend_from_slice(&entry.relative_offset.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_lookup_finds_floor_entry() {
        let mut index = OffsetIndex::default();
        assert_eq!(index.lookup(5), None);
        index.push(OffsetEntry {
            relative_offset: 0,
            position: 0,
        });
        index.push(OffsetEntry {
            relative_offset: 10,
            position: 4096,
        });
        index.push(OffsetEntry {
            relative_offset: 20,
            position: 8200,
        });
        assert_eq!(index.lookup(0).unwrap().position, 0);
        assert_eq!(index.lookup(15).unwrap().position, 4096);
        assert_eq!(index.lookup(20).unwrap().position, 8200);
        assert_eq!(index.lookup(99).unwrap().position, 8200);
        index.truncate_to_position(8200);
        assert_eq!(index.len(), 2);
        assert_eq!(index.to_bytes().len(), 16);
        assert_eq!(&index.to_bytes()[8..16], &[0, 0, 0, 10, 0, 0, 16, 0]);
    }

    #[test]
    fn time_index_keeps_only_new_maxima() {
        let mut index = TimeIndex::default();
        index.maybe_push(TimeEntry {
            timestamp: 100,
            relative_offset: 0,
        });
        index.maybe_push(TimeEntry {
            timestamp: 90,
            relative_offset: 3,
        });
        index.maybe_push(TimeEntry {
            timestamp: 150,
            relative_offset: 5,
        });
        assert_eq!(index.len(), 2);
        assert_eq!(index.lookup_below(100), None);
        assert_eq!(index.lookup_below(101).unwrap().relative_offset, 0);
        assert_eq!(index.lookup_below(1000).unwrap().relative_offset, 5);
        index.truncate_to_offset(5);
        assert_eq!(index.len(), 1);
    }
}
