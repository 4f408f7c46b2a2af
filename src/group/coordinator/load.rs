//! Loading a `__consumer_offsets` partition after this broker became its leader (Kafka's
//! `GroupMetadataManager.loadGroupsAndOffsets`): the partition's records are replayed in
//! offset order and only the last value of each key is kept, as log compaction would keep it.
//!
//! Invariants: a tombstone removes its key and nothing else (a group's tombstone does not
//! remove its offsets; their own tombstones do); every key held belongs to the group of the
//! record that set it. The result is installed by [`super::Coordinator::finish_loading`].

use std::collections::BTreeMap;

use super::offsets::{CommittedOffset, PartitionKey};
use super::records::{GroupMetadataValue, Record};

/// What the records of one partition replayed so far hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionLoad {
    /// The last OffsetCommit value per group and (topic, partition) (Kafka's `loadedOffsets`).
    pub offsets: BTreeMap<String, BTreeMap<PartitionKey, CommittedOffset>>,
    /// The last GroupMetadata value per group (Kafka's `loadedGroups`).
    pub groups: BTreeMap<String, GroupMetadataValue>,
    /// Records of groups that another partition coordinates, skipped.
    pub records_skipped: u64,
}

impl PartitionLoad {
    /// Applies one record: a value replaces the key's previous value, a tombstone removes it.
    pub fn replay(&mut self, record: &Record) {
        match record {
            Record::OffsetCommit {
                group_id,
                topic,
                partition,
                value,
            } => {
                let key = (topic.clone(), *partition);
                match value {
                    Some(value) => {
                        let offset = CommittedOffset {
                            offset: value.offset,
                            leader_epoch: value.leader_epoch,
                            metadata: value.metadata.clone(),
                            commit_timestamp_ms: value.commit_timestamp_ms,
                        };
                        let offsets = self.offsets.entry(group_id.clone()).or_default();
                        offsets.insert(key, offset);
                    }
                    None => self.remove_offset(group_id, &key),
                }
            }
            Record::GroupMetadata {
                group_id,
                value: Some(value),
            } => {
                self.groups.insert(group_id.clone(), value.clone());
            }
            Record::GroupMetadata {
                group_id,
                value: None,
            } => {
                self.groups.remove(group_id);
            }
        }
    }

    fn remove_offset(&mut self, group_id: &str, key: &PartitionKey) {
        let Some(offsets) = self.offsets.get_mut(group_id) else {
            return;
        };
        offsets.remove(key);
        if offsets.is_empty() {
            self.offsets.remove(group_id);
        }
    }
}
