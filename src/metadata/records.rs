//! Metadata records (KRaft-like) and their on-disk encoding for the controller's own log.
//!
//! Every change to cluster metadata is one [`MetadataRecord`]; the controller's state is the
//! fold of its log with [`MetadataState::apply`](super::state::MetadataState::apply).
//!
//! Frame layout (big-endian), one per record, self-delimiting:
//! `crc u32 | length u32 | payload[length]`, where the CRC32C covers `length` and `payload`,
//! and `payload = version u8 | type u8 | fields…`. Strings are `u16 length | UTF-8`, lists of
//! broker ids `u16 count | i32…`, options a `u8` tag (0 absent, 1 present) then the value.
//!
//! Guarantee: decoding never panics. [`decode_log`] stops at the first frame that is torn,
//! fails its CRC or does not parse, and reports how many bytes before it are good, so any
//! truncation or bit flip of an encoded log decodes to a prefix of its records.
//! Asserted: a decoded log's good bytes are a prefix of its input, the whole input exactly
//! when no frame failed; an encoded payload fits [`RECORD_BYTES_MAX`].

/// The only payload version this build writes and reads.
pub const RECORD_VERSION: u8 = 0;
/// Bytes of a frame before its payload: crc + length.
pub const FRAME_HEADER_LEN: usize = 8;
/// The largest payload accepted; a larger length is treated as corruption.
pub const RECORD_BYTES_MAX: usize = 1 << 20;

/// A broker's advertised listener.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// Host name or address clients connect to.
    pub host: String,
    /// TCP port clients connect to.
    pub port: u16,
}

/// A broker (re)joined the cluster. It is fenced until an [`MetadataRecord::UnfenceBroker`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterBroker {
    /// The broker's `node.id`.
    pub broker_id: i32,
    /// Grows on every process start; tells a restarted broker from its previous life.
    pub incarnation: u64,
    /// Where clients reach it.
    pub endpoint: Endpoint,
}

/// A topic was created with this id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicRecord {
    /// The topic's name.
    pub name: String,
    /// The topic's id; never zero, never reused.
    pub topic_id: u128,
}

/// A partition was created with this assignment and initial leadership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionRecord {
    /// The topic it belongs to (already created by a [`TopicRecord`]).
    pub topic: String,
    /// The partition index, dense from 0.
    pub partition: i32,
    /// Assigned replicas; the first is the preferred leader.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// The leader, or -1 when none.
    pub leader: i32,
    /// Bumped on every leader change.
    pub leader_epoch: i32,
    /// Bumped on every change of the partition's state.
    pub partition_epoch: i32,
}

/// Why a partition's leader or ISR changed; kept in the log for reports and debugging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeReason {
    /// A broker was fenced (session expired): leadership moved off it, it left ISRs.
    BrokerFenced,
    /// A broker was unfenced: leaderless partitions got a leader.
    BrokerUnfenced,
    /// A broker registered a new incarnation: partitions it led were re-elected.
    BrokerRestarted,
    /// A broker asked to shut down: leadership moved off it first.
    ControlledShutdown,
    /// The leader changed the ISR (AlterPartition).
    AlterPartition,
    /// An admin asked for the preferred replica to lead.
    PreferredElection,
    /// A leader was chosen from outside the ISR (possible data loss).
    UncleanElection,
    /// An admin election found a live ISR member for a leaderless partition.
    AdminElection,
    /// No ISR member could lead and an eligible leader replica (KIP-966) was elected.
    EligibleLeaderElection,
    /// The ISR and the ELR had both emptied through unclean shutdowns and a last known
    /// eligible replica came back and was elected (KIP-966's unclean recovery).
    LastKnownElrRecovery,
}

/// A partition's leader and/or ISR changed. Absent fields are unchanged; epochs are the new values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionChange {
    /// The topic it belongs to.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
    /// The new leader (-1 for none), or `None` if unchanged.
    pub leader: Option<i32>,
    /// The new ISR, or `None` if unchanged.
    pub isr: Option<Vec<i32>>,
    /// The leader epoch after the change (greater than before iff the leader changed).
    pub leader_epoch: i32,
    /// The partition epoch after the change (always greater than before).
    pub partition_epoch: i32,
    /// Why it changed.
    pub reason: ChangeReason,
}

