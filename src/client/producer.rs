//! The producer: partitions records, batches them per partition (`batch.size`, `linger.ms`),
//! and delivers each batch to the partition leader with retries (`retries`,
//! `retry.backoff.ms`, `delivery.timeout.ms`), at most `max.in.flight.requests.per.connection`
//! batches in flight per partition.
//!
//! With `enable.idempotence` (KIP-98) the producer first gets a producer id (InitProducerId)
//! and numbers each partition's records with sequences from 0; a retry resends the same
//! bytes, so the leader recognises a batch it already appended and answers its offsets
//! instead of writing it twice. A batch that ends without success (or is refused as out of
//! order when no earlier batch of its partition is still unresolved) makes the producer take a
//! new producer id and restart its sequences, as Kafka's client bumps its epoch.
//!
//! Every record's outcome is one of: its offset; [`ProduceError::Fail`] — it definitely was
//! not written (every attempt was rejected before the append); or [`ProduceError::Info`] —
//! it may have been written (some attempt's fate is unknown: a broken connection, a timeout,
//! an error after the append). This is exactly the history's ok / fail / info.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, RequestKind, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::sync::{mpsc, oneshot, Mutex, Semaphore};
use tokio::time::Instant;

use super::cluster::ClusterClient;
use super::connection::ConnError;
use super::partitioner::partition_for_key;
use crate::env::Clock;
use crate::protocol::codes::{ErrorCode, WriteOutcome};

const PRODUCE_VERSION: i16 = 8;

/// Producer configs, Kafka names in the comments.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub bootstrap: Vec<SocketAddr>,
    pub client_id: String,
    /// `acks`: 0, 1 or -1 (all).
    pub acks: i16,
    /// `batch.size` in bytes.
    pub batch_size: usize,
    /// `linger.ms`.
    pub linger: Duration,
    /// `retries`.
    pub retries: u32,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight: usize,
    /// `delivery.timeout.ms`: the bound on a record's whole life, retries included.
    pub delivery_timeout: Duration,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `compression.type`.
    pub compression: Compression,
    /// `metadata.max.age.ms`: metadata older than this is refreshed before the next send
    /// picks a partition, so partitions added to a topic come into use.
    pub metadata_max_age: Duration,
    /// `enable.idempotence`. Kafka's default is true since 3.0; kafkasim's client defaults to
    /// false so that existing scenarios and tools keep their behaviour. It takes effect only
    /// with acks=all and at most 5 requests in flight, as Kafka requires.
    pub enable_idempotence: bool,
}

impl ProducerConfig {
    /// Kafka's defaults.
    pub fn new(bootstrap: Vec<SocketAddr>) -> Self {
        ProducerConfig {
            bootstrap,
            client_id: "kafkasim-producer".into(),
            acks: -1,
            batch_size: 16_384,
            linger: Duration::from_millis(5),
            retries: i32::MAX as u32,
            retry_backoff: Duration::from_millis(100),
            max_in_flight: 5,
            delivery_timeout: Duration::from_millis(120_000),
            request_timeout: Duration::from_millis(30_000),
            compression: Compression::None,
            metadata_max_age: Duration::from_millis(300_000),
            enable_idempotence: false,
        }
    }

    /// Whether batches carry a producer id and sequences.
    pub fn idempotent(&self) -> bool {
        self.enable_idempotence && self.acks == -1 && (1..=5).contains(&self.max_in_flight)
    }
}

/// A record to send.
#[derive(Debug, Clone, Default)]
pub struct ProducerRecord {
    pub topic: String,
    /// Explicit partition; otherwise chosen from the key (murmur2) or sticky.
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// Where an acknowledged record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMetadata {
    pub partition: i32,
    pub offset: i64,
}

/// A record that was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProduceError {
    /// Definitely not written.
    #[error("failed: {0}")]
    Fail(String),
    /// May have been written.
    #[error("unknown outcome: {0}")]
    Info(String),
}

/// Resolves when the record is acknowledged or given up on.
pub type Delivery = oneshot::Receiver<Result<RecordMetadata, ProduceError>>;

struct Pending {
    record: Record,
    reply: oneshot::Sender<Result<RecordMetadata, ProduceError>>,
}

