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

/// Run `f` on a fresh thread whose default subscriber logs to `path` (a fresh thread per
/// run is also what madsim's determinism needs). Returns the thread's join result.
pub fn spawn_with_run_log<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::Result<T> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_string());
    let file = File::create(path).ok();
    std::thread::spawn(move || {
        let Some(file) = file else { return f() };
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(filter))
            .with_timer(SimTime)
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .finish();
        tracing::subscriber::with_default(subscriber, f)
    })
    .join()
}
