//! The user-settable report hook, and how the detector calls it: outside every
//! detector lock, never unwinding into the lock that triggered it, and never
//! re-entering itself on one thread.

use super::report::Report;
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, PoisonError, RwLock};

type Hook = Arc<dyn Fn(&Report) + Send + Sync + 'static>;

/// `None` means the default hook. A `std` lock: the detector must not use the locks
/// it instruments.
static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

thread_local! {
    /// Set while this thread runs the hook.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
    /// Reports raised by the hook itself (it may take weft locks), delivered after it
    /// returns instead of recursively.
    static PENDING: RefCell<Vec<Report>> = const { RefCell::new(Vec::new()) };
}

/// Sets the function the detector calls with each [`Report`], replacing the
/// previous one.
///
/// The hook runs on the thread that found the problem: the thread whose lock
/// acquisition closed a lock-order cycle (just after it acquired the lock, before
/// `lock()` returns), or the [watchdog](super::spawn_watchdog) thread. It runs outside
/// the detector's own locks, so it may take weft locks and format freely; a panic in
/// it is caught and printed, so it cannot unwind out of a `lock()` call. Reports that
/// the hook itself triggers are delivered after it returns.
///
/// The default hook prints the report to stderr.
///
/// # Examples
///
/// Count reports instead of printing them:
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use weft_sync::deadlock;
///
/// static REPORTS: AtomicUsize = AtomicUsize::new(0);
/// deadlock::set_hook(|_report| {
///     REPORTS.fetch_add(1, Ordering::Relaxed);
/// });
/// # let _ = deadlock::take_hook();
/// ```
pub fn set_hook<F>(hook: F)
where
    F: Fn(&Report) + Send + Sync + 'static,
{
    *HOOK.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(hook));
}

/// Removes the current hook and returns it (the default hook if none was set), so
/// reports go to stderr again. Call the returned hook from a new one to chain them.
///
/// # Examples
///
/// ```
/// use weft_sync::deadlock;
///
/// let previous = deadlock::take_hook();
/// deadlock::set_hook(move |report| {
///     // ... record the report somewhere, then print it as before:
///     previous(report);
/// });
/// # let _ = deadlock::take_hook();
/// ```
pub fn take_hook() -> Box<dyn Fn(&Report) + Send + Sync + 'static> {
    let taken = HOOK.write().unwrap_or_else(PoisonError::into_inner).take();
    match taken {
        Some(hook) => Box::new(move |report| hook(report)),
        None => Box::new(default_hook),
    }
}

fn default_hook(report: &Report) {
    // Not `eprintln!`: it panics if stderr is closed.
    let _ = writeln!(std::io::stderr().lock(), "{report}");
}

/// Delivers `report` to the current hook. The caller must hold no detector lock.
pub(super) fn dispatch(report: Report) {
    let nested = IN_HOOK.try_with(Cell::get).unwrap_or(false);
    if nested {
        let _ = PENDING.try_with(|pending| pending.borrow_mut().push(report));
        return;
    }
    let _ = IN_HOOK.try_with(|flag| flag.set(true));
    let mut next = Some(report);
    while let Some(report) = next {
        call(&report);
        next = PENDING
            .try_with(|pending| pending.borrow_mut().pop())
            .ok()
            .flatten();
    }
    let _ = IN_HOOK.try_with(|flag| flag.set(false));
}

fn call(report: &Report) {
    let hook = HOOK.read().unwrap_or_else(PoisonError::into_inner).clone();
    let outcome = catch_unwind(AssertUnwindSafe(|| match &hook {
        Some(hook) => hook(report),
        None => default_hook(report),
    }));
    if outcome.is_err() {
        let _ = writeln!(
            std::io::stderr().lock(),
            "weft deadlock detection: the report hook panicked; the report was:\n{report}"
        );
    }
}