struct Batch {
    topic: String,
    partition: i32,
    records: Vec<Pending>,
    bytes: usize,
    created: Instant,
    /// Producer id, epoch, base sequence and generation, given at dispatch when idempotent.
    idempotent: Option<Sequenced>,
}

/// An idempotent batch's identity: what makes its retries recognisable.
#[derive(Clone, Copy, Debug)]
struct Sequenced {
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    /// The [`Idempotence::generation`] the batch was numbered in.
    generation: u64,
    /// Dispatch order within the partition.
    ticket: u64,
}

/// The idempotent producer's shared state.
#[derive(Debug, Default)]
struct Idempotence {
    /// The producer id and epoch of this generation, once InitProducerId answered.
    producer: Option<(i64, i16)>,
    /// Bumped when sequences must restart under a new producer id.
    generation: u64,
    /// The next sequence per partition, in this generation.
    next_sequence: BTreeMap<(String, i32), i32>,
    /// Batches dispatched and not yet resolved, per partition: ticket → generation.
    unresolved: BTreeMap<(String, i32), BTreeMap<u64, u64>>,
    /// The next dispatch ticket.
    next_ticket: u64,
}

impl Idempotence {
    /// Number a batch of `count` records of `partition`; the producer id must be known.
    fn assign(&mut self, topic: &str, partition: i32, count: usize) -> Sequenced {
        let (producer_id, producer_epoch) = self.producer.expect("initialised before dispatch");
        let key = (topic.to_string(), partition);
        let next = self.next_sequence.entry(key.clone()).or_insert(0);
        let base_sequence = *next;
        *next = crate::txn::producer_state::increment_sequence(base_sequence, count as i32);
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.unresolved
            .entry(key)
            .or_default()
            .insert(ticket, self.generation);
        Sequenced {
            producer_id,
            producer_epoch,
            base_sequence,
            generation: self.generation,
            ticket,
        }
    }

    /// Whether an earlier batch of the same partition and generation is still unresolved:
    /// then an out-of-order answer may only mean that batch has not landed yet.
    fn earlier_unresolved(&self, topic: &str, partition: i32, batch: &Sequenced) -> bool {
        self.unresolved
            .get(&(topic.to_string(), partition))
            .is_some_and(|tickets| {
                tickets
                    .range(..batch.ticket)
                    .any(|(_, generation)| *generation == batch.generation)
            })
    }

    /// Whether a batch numbered under an earlier generation is still unresolved.
    fn older_generation_unresolved(&self) -> bool {
        self.unresolved
            .values()
            .flat_map(|tickets| tickets.values())
            .any(|generation| *generation < self.generation)
    }

    /// The batch is done. One that did not succeed leaves a hole in its partition's
    /// sequences: the next dispatch starts a new generation under a new producer id.
    fn resolve(&mut self, topic: &str, partition: i32, batch: &Sequenced, succeeded: bool) {
        if let Some(tickets) = self.unresolved.get_mut(&(topic.to_string(), partition)) {
            tickets.remove(&batch.ticket);
        }
        if !succeeded && batch.generation == self.generation {
            self.generation += 1;
            self.producer = None;
            self.next_sequence.clear();
        }
    }
}

type SharedIdempotence = Arc<std::sync::Mutex<Idempotence>>;

/// The sticky partition of each topic for keyless records.
type Sticky = Arc<std::sync::Mutex<BTreeMap<String, i32>>>;

/// A producer; cheap to clone.
#[derive(Clone)]
pub struct Producer {
    config: Arc<ProducerConfig>,
    cluster: Arc<Mutex<ClusterClient>>,
    clock: Arc<dyn Clock>,
    records: mpsc::Sender<(String, i32, Pending)>,
    /// The sticky partition per topic for keyless records.
    sticky: Sticky,
}

impl Producer {
    /// Create a producer; its batching task runs on the current node.
    pub fn new(config: ProducerConfig, clock: Arc<dyn Clock>) -> Producer {
        let cluster = ClusterClient::new(
            config.bootstrap.clone(),
            &config.client_id,
            config.max_in_flight,
            config.request_timeout,
        );
        let cluster = Arc::new(Mutex::new(cluster));
        let config = Arc::new(config);
        let (records, rx) = mpsc::channel(65_536);
        let sticky: Sticky = Arc::default();
        tokio::spawn(accumulate(
            config.clone(),
            cluster.clone(),
            rx,
            sticky.clone(),
            SharedIdempotence::default(),
        ));
        Producer {
            config,
            cluster,
            clock,
            records,
            sticky,
        }
    }

