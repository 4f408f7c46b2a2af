//! Kafka wire protocol: framing, the versions kafkasim implements, and request/response
//! (de)serialisation through the `kafka-protocol` crate.
//!
//! A frame is a big-endian i32 size followed by that many bytes. A request is a header plus a
//! body; a response is a header (correlation id, tagged fields for flexible versions) plus a
//! body. Only the versions in [`SUPPORTED`] are advertised in ApiVersions and accepted: real
//! clients pick features from that list, so it must never claim more than is implemented.

pub mod codes;

pub use codes::{ErrorCode, WriteOutcome};
pub mod validate;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The APIs and version ranges kafkasim implements (inclusive).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    // v13 names topics by id (KIP-516), v15 moves the replica id into replica_state, v16
    // adds KIP-951's leader endpoints (left empty).
    (ApiKey::Fetch, 4, 16),
    // v7 adds MAX_TIMESTAMP (-3), v8 EARLIEST_LOCAL_TIMESTAMP (-4), v9
    // LATEST_TIERED_TIMESTAMP (-5), v10 a timeout for tiered-storage lookups.
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    // v6 names topics by id (KIP-516).
    (ApiKey::DeleteTopics, 1, 6),
    // v3 adds the replica id followers send; v4 is flexible.
    (ApiKey::OffsetForLeaderEpoch, 3, 4),
    // v1 adds the endpoint type, v2 fenced brokers.
    (ApiKey::DescribeCluster, 0, 2),
    // v1 adds synonyms (kafka-protocol 0.18 has no v0), v3 types and documentation, v4 is
    // flexible.
    (ApiKey::DescribeConfigs, 1, 4),
    // v2 is flexible.
    (ApiKey::AlterConfigs, 0, 2),
    // v1 is flexible.
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    // v2 is flexible.
    (ApiKey::DeleteRecords, 0, 2),
    // v2 is flexible.
    (ApiKey::CreatePartitions, 0, 3),
    // Idempotent producers only (transactions come later); v2 is flexible, v3 adds the
    // producer id and epoch a client re-initialising sends.
    (ApiKey::InitProducerId, 0, 4),
    // The classic consumer-group protocol, served by the group coordinator.
    // v1 adds the rebalance timeout, v4 the MEMBER_ID_REQUIRED round trip, v5 the group
    // instance id (static membership, KIP-345), v6 is flexible, v7 returns the protocol type
    // (KIP-559), v8 adds the joining member's reason (KIP-800), v9 skips assignment for a
    // static leader rejoining (KIP-814).
    (ApiKey::JoinGroup, 0, 9),
    // v3 adds the group instance id, v4 is flexible, v5 the protocol type and name (checked
    // against the group's).
    (ApiKey::SyncGroup, 0, 5),
    // v3 adds the group instance id, v4 is flexible.
    (ApiKey::Heartbeat, 0, 4),
    // v3 removes members in a batch, each by member id or group instance id; v4 is flexible,
    // v5 adds a reason per member (KIP-800).
    (ApiKey::LeaveGroup, 0, 5),
    // v2 adds the retention time (gone again in v5), v6 the leader epoch per partition, v7
    // the group instance id, v8 is flexible, v9 accepts a KIP-848 member epoch in place of
    // the generation.
    (ApiKey::OffsetCommit, 2, 9),
    // v2 fetches all of a group's offsets when topics is null, v5 returns the leader epoch,
    // v6 is flexible, v7 adds require_stable (KIP-447), v8 fetches for a batch of groups,
    // v9 adds each group's member id and epoch (KIP-848).
    (ApiKey::OffsetFetch, 1, 9),
    // v3 is flexible, v4 adds a filter on group states, v5 a filter on group types.
    (ApiKey::ListGroups, 0, 5),
    // v3 adds the authorized operations, v4 the members' group instance ids, v5 is flexible.
    (ApiKey::DescribeGroups, 0, 5),
    // v2 is flexible.
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
];

