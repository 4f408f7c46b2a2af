//! The wire-level history: what brokers acknowledged in Produce responses and served in Fetch
//! responses, decoded from the bytes they actually wrote. Checked against the client-level
//! history so that a client bug (a lost ack, an invented read) cannot hide a broker bug, and
//! vice versa.
//!
//! Group coordinators' answers are recorded too: the assignments SyncGroup handed out, the
//! offsets OffsetCommit accepted and the committed offsets OffsetFetch returned. Order here is the order responses were written, which is not
//! the order requests were decided in (each connection writes from its own task, and a held
//! connection writes late), so no checker infers "decided after" from it. Group exchanges are
//! decoded only once the broker lists those APIs in `protocol::SUPPORTED`: before that it
//! refuses them, and there is nothing to record.

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse, RequestKind, ResponseKind, SyncGroupRequest,
    SyncGroupResponse, TopicName,
};
use kafka_protocol::records::RecordBatchDecoder;
use kafkasim::group::consumer_protocol;
use kafkasim::protocol::{self, ErrorCode};
use serde::Serialize;

use crate::checker::fetch_over_limit::{self, FetchedPartition};
use crate::history::Tp;

/// One observation at the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum WireEvent {
    /// A broker acknowledged these values at `base_offset`, `base_offset + 1`, ….
    Ack {
        node: i32,
        tp: Tp,
        base_offset: i64,
        values: Vec<u64>,
    },
    /// A broker served these (offset, value) records to a consumer.
    Served {
        node: i32,
        tp: Tp,
        records: Vec<(i64, u64)>,
    },
    /// A broker answered a Fetch with more bytes of `tp` than the request allowed
    /// (checker::fetch_over_limit has the rule).
    FetchOverLimit {
        node: i32,
        tp: Tp,
        bytes: usize,
        allowed: usize,
        max_bytes: i32,
        partition_max_bytes: i32,
    },
    /// A group coordinator answered a SyncGroup without error: `member_id` owns `partitions`
    /// in `generation` of `group` (the consumer protocol assignment it was handed).
    GroupSynced {
        node: i32,
        group: String,
        member_id: String,
        group_instance_id: Option<String>,
        generation: i32,
        partitions: Vec<Tp>,
    },
    /// A group coordinator answered NONE to these partitions of an OffsetCommit: it accepted
    /// `offsets` for `group` from `member_id` under `generation`.
    CommitAccepted {
        node: i32,
        group: String,
        member_id: String,
        group_instance_id: Option<String>,
        generation: i32,
        offsets: Vec<(Tp, i64)>,
    },
    /// A group coordinator answered an OffsetFetch for `group` with these committed offsets
    /// (-1: none), for the partitions it answered without error.
    OffsetsServed {
        node: i32,
        group: String,
        offsets: Vec<(Tp, i64)>,
    },
}

/// Values of the records in `bytes` (whole RecordBatches), with their offsets. Records whose
/// value is not a workload value (decimal u64) are skipped.
fn decode_values(bytes: &Bytes) -> Vec<(i64, u64)> {
    let mut buf = bytes.clone();
    let mut out = Vec::new();
    while !buf.is_empty() {
        let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
            break;
        };
        for record in set.records {
            let value = record
                .value
                .as_deref()
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse().ok());
            if let (Some(value), false) = (value, record.control) {
                out.push((record.offset, value));
            }
        }
    }
    out
}

/// Decode one request/response exchange into wire events (none for other APIs).
pub fn decode(node: i32, request: &[u8], response: &[u8]) -> Vec<WireEvent> {
    let Ok(request) = protocol::decode_request(Bytes::copy_from_slice(request)) else {
        return Vec::new();
    };
    let version = request.header.request_api_version;
    let Ok((_, body)) =
        protocol::decode_response(request.api_key, version, Bytes::copy_from_slice(response))
    else {
        return Vec::new();
    };
    events(node, request.api_key, request.body, body)
}

