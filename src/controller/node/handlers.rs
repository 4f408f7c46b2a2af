//! The controller's request handlers for brokers and admins: BrokerRegistration,
//! BrokerHeartbeat, ElectLeaders, AlterPartition, and CreateTopics, CreatePartitions and
//! IncrementalAlterConfigs (forwarded by brokers). Each asks the pure
//! [`Controller`](super::super::Controller) for a decision, commits its records through the
//! metadata log (durable before published), and only then answers.

use kafka_protocol::messages::alter_partition_response::{
    PartitionData as AlterPartitionData, TopicData as AlterTopicData,
};
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    AlterPartitionRequest, AlterPartitionResponse, BrokerHeartbeatRequest, BrokerHeartbeatResponse,
    BrokerId, BrokerRegistrationRequest, BrokerRegistrationResponse, CreatePartitionsRequest,
    CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, ElectLeadersRequest,
    ElectLeadersResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};

use super::super::records::{decode_log_ends, MetadataRecord, LOG_ENDS_TAG};
use super::super::{ElectionType, Endpoint};
use super::Node;
use crate::protocol::ErrorCode;

pub(super) fn register(
    node: &Node,
    request: BrokerRegistrationRequest,
) -> BrokerRegistrationResponse {
    let mut response = BrokerRegistrationResponse::default();
    let broker_id = request.broker_id.0;
    let incarnation = request.incarnation_id.as_u128() as u64;
    let Some(listener) = request.listeners.first() else {
        response.error_code = ErrorCode::INVALID_REQUEST.code();
        return response;
    };
    let endpoint = Endpoint {
        host: listener.host.to_string(),
        port: listener.port,
    };
    let now_ms = node.now_ms();
    // KIP-966: the broker epoch its clean-shutdown marker named (v3+; -1 after a crash).
    let previous_incarnation = u64::try_from(request.previous_broker_epoch).ok();
    let mut core = node.core.lock().unwrap();
    report_log_ends(
        &mut core.controller,
        broker_id,
        incarnation,
        &request.unknown_tagged_fields,
    );
    let registered = core.controller.register_broker(
        broker_id,
        incarnation,
        endpoint,
        now_ms,
        previous_incarnation,
    );
    match registered {
        Ok(records) => {
            node.commit(&mut core, records);
            let end = core.log.len() as i64;
            core.registered_at.insert(broker_id, end);
            response.broker_epoch = incarnation as i64;
        }
        Err(error) => response.error_code = error.code().code(),
    }
    response
}

/// The log ends a BrokerRegistration or BrokerHeartbeat carries in its tagged field, if any,
/// handed to the controller. A garbled field only costs the broker its say in unclean
/// recovery.
fn report_log_ends(
    controller: &mut super::super::Controller,
    broker_id: i32,
    incarnation: u64,
    tagged_fields: &std::collections::BTreeMap<i32, bytes::Bytes>,
) {
    let log_ends = tagged_fields.get(&LOG_ENDS_TAG);
    if let Some(Ok(ends)) = log_ends.map(|bytes| decode_log_ends(bytes)) {
        controller.report_log_ends(broker_id, incarnation, &ends);
    }
}

pub(super) fn heartbeat(node: &Node, request: BrokerHeartbeatRequest) -> BrokerHeartbeatResponse {
    let mut response = BrokerHeartbeatResponse::default();
    let broker_id = request.broker_id.0;
    let now_ms = node.now_ms();
    let mut core = node.core.lock().unwrap();
    // A broker registered before this controller took over is caught up once it has applied
    // the log as it stood at the takeover.
    let registered_at = core.registered_at.get(&broker_id).copied();
    let caught_up = request.current_metadata_offset >= registered_at.unwrap_or(0);
    // Log ends again when the broker's hosted replicas changed since it registered (topics
    // created at run time open only after registration); the heartbeat below then lets
    // offline partitions it hosts try unclean recovery with them.
    report_log_ends(
        &mut core.controller,
        broker_id,
        request.broker_epoch as u64,
        &request.unknown_tagged_fields,
    );
    let result =
        core.controller
            .heartbeat(broker_id, request.broker_epoch as u64, now_ms, caught_up);
    match result {
        Ok(records) => {
            node.commit(&mut core, records);
            if request.want_shut_down {
                // The heartbeat checked the broker epoch; the shutdown's records are durable
                // before the broker is told to go (should_shut_down).
                match core.controller.controlled_shutdown(broker_id) {
                    Ok(records) => {
                        node.commit(&mut core, records);
                        response.should_shut_down = true;
                    }
                    Err(error) => response.error_code = error.code().code(),
                }
            }
            let fenced = core
                .controller
                .state()
                .broker(broker_id)
                .is_none_or(|b| b.fenced);
            response.is_caught_up = caught_up;
            response.is_fenced = fenced;
        }
        Err(error) => response.error_code = error.code().code(),
    }
    response
}

