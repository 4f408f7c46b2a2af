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
        let now_ms = started.elapsed().as_millis() as u64;
        let duty = decide(&shared, &config, now_ms);
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
fn decide(shared: &Mutex<Shared>, config: &HeartbeatConfig, now_ms: u64) -> Duty {
    let mut state = shared.lock().unwrap();
    if state.closed || state.member.state == MemberState::Unjoined {
        return Duty::Idle;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::group::member::Member;
    use crate::group::assignor::RebalanceProtocol;

    fn config(group_instance_id: Option<&str>) -> HeartbeatConfig {
        HeartbeatConfig {
            group_id: "g".into(),
            client_id: "c".into(),
            group_instance_id: group_instance_id.map(str::to_string),
            heartbeat_interval: Duration::from_millis(3_000),
            max_poll_interval: Duration::from_millis(300_000),
            request_timeout: Duration::from_millis(30_000),
            retry_backoff: Duration::from_millis(100),
        }
    }

    /// A stable member of generation 1 that last polled at `last_poll_ms`.
    fn shared(last_poll_ms: u64) -> Mutex<Shared> {
        let mut member = Member::new();
        member.prepare_join(RebalanceProtocol::Eager, &["t".to_string()].into());
        member.join_sent();
        member.on_join_response(ErrorCode::NONE, "m-1", 1, Some("range"), "m-1");
        member.on_sync_response(ErrorCode::NONE);
        member.complete_join(&[("t".to_string(), 0)], RebalanceProtocol::Eager);
        Mutex::new(Shared {
            member,
            coordinator: None,
            last_poll_ms,
            poll_expired: false,
            closed: false,
        })
    }

    #[test]
    fn a_stable_member_without_a_coordinator_looks_for_one() {
        let shared = shared(0);
        assert!(matches!(
            decide(&shared, &config(None), 1_000),
            Duty::FindCoordinator
        ));
        assert_eq!(shared.lock().unwrap().member.generation_id, 1);
    }

    #[test]
    fn a_dynamic_member_past_max_poll_interval_sends_leave_group_and_forgets_its_generation() {
        let shared = shared(1_000);
        assert!(matches!(
            decide(&shared, &config(None), 301_000),
            Duty::FindCoordinator
        ));
        let Duty::Leave(None, identity) = decide(&shared, &config(None), 301_001) else {
            panic!("expected LeaveGroup");
        };
        assert_eq!(
            (identity.member_id.as_str(), identity.generation_id),
            ("m-1", 1)
        );
        let state = shared.lock().unwrap();
        assert!(state.poll_expired);
        assert_eq!(state.member.state, MemberState::Unjoined);
        assert_eq!(state.member.generation_id, -1);
        drop(state);
        assert!(matches!(
            decide(&shared, &config(None), 400_000),
            Duty::Idle
        ));
    }

    #[test]
    fn a_static_member_past_max_poll_interval_leaves_without_leave_group() {
        let shared = shared(0);
        assert!(matches!(
            decide(&shared, &config(Some("i-1")), 300_001),
            Duty::Idle
        ));
        let state = shared.lock().unwrap();
        assert!(state.poll_expired);
        assert_eq!(state.member.member_id, "");
    }

    #[test]
    fn a_closed_consumer_does_nothing() {
        let shared = shared(0);
        shared.lock().unwrap().closed = true;
        assert!(matches!(
            decide(&shared, &config(None), 400_000),
            Duty::Idle
        ));
        assert_eq!(shared.lock().unwrap().member.generation_id, 1);
    }
}
