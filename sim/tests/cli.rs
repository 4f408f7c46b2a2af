//! The command-line contract: exit codes, reproducibility by seed, reports and summaries.
//!
//! These run the real `kafkasim` binary on small scenarios.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SMOKE: &str = "scenarios/smoke/produce-consume.toml";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn kafkasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafkasim"))
        .args(args)
        .current_dir(root())
        .env("CI", "1")
        .output()
        .expect("kafkasim runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kafkasim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn report(dir: &Path, key: &str, seed: u64) -> Value {
    let path = dir.join(key).join(seed.to_string()).join("report.json");
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("report is JSON")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn same_seed_same_hash_alone_and_inside_a_parallel_sweep() {
    let alone = temp_dir("alone");
    let swept = temp_dir("swept");
    let out = kafkasim(&[
        "run",
        SMOKE,
        "--seed",
        "3",
        "--report-dir",
        alone.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = kafkasim(&[
        "sweep",
        SMOKE,
        "--seeds",
        "4",
        "--jobs",
        "2",
        "--report-dir",
        swept.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let hash = |dir: &Path, seed| {
        report(dir, "smoke/produce-consume", seed)["trace_hash"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        hash(&alone, 3),
        hash(&swept, 3),
        "seed 3 alone and inside sweep --jobs 2"
    );
    assert_ne!(
        hash(&swept, 3),
        hash(&swept, 2),
        "another seed, another hash"
    );
    assert!(hash(&alone, 3).len() >= 32);
}

#[test]
fn check_determinism_exits_0_and_3_with_the_test_only_switch() {
    let dir = temp_dir("determinism");
    let out = kafkasim(&[
        "run",
        SMOKE,
        "--seed",
        "5",
        "--check-determinism",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("same"), "{}", text(&out));

    let fixture = "sim/tests/fixtures/nondeterministic.toml";
    let out = kafkasim(&[
        "run",
        fixture,
        "--seed",
        "5",
        "--check-determinism",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("DIFFERENT"), "{}", text(&out));
}

#[test]
fn sweep_exits_1_when_an_expectation_is_false_and_names_the_repro() {
    let dir = temp_dir("false");
    let fixture = "sim/tests/fixtures/false-expectation.toml";
    let out = kafkasim(&["sweep", fixture, "--report-dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let output = text(&out);
    assert!(
        output.contains("expected anomaly") || output.contains("missing [\"duplicate\"]"),
        "{output}"
    );
    assert!(output.contains("reproduce with: cargo run --release -p kafkasim-sim --bin kafkasim -- run sim/tests/fixtures/false-expectation.toml --seed 0"), "{output}");
    assert!(output.contains("sweep: 0 passed, 2 failed"), "{output}");
}

#[test]
fn invalid_scenarios_exit_2_naming_file_line_and_field() {
    let out = kafkasim(&[
        "run",
        "scenarios-rejected/unknown-broker-config.toml",
        "--seed",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: scenarios-rejected/unknown-broker-config.toml:"),
        "{stderr}"
    );
    assert!(stderr.contains("flush.messages"), "{stderr}");
    let out = kafkasim(&["sweep", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// Strip what may differ between machines or runs: wall time and the build id.
fn deterministic(mut report: Value) -> Value {
    let object = report.as_object_mut().unwrap();
    object.remove("wall_ms");
    object.remove("build");
    report
}

#[test]
fn report_of_a_fixed_seed_is_pinned() {
    let dir = temp_dir("snapshot");
    let out = kafkasim(&[
        "run",
        SMOKE,
        "--seed",
        "7",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let value = deterministic(report(&dir, "smoke/produce-consume", 7));
    insta::assert_json_snapshot!("smoke-seed-7-report", value);
}

#[test]
fn sweep_summary_of_fixed_seeds_is_pinned() {
    let dir = temp_dir("summary");
    let summary = dir.join("summary-deterministic.md");
    std::fs::create_dir_all(&dir).unwrap();
    let out = kafkasim(&[
        "sweep",
        SMOKE,
        "scenarios/net/lost-responses.toml",
        "--seeds",
        "2",
        "--jobs",
        "2",
        "--report-dir",
        dir.to_str().unwrap(),
        "--deterministic-summary",
        summary.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    insta::assert_snapshot!("sweep-summary", std::fs::read_to_string(&summary).unwrap());
}

#[test]
fn sweep_fails_when_a_must_fraction_kind_shows_on_too_few_seeds() {
    // The smoke scenario loses nothing, so asking for acked-write-absent on half its seeds
    // must fail the sweep (exit 1), while every single run still passes.
    let dir = temp_dir("fraction");
    std::fs::create_dir_all(&dir).unwrap();
    let smoke = std::fs::read_to_string(root().join(SMOKE)).unwrap();
    let expect = smoke.find("[expect]").expect("smoke has [expect]");
    let scenario = format!(
        "{}[expect]\nmust_fraction = {{ \"acked-write-absent\" = 0.5 }}\nmin = {{ acknowledged = 100 }}\n",
        &smoke[..expect]
    );
    let path = dir.join("fraction.toml");
    std::fs::write(&path, scenario).unwrap();
    let reports = dir.join("reports");
    let out = kafkasim(&[
        "sweep",
        path.to_str().unwrap(),
        "--seeds",
        "2",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("sweep: 2 passed, 0 failed"), "{shown}");
    assert!(
        shown.contains("FAILED must_fraction")
            && shown.contains("acked-write-absent on 0 of 2 seeds"),
        "{shown}"
    );
}
