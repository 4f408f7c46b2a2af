//! `[nemesis]`: the random fault schedule's settings, and `planted_bugs`.

use super::*;

/// Whether a nemesis can fire actions named `kind`: its own kinds and their recoveries.
pub(super) fn nemesis_fires(nemesis: &Nemesis, kind: &str) -> bool {
    nemesis.kinds.iter().any(|(drawn, _)| {
        drawn.name() == kind || crate::nemesis::schedule::recovery(drawn).name() == kind
    })
}

/// `planted_bugs`: TEST-ONLY names from `kafkasim::planted::PlantedBugs::NAMES`, each once.
pub(super) fn planted_bugs_from(field: &Field) -> Result<kafkasim::planted::PlantedBugs> {
    let names = kafkasim::planted::PlantedBugs::NAMES;
    let mut bugs = kafkasim::planted::PlantedBugs::default();
    for element in field.array()? {
        let name = element.str()?;
        let before = bugs;
        if !bugs.plant(name) {
            return Err(ScenarioError {
                suggestion: did_you_mean(name, names).map(str::to_string),
                ..element.error(format!(
                    "unknown planted bug \"{name}\" (expected one of: {})",
                    names.join(", ")
                ))
            });
        }
        if bugs == before {
            return Err(element.error(format!("\"{name}\" is listed twice")));
        }
    }
    Ok(bugs)
}

