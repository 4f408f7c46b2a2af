//! The client's view of the cluster: broker endpoints, partition leaders, and one
//! connection per broker, refreshed from Metadata when a request learns it is stale.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::connection::{ConnError, Connection};
use crate::protocol::codes::ErrorCode;

const METADATA_VERSION: i16 = 9;

/// A partition's placement as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// Metadata cache plus connections.
pub struct ClusterClient {
    bootstrap: Vec<SocketAddr>,
    client_id: String,
    max_in_flight: usize,
    pub request_timeout: Duration,
    brokers: BTreeMap<i32, SocketAddr>,
    /// Partitions of each known topic, by index.
    pub topics: BTreeMap<String, Vec<PartitionInfo>>,
    connections: BTreeMap<i32, Connection>,
    /// The connection used for metadata requests.
    any: Option<Connection>,
    /// Metadata's `allow_auto_topic_creation`: true for producers and consumers (Kafka's
    /// defaults), false for the admin client (as Kafka's AdminClient).
    pub allow_auto_topic_creation: bool,
    /// When the last Metadata response was applied.
    refreshed_at: Option<tokio::time::Instant>,
}

impl ClusterClient {
    pub fn new(
        bootstrap: Vec<SocketAddr>,
        client_id: &str,
        max_in_flight: usize,
        request_timeout: Duration,
    ) -> Self {
        ClusterClient {
            bootstrap,
            client_id: client_id.to_string(),
            max_in_flight,
            request_timeout,
            brokers: BTreeMap::new(),
            topics: BTreeMap::new(),
            connections: BTreeMap::new(),
            any: None,
            allow_auto_topic_creation: true,
            refreshed_at: None,
        }
    }

    /// Fetch metadata for `topics` (all topics if empty) and update the cache.
    pub async fn refresh(&mut self, topics: &[String]) -> Result<MetadataResponse, ConnError> {
        let mut request = MetadataRequest::default();
        request.allow_auto_topic_creation = self.allow_auto_topic_creation;
        request.topics = if topics.is_empty() {
            None
        } else {
            Some(
                topics
                    .iter()
                    .map(|t| {
                        let mut topic = MetadataRequestTopic::default();
                        topic.name = Some(TopicName(StrBytes::from_string(t.clone())));
                        topic
                    })
                    .collect(),
            )
        };
        let response = self
            .request_any(
                RequestKind::Metadata(request),
                ApiKey::Metadata,
                METADATA_VERSION,
            )
            .await?;
        let ResponseKind::Metadata(metadata) = response else {
            return Err(ConnError::Protocol(
                "unexpected response to Metadata".into(),
            ));
        };
        self.apply(&metadata);
        Ok(metadata)
    }

    /// Whether the cached metadata is older than `max_age` (or there is none).
    pub fn metadata_older_than(&self, max_age: Duration) -> bool {
        self.refreshed_at.is_none_or(|at| at.elapsed() > max_age)
    }

    fn apply(&mut self, metadata: &MetadataResponse) {
        self.refreshed_at = Some(tokio::time::Instant::now());
        for broker in &metadata.brokers {
            if let Ok(ip) = broker.host.as_str().parse::<std::net::IpAddr>() {
                self.brokers
                    .insert(broker.node_id.0, SocketAddr::new(ip, broker.port as u16));
            }
        }
        for topic in &metadata.topics {
            let Some(name) = &topic.name else { continue };
            if topic.error_code != ErrorCode::NONE {
                self.topics.remove(name.0.as_str());
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = Vec::new();
            let mut sorted: Vec<_> = topic.partitions.iter().collect();
            sorted.sort_by_key(|p| p.partition_index);
            for p in sorted {
                partitions.push(PartitionInfo {
                    leader: p.leader_id.0,
                    replicas: p.replica_nodes.iter().map(|r| r.0).collect(),
                    isr: p.isr_nodes.iter().map(|r| r.0).collect(),
                });
            }
            self.topics.insert(name.0.as_str().to_string(), partitions);
        }
    }

    /// Send a request to any reachable broker (bootstrap list first, then known brokers).
    pub async fn request_any(
        &mut self,
        body: RequestKind,
        api_key: ApiKey,
        version: i16,
    ) -> Result<ResponseKind, ConnError> {
        let mut last = ConnError::Connect("no bootstrap servers".into());
        if let Some(conn) = self.any.clone().filter(|c| !c.is_closed()) {
            match conn
                .request(body.clone(), api_key, version, self.request_timeout)
                .await
            {
                Ok(response) => return Ok(response),
                Err(error) => last = error,
            }
        }
        let mut candidates = self.bootstrap.clone();
        candidates.extend(self.brokers.values().copied());
        for addr in candidates {
            let Ok(conn) = Connection::connect(
                addr,
                &self.client_id,
                self.max_in_flight,
                self.request_timeout,
            )
            .await
            else {
                continue;
            };
            match conn
                .request(body.clone(), api_key, version, self.request_timeout)
                .await
            {
                Ok(response) => {
                    self.any = Some(conn);
                    return Ok(response);
                }
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// The leader of a partition, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.topics
            .get(topic)?
            .get(partition as usize)
            .map(|p| p.leader)
            .filter(|l| *l >= 0)
    }

    /// Number of partitions of a topic, if known.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics.get(topic).map(|p| p.len())
    }

    /// A live connection to a broker, connecting if needed.
    pub async fn connection(&mut self, broker: i32) -> Result<Connection, ConnError> {
        if let Some(conn) = self.connections.get(&broker) {
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
        }
        let addr = *self
            .brokers
            .get(&broker)
            .ok_or_else(|| ConnError::Connect(format!("unknown broker {broker}")))?;
        let conn = Connection::connect(
            addr,
            &self.client_id,
            self.max_in_flight,
            self.request_timeout,
        )
        .await?;
        self.connections.insert(broker, conn.clone());
        Ok(conn)
    }

    /// Forget a broker's connection (after an error on it).
    pub fn drop_connection(&mut self, broker: i32) {
        self.connections.remove(&broker);
    }
}
