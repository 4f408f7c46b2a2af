//! Network fault hooks and the trace sink.
//!
//! madsim's TCP is a reliable ordered channel and cannot lose or reset a single stream, so
//! the broker asks [`NetHooks`] before handling each request and before writing each
//! response. The harness answers with a [`NetAction`]: pass, delay (slow link, held
//! connection) or reset (a reset connection, or a dropped response: the request was
//! processed and the connection breaks before the reply).

use std::net::SocketAddr;
use std::time::Duration;

/// The connection a hook is asked about.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The broker serving the connection.
    pub node_id: i32,
    /// A per-broker connection counter, so one connection can be singled out.
    pub conn_id: u64,
    /// The remote end.
    pub peer: SocketAddr,
}

/// What the broker must do with a request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetAction {
    /// Carry on.
    Pass,
    /// Wait this long first (slow link, held connection), then carry on.
    Delay(Duration),
    /// Close the connection now, without answering.
    Reset,
}

impl NetAction {
    /// Carry out a fault hook's answer; false means the connection must be closed now.
    pub async fn carry_out(self) -> bool {
        match self {
            NetAction::Pass => true,
            NetAction::Delay(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
            NetAction::Reset => false,
        }
    }
}

/// Fault hooks around a broker's connections. Real mode uses [`NoNetFaults`].
pub trait NetHooks: Send + Sync + 'static {
    /// Called when a request frame has been read, before it is handled.
    fn on_request(&self, _conn: &ConnInfo, _api_key: i16) -> NetAction {
        NetAction::Pass
    }
    /// Called when a response is ready, before it is written.
    fn on_response(&self, _conn: &ConnInfo, _api_key: i16) -> NetAction {
        NetAction::Pass
    }
    /// Extra latency for the next disk write of this broker (a slow disk).
    fn disk_delay(&self) -> Duration {
        Duration::ZERO
    }
    /// Whether the BUGGIFY point fires here and now (FoundationDB's BUGGIFY: code paths that
    /// are legal but rare, made common under simulation). Never in real mode.
    fn buggify(&self, _point: Buggify) -> bool {
        false
    }
}

/// The BUGGIFY points: each is legal behaviour a broker could show anyway, made frequent so
/// the rare interleavings it causes get tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Buggify {
    /// A follower fetch asks for 1 byte per partition (the leader still sends one batch).
    TinyFetch,
    /// A follower fetch does not wait at the leader (max wait 0): a randomised timing knob.
    NoFetchWait,
    /// The next append rolls a new segment first.
    ForcedSegmentRoll,
    /// A completed acks=all produce answers 200 ms late.
    LatePurgatory,
    /// A produce to a partition is refused with NOT_LEADER_OR_FOLLOWER before the append (a
    /// retriable error clients must survive).
    SpuriousRetriableError,
}

impl Buggify {
    /// Every point, in order.
    pub const ALL: [Buggify; 5] = [
        Buggify::TinyFetch,
        Buggify::NoFetchWait,
        Buggify::ForcedSegmentRoll,
        Buggify::LatePurgatory,
        Buggify::SpuriousRetriableError,
    ];

    /// The effect counter a firing adds to (`buggify.<point>`).
    pub fn effect(self) -> &'static str {
        match self {
            Buggify::TinyFetch => "buggify.tiny_fetch",
            Buggify::NoFetchWait => "buggify.no_fetch_wait",
            Buggify::ForcedSegmentRoll => "buggify.forced_segment_roll",
            Buggify::LatePurgatory => "buggify.late_purgatory",
            Buggify::SpuriousRetriableError => "buggify.spurious_retriable_error",
        }
    }
}

/// Whether `point` fires on this broker now; a firing is counted as an effect.
pub fn buggify(env: &super::Env, point: Buggify) -> bool {
    let fires = env.net.buggify(point);
    if fires {
        env.trace.effect(point.effect(), 1);
    }
    fires
}

/// No faults: real mode.
#[derive(Debug, Default)]
pub struct NoNetFaults;
impl NetHooks for NoNetFaults {}

/// A sink for the events that make up a run's trace hash (messages, disk operations).
pub trait Trace: Send + Sync + 'static {
    /// Record one event of the given kind with its bytes.
    fn record(&self, kind: &str, bytes: &[u8]);
    /// Count an observable effect of a fault (e.g. `recovery.corrupt_batches`), so a
    /// scenario can show that its fault fired and what it did.
    fn effect(&self, _name: &str, _count: u64) {}
    /// A request and the response the broker actually wrote for it, so the harness can keep
    /// a wire-level history (what the broker acknowledged and served) that a client bug
    /// cannot hide. Not called when no response is written (acks=0, a dropped response).
    fn exchange(&self, _request: &[u8], _response: &[u8]) {}
    /// A replica event, for online checkers (see `observe`).
    fn observe(&self, _observation: &super::Observation<'_>) {}
}

/// Discards everything: real mode.
#[derive(Debug, Default)]
pub struct NoTrace;
impl Trace for NoTrace {
    fn record(&self, _kind: &str, _bytes: &[u8]) {}
}
