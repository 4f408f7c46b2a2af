//! Kafka's consumer protocol bytes: the subscription a member puts in its JoinGroup metadata
//! and the assignment the leader returns through SyncGroup (Kafka's
//! `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment`, versions 0–3, classic
//! non-flexible encoding, big-endian).
//!
//! ```text
//! subscription: version i16 | topics [string] | user_data nullable bytes
//!               | owned_partitions [topic string, partitions [i32]]   (v1+)
//!               | generation_id i32                                    (v2+, default -1)
//!               | rack_id nullable string                              (v3+)
//! assignment:   version i16 | assigned_partitions [topic string, partitions [i32]]
//!               | user_data nullable bytes
//! ```
//! (strings: i16 length + UTF-8; bytes and arrays: i32 length, -1 for null.)
//!
//! Also the assignors' own user data: the eager `sticky` assignor's previous assignment
//! (`[topic string, partitions [i32]]` then, in its V1 schema, `generation i32`) and the
//! `cooperative-sticky` assignor's `generation i32`.
//!
//! As Kafka does, a version above 3 is read with the version-3 layout (later versions may only
//! append fields) and bytes after the last known field are ignored; a negative version is
//! rejected. Fields a lower version lacks are left out when encoding (they are "ignorable" in
//! Kafka's schema) and take their defaults when decoding. A peer's malformed bytes are an
//! [`ConsumerProtocolError`], never a panic, and a corrupt length cannot make the reader
//! allocate more than the input holds (arrays grow one decoded element at a time).

use std::collections::BTreeMap;

/// The highest subscription and assignment version this code knows.
pub const CONSUMER_PROTOCOL_VERSION_MAX: i16 = 3;

/// The JoinGroup `protocol_type` of groups using this protocol.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// "No generation": what a member that never joined (or a pre-v2 subscription) reports.
pub const GENERATION_ID_DEFAULT: i32 = -1;

/// A member's subscription as carried in JoinGroup metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Topics the member subscribes to (Kafka writes them sorted).
    pub topics: Vec<String>,
    /// The assignor's own bytes (e.g. the eager sticky assignor's previous assignment).
    pub user_data: Option<Vec<u8>>,
    /// Partitions the member owns now (v1+), so cooperative assignors can keep them.
    pub owned_partitions: Vec<(String, i32)>,
    /// The generation in which `owned_partitions` were assigned (v2+; -1 when unknown).
    pub generation_id: i32,
    /// The member's `client.rack` (v3+), for rack-aware assignment.
    pub rack_id: Option<String>,
}

/// A member's assignment as carried in a SyncGroup response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The partitions the member now owns, in the order the leader listed them.
    pub partitions: Vec<(String, i32)>,
    /// The assignor's own bytes.
    pub user_data: Option<Vec<u8>>,
}

/// Why consumer protocol bytes could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsumerProtocolError {
    /// The bytes end before the field does.
    #[error("consumer protocol {what}: buffer underflow reading {field}")]
    Underflow {
        /// "subscription" or "assignment".
        what: &'static str,
        /// The field being read.
        field: &'static str,
    },
    /// The version prefix is negative.
    #[error("unsupported consumer protocol {what} version {version}")]
    UnsupportedVersion {
        /// "subscription" or "assignment".
        what: &'static str,
        /// The version found.
        version: i16,
    },
    /// A length is negative where null is not allowed, or below -1.
    #[error("consumer protocol {what}: invalid length {length} for {field}")]
    InvalidLength {
        /// "subscription" or "assignment".
        what: &'static str,
        /// The field being read.
        field: &'static str,
        /// The length found.
        length: i32,
    },
    /// A string is not UTF-8.
    #[error("consumer protocol {what}: {field} is not valid UTF-8")]
    InvalidUtf8 {
        /// "subscription" or "assignment".
        what: &'static str,
        /// The field being read.
        field: &'static str,
    },
}

/// Encodes a subscription at `version` (0..=3), grouping owned partitions by topic in
/// (topic, partition) order as Kafka's `ConsumerProtocol.serializeSubscription` does.
pub fn encode_subscription(subscription: &Subscription, version: i16) -> Vec<u8> {
    assert!(
        (0..=CONSUMER_PROTOCOL_VERSION_MAX).contains(&version),
        "version {version}"
    );
    let mut out = Vec::new();
    out.extend_from_slice(&version.to_be_bytes());
    let mut topics = subscription.topics.clone();
    topics.sort();
    put_array_len(&mut out, topics.len());
    for topic in &topics {
        put_string(&mut out, topic);
    }
    put_nullable_bytes(&mut out, subscription.user_data.as_deref());
    if version >= 1 {
        let mut owned = subscription.owned_partitions.clone();
        owned.sort();
        put_topic_partitions(&mut out, &group_by_topic_sorted(&owned));
    }
    if version >= 2 {
        out.extend_from_slice(&subscription.generation_id.to_be_bytes());
    }
    if version >= 3 {
        match &subscription.rack_id {
            Some(rack) => put_string(&mut out, rack),
            None => out.extend_from_slice(&(-1i16).to_be_bytes()),
        }
    }
    out
}

