//! `[[topic]]` and `[[workload]]` tables.

use super::*;

pub(super) fn topics_from(root: &Obj, cluster: &Cluster) -> Result<Vec<Topic>> {
    let field = root
        .get("topic")
        .ok_or_else(|| missing_section(root, "[[topic]]"))?;
    let tables = field.tables()?;
    if tables.is_empty() {
        return Err(field.error("declare at least one [[topic]]"));
    }
    let mut topics: Vec<Topic> = Vec::new();
    for table in &tables {
        let topic = topic_from(table, cluster)?;
        if topics.iter().any(|earlier| earlier.name == topic.name) {
            let name = table.get("name").expect("topic_from checked name");
            return Err(name.error(format!("topic \"{}\" is declared twice", topic.name)));
        }
        topics.push(topic);
    }
    Ok(topics)
}

pub(super) fn topic_from(table: &Obj, cluster: &Cluster) -> Result<Topic> {
    table.check_keys(
        "[[topic]]",
        &[
            "name",
            "partitions",
            "replication_factor",
            "placement",
            "config",
        ],
    )?;
    let name = topic_name(&table.required("name", "the topic's name")?)?;
    let partitions = table
        .required("partitions", "an integer >= 1")?
        .int_in(1, PARTITIONS_MAX)?;
    let replication_factor = replication_factor(table, cluster)?;
    let placement = match table.get("placement") {
        Some(field) => Some(placement_from(
            &field,
            partitions,
            replication_factor,
            cluster,
        )?),
        None => None,
    };
    let config = match table.get("config") {
        Some(field) => configs_from(&field, Scope::Topic)?,
        None => Configs::new(),
    };
    Ok(Topic {
        name: name.to_string(),
        partitions: partitions as i32,
        replication_factor: replication_factor as i16,
        placement,
        config,
    })
}

/// Kafka's rule: 1..=249 characters of ASCII letters, digits, `.`, `_` and `-`.
pub(super) fn topic_name<'a>(field: &Field<'a>) -> Result<&'a str> {
    let name = field.non_empty_str()?;
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.len() > 249 || !name.chars().all(legal) || name == "." || name == ".." {
        return Err(field.error(format!(
            "invalid topic name \"{name}\": use at most 249 ASCII letters, digits, '.', '_' and '-'"
        )));
    }
    Ok(name)
}

pub(super) fn replication_factor(table: &Obj, cluster: &Cluster) -> Result<i64> {
    let field = table.required(
        "replication_factor",
        "an integer from 1 to the number of brokers",
    )?;
    let brokers = i64::from(cluster.brokers);
    let factor = field.int()?;
    if !(1..=brokers).contains(&factor) {
        return Err(field.error(format!(
            "expected a replication factor in 1..={brokers} (the cluster has {brokers} brokers), \
             found {factor}"
        )));
    }
    Ok(factor)
}

pub(super) fn placement_from(
    field: &Field,
    partitions: i64,
    replication_factor: i64,
    cluster: &Cluster,
) -> Result<Vec<Vec<i32>>> {
    let rows = field.array()?;
    if rows.len() as i64 != partitions {
        return Err(field.error(format!(
            "expected one replica list per partition ({partitions}), found {}",
            rows.len()
        )));
    }
    rows.iter()
        .map(|row| placement_row(row, replication_factor, cluster))
        .collect()
}

pub(super) fn placement_row(
    row: &Field,
    replication_factor: i64,
    cluster: &Cluster,
) -> Result<Vec<i32>> {
    let ids = row.array()?;
    if ids.len() as i64 != replication_factor {
        return Err(row.error(format!(
            "expected {replication_factor} broker id(s) (the replication factor), found {}",
            ids.len()
        )));
    }
    let mut replicas = Vec::new();
    for id in &ids {
        let broker = id.int_in(1, i64::from(cluster.brokers))? as i32;
        if replicas.contains(&broker) {
            return Err(id.error(format!("broker {broker} is listed twice for one partition")));
        }
        replicas.push(broker);
    }
    Ok(replicas)
}

pub(super) fn workloads_from(root: &Obj, topics: &[Topic]) -> Result<Vec<Workload>> {
    let field = root
        .get("workload")
        .ok_or_else(|| missing_section(root, "[[workload]]"))?;
    let tables = field.tables()?;
    if tables.is_empty() {
        return Err(field.error("declare at least one [[workload]]"));
    }
    tables
        .iter()
        .map(|table| workload_from(table, topics))
        .collect()
}