    /// Choose the record's partition and queue it; returns the partition and a future for
    /// its outcome. Fails at once (definitely not written) if the topic is unknown.
    pub async fn send(&self, record: ProducerRecord) -> Result<(i32, Delivery), ProduceError> {
        let partitions = self.partition_count(&record.topic).await?;
        let partition = match (record.partition, &record.key) {
            (Some(p), _) if p >= 0 && (p as usize) < partitions => p,
            (Some(p), _) => return Err(ProduceError::Fail(format!("partition {p} out of range"))),
            (None, Some(key)) => partition_for_key(key, partitions),
            (None, None) => self.sticky_partition(&record.topic, partitions),
        };
        let (reply, rx) = oneshot::channel();
        let pending = Pending {
            record: Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: 0,
                sequence: 0,
                timestamp: self.clock.wall_ms(),
                key: record.key,
                value: record.value,
                headers: Default::default(),
            },
            reply,
        };
        self.records
            .send((record.topic, partition, pending))
            .await
            .map_err(|_| ProduceError::Fail("producer closed".into()))?;
        Ok((partition, rx))
    }

    async fn partition_count(&self, topic: &str) -> Result<usize, ProduceError> {
        let mut cluster = self.cluster.lock().await;
        let cached = cluster.partition_count(topic);
        if let Some(n) = cached {
            if !cluster.metadata_older_than(self.config.metadata_max_age) {
                return Ok(n);
            }
        }
        let refreshed = cluster.refresh(&[topic.to_string()]).await;
        match (refreshed, cluster.partition_count(topic).or(cached)) {
            (_, Some(n)) => Ok(n),
            (Err(e), None) => Err(ProduceError::Fail(format!("metadata: {e}"))),
            (Ok(_), None) => Err(ProduceError::Fail(format!("unknown topic {topic}"))),
        }
    }

    /// The topic's partition count as the producer last saw it, without waiting (None if
    /// unknown, or while the metadata is being refreshed).
    pub fn known_partition_count(&self, topic: &str) -> Option<usize> {
        self.cluster.try_lock().ok()?.partition_count(topic)
    }

    fn sticky_partition(&self, topic: &str, partitions: usize) -> i32 {
        let mut sticky = self.sticky.lock().unwrap();
        if let Some(partition) = sticky.get(topic) {
            return *partition;
        }
        let partition = (madsim::rand::random::<u32>() as usize % partitions) as i32;
        sticky.insert(topic.to_string(), partition);
        partition
    }

    /// The producer's config.
    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }
}

/// Open batches by topic, then partition: looked up by `&str`, so adding a record to an open
/// batch allocates nothing. Iterates in (topic, partition) order.
type OpenBatches = BTreeMap<String, BTreeMap<i32, Batch>>;

/// Records the batching loop takes from the channel without awaiting before it awaits once
/// (which, in real mode, lets tokio's cooperative budget make it yield).
const DRAIN_WITHOUT_AWAIT_MAX: usize = 128;

/// The most records a new batch reserves room for (it grows past that if they are small).
const BATCH_RECORDS_RESERVED_MAX: usize = 512;

