//! Structural pre-check of a request body, run before `kafka-protocol` decodes it.
//!
//! Why it exists: kafka-protocol 0.18 sizes every array from the length on the wire before
//! reading a single element (`Vec::with_capacity(length)`), so a 22-byte Produce request
//! claiming `i32::MAX` topics makes it ask for ~200 GB and the process aborts, which no
//! `catch_unwind` can stop. This module walks the body by the request's schema at its
//! version, reading only lengths and skipping over values, and refuses the body when any
//! length cannot be true.
//!
//! Guarantee: a body that passes has, everywhere the schema has a string, bytes or array,
//! a length of at least -1 (and -1, null, only where the field is nullable at this version),
//! strings and bytes that fit in the bytes left, arrays of N elements with at least
//! N × (the smallest encoding of one element) bytes left, and well-formed tagged-field
//! sections in flexible versions. So the decoder never reserves more elements than the
//! frame has bytes. Bytes after the body are allowed, as the crate's decoder allows them.
//!
//! The schemas below were written from Kafka's protocol docs and the crate's generated
//! decoders (`src/messages/*_request.rs`), one table per API, and cover exactly the
//! versions in [`super::SUPPORTED`]: fields that only exist above a supported range are left
//! out, and `schemas_cover_exactly_the_supported_versions` fails when the two disagree.

use kafka_protocol::messages::ApiKey;

/// An inclusive range of versions.
#[derive(Debug, Clone, Copy)]
struct Versions {
    min: i16,
    max: i16,
}

impl Versions {
    const ALL: Versions = Versions::range(0, i16::MAX);
    const NONE: Versions = Versions::range(1, 0);

    const fn range(min: i16, max: i16) -> Versions {
        Versions { min, max }
    }

    const fn since(min: i16) -> Versions {
        Versions::range(min, i16::MAX)
    }

    fn contains(self, version: i16) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

/// How one value is laid out on the wire.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Uuid,
    /// An i16 length then UTF-8 bytes; compact: an unsigned varint of length + 1.
    String,
    /// An i32 length then raw bytes (Produce's records travel this way); compact: as String.
    Bytes,
    /// An i32 element count then the elements; compact: an unsigned varint of count + 1.
    Array(&'static Kind),
    /// The fields in order, then (flexible versions) a tagged-field section.
    Struct(&'static Fields),
}

/// A field of a struct: its name (for error messages), when it is on the wire and when it
/// may be null.
#[derive(Debug, Clone, Copy)]
struct Field {
    /// Kafka's name for the field, so an error names what was wrong.
    name: &'static str,
    /// The versions in which the field is on the wire at all.
    present: Versions,
    /// The versions in which a string, bytes or array field may be null (length -1).
    nullable: Versions,
    /// How the value is laid out.
    kind: Kind,
}

impl Field {
    const fn new(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            present: Versions::ALL,
            nullable: Versions::NONE,
            kind,
        }
    }

    const fn since(self, min: i16) -> Field {
        Field {
            present: Versions::range(min, self.present.max),
            ..self
        }
    }

    const fn until(self, max: i16) -> Field {
        Field {
            present: Versions::range(self.present.min, max),
            ..self
        }
    }

    const fn nullable_since(self, min: i16) -> Field {
        Field {
            nullable: Versions::since(min),
            ..self
        }
    }
}

/// A tagged field the crate decodes itself (rather than keeping its bytes), so its value
/// must fill its declared size exactly for the crate to stay in step.
#[derive(Debug, Clone, Copy)]
struct TaggedField {
    /// The tag number on the wire.
    tag: u32,
    /// The value inside the tagged field, with the versions in which the crate decodes it.
    field: Field,
}

/// The layout of a struct: its fields in order, and its known tagged fields.
#[derive(Debug, Clone, Copy)]
struct Fields {
    /// The fields in wire order.
    fields: &'static [Field],
    /// Tags the decoder reads as typed values; any other tag is skipped by its size.
    tagged: &'static [TaggedField],
}

impl Fields {
    const fn new(fields: &'static [Field]) -> Fields {
        Fields {
            fields,
            tagged: &[],
        }
    }
}

/// The request body of one API over the versions kafkasim supports.
#[derive(Debug)]
struct Schema {
    /// The API whose request body this is.
    api_key: ApiKey,
    /// Must equal the API's range in `SUPPORTED`.
    versions: Versions,
    /// Versions using compact lengths and tagged fields (KIP-482).
    flexible: Versions,
    /// The body's layout.
    body: Fields,
}

/// The request schemas, one per API, with Kafka's field names.
mod schemas {
    use super::Kind::*;
    use super::{Field, Fields, Schema, TaggedField, Versions};
    use kafka_protocol::messages::ApiKey;

    pub(super) const PRODUCE: Schema = Schema {
        api_key: ApiKey::Produce,
        versions: Versions::range(3, 9),
        flexible: Versions::since(9),
        body: Fields::new(&[
            Field::new("transactional_id", String).nullable_since(0),
            Field::new("acks", Int16),
            Field::new("timeout_ms", Int32),
            Field::new(
                "topic_data",
                Array(&Struct(&Fields::new(&[
                    Field::new("name", String),
                    Field::new(
                        "partition_data",
                        Array(&Struct(&Fields::new(&[
                            Field::new("index", Int32),
                            Field::new("records", Bytes).nullable_since(0),
                        ]))),
                    ),
                ]))),
            ),
        ]),
    };