/// A partition's eligible leader replicas (KIP-966): replicas outside the ISR that hold every
/// committed offset, because they left the ISR while it was below `min.insync.replicas` and
/// the high watermark has not moved since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EligibleLeadersRecord {
    /// The topic it belongs to.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
    /// The ELR, in assignment order; disjoint from the ISR.
    pub elr: Vec<i32>,
    /// Replicas that left the ISR or the ELR through an unclean shutdown while the ISR was
    /// below the minimum, in assignment order: the candidates of an unclean recovery.
    pub last_known_elr: Vec<i32>,
}

/// One hosted replica's log end, as a broker reports it when it registers: what KIP-966's
/// unclean recovery compares to pick the longest log among the last known eligible replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaLogEnd {
    /// The topic.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
    /// The leader epoch of the replica's last batch (-1 for an empty log).
    pub last_epoch: i32,
    /// The replica's log end offset.
    pub end_offset: i64,
}

/// The BrokerRegistration tagged field that carries a broker's [`ReplicaLogEnd`]s (a tag
/// Kafka does not use; a Kafka controller skips it as unknown).
pub const LOG_ENDS_TAG: i32 = 10_000;

/// The bytes of the [`LOG_ENDS_TAG`] field: `u16 count`, then per replica
/// `string topic | i32 partition | i32 last_epoch | i64 end_offset`.
///
/// Panics past 65535 replicas or a topic name over 65535 bytes (never built here).
pub fn encode_log_ends(ends: &[ReplicaLogEnd]) -> Vec<u8> {
    let mut out = Vec::new();
    let count = u16::try_from(ends.len()).expect("more than 65535 hosted replicas");
    out.extend_from_slice(&count.to_be_bytes());
    for end in ends {
        put_string(&mut out, &end.topic);
        put_i32(&mut out, end.partition);
        put_i32(&mut out, end.last_epoch);
        out.extend_from_slice(&end.end_offset.to_be_bytes());
    }
    out
}

/// Parses [`encode_log_ends`]'s bytes; never panics.
pub fn decode_log_ends(bytes: &[u8]) -> Result<Vec<ReplicaLogEnd>, DecodeError> {
    let mut r = Reader { buf: bytes };
    let count = r.u16()?;
    let mut ends = Vec::new();
    for _ in 0..count {
        ends.push(ReplicaLogEnd {
            topic: r.string()?,
            partition: r.i32()?,
            last_epoch: r.i32()?,
            end_offset: r.u64()? as i64,
        });
    }
    if !r.buf.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes after log ends"));
    }
    Ok(ends)
}

/// One entry of the controller's metadata log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataRecord {
    /// A controller with this epoch took over; brokers ignore older controllers.
    ControllerEpoch {
        /// The new controller epoch, greater than every earlier one.
        controller_epoch: i32,
    },
    /// A broker registered (fenced until unfenced).
    RegisterBroker(RegisterBroker),
    /// A broker may no longer lead or be in an ISR.
    FenceBroker {
        /// The broker fenced.
        broker_id: i32,
    },
    /// A broker may lead and join ISRs again.
    UnfenceBroker {
        /// The broker unfenced.
        broker_id: i32,
    },
    /// A topic was created.
    Topic(TopicRecord),
    /// A partition was created.
    Partition(PartitionRecord),
    /// A partition's leader or ISR changed.
    PartitionChange(PartitionChange),
    /// A partition's eligible leader replicas (KIP-966) as of now; written only when
    /// `[model] eligible_leader_replicas` is on, after the change that moved them.
    EligibleLeaders(EligibleLeadersRecord),
    /// A topic and all its partitions were deleted.
    RemoveTopic {
        /// The topic deleted.
        name: String,
    },
    /// One of a topic's config overrides was set or removed (Kafka's ConfigRecord for a
    /// TOPIC resource): CreateTopics' configs, AlterConfigs and IncrementalAlterConfigs.
    Config(ConfigRecord),
    /// A dynamic broker config set or removed (Kafka's ConfigRecord for a BROKER resource):
    /// for one broker, or for every broker (the cluster-wide default, resource name "").
    BrokerConfig(BrokerConfigRecord),
}