/// The wire events of one decoded exchange.
fn events(
    node: i32,
    api_key: ApiKey,
    request: RequestKind,
    response: ResponseKind,
) -> Vec<WireEvent> {
    match (api_key, request, response) {
        (ApiKey::SyncGroup, RequestKind::SyncGroup(req), ResponseKind::SyncGroup(resp)) => {
            group_synced(node, &req, &resp).into_iter().collect()
        }
        (
            ApiKey::OffsetCommit,
            RequestKind::OffsetCommit(req),
            ResponseKind::OffsetCommit(resp),
        ) => commit_accepted(node, &req, &resp).into_iter().collect(),
        (ApiKey::OffsetFetch, RequestKind::OffsetFetch(req), ResponseKind::OffsetFetch(resp)) => {
            offsets_served(node, &req, &resp)
        }
        (ApiKey::Produce, RequestKind::Produce(req), ResponseKind::Produce(resp))
            if req.acks != 0 =>
        {
            let mut events = Vec::new();
            for topic in &req.topic_data {
                for partition in &topic.partition_data {
                    let ack = resp
                        .responses
                        .iter()
                        .filter(|t| t.name == topic.name)
                        .flat_map(|t| &t.partition_responses)
                        .find(|p| p.index == partition.index && p.error_code == ErrorCode::NONE);
                    let (Some(ack), Some(records)) = (ack, &partition.records) else {
                        continue;
                    };
                    let values = decode_values(records).into_iter().map(|(_, v)| v).collect();
                    let tp = Tp::new(topic.name.0.as_str(), partition.index);
                    events.push(WireEvent::Ack {
                        node,
                        tp,
                        base_offset: ack.base_offset,
                        values,
                    });
                }
            }
            events
        }
        (ApiKey::Fetch, RequestKind::Fetch(req), ResponseKind::Fetch(resp)) => {
            let mut events = over_limit(node, &req, &resp);
            events.extend(resp.responses.iter().flat_map(|topic| {
                topic.partitions.iter().filter_map(move |p| {
                    let records = decode_values(p.records.as_ref()?);
                    (!records.is_empty()).then(|| WireEvent::Served {
                        node,
                        tp: Tp::new(
                            topic_label(&topic.topic, topic.topic_id.as_u128()),
                            p.partition_index,
                        ),
                        records,
                    })
                })
            }));
            events
        }
        _ => Vec::new(),
    }
}

/// A successful SyncGroup, with the partitions its consumer protocol assignment names; none
/// for an error or an assignment that is not the consumer protocol's.
fn group_synced(
    node: i32,
    request: &SyncGroupRequest,
    response: &SyncGroupResponse,
) -> Option<WireEvent> {
    if response.error_code != ErrorCode::NONE {
        return None;
    }
    let (assignment, _) = consumer_protocol::decode_assignment(&response.assignment).ok()?;
    Some(WireEvent::GroupSynced {
        node,
        group: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
        generation: request.generation_id,
        partitions: (assignment.partitions.into_iter())
            .map(|(topic, partition)| Tp::new(topic, partition))
            .collect(),
    })
}

/// The offsets of an OffsetCommit that were answered NONE; none if no partition was.
fn commit_accepted(
    node: i32,
    request: &OffsetCommitRequest,
    response: &OffsetCommitResponse,
) -> Option<WireEvent> {
    let accepted = |topic: &str, partition: i32| {
        (response.topics.iter())
            .filter(|t| topic_label(&t.name, t.topic_id.as_u128()) == topic)
            .flat_map(|t| &t.partitions)
            .any(|p| p.partition_index == partition && p.error_code == ErrorCode::NONE)
    };
    let offsets: Vec<(Tp, i64)> = (request.topics.iter())
        .flat_map(|topic| {
            let name = topic_label(&topic.name, topic.topic_id.as_u128());
            (topic.partitions.iter()).map(move |p| {
                (
                    Tp::new(name.as_str(), p.partition_index),
                    p.committed_offset,
                )
            })
        })
        .filter(|(tp, _)| accepted(&tp.topic, tp.partition))
        .collect();
    (!offsets.is_empty()).then(|| WireEvent::CommitAccepted {
        node,
        group: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
        generation: request.generation_id_or_member_epoch,
        offsets,
    })
}