/// The batching loop: gathers records per partition and hands full or lingered batches to
/// delivery tasks.
///
/// A record already queued is taken with `try_recv`, with no timer built for it: the same
/// record `timeout(linger, recv())` would return, since both madsim's and tokio's timeout poll
/// the receiver before the timer, and a timer that is never polled is never registered. So the
/// simulated schedule is the one the plain await gives.
async fn accumulate(
    config: Arc<ProducerConfig>,
    cluster: Arc<Mutex<ClusterClient>>,
    mut rx: mpsc::Receiver<(String, i32, Pending)>,
    sticky: Sticky,
    idempotence: SharedIdempotence,
) {
    let mut open = OpenBatches::new();
    let mut in_flight: BTreeMap<(String, i32), Arc<Semaphore>> = BTreeMap::new();
    let mut drained = 0;
    loop {
        let queued = if drained < DRAIN_WITHOUT_AWAIT_MAX {
            rx.try_recv().ok()
        } else {
            None
        };
        let next = match queued {
            Some(message) => {
                drained += 1;
                Ok(Some(message))
            }
            None => {
                drained = 0;
                next_or_linger(&config, &open, &mut rx).await
            }
        };
        match next {
            Ok(Some((topic, partition, pending))) => {
                if let Some(batch) = add(&config, &mut open, topic, partition, pending) {
                    unstick(&sticky, &batch);
                    ensure_producer_id(&config, &cluster, &idempotence).await;
                    dispatch(&config, &cluster, &mut in_flight, &idempotence, batch);
                }
            }
            Ok(None) => return,
            Err(_) => {
                for batch in lingered(&config, &mut open) {
                    unstick(&sticky, &batch);
                    ensure_producer_id(&config, &cluster, &idempotence).await;
                    dispatch(&config, &cluster, &mut in_flight, &idempotence, batch);
                }
            }
        }
    }
}

/// The next record, or `Err` once the oldest open batch has lingered `linger.ms`.
async fn next_or_linger(
    config: &ProducerConfig,
    open: &OpenBatches,
    rx: &mut mpsc::Receiver<(String, i32, Pending)>,
) -> Result<Option<(String, i32, Pending)>, tokio::time::error::Elapsed> {
    let deadline = open
        .values()
        .flat_map(BTreeMap::values)
        .map(|b| b.created + config.linger)
        .min();
    match deadline {
        Some(deadline) => {
            tokio::time::timeout(
                deadline.saturating_duration_since(Instant::now()),
                rx.recv(),
            )
            .await
        }
        None => Ok(rx.recv().await),
    }
}

/// Add a record to its partition's open batch; returns the batch if that filled it.
fn add(
    config: &ProducerConfig,
    open: &mut OpenBatches,
    topic: String,
    partition: i32,
    mut pending: Pending,
) -> Option<Batch> {
    let size = pending.record.value.as_ref().map_or(0, |v| v.len())
        + pending.record.key.as_ref().map_or(0, |k| k.len())
        + 16;
    let partitions = match open.get_mut(topic.as_str()) {
        Some(partitions) => partitions,
        None => open.entry(topic.clone()).or_default(),
    };
    let batch = partitions.entry(partition).or_insert_with(|| Batch {
        topic,
        partition,
        records: Vec::with_capacity((config.batch_size / size + 1).min(BATCH_RECORDS_RESERVED_MAX)),
        bytes: 0,
        created: Instant::now(),
        idempotent: None,
    });
    // The crate's encoder starts a new batch whenever a record's sequence is not base + i,
    // so number them 0, 1, 2, … to get exactly one batch.
    pending.record.offset = batch.records.len() as i64;
    pending.record.sequence = batch.records.len() as i32;
    batch.records.push(pending);
    batch.bytes += size;
    if batch.bytes < config.batch_size {
        return None;
    }
    let batch = partitions.remove(&partition).expect("just added to");
    Some(batch)
}

/// Take every open batch that has lingered `linger.ms`, in (topic, partition) order.
fn lingered(config: &ProducerConfig, open: &mut OpenBatches) -> Vec<Batch> {
    let now = Instant::now();
    let mut ready = Vec::new();
    for partitions in open.values_mut() {
        let due: Vec<i32> = partitions
            .iter()
            .filter(|(_, b)| b.created + config.linger <= now)
            .map(|(p, _)| *p)
            .collect();
        for partition in due {
            ready.push(partitions.remove(&partition).expect("listed above"));
        }
    }
    ready
}

/// Kafka's sticky partitioner: once the batch of the sticky partition is sent, keyless
/// records move to a new partition, chosen at the next keyless send.
fn unstick(sticky: &Sticky, batch: &Batch) {
    let mut sticky = sticky.lock().unwrap();
    if sticky.get(&batch.topic) == Some(&batch.partition) {
        sticky.remove(&batch.topic);
    }
}

/// How often a new generation checks whether the old one's batches are resolved.
const GENERATION_DRAIN_POLL: Duration = Duration::from_millis(5);

