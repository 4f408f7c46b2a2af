//! Reports: one `report.json` per run and a sweep summary (markdown + JSON).
//!
//! Reports go under `<report-dir>/<scenario path below scenarios/>/<seed>/`. Everything in a
//! report except `wall_ms` and the summary's rates is a function of scenario, seed and build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use crate::checker::summary::{count, OpCounts};
use crate::checker::Anomaly;
use crate::history::Event;
use crate::run::{Judgement, RunData};
use crate::scenario::Scenario;

/// Bumped when the report's shape changes.
pub const SCHEMA_VERSION: u32 = 1;

/// How many anomalies of each kind the report shows in full (all are counted).
const ANOMALIES_SHOWN_PER_KIND: usize = 20;

/// How many history events around an anomaly's operations the report shows.
const CONTEXT_EVENTS: usize = 3;

/// The scenario's path below `scenarios/` (or as given, without extension tricks).
pub fn scenario_key(path: &str) -> String {
    let normalized = path.replace('\\', "/");
    let trimmed = normalized.trim_start_matches("./");
    match trimmed.find("scenarios/") {
        Some(i) => trimmed[i + "scenarios/".len()..]
            .trim_end_matches(".toml")
            .to_string(),
        None => trimmed.trim_end_matches(".toml").to_string(),
    }
}

/// The command that reproduces a run exactly.
pub fn repro(scenario: &Scenario, seed: u64) -> String {
    format!(
        "cargo run --release -p kafkasim-sim --bin kafkasim -- run {} --seed {seed}",
        scenario.path
    )
}

/// The build this binary came from.
pub fn build_id() -> &'static str {
    option_env!("KAFKASIM_GIT_COMMIT").unwrap_or("unknown")
}

fn anomaly_with_context(anomaly: &Anomaly, events: &[Event]) -> Value {
    let mut indexes: Vec<usize> = Vec::new();
    for &i in &anomaly.events {
        let from = i.saturating_sub(CONTEXT_EVENTS);
        let to = (i + CONTEXT_EVENTS + 1).min(events.len());
        indexes.extend(from..to);
    }
    indexes.sort();
    indexes.dedup();
    let around: Vec<&Event> = indexes.iter().filter_map(|&i| events.get(i)).collect();
    json!({
        "kind": anomaly.kind,
        "tp": anomaly.tp.as_ref().map(|t| t.to_string()),
        "value": anomaly.value,
        "offset": anomaly.offset,
        "description": anomaly.description,
        "events": anomaly.events,
        "operations_around": around,
    })
}

/// The report of one run as JSON. `wall_ms` is the only wall-clock figure.
pub fn run_report(
    scenario: &Scenario,
    seed: u64,
    data: &RunData,
    judgement: &Judgement,
    wall_ms: u64,
) -> Value {
    let counts: OpCounts = count(&data.history);
    let mut faults_by_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for fault in &data.faults {
        *faults_by_kind.entry(fault.kind.as_str()).or_default() += 1;
    }
    // Every anomaly is counted; the first few of each kind are shown with their context, so a
    // run that loses thousands of writes still has a readable report.
    let mut anomaly_counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut anomalies: Vec<Value> = Vec::new();
    for anomaly in &data.anomalies {
        let seen = anomaly_counts.entry(anomaly.kind.as_str()).or_default();
        *seen += 1;
        if *seen <= ANOMALIES_SHOWN_PER_KIND {
            anomalies.push(anomaly_with_context(anomaly, &data.history.events));
        }
    }
    let logs: BTreeMap<String, Value> = data
        .final_state
        .logs
        .iter()
        .map(|(tp, log)| {
            (
                tp.to_string(),
                json!({
                    "log_start_offset": log.log_start_offset,
                    "high_watermark": log.high_watermark,
                    "log_end_offset": log.high_watermark,
                    "records": log.records.len(),
                }),
            )
        })
        .collect();
    let mut report = json!({
        "schema_version": SCHEMA_VERSION,
        "build": build_id(),
        "scenario": scenario.name,
        "scenario_path": scenario.path,
        "scenario_hash": scenario.source_hash,
        "seed": seed,
        "expect": {
            "must": scenario.expect.must,
            "allow": scenario.expect.allow,
            "min_acknowledged": scenario.expect.min_acknowledged,
            "min_faults": scenario.expect.min_faults,
            "min_faults_by_kind": scenario.expect.min_faults_by_kind,
            "min_effects": scenario.expect.min_effects,
        },
        "shown": judgement,
        "passed": judgement.passed,
        "verdict": data.verdict.name(),
        "liveness_failure": data.liveness_failure,
        "anomaly_counts": anomaly_counts,
        "anomalies": anomalies,
        "faults": data.faults,
        "faults_by_kind": faults_by_kind,
        "effects": data.effects,
        "operations": counts,
        "wire": {
            "acks": data.history.wire.iter().filter(|e| matches!(e, crate::history::wire::WireEvent::Ack { .. })).count(),
            "served": data.history.wire.iter().filter(|e| matches!(e, crate::history::wire::WireEvent::Served { .. })).count(),
        },
        "restarts": data.restarts,
        "knobs": data.knobs,
        "elections": data.elections,
        "truncations": data.effects.get("recovery.truncations").copied().unwrap_or(0),
        "partitions": logs,
        "replicas": data.replica_logs.partitions,
        "first_divergent_offset": data.replica_logs.first_divergent_offset,
        "trace_hash": data.trace_hash,
        "trace_events": data.trace_events,
        "trace_events_by_kind": data.trace_kinds,
        "sim_time_ms": data.sim_time_ms,
        "wall_ms": wall_ms,
        "repro": repro(scenario, seed),
    });
    // Only runs with consumer groups have the field, so every other report keeps its shape.
    if let Some(generations) = super::groups::generations(&data.history) {
        report["group_generations"] = generations;
    }
    // Only a run that panicked has the field, so every other report keeps its shape.
    if let Some(site) = &data.panic {
        report["panic"] = json!({
            "message": site.message,
            "node": site.node,
            "location": site.location,
            "sim_time_ms": site.sim_time_ms,
            "repro": repro(scenario, seed),
        });
    }
    report
}

