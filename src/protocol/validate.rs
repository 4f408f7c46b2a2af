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
    tag: u32,
    field: Field,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
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
    api_key: ApiKey,
    /// Must equal the API's range in `SUPPORTED`.
    versions: Versions,
    /// Versions using compact lengths and tagged fields (KIP-482).
    flexible: Versions,
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
    version: i16,
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
