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
//! a Raft quorum can replace the single log later. The metadata log's append, publish and
//! replication path is in [`metadata_log`]; the request handlers are in [`handlers`].

pub mod handlers;
pub mod metadata_log;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use tokio::net::{TcpListener, TcpStream};

use super::records::MetadataRecord;
use super::{Controller, ControllerConfig};
use crate::env::{ConnInfo, Env, NetAction};
use crate::metadata::TopicAssignment;
use crate::protocol::{self, CONTROLLER_SUPPORTED};
use crate::sync::Watch;
use handlers::{alter_partition, elect_leaders, heartbeat, register};
use metadata_log::fetch;

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
    /// How many records of `log` are durable: fsynced by this process, or read back from the
    /// disk at startup. Only records below it may be published (outside the planted bug).
    durable_len: usize,
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
            durable_len: 0,
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
    core.durable_len = decoded.records.len();
    core.log = decoded.records;
    node.log_end.send_modify(|n| *n = 0);
    if core.log.is_empty() {
        for topic in &config.topics {
            let records = core
                .controller
                .bootstrap_topic(&topic.name, &topic.replicas)
                .map_err(|e| anyhow::anyhow!("bootstrapping topic {}: {e}", topic.name))?;
            let records = core
                .controller
                .with_topic_configs(records, &topic.name, &topic.configs);
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
        RequestKind::CreateTopics(request) => {
            ResponseKind::CreateTopics(handlers::create_topics(node, request))
        }
        RequestKind::CreatePartitions(request) => {
            ResponseKind::CreatePartitions(handlers::create_partitions(node, request))
        }
        RequestKind::ElectLeaders(request) => {
            ResponseKind::ElectLeaders(elect_leaders(node, request))
        }
        RequestKind::IncrementalAlterConfigs(request) => ResponseKind::IncrementalAlterConfigs(
            handlers::incremental_alter_configs(node, request),
        ),
        _ => return None,
    })
}