/// The APIs the controller serves: brokers register, heartbeat, propose ISR changes, fetch
/// the metadata log (Fetch v12 of `__cluster_metadata`, as KRaft brokers do) and forward
/// CreateTopics, CreatePartitions and topic config changes.
pub const CONTROLLER_SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Fetch, 12, 12),
    // v3 adds the previous broker epoch a cleanly shut down broker reports (KIP-966).
    (ApiKey::BrokerRegistration, 0, 3),
    (ApiKey::BrokerHeartbeat, 0, 0),
    (ApiKey::AlterPartition, 2, 2),
    (ApiKey::ElectLeaders, 2, 2),
    // Forwarded by brokers (and sent by admins that reach the controller directly).
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::CreatePartitions, 0, 3),
    // Topic config changes, forwarded as SET and DELETE operations on the checked set.
    (ApiKey::IncrementalAlterConfigs, 0, 1),
];

/// The supported range of an API, if kafkasim implements it at all.
pub fn supported_range(api_key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(key, _, _)| *key == api_key)
        .map(|(_, min, max)| (*min, *max))
}

/// Whether `version` of the API with raw key `api_key` is implemented.
pub fn is_supported(api_key: i16, version: i16) -> bool {
    ApiKey::try_from(api_key)
        .ok()
        .and_then(supported_range)
        .is_some_and(|(min, max)| (min..=max).contains(&version))
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("frame of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: i64, limit: usize },
    #[error("negative frame size {0}")]
    Negative(i32),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Read one size-prefixed frame, refusing frames larger than `limit` bytes
/// (`socket.request.max.bytes`) before allocating for them.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> Result<Bytes, FrameError> {
    let mut size_bytes = [0u8; 4];
    match reader.read_exact(&mut size_bytes).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let size = i32::from_be_bytes(size_bytes);
    if size < 0 {
        return Err(FrameError::Negative(size));
    }
    if size as usize > limit {
        return Err(FrameError::TooLarge {
            size: size as i64,
            limit,
        });
    }
    let mut body = vec![0u8; size as usize];
    reader.read_exact(&mut body).await?;
    Ok(Bytes::from(body))
}

/// Write one frame and flush it (madsim's TCP sends nothing until flushed).
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    body: &[u8],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(body.len() + 4);
    buf.extend_from_slice(&(body.len() as i32).to_be_bytes());
    buf.extend_from_slice(body);
    writer.write_all(&buf).await?;
    writer.flush().await
}

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    pub header: RequestHeader,
    pub api_key: ApiKey,
    pub body: RequestKind,
}

/// Why a request frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("frame too short for a request header")]
    Short,
    #[error("unknown api key {0}")]
    UnknownApi(i16),
    #[error("unsupported version {version} of api {api_key}")]
    UnsupportedVersion {
        api_key: i16,
        version: i16,
        correlation_id: i32,
    },
    #[error("malformed request: {0}")]
    Malformed(String),
}

/// Decode a request frame. Unknown APIs and unsupported versions are reported without
/// decoding the body (the body's layout is unknown to us then).
pub fn decode_request(frame: Bytes) -> Result<Request, DecodeError> {
    decode_request_for(SUPPORTED, frame)
}

