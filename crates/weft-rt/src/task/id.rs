//! Task ids and the "which task is polling on this thread" thread-local.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
// Not the loom shim: the id counter is no part of the task protocol, and loom atomics
// cannot live in a `static`.
use std::sync::atomic::{AtomicU64, Ordering};

/// A task's id: unique among all tasks of the process for its lifetime (a 64-bit
/// counter, never reused).
///
/// # Examples
///
/// ```
/// use weft_rt::task::Id;
///
/// fn same_task(a: Id, b: Id) -> bool {
///     a == b
/// }
/// # let _ = same_task;
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    /// The next id. Relaxed: only uniqueness matters, which the RMW gives.
    pub(crate) fn next() -> Id {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        // 2^64 spawns do not happen; wrapping would be the only way to get zero.
        Id(NonZeroU64::new(id).unwrap_or(NonZeroU64::MIN))
    }

    /// The id as a number (stable for the task's life, printed by `Display`).
    ///
    /// # Examples
    ///
    /// ```
    /// fn log(id: weft_rt::task::Id) -> String {
    ///     format!("task #{}", id.as_u64())
    /// }
    /// # let _ = log;
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

#[cfg(not(loom))]
std::thread_local! {
    static CURRENT: Cell<Option<Id>> = const { Cell::new(None) };
}

#[cfg(loom)]
loom::thread_local! {
    static CURRENT: Cell<Option<Id>> = Cell::new(None);
}

/// The id of the task being polled on this thread, or `None` outside a task.
///
/// It works with any executor built on weft's tasks; it answers `None` inside a future
/// driven by something else (a plain `block_on` of a future that is not a task).
///
/// # Examples
///
/// ```
/// // Not inside a task here.
/// assert_eq!(weft_rt::task::try_current_id(), None);
/// ```
pub fn try_current_id() -> Option<Id> {
    CURRENT.try_with(Cell::get).ok().flatten()
}

/// Marks a task as current for the guard's life, restoring the previous one on drop
/// (also when the poll unwinds).
pub(super) struct CurrentIdGuard {
    previous: Option<Id>,
}

impl CurrentIdGuard {
    #[inline]
    pub(super) fn enter(id: Id) -> Self {
        let previous = CURRENT
            .try_with(|current| current.replace(Some(id)))
            .ok()
            .flatten();
        CurrentIdGuard { previous }
    }
}

impl Drop for CurrentIdGuard {
    #[inline]
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
    }
}