/// The admin ElectLeaders call: each named partition (every partition when the list is null)
/// gets the election asked for, one durable batch at a time; each answers with its own code.
pub(super) fn elect_leaders(node: &Node, request: ElectLeadersRequest) -> ElectLeadersResponse {
    let mut response = ElectLeadersResponse::default();
    let election = match request.election_type {
        0 => ElectionType::Preferred,
        1 => ElectionType::Unclean,
        _ => {
            response.error_code = ErrorCode::INVALID_REQUEST.code();
            return response;
        }
    };
    let mut core = node.core.lock().unwrap();
    let wanted: Vec<(String, Vec<i32>)> = match request.topic_partitions {
        Some(topics) => topics
            .into_iter()
            .map(|t| (t.topic.0.to_string(), t.partitions))
            .collect(),
        None => core
            .controller
            .state()
            .topics
            .iter()
            .map(|(name, topic)| (name.clone(), topic.partitions.keys().copied().collect()))
            .collect(),
    };
    for (topic, partitions) in wanted {
        let mut result = ReplicaElectionResult::default();
        result.topic = kafka_protocol::messages::TopicName(topic.clone().into());
        for partition in partitions {
            let mut answer = PartitionResult::default();
            answer.partition_id = partition;
            match core.controller.elect_leaders(&topic, partition, election) {
                Ok(records) => node.commit(&mut core, records),
                Err(error) => answer.error_code = error.code().code(),
            }
            result.partition_result.push(answer);
        }
        response.replica_election_results.push(result);
    }
    response
}

pub(super) fn alter_partition(
    node: &Node,
    request: AlterPartitionRequest,
) -> AlterPartitionResponse {
    let mut response = AlterPartitionResponse::default();
    let broker_id = request.broker_id.0;
    let mut core = node.core.lock().unwrap();
    for topic in request.topics {
        let topic_id = topic.topic_id.as_u128();
        let name = core
            .controller
            .state()
            .topics
            .iter()
            .find(|(_, t)| t.topic_id == topic_id)
            .map(|(name, _)| name.clone());
        let mut topic_data = AlterTopicData::default();
        topic_data.topic_id = topic.topic_id;
        for partition in topic.partitions {
            let mut data = AlterPartitionData::default();
            data.partition_index = partition.partition_index;
            let Some(name) = &name else {
                data.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code();
                topic_data.partitions.push(data);
                continue;
            };
            let new_isr: Vec<i32> = partition.new_isr.iter().map(|b| b.0).collect();
            let result = core.controller.alter_partition(
                broker_id,
                name,
                partition.partition_index,
                &new_isr,
                partition.leader_epoch,
                partition.partition_epoch,
            );
            match result {
                Ok(records) => node.commit(&mut core, records),
                Err(error) => data.error_code = error.code().code(),
            }
            if let Some(state) = core
                .controller
                .state()
                .partition(name, partition.partition_index)
            {
                data.leader_id = BrokerId(state.leader);
                data.leader_epoch = state.leader_epoch;
                data.isr = state.isr.iter().map(|&b| BrokerId(b)).collect();
                data.partition_epoch = state.partition_epoch;
            }
            topic_data.partitions.push(data);
        }
        response.topics.push(topic_data);
    }
    response
}

/// CreateTopics, as forwarded by a broker (which filled in the broker defaults for -1
/// partitions and replication factor, and checked the configs): a manual assignment when one
/// is given, else round-robin placement over the unfenced brokers. The topic's configs are
/// ConfigRecords in the same batch, so every broker opens the topic with them.
pub(super) fn create_topics(node: &Node, request: CreateTopicsRequest) -> CreateTopicsResponse {
    let mut response = CreateTopicsResponse::default();
    let mut core = node.core.lock().unwrap();
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let mut out = CreatableTopicResult::default();
        out.name = topic.name.clone();
        out.num_partitions = -1;
        out.replication_factor = -1;
        let configs: std::collections::BTreeMap<String, String> = topic
            .configs
            .iter()
            .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
            .collect();
        let result = if configs.len() != topic.configs.len() {
            Err((
                ErrorCode::INVALID_CONFIG,
                "a topic config at creation has a null value or is named twice".to_string(),
            ))
        } else if topic.assignments.is_empty() {
            core.controller
                .create_topic(&name, topic.num_partitions, topic.replication_factor.into())
                .map_err(|e| (e.code(), e.to_string()))
        } else if topic.num_partitions != -1 || topic.replication_factor != -1 {
            Err((
                ErrorCode::INVALID_REQUEST,
                "a manual assignment leaves num_partitions and replication_factor at -1".into(),
            ))
        } else {
            let mut assignments: Vec<_> = topic.assignments.iter().collect();
            assignments.sort_by_key(|a| a.partition_index);
            let dense = assignments
                .iter()
                .enumerate()
                .all(|(i, a)| a.partition_index == i as i32);
            if dense {
                let placement: Vec<Vec<i32>> = assignments
                    .iter()
                    .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
                    .collect();
                core.controller
                    .create_topic_assigned(&name, &placement)
                    .map_err(|e| (e.code(), e.to_string()))
            } else {
                Err((
                    ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                    "partitions must be numbered 0, 1, … without gaps".into(),
                ))
            }
        };
        match result {
            Ok(records) => {
                let records = core.controller.with_topic_configs(records, &name, &configs);
                let partitions = records.iter().filter_map(|r| match r {
                    MetadataRecord::Partition(p) => Some(p),
                    _ => None,
                });
                out.num_partitions = partitions.clone().count() as i32;
                // CreateTopics v7 answers with the new topic's id (KIP-516); validate_only
                // creates nothing, so it answers with the zero id, as Kafka does.
                if !request.validate_only {
                    let id = records.iter().find_map(|r| match r {
                        MetadataRecord::Topic(t) => Some(t.topic_id),
                        _ => None,
                    });
                    out.topic_id = uuid::Uuid::from_u128(id.unwrap_or(0));
                }
                out.replication_factor = partitions
                    .map(|p| p.replicas.len() as i16)
                    .next()
                    .unwrap_or(-1);
                if request.validate_only {
                    core.controller.discard(records);
                } else {
                    node.commit(&mut core, records);
                }
            }
            Err((code, message)) => {
                out.error_code = code.code();
                out.error_message = Some(message.into());
            }
        }
        response.topics.push(out);
    }
    response
}

