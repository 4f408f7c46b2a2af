//! `kafkasim`: run scenarios on the simulated cluster.
//!
//! ```text
//! kafkasim run <scenario.toml> --seed <N> [--report-dir DIR] [--check-determinism]
//! kafkasim sweep [<scenario.toml|dir>...] [--seeds N] [--jobs J] [--report-dir DIR]
//! ```
//! Exit codes: 0 every run met its expectation; 1 a run did not; 2 bad usage or an invalid
//! scenario; 3 nondeterminism detected.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use clap::{Parser, Subcommand};
use kafkasim_sim::run::report::{self, ScenarioSummary};
use kafkasim_sim::run::{self as runner, Judgement, RunData};
use kafkasim_sim::scenario::{self, Scenario};

const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_NONDETERMINISM: u8 = 3;

#[derive(Parser)]
#[command(
    name = "kafkasim",
    about = "Run Kafka scenarios on a deterministic simulated cluster",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario at one seed.
    Run {
        scenario: PathBuf,
        #[arg(long)]
        seed: u64,
        #[arg(long, default_value = "reports/runs")]
        report_dir: PathBuf,
        /// Run the seed twice (the second time after another seed on the same thread) and
        /// compare trace hashes; exit 3 if they differ.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Run scenarios (default: the whole catalogue under scenarios/) over many seeds.
    Sweep {
        paths: Vec<PathBuf>,
        /// Seeds 0..N (default: each scenario's own `seeds`).
        #[arg(long)]
        seeds: Option<u64>,
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        #[arg(long, default_value = "reports/runs")]
        report_dir: PathBuf,
        /// Also write the deterministic summary (no wall-clock figures) to this file.
        #[arg(long)]
        deterministic_summary: Option<PathBuf>,
        /// Hide the progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run {
            scenario,
            seed,
            report_dir,
            check_determinism,
        } => run_command(&scenario, seed, &report_dir, check_determinism),
        Command::Sweep {
            paths,
            seeds,
            jobs,
            report_dir,
            deterministic_summary,
            quiet,
        } => sweep_command(
            &paths,
            seeds,
            jobs.max(1),
            &report_dir,
            deterministic_summary.as_deref(),
            quiet,
        ),
    };
    ExitCode::from(code)
}

fn load(path: &Path) -> Result<Scenario, u8> {
    scenario::load(path).map_err(|error| {
        eprintln!("error: {error}");
        EXIT_USAGE
    })
}

/// Run one seed on a fresh thread, with a per-run log file, and time it.
fn timed_run(scenario: &Scenario, seed: u64, report_dir: &Path) -> (RunData, u64) {
    let dir = report::run_dir(report_dir, scenario, seed);
    let _ = std::fs::create_dir_all(&dir);
    let started = Instant::now();
    let data = runner::run_seed_isolated(scenario, seed, Some(&dir.join("log.txt")));
    (data, started.elapsed().as_millis() as u64)
}

fn write(
    report_dir: &Path,
    scenario: &Scenario,
    seed: u64,
    data: &RunData,
    judgement: &Judgement,
    wall_ms: u64,
) {
    let dir = report::run_dir(report_dir, scenario, seed);
    let json = report::run_report(scenario, seed, data, judgement, wall_ms);
    if let Err(error) = report::write_run(&dir, &json, data) {
        eprintln!(
            "warning: could not write report to {}: {error}",
            dir.display()
        );
    }
}