/// A dynamic broker config set (`value` Some) or removed (None).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfigRecord {
    /// The broker's id as text, or "" for the cluster-wide default.
    pub broker: String,
    /// The config's broker-level name, e.g. `log.retention.ms`.
    pub name: String,
    /// The new value, or None to remove it.
    pub value: Option<String>,
}

/// A topic config override set (`value` Some) or removed, back to the broker's default (None).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigRecord {
    /// The topic.
    pub topic: String,
    /// The config's name, e.g. `min.insync.replicas`.
    pub name: String,
    /// The new value, or None to remove the override.
    pub value: Option<String>,
}

/// Why bytes did not decode as a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends inside a frame (a torn write).
    #[error("truncated frame: needed {needed} bytes, {available} available")]
    Truncated {
        /// Bytes the frame claims.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The frame's length is larger than [`RECORD_BYTES_MAX`].
    #[error("frame length {0} exceeds the maximum")]
    TooLarge(u32),
    /// The frame's CRC32C does not match its bytes.
    #[error("crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC stored in the frame.
        stored: u32,
        /// CRC of the bytes read.
        computed: u32,
    },
    /// The payload version is not one this build reads.
    #[error("unsupported record version {0}")]
    UnsupportedVersion(u8),
    /// The record type tag is unknown.
    #[error("unknown record type {0}")]
    UnknownType(u8),
    /// The payload does not parse (short, trailing bytes, bad UTF-8 or tag).
    #[error("malformed record: {0}")]
    Malformed(&'static str),
}

/// The result of decoding a whole log: the good prefix and why decoding stopped, if it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedLog {
    /// Records of every good frame before the first bad one.
    pub records: Vec<MetadataRecord>,
    /// Bytes covered by those frames; the caller truncates the file here before appending.
    pub valid_len: usize,
    /// Why decoding stopped before the end of the input, if it did.
    pub error: Option<DecodeError>,
}

const TYPE_CONTROLLER_EPOCH: u8 = 1;
const TYPE_REGISTER_BROKER: u8 = 2;
const TYPE_FENCE_BROKER: u8 = 3;
const TYPE_UNFENCE_BROKER: u8 = 4;
const TYPE_TOPIC: u8 = 5;
const TYPE_PARTITION: u8 = 6;
const TYPE_PARTITION_CHANGE: u8 = 7;
const TYPE_REMOVE_TOPIC: u8 = 8;
const TYPE_ELIGIBLE_LEADERS: u8 = 9;
const TYPE_CONFIG: u8 = 10;
const TYPE_BROKER_CONFIG: u8 = 11;

impl ChangeReason {
    /// A snake_case name, for effect counters.
    pub fn name(self) -> &'static str {
        match self {
            ChangeReason::BrokerFenced => "broker_fenced",
            ChangeReason::BrokerUnfenced => "broker_unfenced",
            ChangeReason::BrokerRestarted => "broker_restarted",
            ChangeReason::ControlledShutdown => "controlled_shutdown",
            ChangeReason::AlterPartition => "alter_partition",
            ChangeReason::PreferredElection => "preferred_election",
            ChangeReason::UncleanElection => "unclean_election",
            ChangeReason::AdminElection => "admin_election",
            ChangeReason::EligibleLeaderElection => "eligible_leader_election",
            ChangeReason::LastKnownElrRecovery => "last_known_elr_recovery",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            ChangeReason::BrokerFenced => 0,
            ChangeReason::BrokerUnfenced => 1,
            ChangeReason::BrokerRestarted => 2,
            ChangeReason::ControlledShutdown => 3,
            ChangeReason::AlterPartition => 4,
            ChangeReason::PreferredElection => 5,
            ChangeReason::UncleanElection => 6,
            ChangeReason::AdminElection => 7,
            ChangeReason::EligibleLeaderElection => 8,
            ChangeReason::LastKnownElrRecovery => 9,
        }
    }

    fn from_u8(value: u8) -> Result<Self, DecodeError> {
        Ok(match value {
            0 => ChangeReason::BrokerFenced,
            1 => ChangeReason::BrokerUnfenced,
            2 => ChangeReason::BrokerRestarted,
            3 => ChangeReason::ControlledShutdown,
            4 => ChangeReason::AlterPartition,
            5 => ChangeReason::PreferredElection,
            6 => ChangeReason::UncleanElection,
            7 => ChangeReason::AdminElection,
            8 => ChangeReason::EligibleLeaderElection,
            9 => ChangeReason::LastKnownElrRecovery,
            _ => return Err(DecodeError::Malformed("unknown change reason")),
        })
    }
}