/// `targets`: which processes the nemesis draws from: "brokers" (always), "controller" when
/// the scenario runs one, and "clients" (the members of group-consumer workloads). Returns
/// (controller, clients).
pub(super) fn nemesis_targets_from(field: &Field, cluster: &Cluster) -> Result<(bool, bool)> {
    let mut controller = false;
    let mut clients = false;
    let mut brokers = false;
    for element in field.array()? {
        match element.str()? {
            "brokers" => brokers = true,
            "controller" if !cluster.controller => {
                return Err(element.error(
                    "the controller target needs `[model] controller = true` (without it no controller runs)",
                ))
            }
            "controller" => controller = true,
            "clients" => clients = true,
            other => {
                let known = ["brokers", "controller", "clients"];
                return Err(ScenarioError {
                    suggestion: did_you_mean(other, &known).map(str::to_string),
                    ..element.error(format!(
                        r#"unknown nemesis target "{other}" (expected "brokers", "controller" or "clients")"#
                    ))
                });
            }
        }
    }
    if !brokers {
        return Err(field.error(r#"the nemesis always draws brokers: list "brokers" first"#));
    }
    Ok((controller, clients))
}

pub(super) fn nemesis_from(field: &Field, cluster: &Cluster) -> Result<Nemesis> {
    let table = field.table()?;
    table.check_keys(
        "[nemesis]",
        &[
            "interval",
            "kinds",
            "recover_after",
            "failure_model",
            "slow_link_delay",
            "drop_response_count",
            "targets",
        ],
    )?;
    let (controller, clients) = match table.get("targets") {
        Some(field) => nemesis_targets_from(&field, cluster)?,
        None => (false, false),
    };
    let interval_ms = table
        .required(
            "interval",
            r#"the mean time between random faults, e.g. "3s""#,
        )?
        .positive_duration_ms()?;
    let kinds_field = table.required(
        "kinds",
        r#"the fault kinds to draw, e.g. ["kill", "partition"] or { kill = 2, partition = 1 }"#,
    )?;
    let weighted = nemesis_kinds(&kinds_field)?;
    let recover = table.required("recover_after", r#"a range of durations, e.g. "2s..6s""#)?;
    let recover_after_ms = crate::scenario::values::parse_duration_range_ms(recover.str()?)
        .map_err(|message| recover.error(message))?;
    if recover_after_ms.0 == 0 {
        return Err(recover.error("a fault must last a while: the range must start above 0"));
    }
    let model_field = table.required(
        "failure_model",
        r#""within" (draws that would break the model are skipped) or "outside""#,
    )?;
    let failure_model = match model_field.str()? {
        "within" => FailureModel::Within,
        "outside" => FailureModel::Outside,
        other => {
            let suggestion = did_you_mean(other, &["within", "outside"]).map(str::to_string);
            return Err(ScenarioError {
                suggestion,
                ..model_field.error(format!(
                    r#"expected "within" or "outside", found "{other}""#
                ))
            });
        }
    };
    let has = |name: &str| weighted.iter().any(|(kind, _)| *kind == name);
    let param = |key: &str, kind: &str| -> Result<Option<Field>> {
        match table.get(key) {
            Some(field) if !has(kind) => Err(field.error(format!(
                "`{key}` applies only when kinds include \"{kind}\""
            ))),
            other => Ok(other),
        }
    };
    let delay_ms = match param("slow_link_delay", "slow-link")? {
        Some(field) => field.positive_duration_ms()?,
        None => NEMESIS_SLOW_LINK_DELAY_MS,
    };
    let count = match param("drop_response_count", "drop-response")? {
        Some(field) => field.int_in(1, 1_000_000)? as u32,
        None => 1,
    };
    let kinds = weighted
        .into_iter()
        .map(|(name, weight)| {
            let kind = match name {
                "kill" => FaultKind::Kill,
                "shutdown" => FaultKind::Shutdown,
                "power-loss" => FaultKind::PowerLoss,
                "partition" => FaultKind::Partition {
                    direction: Direction::Both,
                },
                "pause" => FaultKind::Pause,
                "silent-death" => FaultKind::SilentDeath,
                "slow-link" => FaultKind::SlowLink { delay_ms },
                "drop-response" => FaultKind::DropResponse { count },
                other => unreachable!("nemesis kind {other} is in NEMESIS_KINDS but not built"),
            };
            (kind, weight)
        })
        .collect();
    Ok(Nemesis {
        interval_ms,
        kinds,
        recover_after_ms,
        failure_model,
        controller,
        clients,
    })
}

/// The slow-link delay a nemesis adds unless `slow_link_delay` says otherwise.
pub const NEMESIS_SLOW_LINK_DELAY_MS: u64 = 100;

/// `kinds`: a non-empty list of nemesis kind names (weight 1 each), or a table of name →
/// weight (an integer 1..=1000). Each kind appears once.
pub(super) fn nemesis_kinds(field: &Field) -> Result<Vec<(&'static str, u32)>> {
    let mut kinds: Vec<(&'static str, u32)> = Vec::new();
    let mut add = |name: &'static str, weight: u32, at: &Field| -> Result<()> {
        if kinds.iter().any(|(earlier, _)| *earlier == name) {
            return Err(at.error(format!("\"{name}\" is listed twice")));
        }
        kinds.push((name, weight));
        Ok(())
    };
    match field.node.table_like() {
        Some(_) => {
            let table = field.table()?;
            for (key, weight) in table.fields() {
                let name = nemesis_kind_name(key)
                    .map_err(|(message, suggestion)| table.key_error(key, message, suggestion))?;
                add(name, weight.int_in(1, 1000)? as u32, &weight)?;
            }
        }
        None => {
            for element in field.array()? {
                let name = nemesis_kind_name(element.str()?).map_err(|(message, suggestion)| {
                    ScenarioError {
                        suggestion,
                        ..element.error(message)
                    }
                })?;
                add(name, 1, &element)?;
            }
        }
    }
    if kinds.is_empty() {
        return Err(field.error("name at least one fault kind to draw"));
    }
    Ok(kinds)
}

/// A nemesis kind by name, or a message (and a near spelling) saying which kinds exist.
pub(super) fn nemesis_kind_name(
    name: &str,
) -> std::result::Result<&'static str, (String, Option<String>)> {
    let kinds = crate::nemesis::schedule::NEMESIS_KINDS;
    if let Some(known) = kinds.iter().find(|known| **known == name) {
        return Ok(known);
    }
    let scripted_only = FAULT_KINDS.iter().any(|(known, _)| *known == name);
    let message = if scripted_only {
        format!(
            "\"{name}\" cannot be drawn at random (nemesis kinds: {}); script it in a [[fault]] step",
            kinds.join(", ")
        )
    } else {
        format!(
            "unknown nemesis kind \"{name}\" (expected one of: {})",
            kinds.join(", ")
        )
    };
    Err((message, did_you_mean(name, kinds).map(str::to_string)))
}
