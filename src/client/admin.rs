//! The admin client: create, delete, list and describe topics.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteTopicsRequest, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::cluster::{ClusterClient, PartitionInfo};
use super::connection::ConnError;
use crate::protocol::codes::ErrorCode;

const CREATE_TOPICS_VERSION: i16 = 5;
const DELETE_TOPICS_VERSION: i16 = 4;

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
}
