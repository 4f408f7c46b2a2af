//! The top-level sections of a scenario file, in the order they are validated, and the
//! small ones read here: the header, `[cluster]` and `[model]`.

use super::*;

/// Top-level tables, in the order they are validated, and how each is written.
pub(super) const SECTIONS: &[(&str, &str)] = &[
    ("scenario", "[scenario]"),
    ("cluster", "[cluster]"),
    ("broker", "[broker]"),
    ("model", "[model]"),
    ("topic", "[[topic]]"),
    ("workload", "[[workload]]"),
    ("fault", "[[fault]]"),
    ("nemesis", "[nemesis]"),
    ("expect", "[expect]"),
];

pub(super) fn scenario_from(root: &Obj) -> Result<Scenario> {
    check_sections(root)?;
    let section = |name: &str| root.get(name);
    let header = section("scenario").ok_or_else(|| missing_section(root, "[scenario]"))?;
    let (name, why, seeds, duration_ms) = header_from(&header.table()?)?;
    let mut cluster =
        cluster_from(&section("cluster").ok_or_else(|| missing_section(root, "[cluster]"))?)?;
    let broker = match section("broker") {
        Some(field) => configs_from(&field, Scope::Broker)?,
        None => Configs::new(),
    };
    let model = match section("model") {
        Some(field) => model_from(&field)?,
        None => Model::default(),
    };
    cluster.controller = model.controller;
    cluster.offsets_topic_partitions = crate::scenario::configs::int_or_default(
        &broker,
        Scope::Broker,
        "offsets.topic.num.partitions",
    ) as i32;
    let topics = topics_from(root, &cluster)?;
    let workloads = workloads_from(root, &topics)?;
    cluster.clients = workloads.iter().map(|w| w.clients).sum();
    cluster.client_kinds = (workloads.iter())
        .flat_map(|w| std::iter::repeat_n(w.kind, w.clients as usize))
        .collect();
    let faults = match section("fault") {
        Some(field) => faults_from(&field, &cluster, &topics, duration_ms)?,
        None => Vec::new(),
    };
    let nemesis = match section("nemesis") {
        Some(field) => Some(nemesis_from(&field, &cluster)?),
        None => None,
    };
    let expect_field = section("expect").ok_or_else(|| missing_section(root, "[expect]"))?;
    let expect = expect_from(&expect_field, &faults, cluster.brokers, nemesis.as_ref())?;
    Ok(Scenario {
        path: String::new(),
        source_hash: String::new(),
        name,
        why,
        seeds,
        duration_ms,
        cluster,
        broker,
        model,
        topics,
        workloads,
        faults,
        nemesis,
        expect,
    })
}

