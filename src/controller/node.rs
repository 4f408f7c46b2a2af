//! The controller process: the pure [`Controller`] wired to a disk and the network.
//!
//! Every decision goes through the durability contract: the records an input returns are
//! appended to the metadata log and fsynced, then applied, then answered or served. Brokers
//! speak Kafka's own controller APIs to it — BrokerRegistration, BrokerHeartbeat and
//! AlterPartition — and replicate the metadata log with Fetch v12 of `__cluster_metadata`
//! (a long poll), as KRaft brokers do; each broker folds the records into its own
//! [`MetadataState`](super::MetadataState). A restarted controller replays its log, bumps the
//! controller epoch (every broker sees the bump in the log and re-applies its whole state) and
//! gives every broker a fresh session.
//!
//! Only one controller runs in this build; the transport is kept apart from the decisions so
//! a Raft quorum can replace the single log later.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::alter_partition_response::{
    PartitionData as AlterPartitionData, TopicData as AlterTopicData,
};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{
    AlterPartitionRequest, AlterPartitionResponse, BrokerHeartbeatRequest, BrokerHeartbeatResponse,
    BrokerId, BrokerRegistrationRequest, BrokerRegistrationResponse, ElectLeadersRequest,
    ElectLeadersResponse, FetchRequest, FetchResponse, RequestKind, ResponseKind,
};
use tokio::net::{TcpListener, TcpStream};

use super::records::{decode_log_ends, encode_all, MetadataRecord, LOG_ENDS_TAG};
use super::{Controller, ControllerConfig, ElectionType, Endpoint};
use crate::env::{ConnInfo, Env, NetAction};
use crate::metadata::{TopicAssignment, METADATA_TOPIC};
use crate::protocol::{self, codes, CONTROLLER_SUPPORTED};
use crate::sync::Watch;

/// The metadata log's directory and file on the controller's disk.
const LOG_DIR: &str = "__cluster_metadata-0";
const LOG_FILE: &str = "__cluster_metadata-0/metadata.log";
/// How often broker sessions are checked for expiry.
const TICK_INTERVAL: Duration = Duration::from_millis(250);
/// Bound on the records one metadata Fetch response carries.
const RECORDS_PER_FETCH_MAX: usize = 1000;
/// Bound on a request frame from a broker.
const REQUEST_BYTES_MAX: usize = 16 << 20;

/// Everything the controller process needs to start.
#[derive(Debug, Clone)]
pub struct ControllerNodeConfig {
    /// Address to bind.
    pub listen: SocketAddr,
    /// The decision settings.
    pub controller: ControllerConfig,
    /// Topics written into a new metadata log, with their placement.
    pub topics: Vec<TopicAssignment>,
}

/// The controller's published state: the decision core and its log, offset = index.
struct Core {
    controller: Controller,
    log: Vec<MetadataRecord>,
    /// Each broker's metadata log end right after its latest registration: its heartbeats
    /// report it caught up once it has applied that much.
    registered_at: BTreeMap<i32, i64>,
    /// Records published but not yet fsynced: only ever set by the TEST-ONLY planted bug
    /// `controller-publish-before-fsync`, whose next tick fsyncs them.
    unsynced: bool,
}

struct Node {
    env: Env,
    core: Mutex<Core>,
    /// The log's length, for long-polling fetches.
    log_end: Watch<u64>,
    /// Monotonic time zero for broker sessions.
    started: tokio::time::Instant,
    /// TEST-ONLY planted bugs (see [`crate::planted`]).
    planted: crate::planted::PlantedBugs,
}