    pub(super) const FETCH: Schema = Schema {
        api_key: ApiKey::Fetch,
        versions: Versions::range(4, 12),
        flexible: Versions::since(12),
        body: Fields {
            fields: &[
                Field::new("replica_id", Int32),
                Field::new("max_wait_ms", Int32),
                Field::new("min_bytes", Int32),
                Field::new("max_bytes", Int32),
                Field::new("isolation_level", Int8),
                Field::new("session_id", Int32).since(7),
                Field::new("session_epoch", Int32).since(7),
                Field::new(
                    "topics",
                    Array(&Struct(&Fields::new(&[
                        Field::new("topic", String),
                        Field::new(
                            "partitions",
                            Array(&Struct(&Fields::new(&[
                                Field::new("partition", Int32),
                                Field::new("current_leader_epoch", Int32).since(9),
                                Field::new("fetch_offset", Int64),
                                Field::new("last_fetched_epoch", Int32).since(12),
                                Field::new("log_start_offset", Int64).since(5),
                                Field::new("partition_max_bytes", Int32),
                            ]))),
                        ),
                    ]))),
                ),
                Field::new(
                    "forgotten_topics_data",
                    Array(&Struct(&Fields::new(&[
                        Field::new("topic", String),
                        Field::new("partitions", Array(&Int32)),
                    ]))),
                )
                .since(7),
                Field::new("rack_id", String).since(11),
            ],
            tagged: &[TaggedField {
                tag: 0,
                field: Field::new("cluster_id", String).nullable_since(12),
            }],
        },
    };

    pub(super) const LIST_OFFSETS: Schema = Schema {
        api_key: ApiKey::ListOffsets,
        versions: Versions::range(1, 6),
        flexible: Versions::since(6),
        body: Fields::new(&[
            Field::new("replica_id", Int32),
            Field::new("isolation_level", Int8).since(2),
            Field::new(
                "topics",
                Array(&Struct(&Fields::new(&[
                    Field::new("name", String),
                    Field::new(
                        "partitions",
                        Array(&Struct(&Fields::new(&[
                            Field::new("partition_index", Int32),
                            Field::new("current_leader_epoch", Int32).since(4),
                            Field::new("timestamp", Int64),
                        ]))),
                    ),
                ]))),
            ),
        ]),
    };

    pub(super) const METADATA: Schema = Schema {
        api_key: ApiKey::Metadata,
        versions: Versions::range(0, 12),
        flexible: Versions::since(9),
        body: Fields::new(&[
            Field::new(
                "topics",
                Array(&Struct(&Fields::new(&[
                    Field::new("topic_id", Uuid).since(10),
                    Field::new("name", String).nullable_since(10),
                ]))),
            )
            .nullable_since(1),
            Field::new("allow_auto_topic_creation", Boolean).since(4),
            Field::new("include_cluster_authorized_operations", Boolean)
                .since(8)
                .until(10),
            Field::new("include_topic_authorized_operations", Boolean).since(8),
        ]),
    };

    pub(super) const FIND_COORDINATOR: Schema = Schema {
        api_key: ApiKey::FindCoordinator,
        versions: Versions::range(0, 4),
        flexible: Versions::since(3),
        body: Fields::new(&[
            Field::new("key", String).until(3),
            Field::new("key_type", Int8).since(1),
            Field::new("coordinator_keys", Array(&String)).since(4),
        ]),
    };

    pub(super) const API_VERSIONS: Schema = Schema {
        api_key: ApiKey::ApiVersions,
        versions: Versions::range(0, 4),
        flexible: Versions::since(3),
        body: Fields::new(&[
            Field::new("client_software_name", String).since(3),
            Field::new("client_software_version", String).since(3),
        ]),
    };

    pub(super) const CREATE_TOPICS: Schema = Schema {
        api_key: ApiKey::CreateTopics,
        versions: Versions::range(2, 7),
        flexible: Versions::since(5),
        body: Fields::new(&[
            Field::new(
                "topics",
                Array(&Struct(&Fields::new(&[
                    Field::new("name", String),
                    Field::new("num_partitions", Int32),
                    Field::new("replication_factor", Int16),
                    Field::new(
                        "assignments",
                        Array(&Struct(&Fields::new(&[
                            Field::new("partition_index", Int32),
                            Field::new("broker_ids", Array(&Int32)),
                        ]))),
                    ),
                    Field::new(
                        "configs",
                        Array(&Struct(&Fields::new(&[
                            Field::new("name", String),
                            Field::new("value", String).nullable_since(0),
                        ]))),
                    ),
                ]))),
            ),
            Field::new("timeout_ms", Int32),
            Field::new("validate_only", Boolean),
        ]),
    };

    pub(super) const DELETE_TOPICS: Schema = Schema {
        api_key: ApiKey::DeleteTopics,
        versions: Versions::range(1, 5),
        flexible: Versions::since(4),
        body: Fields::new(&[
            Field::new("topic_names", Array(&String)),
            Field::new("timeout_ms", Int32),
        ]),
    };

    pub(super) const BROKER_REGISTRATION: Schema = Schema {
        api_key: ApiKey::BrokerRegistration,
        versions: Versions::range(0, 3),
        flexible: Versions::since(0),
        body: Fields::new(&[
            Field::new("broker_id", Int32),
            Field::new("cluster_id", String),
            Field::new("incarnation_id", Uuid),
            Field::new(
                "listeners",
                Array(&Struct(&Fields::new(&[
                    Field::new("name", String),
                    Field::new("host", String),
                    Field::new("port", Int16),
                    Field::new("security_protocol", Int16),
                ]))),
            ),
            Field::new(
                "features",
                Array(&Struct(&Fields::new(&[
                    Field::new("name", String),
                    Field::new("min_supported_version", Int16),
                    Field::new("max_supported_version", Int16),
                ]))),
            ),
            Field::new("rack", String).nullable_since(0),
            Field::new("is_migrating_zk_broker", Boolean).since(1),
            Field::new("log_dirs", Array(&Uuid)).since(2),
            Field::new("previous_broker_epoch", Int64).since(3),
        ]),
    };