pub(super) fn check_sections(root: &Obj) -> Result<()> {
    let names: Vec<&str> = SECTIONS.iter().map(|(name, _)| *name).collect();
    for (key, field) in root.fields() {
        let Some(&(_, written)) = SECTIONS.iter().find(|(name, _)| *name == key) else {
            let suggestion = did_you_mean(key, &names)
                .and_then(|near| SECTIONS.iter().find(|(name, _)| *name == near))
                .map(|(_, written)| written.to_string());
            let noun = match field.node {
                Node::Item(Item::Table(_) | Item::ArrayOfTables(_)) => "table",
                _ => "top-level key",
            };
            let message = format!(
                "unknown {noun} `{key}` (expected: {})",
                SECTIONS
                    .iter()
                    .map(|(_, written)| *written)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Err(root.key_error(key, message, suggestion));
        };
        let is_array = written.starts_with("[[");
        let shape_ok = match field.node {
            Node::Item(Item::ArrayOfTables(_)) => is_array,
            Node::Item(Item::Table(_)) => !is_array,
            _ => true, // inline forms are checked by the section's own parser
        };
        if !shape_ok {
            return Err(field.error(format!("write this section as {written}")));
        }
    }
    Ok(())
}

pub(super) fn missing_section(root: &Obj, written: &str) -> ScenarioError {
    let field = written.trim_matches(|c| c == '[' || c == ']');
    root.source.error(
        None,
        field,
        format!("missing required table {written}"),
        None,
    )
}

pub(super) fn header_from(header: &Obj) -> Result<(String, String, u64, u64)> {
    header.check_keys("[scenario]", &["name", "why", "seeds", "duration"])?;
    let name = header
        .required("name", "a string naming the scenario")?
        .non_empty_str()?;
    let why = header
        .required("why", "one sentence: what the scenario shows")?
        .non_empty_str()?;
    let seeds = match header.get("seeds") {
        Some(field) => field.int_in(1, SEEDS_MAX)? as u64,
        None => 16,
    };
    let duration = header.required("duration", r#"the simulated length, e.g. "60s""#)?;
    let duration_ms = duration.positive_duration_ms()?;
    Ok((name.to_string(), why.to_string(), seeds, duration_ms))
}

pub(super) fn cluster_from(field: &Field) -> Result<Cluster> {
    let table = field.table()?;
    table.check_keys("[cluster]", &["brokers"])?;
    let brokers = table.required("brokers", "the number of brokers, 1..=9")?;
    Ok(Cluster {
        brokers: brokers.int_in(1, BROKERS_MAX)? as u32,
        controller: false,
        clients: 0,
        client_kinds: Vec::new(),
        offsets_topic_partitions: 50,
    })
}

pub(super) fn model_from(field: &Field) -> Result<Model> {
    let table = field.table()?;
    table.check_keys(
        "[model]",
        &[
            "nondeterminism_for_test",
            "power_loss_keep_probability",
            "dirty_expire",
            "controller",
            "truncation",
            "fence_restarted_brokers",
            "eligible_leader_replicas",
            "offset_for_leader_epoch",
            "buggify",
            "monotonic_list_offsets",
            "offsets_load",
            "offsets_expiry",
            "planted_bugs",
        ],
    )?;
    let mut model = Model::default();
    if let Some(field) = table.get("nondeterminism_for_test") {
        model.nondeterminism_for_test = field.bool()?;
    }
    if let Some(field) = table.get("power_loss_keep_probability") {
        let probability = field.float()?;
        if !(0.0..=1.0).contains(&probability) {
            return Err(field.error(format!(
                "expected a probability in 0..=1, found {probability}"
            )));
        }
        model.power_loss_keep_probability = probability;
    }
    if let Some(field) = table.get("dirty_expire") {
        model.dirty_expire_ms = field.positive_duration_ms()?;
    }
    if let Some(field) = table.get("controller") {
        model.controller = field.bool()?;
    }
    if let Some(field) = table.get("truncation") {
        let value = field.str()?;
        model.truncation =
            kafkasim::replication::TruncationRule::from_config(value).ok_or_else(|| {
                field.error(format!(
                    "expected \"high-watermark\" or \"leader-epoch\", found {value:?}"
                ))
            })?;
        if !model.controller {
            return Err(field.error(
                "`truncation` needs `controller = true` (leadership is static without one)",
            ));
        }
    }
    if let Some(field) = table.get("fence_restarted_brokers") {
        model.fence_restarted_brokers = Some(field.bool()?);
    }
    if let Some(field) = table.get("monotonic_list_offsets") {
        model.monotonic_list_offsets = field.bool()?;
    }
    if let Some(field) = table.get("offsets_load") {
        model.group_model.load_offsets_only_if_commit_pending = match field.str()? {
            "all" => false,
            "pending-commits-only" => true,
            other => {
                return Err(field.error(format!(
                    "expected \"all\" or \"pending-commits-only\" (apache/kafka PR 2436), found {other:?}"
                )))
            }
        };
    }
    if let Some(field) = table.get("offsets_expiry") {
        model.group_model.expire_offsets_while_rebalancing = match field.str()? {
            "empty-or-unsubscribed" => false,
            "while-rebalancing" => true,
            other => {
                return Err(field.error(format!(
                    "expected \"empty-or-unsubscribed\" or \"while-rebalancing\" (KAFKA-13636), found {other:?}"
                )))
            }
        };
    }
    if let Some(field) = table.get("planted_bugs") {
        model.planted_bugs = planted_bugs_from(&field)?;
    }
    if let Some(field) = table.get("buggify") {
        model.buggify = field.bool()?;
    }
    if let Some(field) = table.get("offset_for_leader_epoch") {
        let value = field.str()?;
        model.epoch_lookup = match value {
            "kip-279" => kafkasim::replication::EpochLookup::Kip279,
            "kip-101" => kafkasim::replication::EpochLookup::Kip101,
            _ => {
                return Err(field.error(format!(
                    "expected \"kip-279\" or \"kip-101\", found {value:?}"
                )))
            }
        };
        if !model.controller
            || model.truncation != kafkasim::replication::TruncationRule::LeaderEpoch
        {
            return Err(field.error(
                "`offset_for_leader_epoch` needs `controller = true` and `truncation = \"leader-epoch\"`",
            ));
        }
    }
    if let Some(field) = table.get("eligible_leader_replicas") {
        model.eligible_leader_replicas = field.bool()?;
        if !model.controller {
            return Err(field.error(
                "`eligible_leader_replicas` needs `controller = true` (only a controller elects)",
            ));
        }
    }
    Ok(model)
}