/// Where a run's report goes.
pub fn run_dir(report_dir: &Path, scenario: &Scenario, seed: u64) -> PathBuf {
    report_dir
        .join(scenario_key(&scenario.path))
        .join(seed.to_string())
}

/// Write a run's report.json (and its history as JSON lines, for digging).
pub fn write_run(dir: &Path, report: &Value, data: &RunData) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(report)? + "\n",
    )?;
    let mut lines = String::new();
    for event in &data.history.events {
        lines.push_str(&serde_json::to_string(event)?);
        lines.push('\n');
    }
    std::fs::write(dir.join("history.jsonl"), lines)
}

/// One scenario's line in a sweep summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub path: String,
    pub seeds: u64,
    pub passed: u64,
    pub failed: u64,
    pub verdicts: BTreeMap<String, u64>,
    pub anomalies: BTreeMap<String, u64>,
    pub acknowledged: u64,
    pub operations: OpCounts,
    pub faults_by_kind: BTreeMap<String, u64>,
    pub effects: BTreeMap<String, u64>,
    pub sim_ms: u64,
    /// Wall-clock; left out of the committed, deterministic summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_ms: Option<u64>,
    /// Seeds that did not meet the expectation.
    pub failing_seeds: Vec<u64>,
}

impl ScenarioSummary {
    pub fn add(&mut self, seed: u64, data: &RunData, judgement: &Judgement, wall_ms: u64) {
        self.seeds += 1;
        if judgement.passed {
            self.passed += 1;
        } else {
            self.failed += 1;
            self.failing_seeds.push(seed);
        }
        *self
            .verdicts
            .entry(data.verdict.name().to_string())
            .or_default() += 1;
        for kind in &judgement.shown {
            *self.anomalies.entry(kind.clone()).or_default() += 1;
        }
        let counts = count(&data.history);
        self.acknowledged += counts.sends_ok;
        let ops = &mut self.operations;
        ops.sends_ok += counts.sends_ok;
        ops.sends_fail += counts.sends_fail;
        ops.sends_info += counts.sends_info;
        ops.polls_ok += counts.polls_ok;
        ops.polls_fail += counts.polls_fail;
        ops.polls_info += counts.polls_info;
        ops.records_read += counts.records_read;
        for fault in &data.faults {
            *self.faults_by_kind.entry(fault.kind.clone()).or_default() += 1;
        }
        for (k, v) in &data.effects {
            *self.effects.entry(k.clone()).or_default() += v;
        }
        self.sim_ms += data.sim_time_ms;
        *self.wall_ms.get_or_insert(0) += wall_ms;
    }

    /// Simulated seconds per wall second.
    pub fn speed(&self) -> Option<f64> {
        self.wall_ms
            .filter(|w| *w > 0)
            .map(|w| self.sim_ms as f64 / w as f64)
    }
}

fn counts_cell(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "—".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sweep summary as markdown. With `deterministic`, wall-clock columns are left out.
pub fn summary_markdown(summaries: &[ScenarioSummary], deterministic: bool) -> String {
    let mut out = String::from("# kafkasim sweep summary\n\n");
    out.push_str("| scenario | seeds | passed | verdicts | anomalies | acknowledged | faults fired | effects |");
    out.push_str(if deterministic {
        "\n|---|---|---|---|---|---|---|---|\n"
    } else {
        " sim s / wall s |\n|---|---|---|---|---|---|---|---|---|\n"
    });
    for s in summaries {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            s.path,
            s.seeds,
            s.passed,
            counts_cell(&s.verdicts),
            counts_cell(&s.anomalies),
            s.acknowledged,
            counts_cell(&s.faults_by_kind),
            counts_cell(&s.effects)
        ));
        if !deterministic {
            out.push_str(&format!(
                " {} |",
                s.speed()
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or_else(|| "—".into())
            ));
        }
        out.push('\n');
    }
    let failing: Vec<String> = summaries
        .iter()
        .filter(|s| s.failed > 0)
        .map(|s| format!("- {}: seeds {:?}", s.path, s.failing_seeds))
        .collect();
    if !failing.is_empty() {
        out.push_str("\nFailing runs:\n");
        out.push_str(&failing.join("\n"));
        out.push('\n');
    }
    out
}

/// The sweep summary as JSON.
pub fn summary_json(summaries: &[ScenarioSummary], deterministic: bool) -> Value {
    let items: Vec<Value> = summaries
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).expect("summary serializes");
            if deterministic {
                v.as_object_mut().expect("object").remove("wall_ms");
            } else if let Some(speed) = s.speed() {
                v["sim_seconds_per_wall_second"] = json!((speed * 10.0).round() / 10.0);
            }
            v
        })
        .collect();
    json!({ "schema_version": SCHEMA_VERSION, "scenarios": items })
}