/// The committed offsets an OffsetFetch answered without error, per group: the response's
/// `topics` for the request's one group (v0–v7), or each of its `groups` (v8+).
fn offsets_served(
    node: i32,
    request: &OffsetFetchRequest,
    response: &OffsetFetchResponse,
) -> Vec<WireEvent> {
    let mut events = Vec::new();
    let mut push = |group: &str, offsets: Vec<(Tp, i64)>| {
        if !offsets.is_empty() {
            events.push(WireEvent::OffsetsServed {
                node,
                group: group.to_string(),
                offsets,
            });
        }
    };
    if response.error_code == ErrorCode::NONE {
        let offsets = (response.topics.iter())
            .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
            .filter(|(_, p)| p.error_code == ErrorCode::NONE)
            .map(|(t, p)| {
                (
                    Tp::new(t.name.0.as_str(), p.partition_index),
                    p.committed_offset,
                )
            })
            .collect();
        push(request.group_id.0.as_str(), offsets);
    }
    for group in response
        .groups
        .iter()
        .filter(|g| g.error_code == ErrorCode::NONE)
    {
        let offsets = (group.topics.iter())
            .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
            .filter(|(_, p)| p.error_code == ErrorCode::NONE)
            .map(|(t, p)| {
                let topic = topic_label(&t.name, t.topic_id.as_u128());
                (Tp::new(topic, p.partition_index), p.committed_offset)
            })
            .collect();
        push(group.group_id.0.as_str(), offsets);
    }
    events
}

/// How the wire history names a Fetch topic: by name, or (Fetch v13+, which names topics only
/// by id) by the id's text. kafkasim's own clients fetch with v12, so their history's names
/// and the wire's agree; a v13+ exchange (a raw-request test, a real client) is named by id.
fn topic_label(name: &TopicName, id: u128) -> String {
    if name.0.is_empty() && id != 0 {
        kafkasim::server::topic_ids::to_text(id)
    } else {
        name.0.to_string()
    }
}

