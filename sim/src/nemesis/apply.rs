//! Applying one fault action to one node: what each fault kind does to the process, its
//! network, its disk or its clock, and the words the report uses for it.
//!
//! Every kind is one arm below, grouped by what it touches; none draws from the run's random
//! stream except a power loss (which unsynced writes survive) and a bit flip (where it lands).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::Handle;
use rand::Rng;

use crate::cluster::{
    client_ip, controller_addr, heal_broker, BrokerNode, FiredFault, SimCluster,
    ADMIN_CLIENT_INDEX, CLIENT_ID_BASE, CONTROLLER_ID,
};
use crate::scenario::{Direction, FaultKind};
use crate::trace::RunTrace;

/// Apply one fault action to one broker (or the controller); returns what happened, which is
/// also recorded in the trace.
pub fn apply(
    cluster: &mut SimCluster,
    kind: &FaultKind,
    id: i32,
    rng: &mut impl Rng,
) -> FiredFault {
    let now_ms = cluster.clock.now_ms();
    if id >= CLIENT_ID_BASE {
        return apply_to_client(cluster, kind, (id - CLIENT_ID_BASE) as u32, now_ms);
    }
    let detail = match kind {
        FaultKind::Elect { unclean, partition } => elect(cluster, *unclean, partition.as_ref()),
        FaultKind::CreatePartitions { topic, count } => {
            create_partitions(cluster, id, topic, *count)
        }
        FaultKind::DeleteRecords {
            topic,
            partition,
            offset,
        } => delete_records(cluster, id, topic, *partition, *offset),
        _ => {
            let keep_probability = cluster.keep_probability;
            let controller = cluster.controller.as_ref().map(|c| c.node.id());
            let node = cluster.node_mut(id);
            match kind {
                FaultKind::Kill
                | FaultKind::Shutdown
                | FaultKind::PowerLoss
                | FaultKind::SilentDeath => stop_process(node, kind, keep_probability, now_ms, rng),
                FaultKind::Restart
                | FaultKind::RestartEmptyDisk
                | FaultKind::Pause
                | FaultKind::Resume => start_process(node, kind),
                FaultKind::Partition { .. } | FaultKind::Heal | FaultKind::ExpireSession => {
                    cut_network(node, kind, controller)
                }
                FaultKind::SlowLink { .. }
                | FaultKind::ResetConnection
                | FaultKind::DropResponse { .. }
                | FaultKind::HoldConnection { .. } => disturb_connections(node, kind),
                FaultKind::DiskLatency { .. }
                | FaultKind::Enospc
                | FaultKind::FsyncError
                | FaultKind::BitFlip { .. }
                | FaultKind::Flush => disk_fault(node, kind, rng),
                FaultKind::Skew { .. } | FaultKind::Jump { .. } => clock_fault(node, kind),
                FaultKind::Elect { .. }
                | FaultKind::CreatePartitions { .. }
                | FaultKind::DeleteRecords { .. } => {
                    unreachable!("handled above")
                }
                FaultKind::SlowPoll { .. } => {
                    unreachable!("the parser admits slow-poll only on client(i)")
                }
            }
        }
    };
    let target = if id == CONTROLLER_ID {
        "controller".to_string()
    } else {
        format!("broker({id})")
    };
    record(cluster, now_ms, kind, target, detail)
}

/// The fault as the report lists it, also recorded in the trace.
fn record(
    cluster: &SimCluster,
    now_ms: u64,
    kind: &FaultKind,
    target: String,
    detail: String,
) -> FiredFault {
    let fired = FiredFault {
        time_ms: now_ms,
        kind: kind.name().to_string(),
        target,
        detail,
        random: false,
    };
    cluster.trace.record(
        0,
        "fault",
        format!("{} {} {}", fired.time_ms, fired.kind, fired.target).as_bytes(),
    );
    fired
}