/// Decodes a subscription; returns it with the version found in the prefix.
pub fn decode_subscription(bytes: &[u8]) -> Result<(Subscription, i16), ConsumerProtocolError> {
    let mut reader = Reader {
        bytes,
        position: 0,
        what: "subscription",
    };
    let version = reader.version()?;
    let layout = version.min(CONSUMER_PROTOCOL_VERSION_MAX);
    let mut subscription = Subscription {
        generation_id: GENERATION_ID_DEFAULT,
        ..Subscription::default()
    };
    let topic_count = reader.array_len("topics")?;
    for _ in 0..topic_count {
        subscription.topics.push(reader.string("topics")?);
    }
    subscription.user_data = reader.nullable_bytes("user_data")?;
    if layout >= 1 {
        subscription.owned_partitions = reader.topic_partitions("owned_partitions")?;
    }
    if layout >= 2 {
        subscription.generation_id = reader.i32("generation_id")?;
    }
    if layout >= 3 {
        subscription.rack_id = reader.nullable_string("rack_id")?;
    }
    Ok((subscription, version))
}

/// Encodes an assignment at `version` (0..=3; all versions share one layout). Partitions are
/// grouped by topic in order of each topic's first appearance, as Kafka does.
pub fn encode_assignment(assignment: &Assignment, version: i16) -> Vec<u8> {
    assert!(
        (0..=CONSUMER_PROTOCOL_VERSION_MAX).contains(&version),
        "version {version}"
    );
    let mut out = Vec::new();
    out.extend_from_slice(&version.to_be_bytes());
    put_topic_partitions(&mut out, &group_by_topic_first_seen(&assignment.partitions));
    put_nullable_bytes(&mut out, assignment.user_data.as_deref());
    out
}

/// Decodes an assignment; returns it with the version found in the prefix.
pub fn decode_assignment(bytes: &[u8]) -> Result<(Assignment, i16), ConsumerProtocolError> {
    let mut reader = Reader {
        bytes,
        position: 0,
        what: "assignment",
    };
    let version = reader.version()?;
    let partitions = reader.topic_partitions("assigned_partitions")?;
    let user_data = reader.nullable_bytes("user_data")?;
    Ok((
        Assignment {
            partitions,
            user_data,
        },
        version,
    ))
}

/// The eager `sticky` assignor's user data: the member's previous partitions and, in the V1
/// schema, the generation they were assigned in.
pub type StickyUserData = (Vec<(String, i32)>, Option<i32>);

/// Encodes the eager `sticky` assignor's user data (Kafka's `STICKY_ASSIGNOR_USER_DATA_V1`):
/// the member's partitions grouped by topic, topics and partitions sorted, then the generation.
pub fn encode_sticky_user_data(partitions: &[(String, i32)], generation: i32) -> Vec<u8> {
    let mut sorted = partitions.to_vec();
    sorted.sort();
    let mut out = Vec::new();
    put_topic_partitions(&mut out, &group_by_topic_sorted(&sorted));
    out.extend_from_slice(&generation.to_be_bytes());
    out
}

/// Decodes the `sticky` assignor's user data: the V1 schema (partitions and generation), else
/// the V0 schema (partitions only, generation `None`), as Kafka's `StickyAssignor` falls back.
pub fn decode_sticky_user_data(bytes: &[u8]) -> Result<StickyUserData, ConsumerProtocolError> {
    let mut reader = Reader {
        bytes,
        position: 0,
        what: "sticky user data",
    };
    let partitions = reader.topic_partitions("previous_assignment")?;
    let generation = reader.i32("generation").ok();
    Ok((partitions, generation))
}

/// Encodes the `cooperative-sticky` assignor's user data: the generation alone.
pub fn encode_cooperative_user_data(generation: i32) -> Vec<u8> {
    generation.to_be_bytes().to_vec()
}

/// Decodes the `cooperative-sticky` assignor's user data: the generation.
pub fn decode_cooperative_user_data(bytes: &[u8]) -> Result<i32, ConsumerProtocolError> {
    Reader {
        bytes,
        position: 0,
        what: "cooperative-sticky user data",
    }
    .i32("generation")
}

/// Groups sorted (topic, partition) pairs into one entry per topic, topics in order.
fn group_by_topic_sorted(partitions: &[(String, i32)]) -> Vec<(String, Vec<i32>)> {
    let mut grouped: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        grouped.entry(topic).or_default().push(*partition);
    }
    grouped
        .into_iter()
        .map(|(topic, list)| (topic.to_string(), list))
        .collect()
}