/// Appends one record's frame to `out`.
///
/// Panics if a string or list is longer than the format allows (65535): the controller never
/// builds such records, so that would be a bug, not bad input.
pub fn encode_into(record: &MetadataRecord, out: &mut Vec<u8>) {
    let mut payload = vec![RECORD_VERSION];
    encode_payload(record, &mut payload);
    assert!(
        payload.len() <= RECORD_BYTES_MAX,
        "metadata record too large"
    );
    let length = (payload.len() as u32).to_be_bytes();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&length), &payload);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&length);
    out.extend_from_slice(&payload);
}

/// One record's frame.
pub fn encode(record: &MetadataRecord) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(record, &mut out);
    out
}

/// Frames for every record, in order: what the controller appends to its log file.
pub fn encode_all(records: &[MetadataRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        encode_into(record, &mut out);
    }
    out
}

/// Decodes the frame at the start of `buf`: the record and the frame's length in bytes.
pub fn decode_one(buf: &[u8]) -> Result<(MetadataRecord, usize), DecodeError> {
    if buf.len() < FRAME_HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: FRAME_HEADER_LEN,
            available: buf.len(),
        });
    }
    let stored = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let length = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if length as usize > RECORD_BYTES_MAX {
        return Err(DecodeError::TooLarge(length));
    }
    let frame_len = FRAME_HEADER_LEN + length as usize;
    if buf.len() < frame_len {
        return Err(DecodeError::Truncated {
            needed: frame_len,
            available: buf.len(),
        });
    }
    let computed = crc32c::crc32c(&buf[4..frame_len]);
    if computed != stored {
        return Err(DecodeError::CrcMismatch { stored, computed });
    }
    let record = decode_payload(&buf[FRAME_HEADER_LEN..frame_len])?;
    Ok((record, frame_len))
}

/// Decodes frames from the start of `buf` until its end or the first bad frame.
pub fn decode_log(buf: &[u8]) -> DecodedLog {
    let decoded = decode_frames(buf);
    assert!(
        decoded.valid_len <= buf.len()
            && decoded.error.is_none() == (decoded.valid_len == buf.len()),
        "a decoded log is a prefix of the bytes, whole exactly when no frame failed"
    );
    decoded
}

fn decode_frames(buf: &[u8]) -> DecodedLog {
    let mut records = Vec::new();
    let mut position = 0;
    while position < buf.len() {
        match decode_one(&buf[position..]) {
            Ok((record, frame_len)) => {
                records.push(record);
                position += frame_len;
            }
            Err(error) => {
                return DecodedLog {
                    records,
                    valid_len: position,
                    error: Some(error),
                };
            }
        }
    }
    DecodedLog {
        records,
        valid_len: position,
        error: None,
    }
}

