//! Workloads: producer and consumer client processes, each on its own simulated node, that
//! drive kafkasim's clients and record every operation in the history.
//!
//! Producers write unique u64 values (decimal ASCII) so each value names one send. The
//! workload picks the partition itself (murmur2 of the key, or round-robin) so the history
//! knows the target partition at invoke time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::records::Compression;
use kafkasim::client::partitioner::partition_for_key;
use kafkasim::client::{
    ConsumeError, Consumer, ConsumerConfig, OffsetReset, ProduceError, Producer, ProducerConfig,
    ProducerRecord,
};

use crate::cluster::clock::RunClock;
use crate::history::{EventKind, History, Outcome, Read, Tp};
use crate::scenario::configs::{int_or_default, value_or_default, Scope};
use crate::scenario::{ConfigValue, Workload};
use crate::trace::RunTrace;

/// The history plus what feeds the trace: every event is hashed as it is recorded.
#[derive(Clone)]
pub struct Recorder {
    history: Arc<Mutex<History>>,
    trace: Arc<RunTrace>,
    clock: RunClock,
    /// Sends invoked and not yet completed.
    pub pending_sends: Arc<AtomicU64>,
}

impl Recorder {
    pub fn new(trace: Arc<RunTrace>, clock: RunClock) -> Recorder {
        Recorder {
            history: Arc::default(),
            trace,
            clock,
            pending_sends: Arc::default(),
        }
    }

    fn hash(&self, process: u32, op: u64, kind: &EventKind) {
        let bytes = serde_json::to_vec(&(process, op, kind)).expect("events serialize");
        self.trace.record(0, "history", &bytes);
    }

    pub fn invoke(&self, process: u32, kind: EventKind) -> u64 {
        self.hash(process, u64::MAX, &kind);
        self.history
            .lock()
            .unwrap()
            .invoke(self.clock.now_ms(), process, kind)
    }

    pub fn complete(&self, process: u32, op: u64, kind: EventKind) {
        self.hash(process, op, &kind);
        self.history
            .lock()
            .unwrap()
            .push(self.clock.now_ms(), process, op, kind);
    }

    pub fn seek(&self, process: u32, tp: Tp, offset: i64) {
        let kind = EventKind::Seek { tp, offset };
        self.hash(process, u64::MAX, &kind);
        let mut history = self.history.lock().unwrap();
        let op = history.next_op();
        history.push(self.clock.now_ms(), process, op, kind);
    }

    pub fn history(&self) -> History {
        self.history.lock().unwrap().clone()
    }
}

fn compression(name: &str) -> Compression {
    match name {
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => Compression::None,
    }
}

fn string_config(workload: &Workload, place: Scope, name: &str) -> String {
    match value_or_default(&workload.config, place, name) {
        ConfigValue::Str(s) => s,
        ConfigValue::Int(i) => i.to_string(),
        ConfigValue::Bool(b) => b.to_string(),
    }
}

fn ms(workload: &Workload, place: Scope, name: &str) -> Duration {
    Duration::from_millis(int_or_default(&workload.config, place, name).max(0) as u64)
}

/// The producer configs of a workload, Kafka defaults where the scenario is silent.
pub fn producer_config(
    workload: &Workload,
    bootstrap: Vec<SocketAddr>,
    process: u32,
) -> ProducerConfig {
    let mut config = ProducerConfig::new(bootstrap);
    config.client_id = format!("producer-{process}");
    config.acks = match string_config(workload, Scope::Producer, "acks").as_str() {
        "0" => 0,
        "1" => 1,
        _ => -1,
    };
    config.batch_size =
        int_or_default(&workload.config, Scope::Producer, "batch.size").max(0) as usize;
    config.linger = ms(workload, Scope::Producer, "linger.ms");
    config.retries = int_or_default(&workload.config, Scope::Producer, "retries")
        .clamp(0, u32::MAX as i64) as u32;
    config.retry_backoff = ms(workload, Scope::Producer, "retry.backoff.ms");
    config.max_in_flight = int_or_default(
        &workload.config,
        Scope::Producer,
        "max.in.flight.requests.per.connection",
    ) as usize;
    config.delivery_timeout = ms(workload, Scope::Producer, "delivery.timeout.ms");
    config.request_timeout = ms(workload, Scope::Producer, "request.timeout.ms");
    config.compression = compression(&string_config(
        workload,
        Scope::Producer,
        "compression.type",
    ));
    config
}

/// The consumer configs of a workload.
pub fn consumer_config(
    workload: &Workload,
    bootstrap: Vec<SocketAddr>,
    process: u32,
) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(bootstrap);
    config.client_id = format!("consumer-{process}");
    config.auto_offset_reset =
        match string_config(workload, Scope::Consumer, "auto.offset.reset").as_str() {
            "earliest" => OffsetReset::Earliest,
            "none" => OffsetReset::None,
            _ => OffsetReset::Latest,
        };
    config.fetch_min_bytes =
        int_or_default(&workload.config, Scope::Consumer, "fetch.min.bytes") as i32;
    config.fetch_max_wait = ms(workload, Scope::Consumer, "fetch.max.wait.ms");
    config.max_partition_fetch_bytes = int_or_default(
        &workload.config,
        Scope::Consumer,
        "max.partition.fetch.bytes",
    ) as i32;
    config
}

/// One producer process: sends at the workload's rate until `stop`, recording each send.
pub async fn run_producer(
    workload: Workload,
    partitions: i32,
    process: u32,
    producer: Producer,
    recorder: Recorder,
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

/// One ListOffsets client: every `1 / rate` seconds it asks each partition's leader for the
/// latest offset, until `stop`. Answers are checked online at the broker
/// (`list-offsets-regression`); errors (a moved leader, OFFSET_NOT_AVAILABLE) just wait for
/// the next round, after the consumer's metadata refresh.
pub async fn run_list_offsets(
    workload: Workload,
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

/// One consumer process: assigned every partition of the topic, polls until `stop`.
pub async fn run_consumer(
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
            Ok(records) => {
                let reads = records
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
                    .collect();
                EventKind::PollComplete {
                    outcome: Outcome::Ok,
                    reads,
                }
            }
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

/// A deterministic mix of the seed and a counter (no RNG state to thread through).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
