//! The consumer, with manual assignment: `assign`, `seek`, `poll(timeout)`, and
//! `auto.offset.reset` when a position is missing or out of range, and `pause`/`resume`. The
//! group consumer (`client::group`) drives one of these with the partitions its group assigns.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, ListOffsetsRequest, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use tokio::time::Instant;

use super::cluster::ClusterClient;
use super::connection::ConnError;
use crate::protocol::codes::ErrorCode;

const FETCH_VERSION: i16 = 11;
const LIST_OFFSETS_VERSION: i16 = 5;

/// `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    None,
}

/// Consumer configs, Kafka names in the comments.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub bootstrap: Vec<SocketAddr>,
    pub client_id: String,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// `fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait: Duration,
    /// `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: i32,
    /// `fetch.max.bytes`.
    pub fetch_max_bytes: i32,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
}

impl ConsumerConfig {
    /// Kafka's defaults.
    pub fn new(bootstrap: Vec<SocketAddr>) -> Self {
        ConsumerConfig {
            bootstrap,
            client_id: "kafkasim-consumer".into(),
            auto_offset_reset: OffsetReset::Latest,
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            max_partition_fetch_bytes: 1_048_576,
            fetch_max_bytes: 52_428_800,
            request_timeout: Duration::from_millis(30_000),
        }
    }
}

/// One record returned by `poll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// Why a poll failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeError {
    #[error("offset out of range for {topic}/{partition} and auto.offset.reset=none")]
    OutOfRange { topic: String, partition: i32 },
    #[error("{0}")]
    Conn(#[from] ConnError),
    /// A whole batch failed to decode (its CRC or framing): Kafka's CorruptRecordException.
    /// Records before it were returned first; the position stays at the batch.
    #[error("corrupt record batch at {topic}/{partition} offset {offset}")]
    Corrupt {
        topic: String,
        partition: i32,
        offset: i64,
    },
}

/// Whether `bytes` starts with a whole batch: its length field says it fits.
fn whole_batch(bytes: &[u8]) -> bool {
    const LOG_OVERHEAD: usize = 12;
    bytes.len() >= LOG_OVERHEAD
        && i32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes"))
            .try_into()
            .is_ok_and(|length: usize| LOG_OVERHEAD + length <= bytes.len())
}

/// A consumer with manually assigned partitions.
pub struct Consumer {
    config: ConsumerConfig,
    cluster: ClusterClient,
    /// Next offset to fetch per assigned partition; `None` until reset.
    positions: BTreeMap<(String, i32), Option<i64>>,
    /// Last high watermark seen per partition (for lag and drain checks).
    pub high_watermarks: BTreeMap<(String, i32), i64>,
    /// Last log start offset seen per partition.
    pub log_start_offsets: BTreeMap<(String, i32), i64>,
    /// Positions set by `auto.offset.reset` since the last `take_resets`.
    resets: Vec<(String, i32, i64)>,
    /// A corrupt batch found by the last fetch, reported by the next `poll` (after the
    /// records before it were returned), as Kafka's consumer does.
    corrupt: Option<(String, i32, i64)>,
    /// Partitions `pause`d: kept with their positions but not fetched until `resume`d.
    paused: BTreeSet<(String, i32)>,
}

impl Consumer {
    pub fn new(config: ConsumerConfig) -> Consumer {
        let cluster = ClusterClient::new(
            config.bootstrap.clone(),
            &config.client_id,
            1,
            config.request_timeout,
        );
        Consumer {
            config,
            cluster,
            positions: BTreeMap::new(),
            high_watermarks: BTreeMap::new(),
            log_start_offsets: BTreeMap::new(),
            resets: Vec::new(),
            corrupt: None,
            paused: BTreeSet::new(),
        }
    }

    /// Replace the assignment; new partitions start without a position.
    pub fn assign(&mut self, partitions: &[(String, i32)]) {
        self.positions.retain(|tp, _| partitions.contains(tp));
        self.paused.retain(|tp| partitions.contains(tp));
        for tp in partitions {
            self.positions.entry(tp.clone()).or_insert(None);
        }
    }

    /// Set the next offset to fetch.
    pub fn seek(&mut self, topic: &str, partition: i32, offset: i64) {
        self.positions
            .insert((topic.to_string(), partition), Some(offset));
    }

    /// Stop fetching a partition, keeping its position (Kafka's `pause`). Partitions not
    /// assigned are ignored, as the assignment decides what can be paused.
    pub fn pause(&mut self, topic: &str, partition: i32) {
        let key = (topic.to_string(), partition);
        if self.positions.contains_key(&key) {
            self.paused.insert(key);
        }
    }

    /// Fetch a paused partition again (Kafka's `resume`).
    pub fn resume(&mut self, topic: &str, partition: i32) {
        self.paused.remove(&(topic.to_string(), partition));
    }

    /// The paused partitions, sorted.
    pub fn paused(&self) -> Vec<(String, i32)> {
        self.paused.iter().cloned().collect()
    }

