//! OffsetFetch: one group (v1–7) or several (v8+), named partitions or all the group has
//! committed (null topics, v2+).

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::join_group::error_of;
use super::str_bytes;
use crate::group::coordinator::api::{FetchedOffset, Response};
use crate::protocol::codes::ErrorCode;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let mut response = OffsetFetchResponse::default();
    if version >= 8 {
        for group in &request.groups {
            let partitions = group.topics.as_ref().map(|topics| {
                (topics.iter())
                    .flat_map(|t| {
                        let name = t.name.0.to_string();
                        t.partition_indexes.iter().map(move |p| (name.clone(), *p))
                    })
                    .collect::<Vec<_>>()
            });
            let (error, fetched) = fetch(broker, &group.group_id.0, partitions).await;
            let mut out = OffsetFetchResponseGroup::default();
            out.group_id = GroupId(str_bytes(&group.group_id.0));
            out.error_code = error.code();
            for (topic, offsets) in by_topic(&fetched) {
                let mut t = OffsetFetchResponseTopics::default();
                t.name = TopicName(str_bytes(&topic));
                for f in offsets {
                    let mut p = OffsetFetchResponsePartitions::default();
                    p.partition_index = f.partition;
                    p.committed_offset = f.offset;
                    p.committed_leader_epoch = f.leader_epoch;
                    p.metadata = Some(str_bytes(&f.metadata));
                    p.error_code = f.error.code();
                    t.partitions.push(p);
                }
                out.topics.push(t);
            }
            response.groups.push(out);
        }
        return response;
    }
    let partitions = request.topics.as_ref().map(|topics| {
        (topics.iter())
            .flat_map(|t| {
                let name = t.name.0.to_string();
                t.partition_indexes.iter().map(move |p| (name.clone(), *p))
            })
            .collect::<Vec<_>>()
    });
    let named = partitions.clone();
    let (error, fetched) = fetch(broker, &request.group_id.0, partitions).await;
    // Before v2 there is no top-level error: it goes on every named partition.
    let fetched = match (error, version, named) {
        (ErrorCode::NONE, _, _) => fetched,
        (error, v, Some(named)) if v < 2 => named
            .into_iter()
            .map(|(topic, partition)| FetchedOffset {
                topic,
                partition,
                offset: -1,
                leader_epoch: -1,
                metadata: String::new(),
                error,
            })
            .collect(),
        _ => fetched,
    };
    response.error_code = error.code();
    for (topic, offsets) in by_topic(&fetched) {
        let mut t = OffsetFetchResponseTopic::default();
        t.name = TopicName(str_bytes(&topic));
        for f in offsets {
            let mut p = OffsetFetchResponsePartition::default();
            p.partition_index = f.partition;
            p.committed_offset = f.offset;
            p.committed_leader_epoch = f.leader_epoch;
            p.metadata = Some(str_bytes(&f.metadata));
            p.error_code = f.error.code();
            t.partitions.push(p);
        }
        response.topics.push(t);
    }
    response
}

async fn fetch(
    broker: &Broker,
    group_id: &str,
    partitions: Option<Vec<(String, i32)>>,
) -> (ErrorCode, Vec<FetchedOffset>) {
    let now_ms = broker.env.clock.wall_ms();
    let answer = broker
        .groups
        .call(now_ms, |c, _, token| {
            c.fetch_offsets(token, group_id, partitions.as_deref())
        })
        .await;
    match answer {
        Response::OffsetFetch(error, fetched) => (error, fetched),
        other => (error_of(&other), Vec::new()),
    }
}

/// The fetched offsets grouped by topic, topics in first-seen order.
fn by_topic(fetched: &[FetchedOffset]) -> Vec<(String, Vec<&FetchedOffset>)> {
    let mut out: Vec<(String, Vec<&FetchedOffset>)> = Vec::new();
    for f in fetched {
        match out.iter_mut().find(|(topic, _)| *topic == f.topic) {
            Some((_, offsets)) => offsets.push(f),
            None => out.push((f.topic.clone(), vec![f])),
        }
    }
    out
}