/// The InitProducerId version the client sends (flexible; no producer id of its own).
const INIT_PRODUCER_ID_VERSION: i16 = 2;

/// With idempotence, get a producer id before the first dispatch and after a generation
/// ends, retrying every `retry.backoff.ms` until a broker answers (as Kafka's client blocks
/// its sender until it has one). A new generation starts only once every batch of the old
/// one is resolved, as Kafka's client bumps its epoch only without batches in flight: a
/// retried old batch could otherwise land after newer ones and break the send order.
async fn ensure_producer_id(
    config: &ProducerConfig,
    cluster: &Mutex<ClusterClient>,
    idempotence: &SharedIdempotence,
) {
    if !config.idempotent() || idempotence.lock().unwrap().producer.is_some() {
        return;
    }
    while idempotence.lock().unwrap().older_generation_unresolved() {
        tokio::time::sleep(GENERATION_DRAIN_POLL).await;
    }
    loop {
        let request = kafka_protocol::messages::InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(i32::MAX);
        let response = cluster
            .lock()
            .await
            .request_any(
                RequestKind::InitProducerId(request),
                ApiKey::InitProducerId,
                INIT_PRODUCER_ID_VERSION,
            )
            .await;
        if let Ok(ResponseKind::InitProducerId(response)) = response {
            if response.error_code == ErrorCode::NONE.code() && response.producer_id.0 >= 0 {
                idempotence.lock().unwrap().producer =
                    Some((response.producer_id.0, response.producer_epoch));
                return;
            }
        }
        tokio::time::sleep(config.retry_backoff.max(Duration::from_millis(1))).await;
    }
}

fn dispatch(
    config: &Arc<ProducerConfig>,
    cluster: &Arc<Mutex<ClusterClient>>,
    in_flight: &mut BTreeMap<(String, i32), Arc<Semaphore>>,
    idempotence: &SharedIdempotence,
    mut batch: Batch,
) {
    if config.idempotent() {
        let sequenced =
            idempotence
                .lock()
                .unwrap()
                .assign(&batch.topic, batch.partition, batch.records.len());
        for (i, pending) in batch.records.iter_mut().enumerate() {
            pending.record.producer_id = sequenced.producer_id;
            pending.record.producer_epoch = sequenced.producer_epoch;
            // base + i for every record keeps the crate's encoder from splitting the batch.
            pending.record.sequence = sequenced.base_sequence.wrapping_add(i as i32);
        }
        batch.idempotent = Some(sequenced);
    }
    let idempotence = idempotence.clone();
    let semaphore = in_flight
        .entry((batch.topic.clone(), batch.partition))
        .or_insert_with(|| Arc::new(Semaphore::new(config.max_in_flight.max(1))))
        .clone();
    let config = config.clone();
    let cluster = cluster.clone();
    // Acquire in dispatch order (the semaphore is FIFO) so batches of a partition are sent in
    // order; with max.in.flight = 1 a batch is only sent after the previous one completed.
    let acquire = semaphore.acquire_owned();
    tokio::spawn(async move {
        let Ok(_permit) = acquire.await else { return };
        let outcome = if Instant::now() >= batch.created + config.delivery_timeout {
            // Kafka expires a batch that waited in the accumulator past delivery.timeout.ms:
            // it was never sent, so it definitely was not written.
            Err(ProduceError::Fail(
                "expired before it was sent (delivery.timeout.ms)".into(),
            ))
        } else {
            deliver(&config, &cluster, &idempotence, &batch).await
        };
        if let Some(sequenced) = &batch.idempotent {
            idempotence.lock().unwrap().resolve(
                &batch.topic,
                batch.partition,
                sequenced,
                outcome.is_ok(),
            );
        }
        for (i, pending) in batch.records.into_iter().enumerate() {
            let result = outcome.clone().map(|base_offset| RecordMetadata {
                partition: batch.partition,
                offset: base_offset + i as i64,
            });
            let _ = pending.reply.send(result);
        }
    });
}

