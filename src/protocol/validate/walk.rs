//! The walker: checks a body against a [`Schema`](super::schema::Schema) at one version,
//! reading only lengths and skipping over values (the generic part of the validation; the
//! module doc of [`super`] says what a body that passes guarantees).

use super::schema::{Field, Fields, Kind, TaggedField};

/// The bytes not yet walked.
pub(super) struct Reader<'a> {
    /// What is left of the body, from the next byte to read.
    pub(super) bytes: &'a [u8],
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
pub(super) enum LengthWidth {
    Int16,
    Int32,
}

/// Walking one request at one version.
pub(super) struct Walk {
    /// The request's version, which picks the fields present and nullable.
    pub(super) version: i16,
    /// Whether lengths are compact and structs end in a tagged-field section.
    pub(super) flexible: bool,
}

impl Walk {
    pub(super) fn check_struct(&self, reader: &mut Reader, schema: &Fields) -> Result<(), String> {
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