/// The partitions of a Fetch response that got more bytes than the request allows. An
/// incremental response (KIP-227) may carry session partitions the request did not name; the
/// request's limit for them is the one an earlier request gave, which this exchange does not
/// show, so only the response-wide `max_bytes` rule is checked for them (Kafka applies the
/// same rule to incremental responses).
fn over_limit(node: i32, request: &FetchRequest, response: &FetchResponse) -> Vec<WireEvent> {
    let partition_max = |tp: &Tp| {
        request
            .topics
            .iter()
            .filter(|t| topic_label(&t.topic, t.topic_id.as_u128()) == tp.topic)
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition == tp.partition)
            .map_or(i32::MAX, |p| p.partition_max_bytes)
    };
    let fetched: Vec<FetchedPartition> = response
        .responses
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(move |p| {
                let records = p.records.as_deref().unwrap_or_default();
                let tp = Tp::new(
                    topic_label(&topic.topic, topic.topic_id.as_u128()),
                    p.partition_index,
                );
                FetchedPartition {
                    partition_max_bytes: partition_max(&tp),
                    tp,
                    bytes: records.len(),
                    single_batch: fetch_over_limit::is_single_batch(records),
                }
            })
        })
        .collect();
    fetch_over_limit::excesses(request.max_bytes, &fetched)
        .into_iter()
        .map(|(tp, bytes, allowed)| WireEvent::FetchOverLimit {
            node,
            partition_max_bytes: partition_max(&tp),
            tp,
            bytes,
            allowed,
            max_bytes: request.max_bytes,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::{offset_commit_request, offset_commit_response, RequestHeader};
    use kafka_protocol::protocol::StrBytes;
    use kafkasim::storage::testing::{encode_batch, TestRecord};

    use super::*;

    fn batch(offset: i64, value: &str) -> Vec<u8> {
        encode_batch(offset, 0, 0, &[TestRecord::value(value.as_bytes())])
    }

    /// A Fetch v13 exchange in an incremental session: topics are named by id, and the
    /// response carries partition 1, which this request does not name (the session does).
    /// Partition 0 is over its own limit (two batches where one was allowed); partition 1 is
    /// checked against the response-wide limit only, and its records are still recorded.
    #[test]
    fn fetch_v13_incremental_exchanges_are_decoded() {
        let id = 0x0102_0304_0506_0708_0910_1112_1314_1516u128;
        let mut partition = FetchPartition::default();
        partition.partition = 0;
        partition.partition_max_bytes = 10;
        let mut topic = FetchTopic::default();
        topic.topic_id = uuid::Uuid::from_u128(id);
        topic.partitions = vec![partition];
        let mut request = FetchRequest::default();
        request.max_bytes = 1_000_000;
        request.session_id = 5;
        request.session_epoch = 3;
        request.topics = vec![topic];
        let mut header = RequestHeader::default();
        header.request_api_key = ApiKey::Fetch as i16;
        header.request_api_version = 13;
        let request = protocol::encode_request(&header, &request.into()).unwrap();

        let mut first = PartitionData::default();
        first.partition_index = 0;
        first.records = Some([batch(0, "1"), batch(1, "2")].concat().into());
        let mut second = PartitionData::default();
        second.partition_index = 1;
        second.records = Some(batch(7, "3").into());
        let mut topic = FetchableTopicResponse::default();
        topic.topic_id = uuid::Uuid::from_u128(id);
        topic.partitions = vec![first, second];
        let mut response = FetchResponse::default();
        response.session_id = 5;
        response.responses = vec![topic];
        let response = protocol::encode_response(ApiKey::Fetch, 13, 0, &response.into()).unwrap();

        let events = decode(1, &request, &response);
        let name = kafkasim::server::topic_ids::to_text(id);
        let over: Vec<&Tp> = (events.iter())
            .filter_map(|e| match e {
                WireEvent::FetchOverLimit { tp, .. } => Some(tp),
                _ => None,
            })
            .collect();
        assert_eq!(over, vec![&Tp::new(&name, 0)]);
        let served: Vec<(&Tp, &Vec<(i64, u64)>)> = (events.iter())
            .filter_map(|e| match e {
                WireEvent::Served { tp, records, .. } => Some((tp, records)),
                _ => None,
            })
            .collect();
        assert_eq!(served.len(), 2);
        assert_eq!(served[1], (&Tp::new(&name, 1), &vec![(7, 3)]));
    }

    fn sync_exchange(error: ErrorCode, assignment: Vec<u8>) -> (RequestKind, ResponseKind) {
        let mut request = SyncGroupRequest::default();
        request.group_id = StrBytes::from_static_str("g").into();
        request.member_id = StrBytes::from_static_str("m1");
        request.group_instance_id = Some(StrBytes::from_static_str("i1"));
        request.generation_id = 4;
        let mut response = SyncGroupResponse::default();
        response.error_code = error.code();
        response.assignment = assignment.into();
        (request.into(), response.into())
    }

    #[test]
    fn a_successful_sync_group_records_the_assignment() {
        let assignment = consumer_protocol::Assignment {
            partitions: vec![("t".into(), 0), ("u".into(), 2)],
            user_data: None,
        };
        let bytes = consumer_protocol::encode_assignment(&assignment, 1);
        let (request, response) = sync_exchange(ErrorCode::NONE, bytes.clone());
        assert_eq!(
            events(1, ApiKey::SyncGroup, request, response),
            vec![WireEvent::GroupSynced {
                node: 1,
                group: "g".into(),
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                generation: 4,
                partitions: vec![Tp::new("t", 0), Tp::new("u", 2)],
            }]
        );
        let (request, response) = sync_exchange(ErrorCode::ILLEGAL_GENERATION, bytes);
        assert_eq!(events(1, ApiKey::SyncGroup, request, response), vec![]);
    }

    #[test]
    fn an_offset_commit_records_only_the_partitions_answered_none() {
        let mut request = OffsetCommitRequest::default();
        request.group_id = StrBytes::from_static_str("g").into();
        request.member_id = StrBytes::from_static_str("m1");
        request.generation_id_or_member_epoch = 3;
        let mut topic = offset_commit_request::OffsetCommitRequestTopic::default();
        topic.name = StrBytes::from_static_str("t").into();
        topic.partitions = [(0, 10), (1, 20)]
            .map(|(index, offset)| {
                let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
                p.partition_index = index;
                p.committed_offset = offset;
                p
            })
            .to_vec();
        request.topics = vec![topic];
        let mut response = OffsetCommitResponse::default();
        let mut topic = offset_commit_response::OffsetCommitResponseTopic::default();
        topic.name = StrBytes::from_static_str("t").into();
        topic.partitions = [(0, ErrorCode::NONE), (1, ErrorCode::ILLEGAL_GENERATION)]
            .map(|(index, error)| {
                let mut p = offset_commit_response::OffsetCommitResponsePartition::default();
                p.partition_index = index;
                p.error_code = error.code();
                p
            })
            .to_vec();
        response.topics = vec![topic];
        let found = events(
            1,
            ApiKey::OffsetCommit,
            request.clone().into(),
            response.clone().into(),
        );
        assert_eq!(
            found,
            vec![WireEvent::CommitAccepted {
                node: 1,
                group: "g".into(),
                member_id: "m1".into(),
                group_instance_id: None,
                generation: 3,
                offsets: vec![(Tp::new("t", 0), 10)],
            }]
        );
        response.topics[0].partitions[0].error_code = ErrorCode::REBALANCE_IN_PROGRESS.code();
        assert_eq!(
            events(1, ApiKey::OffsetCommit, request.into(), response.into()),
            vec![]
        );
    }

    #[test]
    fn offset_fetch_answers_are_recorded_per_group() {
        use kafka_protocol::messages::offset_fetch_response as r;
        let partition = |index: i32, offset: i64, error: ErrorCode| {
            let mut p = r::OffsetFetchResponsePartition::default();
            p.partition_index = index;
            p.committed_offset = offset;
            p.error_code = error.code();
            p
        };
        let mut request = OffsetFetchRequest::default();
        request.group_id = StrBytes::from_static_str("g").into();
        let mut topic = r::OffsetFetchResponseTopic::default();
        topic.name = StrBytes::from_static_str("t").into();
        topic.partitions = vec![
            partition(0, 7, ErrorCode::NONE),
            partition(1, -1, ErrorCode::NONE),
            partition(2, 3, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        ];
        let mut response = OffsetFetchResponse::default();
        response.topics = vec![topic];
        let found = events(
            1,
            ApiKey::OffsetFetch,
            request.clone().into(),
            response.clone().into(),
        );
        assert_eq!(
            found,
            vec![WireEvent::OffsetsServed {
                node: 1,
                group: "g".into(),
                offsets: vec![(Tp::new("t", 0), 7), (Tp::new("t", 1), -1)],
            }]
        );
        // A v8+ answer names its groups; one answered with an error records nothing.
        let mut partitions = r::OffsetFetchResponsePartitions::default();
        partitions.partition_index = 4;
        partitions.committed_offset = 9;
        let mut topics = r::OffsetFetchResponseTopics::default();
        topics.name = StrBytes::from_static_str("u").into();
        topics.partitions = vec![partitions];
        let mut group = r::OffsetFetchResponseGroup::default();
        group.group_id = StrBytes::from_static_str("h").into();
        group.topics = vec![topics];
        let mut failed = group.clone();
        failed.group_id = StrBytes::from_static_str("f").into();
        failed.error_code = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.code();
        let mut response = OffsetFetchResponse::default();
        response.groups = vec![group, failed];
        assert_eq!(
            events(
                2,
                ApiKey::OffsetFetch,
                OffsetFetchRequest::default().into(),
                response.into()
            ),
            vec![WireEvent::OffsetsServed {
                node: 2,
                group: "h".into(),
                offsets: vec![(Tp::new("u", 4), 9)],
            }]
        );
    }
}