/// Decode a request frame against a server's own list of supported APIs and versions.
pub fn decode_request_for(
    supported: &[(ApiKey, i16, i16)],
    mut frame: Bytes,
) -> Result<Request, DecodeError> {
    if frame.len() < 8 {
        return Err(DecodeError::Short);
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key = ApiKey::try_from(raw_key).map_err(|_| DecodeError::UnknownApi(raw_key))?;
    let listed = supported
        .iter()
        .any(|(key, min, max)| *key == api_key && (*min..=*max).contains(&version));
    if !listed {
        return Err(DecodeError::UnsupportedVersion {
            api_key: raw_key,
            version,
            correlation_id,
        });
    }
    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    // The crate reserves every array from its wire length before reading it; a body whose
    // lengths cannot fit in the frame would abort the process, so it is refused here.
    validate::check_request_body(api_key, version, &frame).map_err(DecodeError::Malformed)?;
    let body = RequestKind::decode(api_key, &mut frame, version)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    Ok(Request {
        header,
        api_key,
        body,
    })
}

/// Encode a response body with its header for the request's api and version.
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> anyhow::Result<Bytes> {
    let mut buf = BytesMut::new();
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header.encode(&mut buf, api_key.response_header_version(version))?;
    body.encode(&mut buf, version)?;
    Ok(buf.freeze())
}

/// Encode a request with its header (used by kafkasim's own clients).
pub fn encode_request(header: &RequestHeader, body: &RequestKind) -> anyhow::Result<Bytes> {
    let api_key =
        ApiKey::try_from(header.request_api_key).map_err(|_| anyhow::anyhow!("unknown api key"))?;
    let mut buf = BytesMut::new();
    header.encode(
        &mut buf,
        api_key.request_header_version(header.request_api_version),
    )?;
    body.encode(&mut buf, header.request_api_version)?;
    Ok(buf.freeze())
}

/// Decode a response frame for a request of `api_key` at `version`; returns the correlation
/// id and the body.
pub fn decode_response(
    api_key: ApiKey,
    version: i16,
    mut frame: Bytes,
) -> anyhow::Result<(i32, ResponseKind)> {
    let header = ResponseHeader::decode(&mut frame, api_key.response_header_version(version))?;
    let body = ResponseKind::decode(api_key, &mut frame, version)?;
    Ok((header.correlation_id, body))
}

/// The ApiVersions v0 error response for an unsupported version: per KIP-511 the broker
/// answers with v0 of the response so any client can read it.
pub fn unsupported_version_response(correlation_id: i32) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i32(correlation_id);
    buf.put_i16(ErrorCode::UNSUPPORTED_VERSION.code());
    // api_keys array (v0: int32 length) listing what we support, then nothing else in v0.
    buf.put_i32(SUPPORTED.len() as i32);
    for (key, min, max) in SUPPORTED {
        buf.put_i16(*key as i16);
        buf.put_i16(*min);
        buf.put_i16(*max);
    }
    buf.freeze()
}

