//! **fetch-over-limit**: a broker answered a Fetch with more record bytes than the request's
//! limits allow, as Kafka computes them (`ReplicaManager.readFromLog`, KIP-74).
//!
//! Guarantee: a client that states `max_bytes` and `partition_max_bytes` gets a response it
//! can accept. Kafka reads partitions in request order; each may return up to the smaller of
//! its `partition_max_bytes` and what is left of `max_bytes`; only the first partition to
//! return data may go over that, and then only with exactly one batch (so that a batch larger
//! than every limit still reaches the consumer). librdkafka rejects an oversized response and
//! retries forever, consuming nothing: a liveness bug no client-level checker sees. Checked on
//! every Fetch at the wire, clients' and followers' alike (the broker lists Fetch v4 and later;
//! `max_bytes` arrived in v3).

use super::{Anomaly, FinalState};
use crate::history::wire::WireEvent;
use crate::history::{History, Tp};

pub const KIND: &str = "fetch-over-limit";

/// One partition of a Fetch response, with the limit its request gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPartition {
    pub tp: Tp,
    /// The request's `partition_max_bytes` for this partition.
    pub partition_max_bytes: i32,
    /// Bytes of records in the response for this partition.
    pub bytes: usize,
    /// Whether those bytes are exactly one record batch.
    pub single_batch: bool,
}

/// A partition that got more than its share: (partition, bytes sent, bytes allowed).
pub type Excess = (Tp, usize, usize);

/// The partitions of one Fetch response (in response order) that exceed what the request
/// allows. `max_bytes` is the request's response limit; a negative limit counts as 0.
pub fn excesses(max_bytes: i32, partitions: &[FetchedPartition]) -> Vec<Excess> {
    let mut remaining = max_bytes.max(0) as usize;
    let mut min_one = true;
    let mut out = Vec::new();
    for p in partitions.iter().filter(|p| p.bytes > 0) {
        let allowed = (p.partition_max_bytes.max(0) as usize).min(remaining);
        if p.bytes > allowed && !(min_one && p.single_batch) {
            out.push((p.tp.clone(), p.bytes, allowed));
        }
        remaining = remaining.saturating_sub(p.bytes);
        min_one = false;
    }
    out
}

/// Whether `records` is exactly one RecordBatch, by its length field (bytes 8..12 hold the
/// length of what follows the first 12 bytes).
pub fn is_single_batch(records: &[u8]) -> bool {
    let Some(length) = records.get(8..12) else {
        return false;
    };
    let length = i32::from_be_bytes(length.try_into().expect("4 bytes"));
    length >= 0 && records.len() == 12 + length as usize
}

pub fn check(history: &History, _final_state: &FinalState) -> Vec<Anomaly> {
    history
        .wire
        .iter()
        .filter_map(|event| match event {
            WireEvent::FetchOverLimit {
                node,
                tp,
                bytes,
                allowed,
                max_bytes,
                partition_max_bytes,
            } => Some(Anomaly {
                kind: KIND.to_string(),
                tp: Some(tp.clone()),
                value: None,
                offset: None,
                description: format!(
                    "broker {node} returned {bytes} bytes of {tp} to a Fetch whose limits allowed {allowed} (max_bytes {max_bytes}, partition_max_bytes {partition_max_bytes}), and it was not the one oversized first batch KIP-74 allows"
                ),
                events: Vec::new(),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::tp;
    use super::*;

    fn part(
        partition: i32,
        partition_max_bytes: i32,
        bytes: usize,
        single: bool,
    ) -> FetchedPartition {
        FetchedPartition {
            tp: tp(partition),
            partition_max_bytes,
            bytes,
            single_batch: single,
        }
    }

    #[test]
    fn within_limits_is_fine() {
        let parts = [
            part(0, 100, 100, false),
            part(1, 100, 50, false),
            part(2, 100, 0, false),
        ];
        assert_eq!(excesses(150, &parts), vec![]);
    }

    #[test]
    fn the_first_partition_with_data_may_send_one_oversized_batch() {
        // An empty partition first does not use up the exception.
        let parts = [part(0, 100, 0, false), part(1, 100, 900, true)];
        assert_eq!(excesses(500, &parts), vec![]);
        // Two batches over the limit are not one batch.
        let parts = [part(0, 100, 900, false)];
        assert_eq!(excesses(500, &parts), vec![(tp(0), 900, 100)]);
    }

    #[test]
    fn later_partitions_share_what_is_left() {
        // The bug real clients hit: every partition returned its first batch after the
        // budget was spent (3 x 900 KiB against fetch.max.bytes 1,000,000).
        let kib900 = 900 * 1024;
        let parts = [
            part(0, 1 << 20, kib900, true),
            part(1, 1 << 20, kib900, true),
            part(2, 1 << 20, kib900, true),
        ];
        let found = excesses(1_000_000, &parts);
        assert_eq!(
            found,
            vec![(tp(1), kib900, 1_000_000 - kib900), (tp(2), kib900, 0)]
        );
        // The partition limit binds too, once the exception is used.
        let parts = [part(0, 100, 50, false), part(1, 100, 101, true)];
        assert_eq!(excesses(10_000, &parts), vec![(tp(1), 101, 100)]);
    }

    #[test]
    fn a_negative_limit_allows_only_the_first_batch() {
        let parts = [part(0, -1, 10, true), part(1, -1, 10, true)];
        assert_eq!(excesses(-1, &parts), vec![(tp(1), 10, 0)]);
    }

    #[test]
    fn single_batch_is_read_from_the_length_field() {
        let mut batch = vec![0u8; 12];
        batch[8..12].copy_from_slice(&20i32.to_be_bytes());
        batch.extend_from_slice(&[0; 20]);
        assert!(is_single_batch(&batch));
        let two = [batch.clone(), batch.clone()].concat();
        assert!(!is_single_batch(&two));
        assert!(!is_single_batch(&batch[..20]));
        assert!(!is_single_batch(&[]));
    }

    #[test]
    fn wire_events_become_anomalies() {
        let mut history = History::default();
        history.wire_recorded = true;
        assert_eq!(check(&history, &FinalState::default()), vec![]);
        history.wire.push(WireEvent::FetchOverLimit {
            node: 2,
            tp: tp(1),
            bytes: 921_600,
            allowed: 78_400,
            max_bytes: 1_000_000,
            partition_max_bytes: 1 << 20,
        });
        let anomalies = check(&history, &FinalState::default());
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, KIND);
        assert_eq!(anomalies[0].tp, Some(tp(1)));
        assert!(anomalies[0]
            .description
            .contains("broker 2 returned 921600 bytes"));
    }
}
