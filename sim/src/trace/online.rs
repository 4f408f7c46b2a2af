//! The online checkers as an observer: every broker observation, decoded into replica events,
//! feeds the independent model, and what it finds is kept in the order found. The model is
//! shared: `when` predicates, partition targets and the end of the run read it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kafkasim::env::Observation;

use super::observer::{Observer, Record};
use crate::checker::Anomaly;
use crate::history::Tp;
use crate::online::OnlineChecker;

/// The online checkers' model and what they found.
#[derive(Default)]
pub struct OnlineModel {
    /// The independent model, fed every replica observation.
    pub checker: OnlineChecker,
    /// What the online checkers (and corrupt-batch-kept after a recovery) found, in order.
    pub anomalies: Vec<Anomaly>,
}

/// The model, shared by the observer that feeds it and everything that reads it.
pub type SharedOnline = Arc<Mutex<OnlineModel>>;

/// Feeds the online model.
pub struct OnlineObserver(pub SharedOnline);

impl Observer for OnlineObserver {
    fn observe(
        &mut self,
        broker: i32,
        time_ms: u64,
        observation: &Observation<'_>,
        _records: &mut Vec<Record>,
    ) {
        let mut model = self.0.lock().unwrap();
        for event in crate::online::observe::events(broker, observation) {
            let found = model.checker.observe(time_ms, &event);
            model.anomalies.extend(found);
        }
    }
}

impl OnlineModel {
    /// Whether `broker`'s replica of `tp` reaches the end of the committed prefix, as the
    /// online model saw it (a partition no event named has nothing committed).
    pub fn holds_committed(&self, tp: &Tp, broker: i32) -> bool {
        let Some(partition) = self.checker.partition(tp) else {
            return true;
        };
        let end = partition
            .replicas
            .get(&broker)
            .map_or(0, |r| r.log_end_offset);
        end >= partition.committed_end
    }

    /// A partition's latest elected leader and latest ISR as observed (empty before any).
    pub fn leadership(&self, tp: &Tp) -> (Option<i32>, Vec<i32>) {
        let Some(partition) = self.checker.partition(tp) else {
            return (None, Vec::new());
        };
        let leader = partition.latest_election.map(|election| election.leader);
        (leader, partition.isr.clone())
    }

    /// Everything the online checkers found, including what only the end shows.
    pub fn all_anomalies(&self) -> Vec<Anomaly> {
        let mut all = self.anomalies.clone();
        all.extend(self.checker.finish());
        all
    }

    /// Each replica's last announced high watermark, as the online model saw it.
    pub fn replica_high_watermarks(&self) -> BTreeMap<(Tp, i32), i64> {
        let mut out = BTreeMap::new();
        for (tp, partition) in self.checker.partitions() {
            for (broker, replica) in &partition.replicas {
                out.insert((tp.clone(), *broker), replica.high_watermark);
            }
        }
        out
    }
}
