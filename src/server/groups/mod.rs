//! The group coordinator's shell: moves requests into the pure [`Coordinator`] and its
//! effects back out, over the `__consumer_offsets` partitions this broker leads.
//!
//! - A request gets a [`RequestToken`] and a waiter; the coordinator answers it now or later
//!   (JoinGroup waits for the join phase, SyncGroup for the leader, OffsetCommit for its
//!   records), and the answer wakes the waiter.
//! - Records the coordinator asks to persist are appended to their group's partition in the
//!   order the coordinator produced them (they are queued under the coordinator's lock), with
//!   acks=all; the coordinator hears back once the high watermark passed them (Kafka's
//!   `offsets.commit.required.acks = -1`), or the error that stopped them.
//! - Every [`SCAN_INTERVAL`] the shell compares the partitions it coordinates with those it
//!   leads: a partition it newly leads (or leads at a new epoch) is loaded from its log, up to
//!   the log end it had when leadership came (once the high watermark reaches it), before its
//!   groups are served (COORDINATOR_LOAD_IN_PROGRESS meanwhile); a partition it no longer
//!   leads is unloaded (NOT_COORDINATOR). Then the coordinator's timers tick.
//!
//! Invariants: a batch is appended only while this broker still leads its partition at the
//! leader epoch its groups were loaded at; every waiter is answered exactly once (a waiter
//! whose request the coordinator dropped, e.g. at shutdown, answers COORDINATOR_NOT_AVAILABLE).

mod load;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record as KafkaRecord, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::sync::{mpsc, oneshot};

use crate::group::coordinator::api::{Effects, PersistBatch, RequestToken, Response};
use crate::group::coordinator::records::Record;
use crate::group::coordinator::{Coordinator, CoordinatorConfig};
use crate::group::hash;
use crate::protocol::codes::ErrorCode;
use crate::server::config::int_config_of;
use crate::server::{Broker, BrokerConfig};

/// The internal topic holding group metadata and committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// How often the shell checks which `__consumer_offsets` partitions it leads and ticks the
/// coordinator's timers (session timeouts, rebalance deadlines, offset expiry): the broker's
/// housekeeping tick.
pub const SCAN_INTERVAL: Duration = crate::server::partition::TICK_INTERVAL;

/// The coordinator's settings plus the shell's own, read from the broker's configs under
/// Kafka's names.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    pub coordinator: CoordinatorConfig,
    /// `offsets.topic.replication.factor` (Kafka default 3), capped at the brokers there are.
    pub offsets_topic_replication_factor: i32,
    /// `offsets.topic.segment.bytes` (Kafka default 100 MiB).
    pub offsets_topic_segment_bytes: i64,
    /// `offsets.commit.timeout.ms` (Kafka default 5000): how long a commit waits for its
    /// records to be replicated before it is answered REQUEST_TIMED_OUT.
    pub offsets_commit_timeout_ms: u64,
}

impl GroupSettings {
    pub fn from_config(config: &BrokerConfig) -> Result<GroupSettings, String> {
        let configs = &config.configs;
        let none = BTreeMap::new();
        let int = |key: &str, default: i64| -> Result<i64, String> {
            Ok(int_config_of(configs, &none, key)?.unwrap_or(default))
        };
        let defaults = CoordinatorConfig::default();
        let coordinator = CoordinatorConfig {
            group_min_session_timeout_ms: int(
                "group.min.session.timeout.ms",
                defaults.group_min_session_timeout_ms.into(),
            )? as i32,
            group_max_session_timeout_ms: int(
                "group.max.session.timeout.ms",
                defaults.group_max_session_timeout_ms.into(),
            )? as i32,
            group_initial_rebalance_delay_ms: int(
                "group.initial.rebalance.delay.ms",
                defaults.group_initial_rebalance_delay_ms,
            )?,
            group_max_size: int("group.max.size", defaults.group_max_size as i64)?.max(1) as usize,
            offsets_retention_ms: int(
                "offsets.retention.minutes",
                defaults.offsets_retention_ms / 60_000,
            )?
            .saturating_mul(60_000),
            offset_metadata_max_bytes: int(
                "offset.metadata.max.bytes",
                defaults.offset_metadata_max_bytes as i64,
            )?
            .max(0) as usize,
            offsets_topic_partitions: int(
                "offsets.topic.num.partitions",
                defaults.offsets_topic_partitions.into(),
            )?
            .clamp(1, 1000) as i32,
            load_offsets_only_if_commit_pending: config
                .group_model
                .load_offsets_only_if_commit_pending,
            expire_offsets_while_rebalancing: config.group_model.expire_offsets_while_rebalancing,
            planted_accept_stale_generation_commit: config.planted.accept_stale_generation_commit,
            // Drawn when the broker first hosts __consumer_offsets (see `tick`).
            member_id_salt: 0,
            offsets_retention_check_interval_ms: int(
                "offsets.retention.check.interval.ms",
                600_000,
            )?
            .max(1),
        };
        if coordinator.group_min_session_timeout_ms > coordinator.group_max_session_timeout_ms {
            return Err("group.min.session.timeout.ms exceeds group.max.session.timeout.ms".into());
        }
        Ok(GroupSettings {
            coordinator,
            offsets_topic_replication_factor: int("offsets.topic.replication.factor", 3)?
                .clamp(1, i16::MAX.into()) as i32,
            offsets_topic_segment_bytes: int("offsets.topic.segment.bytes", 100 * 1024 * 1024)?,
            offsets_commit_timeout_ms: int("offsets.commit.timeout.ms", 5_000)?.max(1) as u64,
        })
    }
}

