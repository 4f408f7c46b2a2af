//! The background heartbeat task (Kafka's `HeartbeatThread`, as a task on the same runtime).
//!
//! Every `heartbeat.interval.ms`, while the member is `Stable`, it sends Heartbeat with the
//! current generation and applies the answer to the shared member state (a stale answer
//! changes nothing, see `member`). A coordinator error or a broken connection makes it find
//! the coordinator again, with `retry.backoff.ms` between tries. When `max.poll.interval.ms`
//! passes without a poll it leaves the group as Kafka's does: LeaveGroup for a dynamic member
//! (a static one sends none), then the member forgets its generation and rejoins at the next
//! poll, its partitions lost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::commit::poll_interval_expired;
use super::member::{MemberState, Reaction};
use super::requests::{self, Identity};
use super::{find_coordinator_into, Shared};
use crate::client::cluster::ClusterClient;
use crate::protocol::codes::ErrorCode;

/// What the task needs from the config.
#[derive(Clone, Debug)]
pub(super) struct HeartbeatConfig {
    pub group_id: String,
    pub client_id: String,
    pub group_instance_id: Option<String>,
    pub heartbeat_interval: Duration,
    pub max_poll_interval: Duration,
    pub request_timeout: Duration,
    pub retry_backoff: Duration,
}

/// What one wake-up decided, with the shared state unlocked again.
enum Duty {
    Idle,
    FindCoordinator,
    Heartbeat(crate::client::connection::Connection, Identity),
    Leave(Option<crate::client::connection::Connection>, Identity),
}

/// Runs until the consumer closes (or is dropped, which aborts the task).
pub(super) async fn run(
    shared: Arc<Mutex<Shared>>,
    config: HeartbeatConfig,
    mut cluster: ClusterClient,
    started: Instant,
) {
    let mut pause = config.heartbeat_interval;
    loop {
        tokio::time::sleep(pause).await;
        pause = config.heartbeat_interval;
        let duty = decide(&shared, &config, started);
        match duty {
            Duty::Idle => {}
            Duty::FindCoordinator => {
                if !find_coordinator_into(
                    &shared,
                    &mut cluster,
                    &config.group_id,
                    &config.client_id,
                    config.request_timeout,
                )
                .await
                {
                    pause = config.retry_backoff;
                }
            }
            Duty::Heartbeat(conn, identity) => {
                let answer = requests::heartbeat(&conn, &identity, config.request_timeout).await;
                let mut state = shared.lock().unwrap();
                let reaction = match answer {
                    Ok(code) => state.member.on_heartbeat_response(
                        identity.generation_id,
                        &identity.member_id,
                        code,
                    ),
                    Err(_) => Reaction::CoordinatorUnknown,
                };
                if reaction == Reaction::CoordinatorUnknown {
                    state.coordinator = None;
                    pause = config.retry_backoff;
                }
                if answer == Ok(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS) {
                    pause = config.retry_backoff;
                }
            }
            Duty::Leave(conn, identity) => {
                if let Some(conn) = conn {
                    let _ = requests::leave_group(&conn, &identity, config.request_timeout).await;
                }
            }
        }
        if shared.lock().unwrap().closed {
            return;
        }
    }
}

/// Looks at the shared state once: leave when polls stopped, find the coordinator when it is
/// unknown, heartbeat when stable.
fn decide(shared: &Mutex<Shared>, config: &HeartbeatConfig, started: Instant) -> Duty {
    let mut state = shared.lock().unwrap();
    if state.closed || state.member.state == MemberState::Unjoined {
        return Duty::Idle;
    }
    let now_ms = started.elapsed().as_millis() as u64;
    let identity = Identity {
        group_id: config.group_id.clone(),
        member_id: state.member.member_id.clone(),
        generation_id: state.member.generation_id,
        group_instance_id: config.group_instance_id.clone(),
    };
    if poll_interval_expired(
        state.last_poll_ms,
        now_ms,
        config.max_poll_interval.as_millis() as u64,
    ) && state.member.state == MemberState::Stable
    {
        state.member.leave();
        state.poll_expired = true;
        let dynamic = config.group_instance_id.is_none();
        let conn = state.coordinator.as_ref().map(|c| c.conn.clone());
        return if dynamic {
            Duty::Leave(conn, identity)
        } else {
            Duty::Idle
        };
    }
    if state.member.state != MemberState::Stable {
        return Duty::Idle;
    }
    match &state.coordinator {
        None => Duty::FindCoordinator,
        Some(coordinator) => Duty::Heartbeat(coordinator.conn.clone(), identity),
    }
}