/// Send one batch until it is acknowledged, definitely rejected, or out of time/retries.
/// Returns the base offset.
async fn deliver(
    config: &ProducerConfig,
    cluster: &Mutex<ClusterClient>,
    idempotence: &SharedIdempotence,
    batch: &Batch,
) -> Result<i64, ProduceError> {
    let records = encode(config, batch).map_err(ProduceError::Fail)?;
    let deadline = batch.created + config.delivery_timeout;
    // Once any attempt might have been applied, a later definite failure no longer proves
    // the record absent.
    let mut maybe_applied = false;
    let mut attempt = 0u32;
    loop {
        let result = attempt_once(config, cluster, batch, records.clone()).await;
        let (error, applied, retriable) = match result {
            Ok(base_offset) => return Ok(base_offset),
            Err(Attempt::Code(code)) => (
                code.name().into_owned(),
                code.write_outcome() != WriteOutcome::Fail,
                code.is_retriable() || waits_for_earlier(idempotence, batch, code),
            ),
            Err(Attempt::Conn(e)) => (e.to_string(), e.maybe_applied(), true),
            // Nothing reached a broker: this attempt cannot have been applied.
            Err(Attempt::NotSent(code)) => (code.name().into_owned(), false, true),
        };
        maybe_applied |= applied;
        attempt += 1;
        let out_of_time = Instant::now() + config.retry_backoff >= deadline;
        if !retriable || attempt > config.retries || out_of_time {
            let message = format!("{error} after {attempt} attempt(s)");
            return Err(if maybe_applied {
                ProduceError::Info(message)
            } else {
                ProduceError::Fail(message)
            });
        }
        tokio::time::sleep(config.retry_backoff).await;
    }
}

/// An idempotent batch refused as out of order while an earlier batch of its partition is
/// unresolved is retried: the earlier one may still land and close the gap (Kafka's client
/// retries such a batch unless it is the first in flight).
fn waits_for_earlier(idempotence: &SharedIdempotence, batch: &Batch, code: ErrorCode) -> bool {
    let Some(sequenced) = &batch.idempotent else {
        return false;
    };
    code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        && idempotence
            .lock()
            .unwrap()
            .earlier_unresolved(&batch.topic, batch.partition, sequenced)
}

enum Attempt {
    /// The broker answered with this error code.
    Code(ErrorCode),
    /// The request was sent and no answer came back.
    Conn(ConnError),
    /// The request was never sent (no leader known, no connection).
    NotSent(ErrorCode),
}

async fn attempt_once(
    config: &ProducerConfig,
    cluster: &Mutex<ClusterClient>,
    batch: &Batch,
    records: Bytes,
) -> Result<i64, Attempt> {
    let (leader, conn) = {
        let mut cluster = cluster.lock().await;
        let leader = match cluster.leader(&batch.topic, batch.partition) {
            Some(leader) => leader,
            None => {
                let _ = cluster.refresh(&[batch.topic.clone()]).await;
                cluster
                    .leader(&batch.topic, batch.partition)
                    .ok_or(Attempt::NotSent(ErrorCode::LEADER_NOT_AVAILABLE))?
            }
        };
        match cluster.connection(leader).await {
            Ok(conn) => (leader, conn),
            Err(e) => {
                // Not connected: nothing was sent, so this attempt cannot have been applied.
                let _ = cluster.refresh(&[batch.topic.clone()]).await;
                let code = if matches!(e, ConnError::Connect(_)) {
                    ErrorCode::LEADER_NOT_AVAILABLE
                } else {
                    ErrorCode::REQUEST_TIMED_OUT
                };
                return Err(Attempt::NotSent(code));
            }
        }
    };
    let mut partition = PartitionProduceData::default();
    partition.index = batch.partition;
    partition.records = Some(records);
    let mut topic = TopicProduceData::default();
    topic.name = TopicName(StrBytes::from_string(batch.topic.clone()));
    topic.partition_data = vec![partition];
    let mut request = ProduceRequest::default();
    request.acks = config.acks;
    request.timeout_ms = config.request_timeout.as_millis() as i32;
    request.topic_data = vec![topic];
    if config.acks == 0 {
        // No response will come: the write's fate is unknown by definition, but Kafka's
        // producer reports success with offset -1.
        return conn
            .send_only(
                RequestKind::Produce(request),
                ApiKey::Produce,
                PRODUCE_VERSION,
            )
            .await
            .map(|_| -1)
            .map_err(Attempt::Conn);
    }
    let response = conn
        .request(
            RequestKind::Produce(request),
            ApiKey::Produce,
            PRODUCE_VERSION,
            config.request_timeout,
        )
        .await;
    let response = match response {
        Ok(ResponseKind::Produce(response)) => response,
        Ok(_) => {
            return Err(Attempt::Conn(ConnError::Protocol(
                "unexpected response to Produce".into(),
            )))
        }
        Err(e) => {
            let mut cluster = cluster.lock().await;
            cluster.drop_connection(leader);
            let _ = cluster.refresh(&[batch.topic.clone()]).await;
            return Err(Attempt::Conn(e));
        }
    };
    let p = response
        .responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .find(|p| p.index == batch.partition)
        .ok_or(Attempt::Conn(ConnError::Protocol(
            "partition missing from Produce response".into(),
        )))?;
    if p.error_code == ErrorCode::NONE {
        Ok(p.base_offset)
    } else {
        let code = ErrorCode::from_wire(p.error_code);
        if matches!(
            code,
            ErrorCode::NOT_LEADER_OR_FOLLOWER
                | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                | ErrorCode::LEADER_NOT_AVAILABLE
        ) {
            let _ = cluster.lock().await.refresh(&[batch.topic.clone()]).await;
        }
        Err(Attempt::Code(code))
    }
}

