//! Cooperative scheduling: a per-thread *poll budget* that makes a task that is
//! always ready give the others a turn.
//!
//! An executor polls a future until it returns `Pending`. A task that loops on a
//! resource that is always ready (a channel that always has a message, a socket that
//! always has data) never returns `Pending`, so it keeps its worker and everything
//! queued behind it waits. The fix, which tokio calls cooperative scheduling: the
//! runtime gives each poll of a task a budget ([`with_budget`]); each operation of a
//! weft resource that completes spends one unit ([`poll_proceed`]); once the budget is
//! spent, the next operation returns `Pending` *after waking its task*, so the task
//! goes to the back of the queue and resumes right there on its next poll.
//!
//! Outside [`with_budget`] (a plain thread, an executor that knows nothing of it) the
//! budget is unlimited and [`poll_proceed`] always proceeds: the resources work
//! unchanged anywhere.
//!
//! # Examples
//!
//! ```
//! use std::task::{Context, Poll, Waker};
//! use weft_sync::coop;
//!
//! let mut cx = Context::from_waker(Waker::noop());
//! let spent = coop::with_budget(2, || {
//!     let mut ready = 0;
//!     while let Poll::Ready(proceed) = coop::poll_proceed(&mut cx) {
//!         proceed.made_progress();
//!         ready += 1;
//!     }
//!     ready
//! });
//! assert_eq!(spent, 2); // the third operation was told to yield
//! // Outside a budget, operations always proceed.
//! assert!(coop::poll_proceed(&mut cx).is_ready());
//! ```

use std::cell::Cell;
use std::task::{Context, Poll};

/// The budget weft's runtime gives each poll of a task (as tokio's).
pub const DEFAULT_BUDGET: u8 = 128;

std::thread_local! {
    /// `None`: unlimited (not inside `with_budget`).
    static BUDGET: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs `f` with a poll budget of `budget` operations on this thread, restoring the
/// previous budget afterwards (also if `f` unwinds).
pub fn with_budget<R>(budget: u8, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            let _ = BUDGET.try_with(|cell| cell.set(previous));
        }
    }
    let previous = BUDGET.with(|cell| cell.replace(Some(budget)));
    let _restore = Restore(previous);
    f()
}

/// Runs `f` with an unlimited budget (for code that must not be asked to yield,
/// such as a `block_on` that polls one future in a loop).
pub fn unconstrained<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            let _ = BUDGET.try_with(|cell| cell.set(previous));
        }
    }
    let previous = BUDGET.with(|cell| cell.replace(None));
    let _restore = Restore(previous);
    f()
}

/// `true` if the current budget is unlimited or has units left.
pub fn has_budget_remaining() -> bool {
    BUDGET
        .try_with(|cell| cell.get() != Some(0))
        .unwrap_or(true)
}

/// Asks whether an operation may proceed. `Pending` (after waking the task, so it is
/// polled again soon) if the budget is spent; otherwise a unit is taken, which the
/// returned [`Proceed`] gives back unless the operation reports
/// [`made_progress`](Proceed::made_progress).
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<Proceed> {
    let taken = BUDGET
        .try_with(|cell| match cell.get() {
            None => Some(false),
            Some(0) => None,
            Some(units) => {
                cell.set(Some(units - 1));
                Some(true)
            }
        })
        .unwrap_or(Some(false));
    match taken {
        Some(taken) => Poll::Ready(Proceed { taken }),
        None => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A unit of budget taken by [`poll_proceed`]; given back on drop unless the
/// operation made progress.
#[derive(Debug)]
#[must_use = "drop it if the operation returned Pending, call made_progress if it completed"]
pub struct Proceed {
    taken: bool,
}

impl Proceed {
    /// The operation completed: the unit stays spent.
    #[inline]
    pub fn made_progress(mut self) {
        self.taken = false;
    }
}

impl Drop for Proceed {
    #[inline]
    fn drop(&mut self) {
        if self.taken {
            let _ = BUDGET.try_with(|cell| {
                if let Some(units) = cell.get() {
                    cell.set(Some(units.saturating_add(1)));
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn a_pending_operation_gives_its_unit_back() {
        let mut cx = Context::from_waker(Waker::noop());
        with_budget(1, || {
            let unit = poll_proceed(&mut cx);
            drop(unit); // the operation was Pending
            let Poll::Ready(unit) = poll_proceed(&mut cx) else {
                panic!("the unit was given back");
            };
            unit.made_progress();
            assert!(poll_proceed(&mut cx).is_pending());
            assert!(!has_budget_remaining());
        });
        assert!(has_budget_remaining(), "restored to unlimited");
    }

    #[test]
    fn an_exhausted_budget_wakes_the_task() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
            fn wake_by_ref(self: &Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        with_budget(0, || assert!(poll_proceed(&mut cx).is_pending()));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn unconstrained_lifts_the_budget_inside_only() {
        let mut cx = Context::from_waker(Waker::noop());
        with_budget(0, || {
            unconstrained(|| {
                for _ in 0..1000 {
                    let Poll::Ready(unit) = poll_proceed(&mut cx) else {
                        panic!("unconstrained");
                    };
                    unit.made_progress();
                }
            });
            assert!(poll_proceed(&mut cx).is_pending());
        });
    }
}

/// A kind of resource a task can wait on, for task dumps: what a weft future records
/// when it returns `Pending` (see [`waiting_on`]).
#[derive(Debug)]
pub struct WaitSite {
    what: &'static str,
}

impl WaitSite {
    /// A site described by `what` (for example `"timer"`, `"channel receive"`).
    pub const fn new(what: &'static str) -> WaitSite {
        WaitSite { what }
    }

    /// The description.
    pub fn what(&self) -> &'static str {
        self.what
    }
}

std::thread_local! {
    static WAITING_ON: Cell<Option<&'static WaitSite>> = const { Cell::new(None) };
}

/// Records that the future being polled on this thread is about to return `Pending`
/// waiting on `site`. A runtime reads it after the poll ([`take_waiting_on`]) and
/// keeps it in the task, for dumps. Costs one thread-local store.
#[inline]
pub fn waiting_on(site: &'static WaitSite) {
    let _ = WAITING_ON.try_with(|cell| cell.set(Some(site)));
}

/// Takes (and clears) what the last poll on this thread recorded with [`waiting_on`].
#[inline]
pub fn take_waiting_on() -> Option<&'static WaitSite> {
    WAITING_ON.try_with(Cell::take).ok().flatten()
}