    pub(super) const BROKER_HEARTBEAT: Schema = Schema {
        api_key: ApiKey::BrokerHeartbeat,
        versions: Versions::range(0, 0),
        flexible: Versions::since(0),
        body: Fields::new(&[
            Field::new("broker_id", Int32),
            Field::new("broker_epoch", Int64),
            Field::new("current_metadata_offset", Int64),
            Field::new("want_fence", Boolean),
            Field::new("want_shut_down", Boolean),
        ]),
    };

    pub(super) const ALTER_PARTITION: Schema = Schema {
        api_key: ApiKey::AlterPartition,
        versions: Versions::range(2, 2),
        flexible: Versions::since(0),
        body: Fields::new(&[
            Field::new("broker_id", Int32),
            Field::new("broker_epoch", Int64),
            Field::new(
                "topics",
                Array(&Struct(&Fields::new(&[
                    Field::new("topic_id", Uuid),
                    Field::new(
                        "partitions",
                        Array(&Struct(&Fields::new(&[
                            Field::new("partition_index", Int32),
                            Field::new("leader_epoch", Int32),
                            Field::new("new_isr", Array(&Int32)),
                            Field::new("leader_recovery_state", Int8),
                            Field::new("partition_epoch", Int32),
                        ]))),
                    ),
                ]))),
            ),
        ]),
    };

    /// The admin ElectLeaders call, as the controller serves it.
    pub(super) const ELECT_LEADERS: Schema = Schema {
        api_key: ApiKey::ElectLeaders,
        versions: Versions::range(2, 2),
        flexible: Versions::since(2),
        body: Fields::new(&[
            Field::new("election_type", Int8),
            Field::new(
                "topic_partitions",
                Array(&Struct(&Fields::new(&[
                    Field::new("topic", String),
                    Field::new("partitions", Array(&Int32)),
                ]))),
            )
            .nullable_since(0),
            Field::new("timeout_ms", Int32),
        ]),
    };

    /// The controller's own APIs (its Fetch of the metadata log uses `FETCH`).
    pub(super) const CONTROLLER_SCHEMAS: &[Schema] = &[
        BROKER_REGISTRATION,
        BROKER_HEARTBEAT,
        ALTER_PARTITION,
        ELECT_LEADERS,
    ];

    pub(super) const OFFSET_FOR_LEADER_EPOCH: Schema = Schema {
        api_key: ApiKey::OffsetForLeaderEpoch,
        versions: Versions::range(3, 4),
        flexible: Versions::since(4),
        body: Fields::new(&[
            Field::new("replica_id", Int32),
            Field::new(
                "topics",
                Array(&Struct(&Fields::new(&[
                    Field::new("topic", String),
                    Field::new(
                        "partitions",
                        Array(&Struct(&Fields::new(&[
                            Field::new("partition", Int32),
                            Field::new("current_leader_epoch", Int32),
                            Field::new("leader_epoch", Int32),
                        ]))),
                    ),
                ]))),
            ),
        ]),
    };

    /// One schema per API in `SUPPORTED`.
    pub(super) const SCHEMAS: &[Schema] = &[
        PRODUCE,
        FETCH,
        LIST_OFFSETS,
        METADATA,
        FIND_COORDINATOR,
        API_VERSIONS,
        CREATE_TOPICS,
        DELETE_TOPICS,
        OFFSET_FOR_LEADER_EPOCH,
    ];
}

/// Check the body of a request of `api_key` at `version` (the bytes after the header).
/// The error names the API, version and field, and why the body cannot be decoded safely.
pub fn check_request_body(api_key: ApiKey, version: i16, body: &[u8]) -> Result<(), String> {
    walk_body(api_key, version, body)
        .map(|_| ())
        .map_err(|error| format!("{api_key:?} v{version}: {error}"))
}

/// Walk a body; returns how many bytes it took. Fails closed for an API or version with
/// no schema.
fn walk_body(api_key: ApiKey, version: i16, body: &[u8]) -> Result<usize, String> {
    let schema = schemas::SCHEMAS
        .iter()
        .chain(schemas::CONTROLLER_SCHEMAS)
        .find(|schema| schema.api_key == api_key && schema.versions.contains(version))
        .ok_or("no schema for this version")?;
    let walk = Walk {
        version,
        flexible: schema.flexible.contains(version),
    };
    let mut reader = Reader { bytes: body };
    walk.check_struct(&mut reader, &schema.body)?;
    Ok(body.len() - reader.bytes.len())
}

/// The bytes not yet walked.
struct Reader<'a> {
    /// What is left of the body, from the next byte to read.
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, length: usize) -> Result<&'a [u8], String> {
        if length > self.bytes.len() {
            return Err(format!("needs {length} bytes, {} remain", self.bytes.len()));
        }
        let (taken, rest) = self.bytes.split_at(length);
        self.bytes = rest;
        Ok(taken)
    }

    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }

    /// An unsigned varint of at most five bytes whose value fits in a u32. The crate reads
    /// five bytes at most and drops higher bits; no valid encoder writes either, so both are
    /// refused here rather than guessed at.
    fn unsigned_varint(&mut self) -> Result<u32, String> {
        let mut value = 0u32;
        for index in 0..5 {
            let byte = self.take(1)?[0];
            if index == 4 && byte > 0x0f {
                return Err("unsigned varint does not fit in 32 bits".into());
            }
            value |= u32::from(byte & 0x7f) << (7 * index);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        unreachable!("the fifth byte is at most 0x0f, so it ends the varint")
    }
}

/// The width of a non-compact length prefix.
#[derive(Clone, Copy)]
enum LengthWidth {
    Int16,
    Int32,
}

/// Walking one request at one version.
struct Walk {
    /// The request's version, which picks the fields present and nullable.
    version: i16,
    /// Whether lengths are compact and structs end in a tagged-field section.
    flexible: bool,
}