/// What the shell holds under one lock, so that the coordinator's effects are queued in the
/// order it produced them.
struct Inner {
    coordinator: Coordinator,
    /// The partitions coordinated here, by the leader epoch their groups were loaded at.
    owned: BTreeMap<i32, i32>,
    /// Waiters of requests not answered yet.
    waiters: BTreeMap<RequestToken, oneshot::Sender<Response>>,
}

/// A persist batch on its way to the log, with the leadership it was made under.
struct Queued {
    batch: PersistBatch,
    partition: i32,
    leader_epoch: Option<i32>,
}

/// The broker's group coordinator shell.
pub struct GroupCoordinator {
    pub settings: GroupSettings,
    inner: Mutex<Inner>,
    next_token: AtomicU64,
    persist_tx: mpsc::UnboundedSender<Queued>,
    persist_rx: Mutex<Option<mpsc::UnboundedReceiver<Queued>>>,
}

impl GroupCoordinator {
    pub fn new(settings: GroupSettings) -> GroupCoordinator {
        let (persist_tx, persist_rx) = mpsc::unbounded_channel();
        GroupCoordinator {
            inner: Mutex::new(Inner {
                coordinator: Coordinator::new(settings.coordinator.clone()),
                owned: BTreeMap::new(),
                waiters: BTreeMap::new(),
            }),
            settings,
            next_token: AtomicU64::new(1),
            persist_tx,
            persist_rx: Mutex::new(Some(persist_rx)),
        }
    }

    /// The `__consumer_offsets` partition of `key` (a group id).
    pub fn partition_for(&self, key: &str) -> i32 {
        hash::coordinator_partition(key, self.settings.coordinator.offsets_topic_partitions)
    }

    /// Run one request through the coordinator and wait for its answer.
    pub async fn call(
        &self,
        now_ms: i64,
        request: impl FnOnce(&mut Coordinator, i64, RequestToken) -> Effects,
    ) -> Response {
        let token = RequestToken(self.next_token.fetch_add(1, Ordering::SeqCst));
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.inner.lock().unwrap();
            inner.waiters.insert(token, tx);
            let effects = request(&mut inner.coordinator, now_ms, token);
            self.apply(&mut inner, effects);
        }
        match rx.await {
            Ok(response) => response,
            // Dropped unanswered: the broker is stopping.
            Err(_) => Response::Heartbeat(ErrorCode::COORDINATOR_NOT_AVAILABLE),
        }
    }

    /// Read-only access for requests answered at once (ListGroups, DescribeGroups).
    pub fn read<R>(&self, f: impl FnOnce(&Coordinator) -> R) -> R {
        f(&self.inner.lock().unwrap().coordinator)
    }

    /// Send the responses, queue the batches (under the lock: in the coordinator's order).
    fn apply(&self, inner: &mut Inner, effects: Effects) {
        for (token, response) in effects.responses {
            match inner.waiters.remove(&token) {
                Some(waiter) => {
                    let _ = waiter.send(response);
                }
                None => tracing::error!(?token, "a response to no waiting request"),
            }
        }
        for batch in effects.persist {
            let partition = match batch.records.first() {
                Some(record) => self.partition_for(group_of(record)),
                None => continue,
            };
            let leader_epoch = inner.owned.get(&partition).copied();
            let _ = self.persist_tx.send(Queued {
                batch,
                partition,
                leader_epoch,
            });
        }
    }

    fn persisted(
        &self,
        now_ms: i64,
        batch: crate::group::coordinator::api::PersistToken,
        error: ErrorCode,
    ) {
        let mut inner = self.inner.lock().unwrap();
        let effects = inner.coordinator.records_persisted(now_ms, batch, error);
        self.apply(&mut inner, effects);
    }
}

fn group_of(record: &Record) -> &str {
    match record {
        Record::OffsetCommit { group_id, .. } | Record::GroupMetadata { group_id, .. } => group_id,
    }
}

