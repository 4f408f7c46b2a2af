//! kafkasim's group consumer against a simulated broker (issue 12): three members of one
//! group read a topic the producer wrote. They join, rebalance as each one leaves in turn,
//! and close; every record is consumed, and the committed offsets end at the log end of every
//! partition. Run once with the eager `range` assignor and once with `cooperative-sticky`
//! (KIP-429's two rounds). Partitions added to the topic while they consume make the member
//! that assigned rebalance the group, and the new partitions are consumed from their start.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafkasim::client::group::{CommitOutcome, MemberInfo, MemberState, NoListener};
use kafkasim::client::{
    Admin, CommitReport, GroupConfig, GroupConsumer, GroupListener, OffsetReset, Producer,
    ProducerConfig, ProducerRecord,
};
use kafkasim::group::assignor::Assignor;
use kafkasim::server::{BrokerConfig, TopicAssignment};
use kafkasim_sim::cluster::broker_addr;
use kafkasim_sim::cluster::clock::{RunClock, SimClock};

mod support;
use support::*;

const TOPIC: &str = "t";
const PARTITIONS: i32 = 6;
const RECORDS_PER_PARTITION: i64 = 40;
const MEMBERS: usize = 3;

/// One broker hosting `t`, with a small offsets topic and a short initial rebalance delay so
/// that the three members usually land in one generation.
fn one_broker() -> Vec<BrokerConfig> {
    let mut config = BrokerConfig::single(1, broker_addr(1));
    config.topics = vec![TopicAssignment {
        name: TOPIC.into(),
        replicas: vec![vec![1]; PARTITIONS as usize],
        configs: Default::default(),
    }];
    for (key, value) in [
        ("offsets.topic.num.partitions", "3"),
        ("group.initial.rebalance.delay.ms", "500"),
    ] {
        config.configs.insert(key.into(), value.into());
    }
    vec![config]
}

/// What one member's listener saw.
#[derive(Default)]
struct Seen {
    /// (generation, partitions) of each assigned callback.
    assigned: Vec<(i32, Vec<(String, i32)>)>,
    revoked: usize,
    lost: usize,
    /// (generation, member id) each lost callback named.
    lost_by: Vec<(i32, String)>,
    commits: Vec<CommitReport>,
}

struct Recorder(Arc<Mutex<Seen>>);

impl GroupListener for Recorder {
    fn on_partitions_assigned(&mut self, member: &MemberInfo, partitions: &[(String, i32)]) {
        self.0
            .lock()
            .unwrap()
            .assigned
            .push((member.generation_id, partitions.to_vec()));
    }
    fn on_partitions_revoked(&mut self, _member: &MemberInfo, _partitions: &[(String, i32)]) {
        self.0.lock().unwrap().revoked += 1;
    }
    fn on_partitions_lost(&mut self, member: &MemberInfo, _partitions: &[(String, i32)]) {
        let mut seen = self.0.lock().unwrap();
        seen.lost += 1;
        seen.lost_by
            .push((member.generation_id, member.member_id.clone()));
    }
    fn on_commit_completed(&mut self, report: &CommitReport) {
        self.0.lock().unwrap().commits.push(report.clone());
    }
}

async fn produce(addrs: &[SocketAddr], clock: RunClock) -> BTreeSet<String> {
    produce_to(addrs, clock, 0..PARTITIONS).await
}

/// Writes `RECORDS_PER_PARTITION` records to each of `partitions` with a fresh producer (so
/// its metadata shows partitions added since the last call); returns the values.
async fn produce_to(
    addrs: &[SocketAddr],
    clock: RunClock,
    partitions: std::ops::Range<i32>,
) -> BTreeSet<String> {
    let mut config = ProducerConfig::new(addrs.to_vec());
    config.acks = -1;
    let producer = Producer::new(config, Arc::new(SimClock::new(clock, Arc::default())));
    let mut values = BTreeSet::new();
    for partition in partitions {
        for i in 0..RECORDS_PER_PARTITION {
            let value = format!("{partition}-{i}");
            let (_, delivery) = producer
                .send(ProducerRecord {
                    topic: TOPIC.into(),
                    partition: Some(partition),
                    key: None,
                    value: Some(Bytes::from(value.clone())),
                })
                .await
                .expect("send");
            delivery.await.expect("reply").expect("acknowledged");
            values.insert(value);
        }
    }
    values
}

