//! ListOffsets: earliest (-2) is the log start offset, latest (-1) the high watermark,
//! max (-3, v7) the first record holding the log's largest timestamp (if below the high
//! watermark), earliest local (-4, v8) the log start offset too (the whole log is local),
//! latest tiered (-5, v9) no offset (-1: nothing is tiered), anything else the first record
//! whose timestamp is at or after it. As in Kafka the special timestamps are honoured at every
//! version; clients only send them from the version that introduced them. The log finds the batch
//! (by its max timestamp); the record inside it is found by decoding that batch, as Kafka does,
//! so a lookup can land in the middle of a batch.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::records::{RecordBatchDecoder, TimestampType};

use crate::env::Observation;
use crate::protocol::codes::ErrorCode;
use crate::server::partition::{PartitionHandle, ReadLimit};
use crate::server::Broker;
use crate::storage::batch;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
/// KIP-734: the record with the largest timestamp.
const MAX_TIMESTAMP: i64 = -3;
/// KIP-405: the first offset still on local disk.
const EARLIEST_LOCAL: i64 = -4;
/// KIP-1005: the last offset in remote (tiered) storage.
const LATEST_TIERED: i64 = -5;

pub async fn handle(
    broker: &Broker,
    request: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let mut response = ListOffsetsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.as_str().to_string();
        let mut out = ListOffsetsTopicResponse::default();
        out.name = topic.name.clone();
        for partition in topic.partitions {
            let mut p = ListOffsetsPartitionResponse::default();
            p.partition_index = partition.partition_index;
            p.timestamp = -1;
            p.offset = -1;
            // The field exists from v4; an older response cannot carry it.
            p.leader_epoch = if version >= 4 { 0 } else { -1 };
            match broker.partition(&name, partition.partition_index) {
                None => {
                    p.error_code = broker
                        .missing_partition_code(&name, partition.partition_index)
                        .code();
                }
                Some(handle) if !handle.is_leader() => {
                    p.error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER.code();
                }
                Some(handle) => {
                    let offsets = handle.offsets();
                    if version >= 4 {
                        p.leader_epoch = handle.role().leader_epoch;
                    }
                    // A follower asking (replica id ≥ 0) gets the log end offset, as in Kafka;
                    // clients get the high watermark.
                    let from_replica = request.replica_id.0 >= 0;
                    // KIP-207: a new leader learns the committed end one fetch after its
                    // followers, so until its HW reaches the start of its epoch it could answer
                    // below what the old leader already answered. It says "not yet" instead.
                    if broker.config.monotonic_list_offsets && !from_replica {
                        let start = handle.leader_epoch_start().await;
                        if start.is_some_and(|start| offsets.high_watermark < start) {
                            p.error_code = ErrorCode::OFFSET_NOT_AVAILABLE.code();
                            out.partitions.push(p);
                            continue;
                        }
                    }
                    match partition.timestamp {
                        EARLIEST | EARLIEST_LOCAL => p.offset = offsets.log_start_offset,
                        // Without tiered storage Kafka answers -1 with no leader epoch.
                        LATEST_TIERED => {
                            if version >= 4 {
                                p.leader_epoch = -1;
                            }
                        }
                        MAX_TIMESTAMP => match handle.max_timestamp_batch().await {
                            Ok(Some(batch)) => {
                                let (offset, timestamp) =
                                    record_in_batch(&handle, batch.0, batch.1, batch).await;
                                if from_replica || offset < offsets.high_watermark {
                                    p.offset = offset;
                                    p.timestamp = timestamp;
                                }
                            }
                            Ok(None) => {}
                            Err(code) => p.error_code = code.code(),
                        },
                        LATEST if from_replica => p.offset = offsets.log_end_offset,
                        LATEST => {
                            p.offset = offsets.high_watermark;
                            broker.env.trace.observe(&Observation::LatestOffsetListed {
                                tp: (&name, partition.partition_index),
                                offset: p.offset,
                            });
                        }
                        ts => match handle.offset_for_timestamp(ts).await {
                            Ok((offset, timestamp))
                                if offset >= 0 && offset < offsets.high_watermark =>
                            {
                                let (offset, timestamp) =
                                    record_in_batch(&handle, offset, ts, (offset, timestamp)).await;
                                p.offset = offset;
                                p.timestamp = timestamp;
                            }
                            Ok(_) => {}
                            Err(code) => p.error_code = code.code(),
                        },
                    }
                }
            }
            out.partitions.push(p);
        }
        response.topics.push(out);
    }
    response
}

/// The first record at or after `timestamp` in the batch holding `batch_base_offset` (its base
/// offset, or the log start inside it), from that offset on, as
/// (offset, timestamp). With LogAppendTime every record carries the batch's max timestamp, so
/// the batch-level answer `batch_answer` is exact; it is also the answer if the batch cannot be
/// read back or decoded, since the batch is still the right one.
async fn record_in_batch(
    handle: &PartitionHandle,
    batch_base_offset: i64,
    timestamp: i64,
    batch_answer: (i64, i64),
) -> (i64, i64) {
    // The first batch whole, whatever its size.
    let mut read = handle
        .read(batch_base_offset, ReadLimit::at_least_one(1))
        .await;
    if read.error_code != ErrorCode::NONE {
        return batch_answer;
    }
    // kafka-protocol 0.18 reserves room for the declared record count before decoding, so a
    // count the bytes cannot back would abort the process. Uncompressed batches were checked
    // record by record on append; a compressed one declaring more records than it has bytes
    // is answered at batch level rather than trusted.
    let plausible = batch::parse_header(&read.records).is_ok_and(|header| {
        usize::try_from(header.record_count).is_ok_and(|n| n <= read.records.len())
    });
    if !plausible {
        return batch_answer;
    }
    let Ok(set) = RecordBatchDecoder::decode(&mut read.records) else {
        return batch_answer;
    };
    set.records
        .iter()
        // The log may start inside the batch (DeleteRecords): records below it are gone.
        .filter(|r| r.offset >= batch_base_offset)
        .find(|r| r.timestamp_type == TimestampType::Creation && r.timestamp >= timestamp)
        .map(|r| (r.offset, r.timestamp))
        .unwrap_or(batch_answer)
}