/// One step of the shell, on the broker's housekeeping tick (every [`SCAN_INTERVAL`]): load
/// and unload partitions, then tick the coordinator's timers. A broker that hosts no
/// `__consumer_offsets` partition (no group was ever looked up) does nothing at all here: no
/// task, no timer, so a cluster without groups runs exactly as it did before they existed.
/// The appender task starts with the first hosted partition.
pub fn tick(broker: &Arc<Broker>) {
    let hosts_offsets =
        broker.partition(OFFSETS_TOPIC, 0).is_some() || broker.topic(OFFSETS_TOPIC).is_some();
    if !hosts_offsets {
        return;
    }
    if let Some(rx) = broker.groups.persist_rx.lock().unwrap().take() {
        // Seeded under simulation, so a run stays a function of its seed; drawn only here so
        // that a broker without groups draws nothing it did not draw before.
        let salt = madsim::rand::random::<u64>().max(1);
        broker
            .groups
            .inner
            .lock()
            .unwrap()
            .coordinator
            .config
            .member_id_salt = salt;
        tokio::spawn(append_loop(broker.clone(), rx));
    }
    scan(broker);
    let now_ms = broker.env.clock.wall_ms();
    let groups = &broker.groups;
    let mut inner = groups.inner.lock().unwrap();
    let effects = inner.coordinator.tick(now_ms);
    groups.apply(&mut inner, effects);
}

/// Load partitions newly led here, unload those no longer led.
fn scan(broker: &Arc<Broker>) {
    let groups = &broker.groups;
    let partitions = groups.settings.coordinator.offsets_topic_partitions;
    for index in 0..partitions {
        let leading = broker
            .partition(OFFSETS_TOPIC, index)
            .map(|handle| handle.role())
            .filter(|role| role.leader == broker.config.node_id)
            .map(|role| role.leader_epoch);
        let mut inner = groups.inner.lock().unwrap();
        let owned = inner.owned.get(&index).copied();
        if owned == leading {
            continue;
        }
        if owned.is_some() {
            tracing::info!(
                partition = index,
                ?owned,
                ?leading,
                "unloading a __consumer_offsets partition"
            );
            let effects = inner.coordinator.unload(index);
            inner.owned.remove(&index);
            groups.apply(&mut inner, effects);
            broker.env.trace.effect("group.coordinator_unloaded", 1);
        }
        if let Some(leader_epoch) = leading {
            tracing::info!(
                partition = index,
                leader_epoch,
                "loading a __consumer_offsets partition"
            );
            inner.coordinator.begin_loading(index);
            inner.owned.insert(index, leader_epoch);
            drop(inner);
            tokio::spawn(load::load(broker.clone(), index, leader_epoch));
        }
    }
}

/// Append queued batches in order; each one's wait for replication runs on its own.
async fn append_loop(broker: Arc<Broker>, mut rx: mpsc::UnboundedReceiver<Queued>) {
    while let Some(queued) = rx.recv().await {
        let token = queued.batch.token;
        let appended = append(&broker, &queued).await;
        let broker = broker.clone();
        let wait = async move {
            let error = match appended {
                Ok((handle, last_offset)) => {
                    let timeout =
                        Duration::from_millis(broker.groups.settings.offsets_commit_timeout_ms);
                    handle.wait_for_replicas(last_offset, timeout).await
                }
                Err(error) => error,
            };
            let now_ms = broker.env.clock.wall_ms();
            broker.groups.persisted(now_ms, token, error);
        };
        tokio::spawn(wait);
    }
}

/// Append one batch as its partition's leader, at the epoch its groups were loaded at.
async fn append(
    broker: &Broker,
    queued: &Queued,
) -> Result<(crate::server::partition::PartitionHandle, i64), ErrorCode> {
    let handle = broker
        .partition(OFFSETS_TOPIC, queued.partition)
        .ok_or(ErrorCode::NOT_COORDINATOR)?;
    let role = handle.role();
    if role.leader != broker.config.node_id || Some(role.leader_epoch) != queued.leader_epoch {
        return Err(ErrorCode::NOT_COORDINATOR);
    }
    let bytes = encode(&queued.batch.records, broker.env.clock.wall_ms())
        .map_err(|_| ErrorCode::UNKNOWN_SERVER_ERROR)?;
    let info = handle.append(bytes, crate::replication::ACKS_ALL).await?;
    broker.notify_appended();
    Ok((handle, info.last_offset))
}

/// One RecordBatch v2 holding `records`, keyed as Kafka's coordinator writes them.
fn encode(records: &[Record], timestamp_ms: i64) -> Result<Bytes, String> {
    let records: Vec<KafkaRecord> = records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let (key, value) = record.encode();
            KafkaRecord {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // No producer: the batch's base sequence is -1, and the encoder keeps
                // records in one batch only while offset - sequence stays the same.
                sequence: i as i32 - 1,
                timestamp: timestamp_ms,
                key: Some(Bytes::from(key)),
                value: value.map(Bytes::from),
                headers: Default::default(),
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options).map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}
