//! FindCoordinator: for a group, the leader of its `__consumer_offsets` partition
//! (`abs(javaHash(group)) % offsets.topic.num.partitions`). The topic is created on the first
//! request that needs it, as Kafka does: `offsets.topic.num.partitions` partitions,
//! `offsets.topic.replication.factor` replicas capped at the brokers the cluster has (and not
//! before that many are alive),
//! `cleanup.policy=compact`; until it exists and the partition has a leader the answer is
//! COORDINATOR_NOT_AVAILABLE and the client asks again. Transactions do not exist yet, so a
//! transaction key is COORDINATOR_NOT_AVAILABLE too.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{create_topics, str_bytes};
use crate::protocol::codes::ErrorCode;
use crate::server::groups::OFFSETS_TOPIC;
use crate::server::Broker;

/// Kafka's `CoordinatorType`.
const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

/// Where a coordinator is: node id, host, port.
type Found = (i32, String, i32);

pub async fn handle(
    broker: &Broker,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let mut response = FindCoordinatorResponse::default();
    if version >= 4 {
        for key in &request.coordinator_keys {
            let found = find(broker, request.key_type, key.as_str()).await;
            let mut c = Coordinator::default();
            c.key = key.clone();
            (c.node_id, c.host, c.port, c.error_code, c.error_message) = fields(found);
            response.coordinators.push(c);
        }
    } else {
        let found = find(broker, request.key_type, request.key.as_str()).await;
        (
            response.node_id,
            response.host,
            response.port,
            response.error_code,
            response.error_message,
        ) = fields(found);
    }
    response
}

type Fields = (
    BrokerId,
    kafka_protocol::protocol::StrBytes,
    i32,
    i16,
    Option<kafka_protocol::protocol::StrBytes>,
);

fn fields(found: Result<Found, (ErrorCode, String)>) -> Fields {
    match found {
        Ok((node, host, port)) => (BrokerId(node), str_bytes(&host), port, 0, None),
        Err((code, message)) => (
            BrokerId(-1),
            str_bytes(""),
            -1,
            code.code(),
            Some(str_bytes(&message)),
        ),
    }
}

async fn find(broker: &Broker, key_type: i8, key: &str) -> Result<Found, (ErrorCode, String)> {
    match key_type {
        KEY_TYPE_GROUP => {}
        KEY_TYPE_TRANSACTION => {
            return Err((
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                "transaction coordinators are not implemented".into(),
            ))
        }
        other => {
            return Err((
                ErrorCode::INVALID_REQUEST,
                format!("unknown coordinator key type {other}"),
            ))
        }
    }
    if broker.topic(OFFSETS_TOPIC).is_none() {
        create_offsets_topic(broker).await;
        return Err((
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            "the offsets topic is being created".into(),
        ));
    }
    let partition = broker.groups.partition_for(key);
    let leader = broker.leader_of(OFFSETS_TOPIC, partition);
    let endpoint = (broker.config.brokers.iter()).find(|b| Some(b.node_id) == leader);
    match endpoint {
        Some(b) => Ok((b.node_id, b.host.clone(), b.port)),
        None => Err((
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            format!("{OFFSETS_TOPIC}-{partition} has no leader"),
        )),
    }
}

async fn create_offsets_topic(broker: &Broker) {
    let settings = &broker.groups.settings;
    let replication_factor = match broker.metadata() {
        // With a controller: capped at the brokers the cluster has (registered), and, as in
        // Kafka, not created until that many are alive (unfenced): a topic made while the
        // brokers of a fresh cluster are still registering would keep a smaller RF for good.
        Some(metadata) => {
            let registered = metadata.brokers.len() as i32;
            let live = metadata.brokers.values().filter(|b| !b.fenced).count() as i32;
            let wanted = settings
                .offsets_topic_replication_factor
                .min(registered.max(1));
            if live < wanted {
                tracing::info!(
                    live,
                    wanted,
                    "the offsets topic waits for enough live brokers"
                );
                return;
            }
            wanted
        }
        // The static map hosts topics created at run time on this broker only.
        None => 1,
    };
    let configs = [
        ("cleanup.policy", "compact".to_string()),
        (
            "segment.bytes",
            settings.offsets_topic_segment_bytes.to_string(),
        ),
    ];
    let partitions = settings.coordinator.offsets_topic_partitions;
    let created = create_topics::create_with(
        broker,
        OFFSETS_TOPIC,
        partitions,
        replication_factor as i16,
        &configs,
    )
    .await;
    match created {
        Ok(_) => broker.env.trace.effect("group.offsets_topic_created", 1),
        Err((ErrorCode::TOPIC_ALREADY_EXISTS, _)) => {}
        Err((code, message)) => {
            tracing::info!(%code, %message, "creating the offsets topic failed; clients ask again")
        }
    }
}
