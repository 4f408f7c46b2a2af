//! Per-broker network and disk-latency faults, consulted by the broker through
//! `kafkasim::env::NetHooks` around every request and response.
//!
//! madsim's TCP cannot lose or reset one stream, so these hooks are where connection resets,
//! dropped responses, held connections and slow links happen. The state is owned by the
//! harness and outlives broker restarts.

use std::sync::Mutex;
use std::time::Duration;

use kafkasim::env::{ConnInfo, NetAction, NetHooks};
use tokio::time::Instant;

const PRODUCE_API_KEY: i16 = 0;

#[derive(Debug, Default)]
struct State {
    /// Responses still to drop (processed, then the connection breaks before the reply).
    drop_responses: u32,
    /// Connections with an id up to this are reset at their next request or response.
    reset_through_conn: u64,
    /// Highest connection id seen.
    last_conn: u64,
    /// Responses are held until then.
    hold_until: Option<Instant>,
    /// Extra latency on every request and response.
    link_delay: Duration,
    /// Extra latency on every disk write.
    disk_delay: Duration,
    /// Counters for the report.
    responses_dropped: u64,
    connections_reset: u64,
    messages_delayed: u64,
    disk_writes_delayed: u64,
}

/// The fault state of one broker.
#[derive(Debug, Default)]
pub struct NodeFaults {
    state: Mutex<State>,
}

/// What the faults did, for effects.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetEffects {
    pub responses_dropped: u64,
    pub connections_reset: u64,
    pub messages_delayed: u64,
    pub disk_writes_delayed: u64,
}

impl NodeFaults {
    pub fn drop_responses(&self, count: u32) {
        self.state.lock().unwrap().drop_responses += count;
    }

    /// Reset every connection opened so far.
    pub fn reset_connections(&self) {
        let mut state = self.state.lock().unwrap();
        state.reset_through_conn = state.last_conn;
    }

    pub fn hold(&self, duration: Duration) {
        self.state.lock().unwrap().hold_until = Some(Instant::now() + duration);
    }

    pub fn set_link_delay(&self, delay: Duration) {
        self.state.lock().unwrap().link_delay = delay;
    }

    pub fn set_disk_delay(&self, delay: Duration) {
        self.state.lock().unwrap().disk_delay = delay;
    }

    /// End every network and latency fault.
    pub fn heal(&self) {
        let mut state = self.state.lock().unwrap();
        state.drop_responses = 0;
        state.hold_until = None;
        state.link_delay = Duration::ZERO;
        state.disk_delay = Duration::ZERO;
    }

    pub fn effects(&self) -> NetEffects {
        let state = self.state.lock().unwrap();
        NetEffects {
            responses_dropped: state.responses_dropped,
            connections_reset: state.connections_reset,
            messages_delayed: state.messages_delayed,
            disk_writes_delayed: state.disk_writes_delayed,
        }
    }

    fn reset_if_marked(state: &mut State, conn: &ConnInfo) -> bool {
        state.last_conn = state.last_conn.max(conn.conn_id);
        if conn.conn_id <= state.reset_through_conn {
            state.connections_reset += 1;
            return true;
        }
        false
    }
}

impl NetHooks for NodeFaults {
    fn on_request(&self, conn: &ConnInfo, _api_key: i16) -> NetAction {
        let mut state = self.state.lock().unwrap();
        if Self::reset_if_marked(&mut state, conn) {
            return NetAction::Reset;
        }
        if !state.link_delay.is_zero() {
            state.messages_delayed += 1;
            return NetAction::Delay(state.link_delay);
        }
        NetAction::Pass
    }

    fn on_response(&self, conn: &ConnInfo, api_key: i16) -> NetAction {
        let mut state = self.state.lock().unwrap();
        if Self::reset_if_marked(&mut state, conn) {
            return NetAction::Reset;
        }
        // drop-response aims at writes: the next Produce responses are lost after the
        // append happened, which is what makes a retry write twice.
        if state.drop_responses > 0 && api_key == PRODUCE_API_KEY {
            state.drop_responses -= 1;
            state.responses_dropped += 1;
            return NetAction::Reset;
        }
        let mut delay = state.link_delay;
        if let Some(until) = state.hold_until {
            delay += until.saturating_duration_since(Instant::now());
        }
        if delay.is_zero() {
            NetAction::Pass
        } else {
            state.messages_delayed += 1;
            NetAction::Delay(delay)
        }
    }

    fn disk_delay(&self) -> Duration {
        let mut state = self.state.lock().unwrap();
        if !state.disk_delay.is_zero() {
            state.disk_writes_delayed += 1;
        }
        state.disk_delay
    }
}
