//! `[[fault]]` steps: their trigger (`at` or `when`) and their actions.

use super::*;

pub(super) fn faults_from(
    field: &Field,
    cluster: &Cluster,
    topics: &[Topic],
    duration_ms: u64,
) -> Result<Vec<FaultStep>> {
    let steps = field.tables()?;
    steps
        .iter()
        .map(|step| fault_step(step, cluster, topics, duration_ms))
        .collect()
}

pub(super) fn fault_step(
    table: &Obj,
    cluster: &Cluster,
    topics: &[Topic],
    duration_ms: u64,
) -> Result<FaultStep> {
    table.check_keys("[[fault]]", &["at", "when", "actions"])?;
    let trigger = match (table.get("at"), table.get("when")) {
        (Some(_), Some(when)) => {
            return Err(
                when.error("a step fires either `at` a time or `when` a predicate holds, not both")
            )
        }
        (None, Some(when)) => Trigger::When(predicate_from(&when, cluster, topics)?),
        (Some(at), None) => {
            let at_ms = at.duration_ms()?;
            if at_ms >= duration_ms {
                return Err(at.error(format!(
                    "the step would fire at {at_ms} ms, after the scenario's duration ({duration_ms} ms)"
                )));
            }
            Trigger::At(at_ms)
        }
        (None, None) => {
            let expected = r#"when the step fires, e.g. "10s"; or write `when` with a predicate"#;
            return Err(table
                .required("at", expected)
                .err()
                .expect("`at` is missing"));
        }
    };
    let actions_field =
        table.required("actions", r#"e.g. [{ do = "kill", target = "broker(1)" }]"#)?;
    let actions = actions_field.tables()?;
    if actions.is_empty() {
        return Err(actions_field.error("a step needs at least one action"));
    }
    let actions = actions
        .iter()
        .map(|action| action_from(action, cluster, topics))
        .collect::<Result<_>>()?;
    Ok(FaultStep { trigger, actions })
}

pub(super) fn predicate_from(
    field: &Field,
    cluster: &Cluster,
    topics: &[Topic],
) -> Result<Predicate> {
    parse_predicate(field.non_empty_str()?, cluster.brokers, topics).map_err(|error| {
        ScenarioError {
            suggestion: error.suggestion,
            ..field.error(error.message)
        }
    })
}

/// A `leader(t/p)`, `follower(t/p, i)` or `isr(t/p)` target must name a declared topic, one
/// of its partitions, and (for a follower) a follower that exists.
pub(in crate::scenario) fn check_target_partition(
    target: &Target,
    topics: &[Topic],
) -> std::result::Result<(), String> {
    let (topic, partition, index) = match target {
        Target::Leader { topic, partition } | Target::Isr { topic, partition } => {
            (topic, *partition, None)
        }
        Target::Follower {
            topic,
            partition,
            index,
        } => (topic, *partition, Some(*index)),
        _ => return Ok(()),
    };
    if topic == kafkasim::server::groups::OFFSETS_TOPIC {
        // Created by the brokers at the first FindCoordinator; `coordinator(group)` names it.
        return Ok(());
    }
    let Some(declared) = topics.iter().find(|t| &t.name == topic) else {
        return Err(format!(
            "unknown topic \"{topic}\": declare it in a [[topic]]"
        ));
    };
    if partition >= declared.partitions {
        return Err(format!(
            "topic \"{topic}\" has partitions 0..{}",
            declared.partitions
        ));
    }
    let followers = declared.replication_factor as usize - 1;
    match index {
        Some(i) if i > followers => Err(format!(
            "follower {i} does not exist: {topic}/{partition} has {followers} follower(s) (replication_factor {})",
            declared.replication_factor
        )),
        _ => Ok(()),
    }
}

/// `coordinator(group)`: the leader of the group's `__consumer_offsets` partition when the
/// step fires (the group's coordinator), as `leader(__consumer_offsets/p)`.
fn coordinator_target(text: &str, cluster: &Cluster) -> Option<Target> {
    let group = text
        .trim()
        .strip_prefix("coordinator(")?
        .strip_suffix(')')?
        .trim();
    let group = group.trim_matches('"');
    Some(Target::Leader {
        topic: kafkasim::server::groups::OFFSETS_TOPIC.to_string(),
        partition: kafkasim::group::hash::coordinator_partition(
            group,
            cluster.offsets_topic_partitions,
        ),
    })
}

/// The faults a `client(i)` target takes: its process and its network.
const CLIENT_FAULTS: &[&str] = &[
    "kill",
    "pause",
    "resume",
    "restart",
    "partition",
    "heal",
    "slow-poll",
];

pub(super) fn action_from(table: &Obj, cluster: &Cluster, topics: &[Topic]) -> Result<Action> {
    let do_field = table.required("do", "the fault kind, e.g. \"kill\"")?;
    let (name, params) = fault_kind_name(&do_field)?;
    check_action_keys(table, name, params)?;
    let target_field = table.required("target", r#""broker(n)" or "all""#)?;
    let target = match coordinator_target(target_field.str()?, cluster) {
        Some(target) => target,
        None => {
            parse_target(target_field.str()?, cluster.brokers).map_err(|error| ScenarioError {
                suggestion: error.suggestion,
                ..target_field.error(error.message)
            })?
        }
    };
    check_target_partition(&target, topics).map_err(|message| target_field.error(message))?;
    if let Target::Client(index) = target {
        if index >= cluster.clients {
            return Err(target_field.error(format!(
                "client({index}) does not exist: the workloads have clients 0..{}",
                cluster.clients
            )));
        }
        if !CLIENT_FAULTS.contains(&name) {
            return Err(do_field.error(format!(
                "{name} does not apply to a client; a client takes {}",
                CLIENT_FAULTS.join(", ")
            )));
        }
        check_slow_poll_client(name, index, cluster).map_err(|m| target_field.error(m))?;
    } else if name == "slow-poll" {
        return Err(target_field.error(
            "slow-poll stops a group member's poll loop: its target is a group-consumer client, \"client(i)\"",
        ));
    }
    if target == Target::Controller && !cluster.controller {
        return Err(target_field.error(
            "the controller target needs `[model] controller = true` (without it leadership is static and no controller runs)",
        ));
    }
    let control_fault = matches!(name, "expire-session" | "elect");
    if control_fault && !cluster.controller {
        return Err(do_field.error(format!(
            "{name} needs `[model] controller = true` (it acts on the controller)"
        )));
    }
    if (name == "elect") != (target == Target::Controller) && control_fault {
        let message = match name {
            "elect" => "elect is the admin ElectLeaders call: its target is \"controller\"",
            _ => "expire-session cuts a broker off from the controller: its target is a broker",
        };
        return Err(target_field.error(message));
    }
    if name == "create-partitions" {
        if matches!(target, Target::Controller) || target.size(cluster.brokers) != 1 {
            return Err(target_field.error(
                "create-partitions is an admin call sent to one broker: its target is \"broker(n)\", \"leader(t/p)\" or \"follower(t/p, i)\"",
            ));
        }
        if !cluster.controller && cluster.brokers > 1 {
            return Err(do_field.error(
                "create-partitions on more than one broker needs `[model] controller = true` (without it each broker has its own static map, and only the broker asked would host the new partitions)",
            ));
        }
    }
    let delete_records_partition = match (&target, name) {
        (Target::Leader { topic, partition }, "delete-records") => Some((topic.clone(), *partition)),
        (_, "delete-records") => {
            return Err(target_field.error(
                "delete-records is the admin DeleteRecords call, sent to a partition's leader: its target is \"leader(t/p)\"",
            ))
        }
        _ => None,
    };
    let after_ms = match table.get("after") {
        Some(field) => field.duration_ms()?,
        None => 0,
    };
    let mut kind = fault_kind(table, name)?;
    if let (
        FaultKind::DeleteRecords {
            topic, partition, ..
        },
        Some((t, p)),
    ) = (&mut kind, delete_records_partition)
    {
        (*topic, *partition) = (t, p);
    }
    if let FaultKind::Elect {
        partition: Some((topic, index)),
        ..
    } = &kind
    {
        let known = topics
            .iter()
            .any(|t| &t.name == topic && *index < t.partitions as i32);
        if !known {
            let field = table.get("partition").expect("parsed from it");
            return Err(field.error(format!("no partition {topic}/{index} in [[topic]]")));
        }
    }
    if let FaultKind::CreatePartitions { topic, count } = &kind {
        let field = table.get("topic").expect("parsed from it");
        let Some(declared) = topics.iter().find(|t| &t.name == topic) else {
            return Err(field.error(format!("no topic \"{topic}\" in [[topic]]")));
        };
        if *count <= declared.partitions {
            let field = table.get("count").expect("parsed from it");
            return Err(field.error(format!(
                "topic \"{topic}\" already has {} partitions: count is the new total and must be larger",
                declared.partitions
            )));
        }
    }
    Ok(Action {
        kind,
        target,
        after_ms,
    })
}

/// `slow-poll` stops a poll loop that runs apart from a heartbeat task: only the
/// group-consumer workload has one. Other clients would have to freeze whole, which is `pause`.
fn check_slow_poll_client(
    name: &str,
    index: u32,
    cluster: &Cluster,
) -> std::result::Result<(), String> {
    let kind = cluster.client_kinds.get(index as usize).copied();
    if name != "slow-poll" || kind == Some(WorkloadKind::GroupConsumer) {
        return Ok(());
    }
    let members: Vec<String> = (cluster.client_kinds.iter().enumerate())
        .filter(|(_, kind)| **kind == WorkloadKind::GroupConsumer)
        .map(|(i, _)| format!("client({i})"))
        .collect();
    let members = match members.is_empty() {
        true => "no workload has group members".to_string(),
        false => format!("the group members are {}", members.join(", ")),
    };
    let kind = match kind {
        Some(WorkloadKind::Producer) => "producer",
        Some(WorkloadKind::Consumer) => "consumer",
        Some(WorkloadKind::ListOffsets) => "list-offsets",
        Some(WorkloadKind::GroupConsumer) | None => unreachable!("checked above"),
    };
    Err(format!(
        "slow-poll applies to a group member, whose heartbeats go on while it does not poll: client({index}) is a {kind} client ({members})"
    ))
}

pub(super) fn fault_kind_name(field: &Field) -> Result<(&'static str, &'static [&'static str])> {
    let name = field.str()?;
    if let Some(&(known, params)) = FAULT_KINDS.iter().find(|(known, _)| *known == name) {
        return Ok((known, params));
    }
    let names: Vec<&str> = FAULT_KINDS.iter().map(|(name, _)| *name).collect();
    let message = format!(
        "unknown fault kind \"{name}\" (expected one of: {})",
        names.join(", ")
    );
    let suggestion = did_you_mean(name, &names).map(str::to_string);
    Err(ScenarioError {
        suggestion,
        ..field.error(message)
    })
}

/// An action takes `do`, `target`, `after` and its own kind's parameters; a parameter of
/// another kind gets a message naming the kinds it belongs to.
pub(super) fn check_action_keys(table: &Obj, name: &str, params: &[&str]) -> Result<()> {
    for (key, _) in table.fields() {
        let owners: Vec<&str> = FAULT_KINDS
            .iter()
            .filter(|(_, their)| their.contains(&key))
            .map(|(kind, _)| *kind)
            .collect();
        if !params.contains(&key) && !owners.is_empty() {
            let message = format!(
                "`{key}` is not a parameter of {name}; it applies to {}",
                owners.join(", ")
            );
            return Err(table.key_error(key, message, None));
        }
    }
    let mut allowed = vec!["do", "target", "after"];
    allowed.extend_from_slice(params);
    table.check_keys(&format!("a {name} action"), &allowed)
}

pub(super) fn fault_kind(table: &Obj, name: &str) -> Result<FaultKind> {
    let positive = |key: &str| -> Result<u64> {
        table
            .required(key, r#"a duration, e.g. "100ms""#)?
            .positive_duration_ms()
    };
    let count = || -> Result<u32> {
        match table.get("count") {
            Some(field) => Ok(field.int_in(1, 1_000_000)? as u32),
            None => Ok(1),
        }
    };
    Ok(match name {
        "kill" => FaultKind::Kill,
        "shutdown" => FaultKind::Shutdown,
        "power-loss" => FaultKind::PowerLoss,
        "restart" => FaultKind::Restart,
        "restart-empty-disk" => FaultKind::RestartEmptyDisk,
        "pause" => FaultKind::Pause,
        "resume" => FaultKind::Resume,
        "partition" => FaultKind::Partition {
            direction: match table.get("direction") {
                None => Direction::Both,
                Some(field) => match field.str()? {
                    "both" => Direction::Both,
                    "in" => Direction::In,
                    "out" => Direction::Out,
                    other => {
                        return Err(field.error(format!(
                            "unknown direction \"{other}\": expected \"both\", \"in\" (the target hears nothing) or \"out\" (nothing it sends arrives)"
                        )))
                    }
                },
            },
        },
        "heal" => FaultKind::Heal,
        "slow-link" => FaultKind::SlowLink {
            delay_ms: positive("delay")?,
        },
        "reset-connection" => FaultKind::ResetConnection,
        "drop-response" => FaultKind::DropResponse { count: count()? },
        "hold-connection" => FaultKind::HoldConnection {
            duration_ms: positive("duration")?,
        },
        "disk-latency" => FaultKind::DiskLatency {
            delay_ms: positive("delay")?,
        },
        "enospc" => FaultKind::Enospc,
        "fsync-error" => FaultKind::FsyncError,
        "bit-flip" => FaultKind::BitFlip { count: count()? },
        "skew" => FaultKind::Skew {
            delta_ms: clock_delta(table)?,
        },
        "jump" => FaultKind::Jump {
            delta_ms: clock_delta(table)?,
        },
        "flush" => FaultKind::Flush,
        "silent-death" => FaultKind::SilentDeath,
        "expire-session" => FaultKind::ExpireSession,
        "elect" => FaultKind::Elect {
            unclean: match table.get("election") {
                None => false,
                Some(field) => match field.str()? {
                    "preferred" => false,
                    "unclean" => true,
                    other => {
                        return Err(field.error(format!(
                            "unknown election \"{other}\": expected \"preferred\" or \"unclean\""
                        )))
                    }
                },
            },
            partition: match table.get("partition") {
                None => None,
                Some(field) => {
                    let text = field.str()?;
                    let parsed = text
                        .rsplit_once('/')
                        .and_then(|(topic, p)| Some((topic.to_string(), p.parse::<i32>().ok()?)));
                    match parsed {
                        Some((topic, p)) if !topic.is_empty() && p >= 0 => Some((topic, p)),
                        _ => {
                            return Err(field.error(format!(
                                "expected a partition as \"topic/index\", found {text:?}"
                            )))
                        }
                    }
                }
            },
        },
        "delete-records" => FaultKind::DeleteRecords {
            // Filled in from the `leader(t/p)` target by `action_from`.
            topic: String::new(),
            partition: -1,
            offset: match table.get("offset") {
                Some(field) => field.int_in(-1, i64::MAX)?,
                None => -1,
            },
        },
        "create-partitions" => FaultKind::CreatePartitions {
            topic: table
                .required("topic", "the topic to grow, as named in [[topic]]")?
                .str()?
                .to_string(),
            count: table
                .required("count", "the topic's new partition count")?
                .int_in(1, 10_000)? as i32,
        },
        "slow-poll" => FaultKind::SlowPoll {
            duration_ms: positive("duration")?,
        },
        other => unreachable!("fault kind {other} is in FAULT_KINDS but not built"),
    })
}

pub(super) fn clock_delta(table: &Obj) -> Result<i64> {
    let field = table.required("delta", r#"a signed duration, e.g. "-30s" or "2m""#)?;
    match parse_signed_duration_ms(field.str()?).map_err(|message| field.error(message))? {
        0 => Err(field.error("a clock change of 0 does nothing: expected a non-zero duration")),
        delta_ms => Ok(delta_ms),
    }
}