impl Node {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Append `records` to the log, fsync, then publish them. A failed write is fatal (as in
    /// Kafka): the controller stops serving and a restart rebuilds from the log.
    fn commit(&self, core: &mut Core, records: Vec<MetadataRecord>) {
        if records.is_empty() {
            return;
        }
        let bytes = encode_all(&records);
        let disk = &self.env.disk;
        let first = !disk.exists(LOG_FILE);
        let appended = disk.append(LOG_FILE, &bytes);
        let durable = if self.planted.controller_publish_before_fsync {
            // TEST-ONLY planted bug: publish now and leave the fsync to the next tick.
            core.unsynced = true;
            appended.map(|_| ())
        } else {
            appended.and_then(|_| self.sync_log(first))
        };
        if let Err(error) = durable {
            panic!("controller: metadata log write failed ({error}); a restart replays the log");
        }
        self.env.trace.record("metadata", &bytes);
        for record in &records {
            // Which rule gave each partition its leader, for the run's effects.
            if let MetadataRecord::PartitionChange(change) = record {
                if change.leader.is_some_and(|leader| leader >= 0) {
                    let name = format!("control.elections.{}", change.reason.name());
                    self.env.trace.effect(&name, 1);
                }
            }
        }
        core.controller.apply(&records);
        observe_isr_commits(&self.env, &core.controller, &records);
        core.log.extend(records);
        let end = core.log.len() as u64;
        self.log_end.send_modify(|n| *n = end);
    }

    /// fsync the log file, and its directory when the file was just created (the directory
    /// itself was made durable when it was created, in [`run`]).
    fn sync_log(&self, created: bool) -> std::io::Result<()> {
        let disk = &self.env.disk;
        disk.fsync(LOG_FILE)?;
        if created {
            disk.fsync_dir(LOG_DIR)?;
        }
        Ok(())
    }

    /// The planted bug's deferred fsync (a no-op otherwise).
    fn sync_published(&self, core: &mut Core) {
        if std::mem::take(&mut core.unsynced) {
            if let Err(error) = self.sync_log(true) {
                panic!("controller: metadata log fsync failed ({error})");
            }
        }
    }
}

/// Tell the online checkers about every ISR this batch of records committed, with the
/// partition's whole state after it (a change record carries only what changed). An unclean
/// election and KIP-966's last-known-ELR recovery (its unclean recovery: the longest log among
/// replicas that left both the ISR and the ELR) are not clean: they may elect a replica that
/// misses committed data, and say so.
fn observe_isr_commits(env: &Env, controller: &Controller, records: &[MetadataRecord]) {
    for record in records {
        let (topic, partition, clean) = match record {
            MetadataRecord::Partition(p) => (&p.topic, p.partition, true),
            MetadataRecord::PartitionChange(change) if change.isr.is_some() => (
                &change.topic,
                change.partition,
                !matches!(
                    change.reason,
                    super::records::ChangeReason::UncleanElection
                        | super::records::ChangeReason::LastKnownElrRecovery
                ),
            ),
            _ => continue,
        };
        let Some(state) = controller.state().partition(topic, partition) else {
            continue;
        };
        let incarnations: Vec<u64> = state
            .isr
            .iter()
            .map(|&b| controller.state().broker(b).map_or(0, |b| b.incarnation))
            .collect();
        env.trace.observe(&crate::env::Observation::IsrCommitted {
            tp: (topic, partition),
            leader: state.leader,
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            isr: &state.isr,
            incarnations: &incarnations,
            clean,
        });
    }
}

/// Start the controller: replay (or create) the metadata log, take over, and serve until
/// `shutdown` completes (SIGTERM): then every published record is durable and it returns.
pub async fn run(
    env: Env,
    config: ControllerNodeConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    // The directory's own entry must be durable before the log in it can be (a create
    // survives a power loss only once its parent directory is fsynced).
    crate::env::create_dir_durable(&*env.disk, LOG_DIR)?;
    let node = Arc::new(Node {
        env,
        core: Mutex::new(Core {
            controller: Controller::new(config.controller.clone()),
            log: Vec::new(),
            registered_at: BTreeMap::new(),
            unsynced: false,
        }),
        log_end: Watch::new(0),
        started: tokio::time::Instant::now(),
        planted: config.controller.planted,
    });
    recover(&node, &config)?;
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(listen = %config.listen, "controller listening");
    tokio::spawn(tick(node.clone()));
    let mut conn_id = 0u64;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = &mut shutdown => {
                let mut core = node.core.lock().unwrap();
                node.sync_published(&mut core);
                node.env.trace.record("shutdown", b"controller");
                node.env.trace.effect("controller.shutdown.clean", 1);
                tracing::info!("controller shut down cleanly");
                return Ok(());
            }
            accepted = listener.accept() => accepted?,
        };
        conn_id += 1;
        let info = ConnInfo {
            node_id: node.env.node_id,
            conn_id,
            peer,
        };
        tokio::spawn(serve_connection(node.clone(), stream, info));
    }
}

