//! Loading a `__consumer_offsets` partition this broker became leader of: wait until the
//! high watermark reaches the log end it had when leadership came (everything before is then
//! committed, as Kafka's loader reads up to it), read the log from its start, decode every
//! record, and replay them into the coordinator, which then serves the partition's groups.

use std::sync::Arc;

use bytes::{Buf, Bytes};
use kafka_protocol::records::RecordBatchDecoder;

use super::{OFFSETS_TOPIC, SCAN_INTERVAL};
use crate::group::coordinator::records::Record;
use crate::protocol::codes::ErrorCode;
use crate::server::partition::{PartitionHandle, ReadLimit};
use crate::server::Broker;

/// How many bytes one read of the log asks for.
const READ_BYTES_MAX: usize = 1 << 20;

/// Load `partition`, led here at `leader_epoch`. If leadership moves on meanwhile, or the log
/// cannot be read, the partition is unloaded again so that the next scan starts over.
pub async fn load(broker: Arc<Broker>, partition: i32, leader_epoch: i32) {
    let outcome = read_all(&broker, partition, leader_epoch).await;
    let groups = &broker.groups;
    let mut inner = groups.inner.lock().unwrap();
    if inner.owned.get(&partition) != Some(&leader_epoch) {
        // Unloaded (or reloaded at a newer epoch) while this load ran.
        return;
    }
    match outcome {
        Ok(records) => {
            let now_ms = broker.env.clock.wall_ms();
            let loaded = records.len() as u64;
            for record in &records {
                inner.coordinator.replay(partition, record);
            }
            inner.coordinator.finish_loading(partition, now_ms);
            tracing::info!(
                partition,
                leader_epoch,
                records = records.len(),
                "loaded a __consumer_offsets partition"
            );
            broker.env.trace.effect("group.coordinator_loaded", 1);
            broker
                .env
                .trace
                .effect("group.coordinator_loaded_records", loaded);
        }
        Err(error) => {
            tracing::info!(partition, %error, "loading a __consumer_offsets partition stopped");
            let effects = inner.coordinator.unload(partition);
            inner.owned.remove(&partition);
            groups.apply(&mut inner, effects);
        }
    }
}

/// Every record of the partition, in offset order, once the high watermark reached the log
/// end of the moment leadership came.
async fn read_all(
    broker: &Broker,
    partition: i32,
    leader_epoch: i32,
) -> Result<Vec<Record>, ErrorCode> {
    let handle = broker
        .partition(OFFSETS_TOPIC, partition)
        .ok_or(ErrorCode::NOT_COORDINATOR)?;
    let target = handle.offsets().log_end_offset;
    let mut offsets = handle.subscribe();
    loop {
        check_leading(broker, &handle, leader_epoch)?;
        offsets.borrow_and_update();
        if handle.offsets().high_watermark >= target {
            break;
        }
        // Woken by the high watermark moving, or re-checks leadership after a while.
        let _ = tokio::time::timeout(SCAN_INTERVAL, offsets.changed()).await;
    }
    let mut records = Vec::new();
    let mut offset = handle.offsets().log_start_offset;
    while offset < target {
        check_leading(broker, &handle, leader_epoch)?;
        let read = handle
            .read(offset, ReadLimit::at_least_one(READ_BYTES_MAX))
            .await;
        if read.error_code != ErrorCode::NONE {
            return Err(read.error_code);
        }
        if read.records.is_empty() {
            // Below the log start after a deletion, or nothing left below the target.
            if read.offsets.log_start_offset > offset {
                offset = read.offsets.log_start_offset;
                continue;
            }
            break;
        }
        offset = decode_into(read.records, &mut records)?.max(offset + 1);
    }
    Ok(records)
}

fn check_leading(
    broker: &Broker,
    handle: &PartitionHandle,
    leader_epoch: i32,
) -> Result<(), ErrorCode> {
    let role = handle.role();
    if broker.is_stopped()
        || role.leader != broker.config.node_id
        || role.leader_epoch != leader_epoch
    {
        return Err(ErrorCode::NOT_COORDINATOR);
    }
    Ok(())
}

/// Decode whole batches into records; returns the offset after the last batch. A compacted
/// batch may have lost its last records, so the next offset comes from the batch header's
/// last offset delta, not from the records left in it.
fn decode_into(bytes: Bytes, records: &mut Vec<Record>) -> Result<i64, ErrorCode> {
    let mut next = i64::MIN;
    let mut headers = bytes.clone();
    while headers.len() >= 27 {
        let base_offset = (&headers[0..8]).get_i64();
        let length = (&headers[8..12]).get_i32();
        let last_offset_delta = (&headers[23..27]).get_i32();
        next = base_offset + i64::from(last_offset_delta) + 1;
        let size = 12 + length.max(0) as usize;
        if size > headers.len() {
            return Err(ErrorCode::CORRUPT_MESSAGE);
        }
        headers.advance(size);
    }
    let mut buf = bytes;
    while !buf.is_empty() {
        let set = RecordBatchDecoder::decode(&mut buf).map_err(|_| ErrorCode::CORRUPT_MESSAGE)?;
        for record in set.records {
            if record.control {
                continue;
            }
            let Some(key) = record.key.as_deref() else {
                continue;
            };
            match Record::decode(key, record.value.as_deref()) {
                Some(decoded) => records.push(decoded),
                None => tracing::warn!(
                    offset = record.offset,
                    "an unreadable __consumer_offsets record was skipped"
                ),
            }
        }
    }
    Ok(next)
}
