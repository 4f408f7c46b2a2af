//! The broker's side of the controller: registration and heartbeats (the broker's session),
//! replication of the metadata log into the broker's own [`MetadataState`], the role changes
//! that log asks of the hosted partitions, and the leaders' AlterPartition proposals.
//!
//! Three tasks, each on its own connection, so a long-polling metadata fetch never delays a
//! heartbeat. Every metadata batch is applied in full and then every hosted partition is
//! reconciled against it, so a controller fail-over (a new controller epoch in the log) or a
//! reconnect re-applies the whole state.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::alter_partition_request::{PartitionData, TopicData};
use kafka_protocol::messages::broker_registration_request::Listener;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    AlterPartitionRequest, ApiKey, BrokerHeartbeatRequest, BrokerId, BrokerRegistrationRequest,
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    FetchRequest, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::mpsc;

use super::partition::IsrProposal;
use super::Broker;
use crate::client::connection::{ConnError, Connection};
use crate::metadata::records::{decode_log, encode_log_ends, LOG_ENDS_TAG};
use crate::metadata::METADATA_TOPIC;
use crate::metadata::{ChangeReason, MetadataRecord, MetadataState, ReplicaLogEnd};
use crate::protocol::codes::ErrorCode;

/// How long one controller request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause before reconnecting or retrying.
const BACKOFF: Duration = Duration::from_millis(250);
/// The metadata fetch's long-poll wait.
const METADATA_WAIT: Duration = Duration::from_millis(500);
/// Where the broker keeps its incarnation counter (it grows on every start).
const INCARNATION_FILE: &str = "broker.incarnation";
/// BrokerRegistration v3 carries the previous broker epoch of a clean shutdown (KIP-966).
const REGISTRATION_VERSION: i16 = 3;
/// The CreateTopics version brokers forward at.
const CREATE_TOPICS_VERSION: i16 = 7;
/// The CreatePartitions version brokers forward at.
const CREATE_PARTITIONS_VERSION: i16 = 3;

/// Run the broker's controller tasks until the process dies.
pub async fn run(
    broker: Arc<Broker>,
    controller: SocketAddr,
    proposals: mpsc::UnboundedReceiver<IsrProposal>,
) {
    let incarnation = next_incarnation(&broker);
    broker
        .broker_epoch
        .store(incarnation as i64, Ordering::Relaxed);
    broker
        .env
        .trace
        .observe(&crate::env::Observation::Incarnation { incarnation });
    tokio::spawn(heartbeats(broker.clone(), controller));
    tokio::spawn(alter_partitions(broker.clone(), controller, proposals));
    replicate_metadata(broker, controller).await;
}

/// The persisted incarnation plus one, persisted before use so a restart never reuses it.
fn next_incarnation(broker: &Broker) -> u64 {
    let disk = &broker.env.disk;
    let previous = disk
        .read_all(INCARNATION_FILE)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let next = previous + 1;
    persist_incarnation(broker, next);
    next
}

fn persist_incarnation(broker: &Broker, incarnation: u64) {
    let disk = &broker.env.disk;
    let written = disk
        .write_file(INCARNATION_FILE, incarnation.to_string().as_bytes())
        .and_then(|_| disk.fsync(INCARNATION_FILE))
        .and_then(|_| disk.fsync_dir(""));
    if let Err(error) = written {
        tracing::warn!(%error, "could not persist the broker incarnation");
    }
}

async fn connect(broker: &Broker, controller: SocketAddr, role: &str) -> Connection {
    let client_id = format!("broker-{}-{role}", broker.config.node_id);
    loop {
        match Connection::connect(controller, &client_id, 1, REQUEST_TIMEOUT).await {
            Ok(conn) => return conn,
            Err(_) => tokio::time::sleep(BACKOFF).await,
        }
    }
}