pub(super) fn workload_from(table: &Obj, topics: &[Topic]) -> Result<Workload> {
    table.check_keys(
        "[[workload]]",
        &[
            "kind",
            "clients",
            "topic",
            "rate",
            "keyed",
            "config",
            "group",
            "static_members",
        ],
    )?;
    let kind_field = table.required(
        "kind",
        r#""producer", "consumer", "group-consumer" or "list-offsets""#,
    )?;
    let kind = match kind_field.str()? {
        "producer" => WorkloadKind::Producer,
        "consumer" => WorkloadKind::Consumer,
        "group-consumer" => WorkloadKind::GroupConsumer,
        "list-offsets" => WorkloadKind::ListOffsets,
        other => {
            let message = format!(
                r#"expected "producer", "consumer", "group-consumer" or "list-offsets", found "{other}""#
            );
            let kinds = ["producer", "consumer", "group-consumer", "list-offsets"];
            let suggestion = did_you_mean(other, &kinds).map(str::to_string);
            return Err(ScenarioError {
                suggestion,
                ..kind_field.error(message)
            });
        }
    };
    let clients = match table.get("clients") {
        Some(field) => field.int_in(1, CLIENTS_MAX)? as u32,
        None => 1,
    };
    let topic = workload_topic(&table.required("topic", "the name of a [[topic]]")?, topics)?;
    let (rate_per_sec, keyed) = match kind {
        WorkloadKind::Producer => producer_fields(table)?,
        WorkloadKind::Consumer | WorkloadKind::GroupConsumer => consumer_fields(table)?,
        WorkloadKind::ListOffsets => list_offsets_fields(table)?,
    };
    let place = match kind {
        WorkloadKind::Producer => Scope::Producer,
        WorkloadKind::Consumer | WorkloadKind::GroupConsumer | WorkloadKind::ListOffsets => {
            Scope::Consumer
        }
    };
    let config = match table.get("config") {
        Some(field) => configs_from(&field, place)?,
        None => Configs::new(),
    };
    if kind == WorkloadKind::Producer {
        check_delivery_timeout(table, &config)?;
    }
    let group_field = |key: &str| match (table.get(key), kind) {
        (Some(field), WorkloadKind::GroupConsumer) => Ok(Some(field)),
        (Some(field), _) => Err(field.error(format!(
            "`{key}` is for kind = \"group-consumer\" workloads"
        ))),
        (None, _) => Ok(None),
    };
    let group = match group_field("group")? {
        Some(field) => field.str()?.to_string(),
        None => "group".to_string(),
    };
    if group.is_empty() {
        let field = table.get("group").expect("read above");
        return Err(field.error("a group id may not be empty"));
    }
    let static_members = match group_field("static_members")? {
        Some(field) => field.bool()?,
        None => false,
    };
    Ok(Workload {
        kind,
        clients,
        topic,
        rate_per_sec,
        keyed,
        config,
        group,
        static_members,
    })
}

/// Kafka's producer refuses to start when a configured delivery.timeout.ms is shorter than
/// linger.ms + request.timeout.ms; so do we, rather than run a client Kafka would not.
pub(super) fn check_delivery_timeout(table: &Obj, config: &Configs) -> Result<()> {
    if !config.contains_key("delivery.timeout.ms") {
        return Ok(());
    }
    let value = |name| configs::int_or_default(config, Scope::Producer, name);
    let delivery = value("delivery.timeout.ms");
    let floor = value("linger.ms").saturating_add(value("request.timeout.ms"));
    if delivery >= floor {
        return Ok(());
    }
    let config_field = table.get("config").expect("the key came from config");
    // Point at the value when written as one quoted key; a bare dotted key points at config.
    let located = config_field
        .table()?
        .get("delivery.timeout.ms")
        .unwrap_or(config_field);
    let message = format!(
        "delivery.timeout.ms ({delivery}) must be at least linger.ms + request.timeout.ms \
         ({floor}), as Kafka's producer requires"
    );
    let path = join_path(&table.path, "config") + ".\"delivery.timeout.ms\"";
    Err(Field { path, ..located }.error(message))
}

pub(super) fn workload_topic(field: &Field, topics: &[Topic]) -> Result<String> {
    let name = field.str()?;
    if topics.iter().any(|topic| topic.name == name) {
        return Ok(name.to_string());
    }
    let names: Vec<&str> = topics.iter().map(|topic| topic.name.as_str()).collect();
    let message = format!(
        "unknown topic \"{name}\": declared topics are {}",
        names
            .iter()
            .map(|name| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let suggestion = did_you_mean(name, &names).map(str::to_string);
    Err(ScenarioError {
        suggestion,
        ..field.error(message)
    })
}

pub(super) fn producer_fields(table: &Obj) -> Result<(f64, bool)> {
    let rate = table.required("rate", r#"sends per second per client, e.g. "500/s""#)?;
    let rate_per_sec = parse_rate_per_sec(rate.str()?).map_err(|message| rate.error(message))?;
    let keyed = match table.get("keyed") {
        Some(field) => field.bool()?,
        None => true,
    };
    Ok((rate_per_sec, keyed))
}

pub(super) fn list_offsets_fields(table: &Obj) -> Result<(f64, bool)> {
    if let Some(field) = table.get("keyed") {
        return Err(field.error("`keyed` applies to producers only"));
    }
    let rate = table.required(
        "rate",
        r#"ListOffsets rounds per second per client, e.g. "20/s""#,
    )?;
    let rate_per_sec = parse_rate_per_sec(rate.str()?).map_err(|message| rate.error(message))?;
    Ok((rate_per_sec, false))
}

pub(super) fn consumer_fields(table: &Obj) -> Result<(f64, bool)> {
    for key in ["rate", "keyed"] {
        if let Some(field) = table.get(key) {
            return Err(field.error(format!("`{key}` applies to producers only")));
        }
    }
    Ok((0.0, false))
}
