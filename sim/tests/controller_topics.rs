//! Topics created at run time in a cluster with a controller: CreateTopics and Metadata's
//! auto-creation are forwarded by the receiving broker to the controller, which places the
//! replicas over the brokers (or takes a manual assignment), writes the topic to the metadata
//! log, and every broker opens its replicas when it applies it. CreatePartitions grows a topic
//! the same way. Before, the receiving broker
//! created every partition on itself alone (RF 1), behind the controller's back.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreatePartitionsRequest, CreateTopicsRequest, MetadataRequest, RequestKind,
    ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafkasim::client::connection::Connection;
use kafkasim::client::{
    Admin, AdminError, Consumer, ConsumerConfig, OffsetReset, Producer, ProducerConfig,
    ProducerRecord,
};
use kafkasim::protocol::ErrorCode;
use kafkasim_sim::cluster::clock::{RunClock, SimClock};
use kafkasim_sim::cluster::{bootstrap, client_ip, SimCluster};
use kafkasim_sim::scenario::parse;
use kafkasim_sim::trace::RunTrace;
use madsim::runtime::{Handle, Runtime};

const SCENARIO: &str = r#"
[scenario]
name = "controller-topics"
why = "topics created at run time through the controller"
duration = "30s"

[cluster]
brokers = 3

[broker]
"default.replication.factor" = 3
"num.partitions" = 2
# acks=all needs every replica: the followers of run-time partitions must fetch.
"min.insync.replicas" = 3

[model]
controller = true

[[topic]]
name = "t"
partitions = 1
replication_factor = 3

# Parsed for the cluster only: this test drives its own client.
[[workload]]
kind = "producer"
topic = "t"
rate = "1/s"

[expect]
verdict = "valid"
"#;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

