//! A deterministic watch channel.
//!
//! `tokio::sync::watch` spreads its waiters over eight `Notify`s chosen with tokio's
//! thread-local RNG, whose seed comes from a process-wide counter: which waiter wakes first
//! then depends on what ran earlier in the process, and a simulated run stops being a pure
//! function of its seed. This one keeps every waiter on one `Notify`, which wakes them in the
//! order they started waiting.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

struct Inner<T> {
    value: Mutex<T>,
    /// Bumped on every change; a subscriber remembers the version it has seen.
    version: AtomicU64,
    /// Set when the sender is dropped.
    closed: AtomicBool,
    notify: Notify,
}

/// The sending side: owns the value. Dropping it closes the channel.
pub struct Watch<T> {
    inner: Arc<Inner<T>>,
}

/// A receiving side, with the version it has seen.
pub struct Subscriber<T> {
    inner: Arc<Inner<T>>,
    seen: u64,
}

impl<T> Clone for Subscriber<T> {
    fn clone(&self) -> Self {
        Subscriber {
            inner: self.inner.clone(),
            seen: self.seen,
        }
    }
}

impl<T: Clone + std::fmt::Debug> std::fmt::Debug for Subscriber<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Subscriber").field(&self.borrow()).finish()
    }
}

/// The sender is gone: no change will ever come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl<T: Clone> Watch<T> {
    /// A channel holding `value`.
    pub fn new(value: T) -> Watch<T> {
        Watch {
            inner: Arc::new(Inner {
                value: Mutex::new(value),
                version: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                notify: Notify::new(),
            }),
        }
    }

    /// Change the value in place; if `modify` returns true, wake every subscriber.
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) {
        let changed = modify(&mut self.inner.value.lock().unwrap());
        if changed {
            self.inner.version.fetch_add(1, Ordering::SeqCst);
            self.inner.notify.notify_waiters();
        }
    }

    /// Replace the value with `value` and wake every subscriber, unless it is equal to the
    /// current one.
    pub fn send_if_changed(&self, value: T)
    where
        T: PartialEq,
    {
        self.send_if_modified(|current| {
            let changed = *current != value;
            *current = value;
            changed
        });
    }

    /// Change the value in place and wake every subscriber.
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.send_if_modified(|value| {
            modify(value);
            true
        });
    }

    /// A subscriber that has seen the current value.
    pub fn subscribe(&self) -> Subscriber<T> {
        Subscriber {
            inner: self.inner.clone(),
            seen: self.inner.version.load(Ordering::SeqCst),
        }
    }
}

impl<T> Drop for Watch<T> {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }
}

impl<T: Clone> Subscriber<T> {
    /// The current value.
    pub fn borrow(&self) -> T {
        self.inner.value.lock().unwrap().clone()
    }

    /// Whether the value changed since this subscriber last marked it seen.
    pub fn has_changed(&self) -> bool {
        self.inner.version.load(Ordering::SeqCst) != self.seen
    }

    /// The current value, marking it seen.
    pub fn borrow_and_update(&mut self) -> T {
        self.seen = self.inner.version.load(Ordering::SeqCst);
        self.borrow()
    }

    /// Wait until the value changes after the version last seen, and mark it seen.
    pub async fn changed(&mut self) -> Result<(), Closed> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Register before checking, so a change between the check and the await is not
            // missed.
            notified.as_mut().enable();
            let version = self.inner.version.load(Ordering::SeqCst);
            if version != self.seen {
                self.seen = version;
                return Ok(());
            }
            if self.inner.closed.load(Ordering::SeqCst) {
                return Err(Closed);
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(madsim)]
    #[test]
    fn subscribers_see_changes_and_closure() {
        let watch = Watch::new(1);
        let mut sub = watch.subscribe();
        assert_eq!(sub.borrow(), 1);
        watch.send_if_modified(|v| {
            *v = 2;
            true
        });
        let rt = madsim::runtime::Runtime::new();
        rt.block_on(async {
            assert_eq!(sub.changed().await, Ok(()));
            assert_eq!(sub.borrow_and_update(), 2);
            watch.send_if_modified(|_| false);
            drop(watch);
            assert_eq!(sub.changed().await, Err(Closed));
        });
    }
}