fn encode_payload(record: &MetadataRecord, out: &mut Vec<u8>) {
    match record {
        MetadataRecord::ControllerEpoch { controller_epoch } => {
            out.push(TYPE_CONTROLLER_EPOCH);
            put_i32(out, *controller_epoch);
        }
        MetadataRecord::RegisterBroker(r) => {
            out.push(TYPE_REGISTER_BROKER);
            put_i32(out, r.broker_id);
            out.extend_from_slice(&r.incarnation.to_be_bytes());
            put_string(out, &r.endpoint.host);
            out.extend_from_slice(&r.endpoint.port.to_be_bytes());
        }
        MetadataRecord::FenceBroker { broker_id } => {
            out.push(TYPE_FENCE_BROKER);
            put_i32(out, *broker_id);
        }
        MetadataRecord::UnfenceBroker { broker_id } => {
            out.push(TYPE_UNFENCE_BROKER);
            put_i32(out, *broker_id);
        }
        MetadataRecord::Topic(t) => {
            out.push(TYPE_TOPIC);
            put_string(out, &t.name);
            out.extend_from_slice(&t.topic_id.to_be_bytes());
        }
        MetadataRecord::Partition(p) => {
            out.push(TYPE_PARTITION);
            put_string(out, &p.topic);
            put_i32(out, p.partition);
            put_ids(out, &p.replicas);
            put_ids(out, &p.isr);
            put_i32(out, p.leader);
            put_i32(out, p.leader_epoch);
            put_i32(out, p.partition_epoch);
        }
        MetadataRecord::PartitionChange(c) => {
            out.push(TYPE_PARTITION_CHANGE);
            put_string(out, &c.topic);
            put_i32(out, c.partition);
            match c.leader {
                None => out.push(0),
                Some(leader) => {
                    out.push(1);
                    put_i32(out, leader);
                }
            }
            match &c.isr {
                None => out.push(0),
                Some(isr) => {
                    out.push(1);
                    put_ids(out, isr);
                }
            }
            put_i32(out, c.leader_epoch);
            put_i32(out, c.partition_epoch);
            out.push(c.reason.to_u8());
        }
        MetadataRecord::EligibleLeaders(e) => {
            out.push(TYPE_ELIGIBLE_LEADERS);
            put_string(out, &e.topic);
            put_i32(out, e.partition);
            put_ids(out, &e.elr);
            put_ids(out, &e.last_known_elr);
        }
        MetadataRecord::Config(c) => {
            out.push(TYPE_CONFIG);
            put_string(out, &c.topic);
            put_string(out, &c.name);
            match &c.value {
                None => out.push(0),
                Some(value) => {
                    out.push(1);
                    put_string(out, value);
                }
            }
        }
        MetadataRecord::BrokerConfig(c) => {
            out.push(TYPE_BROKER_CONFIG);
            put_string(out, &c.broker);
            put_string(out, &c.name);
            match &c.value {
                None => out.push(0),
                Some(value) => {
                    out.push(1);
                    put_string(out, value);
                }
            }
        }
        MetadataRecord::RemoveTopic { name } => {
            out.push(TYPE_REMOVE_TOPIC);
            put_string(out, name);
        }
    }
}

fn decode_payload(payload: &[u8]) -> Result<MetadataRecord, DecodeError> {
    let mut r = Reader { buf: payload };
    let version = r.u8()?;
    if version != RECORD_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let record = match r.u8()? {
        TYPE_CONTROLLER_EPOCH => MetadataRecord::ControllerEpoch {
            controller_epoch: r.i32()?,
        },
        TYPE_REGISTER_BROKER => MetadataRecord::RegisterBroker(RegisterBroker {
            broker_id: r.i32()?,
            incarnation: r.u64()?,
            endpoint: Endpoint {
                host: r.string()?,
                port: r.u16()?,
            },
        }),
        TYPE_FENCE_BROKER => MetadataRecord::FenceBroker {
            broker_id: r.i32()?,
        },
        TYPE_UNFENCE_BROKER => MetadataRecord::UnfenceBroker {
            broker_id: r.i32()?,
        },
        TYPE_TOPIC => MetadataRecord::Topic(TopicRecord {
            name: r.string()?,
            topic_id: r.u128()?,
        }),
        TYPE_PARTITION => MetadataRecord::Partition(PartitionRecord {
            topic: r.string()?,
            partition: r.i32()?,
            replicas: r.ids()?,
            isr: r.ids()?,
            leader: r.i32()?,
            leader_epoch: r.i32()?,
            partition_epoch: r.i32()?,
        }),
        TYPE_PARTITION_CHANGE => MetadataRecord::PartitionChange(PartitionChange {
            topic: r.string()?,
            partition: r.i32()?,
            leader: if r.tag()? { Some(r.i32()?) } else { None },
            isr: if r.tag()? { Some(r.ids()?) } else { None },
            leader_epoch: r.i32()?,
            partition_epoch: r.i32()?,
            reason: ChangeReason::from_u8(r.u8()?)?,
        }),
        TYPE_ELIGIBLE_LEADERS => MetadataRecord::EligibleLeaders(EligibleLeadersRecord {
            topic: r.string()?,
            partition: r.i32()?,
            elr: r.ids()?,
            last_known_elr: r.ids()?,
        }),
        TYPE_REMOVE_TOPIC => MetadataRecord::RemoveTopic { name: r.string()? },
        TYPE_BROKER_CONFIG => MetadataRecord::BrokerConfig(BrokerConfigRecord {
            broker: r.string()?,
            name: r.string()?,
            value: if r.tag()? { Some(r.string()?) } else { None },
        }),
        TYPE_CONFIG => MetadataRecord::Config(ConfigRecord {
            topic: r.string()?,
            name: r.string()?,
            value: if r.tag()? { Some(r.string()?) } else { None },
        }),
        other => return Err(DecodeError::UnknownType(other)),
    };
    if !r.buf.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes after record"));
    }
    Ok(record)
}

