//! The records a group coordinator writes to `__consumer_offsets`, and their bytes.
//!
//! Keys and values follow Kafka's non-flexible schemas (a big-endian `i16` version, then the
//! fields; strings as `i16` length + UTF-8, `-1` for null; bytes as `i32` length + bytes):
//! - OffsetCommit key v1: group, topic, partition; value v3: offset, leader epoch, metadata,
//!   commit timestamp.
//! - GroupMetadata key v2: group; value v3: protocol type, generation, protocol (nullable),
//!   leader (nullable), current state timestamp, members (each: member id, group instance id
//!   (nullable), client id, client host, rebalance timeout, session timeout, subscription,
//!   assignment).
//!
//! A tombstone (value `None`) deletes the key. Decoding a peer's bytes never panics: it
//! returns `None` on anything malformed.

/// One record for `__consumer_offsets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    OffsetCommit {
        group_id: String,
        topic: String,
        partition: i32,
        /// `None` is a tombstone (expiry, OffsetDelete, DeleteGroups).
        value: Option<OffsetCommitValue>,
    },
    GroupMetadata {
        group_id: String,
        /// `None` is a tombstone (the group is deleted).
        value: Option<GroupMetadataValue>,
    },
}

/// OffsetCommit value v3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetCommitValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
}

/// GroupMetadata value v3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMetadataValue {
    pub protocol_type: String,
    pub generation_id: i32,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp_ms: i64,
    pub members: Vec<MemberMetadataValue>,
}

/// One member inside [`GroupMetadataValue`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberMetadataValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Vec<u8>,
    pub assignment: Vec<u8>,
}

const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
const GROUP_METADATA_KEY_VERSION: i16 = 2;
const GROUP_METADATA_VALUE_VERSION: i16 = 3;

impl Record {
    /// The group the record belongs to (which decides its `__consumer_offsets` partition).
    pub fn group_id(&self) -> &str {
        match self {
            Record::OffsetCommit { group_id, .. } | Record::GroupMetadata { group_id, .. } => {
                group_id
            }
        }
    }

    /// The record's key and value bytes (`None` for a tombstone).
    pub fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut key = Vec::new();
        match self {
            Record::OffsetCommit {
                group_id,
                topic,
                partition,
                value,
            } => {
                put_i16(&mut key, OFFSET_COMMIT_KEY_VERSION);
                put_string(&mut key, group_id);
                put_string(&mut key, topic);
                put_i32(&mut key, *partition);
                (key, value.as_ref().map(encode_offset_value))
            }
            Record::GroupMetadata { group_id, value } => {
                put_i16(&mut key, GROUP_METADATA_KEY_VERSION);
                put_string(&mut key, group_id);
                (key, value.as_ref().map(encode_group_value))
            }
        }
    }

    /// Parses a key and value written by [`Record::encode`]; `None` when malformed.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Option<Record> {
        let mut key = Reader(key);
        let version = key.i16()?;
        let record = match version {
            0 | 1 => Record::OffsetCommit {
                group_id: key.string()?,
                topic: key.string()?,
                partition: key.i32()?,
                value: match value {
                    None => None,
                    Some(bytes) => Some(decode_offset_value(bytes)?),
                },
            },
            2 => Record::GroupMetadata {
                group_id: key.string()?,
                value: match value {
                    None => None,
                    Some(bytes) => Some(decode_group_value(bytes)?),
                },
            },
            _ => return None,
        };
        key.finished().then_some(record)
    }
}

fn encode_offset_value(value: &OffsetCommitValue) -> Vec<u8> {
    let mut out = Vec::new();
    put_i16(&mut out, OFFSET_COMMIT_VALUE_VERSION);
    put_i64(&mut out, value.offset);
    put_i32(&mut out, value.leader_epoch);
    put_string(&mut out, &value.metadata);
    put_i64(&mut out, value.commit_timestamp_ms);
    out
}

fn decode_offset_value(bytes: &[u8]) -> Option<OffsetCommitValue> {
    let mut reader = Reader(bytes);
    if reader.i16()? != OFFSET_COMMIT_VALUE_VERSION {
        return None;
    }
    let value = OffsetCommitValue {
        offset: reader.i64()?,
        leader_epoch: reader.i32()?,
        metadata: reader.string()?,
        commit_timestamp_ms: reader.i64()?,
    };
    reader.finished().then_some(value)
}

fn encode_group_value(value: &GroupMetadataValue) -> Vec<u8> {
    let mut out = Vec::new();
    put_i16(&mut out, GROUP_METADATA_VALUE_VERSION);
    put_string(&mut out, &value.protocol_type);
    put_i32(&mut out, value.generation_id);
    put_nullable_string(&mut out, value.protocol_name.as_deref());
    put_nullable_string(&mut out, value.leader.as_deref());
    put_i64(&mut out, value.current_state_timestamp_ms);
    put_i32(&mut out, value.members.len() as i32);
    for member in &value.members {
        put_string(&mut out, &member.member_id);
        put_nullable_string(&mut out, member.group_instance_id.as_deref());
        put_string(&mut out, &member.client_id);
        put_string(&mut out, &member.client_host);
        put_i32(&mut out, member.rebalance_timeout_ms);
        put_i32(&mut out, member.session_timeout_ms);
        put_bytes(&mut out, &member.subscription);
        put_bytes(&mut out, &member.assignment);
    }
    out
}