/// A process or network fault on workload client `process` (the parser admits no other).
fn apply_to_client(
    cluster: &mut SimCluster,
    kind: &FaultKind,
    process: u32,
    now_ms: u64,
) -> FiredFault {
    let handle = Handle::current();
    let client = &mut cluster.clients[process as usize];
    let node = client.node;
    let detail = match kind {
        FaultKind::Kill => {
            client.kill();
            "client process killed".to_string()
        }
        FaultKind::Pause => {
            handle.pause(node);
            client.paused = true;
            "client process frozen: no polls, no heartbeats".to_string()
        }
        FaultKind::Resume => {
            if client.alive {
                handle.resume(node);
            }
            client.paused = false;
            "client process resumed".to_string()
        }
        FaultKind::Restart => match client.restart_process() {
            true => "client process restarted".to_string(),
            false => "this workload's clients cannot restart; nothing done".to_string(),
        },
        FaultKind::Partition { .. } => {
            NetSim::current().clog_node(node);
            client.partitioned = true;
            "client cut off from every broker".to_string()
        }
        FaultKind::Heal => {
            NetSim::current().unclog_node(node);
            client.partitioned = false;
            "client network healed".to_string()
        }
        FaultKind::SlowPoll { duration_ms } => {
            client.slow_poll.stall(Duration::from_millis(*duration_ms));
            format!("the member's application takes {duration_ms} ms over the batch it polled: no poll until then, its heartbeats go on")
        }
        other => unreachable!("not a client fault: {}", other.name()),
    };
    record(cluster, now_ms, kind, format!("client({process})"), detail)
}

/// Faults that end or freeze the process.
fn stop_process(
    broker: &mut BrokerNode,
    kind: &FaultKind,
    keep_probability: f64,
    now_ms: u64,
    rng: &mut impl Rng,
) -> String {
    let handle = Handle::current();
    let node_id = broker.node.id();
    match kind {
        FaultKind::Kill => {
            handle.kill(node_id);
            broker.alive = false;
            broker.stopping = false;
            "process killed; page cache kept".to_string()
        }
        FaultKind::Shutdown => {
            // madsim's ctrl-c is the SIGTERM: the broker's serve loop catches it, shuts
            // down cleanly and ends its own process (see `SimCluster::start`). Before the
            // broker has installed its handler (still opening its logs), ctrl-c kills it, as a
            // signal with no handler would.
            handle.send_ctrl_c(node_id);
            broker.alive = false;
            broker.stopping = true;
            "SIGTERM: a clean shutdown (controlled shutdown with a controller, logs flushed and closed, clean-shutdown marker), then the process exits".to_string()
        }
        FaultKind::PowerLoss => {
            handle.kill(node_id);
            broker.alive = false;
            broker.stopping = false;
            let before = broker.disk.stats();
            broker.disk.power_loss(rng, keep_probability, now_ms);
            let after = broker.disk.stats();
            format!(
                "machine lost power: {} dirty bytes discarded, {} sectors torn, {} files lost",
                after.bytes_discarded - before.bytes_discarded,
                after.sectors_torn - before.sectors_torn,
                after.files_lost - before.files_lost
            )
        }
        FaultKind::SilentDeath => {
            // madsim gives peers an instant EOF when a node is killed; a frozen process
            // behind a dark network gives them nothing at all, like a machine that lost
            // power mid-cable.
            handle.pause(node_id);
            NetSim::current().clog_node(node_id);
            broker.paused = true;
            broker.partitioned = true;
            broker.alive = false;
            broker.silently_dead = true;
            "process frozen and network dark: peers see silence, not EOF".to_string()
        }
        _ => unreachable!("not a fault that stops the process: {}", kind.name()),
    }
}

/// Faults that (re)start or unfreeze the process, or freeze it to be resumed.
fn start_process(broker: &mut BrokerNode, kind: &FaultKind) -> String {
    let handle = Handle::current();
    let node_id = broker.node.id();
    match kind {
        FaultKind::Restart => {
            broker.paused = false;
            if std::mem::take(&mut broker.silently_dead) {
                NetSim::current().unclog_node(node_id);
                broker.partitioned = false;
            }
            // madsim's restart does not close the old process's sockets (only kill
            // does), so a restart of a live or frozen process must kill it first or its
            // listener would still hold the port.
            handle.kill(node_id);
            handle.restart(node_id);
            broker.alive = true;
            broker.stopping = false;
            "process restarted".to_string()
        }
        FaultKind::RestartEmptyDisk => {
            handle.kill(node_id);
            broker.disk.wipe();
            handle.restart(node_id);
            broker.alive = true;
            broker.stopping = false;
            "restarted with an empty disk".to_string()
        }
        FaultKind::Pause => {
            handle.pause(node_id);
            broker.paused = true;
            "process paused".to_string()
        }
        FaultKind::Resume => {
            handle.resume(node_id);
            broker.paused = false;
            "process resumed".to_string()
        }
        _ => unreachable!("not a fault that starts the process: {}", kind.name()),
    }
}

