//! Creating and deleting topics: placement and rejections.

use super::*;

#[test]
fn create_topic_places_replicas_round_robin_over_unfenced_brokers() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    cluster.create("a", 3, 2);
    let replicas = |c: &Cluster, t: &str, p: i32| c.partition(t, p).replicas;
    assert_eq!(replicas(&cluster, "a", 0), vec![1, 2]);
    assert_eq!(replicas(&cluster, "a", 1), vec![2, 3]);
    assert_eq!(replicas(&cluster, "a", 2), vec![3, 1]);
    let p = cluster.partition("a", 1);
    assert_eq!(summary(&p), (2, vec![2, 3], 0, 0));
    // The second topic starts one broker further, so leaders spread across topics.
    cluster.create("b", 1, 3);
    assert_eq!(replicas(&cluster, "b", 0), vec![2, 3, 1]);
    // A fenced broker gets no replicas.
    cluster.kill(&[2], 0);
    cluster.create("c", 2, 2);
    assert_eq!(replicas(&cluster, "c", 0), vec![1, 3]);
    assert_eq!(replicas(&cluster, "c", 1), vec![3, 1]);
    let topics = &cluster.controller.state().topics;
    let ids: std::collections::BTreeSet<u128> = topics.values().map(|t| t.topic_id).collect();
    assert_eq!(ids.len(), 3);
    assert!(!ids.contains(&0));
}

#[test]
fn create_topic_rejects_bad_requests() {
    let mut cluster = Cluster::new(&[1, 2]);
    cluster.create("t", 1, 2);
    let c = &mut cluster.controller;
    let code = |r: Result<Vec<MetadataRecord>, ControllerError>| r.unwrap_err().code();
    assert_eq!(code(c.create_topic("t", 1, 1)), 36); // TOPIC_ALREADY_EXISTS
    assert_eq!(code(c.create_topic("u", 0, 1)), 37); // INVALID_PARTITIONS
    assert_eq!(code(c.create_topic("u", 1, 3)), 38); // INVALID_REPLICATION_FACTOR
    assert_eq!(code(c.create_topic("u", 1, 0)), 38);
    assert_eq!(code(c.create_topic("bad name", 1, 1)), 17); // INVALID_TOPIC_EXCEPTION
    assert_eq!(code(c.create_topic("..", 1, 1)), 17);
    assert_eq!(code(c.create_topic("", 1, 1)), 17);
}

#[test]
fn delete_topic_removes_it_and_a_recreated_topic_gets_a_new_id() {
    let mut cluster = Cluster::new(&[1]);
    cluster.create("t", 1, 1);
    let first_id = cluster.controller.state().topics["t"].topic_id;
    let records = cluster.controller.delete_topic("t");
    assert_eq!(
        cluster.ok(records),
        vec![MetadataRecord::RemoveTopic { name: "t".into() }]
    );
    assert!(cluster.controller.state().partition("t", 0).is_none());
    let unknown = cluster.controller.delete_topic("t").unwrap_err();
    assert_eq!(unknown, ControllerError::UnknownTopicOrPartition);
    cluster.create("t", 1, 1);
    assert_ne!(cluster.controller.state().topics["t"].topic_id, first_id);
}

#[test]
fn topic_configs_are_config_records_that_a_replayed_log_restores() {
    let mut cluster = Cluster::new(&[1, 2, 3]);
    let configs: std::collections::BTreeMap<String, String> = [
        ("retention.ms".to_string(), "3600000".to_string()),
        (
            "unclean.leader.election.enable".to_string(),
            "true".to_string(),
        ),
    ]
    .into();
    let created = cluster.controller.create_topic("t", 1, 3).unwrap();
    let created = cluster
        .controller
        .with_topic_configs(created, "t", &configs);
    assert_eq!(
        cluster.commit(created).len(),
        1 + 1 + 2,
        "topic, partition, two configs"
    );
    assert_eq!(cluster.controller.state().topics["t"].configs, configs);
    assert!(cluster.controller.unclean_enabled_for("t"));

    // SET one, DELETE one, and a SET to the current value writes nothing.
    let changes = [
        ("min.insync.replicas".to_string(), Some("2".to_string())),
        ("unclean.leader.election.enable".to_string(), None),
        ("retention.ms".to_string(), Some("3600000".to_string())),
    ];
    let altered = cluster.controller.alter_topic_configs("t", &changes);
    assert_eq!(cluster.ok(altered).len(), 2);
    let expected: std::collections::BTreeMap<String, String> = [
        ("min.insync.replicas".to_string(), "2".to_string()),
        ("retention.ms".to_string(), "3600000".to_string()),
    ]
    .into();
    assert_eq!(cluster.controller.state().topics["t"].configs, expected);
    assert!(!cluster.controller.unclean_enabled_for("t"));

    // The log's bytes, replayed, give the same configs.
    let decoded = decode_log(&cluster.log);
    assert_eq!(decoded.error, None);
    let mut replayed = crate::metadata::MetadataState::default();
    for record in &decoded.records {
        replayed.apply(record);
    }
    assert_eq!(replayed.topics["t"].configs, expected);

    // Unknown topics are refused; deleting the topic drops its configs with it.
    let unknown = cluster
        .controller
        .alter_topic_configs("u", &changes)
        .unwrap_err();
    assert_eq!(unknown, ControllerError::UnknownTopicOrPartition);
    let deleted = cluster.controller.delete_topic("t");
    cluster.ok(deleted);
    cluster.create("t", 1, 1);
    assert!(cluster.controller.state().topics["t"].configs.is_empty());
}
