//! The harness shared by the tests that start simulated brokers and speak the Kafka protocol
//! to them byte for byte (`malformed.rs`, `admin.rs`): a madsim runtime with one node per
//! broker (named `broker-<node.id>`, each on its own in-memory disk, which survives a
//! `Handle::restart`) and a client node, plus raw-request helpers. A panic on any node fails
//! the madsim runtime and so the test.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafkasim::env::{Env, MemDisk, NoNetFaults, NoTrace};
use kafkasim::protocol::{self, FrameError};
use kafkasim::server::{self, BrokerConfig};
use kafkasim_sim::cluster::client_ip;
use kafkasim_sim::cluster::clock::{RunClock, SimClock};
use madsim::runtime::{Handle, Runtime};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The seed of every runtime (and of the garbage generators in `malformed.rs`).
pub const SEED: u64 = 0x6b61_666b;
/// How long a client waits for an answer. Longer than the broker's longest fetch wait (30 s),
/// so a request that gets neither an answer nor a close in this time is a hang.
pub const ANSWER_WAIT: Duration = Duration::from_secs(40);

/// What came back on a connection after a request.
#[derive(Debug)]
pub enum Answer {
    Frame(Bytes),
    Closed,
    /// Nothing within ANSWER_WAIT, and the connection still open.
    Nothing,
}

/// Start one simulated broker per config and run `client` on a client node, given the
/// brokers' addresses (in `configs` order) and the run's clock.
pub fn simulate_cluster<F, Fut>(configs: Vec<BrokerConfig>, client: F)
where
    F: FnOnce(Vec<SocketAddr>, RunClock) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut runtime = Runtime::with_seed_and_config(SEED, madsim::Config::default());
    runtime.set_time_limit(Duration::from_secs(3_600));
    runtime.block_on(async move {
        let handle = Handle::current();
        let clock = RunClock::start();
        let addrs: Vec<SocketAddr> = configs.iter().map(|c| c.listen).collect();
        for config in configs {
            let env = Env {
                node_id: config.node_id,
                disk: Arc::new(MemDisk::new()),
                clock: Arc::new(SimClock::new(clock, Arc::default())),
                net: Arc::new(NoNetFaults),
                trace: Arc::new(NoTrace),
            };
            let addr = config.listen;
            handle
                .create_node()
                .name(broker_node(config.node_id))
                .ip(addr.ip())
                .init(move || {
                    let env = env.clone();
                    let config = config.clone();
                    let forever = std::future::pending::<()>();
                    async move {
                        server::run(env, config, forever)
                            .await
                            .expect("broker stopped")
                    }
                })
                .build();
        }
        let node = handle.create_node().name("client").ip(client_ip(0)).build();
        node.spawn(async move {
            // Let the brokers bind their listeners.
            tokio::time::sleep(Duration::from_millis(100)).await;
            client(addrs, clock).await;
        })
        .await
        .expect("client task");
    });
}

/// The madsim node name of a broker, for `Handle::restart`.
pub fn broker_node(node_id: i32) -> String {
    format!("broker-{node_id}")
}

/// Kill a broker and start it again on the same disk. madsim's restart does not close the
/// old process's sockets (only kill does), so the listener would still hold the port.
pub fn restart_broker(node_id: i32) {
    let handle = Handle::current();
    handle.kill(broker_node(node_id));
    handle.restart(broker_node(node_id));
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

/// Write raw bytes and flush (madsim's TCP sends nothing until flushed).
pub async fn send_raw(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.expect("write");
    stream.flush().await.expect("flush");
}

pub async fn answer(stream: &mut TcpStream) -> Answer {
    match tokio::time::timeout(ANSWER_WAIT, protocol::read_frame(stream, usize::MAX)).await {
        Ok(Ok(frame)) => Answer::Frame(frame),
        Ok(Err(FrameError::Closed | FrameError::Io(_))) => Answer::Closed,
        Ok(Err(error)) => panic!("broker sent a bad frame: {error}"),
        Err(_) => Answer::Nothing,
    }
}

pub fn size_prefixed(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Send `bytes` on a fresh connection; the broker must close it without answering.
pub async fn expect_close(addr: SocketAddr, bytes: &[u8], what: &str) {
    let mut stream = connect(addr).await;
    send_raw(&mut stream, bytes).await;
    match answer(&mut stream).await {
        Answer::Closed => {}
        other => panic!("{what}: expected a closed connection, got {other:?}"),
    }
}

pub fn header(api_key: ApiKey, version: i16, correlation_id: i32) -> RequestHeader {
    let mut header = RequestHeader::default();
    header.request_api_key = api_key as i16;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(StrBytes::from_static_str("malformed"));
    header
}

/// Send a well-formed request on `stream` and decode the response.
pub async fn round_trip(
    stream: &mut TcpStream,
    api_key: ApiKey,
    version: i16,
    body: RequestKind,
) -> ResponseKind {
    let frame = protocol::encode_request(&header(api_key, version, 99), &body).expect("encode");
    protocol::write_frame(stream, &frame).await.expect("write");
    match answer(stream).await {
        Answer::Frame(frame) => {
            let (correlation_id, response) =
                protocol::decode_response(api_key, version, frame).expect("decode response");
            assert_eq!(correlation_id, 99);
            response
        }
        other => panic!("{api_key:?} v{version}: expected a response, got {other:?}"),
    }
}

/// `round_trip` on a fresh connection.
pub async fn send_request(
    addr: SocketAddr,
    api_key: ApiKey,
    version: i16,
    body: RequestKind,
) -> ResponseKind {
    round_trip(&mut connect(addr).await, api_key, version, body).await
}

pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

pub fn str_bytes(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}