/// An admin request forwarded to the controller, as a KRaft broker does (CreateTopics,
/// CreatePartitions: the controller places the replicas and writes the change to the metadata
/// log; this and every other broker act on it when they apply it). On a fresh connection: the
/// answer comes back or the connection fails, and a failure is retriable for the client.
pub async fn forward(
    broker: &Broker,
    body: RequestKind,
    api_key: ApiKey,
    version: i16,
) -> Result<ResponseKind, ConnError> {
    let Some(controller) = broker.config.controller else {
        return Err(ConnError::Protocol("no controller to forward to".into()));
    };
    let client_id = format!("broker-{}-forward", broker.config.node_id);
    let conn = Connection::connect(controller, &client_id, 1, REQUEST_TIMEOUT).await?;
    conn.request(body, api_key, version, REQUEST_TIMEOUT).await
}

/// CreateTopics, forwarded to the controller.
pub async fn forward_create_topics(
    broker: &Broker,
    request: CreateTopicsRequest,
) -> Result<CreateTopicsResponse, ConnError> {
    let body = RequestKind::CreateTopics(request);
    match forward(broker, body, ApiKey::CreateTopics, CREATE_TOPICS_VERSION).await? {
        ResponseKind::CreateTopics(response) => Ok(response),
        _ => Err(ConnError::Protocol(
            "unexpected response to CreateTopics".into(),
        )),
    }
}

/// CreatePartitions, forwarded to the controller.
pub async fn forward_create_partitions(
    broker: &Broker,
    request: CreatePartitionsRequest,
) -> Result<CreatePartitionsResponse, ConnError> {
    let body = RequestKind::CreatePartitions(request);
    match forward(
        broker,
        body,
        ApiKey::CreatePartitions,
        CREATE_PARTITIONS_VERSION,
    )
    .await?
    {
        ResponseKind::CreatePartitions(response) => Ok(response),
        _ => Err(ConnError::Protocol(
            "unexpected response to CreatePartitions".into(),
        )),
    }
}

/// Config changes of one resource (a topic, or a broker: an id or "" for the cluster-wide
/// default), `Some` setting and `None` removing, forwarded to the controller as
/// IncrementalAlterConfigs SET and DELETE operations (v1). The broker applies the change
/// when the controller's records reach it.
pub async fn forward_configs(
    broker: &Broker,
    resource_type: i8,
    resource_name: &str,
    changes: &[(String, Option<String>)],
) -> Result<(ErrorCode, Option<String>), ConnError> {
    let request =
        crate::client::admin::set_or_delete_configs(resource_type, resource_name, changes);
    let body = RequestKind::IncrementalAlterConfigs(request);
    match forward(broker, body, ApiKey::IncrementalAlterConfigs, 1).await? {
        ResponseKind::IncrementalAlterConfigs(response) => {
            let Some(answer) = response.responses.first() else {
                return Err(ConnError::Protocol(
                    "empty answer to IncrementalAlterConfigs".into(),
                ));
            };
            let message = answer.error_message.as_ref().map(|m| m.to_string());
            Ok((ErrorCode::from_wire(answer.error_code), message))
        }
        _ => Err(ConnError::Protocol(
            "unexpected response to IncrementalAlterConfigs".into(),
        )),
    }
}

