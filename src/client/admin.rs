//! The admin client: create, delete, list and describe topics; describe the cluster; describe
//! and alter topic configs; delete records; list a partition's offsets; and consumer groups:
//! find a group's coordinator, list groups on every broker, describe a group, fetch its
//! committed offsets and commit offsets for it as an outsider (generation -1, no member id),
//! which the coordinator accepts only while the group has no members.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreateTopicsRequest, DeleteRecordsRequest,
    DeleteTopicsRequest, DescribeClusterRequest, DescribeConfigsRequest, DescribeGroupsRequest,
    FindCoordinatorRequest, GroupId, IncrementalAlterConfigsRequest, ListGroupsRequest,
    ListOffsetsRequest, OffsetCommitRequest, OffsetFetchRequest, RequestKind, ResponseKind,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::cluster::{ClusterClient, PartitionInfo};
use super::connection::ConnError;
use crate::group::consumer_protocol;
use crate::protocol::codes::ErrorCode;

const CREATE_TOPICS_VERSION: i16 = 5;
const DELETE_TOPICS_VERSION: i16 = 4;
const DESCRIBE_CLUSTER_VERSION: i16 = 1;
const DESCRIBE_CONFIGS_VERSION: i16 = 4;
const INCREMENTAL_ALTER_CONFIGS_VERSION: i16 = 1;
const DELETE_RECORDS_VERSION: i16 = 2;
const CREATE_PARTITIONS_VERSION: i16 = 3;
const LIST_OFFSETS_VERSION: i16 = 5;
const FIND_COORDINATOR_VERSION: i16 = 3;
const LIST_GROUPS_VERSION: i16 = 4;
const DESCRIBE_GROUPS_VERSION: i16 = 5;
const OFFSET_FETCH_VERSION: i16 = 7;
const OFFSET_COMMIT_VERSION: i16 = 8;
/// How many times a group request (FindCoordinator included) is tried in all while the
/// coordinator is being created, loading or moving, each after [`COORDINATOR_RETRY_BACKOFF`]:
/// ten seconds.
const COORDINATOR_ATTEMPTS_MAX: usize = 50;
const COORDINATOR_RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// Kafka's `ConfigResource.Type.TOPIC`.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// What DescribeCluster says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    pub cluster_id: String,
    pub controller_id: i32,
    /// (node id, host, port) of each broker, in the broker's order.
    pub brokers: Vec<(i32, String, i32)>,
}

/// One topic config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    /// Kafka's `ConfigSource` (1 a topic override, 4 the broker's file, 5 the default).
    pub source: i8,
    pub read_only: bool,
}

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    /// "consumer" for Kafka consumers; "" for a group that only ever committed offsets.
    pub protocol_type: String,
    /// Kafka's state name: Empty, PreparingRebalance, CompletingRebalance, Stable or Dead.
    pub state: String,
}

/// A group as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: String,
    pub protocol_type: String,
    /// The assignor the group chose (e.g. "range"), "" while it has none.
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    /// The partitions its assignment names (decoded when the protocol type is "consumer").
    pub assignment: Vec<(String, i32)>,
}

/// Whether a group request should be tried again: the coordinator is being created, loading
/// its partition, or has moved.
fn coordinator_retriable(code: ErrorCode) -> bool {
    code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        || code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        || code == ErrorCode::NOT_COORDINATOR
}

fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

fn unexpected(api: &str) -> AdminError {
    ConnError::Protocol(format!("unexpected response to {api}")).into()
}

/// Why an admin call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("{code}: {message}")]
    Kafka { code: ErrorCode, message: String },
    #[error("{0}")]
    Conn(#[from] ConnError),
}

fn kafka_error(code: ErrorCode, message: Option<&StrBytes>) -> AdminError {
    AdminError::Kafka {
        code,
        message: message.map(|m| m.as_str().to_string()).unwrap_or_default(),
    }
}

/// An admin client.
pub struct Admin {
    cluster: ClusterClient,
}

impl Admin {
    pub fn new(bootstrap: Vec<SocketAddr>, request_timeout: Duration) -> Admin {
        let mut cluster = ClusterClient::new(bootstrap, "kafkasim-admin", 1, request_timeout);
        cluster.allow_auto_topic_creation = false;
        Admin { cluster }
    }

