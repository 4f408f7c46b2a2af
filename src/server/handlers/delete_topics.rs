//! DeleteTopics: stop the topic's partitions, delete their files and forget the topic.
//!
//! v6 names each topic by name or by id (KIP-516), as Kafka's `ControllerApis.deleteTopics`:
//! both at once is INVALID_REQUEST, an id this broker does not know UNKNOWN_TOPIC_ID; each
//! result carries the deleted topic's name and id.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::Broker;

pub fn handle(broker: &Broker, request: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
    let named: Vec<(Option<TopicName>, uuid::Uuid)> = if version >= 6 {
        (request.topics.iter())
            .map(|t| (t.name.clone(), t.topic_id))
            .collect()
    } else {
        (request.topic_names.iter())
            .map(|name| (Some(name.clone()), uuid::Uuid::nil()))
            .collect()
    };
    let mut response = DeleteTopicsResponse::default();
    for (name, id) in named {
        let mut out = DeletableTopicResult::default();
        out.name = name.clone();
        out.topic_id = id;
        let name = match (name, id.is_nil()) {
            (Some(_), false) | (None, true) => {
                out.error_code = ErrorCode::INVALID_REQUEST.code();
                out.error_message = Some(str_bytes("name a topic by its name or by its id"));
                response.responses.push(out);
                continue;
            }
            (Some(name), true) => name.0.to_string(),
            (None, false) => match broker.topic_name(id.as_u128()) {
                Some(name) => {
                    out.name = Some(TopicName(str_bytes(&name)));
                    name
                }
                None => {
                    out.error_code = ErrorCode::UNKNOWN_TOPIC_ID.code();
                    response.responses.push(out);
                    continue;
                }
            },
        };
        if let Some(known) = broker.topic_id(&name) {
            out.topic_id = uuid::Uuid::from_u128(known);
        }
        match broker.delete_topic(&name) {
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