/// Faults that cut links (and `heal`, which ends them with every other network and disk
/// fault).
fn cut_network(
    broker: &mut BrokerNode,
    kind: &FaultKind,
    controller_node: Option<madsim::task::NodeId>,
) -> String {
    let node_id = broker.node.id();
    let net = NetSim::current();
    match kind {
        FaultKind::Partition { direction } => {
            broker.partitioned = true;
            match direction {
                Direction::Both => {
                    net.clog_node(node_id);
                    "cut off from every other node".to_string()
                }
                Direction::In => {
                    net.clog_node_in(node_id);
                    "hears nothing; what it sends still arrives (one-way partition)".to_string()
                }
                Direction::Out => {
                    net.clog_node_out(node_id);
                    "nothing it sends arrives; it still hears others (one-way partition)"
                        .to_string()
                }
            }
        }
        FaultKind::Heal => {
            if std::mem::take(&mut broker.session_cut) {
                let controller = controller_node.expect("expire-session needs a controller");
                net.unclog_link(node_id, controller);
                net.unclog_link(controller, node_id);
            }
            heal_broker(broker);
            "network and disk faults ended".to_string()
        }
        FaultKind::ExpireSession => {
            let controller = controller_node.expect("validated: expire-session needs one");
            net.clog_link(node_id, controller);
            net.clog_link(controller, node_id);
            broker.session_cut = true;
            "the controller hears nothing from it (both links cut until a heal): its session expires after broker.session.timeout.ms".to_string()
        }
        _ => unreachable!("not a link fault: {}", kind.name()),
    }
}

/// Faults the node's network hooks apply to its connections.
fn disturb_connections(broker: &mut BrokerNode, kind: &FaultKind) -> String {
    match kind {
        FaultKind::SlowLink { delay_ms } => {
            broker
                .faults
                .set_link_delay(Duration::from_millis(*delay_ms));
            format!("{delay_ms} ms added to every request and response")
        }
        FaultKind::ResetConnection => {
            broker.faults.reset_connections();
            "every open connection will be reset".to_string()
        }
        FaultKind::DropResponse { count } => {
            broker.faults.drop_responses(*count);
            format!("the next {count} Produce responses are dropped after the append")
        }
        FaultKind::HoldConnection { duration_ms } => {
            broker.faults.hold(Duration::from_millis(*duration_ms));
            format!("responses held for {duration_ms} ms")
        }
        _ => unreachable!("not a connection fault: {}", kind.name()),
    }
}

/// Faults of the node's disk.
fn disk_fault(broker: &mut BrokerNode, kind: &FaultKind, rng: &mut impl Rng) -> String {
    match kind {
        FaultKind::DiskLatency { delay_ms } => {
            broker
                .faults
                .set_disk_delay(Duration::from_millis(*delay_ms));
            format!("{delay_ms} ms added to every disk write")
        }
        FaultKind::Enospc => {
            broker.disk.set_enospc(true);
            "disk full: writes fail with ENOSPC".to_string()
        }
        FaultKind::FsyncError => {
            broker.disk.fail_next_fsync();
            "the next fsync fails".to_string()
        }
        FaultKind::BitFlip { count } => {
            let before = broker.disk.bit_flips().len();
            broker.disk.flip_bits(rng, *count as usize);
            let flips = broker.disk.bit_flips();
            let new: Vec<String> = flips[before..]
                .iter()
                .map(|f| format!("{}@{} bit {}", f.path, f.offset, f.bit))
                .collect();
            format!(
                "flipped {}",
                if new.is_empty() {
                    "nothing (no log bytes yet)".to_string()
                } else {
                    new.join(", ")
                }
            )
        }
        FaultKind::Flush => {
            broker.disk.sync_all();
            "every file and directory fsynced".to_string()
        }
        _ => unreachable!("not a disk fault: {}", kind.name()),
    }
}

/// Faults of the node's wall clock.
fn clock_fault(broker: &mut BrokerNode, kind: &FaultKind) -> String {
    match kind {
        FaultKind::Skew { delta_ms } => {
            broker.clock_offset_ms.store(*delta_ms, Ordering::Relaxed);
            format!("wall clock offset set to {delta_ms} ms")
        }
        FaultKind::Jump { delta_ms } => {
            let now = broker
                .clock_offset_ms
                .fetch_add(*delta_ms, Ordering::Relaxed)
                + delta_ms;
            format!("wall clock jumped {delta_ms} ms (offset now {now} ms)")
        }
        _ => unreachable!("not a clock fault: {}", kind.name()),
    }
}