    /// Refresh the metadata of `topics` (all when empty) and return each one's partition
    /// count, for topics the cluster knows.
    pub async fn refresh_partition_counts(
        &mut self,
        topics: &[String],
    ) -> Result<BTreeMap<String, i32>, ConsumeError> {
        self.cluster.refresh(topics).await?;
        Ok(self.known_partition_counts(topics))
    }

    /// The partition count of each of `topics` the cached metadata knows, without a request.
    pub fn known_partition_counts(&self, topics: &[String]) -> BTreeMap<String, i32> {
        topics
            .iter()
            .filter_map(|topic| {
                let count = self.cluster.partition_count(topic)?;
                Some((topic.clone(), i32::try_from(count).ok()?))
            })
            .collect()
    }

    /// Whether the cached metadata is older than `max_age` (or there is none).
    pub fn metadata_older_than(&self, max_age: Duration) -> bool {
        self.cluster.metadata_older_than(max_age)
    }

    /// The positions `auto.offset.reset` chose since the last call: a consumer that was
    /// moved this way may legitimately re-read or skip.
    pub fn take_resets(&mut self) -> Vec<(String, i32, i64)> {
        std::mem::take(&mut self.resets)
    }

    /// The next offset to fetch, if known.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.positions
            .get(&(topic.to_string(), partition))
            .copied()
            .flatten()
    }

    /// Number of partitions of a topic, refreshing metadata if needed.
    pub async fn partitions_for(&mut self, topic: &str) -> Result<usize, ConsumeError> {
        if self.cluster.partition_count(topic).is_none() {
            self.cluster.refresh(&[topic.to_string()]).await?;
        }
        Ok(self.cluster.partition_count(topic).unwrap_or(0))
    }

    /// Fetch records from the assigned partitions, waiting up to `timeout` for some.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>, ConsumeError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((topic, partition, offset)) = self.corrupt.take() {
                return Err(ConsumeError::Corrupt {
                    topic,
                    partition,
                    offset,
                });
            }
            self.reset_missing_positions().await?;
            let records = self.fetch_once(deadline).await?;
            if !records.is_empty() || Instant::now() >= deadline || self.corrupt.is_some() {
                return Ok(records);
            }
        }
    }

    async fn reset_missing_positions(&mut self) -> Result<(), ConsumeError> {
        let missing: Vec<(String, i32)> = self
            .positions
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(tp, _)| tp.clone())
            .collect();
        for (topic, partition) in missing {
            let timestamp = match self.config.auto_offset_reset {
                OffsetReset::Earliest => -2,
                OffsetReset::Latest => -1,
                OffsetReset::None => return Err(ConsumeError::OutOfRange { topic, partition }),
            };
            if let Some(offset) = self.list_offset(&topic, partition, timestamp).await? {
                self.resets.push((topic.clone(), partition, offset));
                self.positions.insert((topic, partition), Some(offset));
            }
        }
        Ok(())
    }

    /// ListOffsets for one partition: -2 earliest, -1 latest, else a timestamp.
    pub async fn list_offset(
        &mut self,
        topic: &str,
        partition: i32,
        timestamp: i64,
    ) -> Result<Option<i64>, ConsumeError> {
        let Some(leader) = self.leader(topic, partition).await? else {
            return Ok(None);
        };
        let mut p = ListOffsetsPartition::default();
        p.partition_index = partition;
        p.timestamp = timestamp;
        p.current_leader_epoch = -1;
        let mut t = ListOffsetsTopic::default();
        t.name = TopicName(StrBytes::from_string(topic.to_string()));
        t.partitions = vec![p];
        let mut request = ListOffsetsRequest::default();
        request.replica_id = (-1).into();
        request.topics = vec![t];
        let response = self
            .request(
                leader,
                RequestKind::ListOffsets(request),
                ApiKey::ListOffsets,
                LIST_OFFSETS_VERSION,
            )
            .await?;
        let ResponseKind::ListOffsets(response) = response else {
            return Ok(None);
        };
        let found = response
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == partition);
        match found {
            Some(p) if p.error_code == ErrorCode::NONE && p.offset >= 0 => Ok(Some(p.offset)),
            Some(p) if p.error_code != ErrorCode::NONE => {
                self.cluster.refresh(&[topic.to_string()]).await?;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    async fn leader(&mut self, topic: &str, partition: i32) -> Result<Option<i32>, ConsumeError> {
        if let Some(leader) = self.cluster.leader(topic, partition) {
            return Ok(Some(leader));
        }
        self.cluster.refresh(&[topic.to_string()]).await?;
        Ok(self.cluster.leader(topic, partition))
    }

    async fn request(
        &mut self,
        broker: i32,
        body: RequestKind,
        api_key: ApiKey,
        version: i16,
    ) -> Result<ResponseKind, ConnError> {
        let conn = self.cluster.connection(broker).await?;
        match conn
            .request(body, api_key, version, self.config.request_timeout)
            .await
        {
            Ok(response) => Ok(response),
            Err(e) => {
                self.cluster.drop_connection(broker);
                Err(e)
            }
        }
    }

    async fn fetch_once(&mut self, deadline: Instant) -> Result<Vec<ConsumerRecord>, ConsumeError> {
        // Group positioned partitions by leader, in (topic, partition) order.
        let mut by_leader: BTreeMap<i32, Vec<(String, i32, i64)>> = BTreeMap::new();
        let positioned: Vec<_> = self
            .positions
            .iter()
            .filter(|(tp, _)| !self.paused.contains(*tp))
            .filter_map(|((t, p), pos)| pos.map(|o| (t.clone(), *p, o)))
            .collect();
        for (topic, partition, offset) in positioned {
            if let Ok(Some(leader)) = self.leader(&topic, partition).await {
                by_leader
                    .entry(leader)
                    .or_default()
                    .push((topic, partition, offset))
            }
        }
        if by_leader.is_empty() {
            let pause = self
                .config
                .fetch_max_wait
                .min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause.max(Duration::from_millis(10))).await;
            return Ok(Vec::new());
        }
        let mut records = Vec::new();
        let wait = self
            .config
            .fetch_max_wait
            .min(deadline.saturating_duration_since(Instant::now()));
        let mut errors = 0;
        let leaders = by_leader.len();
        for (leader, partitions) in by_leader {
            let request = self.fetch_request(&partitions, wait);
            match self
                .request(
                    leader,
                    RequestKind::Fetch(request),
                    ApiKey::Fetch,
                    FETCH_VERSION,
                )
                .await
            {
                Ok(ResponseKind::Fetch(response)) => {
                    for topic in response.responses {
                        let name = topic.topic.0.as_str().to_string();
                        for p in topic.partitions {
                            self.absorb(&name, p, &mut records).await?;
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    errors += 1;
                    let _ = self.cluster.refresh(&[]).await;
                }
            }
        }
        if errors == leaders && records.is_empty() {
            // Every leader unreachable: back off rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(records)
    }

    fn fetch_request(&self, partitions: &[(String, i32, i64)], wait: Duration) -> FetchRequest {
        let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
        for (topic, partition, offset) in partitions {
            let mut p = FetchPartition::default();
            p.partition = *partition;
            p.fetch_offset = *offset;
            p.current_leader_epoch = -1;
            p.last_fetched_epoch = -1;
            p.log_start_offset = -1;
            p.partition_max_bytes = self.config.max_partition_fetch_bytes;
            topics.entry(topic).or_default().push(p);
        }
        let mut request = FetchRequest::default();
        request.replica_id = (-1).into();
        request.max_wait_ms = wait.as_millis() as i32;
        request.min_bytes = self.config.fetch_min_bytes;
        request.max_bytes = self.config.fetch_max_bytes;
        request.isolation_level = 0;
        request.session_id = 0;
        request.session_epoch = -1;
        request.topics = topics
            .into_iter()
            .map(|(name, partitions)| {
                let mut t = FetchTopic::default();
                t.topic = TopicName(StrBytes::from_string(name.to_string()));
                t.partitions = partitions;
                t
            })
            .collect();
        request
    }

    async fn absorb(
        &mut self,
        topic: &str,
        p: kafka_protocol::messages::fetch_response::PartitionData,
        out: &mut Vec<ConsumerRecord>,
    ) -> Result<(), ConsumeError> {
        let key = (topic.to_string(), p.partition_index);
        let Some(Some(position)) = self.positions.get(&key).copied() else {
            return Ok(());
        };
        match ErrorCode::from_wire(p.error_code) {
            ErrorCode::NONE => {}
            ErrorCode::OFFSET_OUT_OF_RANGE => {
                if self.config.auto_offset_reset == OffsetReset::None {
                    return Err(ConsumeError::OutOfRange {
                        topic: topic.to_string(),
                        partition: p.partition_index,
                    });
                }
                self.positions.insert(key, None);
                return Ok(());
            }
            ErrorCode::CORRUPT_MESSAGE => {
                self.corrupt = Some((topic.to_string(), p.partition_index, position));
                return Ok(());
            }
            _ => {
                let _ = self.cluster.refresh(&[topic.to_string()]).await;
                return Ok(());
            }
        }
        self.high_watermarks.insert(key.clone(), p.high_watermark);
        self.log_start_offsets
            .insert(key.clone(), p.log_start_offset);
        let Some(mut bytes) = p.records.filter(|b| !b.is_empty()) else {
            return Ok(());
        };
        let mut next = position;
        while !bytes.is_empty() {
            // A fetch may end with a partial batch (Kafka allows it); stop at it. A whole
            // batch that does not decode is corrupt.
            let whole = whole_batch(&bytes);
            let Ok(set) = RecordBatchDecoder::decode(&mut bytes) else {
                if whole {
                    self.corrupt = Some((topic.to_string(), p.partition_index, next));
                }
                break;
            };
            for record in set.records {
                if record.control || record.offset < next {
                    continue;
                }
                next = record.offset + 1;
                out.push(ConsumerRecord {
                    topic: topic.to_string(),
                    partition: p.partition_index,
                    offset: record.offset,
                    timestamp: record.timestamp,
                    key: record.key,
                    value: record.value,
                });
            }
        }
        self.positions.insert(key, Some(next));
        Ok(())
    }
}
