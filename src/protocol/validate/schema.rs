//! The schema language: how a request body is described — its fields in wire order, the
//! versions each is present and nullable in, and how each value is laid out. Plain constants;
//! the walker (`walk.rs`) reads them.

use kafka_protocol::messages::ApiKey;

/// An inclusive range of versions.
#[derive(Debug, Clone, Copy)]
pub(super) struct Versions {
    pub(super) min: i16,
    pub(super) max: i16,
}

impl Versions {
    pub(super) const ALL: Versions = Versions::range(0, i16::MAX);
    pub(super) const NONE: Versions = Versions::range(1, 0);

    pub(super) const fn range(min: i16, max: i16) -> Versions {
        Versions { min, max }
    }

    pub(super) const fn since(min: i16) -> Versions {
        Versions::range(min, i16::MAX)
    }

    pub(super) fn contains(self, version: i16) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

/// How one value is laid out on the wire.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
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
pub(super) struct Field {
    /// Kafka's name for the field, so an error names what was wrong.
    pub(super) name: &'static str,
    /// The versions in which the field is on the wire at all.
    pub(super) present: Versions,
    /// The versions in which a string, bytes or array field may be null (length -1).
    pub(super) nullable: Versions,
    /// How the value is laid out.
    pub(super) kind: Kind,
}

impl Field {
    pub(super) const fn new(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            present: Versions::ALL,
            nullable: Versions::NONE,
            kind,
        }
    }

    pub(super) const fn since(self, min: i16) -> Field {
        Field {
            present: Versions::range(min, self.present.max),
            ..self
        }
    }

    pub(super) const fn until(self, max: i16) -> Field {
        Field {
            present: Versions::range(self.present.min, max),
            ..self
        }
    }

    pub(super) const fn nullable_since(self, min: i16) -> Field {
        Field {
            nullable: Versions::since(min),
            ..self
        }
    }
}

/// A tagged field the crate decodes itself (rather than keeping its bytes), so its value
/// must fill its declared size exactly for the crate to stay in step.
#[derive(Debug, Clone, Copy)]
pub(super) struct TaggedField {
    /// The tag number on the wire.
    pub(super) tag: u32,
    /// The value inside the tagged field, with the versions in which the crate decodes it.
    pub(super) field: Field,
}

/// The layout of a struct: its fields in order, and its known tagged fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    /// The fields in wire order.
    pub(super) fields: &'static [Field],
    /// Tags the decoder reads as typed values; any other tag is skipped by its size.
    pub(super) tagged: &'static [TaggedField],
}

impl Fields {
    pub(super) const fn new(fields: &'static [Field]) -> Fields {
        Fields {
            fields,
            tagged: &[],
        }
    }
}

/// The request body of one API over the versions kafkasim supports.
#[derive(Debug)]
pub(super) struct Schema {
    /// The API whose request body this is.
    pub(super) api_key: ApiKey,
    /// Must equal the API's range in `SUPPORTED`.
    pub(super) versions: Versions,
    /// Versions using compact lengths and tagged fields (KIP-482).
    pub(super) flexible: Versions,
    /// The body's layout.
    pub(super) body: Fields,
}