    /// Create a topic with `partitions` partitions, replication factor `replication_factor`
    /// and topic configs.
    pub async fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<(), AdminError> {
        let mut topic = CreatableTopic::default();
        topic.name = TopicName(StrBytes::from_string(name.to_string()));
        topic.num_partitions = partitions;
        topic.replication_factor = replication_factor;
        topic.configs = configs
            .iter()
            .map(|(k, v)| {
                let mut c = CreatableTopicConfig::default();
                c.name = StrBytes::from_string(k.clone());
                c.value = Some(StrBytes::from_string(v.clone()));
                c
            })
            .collect();
        let mut request = CreateTopicsRequest::default();
        request.topics = vec![topic];
        request.timeout_ms = self.cluster.request_timeout.as_millis() as i32;
        let response = self
            .cluster
            .request_any(
                RequestKind::CreateTopics(request),
                ApiKey::CreateTopics,
                CREATE_TOPICS_VERSION,
            )
            .await?;
        let ResponseKind::CreateTopics(response) = response else {
            return Err(ConnError::Protocol("unexpected response to CreateTopics".into()).into());
        };
        match response.topics.first() {
            Some(t) if t.error_code == ErrorCode::NONE => Ok(()),
            Some(t) => Err(kafka_error(
                ErrorCode::from_wire(t.error_code),
                t.error_message.as_ref(),
            )),
            None => Err(ConnError::Protocol("empty CreateTopics response".into()).into()),
        }
    }

    /// Delete a topic.
    pub async fn delete_topic(&mut self, name: &str) -> Result<(), AdminError> {
        let mut request = DeleteTopicsRequest::default();
        request.topic_names = vec![TopicName(StrBytes::from_string(name.to_string()))];
        request.timeout_ms = self.cluster.request_timeout.as_millis() as i32;
        let response = self
            .cluster
            .request_any(
                RequestKind::DeleteTopics(request),
                ApiKey::DeleteTopics,
                DELETE_TOPICS_VERSION,
            )
            .await?;
        let ResponseKind::DeleteTopics(response) = response else {
            return Err(ConnError::Protocol("unexpected response to DeleteTopics".into()).into());
        };
        match response.responses.first() {
            Some(t) if t.error_code == ErrorCode::NONE => Ok(()),
            Some(t) => Err(kafka_error(
                ErrorCode::from_wire(t.error_code),
                t.error_message.as_ref(),
            )),
            None => Err(ConnError::Protocol("empty DeleteTopics response".into()).into()),
        }
    }