/// Register, then heartbeat every `broker.heartbeat.interval.ms` (at once when a controlled
/// shutdown begins); re-register after a reconnect or when the controller no longer knows
/// this incarnation. Stops when the broker does.
async fn heartbeats(broker: Arc<Broker>, controller: SocketAddr) {
    let interval = Duration::from_millis(broker.config.heartbeat_interval_ms());
    let mut now = broker.heartbeat_now.subscribe();
    while !broker.is_stopped() {
        let conn = connect(&broker, controller, "heartbeat").await;
        // The replicas whose log ends the controller has from this process.
        let mut reported = hosted(&broker);
        match register(&broker, &conn).await {
            Ok(ErrorCode::NONE) => {}
            Ok(ErrorCode::STALE_BROKER_EPOCH) => {
                // The controller knows a later incarnation (this disk was replaced): jump past.
                let next = broker.broker_epoch.load(Ordering::Relaxed) as u64 + (1 << 32);
                persist_incarnation(&broker, next);
                broker.broker_epoch.store(next as i64, Ordering::Relaxed);
                let observed = crate::env::Observation::Incarnation { incarnation: next };
                broker.env.trace.observe(&observed);
                continue;
            }
            Ok(code) => {
                tracing::warn!(%code, "broker registration refused");
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
            Err(_) => {
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        }
        while !broker.is_stopped() {
            match heartbeat(&broker, &conn, &mut reported).await {
                Ok(ErrorCode::STALE_BROKER_EPOCH | ErrorCode::BROKER_ID_NOT_REGISTERED)
                | Err(_) => break,
                Ok(_) => {
                    tokio::select! {
                        biased;
                        _ = now.changed() => {}
                        () = tokio::time::sleep(interval) => {}
                    }
                }
            }
        }
        tokio::time::sleep(BACKOFF).await;
    }
}

async fn register(broker: &Broker, conn: &Connection) -> Result<ErrorCode, ConnError> {
    let mut listener = Listener::default();
    listener.name = StrBytes::from_static_str("PLAINTEXT");
    listener.host = StrBytes::from_string(broker.config.listen.ip().to_string());
    listener.port = broker.config.listen.port();
    let mut request = BrokerRegistrationRequest::default();
    request.broker_id = BrokerId(broker.config.node_id);
    request.previous_broker_epoch = broker.previous_broker_epoch;
    request.cluster_id = StrBytes::from_string(broker.config.cluster_id.clone());
    let incarnation = broker.broker_epoch.load(Ordering::Relaxed) as u64;
    request.incarnation_id = uuid::Uuid::from_u128(incarnation as u128);
    request.listeners = vec![listener];
    let ends = encode_log_ends(&log_ends(broker).await);
    request
        .unknown_tagged_fields
        .insert(LOG_ENDS_TAG, bytes::Bytes::from(ends));
    let response = conn
        .request(
            RequestKind::BrokerRegistration(request),
            ApiKey::BrokerRegistration,
            REGISTRATION_VERSION,
            REQUEST_TIMEOUT,
        )
        .await?;
    match response {
        ResponseKind::BrokerRegistration(response) => Ok(ErrorCode::from_wire(response.error_code)),
        _ => Err(ConnError::Protocol(
            "unexpected response to BrokerRegistration".into(),
        )),
    }
}

/// The replicas this broker hosts now.
fn hosted(broker: &Broker) -> Vec<(String, i32)> {
    broker
        .partitions()
        .into_iter()
        .map(|(key, _)| key)
        .collect()
}

/// Every hosted replica's last epoch and log end offset, for the controller's unclean
/// recovery (KIP-966) to compare. Sent at registration, and again with the next heartbeat
/// whenever the hosted replicas changed: a topic created at run time (`__consumer_offsets`,
/// say) is opened only once the metadata log reaches this broker, after it registered, and
/// without its log end a partition whose every replica crashed would stay offline for good.
async fn log_ends(broker: &Broker) -> Vec<ReplicaLogEnd> {
    let mut ends = Vec::new();
    for ((topic, partition), handle) in broker.partitions() {
        ends.push(ReplicaLogEnd {
            topic,
            partition,
            last_epoch: handle.latest_epoch().await,
            end_offset: handle.offsets().log_end_offset,
        });
    }
    ends
}

async fn heartbeat(
    broker: &Broker,
    conn: &Connection,
    reported: &mut Vec<(String, i32)>,
) -> Result<ErrorCode, ConnError> {
    let mut request = BrokerHeartbeatRequest::default();
    let now_hosted = hosted(broker);
    let report = now_hosted != *reported;
    if report {
        let ends = encode_log_ends(&log_ends(broker).await);
        request
            .unknown_tagged_fields
            .insert(LOG_ENDS_TAG, bytes::Bytes::from(ends));
    }
    request.broker_id = BrokerId(broker.config.node_id);
    request.broker_epoch = broker.broker_epoch.load(Ordering::Relaxed);
    request.current_metadata_offset = broker.metadata_offset.load(Ordering::Relaxed);
    let request_wants_shut_down = broker.shutting_down.load(Ordering::SeqCst);
    request.want_shut_down = request_wants_shut_down;
    let response = conn
        .request(
            RequestKind::BrokerHeartbeat(request),
            ApiKey::BrokerHeartbeat,
            0,
            REQUEST_TIMEOUT,
        )
        .await?;
    match response {
        ResponseKind::BrokerHeartbeat(response) => {
            if request_wants_shut_down && response.should_shut_down {
                broker.shutdown_approved.send_if_changed(true);
            }
            let code = ErrorCode::from_wire(response.error_code);
            if report && code == ErrorCode::NONE {
                *reported = now_hosted;
            }
            Ok(code)
        }
        _ => Err(ConnError::Protocol(
            "unexpected response to BrokerHeartbeat".into(),
        )),
    }
}

/// Fetch the metadata log from the controller, fold it into this broker's state, and move
/// hosted partitions to the roles it names.
async fn replicate_metadata(broker: Arc<Broker>, controller: SocketAddr) {
    let mut state = MetadataState::new();
    let mut offset = 0i64;
    loop {
        let conn = connect(&broker, controller, "metadata").await;
        loop {
            let last_epoch = state.controller_epoch;
            let Ok((code, records, log_end)) = fetch_metadata(&conn, offset, last_epoch).await
            else {
                break;
            };
            if code == ErrorCode::OFFSET_OUT_OF_RANGE {
                // The controller does not have what this broker applied: start over.
                state = MetadataState::new();
                offset = 0;
                continue;
            }
            if code != ErrorCode::NONE {
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
            let decoded = decode_log(&records);
            if decoded.records.is_empty() {
                continue;
            }
            let mut unclean = BTreeSet::new();
            for record in &decoded.records {
                if let MetadataRecord::PartitionChange(change) = record {
                    if change.reason == ChangeReason::UncleanElection {
                        unclean.insert((change.topic.clone(), change.partition));
                    }
                }
                state.apply(record);
            }
            offset += decoded.records.len() as i64;
            broker.set_metadata(state.clone(), offset);
            if offset >= log_end {
                observe_image(&broker, &state, offset);
            }
            // As a KRaft broker, act on the metadata only once it includes this process's
            // own registration (and so whatever the controller decided about its restart):
            // a restarted leader must not lead again from a stale view of the log.
            let incarnation = broker.broker_epoch.load(Ordering::Relaxed) as u64;
            let registered = state
                .broker(broker.config.node_id)
                .is_some_and(|b| b.incarnation >= incarnation);
            if registered && !broker.is_stopped() {
                reconcile(&broker, &state, &unclean).await;
            }
        }
        tokio::time::sleep(BACKOFF).await;
    }
}

/// Tell the online checkers which epochs this broker acts on now that it has applied the
/// controller's whole log.
fn observe_image(broker: &Broker, state: &MetadataState, metadata_offset: i64) {
    let partitions: Vec<crate::env::PartitionEpochs<'_>> = state
        .partitions()
        .map(|(topic, partition, p)| crate::env::PartitionEpochs {
            tp: (topic, partition),
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
        })
        .collect();
    broker
        .env
        .trace
        .observe(&crate::env::Observation::MetadataImage {
            metadata_offset,
            controller_epoch: state.controller_epoch,
            partitions: &partitions,
        });
}

/// One metadata Fetch from `offset`: the error code, the records, and the controller's log
/// end (the response's high watermark).
async fn fetch_metadata(
    conn: &Connection,
    offset: i64,
    last_epoch: i32,
) -> Result<(i16, bytes::Bytes, i64), ConnError> {
    let mut partition = FetchPartition::default();
    partition.partition = 0;
    partition.fetch_offset = offset;
    partition.current_leader_epoch = -1;
    // The controller epoch of the last record applied, so a controller whose log forked from
    // this broker's can tell (KRaft's divergence check).
    partition.last_fetched_epoch = if offset > 0 { last_epoch } else { -1 };
    partition.log_start_offset = -1;
    partition.partition_max_bytes = 1 << 20;
    let mut topic = FetchTopic::default();
    topic.topic = TopicName(StrBytes::from_static_str(METADATA_TOPIC));
    topic.partitions = vec![partition];
    let mut request = FetchRequest::default();
    request.replica_id = BrokerId(-1);
    request.max_wait_ms = METADATA_WAIT.as_millis() as i32;
    request.min_bytes = 1;
    request.max_bytes = 1 << 20;
    request.session_epoch = -1;
    request.topics = vec![topic];
    let timeout = REQUEST_TIMEOUT + METADATA_WAIT;
    let response = conn
        .request(RequestKind::Fetch(request), ApiKey::Fetch, 12, timeout)
        .await?;
    let ResponseKind::Fetch(response) = response else {
        return Err(ConnError::Protocol("unexpected response to Fetch".into()));
    };
    let data = response
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .next()
        .ok_or_else(|| ConnError::Protocol("empty metadata Fetch response".into()))?;
    Ok((
        data.error_code,
        data.records.unwrap_or_default(),
        data.high_watermark,
    ))
}

/// Move every hosted partition to the role the metadata names.
async fn reconcile(broker: &Arc<Broker>, state: &MetadataState, unclean: &BTreeSet<(String, i32)>) {
    let me = broker.config.node_id;
    // Topics created or grown through the controller (CreateTopics, auto-creation,
    // CreatePartitions): every broker lists them, and opens the replicas placed on it, each
    // replicated one with a fetcher as at startup.
    for (name, topic) in &state.topics {
        let local = broker.topic(name).map_or(0, |t| t.replicas.len());
        let added: Vec<Vec<i32>> = topic
            .partitions
            .values()
            .skip(local)
            .map(|p| p.replicas.clone())
            .collect();
        if added.is_empty() {
            continue;
        }
        let opened = if local == 0 {
            let assignment = crate::metadata::TopicAssignment {
                name: name.clone(),
                replicas: added.clone(),
                configs: topic.configs.clone(),
            };
            broker.add_topic(assignment, &Default::default(), true)
        } else {
            broker.add_partitions(name, added.clone()).map(|_| ())
        };
        if let Err(error) = opened {
            tracing::error!(topic = %name, %error, "cannot open partitions the controller created");
            continue;
        }
        // The replicas hosted here, with the startup rule for a fetcher (`replicated`).
        for partition in (local..local + added.len()).map(|p| p as i32) {
            if let Some(handle) = broker.partition(name, partition).filter(|h| h.replicated()) {
                let follow =
                    super::fetcher::follow(broker.clone(), name.clone(), partition, handle);
                tokio::spawn(follow);
            }
        }
    }
    // Dynamic broker configs from the metadata log: the cluster-wide default and this
    // broker's own.
    let dynamic = super::DynamicBrokerConfigs {
        default: state.broker_configs.get("").cloned().unwrap_or_default(),
        own: (state.broker_configs.get(&me.to_string()))
            .cloned()
            .unwrap_or_default(),
    };
    if dynamic != broker.dynamic_configs() {
        if let Err(error) = broker.set_dynamic_configs(dynamic).await {
            tracing::error!(%error, "cannot apply the controller's broker configs");
        }
    }
    // Topic configs changed through the controller (ConfigRecords) take effect here now.
    for (name, topic) in &state.topics {
        let changed = broker
            .topic(name)
            .is_some_and(|t| t.configs != topic.configs);
        if changed {
            if let Err(error) = broker
                .alter_topic_configs(name, topic.configs.clone())
                .await
            {
                tracing::error!(topic = %name, %error, "cannot apply the controller's topic configs");
            }
        }
    }
    for (topic, partition, live) in state.partitions() {
        if !live.replicas.contains(&me) {
            continue;
        }
        let Some(handle) = broker.partition(topic, partition) else {
            continue;
        };
        let role = handle.role();
        let current = role.leader == live.leader && role.leader_epoch == live.leader_epoch;
        if live.leader == me {
            if !current {
                let clean = !unclean.contains(&(topic.to_string(), partition));
                let isr = live.isr.clone();
                handle
                    .become_leader(live.leader_epoch, isr, live.partition_epoch, clean)
                    .await;
            } else {
                handle
                    .isr_committed(live.isr.clone(), live.partition_epoch)
                    .await;
            }
        } else if !current {
            handle.become_follower(live.leader, live.leader_epoch).await;
        }
    }
}

/// Send each leader's ISR proposal to the controller (KIP-497). A refused or lost proposal
/// clears the pending change, so the leader proposes again on its next check.
async fn alter_partitions(
    broker: Arc<Broker>,
    controller: SocketAddr,
    mut proposals: mpsc::UnboundedReceiver<IsrProposal>,
) {
    let mut conn: Option<Connection> = None;
    while let Some(proposal) = proposals.recv().await {
        let Some(handle) = broker.partition(&proposal.topic, proposal.partition) else {
            continue;
        };
        if conn.as_ref().is_none_or(|c| c.is_closed()) {
            conn = Some(connect(&broker, controller, "alter-partition").await);
        }
        let connection = conn.as_ref().expect("connected above");
        match alter_partition(&broker, connection, &proposal).await {
            Ok(Some((isr, partition_epoch))) => handle.isr_committed(isr, partition_epoch).await,
            Ok(None) => {}
            Err(_) => conn = None,
        }
        // Whatever the answer, nothing is pending any more: a committed change was applied
        // just above (or arrives through the metadata log), a refused one is dropped.
        handle.isr_rejected().await;
    }
}

async fn alter_partition(
    broker: &Broker,
    conn: &Connection,
    proposal: &IsrProposal,
) -> Result<Option<(Vec<i32>, i32)>, ConnError> {
    let topic_id = broker
        .metadata()
        .and_then(|m| m.topics.get(&proposal.topic).map(|t| t.topic_id))
        .unwrap_or(0);
    let mut partition = PartitionData::default();
    partition.partition_index = proposal.partition;
    partition.leader_epoch = proposal.change.leader_epoch;
    partition.new_isr = proposal
        .change
        .new_isr
        .iter()
        .map(|&b| BrokerId(b))
        .collect();
    partition.partition_epoch = proposal.change.partition_epoch;
    let mut topic = TopicData::default();
    topic.topic_id = uuid::Uuid::from_u128(topic_id);
    topic.partitions = vec![partition];
    let mut request = AlterPartitionRequest::default();
    request.broker_id = BrokerId(broker.config.node_id);
    request.broker_epoch = broker.broker_epoch.load(Ordering::Relaxed);
    request.topics = vec![topic];
    let response = conn
        .request(
            RequestKind::AlterPartition(request),
            ApiKey::AlterPartition,
            2,
            REQUEST_TIMEOUT,
        )
        .await?;
    let ResponseKind::AlterPartition(response) = response else {
        return Err(ConnError::Protocol(
            "unexpected response to AlterPartition".into(),
        ));
    };
    let answer = response
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .next();
    Ok(answer
        .filter(|p| p.error_code == ErrorCode::NONE)
        .map(|p| (p.isr.iter().map(|b| b.0).collect(), p.partition_epoch)))
}
