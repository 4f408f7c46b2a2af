//! One client connection: read a request, consult the fault hooks, dispatch, answer.
//!
//! Requests are handled one at a time per connection (Kafka mutes a channel while a request
//! is in flight), so responses are written in request order.

use std::sync::Arc;

use kafka_protocol::messages::ApiKey;
use tokio::net::TcpStream;

use super::{handlers, Broker};
use crate::env::{ConnInfo, NetAction};
use crate::protocol::{self, DecodeError, FrameError};

pub async fn run(broker: Arc<Broker>, mut stream: TcpStream, conn: ConnInfo) {
    let limit = match broker.config.socket_request_max_bytes() {
        Ok(limit) => limit,
        Err(error) => {
            tracing::error!(%error, "bad socket.request.max.bytes");
            return;
        }
    };
    loop {
        let frame = match protocol::read_frame(&mut stream, limit).await {
            Ok(frame) => frame,
            Err(FrameError::Closed) => return,
            Err(error) => {
                tracing::warn!(peer = %conn.peer, %error, "closing connection");
                return;
            }
        };
        if broker.is_stopped() {
            // Shutting down: no request is processed any more (Kafka stops its request
            // handlers); the client reconnects elsewhere.
            return;
        }
        let api_key = protocol::peek_api_key(&frame).unwrap_or(-1);
        if !apply(broker.env.net.on_request(&conn, api_key)).await {
            tracing::debug!(peer = %conn.peer, "fault: connection reset before request");
            return;
        }
        broker.env.trace.record("request", &frame);
        let request_frame = frame.clone();
        let response = match protocol::decode_request(frame) {
            Ok(request) => match handlers::dispatch(&broker, request, conn.peer).await {
                handlers::Reply::Respond(bytes) => Some(bytes),
                handlers::Reply::Silent => None,
                handlers::Reply::Close => return,
            },
            Err(DecodeError::UnsupportedVersion {
                api_key,
                version,
                correlation_id,
            }) => {
                tracing::debug!(api_key, version, "unsupported version");
                if api_key == ApiKey::ApiVersions as i16 {
                    Some(protocol::unsupported_version_response(correlation_id))
                } else {
                    // Kafka closes the connection for unsupported versions of other APIs:
                    // it cannot encode a response body for a version it does not know.
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(peer = %conn.peer, %error, "closing connection");
                return;
            }
        };
        let Some(response) = response else {
            continue; // acks=0: no response at all
        };
        if !apply(broker.env.net.on_response(&conn, api_key)).await {
            tracing::debug!(peer = %conn.peer, "fault: response dropped, connection reset");
            return;
        }
        broker.env.trace.record("response", &response);
        if protocol::write_frame(&mut stream, &response).await.is_err() {
            return;
        }
        broker.env.trace.exchange(&request_frame, &response);
    }
}

async fn apply(action: NetAction) -> bool {
    action.carry_out().await
}
