//! `corrupt-batch-kept` on the brokers' disks: checked on what recovery just left of a
//! replica's log, and over every log at the end of the run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};

use crate::checker::corrupt_batch_kept::{self as check, BadBatch};
use crate::checker::Anomaly;
use crate::cluster::disk::SimDisk;

/// What the check keeps across a run.
#[derive(Default)]
pub struct CorruptBatches {
    /// Each broker's disk (weak: a disk holds its node's trace).
    disks: Mutex<BTreeMap<i32, Weak<SimDisk>>>,
    /// When each broker last recovered each partition directory.
    recovered_at: Mutex<BTreeMap<(i32, String), u64>>,
    /// Bad batches already reported, by (broker, file, position), so one is reported once.
    reported: Mutex<BTreeSet<(i32, String, u64)>>,
}

impl CorruptBatches {
    /// Lets the check read `broker`'s disk.
    pub fn register_disk(&self, broker: i32, disk: &Arc<SimDisk>) {
        self.disks
            .lock()
            .unwrap()
            .insert(broker, Arc::downgrade(disk));
    }

    /// The check on what recovery just left of one replica's log.
    pub fn check_recovered(
        &self,
        broker: i32,
        time_ms: u64,
        (topic, partition): (&str, i32),
    ) -> Vec<Anomaly> {
        let dir = format!("{topic}-{partition}");
        self.recovered_at
            .lock()
            .unwrap()
            .insert((broker, dir.clone()), time_ms);
        self.corrupt_batches(broker, &dir, "right after recovery", |_, _| true)
    }

    /// The check over every broker's logs at the end of the run, leaving out bad batches that
    /// a bit flip hit after the replica's last recovery (nothing read them yet).
    pub fn at_end(&self) -> Vec<Anomaly> {
        let brokers: Vec<i32> = self.disks.lock().unwrap().keys().copied().collect();
        let recovered_at = self.recovered_at.lock().unwrap().clone();
        let mut found = Vec::new();
        for broker in brokers {
            let flips = self.disk(broker).map(|d| d.bit_flips()).unwrap_or_default();
            let counts = |path: &str, batch: &BadBatch| {
                let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
                let since = recovered_at.get(&(broker, dir.to_string())).copied();
                !flips.iter().any(|flip| {
                    flip.path == path
                        && (batch.position..batch.end).contains(&flip.offset)
                        && since.is_none_or(|t| flip.time_ms >= t)
                })
            };
            found.extend(self.corrupt_batches(broker, "", "at the end of the run", counts));
        }
        found
    }

    fn disk(&self, broker: i32) -> Option<Arc<SimDisk>> {
        self.disks.lock().unwrap().get(&broker)?.upgrade()
    }

    /// The bad batches under `dir` on `broker`'s disk that `counts` keeps and that were not
    /// reported before, as anomalies.
    fn corrupt_batches(
        &self,
        broker: i32,
        dir: &str,
        when: &str,
        counts: impl Fn(&str, &BadBatch) -> bool,
    ) -> Vec<Anomaly> {
        let Some(disk) = self.disk(broker) else {
            return Vec::new();
        };
        let mut reported = self.reported.lock().unwrap();
        let mut found = Vec::new();
        for (path, bytes) in disk.peek_logs(dir) {
            for batch in check::scan(&bytes) {
                let new = reported.insert((broker, path.clone(), batch.position));
                if new && counts(&path, &batch) {
                    found.push(check::anomaly(broker, &path, &batch, when));
                }
            }
        }
        found
    }
}