impl Walk {
    fn check_struct(&self, reader: &mut Reader, schema: &Fields) -> Result<(), String> {
        for field in self.present_fields(schema) {
            self.check_field(reader, field)
                .map_err(|error| format!("{}: {error}", field.name))?;
        }
        if self.flexible {
            self.check_tagged_fields(reader, schema.tagged)
                .map_err(|error| format!("tagged fields: {error}"))?;
        }
        Ok(())
    }

    fn present_fields<'s>(&self, schema: &'s Fields) -> impl Iterator<Item = &'s Field> + 's {
        let version = self.version;
        schema
            .fields
            .iter()
            .filter(move |field| field.present.contains(version))
    }

    fn check_field(&self, reader: &mut Reader, field: &Field) -> Result<(), String> {
        self.check_value(reader, &field.kind, field.nullable.contains(self.version))
    }

    fn check_value(&self, reader: &mut Reader, kind: &Kind, nullable: bool) -> Result<(), String> {
        match kind {
            Kind::Boolean | Kind::Int8 => reader.take(1).map(drop),
            Kind::Int16 => reader.take(2).map(drop),
            Kind::Int32 => reader.take(4).map(drop),
            Kind::Int64 => reader.take(8).map(drop),
            Kind::Uuid => reader.take(16).map(drop),
            Kind::String => self.check_sized(reader, LengthWidth::Int16, nullable),
            Kind::Bytes => self.check_sized(reader, LengthWidth::Int32, nullable),
            Kind::Array(element) => self.check_array(reader, element, nullable),
            Kind::Struct(schema) => self.check_struct(reader, schema),
        }
    }

    /// A string or bytes: its length, then that many bytes.
    fn check_sized(
        &self,
        reader: &mut Reader,
        width: LengthWidth,
        nullable: bool,
    ) -> Result<(), String> {
        match self.length(reader, width, nullable)? {
            Some(length) => reader.take(length as usize).map(drop),
            None => Ok(()),
        }
    }

    /// An array: its count, a check that the count's smallest encoding fits in the bytes
    /// left (the decoder reserves the count before reading), then each element.
    fn check_array(
        &self,
        reader: &mut Reader,
        element: &Kind,
        nullable: bool,
    ) -> Result<(), String> {
        let Some(count) = self.length(reader, LengthWidth::Int32, nullable)? else {
            return Ok(());
        };
        let element_bytes_min = self.size_min(element).max(1) as u64;
        let remaining = reader.bytes.len() as u64;
        if u64::from(count) * element_bytes_min > remaining {
            return Err(format!(
                "array of {count} elements needs at least {element_bytes_min} bytes each, \
                 {remaining} remain"
            ));
        }
        for index in 0..count {
            self.check_value(reader, element, false)
                .map_err(|error| format!("[{index}]: {error}"))?;
        }
        Ok(())
    }

    /// A length prefix: `None` for null. Compact lengths (flexible versions) are an unsigned
    /// varint of length + 1, so 0 is null; others are signed and -1 is null.
    fn length(
        &self,
        reader: &mut Reader,
        width: LengthWidth,
        nullable: bool,
    ) -> Result<Option<u32>, String> {
        let length = if self.flexible {
            reader.unsigned_varint()?.checked_sub(1)
        } else {
            let length = match width {
                LengthWidth::Int16 => i32::from(reader.i16()?),
                LengthWidth::Int32 => reader.i32()?,
            };
            if length < -1 {
                return Err(format!("negative length {length}"));
            }
            u32::try_from(length).ok()
        };
        if length.is_none() && !nullable {
            return Err("null in a field that is not nullable at this version".into());
        }
        Ok(length)
    }

    /// The fewest bytes one value of `kind` can take at this version.
    fn size_min(&self, kind: &Kind) -> usize {
        let length_prefix = |width| match (self.flexible, width) {
            (true, _) => 1,
            (false, LengthWidth::Int16) => 2,
            (false, LengthWidth::Int32) => 4,
        };
        match kind {
            Kind::Boolean | Kind::Int8 => 1,
            Kind::Int16 => 2,
            Kind::Int32 => 4,
            Kind::Int64 => 8,
            Kind::Uuid => 16,
            Kind::String => length_prefix(LengthWidth::Int16),
            Kind::Bytes | Kind::Array(_) => length_prefix(LengthWidth::Int32),
            Kind::Struct(schema) => {
                let fields: usize = self
                    .present_fields(schema)
                    .map(|field| self.size_min(&field.kind))
                    .sum();
                // A flexible struct ends with at least a one-byte count of tagged fields.
                fields + usize::from(self.flexible)
            }
        }
    }

    /// A tagged-field section: a count, then per field a tag, a size and that many bytes.
    /// Tags the crate decodes as typed values must fill their size exactly, because the
    /// crate reads the value rather than the size; other tags are skipped by their size.
    fn check_tagged_fields(
        &self,
        reader: &mut Reader,
        known: &[TaggedField],
    ) -> Result<(), String> {
        let count = reader.unsigned_varint()?;
        // Each tagged field takes at least two bytes: its tag and its size.
        let remaining = reader.bytes.len() as u64;
        if u64::from(count) * 2 > remaining {
            return Err(format!("{count} tagged fields in {remaining} bytes"));
        }
        for _ in 0..count {
            let tag = reader.unsigned_varint()?;
            let size = reader.unsigned_varint()?;
            let value = reader
                .take(size as usize)
                .map_err(|error| format!("tag {tag}: {error}"))?;
            let field = known
                .iter()
                .find(|known| known.tag == tag && known.field.present.contains(self.version));
            if let Some(TaggedField { field, .. }) = field {
                let mut inner = Reader { bytes: value };
                self.check_field(&mut inner, field)
                    .map_err(|error| format!("{} (tag {tag}): {error}", field.name))?;
                if !inner.bytes.is_empty() {
                    return Err(format!(
                        "{} (tag {tag}) is {size} bytes but its value takes {}",
                        field.name,
                        size as usize - inner.bytes.len()
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{decode_request, encode_request, DecodeError, SUPPORTED};
    use bytes::{BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::{
        create_topics_request, fetch_request, list_offsets_request, metadata_request,
        produce_request, ApiVersionsRequest, BrokerId, CreateTopicsRequest, DeleteTopicsRequest,
        FetchRequest, FindCoordinatorRequest, ListOffsetsRequest, MetadataRequest, ProduceRequest,
        RequestHeader, RequestKind, TopicName, TransactionalId,
    };
    use kafka_protocol::protocol::StrBytes;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn controller_schemas_cover_exactly_the_controller_versions() {
        for (api_key, min, max) in crate::protocol::CONTROLLER_SUPPORTED {
            let schema = schemas::SCHEMAS
                .iter()
                .chain(schemas::CONTROLLER_SCHEMAS)
                .find(|schema| schema.api_key == *api_key && schema.versions.contains(*min))
                .unwrap_or_else(|| panic!("no schema for {api_key:?}"));
            assert!(schema.versions.contains(*max), "{api_key:?}");
            for version in *min..=*max {
                let flexible = api_key.request_header_version(version) >= 2;
                assert_eq!(
                    schema.flexible.contains(version),
                    flexible,
                    "{api_key:?} v{version}"
                );
            }
        }
    }

    #[test]
    fn controller_requests_with_impossible_lengths_are_refused() {
        // AlterPartition v2 claiming 2^31 topics in a 20-byte body.
        let mut body = vec![0, 0, 0, 1];
        body.extend_from_slice(&7i64.to_be_bytes());
        body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07, 0]);
        assert!(check_request_body(ApiKey::AlterPartition, 2, &body).is_err());
        // A well-formed heartbeat passes.
        let mut heartbeat = vec![0, 0, 0, 1];
        heartbeat.extend_from_slice(&7i64.to_be_bytes());
        heartbeat.extend_from_slice(&3i64.to_be_bytes());
        heartbeat.extend_from_slice(&[0, 0, 0]);
        assert_eq!(
            check_request_body(ApiKey::BrokerHeartbeat, 0, &heartbeat),
            Ok(())
        );
    }

    #[test]
    fn schemas_cover_exactly_the_supported_versions() {
        assert_eq!(schemas::SCHEMAS.len(), SUPPORTED.len());
        for (api_key, min, max) in SUPPORTED {
            let schema = schemas::SCHEMAS
                .iter()
                .find(|schema| schema.api_key == *api_key)
                .unwrap_or_else(|| panic!("no schema for {api_key:?}"));
            assert_eq!(
                (schema.versions.min, schema.versions.max),
                (*min, *max),
                "{api_key:?}"
            );
            for version in *min..=*max {
                // Flexible exactly where the crate's header is v2 (flexible) too.
                let flexible = api_key.request_header_version(version) >= 2;
                assert_eq!(
                    schema.flexible.contains(version),
                    flexible,
                    "{api_key:?} v{version}"
                );
            }
        }
    }

    /// A small deterministic generator (splitmix64) for random-ish valid requests.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn i32(&mut self) -> i32 {
            self.next() as i32
        }

        fn i64(&mut self) -> i64 {
            self.next() as i64
        }

        fn text(&mut self) -> StrBytes {
            let length = self.below(6);
            let text: std::string::String = (0..length)
                .map(|_| (b'a' + self.below(26) as u8) as char)
                .collect();
            StrBytes::from_string(text)
        }

        fn topic(&mut self) -> TopicName {
            TopicName(self.text())
        }

        /// `None` one time in four when `nullable`.
        fn maybe<T>(&mut self, nullable: bool, value: impl FnOnce(&mut Gen) -> T) -> Option<T> {
            (!nullable || self.below(4) != 0).then(|| value(self))
        }

        /// Zero to two elements.
        fn vec<T>(&mut self, mut element: impl FnMut(&mut Gen) -> T) -> Vec<T> {
            let length = self.below(3);
            (0..length).map(|_| element(self)).collect()
        }

        /// Unknown tagged fields (tags the crate does not know) in flexible versions.
        fn unknown_tags(&mut self, flexible: bool) -> BTreeMap<i32, Bytes> {
            if !flexible {
                return BTreeMap::new();
            }
            let tags = self.vec(|gen| {
                let tag = 100 + gen.below(1_000) as i32;
                let value: Vec<u8> = (0..gen.below(4)).map(|_| gen.next() as u8).collect();
                (tag, Bytes::from(value))
            });
            tags.into_iter().collect()
        }
    }

    fn produce(gen: &mut Gen, version: i16) -> RequestKind {
        let flexible = version >= 9;
        let mut request = ProduceRequest::default();
        request.transactional_id = gen.maybe(true, |gen| TransactionalId(gen.text()));
        request.acks = gen.next() as i16;
        request.timeout_ms = gen.i32();
        request.topic_data = gen.vec(|gen| {
            let mut topic = produce_request::TopicProduceData::default();
            topic.name = gen.topic();
            topic.partition_data = gen.vec(|gen| {
                let mut partition = produce_request::PartitionProduceData::default();
                partition.index = gen.i32();
                partition.records = gen.maybe(true, |gen| {
                    Bytes::from(
                        (0..gen.below(20))
                            .map(|_| gen.next() as u8)
                            .collect::<Vec<_>>(),
                    )
                });
                partition.unknown_tagged_fields = gen.unknown_tags(flexible);
                partition
            });
            topic.unknown_tagged_fields = gen.unknown_tags(flexible);
            topic
        });
        request.unknown_tagged_fields = gen.unknown_tags(flexible);
        request.into()
    }

    fn fetch(gen: &mut Gen, version: i16) -> RequestKind {
        let flexible = version >= 12;
        let mut request = FetchRequest::default();
        request.replica_id = BrokerId(-1);
        request.max_wait_ms = gen.i32();
        request.min_bytes = gen.i32();
        request.max_bytes = gen.i32();
        request.isolation_level = gen.below(2) as i8;
        if version >= 7 {
            request.session_id = gen.i32();
            request.session_epoch = gen.i32();
        }
        request.topics = gen.vec(|gen| {
            let mut topic = fetch_request::FetchTopic::default();
            topic.topic = gen.topic();
            topic.partitions = gen.vec(|gen| {
                let mut partition = fetch_request::FetchPartition::default();
                partition.partition = gen.i32();
                if version >= 9 {
                    partition.current_leader_epoch = gen.i32();
                }
                partition.fetch_offset = gen.i64();
                if version >= 12 {
                    partition.last_fetched_epoch = gen.i32();
                }
                if version >= 5 {
                    partition.log_start_offset = gen.i64();
                }
                partition.partition_max_bytes = gen.i32();
                partition.unknown_tagged_fields = gen.unknown_tags(flexible);
                partition
            });
            topic.unknown_tagged_fields = gen.unknown_tags(flexible);
            topic
        });
        if version >= 7 {
            request.forgotten_topics_data = gen.vec(|gen| {
                let mut topic = fetch_request::ForgottenTopic::default();
                topic.topic = gen.topic();
                topic.partitions = gen.vec(|gen| gen.i32());
                topic.unknown_tagged_fields = gen.unknown_tags(flexible);
                topic
            });
        }
        if version >= 11 {
            request.rack_id = gen.text();
        }
        if flexible {
            request.cluster_id = gen.maybe(true, |gen| gen.text());
        }
        request.unknown_tagged_fields = gen.unknown_tags(flexible);
        request.into()
    }

    fn list_offsets(gen: &mut Gen, version: i16) -> RequestKind {
        let flexible = version >= 6;
        let mut request = ListOffsetsRequest::default();
        request.replica_id = BrokerId(gen.i32());
        if version >= 2 {
            request.isolation_level = gen.below(2) as i8;
        }
        request.topics = gen.vec(|gen| {
            let mut topic = list_offsets_request::ListOffsetsTopic::default();
            topic.name = gen.topic();
            topic.partitions = gen.vec(|gen| {
                let mut partition = list_offsets_request::ListOffsetsPartition::default();
                partition.partition_index = gen.i32();
                if version >= 4 {
                    partition.current_leader_epoch = gen.i32();
                }
                partition.timestamp = gen.i64();
                partition.unknown_tagged_fields = gen.unknown_tags(flexible);
                partition
            });
            topic.unknown_tagged_fields = gen.unknown_tags(flexible);
            topic
        });
        request.unknown_tagged_fields = gen.unknown_tags(flexible);
        request.into()
    }

    fn metadata(gen: &mut Gen, version: i16) -> RequestKind {
        let flexible = version >= 9;
        let mut request = MetadataRequest::default();
        request.topics = gen.maybe(version >= 1, |gen| {
            gen.vec(|gen| {
                let mut topic = metadata_request::MetadataRequestTopic::default();
                topic.name = gen.maybe(version >= 10, |gen| gen.topic());
                topic.unknown_tagged_fields = gen.unknown_tags(flexible);
                topic
            })
        });
        if version >= 4 {
            request.allow_auto_topic_creation = gen.below(2) == 0;
        }
        if (8..=10).contains(&version) {
            request.include_cluster_authorized_operations = gen.below(2) == 0;
        }
        if version >= 8 {
            request.include_topic_authorized_operations = gen.below(2) == 0;
        }
        request.unknown_tagged_fields = gen.unknown_tags(flexible);
        request.into()
    }

    fn find_coordinator(gen: &mut Gen, version: i16) -> RequestKind {
        let mut request = FindCoordinatorRequest::default();
        if version <= 3 {
            request.key = gen.text();
        }
        if version >= 1 {
            request.key_type = gen.below(2) as i8;
        }
        if version >= 4 {
            request.coordinator_keys = gen.vec(|gen| gen.text());
        }
        request.unknown_tagged_fields = gen.unknown_tags(version >= 3);
        request.into()
    }

    fn api_versions(gen: &mut Gen, version: i16) -> RequestKind {
        let mut request = ApiVersionsRequest::default();
        if version >= 3 {
            request.client_software_name = gen.text();
            request.client_software_version = gen.text();
        }
        request.unknown_tagged_fields = gen.unknown_tags(version >= 3);
        request.into()
    }

    fn create_topics(gen: &mut Gen, version: i16) -> RequestKind {
        let flexible = version >= 5;
        let mut request = CreateTopicsRequest::default();
        request.topics = gen.vec(|gen| {
            let mut topic = create_topics_request::CreatableTopic::default();
            topic.name = gen.topic();
            topic.num_partitions = gen.i32();
            topic.replication_factor = gen.next() as i16;
            topic.assignments = gen.vec(|gen| {
                let mut assignment = create_topics_request::CreatableReplicaAssignment::default();
                assignment.partition_index = gen.i32();
                assignment.broker_ids = gen.vec(|gen| BrokerId(gen.i32()));
                assignment.unknown_tagged_fields = gen.unknown_tags(flexible);
                assignment
            });
            topic.configs = gen.vec(|gen| {
                let mut config = create_topics_request::CreatableTopicConfig::default();
                config.name = gen.text();
                config.value = gen.maybe(true, |gen| gen.text());
                config.unknown_tagged_fields = gen.unknown_tags(flexible);
                config
            });
            topic.unknown_tagged_fields = gen.unknown_tags(flexible);
            topic
        });
        request.timeout_ms = gen.i32();
        request.validate_only = gen.below(2) == 0;
        request.unknown_tagged_fields = gen.unknown_tags(flexible);
        request.into()
    }

    fn delete_topics(gen: &mut Gen, version: i16) -> RequestKind {
        let mut request = DeleteTopicsRequest::default();
        request.topic_names = gen.vec(|gen| gen.topic());
        request.timeout_ms = gen.i32();
        request.unknown_tagged_fields = gen.unknown_tags(version >= 4);
        request.into()
    }

    fn offset_for_leader_epoch(gen: &mut Gen, version: i16) -> RequestKind {
        use kafka_protocol::messages::offset_for_leader_epoch_request as epoch_request;
        let flexible = version >= 4;
        let mut request = epoch_request::OffsetForLeaderEpochRequest::default();
        request.replica_id = BrokerId(gen.i32());
        request.topics = gen.vec(|gen| {
            let mut topic = epoch_request::OffsetForLeaderTopic::default();
            topic.topic = gen.topic();
            topic.partitions = gen.vec(|gen| {
                let mut partition = epoch_request::OffsetForLeaderPartition::default();
                partition.partition = gen.i32();
                partition.current_leader_epoch = gen.i32();
                partition.leader_epoch = gen.i32();
                partition.unknown_tagged_fields = gen.unknown_tags(flexible);
                partition
            });
            topic.unknown_tagged_fields = gen.unknown_tags(flexible);
            topic
        });
        request.unknown_tagged_fields = gen.unknown_tags(flexible);
        request.into()
    }

    /// A random valid request of `api_key` at `version`, with every field the version has.
    fn valid_request(gen: &mut Gen, api_key: ApiKey, version: i16) -> RequestKind {
        match api_key {
            ApiKey::Produce => produce(gen, version),
            ApiKey::Fetch => fetch(gen, version),
            ApiKey::ListOffsets => list_offsets(gen, version),
            ApiKey::Metadata => metadata(gen, version),
            ApiKey::FindCoordinator => find_coordinator(gen, version),
            ApiKey::ApiVersions => api_versions(gen, version),
            ApiKey::CreateTopics => create_topics(gen, version),
            ApiKey::DeleteTopics => delete_topics(gen, version),
            ApiKey::OffsetForLeaderEpoch => offset_for_leader_epoch(gen, version),
            other => panic!("no generator for {other:?}"),
        }
    }

    fn encode_body(body: &RequestKind, version: i16) -> Vec<u8> {
        let mut buf = BytesMut::new();
        body.encode(&mut buf, version).expect("encode a valid body");
        buf.to_vec()
    }

    fn frame(api_key: ApiKey, version: i16, body: &RequestKind) -> Bytes {
        let mut header = RequestHeader::default();
        header.request_api_key = api_key as i16;
        header.request_api_version = version;
        header.correlation_id = 7;
        header.client_id = Some(StrBytes::from_static_str("validate"));
        encode_request(&header, body).expect("encode a valid request")
    }

    /// Every supported (api, version), in order.
    fn supported_versions() -> impl Iterator<Item = (ApiKey, i16)> {
        SUPPORTED
            .iter()
            .flat_map(|(api_key, min, max)| (*min..=*max).map(move |version| (*api_key, version)))
    }

    proptest! {
        /// A valid body walks to exactly its last byte (so each schema is the real layout,
        /// not merely a lenient one), and the whole frame decodes back to the same request.
        #[test]
        fn valid_requests_pass_and_round_trip(seed in any::<u64>()) {
            let mut gen = Gen(seed);
            for (api_key, version) in supported_versions() {
                let request = valid_request(&mut gen, api_key, version);
                let body = encode_body(&request, version);
                prop_assert_eq!(
                    walk_body(api_key, version, &body),
                    Ok(body.len()),
                    "{:?} v{} {:?}", api_key, version, request
                );
                let decoded = decode_request(frame(api_key, version, &request))
                    .unwrap_or_else(|e| panic!("{api_key:?} v{version}: {e}"));
                prop_assert_eq!(decoded.body, request, "{:?} v{}", api_key, version);
            }
        }

        /// Every valid body cut short is refused, and so is its frame.
        #[test]
        fn truncated_requests_are_refused(seed in any::<u64>()) {
            let mut gen = Gen(seed);
            for (api_key, version) in supported_versions() {
                let request = valid_request(&mut gen, api_key, version);
                let body = encode_body(&request, version);
                for length in 0..body.len() {
                    prop_assert!(
                        check_request_body(api_key, version, &body[..length]).is_err(),
                        "{:?} v{} cut to {} of {} bytes", api_key, version, length, body.len()
                    );
                }
                let frame = frame(api_key, version, &request);
                let header_length = frame.len() - body.len();
                for length in header_length..frame.len() {
                    prop_assert!(
                        matches!(
                            decode_request(frame.slice(..length)),
                            Err(DecodeError::Malformed(_))
                        ),
                        "{:?} v{} frame cut to {}", api_key, version, length
                    );
                }
            }
        }
    }

    proptest! {
        /// Valid requests of every api and version with a few bytes overwritten by anything:
        /// whatever `decode_request` makes of them, it returns (an abort would end the run).
        #[test]
        fn damaged_requests_never_abort(
            seed in any::<u64>(),
            pick in any::<usize>(),
            damage in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let (api_key, version) = supported_versions().nth(pick % supported_versions().count()).unwrap();
            let request = valid_request(&mut Gen(seed), api_key, version);
            let mut frame = frame(api_key, version, &request).to_vec();
            for (position, byte) in damage {
                let at = position % frame.len();
                frame[at] = byte;
            }
            let _ = decode_request(Bytes::from(frame));
        }
    }

    fn refusal(api_key: ApiKey, version: i16, body: &[u8]) -> std::string::String {
        match check_request_body(api_key, version, body) {
            Err(error) => error,
            Ok(()) => panic!("{api_key:?} v{version} {body:02x?} passed"),
        }
    }

    #[test]
    fn huge_array_counts_are_refused() {
        // Produce v8: null transactional id, acks, timeout, then i32::MAX topics.
        let mut body = vec![0xff, 0xff, 0, 1, 0, 0, 0, 100];
        body.extend_from_slice(&i32::MAX.to_be_bytes());
        let error = refusal(ApiKey::Produce, 8, &body);
        assert!(error.contains("topic_data"), "{error}");
        // Produce v9, compact: varint u32::MAX, i.e. u32::MAX - 1 topics.
        let mut body = vec![0, 0, 1, 0, 0, 0, 100];
        body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
        refusal(ApiKey::Produce, 9, &body);
        // DeleteTopics v1: 3 names need at least 6 bytes; 5 remain.
        let mut body = 3i32.to_be_bytes().to_vec();
        body.extend_from_slice(&[0, 0, 0, 0, 0]);
        let error = refusal(ApiKey::DeleteTopics, 1, &body);
        assert!(error.contains("needs at least 2 bytes each"), "{error}");
        // A nested array: one Fetch v4 topic ("t") claiming 2^20 partitions.
        let mut body = BytesMut::new();
        body.put_slice(&[0; 17]); // replica id .. isolation level
        body.put_i32(1);
        body.put_i16(1);
        body.put_u8(b't');
        body.put_i32(1 << 20);
        body.put_slice(&[0; 64]);
        let error = refusal(ApiKey::Fetch, 4, &body);
        assert!(error.contains("topics: [0]: partitions"), "{error}");
    }

    #[test]
    fn nulls_are_refused_where_not_nullable() {
        // Metadata: a null topic list means "all topics" from v1; v0 has no null.
        let all_topics = (-1i32).to_be_bytes();
        assert_eq!(check_request_body(ApiKey::Metadata, 1, &all_topics), Ok(()));
        refusal(ApiKey::Metadata, 0, &all_topics);
        // Lengths below -1 are never valid.
        refusal(ApiKey::Metadata, 1, &(-2i32).to_be_bytes());
        // Produce v3 with a null topic_data.
        let mut body = vec![0xff, 0xff, 0, 1, 0, 0, 0, 100];
        body.extend_from_slice(&(-1i32).to_be_bytes());
        let error = refusal(ApiKey::Produce, 3, &body);
        assert!(error.contains("not nullable"), "{error}");
        // A DeleteTopics v4 topic name that is null (compact length 0).
        let error = refusal(ApiKey::DeleteTopics, 4, &[2, 0, 0, 0, 0, 0, 0]);
        assert!(error.contains("topic_names: [0]"), "{error}");
    }

    /// ApiVersions v3 with two empty strings, then `tagged`.
    fn api_versions_v3(tagged: &[u8]) -> Vec<u8> {
        let mut body = vec![1, 1];
        body.extend_from_slice(tagged);
        body
    }

    #[test]
    fn tagged_field_sections_must_be_well_formed() {
        let check = |body: &[u8]| check_request_body(ApiKey::ApiVersions, 3, body);
        // One unknown tag of three bytes is skipped by its size.
        assert_eq!(check(&api_versions_v3(&[1, 7, 3, 9, 9, 9])), Ok(()));
        // Its size runs past the body.
        assert!(check(&api_versions_v3(&[1, 7, 4, 9, 9, 9])).is_err());
        // More tagged fields than the bytes left could hold.
        assert!(check(&api_versions_v3(&[0xff, 0xff, 0xff, 0xff, 0x0f])).is_err());
        // A varint of six bytes, and one overflowing 32 bits.
        assert!(check(&api_versions_v3(&[0x80, 0x80, 0x80, 0x80, 0x80, 0])).is_err());
        assert!(check(&api_versions_v3(&[0x80, 0x80, 0x80, 0x80, 0x10])).is_err());
        // The section is missing altogether.
        assert!(check(&api_versions_v3(&[])).is_err());
    }

    /// Fetch v12 with no topics, then a tagged section holding cluster_id (tag 0), whose
    /// declared size is `size` and whose value is a compact string of `text`.
    fn fetch_v12_with_cluster_id(size: u8, text: &[u8]) -> Vec<u8> {
        let mut body = vec![0; 25]; // replica id .. session epoch
        body.extend_from_slice(&[1, 1, 1]); // no topics, no forgotten topics, empty rack id
        body.extend_from_slice(&[1, 0, size, text.len() as u8 + 1]);
        body.extend_from_slice(text);
        body
    }

    #[test]
    fn known_tagged_fields_must_fill_their_size() {
        let check = |body: &[u8]| check_request_body(ApiKey::Fetch, 12, body);
        assert_eq!(check(&fetch_v12_with_cluster_id(3, b"ab")), Ok(()));
        // The crate reads the string, not the size: a mismatch would desynchronise it.
        assert!(check(&fetch_v12_with_cluster_id(2, b"ab")).is_err());
        let mut longer = fetch_v12_with_cluster_id(4, b"ab");
        longer.push(0);
        assert!(check(&longer).is_err());
        // A cluster id claiming more bytes than its tagged field holds.
        assert!(check(&fetch_v12_with_cluster_id(1, &[])).is_ok());
        let mut lying = fetch_v12_with_cluster_id(1, &[]);
        *lying.last_mut().unwrap() = 0x7f;
        assert!(check(&lying).is_err());
    }
}
