//! Per-run logs: a tracing subscriber scoped to the run's thread, writing to the run's
//! report folder, with simulated time on every line and madsim's node span (`node{id name}`)
//! naming the node. `RUST_LOG` sets the filter (default `warn`).

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

/// Prints simulated time since the run began, e.g. `   12.345s`.
struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        match madsim::time::TimeHandle::try_current() {
            Some(time) => write!(w, "{:>10.3}s", time.elapsed().as_secs_f64()),
            None => write!(w, "{:>11}", "-"),
        }
    }
}

/// A subscriber writing the run's log to `path`, or `None` if the file cannot be created.
/// Building it touches std HashMaps: seed the thread's HashMap keys first (see
/// `super::run_seed_logged`). madsim's warning that it could not seed them again for the
/// run's own Runtime is filtered out: they were seeded, by the first Runtime.
pub fn run_subscriber(path: &Path) -> Option<impl tracing::Subscriber + Send + Sync> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_string());
    let file = File::create(path).ok()?;
    Some(
        tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(format!("{filter},madsim::sim::rand=error")))
            .with_timer(SimTime)
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .finish(),
    )
}
