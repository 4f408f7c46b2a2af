//! The replicas' final logs as their disks hold them at the end of a run, compared batch by
//! batch (the offline half of replica agreement).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::checker;
use crate::cluster::SimCluster;
use crate::history::Tp;
use crate::scenario::Scenario;
use crate::trace::RunTrace;

/// One replica's final log, read from its disk.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaSummary {
    pub broker: i32,
    pub log_start_offset: i64,
    /// The last high watermark the replica announced.
    pub high_watermark: i64,
    pub log_end_offset: i64,
    pub batches: usize,
}

/// Final replica logs per partition, with the first offset where two replicas disagree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplicaLogs {
    pub partitions: BTreeMap<String, Vec<ReplicaSummary>>,
    pub first_divergent_offset: BTreeMap<String, Option<i64>>,
}

/// Compare every partition's replicas batch by batch, as their disks hold them at the end, up
/// to the high watermark they share (the offline half of replica agreement).
pub(super) fn replica_agreement(
    scenario: &Scenario,
    cluster: &SimCluster,
    trace: &RunTrace,
) -> (Vec<checker::Anomaly>, ReplicaLogs) {
    let high_watermarks = trace.replica_high_watermarks();
    let mut logs: BTreeMap<(Tp, i32), Vec<(i64, i64, i32, u32)>> = BTreeMap::new();
    let mut shared_hw: BTreeMap<Tp, i64> = BTreeMap::new();
    let mut summaries = ReplicaLogs::default();
    for topic in crate::cluster::assignments(scenario) {
        for (index, replicas) in topic.replicas.iter().enumerate() {
            let tp = Tp::new(topic.name.clone(), index as i32);
            let dir = format!("{}-{}", topic.name, index);
            for broker in replicas {
                let Some(node) = cluster.brokers.get(broker) else {
                    continue;
                };
                let batches = disk_batches(&*node.disk, &dir);
                let high_watermark = high_watermarks
                    .get(&(tp.clone(), *broker))
                    .copied()
                    .unwrap_or(0);
                let hw = shared_hw.entry(tp.clone()).or_insert(high_watermark);
                *hw = (*hw).min(high_watermark);
                summaries
                    .partitions
                    .entry(tp.to_string())
                    .or_default()
                    .push(ReplicaSummary {
                        broker: *broker,
                        log_start_offset: batches.first().map_or(0, |b| b.0),
                        high_watermark,
                        log_end_offset: batches.last().map_or(0, |b| b.1 + 1),
                        batches: batches.len(),
                    });
                logs.insert((tp.clone(), *broker), batches);
            }
        }
    }
    let (anomalies, first) = crate::online::replica_agreement(&logs, &shared_hw);
    summaries.first_divergent_offset = first
        .into_iter()
        .map(|(tp, offset)| (tp.to_string(), offset))
        .collect();
    (anomalies, summaries)
}

/// (base offset, last offset, leader epoch, CRC) of every batch in a partition directory's
/// segments, in offset order; a torn or unreadable tail ends the list.
fn disk_batches(disk: &dyn kafkasim::env::Disk, dir: &str) -> Vec<(i64, i64, i32, u32)> {
    let mut out = Vec::new();
    let files = disk.list_dir(dir).unwrap_or_default();
    for file in files.iter().filter(|f| f.ends_with(".log")) {
        let Ok(bytes) = disk.read_all(&format!("{dir}/{file}")) else {
            break;
        };
        let Ok(batches) = kafkasim::storage::batch::split(&bytes) else {
            break;
        };
        out.extend(batches.iter().map(|(_, h)| {
            (
                h.base_offset,
                h.last_offset(),
                h.partition_leader_epoch,
                h.crc,
            )
        }));
    }
    out
}