fn run_command(path: &Path, seed: u64, report_dir: &Path, check_determinism: bool) -> u8 {
    let scenario = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    println!("kafkasim run {} --seed {seed}", scenario.path);
    let (data, wall_ms) = timed_run(&scenario, seed, report_dir);
    let judgement = runner::judge(&scenario, &data);
    write(report_dir, &scenario, seed, &data, &judgement, wall_ms);
    print_run(&scenario, seed, &data, &judgement, wall_ms, report_dir);
    if check_determinism {
        // The second run shares a thread with another seed first, so state leaking across
        // runs on one thread (HashMap keys, statics) would show.
        let other = seed.wrapping_add(1);
        let scenario_again = scenario.clone();
        let again = std::thread::spawn(move || {
            let _ = runner::run_seed(&scenario_again, other);
            runner::run_seed(&scenario_again, seed)
        })
        .join();
        let same = matches!(&again, Ok(d) if d.trace_hash == data.trace_hash);
        match &again {
            Ok(d) => println!(
                "determinism: first {} second {} → {}",
                data.trace_hash,
                d.trace_hash,
                if same { "same" } else { "DIFFERENT" }
            ),
            Err(_) => println!("determinism: the second run panicked"),
        }
        if !same {
            println!("reproduce with: {}", report::repro(&scenario, seed));
            return EXIT_NONDETERMINISM;
        }
    }
    if judgement.passed {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn print_run(
    scenario: &Scenario,
    seed: u64,
    data: &RunData,
    judgement: &Judgement,
    wall_ms: u64,
    report_dir: &Path,
) {
    let counts = kafkasim_sim::checker::summary::count(&data.history);
    println!(
        "verdict: {}  expectation: {}  anomalies: {:?}",
        data.verdict.name(),
        if judgement.passed { "met" } else { "NOT met" },
        judgement.shown
    );
    if let Some(reason) = &data.liveness_failure {
        println!("liveness failure: {reason}");
    }
    if let Some(site) = &data.panic {
        println!(
            "panic: {}\n  on node: {}\n  at: {}\n  reproduce with: {}",
            site.message,
            site.node.as_deref().unwrap_or("none (madsim itself)"),
            site.location.as_deref().unwrap_or("unknown"),
            report::repro(scenario, seed)
        );
    }
    for line in judgement
        .missing
        .iter()
        .map(|k| format!("expected anomaly did not show: {k}"))
        .chain(
            judgement
                .unexpected
                .iter()
                .map(|k| format!("unexpected anomaly: {k}")),
        )
    {
        println!("{line}");
    }
    for unmet in &judgement.unmet_minimums {
        println!("minimum not met: {unmet}");
    }
    println!(
        "sends: {} ok, {} fail, {} info; records read: {}; faults fired: {}",
        counts.sends_ok,
        counts.sends_fail,
        counts.sends_info,
        counts.records_read,
        data.faults.len()
    );
    let speed = if wall_ms > 0 {
        data.sim_time_ms as f64 / wall_ms as f64
    } else {
        0.0
    };
    println!(
        "trace_hash: {}  sim_time: {:.1} s  wall: {:.2} s  ({speed:.1} sim s / wall s)",
        data.trace_hash,
        data.sim_time_ms as f64 / 1000.0,
        wall_ms as f64 / 1000.0
    );
    println!(
        "report: {}",
        report::run_dir(report_dir, scenario, seed)
            .join("report.json")
            .display()
    );
    println!("reproduce with: {}", report::repro(scenario, seed));
}

/// Every scenario file under the given paths (default: scenarios/), sorted.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, u8> {
    let roots = if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            walk(&root, &mut files);
        } else if root.is_file() {
            files.push(root);
        } else {
            eprintln!(
                "error: {}: no such scenario file or directory",
                root.display()
            );
            return Err(EXIT_USAGE);
        }
    }
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

/// `[expect] must_fraction` over the seeds a sweep ran of one scenario: a line per kind,
/// starting with `FAILED` when it showed on fewer seeds than asked.
fn fraction_checks(scenario: &Scenario, runs: &[&BTreeSet<String>]) -> Vec<String> {
    let seeds = runs.len();
    let mut lines = Vec::new();
    for (kind, fraction) in &scenario.expect.must_fraction {
        let shown = runs.iter().filter(|kinds| kinds.contains(kind)).count();
        let enough = shown as f64 >= fraction * seeds as f64 && seeds > 0;
        let verdict = if enough {
            "must_fraction met"
        } else {
            "FAILED must_fraction"
        };
        lines.push(format!(
            "{verdict}: {} shows {kind} on {shown} of {seeds} seeds ({:.1}%; at least {:.1}% asked)",
            scenario.path,
            100.0 * shown as f64 / seeds.max(1) as f64,
            100.0 * fraction
        ));
    }
    lines
}

fn sweep_command(
    paths: &[PathBuf],
    seeds: Option<u64>,
    jobs: usize,
    report_dir: &Path,
    deterministic_summary: Option<&Path>,
    quiet: bool,
) -> u8 {
    let files = match collect(paths) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut scenarios = Vec::new();
    for file in &files {
        match load(file) {
            Ok(s) => scenarios.push(s),
            Err(code) => return code,
        }
    }
    let runs: Vec<(usize, u64)> = scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, s)| (0..seeds.unwrap_or(s.seeds)).map(move |seed| (i, seed)))
        .collect();
    let bar = progress_bar(runs.len() as u64, quiet);
    let (summaries, kinds) = sweep_runs(&scenarios, &runs, jobs, report_dir, &bar);
    bar.finish_and_clear();
    let mut failed = summaries.iter().any(|s| s.failed > 0);
    // A scenario's declared minimums are per run; a summary with a scenario that ran no
    // seed at all would prove nothing.
    write_summaries(&summaries, report_dir, deterministic_summary);
    for (s, scenario) in scenarios.iter().enumerate() {
        let shown: Vec<&BTreeSet<String>> = runs
            .iter()
            .zip(kinds.iter())
            .filter(|((index, _), _)| *index == s)
            .map(|(_, kinds)| kinds.as_ref().expect("every run finished"))
            .collect();
        for line in fraction_checks(scenario, &shown) {
            failed |= line.starts_with("FAILED");
            println!("{line}");
        }
    }
    let total: usize = summaries.iter().map(|s| s.seeds as usize).sum();
    let passed: u64 = summaries.iter().map(|s| s.passed).sum();
    println!("sweep: {passed} passed, {} failed", total as u64 - passed);
    if failed {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// The sweep's progress bar, hidden when asked or on CI.
fn progress_bar(runs: u64, quiet: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(runs);
    if quiet || std::env::var_os("CI").is_some() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs  {elapsed_precise}  {msg}",
        )
        .expect("template"),
    );
    bar
}

