//! Per-broker network and disk-latency faults, consulted by the broker through
//! `kafkasim::env::NetHooks` around every request and response.
//!
//! madsim's TCP cannot lose or reset one stream, so these hooks are where connection resets,
//! dropped responses, held connections and slow links happen. The state is owned by the
//! harness and outlives broker restarts.

use std::sync::Mutex;
use std::time::Duration;

use kafkasim::env::{Buggify, ConnInfo, NetAction, NetHooks};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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
    /// BUGGIFY, when the scenario turns it on.
    buggify: Mutex<Option<BuggifyState>>,
}

/// FoundationDB-style BUGGIFY: which points this run enables (the same on every node), and
/// this node's own random stream deciding, call by call, whether an enabled point fires.
#[derive(Debug)]
struct BuggifyState {
    enabled: Vec<Buggify>,
    rng: ChaCha8Rng,
}

/// Each BUGGIFY point is on for a run with this probability (FoundationDB's 25%)...
pub const BUGGIFY_POINT_PROBABILITY: f64 = 0.25;
/// ...and then fires at each place it is checked with this one.
pub const BUGGIFY_FIRE_PROBABILITY: f64 = 0.05;

/// The BUGGIFY points a run with this seed enables: each with [`BUGGIFY_POINT_PROBABILITY`],
/// drawn from the seed's own stream.
pub fn buggify_points(seed: u64) -> Vec<Buggify> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ BUGGIFY_STREAM);
    let draws = Buggify::ALL.map(|point| (point, rng.gen_bool(BUGGIFY_POINT_PROBABILITY)));
    draws
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(point, _)| point)
        .collect()
}

/// Salt for the BUGGIFY random streams, apart from every other stream of the run.
const BUGGIFY_STREAM: u64 = 0xb066_1f7e_0000_0000;

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

    /// Turn BUGGIFY on for this node: `enabled` points fire with [`BUGGIFY_FIRE_PROBABILITY`]
    /// from a stream seeded by the run's seed and the node.
    pub fn enable_buggify(&self, enabled: Vec<Buggify>, seed: u64, node_id: i32) {
        let stream = seed ^ BUGGIFY_STREAM ^ (node_id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let state = BuggifyState {
            enabled,
            rng: ChaCha8Rng::seed_from_u64(stream),
        };
        *self.buggify.lock().unwrap() = Some(state);
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
    fn buggify(&self, point: Buggify) -> bool {
        let mut buggify = self.buggify.lock().unwrap();
        match buggify.as_mut() {
            Some(state) if state.enabled.contains(&point) => {
                state.rng.gen_bool(BUGGIFY_FIRE_PROBABILITY)
            }
            _ => false,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buggify_points_are_a_function_of_the_seed_and_about_a_quarter_are_on() {
        assert_eq!(buggify_points(7), buggify_points(7));
        let seeds = 2000u64;
        for point in Buggify::ALL {
            let on = (0..seeds)
                .filter(|&s| buggify_points(s).contains(&point))
                .count();
            let share = on as f64 / seeds as f64;
            assert!(
                (0.2..0.3).contains(&share),
                "{point:?} on for {share} of seeds"
            );
        }
    }

    #[test]
    fn only_enabled_points_fire_and_only_once_buggify_is_on() {
        let faults = NodeFaults::default();
        assert!(!(0..1000).any(|_| faults.buggify(Buggify::TinyFetch)));
        faults.enable_buggify(vec![Buggify::TinyFetch], 3, 1);
        let fired = (0..10_000)
            .filter(|_| faults.buggify(Buggify::TinyFetch))
            .count();
        assert!((300..700).contains(&fired), "fired {fired} of 10000");
        assert!(!(0..1000).any(|_| faults.buggify(Buggify::LatePurgatory)));
        // Same seed and node, same decisions.
        let again = NodeFaults::default();
        again.enable_buggify(vec![Buggify::TinyFetch], 3, 1);
        let other = NodeFaults::default();
        other.enable_buggify(vec![Buggify::TinyFetch], 3, 1);
        let a: Vec<bool> = (0..100)
            .map(|_| again.buggify(Buggify::TinyFetch))
            .collect();
        let b: Vec<bool> = (0..100)
            .map(|_| other.buggify(Buggify::TinyFetch))
            .collect();
        assert_eq!(a, b);
    }
}
