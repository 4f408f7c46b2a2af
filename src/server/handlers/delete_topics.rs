//! DeleteTopics: stop the topic's partitions, delete their files and forget the topic.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::Broker;

pub fn handle(broker: &Broker, request: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
    let names: Vec<TopicName> = if version >= 6 {
        request
            .topics
            .iter()
            .filter_map(|t| t.name.clone())
            .collect()
    } else {
        request.topic_names.clone()
    };
    let mut response = DeleteTopicsResponse::default();
    for name in names {
        let mut out = DeletableTopicResult::default();
        out.name = Some(name.clone());
        match broker.delete_topic(name.0.as_str()) {
            Ok(true) => {}
            Ok(false) => out.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code(),
            Err(error) => {
                out.error_code = ErrorCode::KAFKA_STORAGE_ERROR.code();
                out.error_message = Some(str_bytes(&error.to_string()));
            }
        }
        response.responses.push(out);
    }
    response
}