/// Every run's anomaly kinds, by its index among the sweep's runs (`None` until it ends).
type ShownKinds = Vec<Option<BTreeSet<String>>>;

/// Runs every (scenario, seed) on `jobs` threads, writing each run's report as it ends;
/// returns each scenario's summary (failing seeds in seed order) and each run's anomaly kinds.
fn sweep_runs(
    scenarios: &[Scenario],
    runs: &[(usize, u64)],
    jobs: usize,
    report_dir: &Path,
    bar: &indicatif::ProgressBar,
) -> (Vec<ScenarioSummary>, ShownKinds) {
    // Each run is folded into its scenario's summary as it ends and only its anomaly kinds
    // are kept, so a sweep's memory does not grow with its seeds (a run's history is large).
    let summaries: Mutex<Vec<ScenarioSummary>> = Mutex::new(
        scenarios
            .iter()
            .map(|s| ScenarioSummary {
                scenario: s.name.clone(),
                path: s.path.clone(),
                ..Default::default()
            })
            .collect(),
    );
    let kinds: Mutex<ShownKinds> = Mutex::new((0..runs.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(s, seed)) = runs.get(i) else { break };
                let scenario = &scenarios[s];
                let (data, wall_ms) = timed_run(scenario, seed, report_dir);
                let judgement = runner::judge(scenario, &data);
                write(report_dir, scenario, seed, &data, &judgement, wall_ms);
                if !judgement.passed {
                    let line = failed_line(scenario, seed, &data, &judgement);
                    // println on a hidden bar prints nothing; suspend draws around it.
                    bar.suspend(|| println!("{line}"));
                }
                bar.set_message(format!("{} seed {seed}", scenario.name));
                bar.inc(1);
                summaries.lock().unwrap()[s].add(seed, &data, &judgement, wall_ms);
                let shown = data.anomalies.iter().map(|a| a.kind.clone()).collect();
                kinds.lock().unwrap()[i] = Some(shown);
            });
        }
    });
    let mut summaries = summaries.into_inner().unwrap();
    for summary in &mut summaries {
        // Runs end in any order; the summary lists failing seeds in seed order.
        summary.failing_seeds.sort_unstable();
    }
    (summaries, kinds.into_inner().unwrap())
}

/// The line a sweep prints for a run that did not meet its expectation.
fn failed_line(scenario: &Scenario, seed: u64, data: &RunData, judgement: &Judgement) -> String {
    format!(
        "FAILED {} seed {seed}: verdict {} shown {:?} missing {:?} unexpected {:?} {:?}{}\n  reproduce with: {}",
        scenario.path,
        data.verdict.name(),
        judgement.shown,
        judgement.missing,
        judgement.unexpected,
        judgement.unmet_minimums,
        data.liveness_failure.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
        report::repro(scenario, seed)
    )
}

/// Prints the summary and writes it (markdown and JSON) under `report_dir`, and the
/// deterministic one where asked.
fn write_summaries(
    summaries: &[ScenarioSummary],
    report_dir: &Path,
    deterministic_summary: Option<&Path>,
) {
    let markdown = report::summary_markdown(summaries, false);
    print!("{markdown}");
    let _ = std::fs::create_dir_all(report_dir);
    let _ = std::fs::write(report_dir.join("summary.md"), &markdown);
    let _ = std::fs::write(
        report_dir.join("summary.json"),
        serde_json::to_string_pretty(&report::summary_json(summaries, false)).unwrap_or_default()
            + "\n",
    );
    if let Some(path) = deterministic_summary {
        let _ = std::fs::write(path, report::summary_markdown(summaries, true));
        let _ = std::fs::write(
            path.with_extension("json"),
            serde_json::to_string_pretty(&report::summary_json(summaries, true))
                .unwrap_or_default()
                + "\n",
        );
    }
}