fn member_config(addrs: &[SocketAddr], strategy: Assignor) -> GroupConfig {
    let mut config = GroupConfig::new(addrs.to_vec(), "g");
    config.consumer.auto_offset_reset = OffsetReset::Earliest;
    config.consumer.fetch_max_wait = Duration::from_millis(100);
    config.consumer.max_partition_fetch_bytes = 512;
    config.session_timeout = Duration::from_millis(6_000);
    config.heartbeat_interval = Duration::from_millis(500);
    config.max_poll_interval = Duration::from_millis(10_000);
    config.auto_commit_interval = Duration::from_millis(1_000);
    config.assignment_strategy = vec![strategy];
    config
}

/// Member `index` polls until every value was consumed by someone, keeps polling for
/// `index` × 4 s more (so members leave one at a time and the rest take over), then closes.
async fn run_member(
    addrs: Vec<SocketAddr>,
    strategy: Assignor,
    index: usize,
    consumed: Arc<Mutex<BTreeSet<String>>>,
    expected: usize,
    seen: Arc<Mutex<Seen>>,
) {
    let mut consumer = GroupConsumer::new(
        member_config(&addrs, strategy),
        Box::new(Recorder(seen.clone())),
    );
    consumer.subscribe(&[TOPIC.to_string()]);
    let mut done_at = None;
    for _ in 0..2_000 {
        let records = consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        let mut consumed = consumed.lock().unwrap();
        for record in records {
            assert!(
                consumer
                    .assignment()
                    .contains(&(record.topic.clone(), record.partition)),
                "a record of a partition member {index} does not own"
            );
            consumed.insert(String::from_utf8(record.value.unwrap().to_vec()).unwrap());
        }
        if consumed.len() == expected && done_at.is_none() {
            done_at = Some(tokio::time::Instant::now());
        }
        drop(consumed);
        if let Some(at) = done_at {
            if at.elapsed() >= Duration::from_secs(4 * index as u64 + 1) {
                break;
            }
        }
    }
    assert!(done_at.is_some(), "member {index} never saw every record");
    consumer.close().await;
    assert_eq!(consumer.generation_id(), -1);
    assert!(consumer.assignment().is_empty());
}

/// What the listeners saw, checked after the run.
type Check = fn(&[Arc<Mutex<Seen>>]);

