//! Where a run panicked. A tripped assertion ends a run as `unknown` (STYLE.md, habit 9); to
//! say where it tripped, a process-wide panic hook notes the message, the source location and
//! the simulated node (madsim's node name: `broker-2`, `controller`, `client-0`, …) in a
//! thread-local of the panicking thread. A run has an OS thread of its own, and its catch site
//! (`super::run_seed_isolated`) reads the note on that thread once the panic has unwound.
//!
//! The hook only notes; it changes nothing the run computes, draws or spawns, so a run that
//! does not panic is the same as without it. Panics outside any madsim runtime (the CLI, a
//! sweep's own threads) are left alone.

use std::cell::RefCell;
use std::sync::{Once, OnceLock};

use serde::Serialize;

/// What the panic hook noted about the first panic of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PanicSite {
    /// The panic's message (an assertion's text, or `non-string panic`).
    pub message: String,
    /// The madsim node whose task panicked; `None` when madsim itself panicked outside any
    /// task (a deadlock: "no events", or the run's time limit).
    pub node: Option<String>,
    /// `file:line` of the panic.
    pub location: Option<String>,
    /// Simulated milliseconds since the run began.
    pub sim_time_ms: Option<u64>,
}

impl PanicSite {
    /// One line for `liveness_failure`: message, node, location.
    pub fn describe(&self, seed: u64) -> String {
        let node = self.node.as_deref().unwrap_or("no node (madsim itself)");
        let location = self.location.as_deref().unwrap_or("an unknown location");
        format!(
            "run panicked (seed {seed}) on {node} at {location}: {}",
            self.message
        )
    }
}

thread_local! {
    /// The first panic on this thread since the last `take`: the first is the cause, later
    /// ones are usually its consequences.
    static NOTED: RefCell<Option<PanicSite>> = const { RefCell::new(None) };
}

/// The host's own name, read outside any simulated node: madsim answers `gethostname` with the
/// node's name inside a task and with the host's outside, so an answer equal to this one means
/// the panic was not inside a node's task.
static HOST_NAME: OnceLock<Option<String>> = OnceLock::new();

/// Installs the hook once per process, in front of whatever hook was there (which still runs,
/// so the panic is printed as before).
pub fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        HOST_NAME.get_or_init(host_name);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            note(info);
            previous(info);
        }));
    });
}

/// The noted panic of this thread, if any, leaving none.
pub fn take() -> Option<PanicSite> {
    NOTED.with(|noted| noted.borrow_mut().take())
}

fn note(info: &std::panic::PanicHookInfo<'_>) {
    if madsim::runtime::Handle::try_current().is_err() {
        return;
    }
    let site = PanicSite {
        message: message(info.payload()),
        node: node_name(),
        location: info
            .location()
            .map(|at| format!("{}:{}", at.file(), at.line())),
        sim_time_ms: madsim::time::TimeHandle::try_current()
            .map(|time| time.elapsed().as_millis() as u64),
    };
    // `try_with`: a panic while the thread's locals are being torn down is not noted.
    let _ = NOTED.try_with(|noted| {
        noted.borrow_mut().get_or_insert(site);
    });
}

/// A panic payload as text: panics carry a `&str` or a `String`.
pub fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "non-string panic".into())
}

/// The simulated node the current task belongs to, if the thread is inside one.
fn node_name() -> Option<String> {
    let name = host_name()?;
    let host = HOST_NAME.get().cloned().flatten();
    (Some(&name) != host.as_ref()).then_some(name)
}

/// `gethostname(2)`, which madsim overrides to answer with the current node's name. madsim's
/// own `plugin::node()` would panic outside a task, and a panic inside the panic hook aborts
/// the process, hence the detour through the C call.
fn host_name() -> Option<String> {
    extern "C" {
        fn gethostname(name: *mut std::ffi::c_char, len: usize) -> std::ffi::c_int;
    }
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, and both madsim's override and the
    // C library write at most `len` bytes into it.
    let status = unsafe { gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if status != 0 {
        return None;
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    Some(String::from_utf8_lossy(&buffer[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use madsim::runtime::{Handle, Runtime};
    use std::time::Duration;

    /// Runs `body` in a fresh runtime on a fresh thread, as a run does, and returns what the
    /// catch site would see.
    fn panicking_run(body: fn()) -> Option<PanicSite> {
        install_hook();
        std::thread::spawn(move || {
            let caught = std::panic::catch_unwind(|| {
                Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move {
                    let node = Handle::current().create_node().name("broker-2").build();
                    node.spawn(async move {
                        tokio::time::sleep(Duration::from_millis(1500)).await;
                        body();
                    })
                    .await
                    .ok();
                });
            });
            assert!(caught.is_err(), "the run panicked");
            take()
        })
        .join()
        .expect("the run thread itself returns")
    }

    #[test]
    fn a_panic_inside_a_node_names_the_node_the_location_and_the_message() {
        let site = panicking_run(|| {
            let high_watermark = 7;
            let log_end_offset = 5;
            assert!(
                high_watermark <= log_end_offset,
                "high_watermark {high_watermark} above log_end_offset {log_end_offset}"
            );
        })
        .expect("the hook noted the panic");
        assert_eq!(site.node.as_deref(), Some("broker-2"));
        assert_eq!(
            site.message, "high_watermark 7 above log_end_offset 5",
            "the assertion's own message"
        );
        let location = site.location.clone().expect("a location");
        assert!(location.starts_with("sim/src/run/panic.rs:"), "{location}");
        assert_eq!(site.sim_time_ms, Some(1500));
        assert!(site
            .describe(9)
            .starts_with("run panicked (seed 9) on broker-2 at sim/src/run/panic.rs:"));
    }

    #[test]
    fn a_panic_outside_any_runtime_is_not_noted() {
        install_hook();
        let noted = std::thread::spawn(|| {
            let _ = std::panic::catch_unwind(|| panic!("not a run"));
            take()
        })
        .join()
        .unwrap();
        assert_eq!(noted, None);
    }
}
