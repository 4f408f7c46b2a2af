//! The drain: once the run has converged, every partition is read from log start to the high
//! watermark by a fresh consumer on a fresh node; what it reads is the final state the
//! checkers compare the history with.

use std::time::Duration;

use kafkasim::client::consumer::ConsumeError;
use kafkasim::client::{Consumer, ConsumerConfig, OffsetReset};
use madsim::runtime::Handle;

use super::DRAIN_TIMEOUT;
use crate::checker::{FinalLog, FinalState};
use crate::cluster::client_ip;
use crate::cluster::clock::RunClock;
use crate::history::Tp;
use crate::scenario::{FaultKind, Scenario};

/// Read every partition from log start to the high watermark with a fresh consumer on a
/// fresh node.
pub(super) async fn drain(scenario: &Scenario, clock: RunClock) -> Result<FinalState, String> {
    let node = Handle::current()
        .create_node()
        .name("drain")
        .ip(client_ip(999))
        .build();
    let scenario = scenario.clone();
    let task = node.spawn(async move {
        let deadline = clock.now_ms() + DRAIN_TIMEOUT.as_millis() as u64;
        let mut config = ConsumerConfig::new(crate::cluster::bootstrap(&scenario));
        config.client_id = "drain".into();
        config.auto_offset_reset = OffsetReset::Earliest;
        config.request_timeout = Duration::from_secs(5);
        let mut consumer = Consumer::new(config);
        let mut state = FinalState::default();
        for topic in &scenario.topics {
            for partition in 0..partition_count(&mut consumer, &scenario, topic).await {
                let log =
                    drain_partition(&mut consumer, &topic.name, partition, clock, deadline).await?;
                state
                    .logs
                    .insert(Tp::new(topic.name.clone(), partition), log);
            }
        }
        Ok(state)
    });
    task.await.map_err(|e| format!("drain task failed: {e}"))?
}

/// The partitions to read: those declared, or, if the scenario adds partitions to the topic
/// during the run, as many as the metadata shows now.
async fn partition_count(
    consumer: &mut Consumer,
    scenario: &Scenario,
    topic: &crate::scenario::Topic,
) -> i32 {
    let grows = scenario.faults.iter().flat_map(|step| &step.actions).any(|action| {
        matches!(&action.kind, FaultKind::CreatePartitions { topic: t, .. } if *t == topic.name)
    });
    if !grows {
        return topic.partitions;
    }
    let known = consumer.partitions_for(&topic.name).await.unwrap_or(0);
    topic.partitions.max(known as i32)
}

async fn drain_partition(
    consumer: &mut Consumer,
    topic: &str,
    partition: i32,
    clock: RunClock,
    deadline: u64,
) -> Result<FinalLog, String> {
    let timed_out = || {
        format!(
            "drain of {topic}/{partition} did not finish in {} s",
            DRAIN_TIMEOUT.as_secs()
        )
    };
    let (log_start, high_watermark) = loop {
        let start = consumer
            .list_offset(topic, partition, -2)
            .await
            .ok()
            .flatten();
        let end = consumer
            .list_offset(topic, partition, -1)
            .await
            .ok()
            .flatten();
        if let (Some(start), Some(end)) = (start, end) {
            break (start, end);
        }
        if clock.now_ms() >= deadline {
            return Err(timed_out());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    consumer.assign(&[(topic.to_string(), partition)]);
    consumer.seek(topic, partition, log_start);
    let mut records = Vec::new();
    while consumer.position(topic, partition).unwrap_or(log_start) < high_watermark {
        if clock.now_ms() >= deadline {
            return Err(timed_out());
        }
        let polled = match consumer.poll(Duration::from_millis(500)).await {
            Ok(polled) => polled,
            // The broker serves a batch that fails its CRC: what follows cannot be read (the
            // checkers see it missing, and corrupt-batch-kept names the replica that kept it).
            Err(ConsumeError::Corrupt { .. }) => break,
            Err(e) => return Err(format!("drain of {topic}/{partition}: {e}")),
        };
        for record in polled {
            let value = record
                .value
                .as_deref()
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let (Some(value), true) = (value, record.offset < high_watermark) {
                records.push((record.offset, value));
            }
        }
    }
    Ok(FinalLog {
        log_start_offset: log_start,
        high_watermark,
        records,
    })
}