    /// Names of every topic, sorted.
    pub async fn list_topics(&mut self) -> Result<Vec<String>, AdminError> {
        let metadata = self.cluster.refresh(&[]).await?;
        let mut names: Vec<String> = metadata
            .topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str().to_string()))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Partitions of a topic with leader, replicas and ISR.
    pub async fn describe_topic(&mut self, name: &str) -> Result<Vec<PartitionInfo>, AdminError> {
        let metadata = self.cluster.refresh(&[name.to_string()]).await?;
        let topic = metadata
            .topics
            .iter()
            .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(name));
        match topic {
            Some(t) if t.error_code != ErrorCode::NONE => {
                Err(kafka_error(ErrorCode::from_wire(t.error_code), None))
            }
            _ => self
                .cluster
                .topics
                .get(name)
                .cloned()
                .ok_or_else(|| kafka_error(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None)),
        }
    }

    /// DescribeCluster: the cluster id, the controller id and the brokers.
    pub async fn describe_cluster(&mut self) -> Result<ClusterDescription, AdminError> {
        let response = self
            .cluster
            .request_any(
                RequestKind::DescribeCluster(DescribeClusterRequest::default()),
                ApiKey::DescribeCluster,
                DESCRIBE_CLUSTER_VERSION,
            )
            .await?;
        let ResponseKind::DescribeCluster(response) = response else {
            return Err(unexpected("DescribeCluster"));
        };
        if response.error_code != ErrorCode::NONE {
            return Err(kafka_error(
                ErrorCode::from_wire(response.error_code),
                response.error_message.as_ref(),
            ));
        }
        Ok(ClusterDescription {
            cluster_id: response.cluster_id.to_string(),
            controller_id: response.controller_id.0,
            brokers: response
                .brokers
                .iter()
                .map(|b| (b.broker_id.0, b.host.to_string(), b.port))
                .collect(),
        })
    }

    /// A topic's effective configs, as the leader of its first partition runs them.
    pub async fn describe_topic_configs(
        &mut self,
        name: &str,
    ) -> Result<Vec<ConfigEntry>, AdminError> {
        let partitions = self.describe_topic(name).await?;
        let leader = partitions.first().map(|p| p.leader).unwrap_or(-1);
        self.describe_configs(leader, RESOURCE_TOPIC, name).await
    }

    /// A broker's configs (`Some(id)`, as that broker runs them) or the cluster-wide dynamic
    /// default (`None`, as the first broker known describes it).
    pub async fn describe_broker_configs(
        &mut self,
        broker: Option<i32>,
    ) -> Result<Vec<ConfigEntry>, AdminError> {
        // Metadata first, so the broker's address is known.
        let ids = self.broker_ids().await?;
        let (target, name) = match broker {
            Some(id) => (id, id.to_string()),
            None => (ids[0], String::new()),
        };
        self.describe_configs(target, RESOURCE_BROKER, &name).await
    }

    /// Every broker's id, from a fresh Metadata response.
    async fn broker_ids(&mut self) -> Result<Vec<i32>, AdminError> {
        let metadata = self.cluster.refresh(&[]).await?;
        let mut ids: Vec<i32> = metadata.brokers.iter().map(|b| b.node_id.0).collect();
        ids.sort_unstable();
        if ids.is_empty() {
            return Err(unexpected("Metadata without brokers"));
        }
        Ok(ids)
    }

    async fn describe_configs(
        &mut self,
        broker: i32,
        resource_type: i8,
        name: &str,
    ) -> Result<Vec<ConfigEntry>, AdminError> {
        let mut resource = DescribeConfigsResource::default();
        resource.resource_type = resource_type;
        resource.resource_name = StrBytes::from_string(name.to_string());
        resource.configuration_keys = None;
        let mut request = DescribeConfigsRequest::default();
        request.resources = vec![resource];
        let conn = self.cluster.connection(broker).await?;
        let response = conn
            .request(
                RequestKind::DescribeConfigs(request),
                ApiKey::DescribeConfigs,
                DESCRIBE_CONFIGS_VERSION,
                self.cluster.request_timeout,
            )
            .await?;
        let ResponseKind::DescribeConfigs(response) = response else {
            return Err(unexpected("DescribeConfigs"));
        };
        let result = response
            .results
            .first()
            .ok_or_else(|| unexpected("DescribeConfigs"))?;
        if result.error_code != ErrorCode::NONE {
            return Err(kafka_error(
                ErrorCode::from_wire(result.error_code),
                result.error_message.as_ref(),
            ));
        }
        Ok(result
            .configs
            .iter()
            .map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.as_ref().map(|v| v.to_string()),
                source: c.config_source,
                read_only: c.read_only,
            })
            .collect())
    }

    /// Set (`Some`) or remove (`None`, back to the default) topic configs with
    /// IncrementalAlterConfigs. The change is sent to every broker holding a replica of the
    /// topic: without a controller each broker keeps its own topic configs; with one, each
    /// forwards it to the controller, which writes it to the metadata log once (a repeat
    /// changes nothing).
    pub async fn alter_topic_configs(
        &mut self,
        name: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<(), AdminError> {
        let partitions = self.describe_topic(name).await?;
        let mut hosts: Vec<i32> = partitions
            .iter()
            .flat_map(|p| p.replicas.iter().copied())
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        self.alter_configs(&hosts, RESOURCE_TOPIC, name, changes)
            .await
    }

    /// Set or remove dynamic broker configs: one broker's own (`Some(id)`, sent to it) or the
    /// cluster-wide default (`None`, sent to every broker, as each keeps it without a
    /// controller; with one, the first forwards it and the rest change nothing).
    pub async fn alter_broker_configs(
        &mut self,
        broker: Option<i32>,
        changes: &[(String, Option<String>)],
    ) -> Result<(), AdminError> {
        // Metadata first, so the brokers' addresses are known.
        let ids = self.broker_ids().await?;
        let (targets, name) = match broker {
            Some(id) => (vec![id], id.to_string()),
            None => (ids, String::new()),
        };
        self.alter_configs(&targets, RESOURCE_BROKER, &name, changes)
            .await
    }

    async fn alter_configs(
        &mut self,
        brokers: &[i32],
        resource_type: i8,
        name: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<(), AdminError> {
        let request = set_or_delete_configs(resource_type, name, changes);
        for &broker in brokers {
            let conn = self.cluster.connection(broker).await?;
            let response = conn
                .request(
                    RequestKind::IncrementalAlterConfigs(request.clone()),
                    ApiKey::IncrementalAlterConfigs,
                    INCREMENTAL_ALTER_CONFIGS_VERSION,
                    self.cluster.request_timeout,
                )
                .await?;
            let ResponseKind::IncrementalAlterConfigs(response) = response else {
                return Err(unexpected("IncrementalAlterConfigs"));
            };
            match response.responses.first() {
                Some(r) if r.error_code == ErrorCode::NONE => {}
                Some(r) => {
                    return Err(kafka_error(
                        ErrorCode::from_wire(r.error_code),
                        r.error_message.as_ref(),
                    ))
                }
                None => return Err(unexpected("IncrementalAlterConfigs")),
            }
        }
        Ok(())
    }

    /// Grow a topic to `count` partitions (CreatePartitions; the broker forwards it to the
    /// controller when there is one).
    pub async fn create_partitions(&mut self, name: &str, count: i32) -> Result<(), AdminError> {
        let mut topic = CreatePartitionsTopic::default();
        topic.name = TopicName(StrBytes::from_string(name.to_string()));
        topic.count = count;
        topic.assignments = None;
        let mut request = CreatePartitionsRequest::default();
        request.topics = vec![topic];
        request.timeout_ms = self.cluster.request_timeout.as_millis() as i32;
        let response = self
            .cluster
            .request_any(
                RequestKind::CreatePartitions(request),
                ApiKey::CreatePartitions,
                CREATE_PARTITIONS_VERSION,
            )
            .await?;
        let ResponseKind::CreatePartitions(response) = response else {
            return Err(unexpected("CreatePartitions"));
        };
        match response.results.first() {
            Some(r) if r.error_code == ErrorCode::NONE => Ok(()),
            Some(r) => Err(kafka_error(
                ErrorCode::from_wire(r.error_code),
                r.error_message.as_ref(),
            )),
            None => Err(unexpected("CreatePartitions")),
        }
    }

    /// DeleteRecords on a partition's leader: the records below `offset` (-1: the high
    /// watermark) go. Returns the new low watermark (log start offset).
    pub async fn delete_records(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<i64, AdminError> {
        self.describe_topic(topic).await?;
        let leader = self
            .cluster
            .leader(topic, partition)
            .ok_or_else(|| kafka_error(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None))?;
        let mut p = DeleteRecordsPartition::default();
        p.partition_index = partition;
        p.offset = offset;
        let mut t = DeleteRecordsTopic::default();
        t.name = TopicName(StrBytes::from_string(topic.to_string()));
        t.partitions = vec![p];
        let mut request = DeleteRecordsRequest::default();
        request.topics = vec![t];
        request.timeout_ms = self.cluster.request_timeout.as_millis() as i32;
        let conn = self.cluster.connection(leader).await?;
        let response = conn
            .request(
                RequestKind::DeleteRecords(request),
                ApiKey::DeleteRecords,
                DELETE_RECORDS_VERSION,
                self.cluster.request_timeout,
            )
            .await?;
        let ResponseKind::DeleteRecords(response) = response else {
            return Err(unexpected("DeleteRecords"));
        };
        let result = response
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .next()
            .ok_or_else(|| unexpected("DeleteRecords"))?;
        if result.error_code != ErrorCode::NONE {
            return Err(kafka_error(ErrorCode::from_wire(result.error_code), None));
        }
        Ok(result.low_watermark)
    }
}

impl Admin {
    /// ListOffsets on each partition's leader: `timestamp` -2 gives every partition's log
    /// start offset, -1 its log end offset (the high watermark). Indexed by partition.
    pub async fn list_offsets(
        &mut self,
        topic: &str,
        timestamp: i64,
    ) -> Result<Vec<i64>, AdminError> {
        let partitions = self.describe_topic(topic).await?;
        let mut offsets = Vec::with_capacity(partitions.len());
        for (index, info) in partitions.iter().enumerate() {
            offsets.push(
                self.list_offset(topic, index as i32, info.leader, timestamp)
                    .await?,
            );
        }
        Ok(offsets)
    }

    async fn list_offset(
        &mut self,
        topic: &str,
        partition: i32,
        leader: i32,
        timestamp: i64,
    ) -> Result<i64, AdminError> {
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
        let conn = self.cluster.connection(leader).await?;
        let response = conn
            .request(
                RequestKind::ListOffsets(request),
                ApiKey::ListOffsets,
                LIST_OFFSETS_VERSION,
                self.cluster.request_timeout,
            )
            .await?;
        let ResponseKind::ListOffsets(response) = response else {
            return Err(unexpected("ListOffsets"));
        };
        let result = response
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == partition)
            .ok_or_else(|| unexpected("ListOffsets"))?;
        if result.error_code != ErrorCode::NONE {
            return Err(kafka_error(ErrorCode::from_wire(result.error_code), None));
        }
        Ok(result.offset)
    }

    /// FindCoordinator for a group: the id of the broker coordinating it. The first request
    /// of a cluster creates `__consumer_offsets`, so COORDINATOR_NOT_AVAILABLE is waited out.
    pub async fn find_group_coordinator(&mut self, group: &str) -> Result<i32, AdminError> {
        let mut attempts = 0;
        self.find_group_coordinator_within(group, &mut attempts)
            .await
    }

    /// FindCoordinator, counting its tries in `attempts` (shared with the caller's own, so
    /// that one bound holds for the whole request).
    async fn find_group_coordinator_within(
        &mut self,
        group: &str,
        attempts: &mut usize,
    ) -> Result<i32, AdminError> {
        // Metadata first, so the coordinator's address is known.
        self.broker_ids().await?;
        let mut last = None;
        while *attempts < COORDINATOR_ATTEMPTS_MAX {
            *attempts += 1;
            let mut request = FindCoordinatorRequest::default();
            request.key = StrBytes::from_string(group.to_string());
            request.key_type = 0;
            let response = self
                .cluster
                .request_any(
                    RequestKind::FindCoordinator(request),
                    ApiKey::FindCoordinator,
                    FIND_COORDINATOR_VERSION,
                )
                .await?;
            let ResponseKind::FindCoordinator(response) = response else {
                return Err(unexpected("FindCoordinator"));
            };
            let code = ErrorCode::from_wire(response.error_code);
            if code == ErrorCode::NONE {
                return Ok(response.node_id.0);
            }
            if !coordinator_retriable(code) {
                return Err(kafka_error(code, response.error_message.as_ref()));
            }
            last = Some(kafka_error(code, response.error_message.as_ref()));
            tokio::time::sleep(COORDINATOR_RETRY_BACKOFF).await;
        }
        Err(last.unwrap_or_else(|| unexpected("FindCoordinator")))
    }

    /// Send a group request to the group's coordinator, again (after finding it again) while
    /// `error_of` names a retriable coordinator error.
    async fn group_request(
        &mut self,
        group: &str,
        body: RequestKind,
        api_key: ApiKey,
        version: i16,
        error_of: fn(&ResponseKind) -> Option<i16>,
    ) -> Result<ResponseKind, AdminError> {
        let mut last = None;
        let mut attempts = 0;
        while attempts < COORDINATOR_ATTEMPTS_MAX {
            let coordinator = self
                .find_group_coordinator_within(group, &mut attempts)
                .await?;
            attempts += 1;
            let conn = self.cluster.connection(coordinator).await?;
            let response = conn
                .request(body.clone(), api_key, version, self.cluster.request_timeout)
                .await?;
            let code = ErrorCode::from_wire(error_of(&response).unwrap_or(0));
            if !coordinator_retriable(code) {
                return Ok(response);
            }
            last = Some(kafka_error(code, None));
            tokio::time::sleep(COORDINATOR_RETRY_BACKOFF).await;
        }
        Err(last.unwrap_or_else(|| unexpected("a group request")))
    }

    /// ListGroups on every broker (each lists the groups it coordinates), sorted by id.
    pub async fn list_groups(&mut self) -> Result<Vec<ListedGroup>, AdminError> {
        let mut groups = BTreeMap::new();
        for broker in self.broker_ids().await? {
            for group in self.list_groups_of(broker).await? {
                groups.insert(group.group_id.clone(), group);
            }
        }
        Ok(groups.into_values().collect())
    }

    /// ListGroups on one broker, again while it is loading a partition it coordinates (it
    /// would list that partition's groups only once loaded).
    async fn list_groups_of(&mut self, broker: i32) -> Result<Vec<ListedGroup>, AdminError> {
        let mut attempts = 0;
        loop {
            let conn = self.cluster.connection(broker).await?;
            let response = conn
                .request(
                    RequestKind::ListGroups(ListGroupsRequest::default()),
                    ApiKey::ListGroups,
                    LIST_GROUPS_VERSION,
                    self.cluster.request_timeout,
                )
                .await?;
            let ResponseKind::ListGroups(response) = response else {
                return Err(unexpected("ListGroups"));
            };
            let code = ErrorCode::from_wire(response.error_code);
            attempts += 1;
            if coordinator_retriable(code) && attempts < COORDINATOR_ATTEMPTS_MAX {
                tokio::time::sleep(COORDINATOR_RETRY_BACKOFF).await;
                continue;
            }
            if code != ErrorCode::NONE {
                return Err(kafka_error(code, None));
            }
            return Ok(response
                .groups
                .into_iter()
                .map(|group| ListedGroup {
                    group_id: group.group_id.0.to_string(),
                    protocol_type: group.protocol_type.to_string(),
                    state: group.group_state.to_string(),
                })
                .collect());
        }
    }

    /// DescribeGroups at the group's coordinator: its state, protocol and members, with each
    /// consumer's assignment decoded.
    pub async fn describe_group(&mut self, group: &str) -> Result<GroupDescription, AdminError> {
        let mut request = DescribeGroupsRequest::default();
        request.groups = vec![group_id(group)];
        let response = self
            .group_request(
                group,
                RequestKind::DescribeGroups(request),
                ApiKey::DescribeGroups,
                DESCRIBE_GROUPS_VERSION,
                |r| match r {
                    ResponseKind::DescribeGroups(r) => r.groups.first().map(|g| g.error_code),
                    _ => None,
                },
            )
            .await?;
        let ResponseKind::DescribeGroups(response) = response else {
            return Err(unexpected("DescribeGroups"));
        };
        let described = response
            .groups
            .into_iter()
            .next()
            .ok_or_else(|| unexpected("DescribeGroups"))?;
        if described.error_code != ErrorCode::NONE {
            return Err(kafka_error(
                ErrorCode::from_wire(described.error_code),
                described.error_message.as_ref(),
            ));
        }
        let consumer = described.protocol_type.as_str() == "consumer";
        let members = described
            .members
            .iter()
            .map(|m| MemberDescription {
                member_id: m.member_id.to_string(),
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                assignment: consumer
                    .then(|| consumer_protocol::decode_assignment(&m.member_assignment).ok())
                    .flatten()
                    .map(|(assignment, _)| assignment.partitions)
                    .unwrap_or_default(),
            })
            .collect();
        Ok(GroupDescription {
            group_id: described.group_id.0.to_string(),
            state: described.group_state.to_string(),
            protocol_type: described.protocol_type.to_string(),
            protocol: described.protocol_data.to_string(),
            members,
        })
    }

    /// OffsetFetch at the group's coordinator: the committed offset of every partition of
    /// `topics` (every topic the group committed for when `None`), without the partitions
    /// that have none.
    pub async fn fetch_committed_offsets(
        &mut self,
        group: &str,
        topics: Option<&[(String, Vec<i32>)]>,
    ) -> Result<BTreeMap<(String, i32), i64>, AdminError> {
        let mut request = OffsetFetchRequest::default();
        request.group_id = group_id(group);
        request.topics = topics.map(|topics| {
            topics
                .iter()
                .map(|(name, partitions)| {
                    let mut topic = OffsetFetchRequestTopic::default();
                    topic.name = TopicName(StrBytes::from_string(name.clone()));
                    topic.partition_indexes = partitions.clone();
                    topic
                })
                .collect()
        });
        let response = self
            .group_request(
                group,
                RequestKind::OffsetFetch(request),
                ApiKey::OffsetFetch,
                OFFSET_FETCH_VERSION,
                |r| match r {
                    ResponseKind::OffsetFetch(r) => Some(r.error_code),
                    _ => None,
                },
            )
            .await?;
        let ResponseKind::OffsetFetch(response) = response else {
            return Err(unexpected("OffsetFetch"));
        };
        if response.error_code != ErrorCode::NONE {
            return Err(kafka_error(ErrorCode::from_wire(response.error_code), None));
        }
        let mut offsets = BTreeMap::new();
        for topic in &response.topics {
            for p in &topic.partitions {
                if p.error_code != ErrorCode::NONE {
                    return Err(kafka_error(ErrorCode::from_wire(p.error_code), None));
                }
                if p.committed_offset >= 0 {
                    offsets.insert(
                        (topic.name.0.to_string(), p.partition_index),
                        p.committed_offset,
                    );
                }
            }
        }
        Ok(offsets)
    }

    /// OffsetCommit at the group's coordinator as an outsider (generation -1, no member id),
    /// which the coordinator accepts only while the group has no members: what resetting a
    /// group's offsets does. The first partition's error, if any, is the answer.
    pub async fn commit_offsets(
        &mut self,
        group: &str,
        offsets: &BTreeMap<(String, i32), i64>,
    ) -> Result<(), AdminError> {
        let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for ((topic, partition), offset) in offsets {
            let mut p = OffsetCommitRequestPartition::default();
            p.partition_index = *partition;
            p.committed_offset = *offset;
            p.committed_leader_epoch = -1;
            p.committed_metadata = Some(StrBytes::from_static_str(""));
            topics.entry(topic).or_default().push(p);
        }
        let mut request = OffsetCommitRequest::default();
        request.group_id = group_id(group);
        request.generation_id_or_member_epoch = -1;
        request.member_id = StrBytes::from_static_str("");
        request.topics = topics
            .into_iter()
            .map(|(name, partitions)| {
                let mut topic = OffsetCommitRequestTopic::default();
                topic.name = TopicName(StrBytes::from_string(name.to_string()));
                topic.partitions = partitions;
                topic
            })
            .collect();
        let response = self
            .group_request(
                group,
                RequestKind::OffsetCommit(request),
                ApiKey::OffsetCommit,
                OFFSET_COMMIT_VERSION,
                |r| match r {
                    ResponseKind::OffsetCommit(r) => r
                        .topics
                        .iter()
                        .flat_map(|t| &t.partitions)
                        .map(|p| p.error_code)
                        .find(|code| *code != 0),
                    _ => None,
                },
            )
            .await?;
        let ResponseKind::OffsetCommit(response) = response else {
            return Err(unexpected("OffsetCommit"));
        };
        let refused = response
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .find(|p| p.error_code != ErrorCode::NONE);
        match refused {
            Some(p) => Err(kafka_error(ErrorCode::from_wire(p.error_code), None)),
            None => Ok(()),
        }
    }
}

/// IncrementalAlterConfigs of one resource (2 a topic, 4 a broker: its id, or "" for the
/// cluster-wide default) as SET (`Some(value)`) and DELETE (`None`) operations: what the
/// admin client sends, and what a broker forwards to the controller.
pub fn set_or_delete_configs(
    resource_type: i8,
    name: &str,
    changes: &[(String, Option<String>)],
) -> IncrementalAlterConfigsRequest {
    let mut resource = AlterConfigsResource::default();
    resource.resource_type = resource_type;
    resource.resource_name = StrBytes::from_string(name.to_string());
    resource.configs = changes
        .iter()
        .map(|(key, value)| {
            let mut config = AlterableConfig::default();
            config.name = StrBytes::from_string(key.clone());
            // Kafka's AlterConfigOp: SET 0, DELETE 1.
            config.config_operation = if value.is_some() { 0 } else { 1 };
            config.value = value.clone().map(StrBytes::from_string);
            config
        })
        .collect();
    let mut request = IncrementalAlterConfigsRequest::default();
    request.resources = vec![resource];
    request
}