/// Peek at a frame's api key without consuming it.
pub fn peek_api_key(frame: &Bytes) -> Option<i16> {
    (frame.len() >= 2).then(|| (&frame[..2]).get_i16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_frames_are_errors_not_panics() {
        for frame in [
            vec![],
            vec![0; 7],
            vec![0xff; 8],
            vec![0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0xff],
        ] {
            let _ = decode_request(Bytes::from(frame));
        }
        // A Produce v9 header with a truncated body must be Malformed.
        let frame = Bytes::from(vec![0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0]);
        assert!(matches!(
            decode_request(frame),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn unsupported_versions_are_named() {
        let frame = Bytes::from(vec![0, 0, 0, 2, 0, 0, 0, 7, 0, 0]);
        match decode_request(frame) {
            Err(DecodeError::UnsupportedVersion {
                api_key: 0,
                version: 2,
                correlation_id: 7,
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    /// Produce v8 with a null transactional id, acks 1, and a topic_data array that claims
    /// `i32::MAX` topics in a 22-byte frame.
    fn produce_claiming_huge_array() -> Bytes {
        let mut frame = vec![0, 0, 0, 8, 0, 0, 0, 1, 0xff, 0xff];
        frame.extend_from_slice(&[0xff, 0xff, 0, 1, 0, 0, 0, 100]);
        frame.extend_from_slice(&i32::MAX.to_be_bytes());
        Bytes::from(frame)
    }

    /// Pinned bug: kafka-protocol 0.18 decodes an array by calling `Vec::with_capacity(length)`
    /// on the wire's length before reading any element, so this frame would ask for ~200 GB
    /// and the allocator would abort the whole process (an abort, not a panic: nothing can
    /// catch it). Upstream: kafka-protocol-rs PRs #152, #161, #200. `validate` refuses the
    /// length before the crate sees it.
    #[test]
    fn huge_array_length_is_malformed() {
        assert!(matches!(
            decode_request(produce_claiming_huge_array()),
            Err(DecodeError::Malformed(_))
        ));
    }

    /// A complete request header for a supported (api, version) with a null client id (and
    /// no tagged fields in a flexible header), then `body`: so the body's bytes reach the
    /// body decoder rather than being read as the client id's length.
    fn frame_with_header(
        index: usize,
        version_pick: u16,
        correlation_id: i32,
        body: &[u8],
    ) -> Bytes {
        let (key, min, max) = SUPPORTED[index % SUPPORTED.len()];
        let version = min + (version_pick % (max - min + 1) as u16) as i16;
        let mut frame = BytesMut::new();
        frame.put_i16(key as i16);
        frame.put_i16(version);
        frame.put_i32(correlation_id);
        frame.put_i16(-1);
        if key.request_header_version(version) >= 2 {
            frame.put_u8(0);
        }
        frame.extend_from_slice(body);
        frame.freeze()
    }

    /// A valid Produce request carrying one small RecordBatch, at `version`.
    fn valid_produce(version: i16) -> Bytes {
        use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
        use kafka_protocol::messages::{ProduceRequest, TopicName};
        use kafka_protocol::protocol::StrBytes;
        let records = crate::storage::testing::encode_batch(
            0,
            -1,
            1_000,
            &[crate::storage::testing::TestRecord::value(b"hello")],
        );
        let mut partition = PartitionProduceData::default();
        partition.index = 1;
        partition.records = Some(Bytes::from(records));
        let mut topic = TopicProduceData::default();
        topic.name = TopicName(StrBytes::from_static_str("t"));
        topic.partition_data = vec![partition];
        let mut request = ProduceRequest::default();
        request.acks = -1;
        request.timeout_ms = 30_000;
        request.topic_data = vec![topic];
        let mut header = RequestHeader::default();
        header.request_api_key = ApiKey::Produce as i16;
        header.request_api_version = version;
        header.correlation_id = 7;
        header.client_id = Some(StrBytes::from_static_str("fuzz"));
        encode_request(&header, &RequestKind::Produce(request)).unwrap()
    }

    /// How a valid request is damaged.
    #[derive(Debug, Clone)]
    enum Mutation {
        /// XOR the byte at (position mod length) with a non-zero mask.
        Flip { position: usize, mask: u8 },
        /// Keep only the first (length mod frame length) bytes.
        Truncate(usize),
        /// Append these bytes.
        Extend(Vec<u8>),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), 1u8..=255)
                .prop_map(|(position, mask)| Mutation::Flip { position, mask }),
            any::<usize>().prop_map(Mutation::Truncate),
            prop::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Extend),
        ]
    }

    fn apply(frame: &mut Vec<u8>, mutation: &Mutation) {
        match mutation {
            Mutation::Flip { position, mask } => {
                if !frame.is_empty() {
                    let at = position % frame.len();
                    frame[at] ^= mask;
                }
            }
            Mutation::Truncate(length) => frame.truncate(length % frame.len().max(1)),
            Mutation::Extend(bytes) => frame.extend_from_slice(bytes),
        }
    }

    use proptest::prelude::*;

    // Bodies are arbitrary bytes and flips any bit pattern: `validate` refuses every length
    // that cannot fit in the frame before the crate reserves memory for it (see
    // `huge_array_length_is_malformed`), so an abort here is a bug in `validate`.
    proptest! {
        #[test]
        fn decode_request_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_request(Bytes::from(bytes));
        }

        #[test]
        fn decode_request_never_panics_on_arbitrary_bodies(
            index in any::<usize>(),
            version_pick in any::<u16>(),
            correlation_id in any::<i32>(),
            body in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            let frame = frame_with_header(index, version_pick, correlation_id, &body);
            let _ = decode_request(frame);
        }

        #[test]
        fn mutated_produce_never_panics(
            version in 3i16..=9,
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let mut frame = valid_produce(version).to_vec();
            for mutation in &mutations {
                apply(&mut frame, mutation);
            }
            // A flip may turn it into another API or version: any outcome but a panic is fine.
            let _ = decode_request(Bytes::from(frame));
        }
    }

    #[test]
    fn valid_produce_decodes_at_every_supported_version() {
        for version in 3..=9 {
            let request = decode_request(valid_produce(version)).unwrap();
            assert_eq!(request.header.correlation_id, 7);
            let RequestKind::Produce(body) = request.body else {
                panic!("not a produce request");
            };
            assert_eq!(body.topic_data[0].partition_data[0].index, 1);
        }
    }
}