fn three_members_consume_everything_and_commit_the_log_end(strategy: Assignor, check: Check) {
    simulate_cluster(one_broker(), move |addrs, clock| async move {
        let values = produce(&addrs, clock).await;
        let consumed: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let seen: Vec<Arc<Mutex<Seen>>> = (0..MEMBERS).map(|_| Arc::default()).collect();
        let members: Vec<_> = (0..MEMBERS)
            .map(|index| {
                tokio::spawn(run_member(
                    addrs.clone(),
                    strategy,
                    index,
                    consumed.clone(),
                    values.len(),
                    seen[index].clone(),
                ))
            })
            .collect();
        for member in members {
            member.await.expect("member task");
        }
        assert_eq!(*consumed.lock().unwrap(), values, "every record consumed");

        for (index, seen) in seen.iter().enumerate() {
            let seen = seen.lock().unwrap();
            assert!(!seen.assigned.is_empty(), "member {index} never assigned");
            assert!(seen.assigned.iter().all(|(generation, _)| *generation >= 1));
            assert_eq!(seen.lost, 0, "member {index} lost partitions");
            assert!(seen.revoked >= 1, "member {index} revoked nothing on close");
            assert!(
                seen.commits
                    .iter()
                    .any(|report| report.outcome == CommitOutcome::Ok),
                "member {index} never committed"
            );
        }
        // Across the members, every partition was assigned in some generation.
        let assigned: BTreeSet<(String, i32)> = seen
            .iter()
            .flat_map(|seen| {
                let seen = seen.lock().unwrap();
                seen.assigned
                    .iter()
                    .flat_map(|(_, partitions)| partitions.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(assigned.len(), PARTITIONS as usize);
        check(&seen);

        // A fresh member of the group reads the committed offsets: the log end everywhere.
        let mut reader = GroupConsumer::new(member_config(&addrs, strategy), Box::new(NoListener));
        let partitions: Vec<(String, i32)> =
            (0..PARTITIONS).map(|p| (TOPIC.to_string(), p)).collect();
        let committed = reader.committed(&partitions).await.expect("committed");
        for partition in &partitions {
            assert_eq!(
                committed[partition],
                Some(RECORDS_PER_PARTITION),
                "{partition:?}"
            );
        }
    });
}

#[test]
fn three_eager_range_members_consume_everything_and_commit_the_log_end() {
    three_members_consume_everything_and_commit_the_log_end(Assignor::Range, |_| {});
}

#[test]
fn three_cooperative_sticky_members_consume_everything_and_commit_the_log_end() {
    three_members_consume_everything_and_commit_the_log_end(Assignor::CooperativeSticky, |_| {});
}

/// A member that stops polling for longer than `max.poll.interval.ms` is taken out of the
/// group by its own heartbeat task (LeaveGroup), the other member takes every partition, a
/// commit from the stalled member is not sent (a definite failure), and its next poll reports
/// its partitions lost before it joins again.
#[test]
fn a_member_that_stops_polling_leaves_and_finds_its_partitions_lost() {
    simulate_cluster(one_broker(), move |addrs, clock| async move {
        produce(&addrs, clock).await;
        let mut config = member_config(&addrs, Assignor::Range);
        config.max_poll_interval = Duration::from_millis(3_000);
        let seen_stalled: Arc<Mutex<Seen>> = Arc::default();
        let seen_other: Arc<Mutex<Seen>> = Arc::default();
        let mut stalled =
            GroupConsumer::new(config.clone(), Box::new(Recorder(seen_stalled.clone())));
        let mut other = GroupConsumer::new(config, Box::new(Recorder(seen_other.clone())));
        stalled.subscribe(&[TOPIC.to_string()]);
        other.subscribe(&[TOPIC.to_string()]);
        let other = tokio::spawn(async move {
            // Poll for 15 s: through the first rebalance and the stalled member's leaving.
            for _ in 0..75 {
                other.poll(Duration::from_millis(200)).await.expect("poll");
            }
            let owned = other.assignment();
            let report = other.commit_sync(None).await;
            other.close().await;
            (owned, report)
        });
        stalled
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        for _ in 0..20 {
            if !stalled.assignment().is_empty() {
                break;
            }
            stalled
                .poll(Duration::from_millis(200))
                .await
                .expect("poll");
        }
        let owned_before = stalled.assignment();
        assert!(
            !owned_before.is_empty(),
            "the stalled member got partitions"
        );
        let generation_before = stalled.generation_id();
        let member_before = stalled.member_id();

        tokio::time::sleep(Duration::from_millis(5_000)).await;
        assert!(
            stalled.take_poll_expired(),
            "the heartbeat task left the group"
        );
        assert_eq!(stalled.generation_id(), -1);
        let report = stalled.commit_sync(None).await;
        assert!(
            matches!(report.outcome, CommitOutcome::Fail(_)),
            "{report:?}"
        );
        assert_eq!(report.invoke.generation_id, -1);
        assert_eq!(seen_stalled.lock().unwrap().lost, 0);

        stalled
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        assert_eq!(
            seen_stalled.lock().unwrap().lost,
            1,
            "the partitions owned in generation {generation_before} are lost"
        );
        assert_eq!(
            seen_stalled.lock().unwrap().lost_by,
            [(generation_before, member_before)],
            "lost partitions are reported as the old generation's"
        );
        assert!(stalled.generation_id() > generation_before);

        let (owned_by_other, report) = other.await.expect("other member");
        assert!(matches!(report.outcome, CommitOutcome::Ok), "{report:?}");
        assert!(!owned_by_other.is_empty());
        let took_everything = seen_other
            .lock()
            .unwrap()
            .assigned
            .iter()
            .any(|(_, partitions)| partitions.len() == PARTITIONS as usize);
        assert!(took_everything, "the other member took every partition");
        stalled.close().await;
    });
}

/// Static membership (KIP-345): a static member's close sends no LeaveGroup, so the group
/// does not rebalance; the same `group.instance.id` joining again within the session timeout
/// gets the partitions back, and the other member's generation never changes.
#[test]
fn a_static_member_closes_without_leaving_and_comes_back_to_its_partitions() {
    simulate_cluster(one_broker(), move |addrs, clock| async move {
        produce(&addrs, clock).await;
        let static_config = |instance: &str| {
            let mut config = member_config(&addrs, Assignor::Range);
            config.group_instance_id = Some(instance.to_string());
            config
        };
        let mut first = GroupConsumer::new(static_config("a"), Box::new(NoListener));
        let mut other = GroupConsumer::new(static_config("b"), Box::new(NoListener));
        first.subscribe(&[TOPIC.to_string()]);
        other.subscribe(&[TOPIC.to_string()]);
        let other = tokio::spawn(async move {
            let mut generations = BTreeSet::new();
            for _ in 0..60 {
                other.poll(Duration::from_millis(200)).await.expect("poll");
                if other.state() == MemberState::Stable {
                    generations.insert(other.generation_id());
                }
            }
            other.close().await;
            generations
        });
        for _ in 0..40 {
            first.poll(Duration::from_millis(200)).await.expect("poll");
            if first.assignment().len() == PARTITIONS as usize / 2 {
                break;
            }
        }
        let owned = first.assignment();
        assert_eq!(owned.len(), PARTITIONS as usize / 2, "{owned:?}");
        first.close().await;
        drop(first);

        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let mut again = GroupConsumer::new(static_config("a"), Box::new(NoListener));
        again.subscribe(&[TOPIC.to_string()]);
        for _ in 0..20 {
            again.poll(Duration::from_millis(200)).await.expect("poll");
            if !again.assignment().is_empty() {
                break;
            }
        }
        assert_eq!(again.assignment(), owned, "the same partitions come back");
        let generations = other.await.expect("other member");
        assert_eq!(
            generations.len(),
            1,
            "the other member saw one generation: {generations:?}"
        );
        again.close().await;
    });
}

/// The coordinator (the only broker) restarts while a member consumes: the member finds it
/// again, carries on, and the records and committed offsets are all there in the end.
#[test]
fn a_member_carries_on_after_its_coordinator_restarts() {
    simulate_cluster(one_broker(), move |addrs, clock| async move {
        let values = produce(&addrs, clock).await;
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let mut consumer = GroupConsumer::new(
            member_config(&addrs, Assignor::CooperativeSticky),
            Box::new(Recorder(seen.clone())),
        );
        consumer.subscribe(&[TOPIC.to_string()]);
        let mut consumed = BTreeSet::new();
        let mut restarted = false;
        for _ in 0..500 {
            for record in consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll")
            {
                consumed.insert(String::from_utf8(record.value.unwrap().to_vec()).unwrap());
            }
            if !restarted && consumed.len() >= values.len() / 2 {
                restart_broker(1);
                restarted = true;
            }
            if consumed.len() == values.len() {
                break;
            }
        }
        assert!(restarted);
        assert_eq!(consumed, values, "every record consumed");
        // An async commit right after the restart may find the old connection broken (a
        // fail or an info, never a false ok); commit_sync retries until it is answered.
        let id = consumer.commit_async(None);
        let report = consumer.commit_sync(None).await;
        assert_eq!(report.outcome, CommitOutcome::Ok, "{report:?}");
        consumer.close().await;
        // Whatever its outcome, the async commit is reported by the time close returns.
        let reported = seen
            .lock()
            .unwrap()
            .commits
            .iter()
            .any(|report| report.invoke.id == id);
        assert!(reported, "the async commit was reported");

        let mut reader = GroupConsumer::new(
            member_config(&addrs, Assignor::CooperativeSticky),
            Box::new(NoListener),
        );
        let partitions: Vec<(String, i32)> =
            (0..PARTITIONS).map(|p| (TOPIC.to_string(), p)).collect();
        let committed = reader.committed(&partitions).await.expect("committed");
        assert!(
            committed
                .values()
                .all(|offset| *offset == Some(RECORDS_PER_PARTITION)),
            "{committed:?}"
        );
    });
}

#[test]
fn three_roundrobin_members_consume_everything_and_commit_the_log_end() {
    three_members_consume_everything_and_commit_the_log_end(Assignor::RoundRobin, |_| {});
}

#[test]
fn three_eager_sticky_members_consume_everything_and_commit_the_log_end() {
    // Eager members are told their whole assignment each generation: with `sticky`, a
    // member that stays keeps everything it had when another leaves.
    three_members_consume_everything_and_commit_the_log_end(Assignor::Sticky, |seen| {
        let mut rebalances = 0;
        for seen in seen {
            let seen = seen.lock().unwrap();
            for pair in seen.assigned.windows(2) {
                let (before, after) = (&pair[0].1, &pair[1].1);
                assert!(
                    before.iter().all(|partition| after.contains(partition)),
                    "{before:?} then {after:?}"
                );
                rebalances += 1;
            }
        }
        assert!(rebalances >= 2, "members stayed through rebalances");
    });
}

/// Partitions added to a subscribed topic (issue 12, item 9): the member that ran the
/// assignor refreshes the topic's metadata every `metadata.max.age.ms`, sees nine partitions
/// where it assigned six, and rejoins; the group rebalances, each new partition goes to one
/// member, and every record written to the new partitions is consumed from their start (no
/// committed offset: `auto.offset.reset = earliest`). With Kafka's default of five minutes
/// the group would not notice within the minute this test waits.
fn members_rebalance_over_added_partitions(strategy: Assignor) {
    const GROWN: i32 = 9;
    simulate_cluster(one_broker(), move |addrs, clock| async move {
        let mut values = produce(&addrs, clock).await;
        let consumed: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let seen: Vec<Arc<Mutex<Seen>>> = (0..MEMBERS).map(|_| Arc::default()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let members: Vec<_> = (0..MEMBERS)
            .map(|index| {
                let mut config = member_config(&addrs, strategy);
                config.metadata_max_age = Duration::from_millis(1_000);
                let (consumed, seen, stop) = (consumed.clone(), seen[index].clone(), stop.clone());
                tokio::spawn(async move {
                    let mut consumer = GroupConsumer::new(config, Box::new(Recorder(seen)));
                    consumer.subscribe(&[TOPIC.to_string()]);
                    while !stop.load(Ordering::Relaxed) {
                        let records = consumer
                            .poll(Duration::from_millis(200))
                            .await
                            .expect("poll");
                        let owned = consumer.assignment();
                        let mut consumed = consumed.lock().unwrap();
                        for record in records {
                            assert!(owned.contains(&(record.topic.clone(), record.partition)));
                            consumed
                                .insert(String::from_utf8(record.value.unwrap().to_vec()).unwrap());
                        }
                    }
                    consumer.close().await;
                })
            })
            .collect();
        assert!(
            consumed_within_a_minute(&consumed, &values).await,
            "the first records consumed"
        );
        let generation_before = *generations(&seen).last().expect("a generation");

        let mut admin = Admin::new(addrs.clone(), Duration::from_secs(5));
        admin
            .create_partitions(TOPIC, GROWN)
            .await
            .expect("CreatePartitions");
        values.extend(produce_to(&addrs, clock, PARTITIONS..GROWN).await);
        assert!(
            consumed_within_a_minute(&consumed, &values).await,
            "every record of the added partitions consumed"
        );
        stop.store(true, Ordering::Relaxed);
        for member in members {
            member.await.expect("member task");
        }

        // Each added partition was assigned after the growth, to one member per generation.
        let mut owners: BTreeMap<(i32, i32), Vec<usize>> = BTreeMap::new();
        for (index, seen) in seen.iter().enumerate() {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.lost, 0, "member {index} lost partitions");
            for (generation, partitions) in &seen.assigned {
                for (_, partition) in partitions.iter().filter(|(_, p)| *p >= PARTITIONS) {
                    assert!(
                        *generation > generation_before,
                        "{partition} before the growth"
                    );
                    owners
                        .entry((*generation, *partition))
                        .or_default()
                        .push(index);
                }
            }
        }
        let assigned: BTreeSet<i32> = owners.keys().map(|(_, partition)| *partition).collect();
        assert_eq!(assigned, (PARTITIONS..GROWN).collect(), "{owners:?}");
        assert!(
            owners.values().all(|members| members.len() == 1),
            "a new partition assigned twice in one generation: {owners:?}"
        );
        assert_eq!(*consumed.lock().unwrap(), values);
    });
}

/// Waits (simulated time) until every one of `values` was consumed; false after a minute.
async fn consumed_within_a_minute(
    consumed: &Mutex<BTreeSet<String>>,
    values: &BTreeSet<String>,
) -> bool {
    for _ in 0..300 {
        if consumed.lock().unwrap().is_superset(values) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The generations the members were assigned in, sorted.
fn generations(seen: &[Arc<Mutex<Seen>>]) -> Vec<i32> {
    let generations: BTreeSet<i32> = seen
        .iter()
        .flat_map(|seen| {
            let seen = seen.lock().unwrap();
            seen.assigned
                .iter()
                .map(|(generation, _)| *generation)
                .collect::<Vec<_>>()
        })
        .collect();
    generations.into_iter().collect()
}

#[test]
fn eager_range_members_rebalance_over_added_partitions() {
    members_rebalance_over_added_partitions(Assignor::Range);
}

#[test]
fn cooperative_sticky_members_rebalance_over_added_partitions() {
    members_rebalance_over_added_partitions(Assignor::CooperativeSticky);
}