fn decode_group_value(bytes: &[u8]) -> Option<GroupMetadataValue> {
    let mut reader = Reader(bytes);
    if reader.i16()? != GROUP_METADATA_VALUE_VERSION {
        return None;
    }
    let protocol_type = reader.string()?;
    let generation_id = reader.i32()?;
    let protocol_name = reader.nullable_string()?;
    let leader = reader.nullable_string()?;
    let current_state_timestamp_ms = reader.i64()?;
    let count = usize::try_from(reader.i32()?).ok()?;
    // A member takes at least 24 bytes: bound the allocation by what the bytes can hold.
    let mut members = Vec::with_capacity(count.min(reader.0.len() / 24));
    for _ in 0..count {
        members.push(MemberMetadataValue {
            member_id: reader.string()?,
            group_instance_id: reader.nullable_string()?,
            client_id: reader.string()?,
            client_host: reader.string()?,
            rebalance_timeout_ms: reader.i32()?,
            session_timeout_ms: reader.i32()?,
            subscription: reader.bytes()?,
            assignment: reader.bytes()?,
        });
    }
    let value = GroupMetadataValue {
        protocol_type,
        generation_id,
        protocol_name,
        leader,
        current_state_timestamp_ms,
        members,
    };
    reader.finished().then_some(value)
}

fn put_i16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn put_string(out: &mut Vec<u8>, s: &str) {
    assert!(
        s.len() <= i16::MAX as usize,
        "string too long for the schema"
    );
    put_i16(out, s.len() as i16);
    out.extend_from_slice(s.as_bytes());
}
fn put_nullable_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_string(out, s),
        None => put_i16(out, -1),
    }
}
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_i32(
        out,
        i32::try_from(b.len()).expect("bytes fit an i32 length"),
    );
    out.extend_from_slice(b);
}

/// A cursor over a peer's bytes; every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn nullable_string(&mut self) -> Option<Option<String>> {
        let len = self.i16()?;
        if len == -1 {
            return Some(None);
        }
        let len = usize::try_from(len).ok()?;
        Some(Some(String::from_utf8(self.take(len)?.to_vec()).ok()?))
    }
    fn string(&mut self) -> Option<String> {
        self.nullable_string()?
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = usize::try_from(self.i32()?).ok()?;
        Some(self.take(len)?.to_vec())
    }
    fn finished(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offset_commit_key_bytes_match_kafka_layout() {
        let record = Record::OffsetCommit {
            group_id: "g".into(),
            topic: "t".into(),
            partition: 2,
            value: None,
        };
        let (key, value) = record.encode();
        assert_eq!(key, vec![0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 2]);
        assert_eq!(value, None);
        assert_eq!(Record::decode(&key, None), Some(record));
    }

    #[test]
    fn truncated_bytes_decode_to_none() {
        let record = Record::GroupMetadata {
            group_id: "g".into(),
            value: Some(GroupMetadataValue {
                protocol_type: "consumer".into(),
                generation_id: 3,
                protocol_name: Some("range".into()),
                leader: None,
                current_state_timestamp_ms: 7,
                members: vec![MemberMetadataValue {
                    member_id: "m-1".into(),
                    group_instance_id: Some("i".into()),
                    client_id: "c".into(),
                    client_host: "/h".into(),
                    rebalance_timeout_ms: 1,
                    session_timeout_ms: 2,
                    subscription: vec![1, 2],
                    assignment: vec![],
                }],
            }),
        };
        let (key, value) = record.encode();
        let value = value.unwrap();
        assert_eq!(Record::decode(&key, Some(&value)), Some(record));
        for cut in 0..value.len() {
            assert_eq!(Record::decode(&key, Some(&value[..cut])), None, "cut {cut}");
        }
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z0-9.-]{0,8}"
    }

    proptest! {
        #[test]
        fn offset_commit_round_trips(group in text(), topic in text(), partition in any::<i32>(),
            offset in any::<i64>(), epoch in any::<i32>(), metadata in text(), ts in any::<i64>(),
            tombstone in any::<bool>()) {
            let value = (!tombstone).then_some(OffsetCommitValue { offset, leader_epoch: epoch, metadata, commit_timestamp_ms: ts });
            let record = Record::OffsetCommit { group_id: group, topic, partition, value };
            let (key, value) = record.encode();
            prop_assert_eq!(Record::decode(&key, value.as_deref()), Some(record));
        }

        #[test]
        fn decode_never_panics(key in proptest::collection::vec(any::<u8>(), 0..40),
            value in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Record::decode(&key, Some(&value));
        }
    }
}
