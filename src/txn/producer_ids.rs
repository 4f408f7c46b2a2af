//! Producer ids a broker hands out for InitProducerId, unique across the cluster and across
//! restarts without a controller's help.
//!
//! Kafka's KRaft brokers get blocks of ids from the controller (AllocateProducerIds, KIP-730,
//! recorded as ProducerIdsRecord in the metadata log). kafkasim does not do that yet: each
//! broker owns the ids `n * BROKER_ID_SPACE + broker_id` (its broker id modulo
//! [`BROKER_ID_SPACE`]), so two brokers whose ids differ modulo 65536 never collide, and
//! reserves `n` in blocks of [`BLOCK_SIZE`], persisting the end of the reserved block
//! durably (temp file, fsync, rename, fsync of the directory) *before* handing out the first
//! id of it. After a kill or a power loss the next process starts at the persisted end, so no
//! id is handed out twice; at most a block's worth of ids is skipped. A restart with an empty
//! disk loses the file and would reuse ids — as it would lose a Kafka broker's logs.
//!
//! Invariants (asserted in [`ProducerIdManager::allocate`]): `next <= reserved_end`, and the
//! id handed out always lies below the durably persisted end.

use std::io;

use crate::env::Disk;

/// The file in the log directory's root holding the end of the reserved block.
pub const FILE_NAME: &str = "producer-id-block";

/// Counter values reserved by one durable write.
pub const BLOCK_SIZE: i64 = 1000;

/// Broker ids are folded into this many slots of the id space.
pub const BROKER_ID_SPACE: i64 = 1 << 16;

/// Hands out this broker's producer ids.
#[derive(Debug)]
pub struct ProducerIdManager {
    /// This broker's slot: its broker id modulo [`BROKER_ID_SPACE`].
    slot: i64,
    /// The next counter value to hand out.
    next: i64,
    /// The end (exclusive) of the reserved block, as persisted.
    reserved_end: i64,
}

impl ProducerIdManager {
    /// Load the persisted block end (none yet: 0). An unreadable file is an error: guessing
    /// could hand out an id twice.
    pub fn load(disk: &dyn Disk, broker_id: i32) -> io::Result<ProducerIdManager> {
        let reserved_end = if disk.exists(FILE_NAME) {
            let bytes = disk.read_all(FILE_NAME)?;
            std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .filter(|end| *end >= 0)
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "unreadable producer-id-block")
                })?
        } else {
            0
        };
        Ok(ProducerIdManager {
            slot: (broker_id as i64).rem_euclid(BROKER_ID_SPACE),
            next: reserved_end,
            reserved_end,
        })
    }

    /// The next producer id, reserving (durably) a new block first when this one is used up.
    pub fn allocate(&mut self, disk: &dyn Disk) -> io::Result<i64> {
        assert!(self.next <= self.reserved_end, "{self:?}");
        if self.next == self.reserved_end {
            let end = self.reserved_end + BLOCK_SIZE;
            persist(disk, end)?;
            self.reserved_end = end;
        }
        let id = self.next * BROKER_ID_SPACE + self.slot;
        self.next += 1;
        assert!(self.next <= self.reserved_end, "{self:?}");
        assert!(id >= 0, "producer ids are non-negative");
        Ok(id)
    }
}

fn persist(disk: &dyn Disk, end: i64) -> io::Result<()> {
    let temp = format!("{FILE_NAME}.tmp");
    disk.write_file(&temp, end.to_string().as_bytes())?;
    disk.fsync(&temp)?;
    disk.rename(&temp, FILE_NAME)?;
    disk.fsync_dir("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemDisk;

    #[test]
    fn ids_are_unique_across_restarts_and_brokers() {
        let disk_a = MemDisk::new();
        let disk_b = MemDisk::new();
        let mut seen = std::collections::BTreeSet::new();
        for _restart in 0..3 {
            let mut a = ProducerIdManager::load(&disk_a, 1).unwrap();
            let mut b = ProducerIdManager::load(&disk_b, 2).unwrap();
            for _ in 0..(BLOCK_SIZE + 5) {
                assert!(seen.insert(a.allocate(&disk_a).unwrap()));
                assert!(seen.insert(b.allocate(&disk_b).unwrap()));
            }
        }
        let text = disk_a.read_all(FILE_NAME).unwrap();
        assert_eq!(
            std::str::from_utf8(&text).unwrap(),
            (6 * BLOCK_SIZE).to_string()
        );
    }

    #[test]
    fn an_unreadable_block_file_refuses_to_guess() {
        let disk = MemDisk::new();
        disk.write_file(FILE_NAME, b"\0\0").unwrap();
        assert!(ProducerIdManager::load(&disk, 0).is_err());
    }
}
