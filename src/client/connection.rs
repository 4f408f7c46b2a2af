//! A pipelined client connection to one broker.
//!
//! Requests are written in order and responses come back in the same order (Kafka's
//! guarantee per connection), so a FIFO of in-flight requests matches them up; the
//! correlation id is checked anyway. A semaphore bounds requests in flight
//! (`max.in.flight.requests.per.connection`). When the connection breaks, every request in
//! flight fails with [`ConnError::Disconnected`] — its effect is unknown.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::protocol;

/// Largest response frame a client accepts.
const RESPONSE_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Why a request did not get a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnError {
    #[error("connect failed: {0}")]
    Connect(String),
    /// The connection broke while the request was in flight: it may have been processed.
    #[error("disconnected")]
    Disconnected,
    #[error("timeout")]
    Timeout,
    #[error("protocol_error: {0}")]
    Protocol(String),
}

impl ConnError {
    /// Whether the request may have taken effect on the broker.
    pub fn maybe_applied(&self) -> bool {
        matches!(
            self,
            ConnError::Disconnected | ConnError::Timeout | ConnError::Protocol(_)
        )
    }
}

struct InFlight {
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    reply: oneshot::Sender<Result<ResponseKind, ConnError>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

struct Outgoing {
    frame: Bytes,
    in_flight: Option<InFlight>,
}

/// A connection; cheap to clone, closed when every clone is dropped or the peer goes away.
#[derive(Clone)]
pub struct Connection {
    outgoing: mpsc::UnboundedSender<Outgoing>,
    in_flight_max: Arc<Semaphore>,
    next_correlation_id: Arc<Mutex<i32>>,
    closed: Arc<Mutex<bool>>,
    client_id: String,
    pub addr: SocketAddr,
}

impl Connection {
    /// Connect to `addr`, allowing `max_in_flight` requests at once.
    pub async fn connect(
        addr: SocketAddr,
        client_id: &str,
        max_in_flight: usize,
        timeout: Duration,
    ) -> Result<Connection, ConnError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(ConnError::Connect(e.to_string())),
            Err(_) => return Err(ConnError::Connect("timed out".into())),
        };
        let _ = stream.set_nodelay(true);
        let (reader, writer) = tokio::io::split(stream);
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let pending: Arc<Mutex<VecDeque<InFlight>>> = Arc::default();
        let closed = Arc::new(Mutex::new(false));
        tokio::spawn(write_loop(
            writer,
            outgoing_rx,
            pending.clone(),
            closed.clone(),
        ));
        tokio::spawn(read_loop(reader, pending, closed.clone()));
        Ok(Connection {
            outgoing,
            in_flight_max: Arc::new(Semaphore::new(max_in_flight.max(1))),
            next_correlation_id: Arc::new(Mutex::new(1)),
            closed,
            client_id: client_id.to_string(),
            addr,
        })
    }

    /// Whether the connection has broken.
    pub fn is_closed(&self) -> bool {
        *self.closed.lock().unwrap() || self.outgoing.is_closed()
    }

    /// Send a request and wait for its response (at most `timeout`).
    pub async fn request(
        &self,
        body: RequestKind,
        api_key: ApiKey,
        version: i16,
        timeout: Duration,
    ) -> Result<ResponseKind, ConnError> {
        let rx = self
            .send(body, api_key, version, true)
            .await?
            .expect("a response was asked for");
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ConnError::Disconnected),
            Err(_) => Err(ConnError::Timeout),
        }
    }

    /// Send a request that gets no response (Produce with acks=0).
    pub async fn send_only(
        &self,
        body: RequestKind,
        api_key: ApiKey,
        version: i16,
    ) -> Result<(), ConnError> {
        self.send(body, api_key, version, false).await.map(|_| ())
    }

    async fn send(
        &self,
        body: RequestKind,
        api_key: ApiKey,
        version: i16,
        expect_response: bool,
    ) -> Result<Option<oneshot::Receiver<Result<ResponseKind, ConnError>>>, ConnError> {
        if self.is_closed() {
            return Err(ConnError::Disconnected);
        }
        let permit = self
            .in_flight_max
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ConnError::Disconnected)?;
        let correlation_id = {
            let mut next = self.next_correlation_id.lock().unwrap();
            let id = *next;
            *next = next.wrapping_add(1);
            id
        };
        let mut header = RequestHeader::default();
        header.request_api_key = api_key as i16;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(StrBytes::from_string(self.client_id.clone()));
        let frame = protocol::encode_request(&header, &body)
            .map_err(|e| ConnError::Protocol(e.to_string()))?;
        let (reply, rx) = oneshot::channel();
        let in_flight = expect_response.then_some(InFlight {
            correlation_id,
            api_key,
            version,
            reply,
            _permit: permit,
        });
        self.outgoing
            .send(Outgoing { frame, in_flight })
            .map_err(|_| ConnError::Disconnected)?;
        Ok(expect_response.then_some(rx))
    }
}

async fn write_loop(
    mut writer: WriteHalf<TcpStream>,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    pending: Arc<Mutex<VecDeque<InFlight>>>,
    closed: Arc<Mutex<bool>>,
) {
    while let Some(Outgoing { frame, in_flight }) = outgoing.recv().await {
        if *closed.lock().unwrap() {
            break;
        }
        if let Some(in_flight) = in_flight {
            pending.lock().unwrap().push_back(in_flight);
        }
        if protocol::write_frame(&mut writer, &frame).await.is_err() {
            break;
        }
    }
    close(&pending, &closed);
}

async fn read_loop(
    mut reader: ReadHalf<TcpStream>,
    pending: Arc<Mutex<VecDeque<InFlight>>>,
    closed: Arc<Mutex<bool>>,
) {
    loop {
        let frame = match protocol::read_frame(&mut reader, RESPONSE_BYTES_MAX).await {
            Ok(frame) => frame,
            Err(_) => break,
        };
        let Some(in_flight) = pending.lock().unwrap().pop_front() else {
            break; // a response nobody asked for: the stream is out of sync
        };
        match protocol::decode_response(in_flight.api_key, in_flight.version, frame) {
            Ok((correlation_id, body)) if correlation_id == in_flight.correlation_id => {
                let _ = in_flight.reply.send(Ok(body));
            }
            Ok((correlation_id, _)) => {
                let message = format!(
                    "correlation id {correlation_id}, expected {}",
                    in_flight.correlation_id
                );
                let _ = in_flight.reply.send(Err(ConnError::Protocol(message)));
                break;
            }
            Err(error) => {
                let _ = in_flight
                    .reply
                    .send(Err(ConnError::Protocol(error.to_string())));
                break;
            }
        }
    }
    close(&pending, &closed);
}

fn close(pending: &Mutex<VecDeque<InFlight>>, closed: &Mutex<bool>) {
    *closed.lock().unwrap() = true;
    for in_flight in pending.lock().unwrap().drain(..) {
        let _ = in_flight.reply.send(Err(ConnError::Disconnected));
    }
}