/// Groups (topic, partition) pairs into one entry per topic, topics in first-seen order.
fn group_by_topic_first_seen(partitions: &[(String, i32)]) -> Vec<(String, Vec<i32>)> {
    let mut grouped: Vec<(String, Vec<i32>)> = Vec::new();
    for (topic, partition) in partitions {
        match grouped.iter_mut().find(|(seen, _)| seen == topic) {
            Some((_, list)) => list.push(*partition),
            None => grouped.push((topic.clone(), vec![*partition])),
        }
    }
    grouped
}

fn put_array_len(out: &mut Vec<u8>, len: usize) {
    let len = i32::try_from(len).expect("array longer than i32::MAX");
    out.extend_from_slice(&len.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    let len = i16::try_from(text.len()).expect("string longer than i16::MAX bytes");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn put_nullable_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => {
            put_array_len(out, bytes.len());
            out.extend_from_slice(bytes);
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

fn put_topic_partitions(out: &mut Vec<u8>, grouped: &[(String, Vec<i32>)]) {
    put_array_len(out, grouped.len());
    for (topic, partitions) in grouped {
        put_string(out, topic);
        put_array_len(out, partitions.len());
        for partition in partitions {
            out.extend_from_slice(&partition.to_be_bytes());
        }
    }
}

/// A cursor over a peer's bytes; every read checks the remaining length first.
struct Reader<'a> {
    /// The whole message.
    bytes: &'a [u8],
    /// Next byte to read.
    position: usize,
    /// "subscription" or "assignment", for errors.
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], ConsumerProtocolError> {
        let remaining = self.bytes.len() - self.position;
        if len > remaining {
            return Err(ConsumerProtocolError::Underflow {
                what: self.what,
                field,
            });
        }
        let slice = &self.bytes[self.position..self.position + len];
        self.position += len;
        Ok(slice)
    }

    fn i16(&mut self, field: &'static str) -> Result<i16, ConsumerProtocolError> {
        let raw = self.take(2, field)?;
        Ok(i16::from_be_bytes([raw[0], raw[1]]))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, ConsumerProtocolError> {
        let raw = self.take(4, field)?;
        Ok(i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))
    }

    fn version(&mut self) -> Result<i16, ConsumerProtocolError> {
        let version = self.i16("version")?;
        if version < 0 {
            return Err(ConsumerProtocolError::UnsupportedVersion {
                what: self.what,
                version,
            });
        }
        Ok(version)
    }

    /// A non-nullable array's length.
    fn array_len(&mut self, field: &'static str) -> Result<usize, ConsumerProtocolError> {
        let length = self.i32(field)?;
        usize::try_from(length).map_err(|_| self.invalid(field, length))
    }

    fn invalid(&self, field: &'static str, length: i32) -> ConsumerProtocolError {
        ConsumerProtocolError::InvalidLength {
            what: self.what,
            field,
            length,
        }
    }

    fn utf8(&self, raw: &[u8], field: &'static str) -> Result<String, ConsumerProtocolError> {
        String::from_utf8(raw.to_vec()).map_err(|_| ConsumerProtocolError::InvalidUtf8 {
            what: self.what,
            field,
        })
    }

    fn string(&mut self, field: &'static str) -> Result<String, ConsumerProtocolError> {
        let length = self.i16(field)?;
        let length = usize::try_from(length).map_err(|_| self.invalid(field, length.into()))?;
        let raw = self.take(length, field)?;
        self.utf8(raw, field)
    }

    fn nullable_string(
        &mut self,
        field: &'static str,
    ) -> Result<Option<String>, ConsumerProtocolError> {
        let length = self.i16(field)?;
        if length == -1 {
            return Ok(None);
        }
        let length = usize::try_from(length).map_err(|_| self.invalid(field, length.into()))?;
        let raw = self.take(length, field)?;
        self.utf8(raw, field).map(Some)
    }

    fn nullable_bytes(
        &mut self,
        field: &'static str,
    ) -> Result<Option<Vec<u8>>, ConsumerProtocolError> {
        let length = self.i32(field)?;
        if length == -1 {
            return Ok(None);
        }
        let length = usize::try_from(length).map_err(|_| self.invalid(field, length))?;
        Ok(Some(self.take(length, field)?.to_vec()))
    }

    /// `[topic string, partitions [i32]]`, flattened to (topic, partition) pairs in order.
    fn topic_partitions(
        &mut self,
        field: &'static str,
    ) -> Result<Vec<(String, i32)>, ConsumerProtocolError> {
        let topic_count = self.array_len(field)?;
        let mut pairs = Vec::new();
        for _ in 0..topic_count {
            let topic = self.string(field)?;
            let partition_count = self.array_len(field)?;
            for _ in 0..partition_count {
                pairs.push((topic.clone(), self.i32(field)?));
            }
        }
        Ok(pairs)
    }
}

#[cfg(test)]
mod tests;
