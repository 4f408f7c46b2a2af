//! The consumer workload: clients assigned every partition of the topic that poll until the
//! readers are stopped, recording each poll and every position reset.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkasim::client::{ConsumeError, Consumer};

use super::{Client, Recorder, StopAt, Workload};
use crate::history::{EventKind, Outcome, Read, Tp};

/// A `[[workload]] kind = "consumer"`.
pub struct ConsumerWorkload {
    spec: crate::scenario::Workload,
    /// Set once readers have caught up; every client of the workload reads it.
    stop: Arc<AtomicBool>,
}

impl ConsumerWorkload {
    pub fn new(spec: &crate::scenario::Workload) -> ConsumerWorkload {
        ConsumerWorkload {
            spec: spec.clone(),
            stop: Arc::default(),
        }
    }
}

impl Workload for ConsumerWorkload {
    fn start(&mut self, client: Client<'_>) -> Option<crate::cluster::ClientRestart> {
        let recorder = client.recorder.clone();
        let topic = self.spec.topic.clone();
        let partitions = client.partitions;
        let this = client.process;
        let stop = self.stop.clone();
        let config = super::consumer_config(&self.spec, client.bootstrap, this);
        client.node.spawn(async move {
            let consumer = Consumer::new(config);
            run_consumer(topic, partitions, this, consumer, recorder, stop).await
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

/// One consumer process: assigned every partition of the topic, polls until `stop`.
async fn run_consumer(
    topic: String,
    partitions: i32,
    process: u32,
    mut consumer: Consumer,
    recorder: Recorder,
    stop: Arc<AtomicBool>,
) {
    let assignment: Vec<(String, i32)> = (0..partitions).map(|p| (topic.clone(), p)).collect();
    consumer.assign(&assignment);
    while !stop.load(Ordering::Relaxed) {
        let op = recorder.invoke(process, EventKind::PollInvoke);
        let result = consumer.poll(Duration::from_millis(500)).await;
        for (topic, partition, offset) in consumer.take_resets() {
            recorder.seek(process, Tp::new(topic, partition), offset);
        }
        let kind = match result {
            Ok(records) => EventKind::PollComplete {
                outcome: Outcome::Ok,
                reads: reads_of(&records),
            },
            Err(ConsumeError::OutOfRange { topic, partition }) => EventKind::PollComplete {
                outcome: Outcome::Fail(format!("offset out of range on {topic}/{partition}")),
                reads: Vec::new(),
            },
            Err(error @ (ConsumeError::Conn(_) | ConsumeError::Corrupt { .. })) => {
                EventKind::PollComplete {
                    outcome: Outcome::Fail(error.to_string()),
                    reads: Vec::new(),
                }
            }
        };
        recorder.complete(process, op, kind);
    }
}

/// The workload values a poll returned, in order (records whose value is not a workload
/// value are left out).
pub(super) fn reads_of(records: &[kafkasim::client::ConsumerRecord]) -> Vec<Read> {
    records
        .iter()
        .filter_map(|r| {
            let value = std::str::from_utf8(r.value.as_deref()?)
                .ok()?
                .parse::<u64>()
                .ok()?;
            Some(Read {
                tp: Tp::new(r.topic.clone(), r.partition),
                offset: r.offset,
                value,
            })
        })
        .collect()
}
