//! The producer workload: each client sends unique u64 values (decimal ASCII) at the
//! workload's rate until the fault phase ends, recording every send's invoke and completion.
//! It picks the partition itself (murmur2 of the key, or round-robin) so the history knows the
//! target partition at invoke time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafkasim::client::partitioner::partition_for_key;
use kafkasim::client::{ProduceError, Producer, ProducerRecord};

use super::{Client, StopAt, Workload};
use crate::cluster::clock::SimClock;
use crate::history::{EventKind, History, Outcome, Tp};
use crate::scenario::configs::{int_or_default, Scope};

/// A `[[workload]] kind = "producer"`.
pub struct ProducerWorkload {
    spec: crate::scenario::Workload,
    /// Set when the fault phase ends; every client of the workload reads it.
    stop: Arc<AtomicBool>,
    /// The processes it started, to count only its own sends in the effects.
    processes: Vec<u32>,
}

impl ProducerWorkload {
    pub fn new(spec: &crate::scenario::Workload) -> ProducerWorkload {
        ProducerWorkload {
            spec: spec.clone(),
            stop: Arc::default(),
            processes: Vec::new(),
        }
    }
}

impl Workload for ProducerWorkload {
    fn start(&mut self, client: Client<'_>) -> Option<crate::cluster::ClientRestart> {
        self.processes.push(client.process);
        let recorder = client.recorder.clone();
        let workload = self.spec.clone();
        let this = client.process;
        let partitions = client.partitions;
        let seed = client.seed;
        let stop = self.stop.clone();
        let config = super::producer_config(&workload, client.bootstrap, this);
        let client_clock = Arc::new(SimClock::new(client.clock, Arc::default()));
        client.node.spawn(async move {
            let producer = Producer::new(config, client_clock);
            run_producer(workload, partitions, this, producer, recorder, stop, seed).await
        });
        None
    }

    fn stop_at(&self) -> StopAt {
        StopAt::FaultsEnd
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn settle_time(&self) -> Duration {
        let timeout = int_or_default(&self.spec.config, Scope::Producer, "delivery.timeout.ms");
        Duration::from_millis(timeout.max(0) as u64)
    }

    /// Counts why its sends were not acknowledged, by the first word of the error, so a
    /// scenario can show what its fault made clients see (e.g.
    /// `producer.error.kafka_storage_error`).
    fn add_effects(&self, history: &History, effects: &mut BTreeMap<String, u64>) {
        let own = history
            .events
            .iter()
            .filter(|event| self.processes.contains(&event.process));
        for event in own {
            if let EventKind::SendComplete { outcome, .. } = &event.kind {
                let message = match outcome {
                    Outcome::Fail(m) | Outcome::Info(m) => m,
                    Outcome::Ok => continue,
                };
                let word: String = message
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("unknown")
                    .to_ascii_lowercase();
                *effects.entry(format!("producer.error.{word}")).or_default() += 1;
            }
        }
    }
}

/// One producer process: sends at the workload's rate until `stop`, recording each send.
async fn run_producer(
    workload: crate::scenario::Workload,
    mut partitions: i32,
    process: u32,
    producer: Producer,
    recorder: super::Recorder,
    stop: Arc<AtomicBool>,
    seed: u64,
) {
    let interval = Duration::from_secs_f64(1.0 / workload.rate_per_sec);
    let mut sent: u64 = 0;
    let mut next = tokio::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        next += interval;
        tokio::time::sleep_until(next).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Unique per process and send; the value is the record and its identity.
        let value = ((process as u64) << 40) | sent;
        sent += 1;
        let key = format!("k{}", splitmix(seed ^ value) % 64);
        // The count the producer's metadata shows now: partitions added during the run come
        // into use once its metadata is refreshed (metadata.max.age.ms).
        if let Some(known) = producer
            .known_partition_count(&workload.topic)
            .filter(|n| *n > 0)
        {
            partitions = known as i32;
        }
        let partition = if workload.keyed {
            partition_for_key(key.as_bytes(), partitions as usize)
        } else {
            (sent % partitions as u64) as i32
        };
        let tp = Tp::new(workload.topic.clone(), partition);
        let op = recorder.invoke(process, EventKind::SendInvoke { tp, value });
        recorder.pending_sends.fetch_add(1, Ordering::Relaxed);
        let record = ProducerRecord {
            topic: workload.topic.clone(),
            partition: Some(partition),
            key: workload.keyed.then(|| Bytes::from(key)),
            value: Some(Bytes::from(value.to_string())),
        };
        let producer = producer.clone();
        let recorder = recorder.clone();
        let acks_zero = producer.config().acks == 0;
        tokio::spawn(async move {
            let outcome = match producer.send(record).await {
                Err(error) => Err(error),
                Ok((_, delivery)) => delivery
                    .await
                    .unwrap_or(Err(ProduceError::Info("producer dropped".into()))),
            };
            let (outcome, offset) = match outcome {
                Ok(meta) if acks_zero || meta.offset < 0 => {
                    (Outcome::Info("acks=0: no acknowledgement".into()), None)
                }
                Ok(meta) => (Outcome::Ok, Some(meta.offset)),
                Err(ProduceError::Fail(e)) => (Outcome::Fail(e), None),
                Err(ProduceError::Info(e)) => (Outcome::Info(e), None),
            };
            recorder.complete(process, op, EventKind::SendComplete { outcome, offset });
            recorder.pending_sends.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// A deterministic mix of the seed and a counter (no RNG state to thread through).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