/// Replay the durable prefix of the log (cutting a torn tail), bootstrap the topics of a new
/// log, and take over with a new controller epoch.
fn recover(node: &Node, config: &ControllerNodeConfig) -> anyhow::Result<()> {
    let disk = &node.env.disk;
    let bytes = if disk.exists(LOG_FILE) {
        disk.read_all(LOG_FILE)?
    } else {
        Vec::new()
    };
    let decoded = super::records::decode_log(&bytes);
    if decoded.valid_len < bytes.len() {
        tracing::warn!(error = ?decoded.error, "metadata log: cutting a torn tail");
        disk.truncate(LOG_FILE, decoded.valid_len as u64)?;
        disk.fsync(LOG_FILE)?;
    }
    let mut core = node.core.lock().unwrap();
    core.controller.apply(&decoded.records);
    core.log = decoded.records;
    node.log_end.send_modify(|n| *n = 0);
    if core.log.is_empty() {
        for topic in &config.topics {
            let records = core
                .controller
                .bootstrap_topic(&topic.name, &topic.replicas)
                .map_err(|e| anyhow::anyhow!("bootstrapping topic {}: {e}", topic.name))?;
            node.commit(&mut core, records);
        }
    }
    let failover = core.controller.on_failover(node.now_ms());
    node.commit(&mut core, failover.records);
    let end = core.log.len() as u64;
    node.log_end.send_modify(|n| *n = end);
    tracing::info!(
        records = end,
        controller_epoch = core.controller.state().controller_epoch,
        "controller took over"
    );
    Ok(())
}

/// Fence brokers whose sessions expired.
async fn tick(node: Arc<Node>) {
    loop {
        tokio::time::sleep(TICK_INTERVAL).await;
        let now_ms = node.now_ms();
        let mut core = node.core.lock().unwrap();
        node.sync_published(&mut core);
        let records = core.controller.tick(now_ms);
        node.commit(&mut core, records);
    }
}

async fn serve_connection(node: Arc<Node>, mut stream: TcpStream, conn: ConnInfo) {
    loop {
        let Ok(frame) = protocol::read_frame(&mut stream, REQUEST_BYTES_MAX).await else {
            return;
        };
        let api_key = protocol::peek_api_key(&frame).unwrap_or(-1);
        if !apply(node.env.net.on_request(&conn, api_key)).await {
            return;
        }
        node.env.trace.record("request", &frame);
        let request = match protocol::decode_request_for(CONTROLLER_SUPPORTED, frame) {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(peer = %conn.peer, %error, "controller: closing connection");
                return;
            }
        };
        let version = request.header.request_api_version;
        let correlation_id = request.header.correlation_id;
        let Some(body) = handle(&node, request.body).await else {
            return;
        };
        let Ok(bytes) = protocol::encode_response(request.api_key, version, correlation_id, &body)
        else {
            return;
        };
        if !apply(node.env.net.on_response(&conn, request.api_key as i16)).await {
            return;
        }
        node.env.trace.record("response", &bytes);
        if protocol::write_frame(&mut stream, &bytes).await.is_err() {
            return;
        }
    }
}

async fn apply(action: NetAction) -> bool {
    action.carry_out().await
}

async fn handle(node: &Node, body: RequestKind) -> Option<ResponseKind> {
    Some(match body {
        RequestKind::BrokerRegistration(request) => {
            ResponseKind::BrokerRegistration(register(node, request))
        }
        RequestKind::BrokerHeartbeat(request) => {
            ResponseKind::BrokerHeartbeat(heartbeat(node, request))
        }
        RequestKind::AlterPartition(request) => {
            ResponseKind::AlterPartition(alter_partition(node, request))
        }
        RequestKind::Fetch(request) => ResponseKind::Fetch(fetch(node, request).await),
        RequestKind::ElectLeaders(request) => {
            ResponseKind::ElectLeaders(elect_leaders(node, request))
        }
        _ => return None,
    })
}

fn register(node: &Node, request: BrokerRegistrationRequest) -> BrokerRegistrationResponse {
    let mut response = BrokerRegistrationResponse::default();
    let broker_id = request.broker_id.0;
    let incarnation = request.incarnation_id.as_u128() as u64;
    let Some(listener) = request.listeners.first() else {
        response.error_code = codes::INVALID_REQUEST;
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
    // A garbled log-ends field only costs the broker its say in unclean recovery.
    let log_ends = request.unknown_tagged_fields.get(&LOG_ENDS_TAG);
    if let Some(Ok(ends)) = log_ends.map(|bytes| decode_log_ends(bytes)) {
        core.controller
            .report_log_ends(broker_id, incarnation, &ends);
    }
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
        Err(error) => response.error_code = error.code(),
    }
    response
}