/// CreatePartitions, as forwarded by a broker: each topic grows through the controller, so
/// every broker opens its new replicas when it applies the records. A topic named twice is
/// INVALID_REQUEST for each, as in Kafka.
pub(super) fn create_partitions(
    node: &Node,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut response = CreatePartitionsResponse::default();
    let mut core = node.core.lock().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let duplicated: std::collections::BTreeSet<String> = request
        .topics
        .iter()
        .map(|t| t.name.0.to_string())
        .filter(|name| !seen.insert(name.clone()))
        .collect();
    for topic in &request.topics {
        let name = topic.name.0.to_string();
        let assignments: Option<Vec<Vec<i32>>> = topic.assignments.as_ref().map(|a| {
            a.iter()
                .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
                .collect()
        });
        let result = if duplicated.contains(&name) {
            Err((
                ErrorCode::INVALID_REQUEST,
                "Duplicate topic in request.".to_string(),
            ))
        } else {
            core.controller
                .create_partitions(&name, topic.count, assignments.as_deref())
                .map_err(|e| (e.code(), e.to_string()))
        };
        let mut out = CreatePartitionsTopicResult::default();
        out.name = topic.name.clone();
        match result {
            Ok(records) if request.validate_only => core.controller.discard(records),
            Ok(records) => node.commit(&mut core, records),
            Err((code, message)) => {
                out.error_code = code.code();
                out.error_message = Some(message.into());
            }
        }
        response.results.push(out);
    }
    response
}

/// Config changes of one resource: `Some` sets, `None` removes.
type ConfigChanges = Vec<(String, Option<String>)>;

/// Kafka's resource types of a topic and a broker, and `AlterConfigOp.OpType` SET and DELETE.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const SET: i8 = 0;
const DELETE: i8 = 1;

/// IncrementalAlterConfigs, as forwarded by a broker: the broker checked the topic's whole
/// resulting set against the config catalogue and sends it here as SET and DELETE operations,
/// which become ConfigRecords; every broker applies them when it applies the records. Topic
/// and broker resources (a broker id, or "" for the cluster-wide default) come here; anything
/// else, or another operation, is INVALID_REQUEST; a missing topic UNKNOWN_TOPIC_OR_PARTITION.
pub(super) fn incremental_alter_configs(
    node: &Node,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    let mut response = IncrementalAlterConfigsResponse::default();
    let mut core = node.core.lock().unwrap();
    for resource in &request.resources {
        let name = resource.resource_name.to_string();
        let changes: Result<ConfigChanges, (ErrorCode, String)> = if ![
            RESOURCE_TOPIC,
            RESOURCE_BROKER,
        ]
        .contains(&resource.resource_type)
        {
            Err((
                ErrorCode::INVALID_REQUEST,
                format!(
                    "the controller alters topic and broker configs, not resource type {}",
                    resource.resource_type
                ),
            ))
        } else {
            resource
                    .configs
                    .iter()
                    .map(|c| match (c.config_operation, &c.value) {
                        (SET, Some(value)) => Ok((c.name.to_string(), Some(value.to_string()))),
                        (DELETE, _) => Ok((c.name.to_string(), None)),
                        (op, _) => Err((
                            ErrorCode::INVALID_REQUEST,
                            format!("forwarded config operation {op} on {} is not SET with a value or DELETE", c.name.as_str()),
                        )),
                    })
                    .collect()
        };
        let result = changes.and_then(|changes| {
            let records = match resource.resource_type {
                RESOURCE_BROKER => core.controller.alter_broker_configs(&name, &changes),
                _ => core.controller.alter_topic_configs(&name, &changes),
            };
            records.map_err(|e| (e.code(), e.to_string()))
        });
        let mut out = AlterConfigsResourceResponse::default();
        out.resource_type = resource.resource_type;
        out.resource_name = resource.resource_name.clone();
        match result {
            Ok(records) if request.validate_only => core.controller.discard(records),
            Ok(records) => node.commit(&mut core, records),
            Err((code, message)) => {
                out.error_code = code.code();
                out.error_message = Some(message.into());
            }
        }
        response.responses.push(out);
    }
    response
}
