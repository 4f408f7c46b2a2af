//! Test helpers: encode valid, uncompressed RecordBatch v2 bytes by hand.
//!
//! Public (not `cfg(test)`) so that the simulation crate's tests can build batches too. The
//! encoding follows Kafka's v2 format exactly, so the same bytes are accepted by real clients;
//! the producer fields are "no producer" (-1) unless a test sets them.

use super::batch;

/// One record to encode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRecord {
    /// Record key; `None` is a null key.
    pub key: Option<Vec<u8>>,
    /// Record value; `None` is a null value (a tombstone).
    pub value: Option<Vec<u8>>,
    /// Milliseconds after the batch's base timestamp.
    pub timestamp_delta: i64,
}

impl TestRecord {
    /// A record with a value, no key, at the batch's base timestamp.
    pub fn value(value: &[u8]) -> Self {
        TestRecord {
            key: None,
            value: Some(value.to_vec()),
            timestamp_delta: 0,
        }
    }

    /// A keyed record at the batch's base timestamp; a `None` value is a tombstone.
    pub fn keyed(key: &[u8], value: Option<&[u8]>) -> Self {
        TestRecord {
            key: Some(key.to_vec()),
            value: value.map(<[u8]>::to_vec),
            timestamp_delta: 0,
        }
    }
}

fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    loop {
        let byte = (zigzag & 0x7f) as u8;
        zigzag >>= 7;
        if zigzag == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &Option<Vec<u8>>) {
    match bytes {
        None => put_varlong(out, -1),
        Some(bytes) => {
            put_varlong(out, bytes.len() as i64);
            out.extend_from_slice(bytes);
        }
    }
}

fn encode_record(offset_delta: i32, record: &TestRecord) -> Vec<u8> {
    let mut body = vec![0u8]; // attributes
    put_varlong(&mut body, record.timestamp_delta);
    put_varlong(&mut body, offset_delta as i64);
    put_bytes(&mut body, &record.key);
    put_bytes(&mut body, &record.value);
    put_varlong(&mut body, 0); // no headers
    let mut out = Vec::with_capacity(body.len() + 5);
    put_varlong(&mut out, body.len() as i64);
    out.extend(body);
    out
}

/// Encode one uncompressed batch with no producer id. `records` must not be empty.
pub fn encode_batch(
    base_offset: i64,
    leader_epoch: i32,
    base_timestamp: i64,
    records: &[TestRecord],
) -> Vec<u8> {
    encode_batch_with_producer(
        base_offset,
        leader_epoch,
        base_timestamp,
        records,
        -1,
        -1,
        -1,
    )
}

/// Encode one uncompressed batch with the given idempotent producer fields.
pub fn encode_batch_with_producer(
    base_offset: i64,
    leader_epoch: i32,
    base_timestamp: i64,
    records: &[TestRecord],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Vec<u8> {
    assert!(!records.is_empty(), "a batch holds at least one record");
    let max_timestamp =
        base_timestamp + records.iter().map(|r| r.timestamp_delta).max().unwrap_or(0);
    let mut out = Vec::new();
    out.extend_from_slice(&base_offset.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // batchLength, patched below
    out.extend_from_slice(&leader_epoch.to_be_bytes());
    out.push(batch::MAGIC_V2 as u8);
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, patched below
    out.extend_from_slice(&0i16.to_be_bytes()); // attributes: no compression, CreateTime
    out.extend_from_slice(&(records.len() as i32 - 1).to_be_bytes());
    out.extend_from_slice(&base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&producer_id.to_be_bytes());
    out.extend_from_slice(&producer_epoch.to_be_bytes());
    out.extend_from_slice(&base_sequence.to_be_bytes());
    out.extend_from_slice(&(records.len() as i32).to_be_bytes());
    for (i, record) in records.iter().enumerate() {
        out.extend(encode_record(i as i32, record));
    }
    let batch_length = (out.len() - batch::LOG_OVERHEAD) as i32;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    let crc = batch::compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

fn get_varlong(bytes: &[u8], at: &mut usize) -> i64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn get_bytes(bytes: &[u8], at: &mut usize) -> Option<Vec<u8>> {
    let len = get_varlong(bytes, at);
    if len < 0 {
        return None;
    }
    let out = bytes[*at..*at + len as usize].to_vec();
    *at += len as usize;
    Some(out)
}

/// Decode the records of one uncompressed batch produced by [`encode_batch`] (panics on bytes
/// it does not understand: a test helper, not a parser for peers' bytes).
pub fn decode_records(bytes: &[u8]) -> Vec<TestRecord> {
    let header = batch::validate(bytes).expect("valid batch");
    let mut at = batch::HEADER_LEN;
    let mut records = Vec::new();
    for _ in 0..header.record_count {
        let _len = get_varlong(bytes, &mut at);
        at += 1; // attributes
        let timestamp_delta = get_varlong(bytes, &mut at);
        let _offset_delta = get_varlong(bytes, &mut at);
        let key = get_bytes(bytes, &mut at);
        let value = get_bytes(bytes, &mut at);
        let headers = get_varlong(bytes, &mut at);
        assert_eq!(headers, 0, "test batches carry no headers");
        records.push(TestRecord {
            key,
            value,
            timestamp_delta,
        });
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let records = vec![
            TestRecord {
                key: Some(b"k".to_vec()),
                value: None,
                timestamp_delta: 5,
            },
            TestRecord::value(&[7u8; 300]),
        ];
        let bytes = encode_batch(3, 1, 100, &records);
        assert_eq!(decode_records(&bytes), records);
        assert_eq!(batch::validate(&bytes).unwrap().max_timestamp, 105);
    }

    #[test]
    fn matches_kafka_protocol_crate_decoder() {
        use kafka_protocol::records::RecordBatchDecoder;
        let records = vec![TestRecord::value(b"one"), TestRecord::value(b"two")];
        let bytes = encode_batch(10, 0, 1_000, &records);
        let mut buf = bytes::Bytes::from(bytes);
        let decoded =
            RecordBatchDecoder::decode(&mut buf).expect("kafka-protocol accepts our batch");
        assert_eq!(decoded.records.len(), 2);
        assert_eq!(decoded.records[1].offset, 11);
        assert_eq!(decoded.records[1].value.as_deref(), Some(&b"two"[..]));
    }
}