/// Partitions of `topic` as (leader, replicas, ISR) by index, once every partition has a
/// leader and a full ISR; panics after 20 s.
async fn settled(admin: &mut Admin, topic: &str) -> Vec<(i32, Vec<i32>, Vec<i32>)> {
    for _ in 0..200 {
        if let Ok(partitions) = admin.describe_topic(topic).await {
            let all_in_sync = partitions
                .iter()
                .all(|p| p.leader >= 0 && p.isr.len() == p.replicas.len());
            if !partitions.is_empty() && all_in_sync {
                return partitions
                    .into_iter()
                    .map(|p| (p.leader, p.replicas, p.isr))
                    .collect();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{topic} never settled: {:?}",
        admin.describe_topic(topic).await
    );
}

fn code_of(result: Result<(), AdminError>) -> ErrorCode {
    match result {
        Ok(()) => ErrorCode::NONE,
        Err(AdminError::Kafka { code, .. }) => code,
        Err(other) => panic!("not a Kafka error: {other}"),
    }
}

#[test]
fn create_topics_goes_through_the_controller() {
    run_cluster(1, client);
}

/// Start the scenario's cluster under seed `seed` on a fresh thread and run `client` on a
/// client node of its own, given the brokers' addresses and the run's clock.
fn run_cluster<F, Fut>(seed: u64, client: F)
where
    F: FnOnce(Vec<std::net::SocketAddr>, RunClock) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let scenario = parse("controller-topics.toml", SCENARIO).expect("valid scenario");
    let thread = std::thread::spawn(move || {
        let mut runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
        runtime.set_time_limit(Duration::from_secs(600));
        runtime.block_on(async move {
            let clock = RunClock::start();
            let _cluster = SimCluster::start(&scenario, seed, RunTrace::new(), clock);
            let addrs = bootstrap(&scenario);
            let node = Handle::current()
                .create_node()
                .name("client")
                .ip(client_ip(0))
                .build();
            node.spawn(async move { client(addrs, clock).await })
                .await
                .expect("client task");
        });
    });
    thread.join().expect("the run finished");
}

async fn client(addrs: Vec<std::net::SocketAddr>, clock: RunClock) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut admin = Admin::new(addrs.clone(), Duration::from_secs(5));

    // Replication factor 3 over the 3 brokers, placed round-robin, all in sync.
    assert_eq!(
        code_of(admin.create_topic("rf3", 3, 3, &[]).await),
        ErrorCode::NONE
    );
    let partitions = settled(&mut admin, "rf3").await;
    assert_eq!(partitions.len(), 3);
    for (leader, replicas, _) in &partitions {
        let mut sorted = replicas.clone();
        sorted.sort();
        assert_eq!(sorted, vec![1, 2, 3]);
        assert_eq!(*leader, replicas[0]);
    }
    let leaders: std::collections::BTreeSet<i32> = partitions.iter().map(|p| p.0).collect();
    assert_eq!(leaders.len(), 3, "leadership spread: {partitions:?}");

    // Topic ids (KIP-516) come from the controller's TopicRecord: every broker reports the
    // same non-zero id in Metadata v12.
    let mut ids = Vec::new();
    for addr in &addrs {
        ids.push(topic_id(*addr, "rf3").await);
    }
    assert!(ids[0] != 0 && ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    // CreateTopics v7 answers with the id the brokers then report.
    let mut t = CreatableTopic::default();
    t.name = name("with-id");
    t.num_partitions = 1;
    t.replication_factor = 3;
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![t];
    request.timeout_ms = 5_000;
    let response = request_to(addrs[0], request.into(), ApiKey::CreateTopics, 7).await;
    let ResponseKind::CreateTopics(response) = response else {
        panic!("not a CreateTopics response");
    };
    let created = response.topics[0].topic_id.as_u128();
    settled(&mut admin, "with-id").await;
    assert!(created != 0 && created != ids[0]);
    assert_eq!(topic_id(addrs[1], "with-id").await, created);

    // Kafka's refusals, from the controller.
    let codes = [
        code_of(admin.create_topic("rf4", 1, 4, &[]).await),
        code_of(admin.create_topic("rf3", 1, 1, &[]).await),
        code_of(admin.create_topic("zero", 0, 1, &[]).await),
        code_of(admin.create_topic("bad$name", 1, 1, &[]).await),
    ];
    assert_eq!(
        codes,
        [
            ErrorCode::INVALID_REPLICATION_FACTOR,
            ErrorCode::TOPIC_ALREADY_EXISTS,
            ErrorCode::INVALID_PARTITIONS,
            ErrorCode::INVALID_TOPIC_EXCEPTION,
        ]
    );
    // -1 takes the broker's num.partitions and default.replication.factor.
    assert_eq!(
        code_of(admin.create_topic("defaults", -1, -1, &[]).await),
        ErrorCode::NONE
    );
    let partitions = settled(&mut admin, "defaults").await;
    assert_eq!(partitions.len(), 2);
    assert!(partitions.iter().all(|p| p.1.len() == 3));

    // A manual assignment is kept as given.
    let assigned = create_assigned(&addrs, "assigned", &[vec![2, 3], vec![3, 1]], false).await;
    assert_eq!(assigned, ErrorCode::NONE);
    let partitions = settled(&mut admin, "assigned").await;
    let placement: Vec<Vec<i32>> = partitions.iter().map(|p| p.1.clone()).collect();
    assert_eq!(placement, vec![vec![2, 3], vec![3, 1]]);
    for (placement, expected) in [
        (vec![vec![2, 2]], ErrorCode::INVALID_REPLICA_ASSIGNMENT),
        (vec![vec![2, 9]], ErrorCode::INVALID_REPLICA_ASSIGNMENT),
        (
            vec![vec![1, 2], vec![3]],
            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
        ),
    ] {
        let code = create_assigned(&addrs, "refused", &placement, false).await;
        assert_eq!(code, expected, "{placement:?}");
    }
    // validate_only decides without creating.
    assert_eq!(
        create_assigned(&addrs, "validated", &[vec![1, 2]], true).await,
        ErrorCode::NONE
    );
    assert_eq!(
        code_of(admin.describe_topic("validated").await.map(|_| ())),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );

    // Metadata auto-creation: LEADER_NOT_AVAILABLE while the controller creates it (as
    // Kafka answers), then the topic with the broker defaults.
    let first = metadata_code(&addrs, "auto").await;
    assert_eq!(first, ErrorCode::LEADER_NOT_AVAILABLE);
    let partitions = settled(&mut admin, "auto").await;
    assert_eq!(partitions.len(), 2);
    assert!(partitions.iter().all(|p| p.1.len() == 3));

    // CreatePartitions grows it through the controller with the topic's replication factor.
    assert_eq!(create_partitions(&addrs, "rf3", 5).await, ErrorCode::NONE);
    let partitions = settled(&mut admin, "rf3").await;
    assert_eq!(partitions.len(), 5);
    assert!(partitions.iter().all(|p| p.1.len() == 3), "{partitions:?}");
    assert_eq!(
        create_partitions(&addrs, "rf3", 5).await,
        ErrorCode::INVALID_PARTITIONS
    );
    assert_eq!(
        create_partitions(&addrs, "nope", 5).await,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );

    // The new topic takes acks=all writes on every broker that leads part of it.
    let mut config = ProducerConfig::new(addrs.clone());
    config.acks = -1;
    config.delivery_timeout = Duration::from_secs(20);
    let producer = Producer::new(config, Arc::new(SimClock::new(clock, Arc::default())));
    for partition in 0..5 {
        let (_, delivery) = producer
            .send(ProducerRecord {
                topic: "rf3".into(),
                partition: Some(partition),
                key: None,
                value: Some(Bytes::from(format!("value-{partition}"))),
            })
            .await
            .expect("send");
        delivery.await.expect("reply").expect("acknowledged");
    }
    let mut config = ConsumerConfig::new(addrs.clone());
    config.auto_offset_reset = OffsetReset::Earliest;
    let mut consumer = Consumer::new(config);
    consumer.assign(&[0, 1, 2, 3, 4].map(|p| ("rf3".to_string(), p)));
    let mut seen = Vec::new();
    for _ in 0..20 {
        for record in consumer.poll(Duration::from_secs(1)).await.expect("poll") {
            seen.push(String::from_utf8(record.value.expect("value").to_vec()).unwrap());
        }
        if seen.len() >= 5 {
            break;
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        vec!["value-0", "value-1", "value-2", "value-3", "value-4"]
    );
}

async fn create_assigned(
    addrs: &[std::net::SocketAddr],
    topic: &str,
    placement: &[Vec<i32>],
    validate_only: bool,
) -> ErrorCode {
    let mut t = CreatableTopic::default();
    t.name = name(topic);
    t.num_partitions = -1;
    t.replication_factor = -1;
    t.assignments = placement
        .iter()
        .enumerate()
        .map(|(i, replicas)| {
            let mut a = CreatableReplicaAssignment::default();
            a.partition_index = i as i32;
            a.broker_ids = replicas.iter().map(|&b| BrokerId(b)).collect();
            a
        })
        .collect();
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![t];
    request.timeout_ms = 5_000;
    request.validate_only = validate_only;
    let response = request_to(
        addrs[0],
        RequestKind::CreateTopics(request),
        ApiKey::CreateTopics,
        5,
    )
    .await;
    let ResponseKind::CreateTopics(response) = response else {
        panic!("not a CreateTopics response");
    };
    ErrorCode::from_wire(response.topics[0].error_code)
}

async fn create_partitions(addrs: &[std::net::SocketAddr], topic: &str, count: i32) -> ErrorCode {
    let mut t = CreatePartitionsTopic::default();
    t.name = name(topic);
    t.count = count;
    t.assignments = None;
    let mut request = CreatePartitionsRequest::default();
    request.topics = vec![t];
    request.timeout_ms = 5_000;
    let response = request_to(
        addrs[2],
        RequestKind::CreatePartitions(request),
        ApiKey::CreatePartitions,
        3,
    )
    .await;
    let ResponseKind::CreatePartitions(response) = response else {
        panic!("not a CreatePartitions response");
    };
    ErrorCode::from_wire(response.results[0].error_code)
}

async fn metadata_code(addrs: &[std::net::SocketAddr], topic: &str) -> ErrorCode {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(name(topic));
    let mut request = MetadataRequest::default();
    request.topics = Some(vec![t]);
    request.allow_auto_topic_creation = true;
    let response = request_to(
        addrs[1],
        RequestKind::Metadata(request),
        ApiKey::Metadata,
        9,
    )
    .await;
    let ResponseKind::Metadata(response) = response else {
        panic!("not a Metadata response");
    };
    ErrorCode::from_wire(response.topics[0].error_code)
}

/// A topic's id as a broker's Metadata v12 reports it (0 if none).
async fn topic_id(addr: std::net::SocketAddr, topic: &str) -> u128 {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(name(topic));
    let mut request = MetadataRequest::default();
    request.topics = Some(vec![t]);
    let response = request_to(addr, RequestKind::Metadata(request), ApiKey::Metadata, 12).await;
    let ResponseKind::Metadata(response) = response else {
        panic!("not a Metadata response");
    };
    response.topics[0].topic_id.as_u128()
}

async fn request_to(
    addr: std::net::SocketAddr,
    body: RequestKind,
    api_key: ApiKey,
    version: i16,
) -> ResponseKind {
    let conn = Connection::connect(addr, "controller-topics", 1, Duration::from_secs(5))
        .await
        .expect("connect");
    conn.request(body, api_key, version, Duration::from_secs(10))
        .await
        .expect("a response")
}

/// Topic configs are ConfigRecords in the controller's metadata log: given at creation or
/// changed through any broker, every broker runs the topic with them. Before, the controller
/// refused configs at creation (INVALID_CONFIG) and a change stayed on the broker asked.
#[test]
fn topic_configs_go_through_the_metadata_log_to_every_broker() {
    run_cluster(2, |addrs, _| configs_client(addrs));
}

async fn configs_client(addrs: Vec<std::net::SocketAddr>) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut admin = Admin::new(addrs.clone(), Duration::from_secs(5));
    let retention = [("retention.ms".to_string(), "3600000".to_string())];
    assert_eq!(
        code_of(admin.create_topic("cfg", 2, 3, &retention).await),
        ErrorCode::NONE
    );
    settled(&mut admin, "cfg").await;
    every_broker_shows(&addrs, "cfg", &[("retention.ms", "3600000")]).await;

    // IncrementalAlterConfigs through broker 3 alone reaches brokers 1 and 2.
    let set_min_isr = [("min.insync.replicas", Some("2"), 0 /* SET */)];
    assert_eq!(
        incremental_alter(addrs[2], "cfg", &set_min_isr).await,
        ErrorCode::NONE
    );
    every_broker_shows(
        &addrs,
        "cfg",
        &[("min.insync.replicas", "2"), ("retention.ms", "3600000")],
    )
    .await;
    // DELETE through broker 1 takes retention.ms back to the default everywhere.
    let delete = [("retention.ms", None, 1 /* DELETE */)];
    assert_eq!(
        incremental_alter(addrs[0], "cfg", &delete).await,
        ErrorCode::NONE
    );
    every_broker_shows(&addrs, "cfg", &[("min.insync.replicas", "2")]).await;

    // Refusals: a bad value, an unknown config, an unknown topic; nothing changes.
    let bad = [("min.insync.replicas", Some("many"), 0)];
    assert_eq!(
        incremental_alter(addrs[1], "cfg", &bad).await,
        ErrorCode::INVALID_CONFIG
    );
    let unknown = [("no.such.config", Some("1"), 0)];
    assert_eq!(
        incremental_alter(addrs[1], "cfg", &unknown).await,
        ErrorCode::INVALID_CONFIG
    );
    assert_eq!(
        incremental_alter(addrs[1], "nope", &set_min_isr).await,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
    let bad_at_creation = [("retention.ms".to_string(), "soon".to_string())];
    assert_eq!(
        code_of(admin.create_topic("bad-cfg", 1, 3, &bad_at_creation).await),
        ErrorCode::INVALID_CONFIG
    );
    every_broker_shows(&addrs, "cfg", &[("min.insync.replicas", "2")]).await;

    // Dynamic broker configs are metadata records too: the cluster-wide default, set
    // through broker 2, reaches every broker; broker 1's own value only broker 1.
    let default = [("log.retention.ms", Some("7200000"), 0)];
    assert_eq!(
        alter_resource(addrs[1], 4, "", &default).await,
        ErrorCode::NONE
    );
    let own = [("log.flush.interval.messages", Some("5"), 0)];
    assert_eq!(
        alter_resource(addrs[0], 4, "1", &own).await,
        ErrorCode::NONE
    );
    let expected = [
        [("7200000", 3), ("5", 2)],
        [("7200000", 3), ("9223372036854775807", 5)],
        [("7200000", 3), ("9223372036854775807", 5)],
    ];
    for _ in 0..100 {
        let mut seen = Vec::new();
        for addr in &addrs {
            seen.push([
                topic_config(*addr, "cfg", "retention.ms").await,
                topic_config(*addr, "cfg", "flush.messages").await,
            ]);
        }
        let matches = seen.iter().zip(&expected).all(|(seen, expected)| {
            seen.iter()
                .zip(expected)
                .all(|((value, source), (want, want_source))| {
                    value == want && source == want_source
                })
        });
        if matches {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (addr, expected) in addrs.iter().zip(&expected) {
        let seen = [
            topic_config(*addr, "cfg", "retention.ms").await,
            topic_config(*addr, "cfg", "flush.messages").await,
        ];
        let seen: Vec<(&str, i8)> = seen.iter().map(|(v, s)| (v.as_str(), *s)).collect();
        assert_eq!(seen, expected.to_vec(), "broker at {addr}");
    }
    // A static broker config cannot change at run time.
    let fixed = [("replica.lag.time.max.ms", Some("5"), 0)];
    assert_eq!(
        alter_resource(addrs[0], 4, "1", &fixed).await,
        ErrorCode::INVALID_REQUEST
    );
}

/// One config of a topic as a broker describes it: (value, config source).
async fn topic_config(addr: std::net::SocketAddr, topic: &str, key: &str) -> (String, i8) {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::DescribeConfigsRequest;
    let mut resource = DescribeConfigsResource::default();
    resource.resource_type = 2;
    resource.resource_name = StrBytes::from_string(topic.to_string());
    resource.configuration_keys = Some(vec![StrBytes::from_string(key.to_string())]);
    let mut request = DescribeConfigsRequest::default();
    request.resources = vec![resource];
    let response = request_to(
        addr,
        RequestKind::DescribeConfigs(request),
        ApiKey::DescribeConfigs,
        4,
    )
    .await;
    let ResponseKind::DescribeConfigs(response) = response else {
        panic!("not a DescribeConfigs response");
    };
    let config = &response.results[0].configs[0];
    let value = config
        .value
        .as_ref()
        .map(|v| v.to_string())
        .unwrap_or_default();
    (value, config.config_source)
}

/// Wait (up to 10 s) until every broker describes `topic` with exactly these overrides.
async fn every_broker_shows(
    addrs: &[std::net::SocketAddr],
    topic: &str,
    expected: &[(&str, &str)],
) {
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.clear();
        for addr in addrs {
            seen.push(topic_overrides(*addr, topic).await);
        }
        if seen.iter().all(|s| *s == expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("brokers describe {topic} as {seen:?}, expected {expected:?} on each");
}

/// The topic's overrides (config source DYNAMIC_TOPIC_CONFIG) as one broker describes them.
async fn topic_overrides(addr: std::net::SocketAddr, topic: &str) -> Vec<(String, String)> {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::DescribeConfigsRequest;
    let mut resource = DescribeConfigsResource::default();
    resource.resource_type = 2;
    resource.resource_name = StrBytes::from_string(topic.to_string());
    resource.configuration_keys = None;
    let mut request = DescribeConfigsRequest::default();
    request.resources = vec![resource];
    let response = request_to(
        addr,
        RequestKind::DescribeConfigs(request),
        ApiKey::DescribeConfigs,
        4,
    )
    .await;
    let ResponseKind::DescribeConfigs(response) = response else {
        panic!("not a DescribeConfigs response");
    };
    let result = &response.results[0];
    assert_eq!(result.error_code, 0, "{:?}", result.error_message);
    let mut overrides: Vec<(String, String)> = result
        .configs
        .iter()
        .filter(|c| c.config_source == 1)
        .map(|c| {
            let value = c.value.as_ref().map(|v| v.to_string()).unwrap_or_default();
            (c.name.to_string(), value)
        })
        .collect();
    overrides.sort();
    overrides
}

async fn incremental_alter(
    addr: std::net::SocketAddr,
    topic: &str,
    ops: &[(&str, Option<&str>, i8)],
) -> ErrorCode {
    alter_resource(addr, 2, topic, ops).await
}

/// IncrementalAlterConfigs v1 of one resource (type 2 topic, 4 broker): its error code.
async fn alter_resource(
    addr: std::net::SocketAddr,
    resource_type: i8,
    name: &str,
    ops: &[(&str, Option<&str>, i8)],
) -> ErrorCode {
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    use kafka_protocol::messages::IncrementalAlterConfigsRequest;
    let mut resource = AlterConfigsResource::default();
    resource.resource_type = resource_type;
    resource.resource_name = StrBytes::from_string(name.to_string());
    resource.configs = ops
        .iter()
        .map(|(name, value, op)| {
            let mut config = AlterableConfig::default();
            config.name = StrBytes::from_string(name.to_string());
            config.value = value.map(|v| StrBytes::from_string(v.to_string()));
            config.config_operation = *op;
            config
        })
        .collect();
    let mut request = IncrementalAlterConfigsRequest::default();
    request.resources = vec![resource];
    let response = request_to(
        addr,
        RequestKind::IncrementalAlterConfigs(request),
        ApiKey::IncrementalAlterConfigs,
        1,
    )
    .await;
    let ResponseKind::IncrementalAlterConfigs(response) = response else {
        panic!("not an IncrementalAlterConfigs response");
    };
    ErrorCode::from_wire(response.responses[0].error_code)
}