fn encode(config: &ProducerConfig, batch: &Batch) -> Result<Bytes, String> {
    let records = batch.records.iter().map(|p| &p.record);
    debug_assert!(records
        .clone()
        .enumerate()
        .all(|(i, r)| r.offset == i as i64
            && r.sequence.wrapping_sub(i as i32) == batch.records[0].record.sequence));
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: config.compression,
    };
    RecordBatchEncoder::encode(&mut buf, records, &options).map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn initialised(producer_id: i64) -> Idempotence {
        Idempotence {
            producer: Some((producer_id, 0)),
            ..Idempotence::default()
        }
    }

    #[test]
    fn sequences_follow_per_partition_and_wrap_at_i32_max() {
        let mut state = initialised(7);
        let a = state.assign("t", 0, 3);
        let b = state.assign("t", 0, 2);
        let c = state.assign("t", 1, 4);
        assert_eq!(
            (a.base_sequence, b.base_sequence, c.base_sequence),
            (0, 3, 0)
        );
        assert_eq!((a.producer_id, a.producer_epoch), (7, 0));
        state
            .next_sequence
            .insert(("t".to_string(), 2), i32::MAX - 1);
        let d = state.assign("t", 2, 3);
        assert_eq!(d.base_sequence, i32::MAX - 1);
        assert_eq!(state.next_sequence[&("t".to_string(), 2)], 1);
    }

    #[test]
    fn out_of_order_waits_only_for_an_earlier_batch_of_the_same_generation() {
        let mut state = initialised(7);
        let first = state.assign("t", 0, 1);
        let second = state.assign("t", 0, 1);
        let other = state.assign("t", 1, 1);
        assert!(state.earlier_unresolved("t", 0, &second));
        assert!(!state.earlier_unresolved("t", 0, &first));
        assert!(!state.earlier_unresolved("t", 1, &other));
        state.resolve("t", 0, &first, true);
        assert!(!state.earlier_unresolved("t", 0, &second));
        assert_eq!(state.generation, 0, "a success keeps the producer id");
    }

    #[test]
    fn a_failed_batch_starts_a_new_generation_after_the_old_one_drains() {
        let mut state = initialised(7);
        let failed = state.assign("t", 0, 2);
        let still_flying = state.assign("t", 0, 1);
        state.resolve("t", 0, &failed, false);
        assert_eq!(state.generation, 1);
        assert!(state.producer.is_none(), "a new producer id is needed");
        assert!(state.next_sequence.is_empty(), "sequences restart at 0");
        assert!(state.older_generation_unresolved());
        // The old generation's last batch fails too: no second bump.
        state.resolve("t", 0, &still_flying, false);
        assert_eq!(state.generation, 1);
        assert!(!state.older_generation_unresolved());
        state.producer = Some((8, 0));
        assert_eq!(state.assign("t", 0, 1).base_sequence, 0);
    }
}