fn heartbeat(node: &Node, request: BrokerHeartbeatRequest) -> BrokerHeartbeatResponse {
    let mut response = BrokerHeartbeatResponse::default();
    let broker_id = request.broker_id.0;
    let now_ms = node.now_ms();
    let mut core = node.core.lock().unwrap();
    // A broker registered before this controller took over is caught up once it has applied
    // the log as it stood at the takeover.
    let registered_at = core.registered_at.get(&broker_id).copied();
    let caught_up = request.current_metadata_offset >= registered_at.unwrap_or(0);
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
                    Err(error) => response.error_code = error.code(),
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
        Err(error) => response.error_code = error.code(),
    }
    response
}

/// The admin ElectLeaders call: each named partition (every partition when the list is null)
/// gets the election asked for, one durable batch at a time; each answers with its own code.
fn elect_leaders(node: &Node, request: ElectLeadersRequest) -> ElectLeadersResponse {
    let mut response = ElectLeadersResponse::default();
    let election = match request.election_type {
        0 => ElectionType::Preferred,
        1 => ElectionType::Unclean,
        _ => {
            response.error_code = codes::INVALID_REQUEST;
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
                Err(error) => answer.error_code = error.code(),
            }
            result.partition_result.push(answer);
        }
        response.replica_election_results.push(result);
    }
    response
}

fn alter_partition(node: &Node, request: AlterPartitionRequest) -> AlterPartitionResponse {
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
                data.error_code = codes::UNKNOWN_TOPIC_OR_PARTITION;
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
                Err(error) => data.error_code = error.code(),
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

/// The controller epoch in force at `offset` of `log`: the latest `ControllerEpoch` record at
/// or before it (0 before any), as a broker that applied the log through `offset` holds it.
fn epoch_at(log: &[MetadataRecord], offset: usize) -> i32 {
    log[..=offset]
        .iter()
        .rev()
        .find_map(|record| match record {
            MetadataRecord::ControllerEpoch { controller_epoch } => Some(*controller_epoch),
            _ => None,
        })
        .unwrap_or(0)
}

/// A broker replicates the metadata log: records from `fetch_offset`, waiting up to
/// `max_wait_ms` when there are none yet. An offset past the log's end, or one whose previous
/// record was written under another controller epoch than the broker's `last_fetched_epoch`
/// (a broker that saw a log this controller does not have: KRaft's diverging epoch), gets
/// OFFSET_OUT_OF_RANGE, and the broker starts over.
async fn fetch(node: &Node, request: FetchRequest) -> FetchResponse {
    let (fetch_offset, last_fetched_epoch) = request
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .map(|p| (p.fetch_offset, p.last_fetched_epoch))
        .unwrap_or((0, -1));
    let mut log_end = node.log_end.subscribe();
    if fetch_offset == log_end.borrow() as i64 {
        let wait = Duration::from_millis(request.max_wait_ms.clamp(0, 10_000) as u64);
        let _ = tokio::time::timeout(wait, log_end.changed()).await;
    }
    let core = node.core.lock().unwrap();
    let end = core.log.len() as i64;
    let mut data = PartitionData::default();
    data.partition_index = 0;
    data.high_watermark = end;
    data.last_stable_offset = end;
    data.log_start_offset = 0;
    let diverged = |offset: i64| {
        offset > 0 && last_fetched_epoch >= 0 && {
            epoch_at(&core.log, offset as usize - 1) != last_fetched_epoch
        }
    };
    if fetch_offset < 0 || fetch_offset > end || diverged(fetch_offset) {
        data.error_code = codes::OFFSET_OUT_OF_RANGE;
    } else {
        let from = fetch_offset as usize;
        let to = (from + RECORDS_PER_FETCH_MAX).min(core.log.len());
        data.records = Some(Bytes::from(encode_all(&core.log[from..to])));
    }
    data.current_leader.leader_id = BrokerId(node.env.node_id);
    data.current_leader.leader_epoch = core.controller.state().controller_epoch;
    let mut topic = FetchableTopicResponse::default();
    topic.topic = kafka_protocol::messages::TopicName(METADATA_TOPIC.into());
    topic.partitions = vec![data];
    let mut response = FetchResponse::default();
    response.responses = vec![topic];
    response
}