/// The admin node (created on first use) that admin calls are sent from, as Kafka's command-line
/// tools would be run.
fn admin_node(cluster: &mut SimCluster) -> &madsim::runtime::NodeHandle {
    let handle = Handle::current();
    cluster.admin.get_or_insert_with(|| {
        handle
            .create_node()
            .name("admin")
            .ip(client_ip(ADMIN_CLIENT_INDEX))
            .build()
    })
}

/// `elect`: an admin client on a node of its own, as kafka-leader-election.sh would be, sends
/// ElectLeaders to the controller.
fn elect(cluster: &mut SimCluster, unclean: bool, partition: Option<&(String, i32)>) -> String {
    let trace = cluster.trace.clone();
    let admin = admin_node(cluster);
    let election = if unclean { "unclean" } else { "preferred" };
    let which = match partition {
        Some((topic, index)) => format!("{topic}/{index}"),
        None => "every partition".to_string(),
    };
    let request = elect_leaders_request(unclean, partition);
    admin.spawn(send_elect_leaders(request, trace));
    format!("ElectLeaders ({election}, {which}) sent to the controller; its answer is counted in control.elect_leaders.*")
}

fn elect_leaders_request(
    unclean: bool,
    partition: Option<&(String, i32)>,
) -> kafka_protocol::messages::ElectLeadersRequest {
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    let mut request = kafka_protocol::messages::ElectLeadersRequest::default();
    request.election_type = unclean as i8;
    request.timeout_ms = 5000;
    request.topic_partitions = partition.map(|(topic, index)| {
        let mut wanted = TopicPartitions::default();
        wanted.topic = kafka_protocol::messages::TopicName(topic.clone().into());
        wanted.partitions = vec![*index];
        vec![wanted]
    });
    request
}

/// Send the admin ElectLeaders call to the controller from the supervisor and count its
/// answer per partition as `control.elect_leaders.ok` or `control.elect_leaders.<error name>`
/// (`.unanswered` if the controller could not be reached).
async fn send_elect_leaders(
    request: kafka_protocol::messages::ElectLeadersRequest,
    trace: Arc<RunTrace>,
) {
    use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
    use kafkasim::client::connection::Connection;
    let timeout = Duration::from_secs(5);
    let answer = match Connection::connect(controller_addr(), "kafkasim-admin", 1, timeout).await {
        Ok(conn) => {
            let kind = RequestKind::ElectLeaders(request);
            conn.request(kind, ApiKey::ElectLeaders, 2, timeout)
                .await
                .ok()
        }
        Err(_) => None,
    };
    let Some(ResponseKind::ElectLeaders(response)) = answer else {
        trace.effect("control.elect_leaders.unanswered", 1);
        return;
    };
    let results = response.replica_election_results.iter();
    for result in results.flat_map(|r| &r.partition_result) {
        use kafkasim::protocol::ErrorCode;
        let outcome = match ErrorCode::from_wire(result.error_code) {
            ErrorCode::NONE => "ok",
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => "unknown_topic_or_partition",
            ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE => "preferred_leader_not_available",
            ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE => "eligible_leaders_not_available",
            ErrorCode::ELECTION_NOT_NEEDED => "election_not_needed",
            _ => "other_error",
        };
        trace.effect(&format!("control.elect_leaders.{outcome}"), 1);
    }
}

/// `create-partitions`: the admin node sends CreatePartitions to broker `id`, as
/// kafka-topics.sh --alter --partitions would; with a controller the broker forwards it.
fn create_partitions(cluster: &mut SimCluster, id: i32, topic: &str, count: i32) -> String {
    let trace = cluster.trace.clone();
    let admin = admin_node(cluster);
    admin.spawn(send_create_partitions(id, topic.to_string(), count, trace));
    format!("CreatePartitions ({topic} to {count} partitions) sent to broker {id}; its answer is counted in control.create_partitions.*")
}

