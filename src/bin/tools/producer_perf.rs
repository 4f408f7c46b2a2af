//! `producer-perf-test`: Kafka's `kafka-producer-perf-test` on kafkasim's own producer.
//!
//! Sends `--num-records` records of `--record-size` bytes (one payload of random capital
//! letters, no key, as Kafka's tool sends) to `--topic`, paced by the [`Throttler`], and
//! measures each record's latency from the `send` call to its acknowledgement. Records sent and
//! not yet acknowledged are bounded by `buffer.memory`, as Kafka's producer blocks `send` when
//! its buffer is full. Prints a window line every reporting interval and Kafka's final line.
//!
//! Acknowledgements are awaited per partition, in send order, by one task per partition: a
//! partition's batches are acknowledged in order (one connection to its leader answers in
//! order), so awaiting them in order adds no delay to a record's measured latency.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kafkasim::client::{
    Delivery, ProduceError, Producer, ProducerConfig, ProducerRecord, RecordMetadata,
};
use kafkasim::env::SystemClock;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::perf_args::{apply_producer_props, payload, ProducerPerfArgs};
use crate::stats::Stats;
use crate::throttle::Throttler;

/// What kafkasim's producer counts per record on top of its key and value (see
/// `accumulate` in src/client/producer.rs), for the `buffer.memory` bound.
const RECORD_OVERHEAD_BYTES: u64 = 16;
/// Failed records whose error is printed; the rest are only counted.
const ERRORS_PRINTED_MAX: u64 = 5;

/// Resolve `HOST:PORT` strings, in order.
pub fn resolve(servers: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    for server in servers {
        let mut addrs = server
            .to_socket_addrs()
            .map_err(|e| anyhow::anyhow!("bootstrap server {server}: {e}"))?;
        out.push(
            addrs
                .next()
                .ok_or_else(|| anyhow::anyhow!("bootstrap server {server}: no address"))?,
        );
    }
    Ok(out)
}

/// State the send loop shares with the acknowledgement tasks.
struct Shared {
    start: Instant,
    stats: Mutex<Stats>,
    record_bytes: u64,
    /// Records acknowledged or failed.
    completed: AtomicU64,
    failed: AtomicU64,
    /// Wakes the send loop when a record completes and it waits for room in the buffer.
    completion: Notify,
}

pub async fn run(args: ProducerPerfArgs) -> anyhow::Result<()> {
    let mut config = ProducerConfig::new(resolve(&args.bootstrap)?);
    config.client_id = "perf-producer-client".into();
    for warning in apply_producer_props(&mut config, &args.props).map_err(anyhow::Error::msg)? {
        eprintln!("WARNING: {warning}");
    }
    let producer = Producer::new(config, Arc::new(SystemClock));
    let record_bytes = args.record_size as u64;
    let in_flight_max = (args.buffer_memory / (record_bytes + RECORD_OVERHEAD_BYTES)).max(1);
    let shared = Arc::new(Shared {
        start: Instant::now(),
        stats: Mutex::new(Stats::new(args.num_records, args.reporting_interval)),
        record_bytes,
        completed: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        completion: Notify::new(),
    });
    for collector in send_all(&args, &producer, &shared, in_flight_max).await? {
        collector.await?;
    }
    let elapsed = shared.start.elapsed();
    println!("{}", shared.stats.lock().unwrap().total_line(elapsed));
    let failed = shared.failed.load(Ordering::Acquire);
    anyhow::ensure!(failed == 0, "{failed} record(s) not acknowledged");
    Ok(())
}

/// Send `--num-records` records, paced by the throttler and bounded by `in_flight_max`
/// records not yet acknowledged; returns the acknowledgement tasks, one per partition.
async fn send_all(
    args: &ProducerPerfArgs,
    producer: &Producer,
    shared: &Arc<Shared>,
    in_flight_max: u64,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let payload = payload(args.record_size);
    let mut partitions: BTreeMap<i32, mpsc::UnboundedSender<(u64, Instant, Delivery)>> =
        BTreeMap::new();
    let mut collectors = Vec::new();
    let mut throttler = Throttler::new(args.throughput);
    for i in 0..args.num_records {
        while i - shared.completed.load(Ordering::Acquire) >= in_flight_max {
            shared.completion.notified().await;
        }
        let send_start = Instant::now();
        let record = ProducerRecord {
            topic: args.topic.clone(),
            partition: None,
            key: None,
            value: Some(payload.clone()),
        };
        let (partition, delivery) = producer
            .send(record)
            .await
            .map_err(|e| anyhow::anyhow!("send to {}: {e}", args.topic))?;
        let acknowledgements = partitions.entry(partition).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            collectors.push(tokio::spawn(acknowledge(rx, shared.clone())));
            tx
        });
        acknowledgements
            .send((i, send_start, delivery))
            .expect("the acknowledgement task outlives the send loop");
        if throttler.should_throttle(i, send_start - shared.start) {
            if let Some(sleep) = throttler.throttle() {
                tokio::time::sleep(sleep).await;
            }
        }
    }
    Ok(collectors)
}

/// Await one partition's acknowledgements in send order and record each latency. Records
/// acknowledged together (one batch) are taken without awaiting again and share one reading of
/// the clock and one lock of the statistics.
async fn acknowledge(
    mut deliveries: mpsc::UnboundedReceiver<(u64, Instant, Delivery)>,
    shared: Arc<Shared>,
) {
    let mut next = deliveries.recv().await;
    while let Some((iteration, sent_at, delivery)) = next.take() {
        let outcome = delivery.await;
        let now = Instant::now();
        let completed = {
            let mut stats = shared.stats.lock().unwrap();
            let mut completed = 1;
            record(&shared, &mut stats, iteration, sent_at, now, outcome.ok());
            while let Ok((iteration, sent_at, mut delivery)) = deliveries.try_recv() {
                match delivery.try_recv() {
                    Ok(outcome) => {
                        record(&shared, &mut stats, iteration, sent_at, now, Some(outcome))
                    }
                    Err(oneshot::error::TryRecvError::Closed) => {
                        record(&shared, &mut stats, iteration, sent_at, now, None)
                    }
                    Err(oneshot::error::TryRecvError::Empty) => {
                        next = Some((iteration, sent_at, delivery));
                        break;
                    }
                }
                completed += 1;
            }
            completed
        };
        shared.completed.fetch_add(completed, Ordering::Release);
        shared.completion.notify_one();
        if next.is_none() {
            next = deliveries.recv().await;
        }
    }
}

/// One record's outcome; `None` if the producer dropped it without an answer.
fn record(
    shared: &Shared,
    stats: &mut Stats,
    iteration: u64,
    sent_at: Instant,
    now: Instant,
    outcome: Option<Result<RecordMetadata, ProduceError>>,
) {
    match outcome {
        Some(Ok(_)) => {
            let line = stats.record(
                iteration,
                now - sent_at,
                shared.record_bytes,
                now - shared.start,
            );
            if let Some(line) = line {
                println!("{line}");
            }
        }
        Some(Err(error)) => failed(shared, &error.to_string()),
        None => failed(shared, "the producer dropped the record"),
    }
}

fn failed(shared: &Shared, error: &str) {
    if shared.failed.fetch_add(1, Ordering::AcqRel) < ERRORS_PRINTED_MAX {
        eprintln!("record not acknowledged: {error}");
    }
}
