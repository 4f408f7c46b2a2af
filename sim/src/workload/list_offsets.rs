//! The ListOffsets workload: clients that keep asking every partition's leader for its latest
//! offset, so the brokers' answers are checked online (`list-offsets-regression`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkasim::client::Consumer;

use super::{Client, StopAt, Workload};

/// A `[[workload]] kind = "list-offsets"`.
pub struct ListOffsetsWorkload {
    spec: crate::scenario::Workload,
    /// Set once readers have caught up; every client of the workload reads it.
    stop: Arc<AtomicBool>,
}

impl ListOffsetsWorkload {
    pub fn new(spec: &crate::scenario::Workload) -> ListOffsetsWorkload {
        ListOffsetsWorkload {
            spec: spec.clone(),
            stop: Arc::default(),
        }
    }
}

impl Workload for ListOffsetsWorkload {
    fn start(&mut self, client: Client<'_>) -> Option<crate::cluster::ClientRestart> {
        let workload = self.spec.clone();
        let partitions = client.partitions;
        let stop = self.stop.clone();
        let config = super::consumer_config(&workload, client.bootstrap, client.process);
        client.node.spawn(async move {
            let consumer = Consumer::new(config);
            run_list_offsets(workload, partitions, consumer, stop).await
        });
        None
    }

    fn stop_at(&self) -> StopAt {
        StopAt::CaughtUp
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One ListOffsets client: every `1 / rate` seconds it asks each partition's leader for the
/// latest offset, until `stop`. Answers are checked online at the broker
/// (`list-offsets-regression`); errors (a moved leader, OFFSET_NOT_AVAILABLE) just wait for
/// the next round, after the consumer's metadata refresh.
async fn run_list_offsets(
    workload: crate::scenario::Workload,
    partitions: i32,
    mut consumer: Consumer,
    stop: Arc<AtomicBool>,
) {
    const LATEST: i64 = -1;
    let period = Duration::from_secs_f64(1.0 / workload.rate_per_sec);
    while !stop.load(Ordering::Relaxed) {
        for partition in 0..partitions {
            let _ = consumer
                .list_offset(&workload.topic, partition, LATEST)
                .await;
        }
        tokio::time::sleep(period).await;
    }
}