fn put_i32(out: &mut Vec<u8>, value: i32) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, value: &str) {
    let len = u16::try_from(value.len()).expect("metadata string longer than 65535 bytes");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value.as_bytes());
}

fn put_ids(out: &mut Vec<u8>, ids: &[i32]) {
    let count = u16::try_from(ids.len()).expect("more than 65535 broker ids in a record");
    out.extend_from_slice(&count.to_be_bytes());
    for id in ids {
        put_i32(out, *id);
    }
}

/// A cursor over a payload whose every read checks the remaining length.
struct Reader<'a> {
    /// The bytes not yet read.
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Malformed("payload shorter than its fields"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn tag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Malformed("option tag is neither 0 nor 1")),
        }
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    fn u128(&mut self) -> Result<u128, DecodeError> {
        let b = self.take(16)?;
        Ok(u128::from_be_bytes(b.try_into().expect("16 bytes")))
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let len = self.u16()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Malformed("string is not UTF-8"))
    }

    fn ids(&mut self) -> Result<Vec<i32>, DecodeError> {
        let count = self.u16()? as usize;
        // The count is checked against the bytes left before allocating for it.
        if self.buf.len() < count * 4 {
            return Err(DecodeError::Malformed("id list longer than the payload"));
        }
        (0..count).map(|_| self.i32()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids() -> impl Strategy<Value = Vec<i32>> {
        prop::collection::vec(-1i32..8, 0..5)
    }

    fn reason() -> impl Strategy<Value = ChangeReason> {
        (0u8..10).prop_map(|v| ChangeReason::from_u8(v).unwrap())
    }

    fn record() -> impl Strategy<Value = MetadataRecord> {
        prop_oneof![
            any::<i32>().prop_map(|e| MetadataRecord::ControllerEpoch {
                controller_epoch: e
            }),
            (any::<i32>(), any::<u64>(), "[a-z0-9.]{0,12}", any::<u16>()).prop_map(
                |(broker_id, incarnation, host, port)| {
                    MetadataRecord::RegisterBroker(RegisterBroker {
                        broker_id,
                        incarnation,
                        endpoint: Endpoint { host, port },
                    })
                }
            ),
            any::<i32>().prop_map(|broker_id| MetadataRecord::FenceBroker { broker_id }),
            any::<i32>().prop_map(|broker_id| MetadataRecord::UnfenceBroker { broker_id }),
            ("[a-zA-Z0-9._-]{0,10}", any::<u128>())
                .prop_map(|(name, topic_id)| MetadataRecord::Topic(TopicRecord { name, topic_id })),
            (
                "[a-z]{1,6}",
                any::<i32>(),
                ids(),
                ids(),
                any::<i32>(),
                any::<i32>(),
                any::<i32>()
            )
                .prop_map(|(topic, partition, replicas, isr, leader, le, pe)| {
                    MetadataRecord::Partition(PartitionRecord {
                        topic,
                        partition,
                        replicas,
                        isr,
                        leader,
                        leader_epoch: le,
                        partition_epoch: pe,
                    })
                }),
            (
                "[a-z]{1,6}",
                any::<i32>(),
                proptest::option::of(any::<i32>()),
                proptest::option::of(ids()),
                any::<i32>(),
                any::<i32>(),
                reason()
            )
                .prop_map(|(topic, partition, leader, isr, le, pe, reason)| {
                    MetadataRecord::PartitionChange(PartitionChange {
                        topic,
                        partition,
                        leader,
                        isr,
                        leader_epoch: le,
                        partition_epoch: pe,
                        reason,
                    })
                }),
            ("[a-z]{1,6}", any::<i32>(), ids(), ids()).prop_map(
                |(topic, partition, elr, last_known_elr)| {
                    MetadataRecord::EligibleLeaders(EligibleLeadersRecord {
                        topic,
                        partition,
                        elr,
                        last_known_elr,
                    })
                }
            ),
            "[a-z]{0,8}".prop_map(|name| MetadataRecord::RemoveTopic { name }),
            (
                "[a-z]{1,6}",
                "[a-z.]{1,12}",
                proptest::option::of("[a-z0-9,=%]{0,8}")
            )
                .prop_map(|(topic, name, value)| MetadataRecord::Config(
                    ConfigRecord { topic, name, value }
                )),
            (
                "[0-9]{0,2}",
                "[a-z.]{1,12}",
                proptest::option::of("[a-z0-9,=%]{0,8}")
            )
                .prop_map(|(broker, name, value)| MetadataRecord::BrokerConfig(
                    BrokerConfigRecord {
                        broker,
                        name,
                        value
                    }
                )),
        ]
    }

    /// Byte offsets where each frame starts, plus the total length at the end.
    fn frame_starts(records: &[MetadataRecord]) -> Vec<usize> {
        let mut starts = vec![0];
        for record in records {
            starts.push(starts.last().unwrap() + encode(record).len());
        }
        starts
    }

    #[test]
    fn empty_log_decodes_to_nothing() {
        let decoded = decode_log(&[]);
        assert_eq!(decoded.records, vec![]);
        assert_eq!(decoded.valid_len, 0);
        assert_eq!(decoded.error, None);
    }

    #[test]
    fn unknown_version_is_an_error() {
        let mut frame = encode(&MetadataRecord::FenceBroker { broker_id: 1 });
        frame[FRAME_HEADER_LEN] = 9;
        let crc = crc32c::crc32c(&frame[4..]);
        frame[..4].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode_one(&frame), Err(DecodeError::UnsupportedVersion(9)));
    }

    #[test]
    fn huge_length_is_an_error_not_an_allocation() {
        let frame = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(decode_one(&frame), Err(DecodeError::TooLarge(u32::MAX)));
    }

    #[test]
    fn log_ends_round_trip_and_garbage_is_an_error() {
        let ends = vec![
            ReplicaLogEnd {
                topic: "t".into(),
                partition: 2,
                last_epoch: 7,
                end_offset: 1 << 40,
            },
            ReplicaLogEnd {
                topic: "u".into(),
                partition: 0,
                last_epoch: -1,
                end_offset: 0,
            },
        ];
        let bytes = encode_log_ends(&ends);
        assert_eq!(decode_log_ends(&bytes), Ok(ends));
        assert!(decode_log_ends(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_log_ends(&[0, 9, 1]).is_err());
        assert_eq!(decode_log_ends(&[0, 0]), Ok(vec![]));
    }

    proptest! {
        #[test]
        fn round_trip(records in prop::collection::vec(record(), 0..12)) {
            let bytes = encode_all(&records);
            let decoded = decode_log(&bytes);
            prop_assert_eq!(decoded.error, None);
            prop_assert_eq!(decoded.valid_len, bytes.len());
            prop_assert_eq!(decoded.records, records);
        }

        #[test]
        fn truncation_decodes_to_a_prefix(
            records in prop::collection::vec(record(), 1..10),
            cut in any::<prop::sample::Index>(),
        ) {
            let bytes = encode_all(&records);
            let cut = cut.index(bytes.len() + 1);
            let starts = frame_starts(&records);
            let whole = starts.iter().filter(|&&s| s <= cut).count() - 1;
            let decoded = decode_log(&bytes[..cut]);
            prop_assert_eq!(&decoded.records[..], &records[..whole]);
            prop_assert_eq!(decoded.valid_len, starts[whole]);
            prop_assert_eq!(decoded.error.is_none(), cut == starts[whole]);
        }

        #[test]
        fn bit_flip_decodes_to_the_records_before_it(
            records in prop::collection::vec(record(), 1..10),
            at in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut bytes = encode_all(&records);
            let at = at.index(bytes.len());
            bytes[at] ^= 1 << bit;
            let starts = frame_starts(&records);
            let hit = starts.iter().filter(|&&s| s <= at).count() - 1;
            let decoded = decode_log(&bytes);
            prop_assert_eq!(&decoded.records[..], &records[..hit]);
            prop_assert_eq!(decoded.valid_len, starts[hit]);
            prop_assert!(decoded.error.is_some());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let decoded = decode_log(&bytes);
            prop_assert!(decoded.valid_len <= bytes.len());
        }
    }
}
