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
//! The schemas (in `schemas/`) were written from Kafka's protocol docs and the crate's
//! generated decoders (`src/messages/*_request.rs`), one table per API, and cover exactly the
//! versions in [`super::SUPPORTED`]: fields that only exist above a supported range are left
//! out, and `schemas_cover_exactly_the_supported_versions` fails when the two disagree.
//!
//! Layout: `schema.rs` is the schema language, `walk.rs` the walker (the generic part), and
//! `schemas/` holds one file per API.

mod schema;
mod schemas;
mod walk;

use kafka_protocol::messages::ApiKey;

use walk::{Reader, Walk};

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

#[cfg(test)]
mod tests;