/// Send CreatePartitions and count its answer as `control.create_partitions.ok` or
/// `control.create_partitions.<error name, lower case>` (`.unanswered` if the broker could not
/// be reached or did not answer).
async fn send_create_partitions(id: i32, topic: String, count: i32, trace: Arc<RunTrace>) {
    use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
    use kafka_protocol::messages::{
        ApiKey, CreatePartitionsRequest, RequestKind, ResponseKind, TopicName,
    };
    let timeout = Duration::from_secs(10);
    let mut wanted = CreatePartitionsTopic::default();
    wanted.name = TopicName(topic.into());
    wanted.count = count;
    wanted.assignments = None;
    let mut request = CreatePartitionsRequest::default();
    request.topics = vec![wanted];
    request.timeout_ms = timeout.as_millis() as i32;
    let kind = RequestKind::CreatePartitions(request);
    let answer = admin_call(id, kind, ApiKey::CreatePartitions, 3, timeout).await;
    let codes = match answer {
        Some(ResponseKind::CreatePartitions(response)) => {
            Some(response.results.iter().map(|r| r.error_code).collect())
        }
        _ => None,
    };
    count_answers(&trace, "control.create_partitions", codes);
}

/// Send one admin request to broker `id` on a fresh connection; `None` if it could not be
/// reached or did not answer in time.
async fn admin_call(
    id: i32,
    body: kafka_protocol::messages::RequestKind,
    api_key: kafka_protocol::messages::ApiKey,
    version: i16,
    timeout: Duration,
) -> Option<kafka_protocol::messages::ResponseKind> {
    use kafkasim::client::connection::Connection;
    let addr = crate::cluster::broker_addr(id);
    let conn = Connection::connect(addr, "kafkasim-admin", 1, timeout)
        .await
        .ok()?;
    conn.request(body, api_key, version, timeout).await.ok()
}

/// Count an admin call's answers as effects `<prefix>.ok` or `<prefix>.<error name, lower
/// case>`, one per partition or topic answered, or `<prefix>.unanswered` (`codes` None).
fn count_answers(trace: &RunTrace, prefix: &str, codes: Option<Vec<i16>>) {
    use kafkasim::protocol::ErrorCode;
    let Some(codes) = codes else {
        trace.effect(&format!("{prefix}.unanswered"), 1);
        return;
    };
    for code in codes {
        let outcome = match ErrorCode::from_wire(code) {
            ErrorCode::NONE => "ok".to_string(),
            code => code.name().to_ascii_lowercase(),
        };
        trace.effect(&format!("{prefix}.{outcome}"), 1);
    }
}

/// `delete-records`: the admin node sends DeleteRecords for one partition to broker `id`, its
/// leader as last elected, as kafka-delete-records.sh would.
fn delete_records(
    cluster: &mut SimCluster,
    id: i32,
    topic: &str,
    partition: i32,
    offset: i64,
) -> String {
    let trace = cluster.trace.clone();
    let admin = admin_node(cluster);
    let request = delete_records_request(topic, partition, offset);
    admin.spawn(send_delete_records(id, request, trace));
    let to = match offset {
        -1 => "the high watermark".to_string(),
        offset => format!("offset {offset}"),
    };
    format!("DeleteRecords ({topic}/{partition} up to {to}) sent to broker {id}; its answer is counted in control.delete_records.*")
}

fn delete_records_request(
    topic: &str,
    partition: i32,
    offset: i64,
) -> kafka_protocol::messages::DeleteRecordsRequest {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    let mut p = DeleteRecordsPartition::default();
    p.partition_index = partition;
    p.offset = offset;
    let mut t = DeleteRecordsTopic::default();
    t.name = kafka_protocol::messages::TopicName(topic.to_string().into());
    t.partitions = vec![p];
    let mut request = kafka_protocol::messages::DeleteRecordsRequest::default();
    request.topics = vec![t];
    request.timeout_ms = 10_000;
    request
}

/// Send DeleteRecords and count its answer as `control.delete_records.ok` or
/// `control.delete_records.<error name, lower case>` (`.unanswered` if the broker could not be
/// reached or did not answer).
async fn send_delete_records(
    id: i32,
    request: kafka_protocol::messages::DeleteRecordsRequest,
    trace: Arc<RunTrace>,
) {
    use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
    let timeout = Duration::from_secs(10);
    let kind = RequestKind::DeleteRecords(request);
    let answer = admin_call(id, kind, ApiKey::DeleteRecords, 2, timeout).await;
    let codes = match answer {
        Some(ResponseKind::DeleteRecords(response)) => Some(
            (response.topics.iter())
                .flat_map(|t| &t.partitions)
                .map(|p| p.error_code)
                .collect(),
        ),
        _ => None,
    };
    count_answers(&trace, "control.delete_records", codes);
}
